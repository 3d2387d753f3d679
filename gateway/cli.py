"""The ``bidgw`` command line.

Exit codes follow one rule across subcommands: 0 success (``check``: the
bundle can fill), 1 a well-formed request the gateway says no to (``check``:
infeasible), 2 usage, payload or configuration errors (message on stderr, no
traceback), 70 an internal error (a bug: please report it).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from gateway import __version__
from gateway.bundle import OrderBundle
from gateway.config import AppConfig, load_config
from gateway.errors import GatewayError
from gateway.plugins import parse_envelope
from gateway.presolve import PreSolver, Verdict
from gateway.yamlio import load_yaml

__all__ = ["main"]

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70


class _Parser(argparse.ArgumentParser):
    """argparse that exits with 2 and a one-line message, like the rest of the CLI."""

    def error(self, message: str) -> Any:  # argparse's own signature returns NoReturn
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bidgw",
        description="FIX-connected bidder gateway for expressive bids.",
    )
    parser.add_argument("--version", action="version", version=f"bidgw {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    check = commands.add_parser(
        "check",
        help="run a payload's strategy and the pre-solver offline (no FIX sessions)",
        description="Load a bidder payload YAML, build its order bundle with the strategy it "
        "names, and pre-solve it: can a non-empty fill satisfy every constraint, "
        "what is the largest fill, and if none, why. Exit 0 feasible, 1 not "
        "feasible, 2 invalid payload or usage.",
    )
    check.add_argument("payload", type=Path, help="payload YAML file (see config/samples/)")
    check.add_argument(
        "--config",
        type=Path,
        default=None,
        help="gateway config YAML for strategies and pre-solver settings "
        "(default: built-in strategies, HiGHS, 1000 ms limit)",
    )
    check.add_argument(
        "--json", action="store_true", help="print exactly one JSON object on stdout"
    )
    check.add_argument(
        "--solver", choices=("highs", "cbc"), default=None, help="override the configured solver"
    )
    check.add_argument(
        "--time-limit-ms",
        type=int,
        default=None,
        metavar="MS",
        help="override the configured solve time limit",
    )
    check.set_defaults(handler=_cmd_check)

    strategies = commands.add_parser(
        "strategies", help="list the strategies a config enables and their payload fields"
    )
    strategies.add_argument("--config", type=Path, default=None, help="gateway config YAML")
    strategies.set_defaults(handler=_cmd_strategies)
    return parser


def _app_config(args: argparse.Namespace) -> AppConfig:
    config = load_config(args.config) if args.config else AppConfig()
    overrides: dict[str, Any] = {}
    if getattr(args, "solver", None):
        overrides["solver"] = args.solver
    if getattr(args, "time_limit_ms", None) is not None:
        if args.time_limit_ms <= 0:
            raise GatewayError("--time-limit-ms must be a positive number of milliseconds")
        overrides["time_limit_ms"] = args.time_limit_ms
    presolve = config.presolve.model_copy(update=overrides)
    return config.model_copy(update={"presolve": presolve})


def _cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    config = _app_config(args)
    registry = config.registry()
    envelope = parse_envelope(load_yaml(args.payload), source=str(args.payload))
    bundle = registry.build(envelope, bundle_id=envelope.id or args.payload.stem)
    presolve = config.presolve.model_copy(update={"smallest_fill": not args.json})
    verdict = PreSolver(presolve).check(bundle)
    if args.json:
        max_fill = (
            [
                {"symbol": leg.symbol, "side": leg.side.value, "qty": qty}
                for leg, qty in zip(bundle.legs, verdict.max_fill, strict=True)
            ]
            if verdict.max_fill
            else []
        )
        document = {
            "strategy": envelope.strategy,
            "feasible": verdict.feasible,
            "reason": verdict.reason,
            "max_fill": max_fill,
        }
        out.write(json.dumps(document) + "\n")
    else:
        out.write(_render_check(args.payload, envelope.strategy, bundle, verdict))
    return EXIT_OK if verdict.feasible else EXIT_REJECTED


def _render_check(path: Path, strategy: str, bundle: OrderBundle, verdict: Verdict) -> str:
    lines = [
        f"{path}: strategy {strategy}, {len(bundle.legs)} legs, "
        f"{len(bundle.constraints)} constraint(s)"
    ]
    for constraint in bundle.constraints:
        lines.append(f"  {constraint.name}: {constraint.render(bundle.symbols)}")
        if constraint.description:
            lines.append(f"      {constraint.description}")
    if verdict.feasible:
        proven = "" if verdict.optimal else " (not proven maximal: time limit)"
        lines.append(
            f"FEASIBLE: a non-empty fill exists; largest total {verdict.max_total}{proven}"
        )
        header = f"  {'leg':<16}{'lot':>8}{'limit':>10}{'max fill':>10}"
        if verdict.min_fill:
            header += f"{'smallest':>10}"
        lines.append(header)
        assert verdict.max_fill is not None
        for index, leg in enumerate(bundle.legs):
            row = (
                f"  {leg.label:<16}{leg.lot_size:>8}{leg.max_qty:>10}{verdict.max_fill[index]:>10}"
            )
            if verdict.min_fill:
                row += f"{verdict.min_fill[index]:>10}"
            lines.append(row)
    else:
        lines.append(f"NOT FEASIBLE ({verdict.outcome.value}): {verdict.reason}")
    lines.append(
        f"  solver {verdict.solver}: model {verdict.build_ms:.2f} ms, "
        f"solve {verdict.solve_ms:.2f} ms"
    )
    return "\n".join(lines) + "\n"


def _cmd_strategies(args: argparse.Namespace, out: TextIO) -> int:
    registry = _app_config(args).registry()
    for name in registry.names:
        loaded = registry.get(name)
        schema = loaded.plugin.payload_model.model_json_schema()
        fields = ", ".join(schema.get("properties", {}))
        out.write(
            f"{name}  ({loaded.source})\n    bidder_data: {fields}\n"
            f"    config: {loaded.config.model_dump_json()}\n"
        )
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bidgw`` console script."""
    args = _build_parser().parse_args(argv)
    try:
        code: int = args.handler(args, sys.stdout)
    except GatewayError as exc:
        sys.stderr.write(f"bidgw {args.command}: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: say so briefly, never a bare traceback for users
        sys.stderr.write(
            f"bidgw {args.command}: internal error: {type(exc).__name__}: {exc}\n"
            "please report this with the command you ran\n"
        )
        return EXIT_INTERNAL
    return code


if __name__ == "__main__":
    sys.exit(main())
