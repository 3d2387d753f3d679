"""What the pre-solver can know about a bundle's price constraints before the auction.

A :class:`~gateway.core.bundle.PriceConstraint` binds the *clearing prices* of an
auction in which the bundle fills, so it is decided there. Before the auction
one thing is certain: a leg that trades clears at a price on its side of its
limit (a buy at or below it, a sell at or above it), and a price is positive.
When every non-empty fill of the bundle trades a leg (the leg is *forced*: with
its quantity held at zero, no non-empty fill is left), its limit bounds its
symbol's clearing price whenever the constraint binds. If no prices within
those bounds satisfy a price constraint, the bundle can never fill: the
pre-solver says so with the best value the constraint's left-hand side can
reach. Otherwise the bundle passes with a note that the constraint is decided
at the clearing prices.

Each constraint is judged on its own over a box of prices (exact, in
fractions): its left-hand side's extreme over the box is a sum of per-symbol
extremes. That is exact for one constraint; for several it is a necessary
condition (they may still conflict with each other, which the auction finds).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from fractions import Fraction

from gateway.core.bundle import OrderBundle, PriceConstraint, Sense, Side
from gateway.core.exact import fraction_text

__all__ = ["PriceBox", "implied", "price_box", "unattainable"]

#: Per symbol, the clearing price's lower bound and upper bound (None: unbounded).
PriceBox = Mapping[str, tuple[Fraction, Fraction | None]]


def price_box(
    bundle: OrderBundle, forced: Collection[int]
) -> dict[str, tuple[Fraction, Fraction | None]]:
    """The clearing-price bounds the ``forced`` legs' limits imply, per symbol."""
    box: dict[str, tuple[Fraction, Fraction | None]] = {
        leg.symbol: (Fraction(0), None) for leg in bundle.legs
    }
    for index in forced:
        leg = bundle.legs[index]
        low, high = box[leg.symbol]
        limit = Fraction(leg.limit_price)
        if leg.side is Side.BUY:
            high = limit if high is None else min(high, limit)
        else:
            low = max(low, limit)
        box[leg.symbol] = (low, high)
    return box


def _extremes(price: PriceConstraint, box: PriceBox) -> tuple[Fraction | None, Fraction | None]:
    """The lowest and highest left-hand side over ``box`` (None: unbounded)."""
    low_total, high_total = Fraction(0), Fraction(0)
    low_finite = high_finite = True
    for symbol, coefficient in price.terms:
        a = Fraction(coefficient)
        low, high = box[symbol]
        # a·p over p in [low, high]: the low end of the sum takes low for a > 0.
        if a > 0:
            low_total += a * low
            if high is None:
                high_finite = False
            else:
                high_total += a * high
        elif a < 0:
            high_total += a * low
            if high is None:
                low_finite = False
            else:
                low_total += a * high
    return (low_total if low_finite else None), (high_total if high_finite else None)


def unattainable(
    price: PriceConstraint, box: PriceBox, where: str = "within the legs' limits"
) -> str | None:
    """Why no prices in ``box`` satisfy ``price``, or None when some do (a bound of 0
    counts as reachable, so a constraint is never refused on that edge). ``where``
    names the box in the reason."""
    low, high = _extremes(price, box)
    rhs = Fraction(price.rhs)
    if price.sense in (Sense.LE, Sense.EQ) and low is not None and low > rhs:
        return _why(price, where, "at least", low)
    if price.sense in (Sense.GE, Sense.EQ) and high is not None and high < rhs:
        return _why(price, where, "at most", high)
    return None


def implied(price: PriceConstraint, box: PriceBox) -> bool:
    """Whether every price in ``box`` satisfies ``price`` (the limits imply it)."""
    low, high = _extremes(price, box)
    rhs = Fraction(price.rhs)
    if price.sense is Sense.LE:
        return high is not None and high <= rhs
    if price.sense is Sense.GE:
        return low is not None and low >= rhs
    return low is not None and low == high == rhs


def _why(price: PriceConstraint, where: str, bound: str, value: Fraction) -> str:
    return (
        f"price constraint {price.name} ({price.render()}) cannot hold at clearing prices "
        f"{where}: there its left-hand side is {bound} {fraction_text(value)}"
    )
