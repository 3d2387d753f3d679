"""Pre-trade risk checks: the venue's reference data and the gateway's own controls.

I/O-free, like the rest of the decision core. A bundle is checked here after the
strategy built it and before it is pre-solved (on the pool worker, so a refused
list costs no solve), and again by the state owner just before it is accepted,
against the instrument list and the client's open quantities as they are then.

What is checked, in this order; the first failure is the denial's reason, which
names the leg and says what to change:

1. the instrument list is loaded (from the venue's SecurityList, the journal's
   copy of the last one, or the static ``instruments.file``);
2. every leg's symbol is listed and tradable;
3. no leg's symbol is on ``risk.restricted_symbols``;
4. the leg's lot size is a multiple of the venue's round lot, so the lots the
   pre-solver proves are lots the venue fills in (bidgw does not silently adopt
   the venue's lot: a desk's lot is part of its constraints' meaning);
5. the limit price is a multiple of the instrument's tick;
6. the price collar: a buy's limit at most ``price_collar_pct`` percent above the
   reference price (the mid of the venue's bid and offer), a sell's at most that
   far below it;
7. ``risk.max_order_qty``: a leg's quantity per symbol (``"*"``: any symbol);
   then a price constraint (a pair's spread) that no clearing prices within the
   counterparty's reference markets meet: the bundle could never fill there, and
   the counterparty refuses it;
8. the client's ``max_open_qty`` per symbol: what its open bundles may still fill
   on that symbol plus this bundle's legs (state owner only: it needs the book).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from gateway.core.bundle import Leg, OrderBundle, Side
from gateway.core.exact import fraction_text
from gateway.core.instruments import Instrument, InstrumentList
from gateway.solver.prices import unattainable

__all__ = [
    "NO_INSTRUMENTS",
    "RiskLimits",
    "exposure_breach",
    "pretrade_breach",
]

NO_INSTRUMENTS = (
    "the instrument list is not loaded yet (the counterparty has not answered the "
    "gateway's SecurityListRequest and no instruments file is configured): "
    "send the list again shortly"
)


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The gateway-wide controls (``risk`` in gateway.yaml, see its config model)."""

    price_collar_pct: Decimal | None = None
    restricted_symbols: frozenset[str] = frozenset()
    max_order_qty: Mapping[str, int] = field(default_factory=dict)


def pretrade_breach(
    bundle: OrderBundle, instruments: InstrumentList | None, limits: RiskLimits
) -> str | None:
    """The first check ``bundle`` fails (checks 1-7 of the module docstring) as a
    reason the desk can act on, or None. Pure."""
    if instruments is None:
        return NO_INSTRUMENTS
    listed = instruments.instruments
    for number, leg in enumerate(bundle.legs, start=1):
        where = f"leg {number} ({leg.label})"
        instrument = listed.get(leg.symbol)
        if instrument is None:
            return (
                f"{where}: unknown symbol {leg.symbol}: the counterparty does not list it "
                f"(instruments from the {instruments.source})"
            )
        if not instrument.tradable:
            return f"{where}: {leg.symbol} is not tradable at the counterparty now"
        if leg.symbol in limits.restricted_symbols:
            return f"{where}: {leg.symbol} is on the gateway's restricted list"
        if leg.lot_size % instrument.round_lot:
            return (
                f"{where}: lot size {leg.lot_size} is not a multiple of the counterparty's "
                f"round lot {instrument.round_lot} for {leg.symbol}"
            )
        price_num, price_den = leg.limit_price.as_integer_ratio()
        tick_num, tick_den = instrument.tick_ratio
        if (price_num * tick_den) % (price_den * tick_num):  # price / tick not whole
            return (
                f"{where}: limit price {leg.limit_price:f} is not a multiple of the tick "
                f"{instrument.tick:f} for {leg.symbol}"
            )
        collar = _collar(leg, (price_num, price_den), instrument, limits.price_collar_pct)
        if collar is not None:
            return f"{where}: {collar}"
        most = limits.max_order_qty.get(leg.symbol, limits.max_order_qty.get("*"))
        if most is not None and leg.max_qty > most:
            return f"{where}: quantity {leg.max_qty} above the limit {most} for {leg.symbol}"
    return _unreachable_prices(bundle, listed)


def _unreachable_prices(bundle: OrderBundle, listed: Mapping[str, Instrument]) -> str | None:
    """A price constraint no prices within the reference markets of its symbols meet."""
    for price in bundle.price_constraints:
        box: dict[str, tuple[Fraction, Fraction | None]] = {}
        for symbol, _ in price.terms:
            instrument = listed[symbol]
            if instrument.bid is None or instrument.offer is None:
                break  # a market not known: the constraint may hold somewhere
            box[symbol] = (Fraction(instrument.bid), Fraction(instrument.offer))
        else:
            why = unattainable(price, box, "within the counterparty's bid-offer ranges")
            if why is not None:
                return f"{why}; the bundle could never fill there"
    return None


def exposure_breach(
    bundle: OrderBundle, open_qty: Mapping[str, int], max_open_qty: Mapping[str, int]
) -> str | None:
    """Check 8: the client's open quantity on a symbol (``open_qty``: what its open
    bundles may still fill there) plus this bundle's, against ``max_open_qty``
    (per symbol, ``"*"`` for any other). Pure."""
    if not max_open_qty:
        return None
    adding: dict[str, int] = {}
    for leg in bundle.legs:
        adding[leg.symbol] = adding.get(leg.symbol, 0) + leg.max_qty
    for symbol, qty in adding.items():
        most = max_open_qty.get(symbol, max_open_qty.get("*"))
        already = open_qty.get(symbol, 0)
        if most is not None and already + qty > most:
            return (
                f"limit: open quantity on {symbol} would be {already + qty} "
                f"({already} open + {qty} in this bundle), at most {most} for this client"
            )
    return None


def _collar(
    leg: Leg, price: tuple[int, int], instrument: Instrument, pct: Decimal | None
) -> str | None:
    """The collar's reason, if the limit ``price`` (numerator, denominator) is more
    than ``pct`` percent through the reference; integer arithmetic until then."""
    if pct is None or instrument.reference_ratio is None:
        return None
    ref_num, ref_den = instrument.reference_ratio
    pct_num, pct_den = pct.as_integer_ratio()
    price_num, price_den = price
    # price vs ref·(1 ± pct/100) = ref_num·(100·pct_den ± pct_num) / (ref_den·100·pct_den)
    scale = 100 * pct_den
    lhs = price_num * ref_den * scale
    if leg.side is Side.BUY:
        if lhs <= ref_num * (scale + pct_num) * price_den:
            return None
        direction = "above"
    else:
        if lhs >= ref_num * (scale - pct_num) * price_den:
            return None
        direction = "below"
    reference = Fraction(ref_num, ref_den)
    through = abs(Fraction(price_num, price_den) - reference) / reference * 100
    return (
        f"price collar: limit price {leg.limit_price:f} is {float(through):.2f}% {direction} "
        f"the reference price {fraction_text(reference)} for {leg.symbol}; at most {pct:f}%"
    )
