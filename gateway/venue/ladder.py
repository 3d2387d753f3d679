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
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from gateway.core.bundle import Side

__all__ = ["Link", "PriceLadder", "eligibility", "price_ladder"]


def eligibility(
    side: Side, limit: Fraction, bid: Fraction, offer: Fraction
) -> Literal["never", "always", "inside"]:
    """Whether an order can fill at no price in ``[bid, offer]``, at every one, or
    only at some (its limit is strictly inside, or at the near side of, the spread)."""
    if side is Side.BUY:
        if limit < bid:
            return "never"
        return "always" if limit >= offer else "inside"
    if limit > offer:
        return "never"
    return "always" if limit <= bid else "inside"


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
    kinds = [eligibility(side, limit, bid, offer) for side, limit in orders]
    if "never" in kinds:
        raise ValueError("an order that can never fill has no place on the ladder")
    sells = sorted(
        {
            limit
            for (side, limit), kind in zip(orders, kinds, strict=True)
            if kind == "inside" and side is Side.SELL
        }
    )

    def above(limit: Fraction) -> Fraction | None:
        index = bisect.bisect_right(sells, limit)
        return sells[index] if index < len(sells) else None

    thresholds = sorted(
        {
            t
            for (side, limit), kind in zip(orders, kinds, strict=True)
            if kind == "inside" and side is Side.BUY and (t := above(limit)) is not None
        }
    )
    links: list[Link | None] = []
    for (side, limit), kind in zip(orders, kinds, strict=True):
        if kind != "inside":
            links.append(None)
        elif side is Side.BUY:
            t = above(limit)
            links.append(None if t is None else Link(thresholds.index(t), when_reached=False))
        else:
            below = bisect.bisect_right(thresholds, limit)
            links.append(None if below == 0 else Link(below - 1, when_reached=True))
    return PriceLadder(tuple(thresholds), tuple(links))
