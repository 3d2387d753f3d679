"""What every model of one auction is built from, once admission has run.

* :func:`price_grid`: ``S``, the grid ``1/S`` every price of a set lies on;
* :class:`Order`: one fillable unit of the model, a bundle's leg or a contra
  order, with its lots, owner and seeded tie-break rank;
* :class:`Entry`: an admitted bundle, its orders and its constraint rows (over
  lot counts, and over clearing prices) built before any model;
* :class:`Spreads`: each symbol's reference ``[bid, offer]`` as Fractions (in a
  batch of a large auction, narrowed to what the earlier batches' fills allow),
  and which orders can fill within it;
* :class:`Units`: the objective's units, the same in every part and batch of an
  auction, so that the parts' objectives and bounds add up; the tie-breaks are
  a seeded per-lot priority below one unit of improvement;
* :class:`Context`: what every solve of one auction shares.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from gateway.core.bundle import Side
from gateway.solver.milp import ScaledRow
from gateway.venue.auction.prices import PriceRow
from gateway.venue.auction.types import AuctionConfig, Participant, SymbolRef

__all__ = ["Context", "Entry", "Order", "Spreads", "Units", "price_grid"]


def price_grid(prices: Iterable[Decimal | Fraction]) -> int:
    """``S``: the least common multiple of the prices' denominators (1 for none);
    every one of them times ``S`` is a whole number."""
    return math.lcm(1, *(p.as_integer_ratio()[1] for p in prices))


@dataclass(slots=True)
class Order:
    """A fillable unit in the model: a bundle leg or a contra order."""

    key: tuple[str, int] | str
    symbol: str
    side: Side
    limit: Fraction
    lot: int
    max_lots: int
    owner: str = ""  # the bundle's owner (self-trade prevention); contra orders have none
    col: int = -1  # its column in the model being built
    priority: int = 0  # its seeded tie-break rank among all the auction's orders


@dataclass(frozen=True, slots=True)
class Entry:
    """A bundle admitted to the auction: its orders (legs that can fill here) and
    its constraint rows, built before the model so that a failure is its own."""

    participant: Participant
    legs: Mapping[int, Order]  # by leg index
    rows: tuple[ScaledRow, ...]
    grid: int
    top: Fraction  # its largest |limit| · lot
    price_rows: tuple[PriceRow, ...] = ()  # its price constraints, in integers
    width: Fraction = Fraction(0)  # the widest reference among the symbols they name

    @property
    def price_symbols(self) -> list[str]:
        """The symbols its price constraints name."""
        return [s for row in self.price_rows for s in row.symbols]

    @property
    def price_grid(self) -> int:
        """The grid its price constraints' right-hand sides are on (1 for none)."""
        return math.lcm(1, *(row.grid for row in self.price_rows))

    @property
    def bundle_id(self) -> str:
        return self.participant.bundle.bundle_id


class Spreads:
    """Each symbol's reference bid and offer as Fractions, converted once per auction."""

    def __init__(
        self,
        refs: Mapping[str, SymbolRef],
        bounds: Mapping[str, tuple[Fraction, Fraction]] | None = None,
    ) -> None:
        self.refs = refs
        # A batch of a large auction narrows them to where the earlier batches' fills
        # leave the price (see gateway.venue.auction.batches).
        self.bounds = (
            dict(bounds)
            if bounds is not None
            else {s: (Fraction(r.bid), Fraction(r.offer)) for s, r in refs.items()}
        )
        # Every reference's bid and offer is on the grid 1/grid: the auction's price grid
        # is refined by it, so that each price interval's ends are whole grid steps.
        self.grid = price_grid(p for r in refs.values() for p in (r.bid, r.offer))

    def eligible(self, order: Order) -> Literal["never", "always", "inside"]:
        """:func:`~gateway.venue.auction.ladder.eligibility` of the order, in integers: ``a/b
        < c/d`` exactly when ``a·d < c·b`` (denominators are positive)."""
        bid, offer = self.bounds[order.symbol]
        n, d = order.limit.numerator, order.limit.denominator
        above_bid = n * bid.denominator - bid.numerator * d  # sign of limit - bid
        above_offer = n * offer.denominator - offer.numerator * d  # sign of limit - offer
        if order.side is Side.BUY:
            if above_bid < 0:
                return "never"
            return "always" if above_offer >= 0 else "inside"
        if above_offer > 0:
            return "never"
        return "always" if above_bid <= 0 else "inside"


@dataclass(frozen=True, slots=True)
class Units:
    """The auction's objective units, the same in every part and batch: its price grid
    ``1/grid`` (over all its orders; at most MAX_COST per lot, see admission) and its
    number of orders (the tie-break scale); and the grid ``1/prices`` of the price
    variables that price constraints need (``grid`` refined by every reference's bid
    and offer, so that each price interval's ends are whole steps of it, and by the
    price constraints' right-hand sides: :class:`PriceRow`)."""

    grid: int
    ties: int
    prices: int = 1

    def cost(self, order: Order, shift: int = 0) -> float:
        """The order's objective coefficient per lot: ``sign · (limit − shift) · lot``
        in grid units, plus its tie-break. Each tie term is at most ``priority /
        (4 (n+1)^2) <= 1 / (4 (n+1))``: all of them together stay below one unit of
        improvement, so they only break ties."""
        limit = order.limit
        units = limit.numerator * (self.grid // limit.denominator) - shift
        tie = 1.0 / (4 * (self.ties + 1) ** 2)
        return order.side.sign * units * order.lot + tie * order.priority / max(1, order.max_lots)

    def mid(self, ref: SymbolRef) -> int:
        """The symbol's mid on the grid, rounded down."""
        return math.floor(ref.mid * self.grid)


@dataclass(frozen=True, slots=True)
class Context:
    """What every solve of one auction shares: all its orders (in the order the
    answer lists lots), the reference markets, the settings and the units."""

    orders: Sequence[Order]
    spreads: Spreads
    config: AuctionConfig
    units: Units
