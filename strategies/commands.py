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
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from gateway.core.errors import GatewayError

__all__ = ["MAX_LOT", "HedgeCommand", "ProgressBar"]

#: Largest ``--lot``: whole lots of the hedge vectors stay exact in doubles.
MAX_LOT = 1e12


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
            "one row per step. Writes residual.csv and chart.png into --out. A progress "
            "bar is drawn on stderr when it is a terminal.",
        )
        analyze.add_argument("positions", type=Path, help="positions CSV (units per instrument)")
        analyze.add_argument("prices", type=Path, help="prices CSV (same instruments)")
        analyze.add_argument(
            "--vectors",
            choices=("johansen", "pca"),
            default="johansen",
            help="how to estimate the mean-reverting vectors (default johansen)",
        )
        analyze.add_argument(
            "--count", type=_whole(1), default=2, help="vectors for pca (default 2)"
        )
        analyze.add_argument(
            "--dense",
            action="store_true",
            help="hedge with the estimated vectors as they are, instead of sparse vectors "
            "with simple ratios found in their span (the default)",
        )
        analyze.add_argument(
            "--precision",
            type=_number(0.0, 1.0, low_open=True),
            default=0.02,
            help="how far a sparse vector's simple ratio may be from the estimated weight, "
            "the largest weight being 1 (default 0.02)",
        )
        analyze.add_argument(
            "--lot",
            type=_number(0.0, MAX_LOT, low_open=True),
            default=100_000,
            help=f"lot size of every instrument, above 0 and at most {MAX_LOT:.0e} "
            "(default 100000: FX)",
        )
        analyze.add_argument(
            "--horizon", type=_whole(1), default=1, help="risk horizon in steps (default 1)"
        )
        analyze.add_argument("--method", choices=("exact", "babai", "greedy"), default="exact")
        analyze.add_argument(
            "--out", type=Path, default=Path("var/hedge"), help="output folder (default var/hedge)"
        )
        analyze.set_defaults(handler=_analyze)


def _whole(least: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``least``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
        return value

    return parse


def _number(low: float, high: float, *, low_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a number in ``[low, high]`` (``(low, high]`` with ``low_open``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        above = value > low if low_open else value >= low
        if not (above and value <= high):
            bracket = "(" if low_open else "["
            raise argparse.ArgumentTypeError(f"must be in {bracket}{low:g}, {high:g}], got {text}")
        return value

    return parse


class ProgressBar:
    """``hedging [#########.........]  45% 45,000/100,000`` redrawn in place on a terminal."""

    def __init__(self, stream: TextIO, *, label: str = "hedging", width: int = 30) -> None:
        self._stream = stream
        self._label = label
        self._width = width

    def __call__(self, done: int, total: int) -> None:
        filled = self._width * done // max(total, 1)
        bar = "#" * filled + "." * (self._width - filled)
        end = "\n" if done >= total else ""
        self._stream.write(
            f"\r{self._label} [{bar}] {100 * done // max(total, 1):3d}% {done:,}/{total:,}{end}"
        )
        self._stream.flush()


def _analyze(args: argparse.Namespace, out: TextIO) -> int:
    from strategies.analysis import analyze  # noqa: PLC0415 - statsmodels is slow to import

    progress = ProgressBar(sys.stderr) if sys.stderr.isatty() else None
    try:
        result = analyze(
            args.positions,
            args.prices,
            args.out,
            vectors=args.vectors,
            count=args.count,
            sparse=not args.dense,
            precision=args.precision,
            lot=args.lot,
            horizon=args.horizon,
            method=args.method,
            progress=progress,
        )
    except (OSError, ValueError) as exc:
        raise GatewayError(str(exc)) from None
    out.write(result.summary())
    return 0
