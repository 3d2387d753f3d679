"""Price and position histories: CSV files ``time,SYM1,SYM2,...``, one row per step.

Read by the ``mean_reversion_hedge`` strategy (its ``price_history``) and by
``bidgw hedge analyze`` (a price and a position history). Every problem a file
can have is a :class:`HistoryError` that names the file, and the line and
column where it is, so the person who wrote the file can fix it without
reading numpy's error messages:

* :func:`read_history` — the file itself: a header naming each instrument
  once, the same number of cells on every line, finite numbers;
* :func:`check_prices` — every price moves, as the estimators need;
* :func:`horizon_problem` — enough rows for the risk horizon;
* :func:`estimation_error` — numpy's ``LinAlgError`` from an estimator,
  explained with the file's shape.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "HistoryError",
    "check_prices",
    "estimation_error",
    "horizon_problem",
    "read_history",
]

FloatArray = NDArray[np.float64]


class HistoryError(ValueError):
    """A history file that cannot be used; the message says where and why."""


def read_history(
    path: Path, *, name: str | None = None, limit: float | None = None
) -> tuple[list[str], FloatArray]:
    """A CSV ``time,SYM1,SYM2,...`` as (symbols, a (step, instrument) float array).

    The first column (the time) is not read. Blank lines are skipped; a byte
    order mark is allowed.

    Args:
        name: how messages name the file (default: ``path``).
        limit: when given, every value's magnitude must be at most this.

    Raises:
        OSError: the file cannot be opened.
        HistoryError: naming the file, line and column of the first problem.
    """
    label = name or str(path)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        lines = [(number, row) for number, row in enumerate(csv.reader(handle), 1) if row]
    if not lines:
        raise HistoryError(f"{label}: empty; expected a header 'time,SYM1,SYM2,...' and rows")
    header_line, header = lines[0]
    symbols = [cell.strip() for cell in header[1:]]
    if not symbols:
        raise HistoryError(
            f"{label}, line {header_line}: the header names no instrument; "
            "expected 'time,SYM1,SYM2,...'"
        )
    seen: dict[str, int] = {}
    for column, symbol in enumerate(symbols, 2):
        if not symbol:
            raise HistoryError(f"{label}, line {header_line}, column {column}: no instrument name")
        if symbol in seen:
            raise HistoryError(
                f"{label}, line {header_line}: {symbol} is named twice "
                f"(columns {seen[symbol]} and {column})"
            )
        seen[symbol] = column
    rows = lines[1:]
    if len(rows) < 2:
        raise HistoryError(f"{label}: {len(rows)} row(s) after the header; at least two needed")
    for number, row in rows:
        if len(row) != len(header):
            raise HistoryError(
                f"{label}, line {number}: {len(row)} cells, the header has {len(header)}"
            )
    try:
        data = np.array([row[1:] for _, row in rows], dtype=np.float64)
    except ValueError:
        raise _first_text(label, symbols, rows) from None
    bad = ~np.isfinite(data) if limit is None else ~(np.abs(data) <= limit)
    if bad.any():
        step, column = (int(i) for i in np.argwhere(bad)[0])
        number, row = rows[step]
        value = data[step, column]
        what = "a finite number" if not math.isfinite(value) else f"within ±{limit:g}"
        raise HistoryError(
            f"{label}, line {number}, {symbols[column]}: {row[column + 1].strip()!r} is not {what}"
        )
    return symbols, data


def _first_text(
    label: str, symbols: Sequence[str], rows: Sequence[tuple[int, Sequence[str]]]
) -> HistoryError:
    """The error for the first cell that is not a number (numpy refused the table)."""
    for number, row in rows:
        for symbol, cell in zip(symbols, row[1:], strict=True):
            try:
                float(cell)
            except ValueError:
                return HistoryError(
                    f"{label}, line {number}, {symbol}: {cell.strip()!r} is not a number"
                )
    return HistoryError(f"{label}: not a table of numbers")


def check_prices(name: str | Path, symbols: Sequence[str], prices: FloatArray) -> None:
    """Every instrument's price moves: one that never does has no risk to hedge, and
    the estimators' matrices are singular with it.

    Raises:
        HistoryError: naming ``name`` and the instruments whose price is constant.
    """
    flat = [s for s, spread in zip(symbols, np.ptp(prices, axis=0), strict=True) if spread == 0]
    if flat:
        one = len(flat) == 1
        raise HistoryError(
            f"{name}: the price{'' if one else 's'} of {', '.join(flat)} never "
            + ("changes; its" if one else "change; their")
            + " risk and mean reversion cannot be estimated (drop "
            + ("it" if one else "them")
            + ", or give a history where "
            + ("it moves)" if one else "they move)")
        )


def horizon_problem(name: str | Path, steps: int, horizon: int) -> str | None:
    """Why ``steps`` rows of prices cannot give the covariance of changes over
    ``horizon`` steps (at least two changes are needed), or None."""
    if horizon < 1:
        return f"the risk horizon must be at least 1 step, got {horizon}"
    if steps <= horizon + 1:
        return (
            f"{name} has {steps} rows of prices; a risk horizon of {horizon} step(s) "
            f"needs at least {horizon + 2}"
        )
    return None


def estimation_error(name: str | Path, prices: FloatArray, exc: Exception) -> HistoryError:
    """numpy's ``LinAlgError`` (singular matrix, no convergence) from an estimator, explained."""
    steps, count = prices.shape
    return HistoryError(
        f"{name}: cannot estimate mean-reverting vectors from {steps} rows of {count} "
        f"instruments ({exc}): it needs many more rows than instruments, and no "
        "instrument's price a combination of the others'"
    )
