"""The simulated venue's combinatorial call auction (no FIX here).

Participants are resting bundles (each with its remaining quantity per leg)
and simple contra orders (synthetic liquidity). One auction chooses, per
symbol, one uniform clearing price ``P_s`` within the reference bid/offer, and
fills such that

* per symbol, quantity bought = quantity sold;
* a buy fills only if its limit ≥ ``P_s``, a sell only if its limit ≤ ``P_s``;
* every fill is a whole number of lots within the remaining quantity;
* every bundle's constraints hold for *this auction's* fill (and a non-empty
  fill meets its minimum total, if any);

maximising total price improvement ``Σ_buys (limit − P)·q + Σ_sells (P − limit)·q``.

Because bought = sold per symbol, the ``P`` terms cancel: the improvement is
``Σ_buys limit·q − Σ_sells limit·q`` whatever the prices, and the prices only
decide which orders may fill. The MILP therefore has one continuous price per
symbol, tied to an order's fill by a big-M row only when its limit lies
strictly inside the spread (an order whose limit is through the far side can
fill at any price; one outside the spread never fills). After the solve, each
symbol's price is the point of its feasible interval closest to the midpoint
("the midpoint when unconstrained").

Why constraints apply to each auction's fill: the built-in strategies'
constraints are homogeneous (``Σ a·q (op) 0``), so if every auction's fill
satisfies them, so does every cumulative fill; each partial fill is itself a
hedge. A bundle's remaining quantities shrink as it fills.

Ties: a seeded, tiny per-lot priority is added to the objective, so equal
improvements are broken by a random order that the seed reproduces.

Every result is re-verified in exact arithmetic (:func:`verify`) before it is
returned as filled; a solver answer that fails, or none at all, fills nothing.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

import pulp

from gateway.core.bundle import OrderBundle, Side
from gateway.core.fields import Fraction01, FrozenModel, PositiveInt
from gateway.solver.milp import (
    SolverName,
    SolverSettings,
    read_solution,
    relative_gap,
    round_lots,
    row_constraint,
    scaled_rows,
)

__all__ = [
    "AuctionConfig",
    "AuctionResult",
    "ContraOrder",
    "Participant",
    "SymbolRef",
    "clear",
    "verify",
]


class AuctionConfig(FrozenModel):
    """Clearing settings.

    Attributes:
        solver: ``highs`` (default) or ``cbc``.
        time_limit_ms: solver time limit per auction (default 80).
        gap: relative optimality gap at which the solver may stop (default 0.001).
    """

    solver: SolverName = "highs"
    time_limit_ms: PositiveInt = 80
    gap: Fraction01 = 0.001


@dataclass(frozen=True, slots=True)
class SymbolRef:
    """Reference market for a symbol: the clearing price stays within [bid, offer]."""

    bid: Decimal
    offer: Decimal

    @property
    def mid(self) -> Fraction:
        return (Fraction(self.bid) + Fraction(self.offer)) / 2


@dataclass(frozen=True, slots=True)
class ContraOrder:
    """A simple limit order (synthetic liquidity); fills in whole lots."""

    order_id: str
    symbol: str
    side: Side
    limit: Decimal
    qty: int
    lot_size: int = 100


@dataclass(frozen=True, slots=True)
class Participant:
    """A resting bundle with the quantity each leg may still fill."""

    bundle: OrderBundle
    remaining: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class AuctionResult:
    """One auction's outcome (fills are empty unless ``status`` is a solution)."""

    status: Literal["optimal", "feasible", "no_solution", "no_trade", "unverified"]
    prices: Mapping[str, Fraction] = field(default_factory=dict)
    bundle_fills: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    contra_fills: Mapping[str, int] = field(default_factory=dict)
    improvement: Fraction = Fraction(0)
    solve_ms: float = 0.0
    detail: str = ""
    build_ms: float = 0.0
    gap: float | None = None  # relative MIP gap the solver reached (HiGHS), if known

    @property
    def filled(self) -> bool:
        return bool(self.bundle_fills or self.contra_fills)


@dataclass(slots=True)
class _Order:
    """A fillable unit in the model: a bundle leg or a contra order."""

    key: tuple[str, int] | str
    symbol: str
    side: Side
    limit: Fraction
    lot: int
    max_lots: int
    var: Any = None


def _eligible(order: _Order, ref: SymbolRef) -> Literal["never", "always", "inside"]:
    bid, offer = Fraction(ref.bid), Fraction(ref.offer)
    if order.side is Side.BUY:
        if order.limit < bid:
            return "never"
        return "always" if order.limit >= offer else "inside"
    if order.limit > offer:
        return "never"
    return "always" if order.limit <= bid else "inside"


def clear(
    participants: Sequence[Participant],
    contra: Sequence[ContraOrder],
    refs: Mapping[str, SymbolRef],
    config: AuctionConfig | None = None,
    *,
    seed: int = 0,
) -> AuctionResult:
    """Run one auction. Deterministic for the same inputs and seed."""
    config = config or AuctionConfig()
    started = time.perf_counter()
    model = _Model(participants, contra, refs)
    if not model.orders:
        return AuctionResult("no_trade", solve_ms=(time.perf_counter() - started) * 1000)
    model.build(random.Random(seed))
    build_ms = (time.perf_counter() - started) * 1000
    # Unlike the small pre-solve models, auctions are large: HiGHS presolve stays on.
    settings = SolverSettings(solver=config.solver, gap_rel=config.gap)
    try:
        model.problem.solve(settings.make(config.time_limit_ms / 1000))
    except pulp.PulpSolverError as exc:
        return AuctionResult(
            "no_solution", detail=str(exc), solve_ms=(time.perf_counter() - started) * 1000
        )
    solve_ms = (time.perf_counter() - started) * 1000
    status, lots = _solution(model.problem, model.orders, config.solver)
    gap = relative_gap(model.problem, config.solver)
    if lots is None:
        return AuctionResult(
            "no_solution", solve_ms=solve_ms, detail=status, build_ms=build_ms, gap=gap
        )
    result = _finish(_Outcome(participants, contra, refs, model.orders, lots, status, solve_ms))
    return dataclasses.replace(result, build_ms=build_ms, gap=gap)


class _Model:
    """The clearing MILP for one auction."""

    def __init__(
        self,
        participants: Sequence[Participant],
        contra: Sequence[ContraOrder],
        refs: Mapping[str, SymbolRef],
    ) -> None:
        self.participants = participants
        self.refs = refs
        orders: list[_Order] = []
        for participant in participants:
            bundle = participant.bundle
            for index, (leg, left) in enumerate(
                zip(bundle.legs, participant.remaining, strict=True)
            ):
                if leg.symbol in refs and left >= leg.lot_size:
                    orders.append(
                        _Order(
                            (bundle.bundle_id, index),
                            leg.symbol,
                            leg.side,
                            Fraction(leg.limit_price),
                            leg.lot_size,
                            left // leg.lot_size,
                        )
                    )
        for item in contra:
            if item.symbol in refs and item.qty >= item.lot_size:
                orders.append(
                    _Order(
                        item.order_id,
                        item.symbol,
                        item.side,
                        Fraction(item.limit),
                        item.lot_size,
                        item.qty // item.lot_size,
                    )
                )
        self.orders = [o for o in orders if _eligible(o, refs[o.symbol]) != "never"]
        self.problem = pulp.LpProblem("auction", pulp.LpMaximize)

    def build(self, rng: random.Random) -> None:
        for number, order in enumerate(self.orders):
            order.var = self.problem.add_variable(
                f"q{number:06d}", 0, order.max_lots, cat=pulp.const.LpInteger
            )
        self._objective(rng)
        symbols = sorted({o.symbol for o in self.orders})
        prices = {
            s: self.problem.add_variable(
                f"p_{s}", float(self.refs[s].bid), float(self.refs[s].offer)
            )
            for s in symbols
        }
        for symbol in symbols:
            balance = [
                (o.var, o.lot if o.side is Side.BUY else -o.lot)
                for o in self.orders
                if o.symbol == symbol
            ]
            self.problem.addConstraint(
                pulp.LpConstraint(
                    pulp.LpAffineExpression(balance),
                    sense=pulp.LpConstraintEQ,
                    rhs=0,
                    name=f"balance_{symbol}",
                )
            )
        for number, order in enumerate(self.orders):
            if _eligible(order, self.refs[order.symbol]) == "inside":
                self._price_link(number, order, prices[order.symbol])
        legs: dict[str, dict[int, _Order]] = {}
        for order in self.orders:
            if isinstance(order.key, tuple):
                legs.setdefault(order.key[0], {})[order.key[1]] = order
        for participant in self.participants:
            self._bundle_rows(participant.bundle, legs.get(participant.bundle.bundle_id, {}))

    def _objective(self, rng: random.Random) -> None:
        """Improvement Σ_buys limit·q − Σ_sells limit·q in integer units, plus tie-breaks."""
        scale = math.lcm(*(o.limit.denominator for o in self.orders))
        priorities = list(range(len(self.orders)))
        rng.shuffle(priorities)
        # Each order's tie term is at most priority / (4 (n+1)^2) <= 1 / (4 (n+1)): all of
        # them together stay below one unit of improvement, so they only break ties.
        tie = 1.0 / (4 * (len(self.orders) + 1) ** 2)
        terms = []
        for order, priority in zip(self.orders, priorities, strict=True):
            value = order.side.sign * int(order.limit * scale) * order.lot
            terms.append((order.var, value + tie * priority / max(1, order.max_lots)))
        self.problem.setObjective(pulp.LpAffineExpression(terms))

    def _price_link(self, number: int, order: _Order, price: Any) -> None:
        """z = 1 lets the order fill; then the price must be on its side of its limit."""
        ref = self.refs[order.symbol]
        z = self.problem.add_variable(f"z{number:06d}", 0, 1, cat=pulp.const.LpBinary)
        self.problem.addConstraint(order.var - order.max_lots * z <= 0, name=f"use{number:06d}")
        spread = float(Fraction(ref.offer) - Fraction(ref.bid))
        if order.side is Side.BUY:
            self.problem.addConstraint(
                price + spread * z <= float(order.limit) + spread, name=f"px{number:06d}"
            )
        else:
            self.problem.addConstraint(
                price - spread * z >= float(order.limit) - spread, name=f"px{number:06d}"
            )

    def _bundle_rows(self, bundle: OrderBundle, legs: Mapping[int, _Order]) -> None:
        # The same integer rows over lot counts as the pre-solver's; a leg with no
        # order in this auction (nothing left, or no reference market) fills 0.
        variables = [legs[i].var if i in legs else None for i in range(len(bundle.legs))]
        for c_index, row in enumerate(scaled_rows(bundle, bundle.constraints)):
            self.problem.addConstraint(
                row_constraint(row, variables, f"b{bundle.bundle_id}_{c_index}")
            )
        if bundle.min_total_fill and legs:
            # A non-empty fill must reach the minimum: w = 1 if the bundle trades.
            w = self.problem.add_variable(f"w_{bundle.bundle_id}", 0, 1, cat=pulp.const.LpBinary)
            total = pulp.LpAffineExpression([(o.var, o.lot) for o in legs.values()])
            cap = sum(o.max_lots * o.lot for o in legs.values())
            self.problem.addConstraint(total - cap * w <= 0)
            self.problem.addConstraint(total - bundle.min_total_fill * w >= 0)


def _solution(
    problem: pulp.LpProblem, orders: Sequence[_Order], solver: SolverName
) -> tuple[str, list[int] | None]:
    """``optimal`` or ``feasible`` and every order's lots, or why there are none.

    Any solution the solver holds is used, proven optimal or not (a time limit
    or the gap may stop it first); :func:`verify` checks it exactly afterwards.
    """
    solution = read_solution(problem, [o.var for o in orders], solver)
    if solution.values is None:
        return ("no primal solution" if solver == "highs" else "no integer solution"), None
    lots = round_lots(solution.values)
    if lots is None:
        return "non-integral solution", None
    return ("optimal" if solution.status == "optimal" else "feasible"), lots


@dataclass(frozen=True, slots=True)
class _Outcome:
    participants: Sequence[Participant]
    contra: Sequence[ContraOrder]
    refs: Mapping[str, SymbolRef]
    orders: Sequence[_Order]
    lots: Sequence[int]
    status: str
    solve_ms: float


def _finish(outcome: _Outcome) -> AuctionResult:
    """Fills and prices from the solver's lots, verified exactly."""
    participants, contra, refs = outcome.participants, outcome.contra, outcome.refs
    orders, lots, status, solve_ms = outcome.orders, outcome.lots, outcome.status, outcome.solve_ms
    legs_of = {p.bundle.bundle_id: len(p.remaining) for p in participants}
    bundle_fills: dict[str, list[int]] = {}
    contra_fills: dict[str, int] = {}
    for order, n in zip(orders, lots, strict=True):
        if isinstance(order.key, tuple):
            bundle_id, index = order.key
            fills = bundle_fills.setdefault(bundle_id, [0] * legs_of[bundle_id])
            fills[index] = n * order.lot
        elif n:
            contra_fills[order.key] = n * order.lot
    traded = {order.symbol for order, n in zip(orders, lots, strict=True) if n}
    prices: dict[str, Fraction] = {}
    for symbol in sorted(traded):
        low = Fraction(refs[symbol].bid)
        high = Fraction(refs[symbol].offer)
        for order, n in zip(orders, lots, strict=True):
            if n and order.symbol == symbol:
                if order.side is Side.BUY:
                    high = min(high, order.limit)
                else:
                    low = max(low, order.limit)
        mid = refs[symbol].mid
        prices[symbol] = min(max(mid, low), high)
    result = AuctionResult(
        status="optimal" if status == "optimal" else "feasible",
        prices=prices,
        bundle_fills={b: tuple(f) for b, f in bundle_fills.items() if any(f)},
        contra_fills=contra_fills,
        solve_ms=solve_ms,
    )
    problems = verify(result, participants, contra, refs)
    if problems:
        return AuctionResult("unverified", solve_ms=solve_ms, detail="; ".join(problems))
    if not result.filled:
        return AuctionResult("no_trade", solve_ms=solve_ms)
    improvement = _improvement(result, participants, contra)
    return AuctionResult(
        result.status, prices, result.bundle_fills, contra_fills, improvement, solve_ms
    )


def _improvement(
    result: AuctionResult, participants: Sequence[Participant], contra: Sequence[ContraOrder]
) -> Fraction:
    total = Fraction(0)
    for participant in participants:
        fills = result.bundle_fills.get(participant.bundle.bundle_id)
        if not fills:
            continue
        for leg, qty in zip(participant.bundle.legs, fills, strict=True):
            price = result.prices[leg.symbol] if qty else Fraction(0)
            total += leg.side.sign * (Fraction(leg.limit_price) - price) * qty
    for order in contra:
        qty = result.contra_fills.get(order.order_id, 0)
        if qty:
            total += order.side.sign * (Fraction(order.limit) - result.prices[order.symbol]) * qty
    return total


def verify(
    result: AuctionResult,
    participants: Sequence[Participant],
    contra: Sequence[ContraOrder],
    refs: Mapping[str, SymbolRef],
) -> list[str]:
    """Every way ``result`` breaks the auction's rules, in exact arithmetic."""
    problems: list[str] = []
    net: dict[str, int] = {}

    def check_price(symbol: str, side: Side, limit: Fraction, what: str) -> None:
        price = result.prices.get(symbol)
        if price is None:
            problems.append(f"{what}: no clearing price for {symbol}")
            return
        ref = refs[symbol]
        if not Fraction(ref.bid) <= price <= Fraction(ref.offer):
            problems.append(f"{symbol}: price {price} outside [{ref.bid}, {ref.offer}]")
        if (side is Side.BUY and limit < price) or (side is Side.SELL and limit > price):
            problems.append(f"{what}: limit {limit} does not allow price {price}")

    for participant in participants:
        bundle = participant.bundle
        fills = result.bundle_fills.get(bundle.bundle_id)
        if fills is None:
            continue
        for leg, qty, left in zip(bundle.legs, fills, participant.remaining, strict=True):
            if qty < 0 or qty > left or qty % leg.lot_size:
                problems.append(
                    f"{bundle.bundle_id} {leg.symbol}: fill {qty} not whole lots "
                    f"within remaining {left}"
                )
            if qty:
                check_price(
                    leg.symbol,
                    leg.side,
                    Fraction(leg.limit_price),
                    f"{bundle.bundle_id} {leg.label}",
                )
                net[leg.symbol] = net.get(leg.symbol, 0) + leg.side.sign * qty
        for constraint in bundle.constraints:
            if not constraint.holds(fills):
                problems.append(f"{bundle.bundle_id}: constraint {constraint.name} fails")
        total = sum(fills)
        if bundle.min_total_fill and 0 < total < bundle.min_total_fill:
            problems.append(f"{bundle.bundle_id}: fill {total} below minimum")
    by_id = {o.order_id: o for o in contra}
    for order_id, qty in result.contra_fills.items():
        order = by_id[order_id]
        if qty < 0 or qty > order.qty or qty % order.lot_size:
            problems.append(f"contra {order_id}: fill {qty} not whole lots within {order.qty}")
        if qty:
            check_price(order.symbol, order.side, Fraction(order.limit), f"contra {order_id}")
            net[order.symbol] = net.get(order.symbol, 0) + order.side.sign * qty
    problems.extend(f"{symbol}: bought - sold = {qty}" for symbol, qty in net.items() if qty)
    return problems
