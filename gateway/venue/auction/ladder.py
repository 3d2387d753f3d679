"""A symbol's clearing price as a ladder of binary thresholds (no big-M, no price variable).

Within one symbol, a buy with limit ``L`` may fill only if the clearing price
``P ≤ L`` and a sell only if ``P ≥ L``; ``P`` lies in the reference
``[bid, offer]``. An order whose limit is through the far side of the spread
(a buy at or above the offer, a sell at or below the bid) is eligible at every
such price and needs no link; one outside the spread never fills and is not in
the model. The rest are *inside* orders.

Which fills are possible depends only on which inside buys and sells conflict:
a buy ``L`` and a sell ``c`` can fill together exactly when ``c ≤ L``. So the
ladder has one binary per distinct *threshold*, ``v_k = [P ≥ T_k]``,
``T_1 < T_2 < …``, where the thresholds are, for each inside buy ``L``, the
lowest inside sell limit above it, ``t(L) = min {c : c > L}`` (a buy with no
such sell conflicts with no sell and needs no link). Then, with
``v_1 ≥ v_2 ≥ …`` (the ladder's rows):

* an inside buy ``L`` fills only if ``v_j = 0`` for ``T_j = t(L)``:
  ``q ≤ cap · (1 − v_j)``;
* an inside sell ``c`` fills only if ``v_k = 1`` for the largest threshold
  ``T_k ≤ c`` (with none, no buy conflicts with it and it needs no link):
  ``q ≤ cap · v_k``.

Exactness, both ways. A fill feasible at some price ``P`` sets
``v_k = [P ≥ T_k]``: a filled sell ``c`` has ``P ≥ c ≥ T_k``, a filled buy has
``P ≤ L < t(L)``, and the ``v`` are monotone. Conversely, if a ladder solution
filled a buy ``L`` and a sell ``c > L``, then ``t(L) ≤ c`` is a threshold at
or below the sell's own ``T_k``, so ``v_k = 1`` forces ``v_j = 1`` and the buy
to 0: every filled sell's limit is at most every filled buy's limit, and a
price between them (within the spread, as sells inside are at most the offer
and buys inside at least the bid) exists. The auction reads that price off
the fills afterwards and verifies it exactly; the ladder never stores a price.

Orders sharing a threshold share its binary, so a symbol needs as many
binaries as there are alternations between buy and sell limits inside its
spread (at most the number of inside buys), instead of one binary per inside
order plus a continuous price and two big-M rows per order.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, TypeVar

from gateway.core.bundle import Side

__all__ = ["Link", "PriceLadder", "eligibility", "price_ladder"]


def eligibility(
    side: Side, limit: Fraction, bid: Fraction, offer: Fraction
) -> Literal["never", "always", "inside"]:
    """Whether an order can fill at no price in ``[bid, offer]``, at every one, or
    only at some (its limit is strictly inside, or at the near side of, the spread)."""
    return _kind(side, limit, bid, offer)


@dataclass(frozen=True, slots=True)
class Link:
    """An order's tie to the ladder: it may fill only while threshold ``step`` is
    reached (``v = 1``, a sell) or not reached (``v = 0``, a buy)."""

    step: int
    when_reached: bool


@dataclass(frozen=True, slots=True)
class PriceLadder:
    """The thresholds of one symbol, ascending, and each order's link (None: no link)."""

    thresholds: tuple[Fraction, ...]
    links: tuple[Link | None, ...]


def price_ladder(
    orders: Sequence[tuple[Side, Fraction]], bid: Fraction, offer: Fraction
) -> PriceLadder:
    """The ladder for one symbol's orders, each given as ``(side, limit)``, none of
    them ``never`` eligible (see the module docstring)."""
    # Every price as a whole number of the symbol's common grid: the same order as
    # the Fractions, compared as ints (Fraction comparisons dominated the auction's
    # model building).
    scale = math.lcm(bid.denominator, offer.denominator, *(p.denominator for _, p in orders))
    low, high = (
        bid.numerator * (scale // bid.denominator),
        offer.numerator * (scale // offer.denominator),
    )
    ticks = [p.numerator * (scale // p.denominator) for _, p in orders]
    kinds = [_kind(side, tick, low, high) for (side, _), tick in zip(orders, ticks, strict=True)]
    if "never" in kinds:
        raise ValueError("an order that can never fill has no place on the ladder")
    sells = sorted(
        {
            tick
            for (side, _), tick, kind in zip(orders, ticks, kinds, strict=True)
            if kind == "inside" and side is Side.SELL
        }
    )

    def above(tick: int) -> int | None:
        index = bisect.bisect_right(sells, tick)
        return sells[index] if index < len(sells) else None

    thresholds = sorted(
        {
            t
            for (side, _), tick, kind in zip(orders, ticks, kinds, strict=True)
            if kind == "inside" and side is Side.BUY and (t := above(tick)) is not None
        }
    )
    position = {t: k for k, t in enumerate(thresholds)}
    links: list[Link | None] = []
    for (side, _), tick, kind in zip(orders, ticks, kinds, strict=True):
        if kind != "inside":
            links.append(None)
        elif side is Side.BUY:
            t = above(tick)
            links.append(None if t is None else Link(position[t], when_reached=False))
        else:
            below = bisect.bisect_right(thresholds, tick)
            links.append(None if below == 0 else Link(below - 1, when_reached=True))
    return PriceLadder(tuple(Fraction(t, scale) for t in thresholds), tuple(links))


#: Prices as Fractions, or as whole numbers of one grid (compared the same way).
_Price = TypeVar("_Price", int, Fraction)


def _kind(
    side: Side, limit: _Price, bid: _Price, offer: _Price
) -> Literal["never", "always", "inside"]:
    """:func:`eligibility`, for Fractions or for whole numbers of one grid."""
    if side is Side.BUY:
        if limit < bid:
            return "never"
        return "always" if limit >= offer else "inside"
    if limit > offer:
        return "never"
    return "always" if limit <= bid else "inside"
