"""The auction's rules checked on a result, in exact arithmetic.

:func:`verify` lists every way an :class:`~gateway.venue.auction.AuctionResult`
breaks them: fills in whole lots within what is left, each filled order's limit
allowing its symbol's price, prices within the reference ``[bid, offer]``, bought
= sold per symbol, every filled bundle's constraints over this auction's fill
and its minimum total, its price constraints at the clearing prices, and
self-trade prevention (no owner both buys and sells a symbol that has it).
:func:`problems` gives the same by bundle, so that the auction can be solved
again without the bundles at fault. Every result of
:func:`~gateway.venue.auction.clear` passes it before it is returned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction

from gateway.core.bundle import OrderBundle, Side
from gateway.venue.auction.orders import Spreads
from gateway.venue.auction.types import AuctionResult, ContraOrder, Participant, SymbolRef

__all__ = ["problems", "verify"]


def verify(
    result: AuctionResult,
    participants: Sequence[Participant],
    contra: Sequence[ContraOrder],
    refs: Mapping[str, SymbolRef],
) -> list[str]:
    """Every way ``result`` breaks the auction's rules, in exact arithmetic."""
    by_bundle, others = problems(result, participants, contra, Spreads(refs))
    return [p for found in by_bundle.values() for p in found] + others


def problems(
    result: AuctionResult,
    participants: Sequence[Participant],
    contra: Sequence[ContraOrder],
    spreads: Spreads,
) -> tuple[dict[str, list[str]], list[str]]:
    """:func:`verify`'s problems: those of each bundle (its lots, limits, constraints,
    minimum, or a self-trade), and the others (contra orders, reference prices,
    balances)."""
    by_bundle: dict[str, list[str]] = {}
    others: list[str] = []
    net: dict[str, int] = {}
    others.extend(_price_problems(result, spreads))

    def check_price(symbol: str, side: Side, limit: Decimal, what: str, out: list[str]) -> None:
        price = result.prices.get(symbol)
        if price is None:
            out.append(f"{what}: no clearing price for {symbol}")
            return
        # limit - price, in integers: n/d - p/q has the sign of n·q - p·d
        n, d = limit.as_integer_ratio()
        above = n * price.denominator - price.numerator * d
        if (side is Side.BUY and above < 0) or (side is Side.SELL and above > 0):
            out.append(f"{what}: limit {Fraction(limit)} does not allow price {price}")

    for participant in participants:
        bundle = participant.bundle
        fills = result.bundle_fills.get(bundle.bundle_id)
        if fills is None:
            continue
        found: list[str] = []
        for leg, qty, left in zip(bundle.legs, fills, participant.remaining, strict=True):
            if qty < 0 or qty > left or qty % leg.lot_size:
                found.append(
                    f"{bundle.bundle_id} {leg.symbol}: fill {qty} not whole lots "
                    f"within remaining {left}"
                )
            if qty:
                check_price(
                    leg.symbol, leg.side, leg.limit_price, f"{bundle.bundle_id} {leg.label}", found
                )
                net[leg.symbol] = net.get(leg.symbol, 0) + leg.side.sign * qty
        for constraint in bundle.constraints:
            if not constraint.holds(fills):
                found.append(f"{bundle.bundle_id}: constraint {constraint.name} fails")
        found.extend(_price_constraint_problems(bundle, fills, result.prices))
        total = sum(fills)
        if bundle.min_total_fill and 0 < total < bundle.min_total_fill:
            found.append(f"{bundle.bundle_id}: fill {total} below minimum")
        if found:
            by_bundle[bundle.bundle_id] = found
    _self_trades(result, participants, spreads, by_bundle)
    by_id = {o.order_id: o for o in contra}
    for order_id, qty in result.contra_fills.items():
        order = by_id[order_id]
        if qty < 0 or qty > order.qty or qty % order.lot_size:
            others.append(f"contra {order_id}: fill {qty} not whole lots within {order.qty}")
        if qty:
            check_price(order.symbol, order.side, order.limit, f"contra {order_id}", others)
            net[order.symbol] = net.get(order.symbol, 0) + order.side.sign * qty
    others.extend(f"{symbol}: bought - sold = {qty}" for symbol, qty in net.items() if qty)
    return by_bundle, others


def _price_constraint_problems(
    bundle: OrderBundle, fills: Sequence[int], prices: Mapping[str, Fraction]
) -> list[str]:
    """The price constraints of a filled bundle that fail at the clearing ``prices``,
    exactly (:meth:`~gateway.core.bundle.OrderBundle.price_violations`), or the
    symbols they name that have no clearing price."""
    if not bundle.price_constraints or not any(fills):
        return []
    named = {s for price in bundle.price_constraints for s, _ in price.terms}
    missing = sorted(named - prices.keys())
    if missing:
        return [
            f"{bundle.bundle_id}: no clearing price for {', '.join(missing)}, "
            "which its price constraints name"
        ]
    return [f"{bundle.bundle_id}: {problem}" for problem in bundle.price_violations(fills, prices)]


def _self_trades(
    result: AuctionResult,
    participants: Sequence[Participant],
    spreads: Spreads,
    found: dict[str, list[str]],
) -> None:
    """Self-trades in ``result``, added to ``found`` (problems by bundle): on each
    symbol with self-trade prevention, every bundle of an owner that both buys and
    sells it."""
    # (symbol, owner) -> the bundles of that owner filled there, buying and selling
    sides: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    for participant in participants:
        fills = result.bundle_fills.get(participant.bundle.bundle_id)
        if not participant.owner or fills is None:
            continue
        for leg, qty in zip(participant.bundle.legs, fills, strict=True):
            ref = spreads.refs.get(leg.symbol)
            if qty and ref is not None and ref.self_trade_prevention:
                both = sides.setdefault((leg.symbol, participant.owner), ([], []))
                both[leg.side is Side.SELL].append(participant.bundle.bundle_id)
    for (symbol, owner), (buyers, sellers) in sorted(sides.items()):
        if buyers and sellers:
            for bundle_id in dict.fromkeys([*buyers, *sellers]):
                found.setdefault(bundle_id, []).append(
                    f"{bundle_id}: owner {owner!r} both buys ({', '.join(buyers)}) and "
                    f"sells ({', '.join(sellers)}) {symbol} with self-trade prevention on"
                )


def _price_problems(result: AuctionResult, spreads: Spreads) -> list[str]:
    """Clearing prices outside their symbol's reference market (or with none)."""
    found: list[str] = []
    for symbol, price in result.prices.items():
        if symbol not in spreads.bounds:
            found.append(f"{symbol}: no reference market")
            continue
        bid, offer = spreads.bounds[symbol]
        if not bid <= price <= offer:
            found.append(f"{symbol}: price {price} outside [{bid}, {offer}]")
    return found
