"""Price constraints as rows in whole numbers, over a box of grid prices.

A bundle's :class:`~gateway.core.bundle.PriceConstraint` rows (``Σ a_s · P_s
(<=|==|>=) b``, a pair's spread limit) hold exactly at the auction's clearing
prices whenever the bundle fills. This module owns their arithmetic:

* :class:`PriceRow`: a constraint in coprime integers (:func:`price_rows_of`);
* :class:`BoxRow`, :func:`on_box`: the row over the offsets ``u_s`` of prices on
  the auction's price grid within each symbol's interval (the *box*), in whole
  numbers, and whether it holds at every grid point of the box, at none, or at
  some;
* :func:`integer_point`: whether several such rows hold together somewhere in
  the box (a small MILP, counted only if it passes the exact check).

The model (:class:`~gateway.venue.auction.model.Model`) gives each symbol they
name an integer price variable on the grid, tied to the fills of its inside
orders by whole-number big-M rows; each such bundle a fill indicator and copies
of those variables equal to them while it fills, with its rows over the copies.
The reported prices are the solver's, moved toward the mids as far as every
filled bundle's constraints allow (:mod:`gateway.venue.auction.results`), and
:func:`~gateway.venue.auction.verify` checks each filled bundle's constraints at
them. The bounds that make the rounded answer exact are admission's
(:data:`~gateway.venue.auction.MAX_PRICE_ROW`,
:data:`~gateway.venue.auction.MAX_PRICE_STEPS`); docs/auction.md has the rows and
why they are exact.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Final, Literal

from gateway.core.bundle import OrderBundle, PriceConstraint, Sense
from gateway.venue.auction.matrix import INF, Matrix, quiet_highs

__all__ = ["BoxRow", "PriceRow", "integer_point", "on_box", "price_rows_of"]

#: The longest search for a grid point of a bundle's price constraints (several rows,
#: or an equality over several prices) that no row's extremes decide.
_POINT_SEARCH_S: Final = 0.05


@dataclass(frozen=True, slots=True)
class PriceRow:
    """A bundle's price constraint ``Σ_s a_s · p_s (sense) b`` in coprime integers:
    ``Σ_s coefficients[s] · p_s (sense) rhs``, both sides times one positive factor
    (the least common denominator of the ``a_s`` over their greatest common divisor),
    terms with a zero coefficient left out. It holds exactly when the constraint
    does; with no term left it is a constant, true or false.

    ``original`` is the constraint's own right-hand side, a price (a spread); the
    model puts the clearing prices of price-constrained symbols on a grid that
    also has it (``grid``, its denominator), so that a pair's ``p_B − p_A <=
    9.97`` on a book of limits in multiples of 0.05 still lets the prices differ
    by 9.97: with coefficients ±1 (every ``spread_k = 1`` pair) every corner of
    the prices the rows allow is on that grid, so no price a row allows is lost."""

    symbols: tuple[str, ...]
    coefficients: tuple[int, ...]
    sense: Sense
    rhs: Fraction
    original: Fraction

    @property
    def grid(self) -> int:
        return self.original.denominator


def _price_row(price: PriceConstraint) -> PriceRow:
    terms = [(symbol, a.as_integer_ratio()) for symbol, a in price.terms if a]
    rhs = Fraction(price.rhs)
    if not terms:
        return PriceRow((), (), price.sense, rhs, rhs)
    lcd = math.lcm(*(d for _, (_, d) in terms))
    scaled = [n * (lcd // d) for _, (n, d) in terms]
    divisor = math.gcd(*scaled)
    return PriceRow(
        tuple(symbol for symbol, _ in terms),
        tuple(a // divisor for a in scaled),
        price.sense,
        rhs * lcd / divisor,
        rhs,
    )


def price_rows_of(bundle: OrderBundle) -> tuple[PriceRow, ...]:
    """The bundle's price constraints, in order, as :class:`PriceRow`."""
    return tuple(_price_row(price) for price in bundle.price_constraints)


@dataclass(frozen=True, slots=True)
class BoxRow:
    """A price row over the model's price variables: the offsets ``u_s = P_s·S − low_s``
    in ``[0, width_s]`` of each symbol's price ``P_s`` on the price grid ``1/S`` from
    the low end of its interval. ``lower ≤ Σ coefficients·u ≤ upper`` in integers
    (None: no bound) holds on the grid exactly when the price row does. ``holds``:
    at every grid point of the box, at none, or at some."""

    symbols: tuple[str, ...]
    coefficients: tuple[int, ...]
    lower: int | None
    upper: int | None
    holds: Literal["always", "never", "some"]

    def satisfied(self, offsets: Mapping[str, int]) -> bool:
        """Whether integer offsets satisfy the row, exactly."""
        value = sum(a * offsets[s] for s, a in zip(self.symbols, self.coefficients, strict=True))
        return (self.lower is None or value >= self.lower) and (
            self.upper is None or value <= self.upper
        )


def on_box(row: PriceRow, scale: int, box: Mapping[str, tuple[int, int]]) -> BoxRow:
    """``row`` over the offsets of prices on the grid ``1/scale`` within ``box`` (per
    symbol, its low end and its width, in grid steps). With ``P_s = (low_s + u_s) /
    scale``, ``Σ A_s P_s (sense) r`` reads ``Σ A_s u_s (sense) r·scale − Σ A_s low_s``;
    the left-hand side is a whole number, so ``<=`` takes the floor of the right,
    ``>=`` its ceiling, and ``==`` holds nowhere unless it is whole."""
    terms = list(zip(row.symbols, row.coefficients, strict=True))
    bound = row.rhs * scale - sum(a * box[s][0] for s, a in terms)
    least = sum(min(a, 0) * box[s][1] for s, a in terms)
    most = sum(max(a, 0) * box[s][1] for s, a in terms)
    lower = None if row.sense is Sense.LE else math.ceil(bound)
    upper = None if row.sense is Sense.GE else math.floor(bound)
    holds: Literal["always", "never", "some"] = "some"
    if (
        (upper is not None and upper < least)
        or (lower is not None and lower > most)
        or (lower is not None and upper is not None and lower > upper)
    ):
        holds = "never"
    elif (upper is None or upper >= most) and (lower is None or lower <= least):
        holds = "always"
    return BoxRow(row.symbols, row.coefficients, lower, upper, holds)


@functools.lru_cache(maxsize=4096)
def integer_point(rows: tuple[BoxRow, ...], sizes: tuple[tuple[str, int], ...]) -> bool:
    """Whether integer offsets within ``[0, width]`` (``sizes``: each symbol with its
    width) satisfy every row at once.

    Only asked when no single row's extremes decide it (several rows, or an equality
    over several prices): a small MILP, whose answer counts only if it passes the
    exact check; no point found in :data:`_POINT_SEARCH_S` counts as none (the bundle
    then does not fill in this auction, which is always allowed). Remembered, so a
    resting bundle is not searched again in every auction."""
    widths = dict(sizes)
    symbols = sorted({s for row in rows for s in row.symbols})
    column = {s: k for k, s in enumerate(symbols)}
    matrix = Matrix()
    for symbol in symbols:
        matrix.column(widths[symbol])
    for row in rows:
        matrix.row(
            [(column[s], a) for s, a in zip(row.symbols, row.coefficients, strict=True)],
            -INF if row.lower is None else row.lower,
            INF if row.upper is None else row.upper,
        )
    h = quiet_highs(time_limit=_POINT_SEARCH_S)
    if matrix.to_highs(h) is not None:
        return False
    h.run()
    if h.getInfo().primal_solution_status != 2:  # kSolutionStatusFeasible
        return False
    values = h.getSolution().col_value
    offsets = {s: round(values[column[s]]) for s in symbols}
    return all(0 <= offsets[s] <= widths[s] for s in symbols) and all(
        row.satisfied(offsets) for row in rows
    )
