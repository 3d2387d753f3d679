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
decide which orders may fill. The default model (``formulation="ladder"``)
therefore has no price variable: per symbol, one binary per price threshold
that separates a buy from a sell it conflicts with (:mod:`gateway.venue.ladder`,
exact both ways), and its objective measures each limit from the symbol's mid
(the same value for every balanced fill, with coefficients of the size of the
spread). Bundles and contra orders that share no symbol, directly or through
others, are solved as separate MILPs (:mod:`gateway.venue.components`). The
model before issue 15 (``formulation="big_m"``) keeps one continuous price per
symbol, tied to an order's fill by a binary and big-M rows when its limit lies
inside the spread. In both, an order whose limit is through the far side can
fill at any price and one outside the spread never fills. After the solve,
each symbol's price is the point of its feasible interval closest to the
midpoint ("the midpoint when unconstrained"). docs/auction.md has the
measurements.

Why constraints apply to each auction's fill: the built-in strategies'
constraints are homogeneous (``Σ a·q (op) 0``), so if every auction's fill
satisfies them, so does every cumulative fill; each partial fill is itself a
hedge. A bundle's remaining quantities shrink as it fills.

Ties: a seeded, tiny per-lot priority is added to the objective, so equal
improvements are broken by a random order that the seed reproduces. The
priorities are drawn once over all the auction's orders, whatever the parts.

Every result is re-verified in exact arithmetic (:func:`verify`) before it is
returned as filled; a solver answer that fails, or none at all, fills nothing.

One bundle never fails the auction for all
------------------------------------------

Every resting bundle is part of one model, so a number one bundle brings in
could break the auction for every other. The objective counts each order's
limit in whole units of the auction's *price grid* (``1/S``, ``S`` the least
common multiple of every limit's denominator) times its lot. A limit of
``9.95000000000000000000000001`` made ``S = 10^26`` for the whole auction and
every objective coefficient about ``10^29``; HiGHS treats costs of ``10^20``
and more as infinite (``infinite_cost``), its presolve then declared every
auction infeasible, and nothing filled for anyone while that bundle rested
(15 decimals already push a 100,000-unit FX lot past ``10^20``; 14 leave
coefficients near ``10^19``, beyond exact doubles, and slow every solve).

So :func:`clear` first takes each bundle on its own (:func:`model_problem`;
building its orders and rows happens here too, and anything that raises counts
as a problem) and leaves out those the model cannot hold exactly and safely.
The bounds, from what the model needs:

* **Prices.** An order's objective coefficient, ``|limit| · S · lot``, is at
  most :data:`MAX_COST` (``10^12``): a whole number far below ``2^53``, so
  coefficients are exact doubles and improvements compare exactly before the
  tie-breaks, and far below HiGHS's infinite cost. Bundles are taken in book
  order; one whose limits would refine the grid so far that any order already
  in the auction passes the bound is left out of this auction only. (The venue
  screens limits onto each symbol's tick at arrival, so with its config
  validated its own bundles never are.)
* **Quantities.** At most :data:`MAX_LOTS` (100,000) lots per order. The price
  link ``q ≤ max_lots · z`` relies on the binary ``z``; HiGHS accepts a ``z``
  within ``10^-6`` of 0 as 0 (``mip_feasibility_tolerance``), which leaves room
  for ``max_lots · 10^-6 ≤ 0.1`` lot: no whole lot.
* **Constraint rows**, over lot counts and scaled to coprime integers
  (:func:`~gateway.solver.milp.scaled_rows`): coefficients at most
  :data:`MAX_ROW_COEFFICIENT` (``10^9``) and activity ``Σ |a_i| · max_lots_i
  + |b|`` at most :data:`MAX_ROW_ACTIVITY` (``2^53``, every activity an exact
  double). HiGHS refuses a matrix value of ``10^15`` or more (it drops the row
  and PuLP then fails reading the solution with an ``IndexError``), and rows
  of ``10^13``–``10^14`` were seen to make it answer "no trade" for books that
  trade. The shipped samples and the demo's random bundles reach ``1.2·10^7``
  (beta-neutral rows); up to the bound, tolerance effects are caught below.
* **The empty fill** must satisfy every constraint: a bundle that had to
  trade in every auction would make every auction without a partner for it
  infeasible.
* **MinTotalFill** is a switch ``total ≤ cap · w`` with ``cap`` the bundle's
  whole quantity; for the same tolerance reason ``cap`` is at most
  :data:`MAX_LOTS` of the bundle's smallest lot.

Such a bundle is reported in :attr:`AuctionResult.rejected` (the venue closes
it) and the auction clears the rest. Within the bounds, HiGHS's relative
tolerances can still accept a fill that misses a large-coefficient equality by
a few units; the exact verification catches it. When the failures it finds
name bundles (their constraints, lots, minimum or limits), the auction is
solved once more without those bundles, which are reported in
:attr:`AuctionResult.excluded` (they stay in the book); failures that name no
bundle leave the auction ``unverified`` as before.
"""

from __future__ import annotations

import abc
import dataclasses
import math
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Final, Literal

import pulp

from gateway.core.bundle import OrderBundle, Side
from gateway.core.fields import Fraction01, FrozenModel, PositiveInt
from gateway.solver.milp import (
    FastHiGHS,
    ScaledRow,
    SolverName,
    SolverSettings,
    read_solution,
    relative_gap,
    round_lots,
    row_constraint,
    scaled_rows,
)
from gateway.venue.components import components
from gateway.venue.ladder import eligibility, price_ladder

__all__ = [
    "AUCTION_HIGHS_OPTIONS",
    "MAX_COST",
    "MAX_LOTS",
    "MAX_ROW_ACTIVITY",
    "MAX_ROW_COEFFICIENT",
    "MIN_SOLVE_MS",
    "AuctionConfig",
    "AuctionResult",
    "ContraOrder",
    "Participant",
    "SymbolRef",
    "Unmodellable",
    "clear",
    "model_problem",
    "price_grid",
    "verify",
]

#: Largest objective coefficient of an order: ``|limit| · S · lot``, in units of the
#: auction's price grid ``1/S``.
MAX_COST: Final = 10**12
#: Most whole lots one order may fill.
MAX_LOTS: Final = 100_000
#: Largest integer coefficient of a bundle's constraint row over lot counts.
MAX_ROW_COEFFICIENT: Final = 10**9
#: Largest activity ``Σ |a_i| · max_lots_i + |b|`` of such a row.
MAX_ROW_ACTIVITY: Final = 2**53
#: The least solver time a part of a ``ladder`` auction gets, even past the time limit.
MIN_SOLVE_MS: Final = 5.0

#: HiGHS options for the ``ladder`` auction model, measured on bench/auction.py's books
#: (docs/auction.md): feasibility jump and the root reduced-cost heuristic found no
#: solution the others did not and cost time; presolve reduces nothing on this model.
#: RINS and RENS find the good solutions: without either, 100 bundles took 6-18 s.
AUCTION_HIGHS_OPTIONS: Final[Mapping[str, str | bool]] = MappingProxyType(
    {
        "presolve": "off",
        "mip_heuristic_run_feasibility_jump": False,
        "mip_heuristic_run_root_reduced_cost": False,
    }
)


class AuctionConfig(FrozenModel):
    """Clearing settings.

    Attributes:
        solver: ``highs`` (default) or ``cbc``.
        time_limit_ms: time limit per auction (default 80). With the ``ladder``
            formulation it counts from the start of :func:`clear`, building the
            model included (at least :data:`MIN_SOLVE_MS` is left for solving);
            with ``big_m`` it is the solver's limit alone.
        gap: relative optimality gap at which the solver may stop (default 0.001).
        formulation: ``ladder`` (default): price thresholds per symbol
            (:mod:`gateway.venue.ladder`), independent parts solved one by one
            (:mod:`gateway.venue.components`), HiGHS run with
            :data:`AUCTION_HIGHS_OPTIONS`. ``big_m``: the model before issue 15
            (one MILP; a continuous price per symbol, a binary and two big-M rows
            per order inside the spread; HiGHS defaults), kept for comparison
            (``bench/auction.py``). Both are exact; see ``docs/auction.md``.
    """

    solver: SolverName = "highs"
    time_limit_ms: PositiveInt = 80
    gap: Fraction01 = 0.001
    formulation: Literal["ladder", "big_m"] = "ladder"


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
    """One auction's outcome (fills are empty unless ``status`` is a solution).

    ``rejected`` holds the bundles the model cannot hold at all (see the module
    docstring), ``excluded`` those left out of this auction only; each with why.
    Neither took part; the others cleared without them.
    """

    status: Literal["optimal", "feasible", "no_solution", "no_trade", "unverified"]
    prices: Mapping[str, Fraction] = field(default_factory=dict)
    bundle_fills: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    contra_fills: Mapping[str, int] = field(default_factory=dict)
    improvement: Fraction = Fraction(0)
    solve_ms: float = 0.0
    detail: str = ""
    build_ms: float = 0.0
    gap: float | None = None  # relative MIP gap the solver reached (HiGHS), if known
    rejected: Mapping[str, str] = field(default_factory=dict)
    excluded: Mapping[str, str] = field(default_factory=dict)
    verify_ms: float = 0.0  # reading fills and prices and verifying them exactly
    parts: int = 1  # independent parts solved (``ladder``; 1 for ``big_m``)

    @property
    def filled(self) -> bool:
        return bool(self.bundle_fills or self.contra_fills)


@dataclass(frozen=True, slots=True)
class Unmodellable:
    """Why the clearing model cannot hold a bundle exactly and safely.

    Attributes:
        part: what is at fault: a leg's limit ``price`` or ``quantity``, a
            constraint's right-hand side (``rhs``) or its row as a whole
            (``row``), or the bundle's ``min_total_fill``.
        text: what is wrong with it, starting with the value at fault.
        leg: the leg at fault (its index), for ``price`` and ``quantity``.
        constraint: the constraint at fault (its index), for ``rhs`` and ``row``.
    """

    part: Literal["price", "quantity", "rhs", "row", "min_total_fill"]
    text: str
    leg: int | None = None
    constraint: int | None = None

    def describe(self, bundle: OrderBundle) -> str:
        """The problem in words, e.g. ``limit price of leg 1 (buy AAAA): 9.95... is ...``."""
        if self.leg is not None:
            leg = bundle.legs[self.leg]
            what = "limit price" if self.part == "price" else "quantity"
            return f"{what} of leg {self.leg + 1} ({leg.label}): {self.text}"
        if self.constraint is not None:
            name = bundle.constraints[self.constraint].name
            what = "right-hand side of constraint" if self.part == "rhs" else "constraint"
            return f"{what} {name}: {self.text}"
        return f"minimum total fill: {self.text}"


def price_grid(prices: Iterable[Decimal | Fraction]) -> int:
    """``S``: the least common multiple of the prices' denominators (1 for none);
    every one of them times ``S`` is a whole number."""
    return math.lcm(1, *(Fraction(p).denominator for p in prices))


def model_problem(bundle: OrderBundle, price_scale: int) -> Unmodellable | None:
    """The first reason the clearing model cannot hold ``bundle`` on the price grid
    ``1/price_scale`` (see the module docstring), or None.

    Checks the bundle alone at its full quantities: its limits on the grid and
    their objective coefficients, its lots per order, its constraint rows over lot
    counts, the empty fill, and its minimum total fill.
    """
    for index, leg in enumerate(bundle.legs):
        if leg.max_lots > MAX_LOTS:
            return Unmodellable(
                "quantity",
                f"{leg.max_qty} is {leg.max_lots} lots of {leg.lot_size}; at most {MAX_LOTS}",
                leg=index,
            )
        units = Fraction(leg.limit_price) * price_scale
        if units.denominator != 1:
            return Unmodellable(
                "price",
                f"{leg.limit_price:f} is not on the auction's price grid 1/{price_scale}",
                leg=index,
            )
        if abs(units) * leg.lot_size > MAX_COST:
            return Unmodellable(
                "price",
                f"{leg.limit_price:f} on the price grid 1/{price_scale} counts "
                f"{abs(units) * leg.lot_size} per lot of {leg.lot_size} in the auction's "
                f"objective; at most {MAX_COST}",
                leg=index,
            )
    for index, (constraint, row) in enumerate(
        zip(bundle.constraints, scaled_rows(bundle, bundle.constraints), strict=True)
    ):
        if not constraint.sense.holds(Fraction(0), Fraction(constraint.rhs)):
            return Unmodellable(
                "rhs",
                f"0 {constraint.sense.value} {constraint.rhs:f} excludes the empty fill, "
                "which every auction the bundle does not trade in needs",
                constraint=index,
            )
        largest = max((abs(a) for a in row.coefficients), default=0)
        if largest > MAX_ROW_COEFFICIENT:
            return Unmodellable(
                "row",
                f"over lot counts its coefficients scale to integers up to {largest}; "
                f"at most {MAX_ROW_COEFFICIENT}",
                constraint=index,
            )
        activity = sum(
            abs(a) * leg.max_lots for a, leg in zip(row.coefficients, bundle.legs, strict=True)
        ) + math.ceil(abs(Fraction(row.rhs)))
        if activity > MAX_ROW_ACTIVITY:
            return Unmodellable(
                "row",
                f"over lot counts its activity can reach {activity}; at most 2^53",
                constraint=index,
            )
    if bundle.min_total_fill:
        smallest = min(leg.lot_size for leg in bundle.legs)
        total = sum(leg.max_lots * leg.lot_size for leg in bundle.legs)
        if total > MAX_LOTS * smallest:
            return Unmodellable(
                "min_total_fill",
                f"{bundle.min_total_fill} needs the bundle's whole quantity within "
                f"{MAX_LOTS} lots of its smallest lot {smallest}; it is {total}",
            )
    return None


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
    priority: int = 0  # its seeded tie-break rank among all the auction's orders


@dataclass(frozen=True, slots=True)
class _Entry:
    """A bundle admitted to the auction: its orders (legs that can fill here) and
    its constraint rows, built before the model so that a failure is its own."""

    participant: Participant
    legs: Mapping[int, _Order]  # by leg index
    rows: tuple[ScaledRow, ...]
    grid: int
    top: Fraction  # its largest |limit| · lot

    @property
    def bundle_id(self) -> str:
        return self.participant.bundle.bundle_id


def _eligible(order: _Order, ref: SymbolRef) -> Literal["never", "always", "inside"]:
    return eligibility(order.side, order.limit, Fraction(ref.bid), Fraction(ref.offer))


def clear(
    participants: Sequence[Participant],
    contra: Sequence[ContraOrder],
    refs: Mapping[str, SymbolRef],
    config: AuctionConfig | None = None,
    *,
    seed: int = 0,
) -> AuctionResult:
    """Run one auction. Deterministic for the same inputs and seed.

    Bundles the model cannot hold, or whose fill failed exact verification, are
    left out (``rejected``, ``excluded``) and the others clear without them.
    """
    config = config or AuctionConfig()
    started = time.perf_counter()
    orders = _contra_orders(contra, refs)
    entries, rejected, excluded = _admit(participants, orders, refs)
    limit_s = config.time_limit_ms / 1000

    def clear_entries(
        admitted: list[_Entry], deadline: float
    ) -> tuple[AuctionResult, dict[str, str]]:
        return _clear_once(
            admitted,
            orders,
            contra,
            refs,
            config=config,
            seed=seed,
            started=started,
            deadline=deadline,
        )

    result, faults = clear_entries(entries, started + limit_s)
    if result.status == "unverified" and faults:
        # A tolerance effect of the solver on these bundles' rows: clear without them.
        for bundle_id, problems in faults.items():
            excluded[bundle_id] = f"the solver's fill failed exact verification: {problems}"
        entries = [e for e in entries if e.bundle_id not in faults]
        # The second solve gets its own limit.
        result, _ = clear_entries(entries, time.perf_counter() + limit_s)
    return dataclasses.replace(result, rejected=rejected, excluded=excluded)


def _contra_orders(contra: Sequence[ContraOrder], refs: Mapping[str, SymbolRef]) -> list[_Order]:
    orders = [
        _Order(
            item.order_id,
            item.symbol,
            item.side,
            Fraction(item.limit),
            item.lot_size,
            item.qty // item.lot_size,
        )
        for item in contra
        if item.symbol in refs and item.qty >= item.lot_size
    ]
    return [o for o in orders if _eligible(o, refs[o.symbol]) != "never"]


def _admit(
    participants: Sequence[Participant], contra: Sequence[_Order], refs: Mapping[str, SymbolRef]
) -> tuple[list[_Entry], dict[str, str], dict[str, str]]:
    """The bundles the auction takes, in book order; the rejected and the excluded,
    each with why (see the module docstring)."""
    base = price_grid(o.limit for o in contra)
    base_top = max((abs(o.limit) * o.lot for o in contra), default=Fraction(0))
    scale, top = base, base_top
    entries: list[_Entry] = []
    rejected: dict[str, str] = {}
    excluded: dict[str, str] = {}
    for participant in participants:
        bundle = participant.bundle
        try:
            own = math.lcm(base, price_grid(leg.limit_price for leg in bundle.legs))
            problem = model_problem(bundle, own)
            if problem is None and base_top * own > MAX_COST:
                finest = max(
                    range(len(bundle.legs)),
                    key=lambda i: Fraction(bundle.legs[i].limit_price).denominator,
                )
                problem = Unmodellable(
                    "price",
                    f"{bundle.legs[finest].limit_price:f} needs the price grid 1/{own}, "
                    f"on which the venue's own orders pass the objective bound {MAX_COST}",
                    leg=finest,
                )
            if problem is not None:
                rejected[bundle.bundle_id] = problem.describe(bundle)
                continue
            entry = _entry(participant, refs, own)
        except Exception as exc:  # whatever one bundle raises, the others still clear
            rejected[bundle.bundle_id] = f"cannot be modelled: {type(exc).__name__}: {exc}"
            continue
        joint = math.lcm(scale, entry.grid)
        if max(top, entry.top) * joint > MAX_COST:
            excluded[bundle.bundle_id] = (
                f"its price grid 1/{entry.grid} with the auction's 1/{scale} passes the "
                f"objective bound {MAX_COST}"
            )
            continue
        scale, top = joint, max(top, entry.top)
        entries.append(entry)
    return entries, rejected, excluded


def _entry(participant: Participant, refs: Mapping[str, SymbolRef], grid: int) -> _Entry:
    bundle = participant.bundle
    legs: dict[int, _Order] = {}
    for index, (leg, left) in enumerate(zip(bundle.legs, participant.remaining, strict=True)):
        if leg.symbol in refs and left >= leg.lot_size:
            order = _Order(
                (bundle.bundle_id, index),
                leg.symbol,
                leg.side,
                Fraction(leg.limit_price),
                leg.lot_size,
                left // leg.lot_size,
            )
            if _eligible(order, refs[leg.symbol]) != "never":
                legs[index] = order
    top = max(abs(Fraction(leg.limit_price)) * leg.lot_size for leg in bundle.legs)
    rows = tuple(scaled_rows(bundle, bundle.constraints))
    return _Entry(participant, legs, rows, grid, top)


def _clear_once(
    entries: Sequence[_Entry],
    contra_orders: Sequence[_Order],
    contra: Sequence[ContraOrder],
    refs: Mapping[str, SymbolRef],
    *,
    config: AuctionConfig,
    seed: int,
    started: float,
    deadline: float,
) -> tuple[AuctionResult, dict[str, str]]:
    """One solve over ``entries`` and the contra orders, verified; with the bundles
    the verification found at fault, if it failed. Times are reported from
    ``started``; the ``ladder`` solves stop by ``deadline`` (``perf_counter``)."""
    orders = [o for e in entries for o in e.legs.values()] + list(contra_orders)
    if not orders:
        return AuctionResult("no_trade", solve_ms=(time.perf_counter() - started) * 1000), {}
    # Tie-breaks: one seeded shuffle over every order of the auction, whatever the parts.
    priorities = list(range(len(orders)))
    random.Random(seed).shuffle(priorities)
    for order, priority in zip(orders, priorities, strict=True):
        order.priority = priority
    if config.formulation == "big_m":
        solved = _solve_big_m(entries, contra_orders, orders, refs, config)
    else:
        solved = _solve_parts(entries, contra_orders, orders, refs, config, deadline=deadline)
    solve_ms = (time.perf_counter() - started) * 1000
    build_ms = (solved.build_s + solved.admit_s) * 1000
    if solved.lots is None:
        result = AuctionResult(
            "no_solution",
            solve_ms=solve_ms,
            detail=solved.status,
            build_ms=build_ms,
            gap=solved.gap,
            parts=solved.parts,
        )
        return result, {}
    participants = [e.participant for e in entries]
    result, faults = _finish(
        _Outcome(participants, contra, refs, orders, solved.lots, solved.status, solve_ms)
    )
    if solved.detail and not result.detail:
        result = dataclasses.replace(result, detail=solved.detail)
    verify_ms = (time.perf_counter() - started) * 1000 - solve_ms
    return dataclasses.replace(
        result, build_ms=build_ms, gap=solved.gap, verify_ms=verify_ms, parts=solved.parts
    ), faults


@dataclass(slots=True)
class _Solved:
    """The solver's answer for a whole auction: every order's lots (in the auction's
    order list) or None, its status (``optimal``, ``feasible``, or why there are no
    lots), what went wrong in some part, the gap, and where the time went."""

    lots: list[int] | None
    status: str
    gap: float | None
    detail: str = ""
    parts: int = 1
    build_s: float = 0.0
    admit_s: float = 0.0


def _solve_big_m(
    entries: Sequence[_Entry],
    contra_orders: Sequence[_Order],
    orders: Sequence[_Order],
    refs: Mapping[str, SymbolRef],
    config: AuctionConfig,
) -> _Solved:
    """The model before issue 15: one MILP, HiGHS defaults, the time limit for the solver."""
    began = time.perf_counter()
    model = _BigMModel(entries, contra_orders, refs, ties=len(orders))
    model.build()
    build_s = time.perf_counter() - began
    # Unlike the small pre-solve models, auctions are large: HiGHS presolve stays on.
    settings = SolverSettings(solver=config.solver, gap_rel=config.gap)
    try:
        model.problem.solve(settings.make(config.time_limit_ms / 1000))
    except (pulp.PulpSolverError, ArithmeticError, LookupError, ValueError) as exc:
        # LookupError: PuLP reading back a model HiGHS refused part of.
        return _Solved(None, f"{type(exc).__name__}: {exc}", None, build_s=build_s)
    status, lots = _solution(model.problem, model.orders, config.solver)
    gap = relative_gap(model.problem, config.solver)
    if lots is None:
        return _Solved(None, status, gap, build_s=build_s)
    by_order = {id(o): n for o, n in zip(model.orders, lots, strict=True)}
    return _Solved([by_order[id(o)] for o in orders], status, gap, build_s=build_s)


def _solve_parts(
    entries: Sequence[_Entry],
    contra_orders: Sequence[_Order],
    orders: Sequence[_Order],
    refs: Mapping[str, SymbolRef],
    config: AuctionConfig,
    *,
    deadline: float,
) -> _Solved:
    """The ``ladder`` model, one MILP per independent part, smallest part first.

    Each part gets a share of the time left proportional to its number of orders
    (what a smaller part leaves unused goes to the larger ones). A part the solver
    fails on, or leaves without a solution, fills nothing: its empty fill is valid
    on its own. The auction has no solution only when no part has one.
    """
    began = time.perf_counter()
    traded = [e for e in entries if e.legs]  # a bundle with no order here fills nothing
    items: list[list[str]] = [[o.symbol for o in e.legs.values()] for e in traded]
    items += [[o.symbol] for o in contra_orders]
    parts = components(items)
    parts.sort(key=lambda part: (sum(_size(traded, contra_orders, i) for i in part), part[0]))
    left = sum(_size(traded, contra_orders, i) for part in parts for i in part)
    admit_s = time.perf_counter() - began
    build_s = 0.0
    lots: dict[int, int] = {}
    statuses: list[str] = []
    problems: list[str] = []
    value = bound = 0.0
    gap_known = config.solver == "highs"
    for part in parts:
        part_entries = [traded[i] for i in part if i < len(traded)]
        part_contra = [contra_orders[i - len(traded)] for i in part if i >= len(traded)]
        size = sum(_size(traded, contra_orders, i) for i in part)
        began = time.perf_counter()
        model = _LadderModel(part_entries, part_contra, refs, ties=len(orders))
        model.build()
        build_s += time.perf_counter() - began
        budget_ms = max((deadline - time.perf_counter()) * 1000 * size / left, MIN_SOLVE_MS)
        left -= size
        solved = _solve_part(model, config, budget_ms / 1000)
        if isinstance(solved, str):
            problems.append(f"part of {len(model.orders)} orders: {solved}")
            statuses.append("failed")
            gap_known = False
            continue
        status, part_lots, part_value, part_bound = solved
        statuses.append(status)
        if part_value is None or part_bound is None:
            gap_known = False
        else:
            value, bound = value + part_value, bound + part_bound
        if part_lots is None:
            problems.append(f"part of {len(model.orders)} orders: {status}")
            continue
        lots.update((id(o), n) for o, n in zip(model.orders, part_lots, strict=True))
    gap = _gap(value, bound) if gap_known else None
    detail = "; ".join(problems)
    if parts and not lots:
        return _Solved(None, detail, gap, parts=len(parts), build_s=build_s, admit_s=admit_s)
    status = "optimal" if all(s == "optimal" for s in statuses) else "feasible"
    return _Solved(
        [lots.get(id(o), 0) for o in orders],
        status,
        gap,
        detail,
        len(parts),
        build_s,
        admit_s,
    )


def _size(traded: Sequence[_Entry], contra: Sequence[_Order], index: int) -> int:
    """Orders of item ``index`` of a part: a bundle's legs, or one contra order."""
    return len(traded[index].legs) if index < len(traded) else 1


def _gap(value: float, bound: float) -> float:
    """Relative gap of a maximisation with objective ``value`` and dual ``bound``,
    as HiGHS reports it: 0 when they meet, infinite when only the empty fill is known."""
    if bound - value <= 0:
        return 0.0
    if value <= 0:
        return math.inf
    return (bound - value) / value


def _solve_part(
    model: _Model, config: AuctionConfig, time_limit_s: float
) -> str | tuple[str, list[int] | None, float | None, float | None]:
    """Solve one part: its status, lots (or None), objective value and dual bound
    (None when the solver does not say), or what went wrong."""
    if config.solver == "highs":
        solver: Any = FastHiGHS(
            msg=False,
            timeLimit=time_limit_s,
            gapRel=config.gap,
            threads=1,
            **AUCTION_HIGHS_OPTIONS,
        )
    else:
        solver = SolverSettings(solver="cbc", gap_rel=config.gap).make(time_limit_s)
    try:
        model.problem.solve(solver)
    except (pulp.PulpSolverError, ArithmeticError, LookupError, ValueError) as exc:
        # LookupError: PuLP reading back a model HiGHS refused part of.
        return f"{type(exc).__name__}: {exc}"
    status, lots = _solution(model.problem, model.orders, config.solver)
    if config.solver != "highs":
        return status, lots, None, None
    info = model.problem.solverModel.getInfo()
    # FastHiGHS minimises the negated objective.
    bound = -float(info.mip_dual_bound)
    value = -float(info.objective_function_value) if lots is not None else 0.0
    if not math.isfinite(bound):
        return status, lots, None, None
    return status, lots, value, bound


class _Model(abc.ABC):
    """The clearing MILP over admitted bundles and contra orders (one auction, or one
    independent part of it); the price rules are the subclass's."""

    def __init__(
        self,
        entries: Sequence[_Entry],
        contra: Sequence[_Order],
        refs: Mapping[str, SymbolRef],
        *,
        ties: int,
    ) -> None:
        self.entries = entries
        self.refs = refs
        self.ties = ties  # orders in the whole auction (the tie-break scale)
        self.orders = [o for e in entries for o in e.legs.values()] + list(contra)
        self.problem = pulp.LpProblem("auction", pulp.LpMaximize)

    def build(self) -> None:
        for number, order in enumerate(self.orders):
            order.var = self.problem.add_variable(
                f"q{number:06d}", 0, order.max_lots, cat=pulp.const.LpInteger
            )
        self._objective()
        by_symbol: dict[str, list[_Order]] = {}
        for order in self.orders:
            by_symbol.setdefault(order.symbol, []).append(order)
        for symbol in sorted(by_symbol):
            balance = [(o.var, o.lot if o.side is Side.BUY else -o.lot) for o in by_symbol[symbol]]
            self.problem.addConstraint(
                pulp.LpConstraint(
                    pulp.LpAffineExpression(balance),
                    sense=pulp.LpConstraintEQ,
                    rhs=0,
                    name=f"balance_{symbol}",
                )
            )
        self._prices(by_symbol)
        for entry in self.entries:
            self._bundle_rows(entry)

    @abc.abstractmethod
    def _prices(self, by_symbol: Mapping[str, Sequence[_Order]]) -> None:
        """Which orders may fill at the symbols' clearing prices (the formulation)."""

    def _objective(self) -> None:
        """Improvement Σ_buys limit·q − Σ_sells limit·q in integer units, plus tie-breaks."""
        # The admitted orders' grid: at most MAX_COST per lot (see _admit).
        scale = price_grid(o.limit for o in self.orders)
        # Each order's tie term is at most priority / (4 (n+1)^2) <= 1 / (4 (n+1)): all of
        # them together stay below one unit of improvement, so they only break ties.
        tie = 1.0 / (4 * (self.ties + 1) ** 2)
        shift = self._shifts(scale)
        terms = []
        for order in self.orders:
            units = int(order.limit * scale) - shift.get(order.symbol, 0)
            value = order.side.sign * units * order.lot
            terms.append((order.var, value + tie * order.priority / max(1, order.max_lots)))
        self.problem.setObjective(pulp.LpAffineExpression(terms))

    def _shifts(self, scale: int) -> Mapping[str, int]:
        """A whole number of grid units per symbol subtracted from each of its orders'
        limits in the objective (none here)."""
        return {}

    def _bundle_rows(self, entry: _Entry) -> None:
        # The same integer rows over lot counts as the pre-solver's; a leg with no
        # order in this auction (nothing left, or no reference market) fills 0.
        bundle, legs = entry.participant.bundle, entry.legs
        variables = [legs[i].var if i in legs else None for i in range(len(bundle.legs))]
        for c_index, row in enumerate(entry.rows):
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


class _LadderModel(_Model):
    """Prices as threshold binaries per symbol (:mod:`gateway.venue.ladder`), and the
    objective measured from each symbol's mid."""

    def _shifts(self, scale: int) -> Mapping[str, int]:
        """The mid of each symbol on the grid (rounded down): by the balance rows
        ``Σ_buys lot·n = Σ_sells lot·n``, subtracting the same amount from every
        limit of a symbol changes the objective of every feasible fill by exactly 0,
        and leaves coefficients of the size of the spread instead of the price
        (HiGHS warned of "excessively large costs" at ~10^6)."""
        return {s: math.floor(self.refs[s].mid * scale) for s in {o.symbol for o in self.orders}}

    def _prices(self, by_symbol: Mapping[str, Sequence[_Order]]) -> None:
        for symbol in sorted(by_symbol):
            orders = by_symbol[symbol]
            ref = self.refs[symbol]
            ladder = price_ladder(
                [(o.side, o.limit) for o in orders], Fraction(ref.bid), Fraction(ref.offer)
            )
            steps = [
                self.problem.add_variable(f"v_{symbol}_{k:04d}", 0, 1, cat=pulp.const.LpBinary)
                for k in range(len(ladder.thresholds))
            ]
            for k in range(1, len(steps)):
                self.problem.addConstraint(steps[k] - steps[k - 1] <= 0, name=f"up_{symbol}_{k}")
            for order, link in zip(orders, ladder.links, strict=True):
                if link is None:
                    continue
                step = steps[link.step]
                if link.when_reached:  # a sell: q <= cap * v
                    self.problem.addConstraint(order.var - order.max_lots * step <= 0)
                else:  # a buy: q <= cap * (1 - v)
                    self.problem.addConstraint(order.var + order.max_lots * step <= order.max_lots)


class _BigMModel(_Model):
    """The model before issue 15: a continuous price per symbol and, per order inside
    the spread, a binary and two big-M rows."""

    def _prices(self, by_symbol: Mapping[str, Sequence[_Order]]) -> None:
        prices = {
            s: self.problem.add_variable(
                f"p_{s}", float(self.refs[s].bid), float(self.refs[s].offer)
            )
            for s in sorted(by_symbol)
        }
        for number, order in enumerate(self.orders):
            if _eligible(order, self.refs[order.symbol]) == "inside":
                self._price_link(number, order, prices[order.symbol])

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


def _finish(outcome: _Outcome) -> tuple[AuctionResult, dict[str, str]]:
    """Fills and prices from the solver's lots, verified exactly; when the
    verification fails, also the bundles it found at fault, each with its problems."""
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
    by_bundle, others = _problems(result, participants, contra, refs)
    if by_bundle or others:
        detail = "; ".join([p for found in by_bundle.values() for p in found] + others)
        faults = {b: "; ".join(found) for b, found in by_bundle.items()}
        return AuctionResult("unverified", solve_ms=solve_ms, detail=detail), faults
    if not result.filled:
        return AuctionResult("no_trade", solve_ms=solve_ms), {}
    improvement = _improvement(result, participants, contra)
    return AuctionResult(
        result.status, prices, result.bundle_fills, contra_fills, improvement, solve_ms
    ), {}


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
    by_bundle, others = _problems(result, participants, contra, refs)
    return [p for found in by_bundle.values() for p in found] + others


def _problems(
    result: AuctionResult,
    participants: Sequence[Participant],
    contra: Sequence[ContraOrder],
    refs: Mapping[str, SymbolRef],
) -> tuple[dict[str, list[str]], list[str]]:
    """:func:`verify`'s problems: those of each bundle (its lots, limits, constraints
    or minimum), and the others (contra orders, reference prices, balances)."""
    by_bundle: dict[str, list[str]] = {}
    others: list[str] = []
    net: dict[str, int] = {}

    def check_price(symbol: str, side: Side, limit: Fraction, what: str, out: list[str]) -> None:
        price = result.prices.get(symbol)
        if price is None:
            out.append(f"{what}: no clearing price for {symbol}")
            return
        ref = refs[symbol]
        if not Fraction(ref.bid) <= price <= Fraction(ref.offer):
            others.append(f"{symbol}: price {price} outside [{ref.bid}, {ref.offer}]")
        if (side is Side.BUY and limit < price) or (side is Side.SELL and limit > price):
            out.append(f"{what}: limit {limit} does not allow price {price}")

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
                    leg.symbol,
                    leg.side,
                    Fraction(leg.limit_price),
                    f"{bundle.bundle_id} {leg.label}",
                    found,
                )
                net[leg.symbol] = net.get(leg.symbol, 0) + leg.side.sign * qty
        for constraint in bundle.constraints:
            if not constraint.holds(fills):
                found.append(f"{bundle.bundle_id}: constraint {constraint.name} fails")
        total = sum(fills)
        if bundle.min_total_fill and 0 < total < bundle.min_total_fill:
            found.append(f"{bundle.bundle_id}: fill {total} below minimum")
        if found:
            by_bundle[bundle.bundle_id] = found
    by_id = {o.order_id: o for o in contra}
    for order_id, qty in result.contra_fills.items():
        order = by_id[order_id]
        if qty < 0 or qty > order.qty or qty % order.lot_size:
            others.append(f"contra {order_id}: fill {qty} not whole lots within {order.qty}")
        if qty:
            check_price(
                order.symbol, order.side, Fraction(order.limit), f"contra {order_id}", others
            )
            net[order.symbol] = net.get(order.symbol, 0) + order.side.sign * qty
    others.extend(f"{symbol}: bought - sold = {qty}" for symbol, qty in net.items() if qty)
    return by_bundle, others
