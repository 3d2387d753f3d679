"""``bidgw`` subcommands contributed by the built-in plugin package.

Registered as entry points in the ``bidgw.commands`` group of
``pyproject.toml`` (the protocol is ``gateway.core.plugins.CommandPlugin``), so
the command line reaches them without importing this package's internals.

* ``bidgw hedge analyze`` — was a book hedged, and what was it really running?
  (:mod:`strategies.analysis`, the inverse question of docs/math.md §5)

This module is imported every time ``bidgw`` starts: keep its imports light
and import the analysis (numpy, statsmodels) inside the handler.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from gateway.core.errors import GatewayError

__all__ = ["HedgeCommand"]


class HedgeCommand:
    """``bidgw hedge``: portfolio hedging with mean-reverting sub-portfolios."""

    help: str = "portfolio hedging with mean-reverting sub-portfolios"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        commands = parser.add_subparsers(dest="hedge_command", metavar="COMMAND")
        commands.required = True
        analyze = commands.add_parser(
            "analyze",
            help="was a book hedged, and what was it really running?",
            description="For every time step of POSITIONS.csv, factor out whole lots of the "
            "mean-reverting sub-portfolios estimated from PRICES.csv and report the "
            "residual position and its risk. CSVs: a header 'time,SYM1,SYM2,...' and "
            "one row per step. Writes residual.csv and chart.png into --out.",
        )
        analyze.add_argument("positions", type=Path, help="positions CSV (units per instrument)")
        analyze.add_argument("prices", type=Path, help="prices CSV (same instruments)")
        analyze.add_argument(
            "--vectors",
            choices=("johansen", "pca"),
            default="johansen",
            help="how to estimate the mean-reverting vectors (default johansen)",
        )
        analyze.add_argument("--count", type=int, default=2, help="vectors for pca (default 2)")
        analyze.add_argument(
            "--lot",
            type=float,
            default=100_000,
            help="lot size of every instrument (default 100000: FX)",
        )
        analyze.add_argument(
            "--horizon", type=int, default=1, help="risk horizon in steps (default 1)"
        )
        analyze.add_argument("--method", choices=("exact", "babai", "greedy"), default="exact")
        analyze.add_argument(
            "--out", type=Path, default=Path("var/hedge"), help="output folder (default var/hedge)"
        )
        analyze.set_defaults(handler=_analyze)


def _analyze(args: argparse.Namespace, out: TextIO) -> int:
    from strategies.analysis import analyze  # noqa: PLC0415 - statsmodels is slow to import

    try:
        result = analyze(
            args.positions,
            args.prices,
            args.out,
            vectors=args.vectors,
            count=args.count,
            lot=args.lot,
            horizon=args.horizon,
            method=args.method,
        )
    except (OSError, ValueError) as exc:
        raise GatewayError(str(exc)) from None
    out.write(result.summary())
    return 0
