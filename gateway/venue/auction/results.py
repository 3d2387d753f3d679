"""From the solver's lots to an :class:`~gateway.venue.auction.AuctionResult`.

:func:`finish` turns every order's lots into the bundles' and contra orders'
fills, gives each traded symbol its price and verifies the whole exactly
(:mod:`gateway.venue.auction.verification`), with the exact price improvement.
Each symbol's price is the point of its feasible interval (within the reference
``[bid, offer]``, at most every filled buy's limit and at least every filled
sell's) closest to its mid, "the mid when unconstrained". Symbols that a filled
bundle's price constraints name start from the solver's prices, which satisfy
them, and each is moved as close to its mid as the constraints allow with the
others fixed (:func:`_settle`), staying on the price grid. A solver answer that
fails the exact verification fills nothing; the bundles it names are returned
as faults for :func:`~gateway.venue.auction.clear` to leave out. An answer that
fills nothing is ``no_trade`` only when the solver proved it optimal, else
``no_solution``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from gateway.core.bundle import PriceConstraint, Sense, Side
from gateway.venue.auction.orders import Order, Spreads
from gateway.venue.auction.types import AuctionResult, ContraOrder, Participant
from gateway.venue.auction.verification import problems

__all__ = ["NO_FILL_IN_TIME", "Outcome", "finish"]

#: The detail of a ``no_solution`` auction whose solver held only the empty fill when
#: its time ran out (``no_trade`` is for a proof that nothing trades).
NO_FILL_IN_TIME = "no fill worth more than nothing found in time"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The solver's answer for a whole auction, with what :func:`finish` reads it by."""

    participants: Sequence[Participant]
    contra: Sequence[ContraOrder]
    spreads: Spreads
    orders: Sequence[Order]
    lots: Sequence[int]
    status: str
    solve_ms: float
    witness: Mapping[str, Fraction] = field(default_factory=dict)  # the solver's prices
    grid: int = 1  # the price grid 1/grid of the witness


def finish(outcome: Outcome) -> tuple[AuctionResult, dict[str, str]]:
    """Fills and prices from the solver's lots, verified exactly; when the
    verification fails, also the bundles it found at fault, each with its problems."""
    participants, contra, spreads = outcome.participants, outcome.contra, outcome.spreads
    orders, lots, status, solve_ms = outcome.orders, outcome.lots, outcome.status, outcome.solve_ms
    legs_of = {p.bundle.bundle_id: len(p.remaining) for p in participants}
    bundle_fills: dict[str, list[int]] = {}
    contra_fills: dict[str, int] = {}
    # Each traded symbol's feasible price interval: within [bid, offer], at most every
    # filled buy's limit and at least every filled sell's.
    interval: dict[str, list[Fraction]] = {}
    for order, n in zip(orders, lots, strict=True):
        if isinstance(order.key, tuple):
            bundle_id, index = order.key
            fills = bundle_fills.setdefault(bundle_id, [0] * legs_of[bundle_id])
            fills[index] = n * order.lot
        elif n:
            contra_fills[order.key] = n * order.lot
        if n:
            span = interval.get(order.symbol)
            if span is None:
                span = interval[order.symbol] = list(spreads.bounds[order.symbol])
            if order.side is Side.BUY:
                span[1] = min(span[1], order.limit)
            else:
                span[0] = max(span[0], order.limit)
    prices: dict[str, Fraction] = {}
    for symbol in sorted(interval):
        low, high = interval[symbol]
        prices[symbol] = min(max(spreads.refs[symbol].mid, low), high)
    held = [
        price
        for participant in participants
        if participant.bundle.price_constraints
        and any(bundle_fills.get(participant.bundle.bundle_id, ()))
        for price in participant.bundle.price_constraints
    ]
    if held:
        _settle(prices, interval, held, outcome)
    result = AuctionResult(
        status="optimal" if status == "optimal" else "feasible",
        prices=prices,
        bundle_fills={b: tuple(f) for b, f in bundle_fills.items() if any(f)},
        contra_fills=contra_fills,
        solve_ms=solve_ms,
    )
    by_bundle, others = problems(result, participants, contra, spreads)
    if by_bundle or others:
        detail = "; ".join([p for found in by_bundle.values() for p in found] + others)
        faults = {b: "; ".join(found) for b, found in by_bundle.items()}
        return AuctionResult("unverified", solve_ms=solve_ms, detail=detail), faults
    if not result.filled:
        if status == "optimal":  # proven: nothing is worth more than the empty fill
            return AuctionResult("no_trade", solve_ms=solve_ms), {}
        # The solver held only the empty fill when its time ran out: not a proof.
        return AuctionResult("no_solution", solve_ms=solve_ms, detail=NO_FILL_IN_TIME), {}
    improvement = _improvement(result, participants, contra)
    return AuctionResult(
        result.status, prices, result.bundle_fills, contra_fills, improvement, solve_ms
    ), {}


def _settle(
    prices: dict[str, Fraction],
    interval: dict[str, list[Fraction]],
    held: Sequence[PriceConstraint],
    outcome: Outcome,
) -> None:
    """The prices of the symbols that the filled bundles' price constraints ``held``
    name, in ``prices``: from the solver's, which satisfy them (:class:`Model`), each
    symbol in turn moved as close to its mid as its fills' ``interval`` and the
    constraints allow with the others' prices fixed (:func:`_toward_mids`). If the
    solver's prices do not hold exactly (its tolerances; never seen), the mids clamped
    to the intervals, as for the other symbols: :func:`~gateway.venue.auction.verify`
    then names what fails, and the auction is solved again without the bundles it
    names."""
    spreads = outcome.spreads
    symbols = sorted({s for price in held for s, _ in price.terms})
    if not spreads.bounds.keys() >= set(symbols):
        return  # a symbol with no reference has no price: verify() says so
    for symbol in symbols:
        if symbol not in interval:  # named, not traded: its price still binds
            low, high = interval[symbol] = list(spreads.bounds[symbol])
            prices[symbol] = min(max(spreads.refs[symbol].mid, low), high)
    # The solver's price of each symbol that had a price variable when it last traded
    # (in a large auction, the last batch whose model had one). A symbol without one,
    # or whose interval a later batch narrowed past it, is named only by rows that held
    # at every price of that model's box (:func:`on_box`): any price in its interval
    # does, and it keeps the mid, clamped.
    trial = dict(prices)
    for symbol in symbols:
        solved = outcome.witness.get(symbol)
        if solved is not None and interval[symbol][0] <= solved <= interval[symbol][1]:
            trial[symbol] = solved
    if all(price.holds(trial) for price in held):
        _toward_mids(symbols, interval, held, trial, outcome)
        prices.update((s, trial[s]) for s in symbols)


def _toward_mids(
    symbols: Sequence[str],
    interval: Mapping[str, Sequence[Fraction]],
    held: Sequence[PriceConstraint],
    trial: dict[str, Fraction],
    outcome: Outcome,
) -> None:
    """Move each of ``symbols`` in turn, in ``trial`` (prices at which every constraint
    of ``held`` holds), as close to its mid as its ``interval`` and the constraints
    allow with the others fixed: to the mid itself, or else to the nearest point of
    the price grid ``1/outcome.grid`` (the symbol's current price is on it: the
    solver's, or an end of its interval, a limit or the reference's bid or offer), so
    every price stays a finite decimal and the constraints keep holding, exactly."""
    grid, refs = outcome.grid, outcome.spreads.refs
    naming: dict[str, list[PriceConstraint]] = {}
    for price in held:
        for symbol, a in price.terms:
            if a:
                naming.setdefault(symbol, []).append(price)
    for symbol in symbols:
        low, high = _allowed(symbol, interval[symbol], naming.get(symbol, []), trial)
        mid = refs[symbol].mid
        if low <= mid <= high:
            trial[symbol] = mid
        elif mid < low:
            trial[symbol] = Fraction(math.ceil(low * grid), grid)
        else:
            trial[symbol] = Fraction(math.floor(high * grid), grid)


def _allowed(
    symbol: str,
    interval: Sequence[Fraction],
    held: Sequence[PriceConstraint],
    prices: Mapping[str, Fraction],
) -> tuple[Fraction, Fraction]:
    """The prices of ``symbol`` within ``interval`` at which every constraint of
    ``held`` holds, the other symbols at ``prices``: an interval, exactly."""
    low, high = interval
    for price in held:
        a = next((Fraction(c) for s, c in price.terms if s == symbol), Fraction(0))
        if not a:
            continue
        rest = sum(
            (Fraction(c) * prices[s] for s, c in price.terms if s != symbol), start=Fraction(0)
        )
        edge = (Fraction(price.rhs) - rest) / a  # a·p + rest (sense) rhs
        if price.sense is Sense.EQ:
            low, high = max(low, edge), min(high, edge)
        elif (price.sense is Sense.LE) == (a > 0):
            high = min(high, edge)
        else:
            low = max(low, edge)
    return low, high


def _improvement(
    result: AuctionResult, participants: Sequence[Participant], contra: Sequence[ContraOrder]
) -> Fraction:
    """``Σ sign · (limit − price) · qty`` over every fill, exactly: per symbol,
    ``Σ sign·limit·qty − price · Σ sign·qty``, the first sum kept as whole
    numerators per denominator (one Fraction per denominator, not per fill)."""
    limits: dict[int, int] = {}  # denominator -> Σ sign · numerator · qty
    signed: dict[str, int] = {}  # symbol -> Σ sign · qty

    def add(symbol: str, sign: int, limit: Decimal, qty: int) -> None:
        numerator, denominator = limit.as_integer_ratio()
        limits[denominator] = limits.get(denominator, 0) + sign * numerator * qty
        signed[symbol] = signed.get(symbol, 0) + sign * qty

    for participant in participants:
        fills = result.bundle_fills.get(participant.bundle.bundle_id)
        if not fills:
            continue
        for leg, qty in zip(participant.bundle.legs, fills, strict=True):
            if qty:
                add(leg.symbol, leg.side.sign, leg.limit_price, qty)
    for order in contra:
        qty = result.contra_fills.get(order.order_id, 0)
        if qty:
            add(order.symbol, order.side.sign, order.limit, qty)
    total = sum((Fraction(n, d) for d, n in limits.items()), start=Fraction(0))
    return total - sum(
        (result.prices[symbol] * qty for symbol, qty in signed.items() if qty),
        start=Fraction(0),
    )
