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
others, are solved as separate MILPs (:mod:`gateway.venue.components`), each
written as arrays and handed to HiGHS through highspy (or, selectable, through
PuLP: ``AuctionConfig.interface``); a book of more than
``AuctionConfig.batch_bundles`` bundles clears in batches in book order, with
its gap stated against a bound of the whole (:func:`_solve_batches`). The
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

Self-trade prevention: on a symbol whose :class:`SymbolRef` has it (the
default), the bundles of one owner (:attr:`Participant.owner`, when known) fill
on one side only in an auction, all buying or all selling, never both; a
binary per owner and symbol, in both formulations, and checked by
:func:`verify`. Contra orders have no owner.

Price constraints: a bundle's :class:`~gateway.core.bundle.PriceConstraint`
rows (``Σ a_s · P_s (<=|==|>=) b``, a pair's spread limit) hold exactly at the
auction's clearing prices whenever the bundle fills (:class:`_Model`). Each
symbol they name gets an integer price variable on the auction's price grid
(its offset from the low end of its interval, in steps), tied to the fills of
its inside orders by whole-number big-M rows; each such bundle a fill indicator
and copies of those variables equal to them while it fills, with its rows over
the copies in coprime integers (:class:`_PriceRow`, :func:`_on_box`). The
reported prices are the solver's, moved toward the mids as far as every filled
bundle's constraints allow (:func:`_settle`), and :func:`verify` checks each
filled bundle's constraints at them. docs/auction.md has the rows and why they
are exact.

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
* **Price constraints.** Each row over the clearing prices, scaled to coprime
  integers ``A_s``, has ``Σ |A_s|`` at most :data:`MAX_PRICE_ROW` (``10^5``), and
  every reference a price constraint names spans at most :data:`MAX_PRICE_STEPS`
  (``10^5``) steps of the price grid (the auction's, refined by the references
  and the price constraints' right-hand sides). HiGHS accepts a variable within
  ``10^-6`` of a whole number (and a row within ``10^-6``): the row over the
  copies is then off by at most ``(Σ |A_s| + 1) · 10^-6 ≤ 0.1``, each tie of a
  copy or of a limit to a price variable (coefficients up to the width) by at
  most ``0.1`` step, so the rounded answer satisfies every row in whole numbers
  exactly. A symbol named with no reference market, coefficients past the bound
  or a reference too wide on the bundle's own grid reject the bundle; a grid
  refined by a later bundle past the bound leaves that bundle out of the auction.

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
import functools
import math
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Final, Literal

import highspy
import numpy as np
import pulp

from gateway.core.bundle import OrderBundle, PriceConstraint, Sense, Side
from gateway.core.fields import Fraction01, FrozenModel, PositiveInt
from gateway.solver.milp import (
    INTEGRALITY_TOL,
    FastHiGHS,
    ScaledRow,
    SolverName,
    SolverSettings,
    read_solution,
    round_lots,
    scaled_rows,
)
from gateway.venue.components import components
from gateway.venue.ladder import price_ladder

__all__ = [
    "AUCTION_HIGHS_OPTIONS",
    "MAX_COST",
    "MAX_LOTS",
    "MAX_PRICE_ROW",
    "MAX_PRICE_STEPS",
    "MAX_ROW_ACTIVITY",
    "MAX_ROW_COEFFICIENT",
    "MIN_SOLVE_MS",
    "PRICE_HIGHS_OPTIONS",
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
#: Largest ``Σ_s |A_s|`` of a price constraint's row over clearing prices, in coprime
#: integers ``A_s`` (see the module docstring).
MAX_PRICE_ROW: Final = 100_000
#: Most steps of the auction's price grid that the reference ``[bid, offer]`` of a
#: symbol a price constraint names may span.
MAX_PRICE_STEPS: Final = 100_000
#: The longest search for a grid point of a bundle's price constraints (several rows,
#: or an equality over several prices) that no row's extremes decide.
_POINT_SEARCH_S: Final = 0.05
#: The least solver time a part of a ``ladder`` auction gets, even past the time limit.
MIN_SOLVE_MS: Final = 5.0
_INF: Final = math.inf
#: The smallest batch of a large auction (see AuctionConfig.batch_bundles).
_MIN_BATCH: Final = 50

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
#: HiGHS options for a ``ladder`` part that holds price constraints (it has price
#: variables): HiGHS's defaults. On four books built as bench/auction.py's (its seed
#: and the next three) of 100 bundles and 20 pairs with a spread limit (``--pairs``)
#: they reached the 1e-3 gap in 1.1, 2.3 and 6.2 s (the fourth: 0.9% at the 20 s
#: limit), :data:`AUCTION_HIGHS_OPTIONS` in 12.5, 1.2 and 15.7 s (19.4 s). Parts
#: without price constraints keep those.
PRICE_HIGHS_OPTIONS: Final[Mapping[str, str | bool]] = MappingProxyType({})


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
        interface: how the ``ladder`` model reaches HiGHS: ``highspy`` (default),
            its arrays passed to HiGHS's own Python API in a few calls; or
            ``pulp``, the same arrays as a PuLP problem solved by PuLP's HiGHS
            interface (the product's standard path; the same search, 12 ms more
            to build at 100 bundles, 0.44 s at 5,000: ``docs/auction.md``). CBC,
            and the ``big_m`` formulation, always go through PuLP.
        batch_bundles: a ``ladder`` auction of more bundles clears them in batches
            of at most this many, in book order, each with what the earlier ones
            left (default 1000; docs/auction.md): a verified fill within the time
            limit when one MILP over the whole book cannot even solve its LP
            relaxation in time, with the gap stated against a bound of the whole.
    """

    solver: SolverName = "highs"
    time_limit_ms: PositiveInt = 80
    gap: Fraction01 = 0.001
    formulation: Literal["ladder", "big_m"] = "ladder"
    interface: Literal["highspy", "pulp"] = "highspy"
    batch_bundles: PositiveInt = 1000


@dataclass(frozen=True, slots=True)
class SymbolRef:
    """Reference market for a symbol: the clearing price stays within [bid, offer].

    ``self_trade_prevention`` (default on): in one auction, the bundles of one
    owner (:attr:`Participant.owner`, when not empty) fill on one side of this
    symbol only, buying or selling, never both.
    """

    bid: Decimal
    offer: Decimal
    self_trade_prevention: bool = True

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
    """A resting bundle with the quantity each leg may still fill.

    ``owner`` names the client the bundle belongs to, for self-trade prevention
    (:attr:`SymbolRef.self_trade_prevention`); empty (the default) means unknown,
    and such a bundle is never prevented from trading with anyone.
    """

    bundle: OrderBundle
    remaining: tuple[int, ...]
    owner: str = ""


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
            (``row``), the bundle's ``min_total_fill``, or a price constraint's
            coefficients (``price_term``), its right-hand side (``price_rhs``) or the
            reference market of a symbol it names (``price_symbol``).
        text: what is wrong with it, starting with the value at fault.
        leg: the leg at fault (its index), for ``price`` and ``quantity``.
        constraint: the constraint at fault (its index), for ``rhs`` and ``row``.
        price_constraint: the price constraint at fault (its index), for
            ``price_term``, ``price_rhs`` and ``price_symbol``.
    """

    part: Literal[
        "price",
        "quantity",
        "rhs",
        "row",
        "min_total_fill",
        "price_term",
        "price_rhs",
        "price_symbol",
    ]
    text: str
    leg: int | None = None
    constraint: int | None = None
    price_constraint: int | None = None

    def describe(self, bundle: OrderBundle) -> str:
        """The problem in words, e.g. ``limit price of leg 1 (buy AAAA): 9.95... is ...``."""
        if self.price_constraint is not None:
            name = bundle.price_constraints[self.price_constraint].name
            return f"price constraint {name}: {self.text}"
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
    return math.lcm(1, *(p.as_integer_ratio()[1] for p in prices))


def model_problem(
    bundle: OrderBundle, price_scale: int, refs: Mapping[str, SymbolRef] | None = None
) -> Unmodellable | None:
    """The first reason the clearing model cannot hold ``bundle`` on the price grid
    ``1/price_scale`` (see the module docstring), or None.

    Checks the bundle alone at its full quantities: its limits on the grid and
    their objective coefficients, its lots per order, its constraint rows over lot
    counts, the empty fill, its minimum total fill, and its price constraints'
    rows over clearing prices (their coefficients; with ``refs``, the reference
    markets of the symbols they name, on the grid refined by every reference's
    bid and offer, as the auction's is).
    """
    limits = [leg.limit_price.as_integer_ratio() for leg in bundle.legs]
    return _model_problem(
        bundle,
        price_scale,
        limits,
        scaled_rows(bundle, bundle.constraints),
        price_rows=_price_rows(bundle),
        spreads=None if refs is None else _Spreads(refs),
    )


def _model_problem(
    bundle: OrderBundle,
    price_scale: int,
    limits: Sequence[tuple[int, int]],
    rows: Sequence[ScaledRow],
    *,
    price_rows: Sequence[_PriceRow] = (),
    spreads: _Spreads | None = None,
) -> Unmodellable | None:
    """:func:`model_problem` with the legs' limits as reduced ``(numerator,
    denominator)`` pairs and the bundle's rows already scaled (in integers only)."""
    for index, (leg, (numerator, denominator)) in enumerate(zip(bundle.legs, limits, strict=True)):
        if leg.max_lots > MAX_LOTS:
            return Unmodellable(
                "quantity",
                f"{leg.max_qty} is {leg.max_lots} lots of {leg.lot_size}; at most {MAX_LOTS}",
                leg=index,
            )
        if price_scale % denominator:
            return Unmodellable(
                "price",
                f"{leg.limit_price:f} is not on the auction's price grid 1/{price_scale}",
                leg=index,
            )
        cost = abs(numerator) * (price_scale // denominator) * leg.lot_size
        if cost > MAX_COST:
            return Unmodellable(
                "price",
                f"{leg.limit_price:f} on the price grid 1/{price_scale} counts "
                f"{cost} per lot of {leg.lot_size} in the auction's "
                f"objective; at most {MAX_COST}",
                leg=index,
            )
    for index, (constraint, row) in enumerate(zip(bundle.constraints, rows, strict=True)):
        rhs = constraint.integer_rhs  # the sign of the right-hand side
        sense = constraint.sense
        if rhs < 0 if sense is Sense.LE else rhs > 0 if sense is Sense.GE else rhs != 0:
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
        ) + (abs(row.rhs) if isinstance(row.rhs, int) else math.ceil(abs(row.rhs)))
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
    return _price_problem(price_rows, price_scale, spreads)


def _price_problem(
    price_rows: Sequence[_PriceRow], price_scale: int, spreads: _Spreads | None
) -> Unmodellable | None:
    """Why the model cannot hold one of a bundle's price constraints exactly: its
    coefficients in coprime integers sum to more than :data:`MAX_PRICE_ROW` in
    magnitude; or (with ``spreads``) a symbol it names has no reference market, or
    one wider than :data:`MAX_PRICE_STEPS` steps of the price grid (``price_scale``
    refined by every reference), or wider than that once the right-hand sides refine
    the grid further (:attr:`_PriceRow.grid`)."""
    widest = Fraction(0)
    grid = 1 if spreads is None else math.lcm(price_scale, spreads.grid)
    for index, row in enumerate(price_rows):
        size = sum(abs(a) for a in row.coefficients)
        if size > MAX_PRICE_ROW:
            return Unmodellable(
                "price_term",
                f"over the clearing prices its coefficients scale to the coprime integers "
                f"{', '.join(map(str, row.coefficients))}, {size} in magnitude together; "
                f"at most {MAX_PRICE_ROW}",
                price_constraint=index,
            )
        if spreads is None:
            continue
        for symbol in row.symbols:
            if symbol not in spreads.bounds:
                return Unmodellable(
                    "price_symbol",
                    f"{symbol} has no reference market, so no clearing price",
                    price_constraint=index,
                )
            low, high = spreads.bounds[symbol]
            steps = (high - low) * grid
            if steps > MAX_PRICE_STEPS:
                return Unmodellable(
                    "price_symbol",
                    f"the reference [{_text(low)}, {_text(high)}] of {symbol} spans {steps} "
                    f"steps of the price grid 1/{grid}; at most {MAX_PRICE_STEPS}",
                    price_constraint=index,
                )
            widest = max(widest, high - low)
    if spreads is not None:
        for index, row in enumerate(price_rows):
            finer = math.lcm(grid, row.grid)
            if widest * finer > MAX_PRICE_STEPS:
                return Unmodellable(
                    "price_rhs",
                    f"{_text(row.original)} puts the clearing prices on the grid 1/{finer}, "
                    f"where a reference its bundle's price constraints name spans "
                    f"{widest * finer} steps; at most {MAX_PRICE_STEPS}",
                    price_constraint=index,
                )
            grid = finer
    return None


def _text(price: Fraction) -> str:
    """A price on a decimal grid as its decimal text (e.g. ``9.95``)."""
    value = Decimal(price.numerator) / Decimal(price.denominator)
    return f"{value.normalize():f}"


@dataclass(frozen=True, slots=True)
class _PriceRow:
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


def _price_row(price: PriceConstraint) -> _PriceRow:
    terms = [(symbol, a.as_integer_ratio()) for symbol, a in price.terms if a]
    rhs = Fraction(price.rhs)
    if not terms:
        return _PriceRow((), (), price.sense, rhs, rhs)
    lcd = math.lcm(*(d for _, (_, d) in terms))
    scaled = [n * (lcd // d) for _, (n, d) in terms]
    divisor = math.gcd(*scaled)
    return _PriceRow(
        tuple(symbol for symbol, _ in terms),
        tuple(a // divisor for a in scaled),
        price.sense,
        rhs * lcd / divisor,
        rhs,
    )


def _price_rows(bundle: OrderBundle) -> tuple[_PriceRow, ...]:
    return tuple(_price_row(price) for price in bundle.price_constraints)


@dataclass(frozen=True, slots=True)
class _BoxRow:
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


def _on_box(row: _PriceRow, scale: int, box: Mapping[str, tuple[int, int]]) -> _BoxRow:
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
    return _BoxRow(row.symbols, row.coefficients, lower, upper, holds)


@functools.lru_cache(maxsize=4096)
def _integer_point(rows: tuple[_BoxRow, ...], sizes: tuple[tuple[str, int], ...]) -> bool:
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
    matrix = _Matrix()
    for symbol in symbols:
        matrix.column(widths[symbol])
    for row in rows:
        matrix.row(
            [(column[s], a) for s, a in zip(row.symbols, row.coefficients, strict=True)],
            -_INF if row.lower is None else row.lower,
            _INF if row.upper is None else row.upper,
        )
    h: Any = highspy.Highs()  # type: ignore[no-untyped-call]  # highspy leaves it unannotated
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("time_limit", _POINT_SEARCH_S)
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


@dataclass(slots=True)
class _Order:
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
class _Entry:
    """A bundle admitted to the auction: its orders (legs that can fill here) and
    its constraint rows, built before the model so that a failure is its own."""

    participant: Participant
    legs: Mapping[int, _Order]  # by leg index
    rows: tuple[ScaledRow, ...]
    grid: int
    top: Fraction  # its largest |limit| · lot
    price_rows: tuple[_PriceRow, ...] = ()  # its price constraints, in integers
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


class _Spreads:
    """Each symbol's reference bid and offer as Fractions, converted once per auction."""

    def __init__(
        self,
        refs: Mapping[str, SymbolRef],
        bounds: Mapping[str, tuple[Fraction, Fraction]] | None = None,
    ) -> None:
        self.refs = refs
        # A batch of a large auction narrows them to where the earlier batches' fills
        # leave the price (see _solve_batches).
        self.bounds = (
            dict(bounds)
            if bounds is not None
            else {s: (Fraction(r.bid), Fraction(r.offer)) for s, r in refs.items()}
        )
        # Every reference's bid and offer is on the grid 1/grid: the auction's price grid
        # is refined by it, so that each price interval's ends are whole grid steps.
        self.grid = price_grid(p for r in refs.values() for p in (r.bid, r.offer))

    def eligible(self, order: _Order) -> Literal["never", "always", "inside"]:
        """:func:`~gateway.venue.ladder.eligibility` of the order, in integers: ``a/b
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
    Self-trade prevention applies per symbol as its :class:`SymbolRef` says, to
    the participants' :attr:`~Participant.owner`.
    """
    config = config or AuctionConfig()
    started = time.perf_counter()
    spreads = _Spreads(refs)
    orders = _contra_orders(contra, spreads)
    entries, rejected, excluded = _admit(participants, orders, spreads)
    admit_s = time.perf_counter() - started
    limit_s = config.time_limit_ms / 1000

    def clear_entries(
        admitted: list[_Entry], deadline: float
    ) -> tuple[AuctionResult, dict[str, str]]:
        return _clear_once(
            admitted,
            orders,
            contra,
            spreads,
            config=config,
            seed=seed,
            started=started,
            deadline=deadline,
            admit_s=admit_s,
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


def _contra_orders(contra: Sequence[ContraOrder], spreads: _Spreads) -> list[_Order]:
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
        if item.symbol in spreads.refs and item.qty >= item.lot_size
    ]
    return [o for o in orders if spreads.eligible(o) != "never"]


def _admit(
    participants: Sequence[Participant], contra: Sequence[_Order], spreads: _Spreads
) -> tuple[list[_Entry], dict[str, str], dict[str, str]]:
    """The bundles the auction takes, in book order; the rejected and the excluded,
    each with why (see the module docstring)."""
    base = price_grid(o.limit for o in contra)
    base_top = max((abs(o.limit) * o.lot for o in contra), default=Fraction(0))
    scale, top = base, base_top
    width = Fraction(0)  # the widest reference a price constraint of the admitted names
    rhs_grid = 1  # the grid of the admitted price constraints' right-hand sides
    entries: list[_Entry] = []
    rejected: dict[str, str] = {}
    excluded: dict[str, str] = {}
    for participant in participants:
        bundle = participant.bundle
        try:
            limits = [leg.limit_price.as_integer_ratio() for leg in bundle.legs]
            own = math.lcm(base, *(d for _, d in limits))
            rows = scaled_rows(bundle, bundle.constraints)
            price_rows = _price_rows(bundle)
            problem = _model_problem(
                bundle, own, limits, rows, price_rows=price_rows, spreads=spreads
            )
            if problem is None and base_top * own > MAX_COST:
                finest = max(range(len(bundle.legs)), key=lambda i: limits[i][1])
                problem = Unmodellable(
                    "price",
                    f"{bundle.legs[finest].limit_price:f} needs the price grid 1/{own}, "
                    f"on which the venue's own orders pass the objective bound {MAX_COST}",
                    leg=finest,
                )
            if problem is not None:
                rejected[bundle.bundle_id] = problem.describe(bundle)
                continue
            entry = _entry(participant, spreads, own, limits, rows, price_rows=price_rows)
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
        wide, finer = max(width, entry.width), math.lcm(rhs_grid, entry.price_grid)
        if wide and wide * math.lcm(joint, spreads.grid, finer) > MAX_PRICE_STEPS:
            excluded[bundle.bundle_id] = (
                f"its price grid 1/{math.lcm(entry.grid, entry.price_grid)} with the "
                f"auction's 1/{math.lcm(scale, rhs_grid)} makes a reference that a price "
                f"constraint names span more than {MAX_PRICE_STEPS} steps"
            )
            continue
        scale, top, width, rhs_grid = joint, max(top, entry.top), wide, finer
        entries.append(entry)
    return entries, rejected, excluded


def _entry(
    participant: Participant,
    spreads: _Spreads,
    grid: int,
    limits: Sequence[tuple[int, int]],
    rows: Sequence[ScaledRow],
    *,
    price_rows: Sequence[_PriceRow] = (),
) -> _Entry:
    bundle = participant.bundle
    legs: dict[int, _Order] = {}
    for index, (leg, left, (numerator, denominator)) in enumerate(
        zip(bundle.legs, participant.remaining, limits, strict=True)
    ):
        if leg.symbol in spreads.refs and left >= leg.lot_size:
            order = _Order(
                (bundle.bundle_id, index),
                leg.symbol,
                leg.side,
                Fraction(numerator, denominator),
                leg.lot_size,
                left // leg.lot_size,
                participant.owner,
            )
            if spreads.eligible(order) != "never":
                legs[index] = order
    # The largest |limit| · lot, compared in integers (a/b > c/d when a·d > c·b).
    top_n, top_d = 0, 1
    for leg, (n, d) in zip(bundle.legs, limits, strict=True):
        if abs(n) * leg.lot_size * top_d > top_n * d:
            top_n, top_d = abs(n) * leg.lot_size, d
    top = Fraction(top_n, top_d)
    width = Fraction(0)
    for row in price_rows:
        for symbol in row.symbols:
            low, high = spreads.bounds[symbol]  # admitted: each has a reference
            width = max(width, high - low)
    return _Entry(participant, legs, tuple(rows), grid, top, tuple(price_rows), width)


@dataclass(frozen=True, slots=True)
class _Units:
    """The auction's objective units, the same in every part and batch: its price grid
    ``1/grid`` (over all its orders; at most MAX_COST per lot, see _admit) and its
    number of orders (the tie-break scale); and the grid ``1/prices`` of the price
    variables that price constraints need (``grid`` refined by every reference's bid
    and offer, so that each price interval's ends are whole steps of it, and by the
    price constraints' right-hand sides: :class:`_PriceRow`)."""

    grid: int
    ties: int
    prices: int = 1

    def cost(self, order: _Order, shift: int = 0) -> float:
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
class _Context:
    """What every solve of one auction shares: all its orders (in the order the
    answer lists lots), the reference markets, the settings and the units."""

    orders: Sequence[_Order]
    spreads: _Spreads
    config: AuctionConfig
    units: _Units


def _clear_once(
    entries: Sequence[_Entry],
    contra_orders: Sequence[_Order],
    contra: Sequence[ContraOrder],
    spreads: _Spreads,
    *,
    config: AuctionConfig,
    seed: int,
    started: float,
    deadline: float,
    admit_s: float,
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
    grid = price_grid(o.limit for o in orders)
    prices = math.lcm(grid, spreads.grid, *(e.price_grid for e in entries if e.price_rows))
    context = _Context(orders, spreads, config, _Units(grid, len(orders), prices))
    if config.formulation == "big_m":
        solved = _solve_big_m(entries, contra_orders, context)
    else:
        solved = _solve_parts(entries, contra_orders, context, deadline=deadline)
    solve_ms = (time.perf_counter() - started) * 1000
    build_ms = (solved.build_s + admit_s) * 1000
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
        _Outcome(
            participants,
            contra,
            spreads,
            orders,
            solved.lots,
            solved.status,
            solve_ms,
            solved.prices,
            context.units.prices,
        )
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
    lots), what went wrong in some part, the gap, the time spent building, and the
    solver's prices of the symbols that price constraints name (on the grid)."""

    lots: list[int] | None
    status: str
    gap: float | None
    detail: str = ""
    parts: int = 1
    build_s: float = 0.0
    prices: Mapping[str, Fraction] = field(default_factory=dict)


def _solve_big_m(
    entries: Sequence[_Entry], contra_orders: Sequence[_Order], context: _Context
) -> _Solved:
    """The model before issue 15: one MILP through PuLP, HiGHS defaults, the time
    limit for the solver alone."""
    orders, config = context.orders, context.config
    began = time.perf_counter()
    model = _BigMModel(entries, contra_orders, context.spreads, context.units)
    model.build()
    build_s = time.perf_counter() - began
    # Unlike the small pre-solve models, auctions are large: HiGHS presolve stays on.
    settings = SolverSettings(solver=config.solver, gap_rel=config.gap)
    run = _run_pulp(model, settings.make(config.time_limit_ms / 1000), config.solver)
    if isinstance(run, str):
        return _Solved(None, run, None, build_s=build_s)
    build_s += run.build_s
    gap = None if run.value is None or run.bound is None else _gap(run.value, run.bound)
    if run.lots is None:
        return _Solved(None, run.status, gap, build_s=build_s)
    by_order = {id(o): n for o, n in zip(model.orders, run.lots, strict=True)}
    return _Solved(
        [by_order[id(o)] for o in orders], run.status, gap, build_s=build_s, prices=run.prices
    )


def _solve_parts(
    entries: Sequence[_Entry],
    contra_orders: Sequence[_Order],
    context: _Context,
    *,
    deadline: float,
) -> _Solved:
    """The ``ladder`` model: independent parts solved one by one, and an auction of
    more than ``config.batch_bundles`` bundles in batches (:func:`_solve_batches`).

    A part the solver fails on, or leaves without a solution, fills nothing: its
    empty fill is valid on its own. The auction has no solution only when no part
    has one.
    """
    traded = [e for e in entries if e.legs]  # a bundle with no order here fills nothing
    if len(traded) > context.config.batch_bundles:
        return _solve_batches(traded, contra_orders, context, deadline=deadline)
    answer = _Answer(context.config.solver == "highs")
    answer.solve(traded, contra_orders, context.spreads, context, deadline=deadline)
    gap = _gap(answer.value, answer.bound) if answer.gap_known else None
    return answer.solved(context.orders, gap)


class _Answer:
    """The solver's answer for the parts solved so far: each order's lots (by the
    order's identity), each part's status, what went wrong, the sum of the parts'
    objectives and dual bounds, and the time spent building and passing models."""

    def __init__(self, gap_known: bool) -> None:
        self.lots: dict[int, int] = {}
        self.prices: dict[str, Fraction] = {}  # the solver's, where price constraints need them
        self.statuses: list[str] = []
        self.problems: list[str] = []
        self.value = 0.0
        self.bound = 0.0
        self.gap_known = gap_known  # until a part's bound is unknown
        self.parts = 0
        self.build_s = 0.0

    def solve(
        self,
        traded: Sequence[_Entry],
        contra_orders: Sequence[_Order],
        spreads: _Spreads,
        context: _Context,
        *,
        deadline: float,
        first_solution: bool = False,
        binding: Sequence[_PriceRow] = (),
    ) -> None:
        """One MILP per independent part of ``traded`` and ``contra_orders``, smallest
        part first. Each part gets a share of the time left proportional to its
        number of orders (what a smaller part leaves unused goes to the larger ones).

        A bundle's item is the symbols of its orders and of its price constraints (a
        price constraint ties its symbols' prices together); ``binding`` are price rows
        that must hold whatever fills (those of bundles an earlier batch filled), each
        an item of its own symbols."""
        began = time.perf_counter()
        items: list[list[str]] = [
            [o.symbol for o in e.legs.values()] + e.price_symbols for e in traded
        ]
        items += [[o.symbol] for o in contra_orders]
        items += [list(row.symbols) for row in binding]
        first_row = len(traded) + len(contra_orders)
        parts = components(items)
        parts.sort(key=lambda part: (sum(_size(traded, contra_orders, i) for i in part), part[0]))
        left = sum(_size(traded, contra_orders, i) for part in parts for i in part)
        self.parts += len(parts)
        self.build_s += time.perf_counter() - began
        for part in parts:
            part_entries = [traded[i] for i in part if i < len(traded)]
            part_contra = [
                contra_orders[i - len(traded)] for i in part if len(traded) <= i < first_row
            ]
            part_rows = [binding[i - first_row] for i in part if i >= first_row]
            size = sum(_size(traded, contra_orders, i) for i in part)
            began = time.perf_counter()
            model = _LadderModel(part_entries, part_contra, spreads, context.units, part_rows)
            model.build()
            self.build_s += time.perf_counter() - began
            budget_ms = max((deadline - time.perf_counter()) * 1000 * size / left, MIN_SOLVE_MS)
            left -= size
            run = _solve_part(model, context.config, budget_ms / 1000, first_solution)
            if isinstance(run, str):
                self.problems.append(f"part of {len(model.orders)} orders: {run}")
                self.statuses.append("failed")
                self.gap_known = False
                continue
            self.build_s += run.build_s
            self.statuses.append(run.status)
            if run.value is None or run.bound is None:
                self.gap_known = False
            else:
                self.value += run.value
                self.bound += run.bound
            if run.lots is None:
                self.problems.append(f"part of {len(model.orders)} orders: {run.status}")
                continue
            self.lots.update((id(o), n) for o, n in zip(model.orders, run.lots, strict=True))
            self.prices.update(run.prices)

    def solved(self, orders: Sequence[_Order], gap: float | None) -> _Solved:
        """The whole auction's answer, over its order list."""
        detail = "; ".join(self.problems)
        if self.parts and not self.lots:
            return _Solved(None, detail, gap, parts=self.parts, build_s=self.build_s)
        status = "optimal" if all(s == "optimal" for s in self.statuses) else "feasible"
        lots = [self.lots.get(id(o), 0) for o in orders]
        return _Solved(lots, status, gap, detail, self.parts, self.build_s, self.prices)


def _solve_batches(
    traded: Sequence[_Entry],
    contra_orders: Sequence[_Order],
    context: _Context,
    *,
    deadline: float,
) -> _Solved:
    """A large auction: its bundles in batches, in book order, each cleared (in
    independent parts) with what the earlier ones left, in an equal share of the
    time left, HiGHS stopping at its first solution worth more than nothing
    (:func:`_run_highs`).

    The first batch has ``config.batch_bundles`` bundles, the next ones twice as
    many: fewer, larger batches trade more with each other, and the first, smaller
    one makes sure something fills early. A batch that finds only the empty fill
    in its time, though it could trade, is tried again, and the rest cleared, in
    batches half as large (at least 50). The sizes, and so the fills, depend on
    the seed alone unless a batch runs out of time.

    What the earlier batches filled stays: each batch gets the contra orders'
    remaining quantities; its prices may only move within the interval that every
    earlier fill allows (each symbol's reference narrowed to it), so one price per
    symbol still allows every fill of the auction; the price constraints of every
    bundle an earlier batch filled hold in every later batch as rows of their own
    (``binding``), so the prices a later batch chooses still satisfy them; and an
    owner who has filled one side of a symbol with self-trade prevention cannot
    fill the other side in a later batch (:class:`_Carried`). The union of the
    batches' fills is then a fill of the whole auction, verified as one
    (:func:`verify`). Bundles of different batches do not trade with each other,
    so it is never proven optimal: the gap is stated against a bound of the whole
    auction (:func:`_mid_bound`).
    """
    spreads, units = context.spreads, context.units
    began = time.perf_counter()
    bound = _mid_bound(traded, contra_orders, spreads, units)
    answer = _Answer(gap_known=False)  # the parts' bounds are the batches', not the auction's
    answer.build_s += time.perf_counter() - began
    size = context.config.batch_bundles
    queue = list(traded)  # book order; a batch that found no solution goes back in front
    carried = _Carried(dict(spreads.bounds), {id(o): o.max_lots for o in contra_orders})
    batches: list[int] = []  # the size of each batch cleared
    while queue and deadline - time.perf_counter() > MIN_SOLVE_MS / 1000:
        batch, narrowed = queue[:size], _Spreads(spreads.refs, carried.bounds)
        batch_entries = [_narrowed(e, narrowed, carried.sides) for e in batch]
        copies = carried.contra(contra_orders, narrowed)
        share = (deadline - time.perf_counter()) / -(-len(queue) // size)
        step = _Answer(gap_known=True)
        step.solve(
            [e for e in batch_entries if e.legs],
            [copy for copy, _ in copies],
            narrowed,
            context,
            deadline=time.perf_counter() + share,
            first_solution=True,
            binding=carried.binding,
        )
        answer.build_s += step.build_s
        answer.parts += step.parts
        could_trade = not step.gap_known or step.bound > 0
        if size > _MIN_BATCH and not any(step.lots.values()) and could_trade:
            # Only the empty fill in time (the LP relaxation alone can take it), though
            # the batch could trade: this batch again, and the rest, in smaller ones.
            size = max(size // 2, _MIN_BATCH)
            continue
        batches.append(len(batch))
        del queue[: len(batch)]
        if len(batches) == 1 and size == context.config.batch_bundles:
            # Then batches twice as large: fewer, larger batches trade more with each
            # other; the first, smaller one makes sure something fills early.
            size *= 2
        answer.statuses.append("feasible")
        answer.prices.update(step.prices)  # a part that failed keeps the earlier prices
        carried.keep(batch_entries, copies, step, answer, spreads.refs)
    answer.problems.append(
        f"{len(traded)} bundles in {len(batches)} batches of {', '.join(map(str, batches))}"
        + (f"; {len(queue)} not reached in time" if queue else "")
    )
    value = sum(
        units.cost(o, units.mid(spreads.refs[o.symbol])) * n
        for o, n in _filled(context.orders, answer)
    )
    gap = None if bound is None else _gap(value, bound)
    return answer.solved(context.orders, gap)


@dataclass(slots=True)
class _Carried:
    """What a large auction's earlier batches leave the later ones: each symbol's price
    interval that every fill so far allows, each contra order's lots left (by its
    identity), the side each owner has filled of a symbol with self-trade prevention,
    and the price rows of every bundle filled so far (they must hold in every later
    batch, whatever it fills)."""

    bounds: dict[str, tuple[Fraction, Fraction]]
    contra_left: dict[int, int]
    sides: dict[tuple[str, str], Side] = field(default_factory=dict)
    binding: list[_PriceRow] = field(default_factory=list)

    def contra(
        self, contra_orders: Sequence[_Order], narrowed: _Spreads
    ) -> list[tuple[_Order, _Order]]:
        """The contra orders with lots left that can fill in the narrowed reference, as
        ``(this batch's copy, the order)``."""
        copies = []
        for order in contra_orders:
            if self.contra_left[id(order)]:
                copy = dataclasses.replace(order, max_lots=self.contra_left[id(order)])
                if narrowed.eligible(copy) != "never":
                    copies.append((copy, order))
        return copies

    def keep(
        self,
        batch_entries: Sequence[_Entry],
        copies: Sequence[tuple[_Order, _Order]],
        step: _Answer,
        answer: _Answer,
        refs: Mapping[str, SymbolRef],
    ) -> None:
        """Add a cleared batch's fills (``step``) to the auction's ``answer`` and to what
        the later batches get."""
        for entry in batch_entries:
            filled = False
            for order in entry.legs.values():
                n = answer.lots[id(order)] = step.lots.get(id(order), 0)
                if n:
                    filled = True
                    _narrow(self.bounds, order)
                    if order.owner and refs[order.symbol].self_trade_prevention:
                        self.sides[order.symbol, order.owner] = order.side
            if filled:
                self.binding.extend(row for row in entry.price_rows if row.symbols)
        for copy, order in copies:
            n = step.lots.get(id(copy), 0)
            answer.lots[id(order)] = answer.lots.get(id(order), 0) + n
            if n:
                self.contra_left[id(order)] -= n
                _narrow(self.bounds, order)


def _filled(orders: Sequence[_Order], answer: _Answer) -> list[tuple[_Order, int]]:
    """The orders ``answer`` fills, with their lots."""
    return [(o, answer.lots[id(o)]) for o in orders if answer.lots.get(id(o))]


def _narrowed(entry: _Entry, spreads: _Spreads, sides: Mapping[tuple[str, str], Side]) -> _Entry:
    """``entry`` with only the legs that can still fill in a later batch: eligible in
    the narrowed reference, and on the side its owner has filled so far, if any, on
    a symbol with self-trade prevention. A leg left out fills 0 (its bundle's rows
    then hold without it, as for a leg with nothing left)."""
    legs = {
        index: order
        for index, order in entry.legs.items()
        if spreads.eligible(order) != "never"
        and sides.get((order.symbol, order.owner), order.side) is order.side
    }
    return entry if len(legs) == len(entry.legs) else dataclasses.replace(entry, legs=legs)


def _narrow(bounds: dict[str, tuple[Fraction, Fraction]], order: _Order) -> None:
    """Narrow the order's symbol's price interval to where its fill is allowed."""
    low, high = bounds[order.symbol]
    if order.side is Side.BUY:
        bounds[order.symbol] = (low, min(high, order.limit))
    else:
        bounds[order.symbol] = (max(low, order.limit), high)


def _mid_bound(
    traded: Sequence[_Entry], contra_orders: Sequence[_Order], spreads: _Spreads, units: _Units
) -> float | None:
    """An upper bound on the auction's objective (measured from the mids, as the
    ``ladder`` model's): its Lagrangian relaxation with every symbol's balance row
    priced at the mid, without the price rules, self-trade prevention, minimum
    fills or integrality. With the balance rows gone, each bundle and contra order
    is on its own: a contra order fills all of it when its limit improves on the
    mid; the bundles' best fractional fills are one LP with a block per bundle. Every
    fill of the auction is one of these and is worth the same in both (its balance
    rows hold), so the bound is valid; on a thick book the mid is nearly the balance
    rows' dual price and the bound is within ~0.03% of the LP relaxation's
    (bench/auction.py, 5,000 bundles). None if HiGHS does not solve the LP."""
    shifts = {s: units.mid(r) for s, r in spreads.refs.items()}
    bound = sum(max(0.0, units.cost(o, shifts[o.symbol])) * o.max_lots for o in contra_orders)
    block = _Matrix()
    for entry in traded:
        columns = {}
        for index, order in entry.legs.items():
            columns[index] = block.column(order.max_lots, integer=False)
            block.cost[columns[index]] = units.cost(order, shifts[order.symbol])
        for row in entry.rows:
            terms = [(columns[i], a) for i, a in enumerate(row.coefficients) if a and i in columns]
            if terms:
                rhs = float(row.rhs)
                lower = rhs if row.sense is not Sense.LE else -_INF
                upper = rhs if row.sense is not Sense.GE else _INF
                block.row(terms, lower, upper)
    h: Any = highspy.Highs()  # type: ignore[no-untyped-call]  # highspy leaves it unannotated
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("presolve", "off")
    if block.to_highs(h) is not None:
        return None
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return bound - float(h.getInfo().objective_function_value)  # of the negated objective


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


@dataclass(frozen=True, slots=True)
class _Run:
    """One solver run on one model: ``optimal`` or ``feasible`` and every order's
    lots, or why there are none; the objective of those lots and the solver's
    dual bound, when it says (HiGHS does, CBC through PuLP does not)."""

    status: str
    lots: list[int] | None
    value: float | None
    bound: float | None
    build_s: float = 0.0  # passing the model to the solver (building the PuLP problem)
    prices: Mapping[str, Fraction] = field(default_factory=dict)  # Model.witness


def _solve_part(
    model: _Model, config: AuctionConfig, time_limit_s: float, first_solution: bool = False
) -> _Run | str:
    """Solve one part of a ``ladder`` auction: its run, or what went wrong. With
    ``first_solution`` (highspy only), stop at the first fill worth more than nothing."""
    if config.solver == "cbc":
        settings = SolverSettings(solver="cbc", gap_rel=config.gap)
        return _run_pulp(model, settings.make(time_limit_s), "cbc")
    if config.interface == "pulp":
        solver = FastHiGHS(
            msg=False,
            timeLimit=time_limit_s,
            gapRel=config.gap,
            threads=1,
            **_options(model),
        )
        return _run_pulp(model, solver, "highs")
    return _run_highs(
        model, time_limit_s=time_limit_s, gap=config.gap, first_solution=first_solution
    )


class _Matrix:
    """A MILP as plain arrays: maximise ``Σ cost·x`` over columns with bounds (integer
    unless added as continuous) subject to rows ``lower ≤ Σ a·x ≤ upper``, stored
    row by row. The formulations write into it; :func:`_run_highs` hands it to
    HiGHS in a few array calls and :meth:`to_pulp` turns it into a PuLP problem."""

    def __init__(self) -> None:
        self.cost: list[float] = []
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.continuous: list[int] = []
        self.row_lower: list[float] = []
        self.row_upper: list[float] = []
        self.starts: list[int] = []
        self.index: list[int] = []
        self.value: list[float] = []

    def column(self, upper: float, *, lower: float = 0.0, integer: bool = True) -> int:
        """A new column with cost 0; its index."""
        number = len(self.cost)
        self.cost.append(0.0)
        self.lower.append(lower)
        self.upper.append(upper)
        if not integer:
            self.continuous.append(number)
        return number

    def row(self, terms: Iterable[tuple[int, float]], lower: float, upper: float) -> None:
        """A new row ``lower ≤ Σ a·x ≤ upper`` over ``(column, a)`` terms (zeros left out)."""
        self.starts.append(len(self.index))
        for column, coefficient in terms:
            if coefficient:
                self.index.append(column)
                self.value.append(coefficient)
        self.row_lower.append(lower)
        self.row_upper.append(upper)

    def to_highs(self, h: Any) -> str | None:
        """Pass the model to the HiGHS instance ``h`` as the minimisation of the
        negated objective; what it refused, or None.

        HiGHS refuses values it counts as infinite (a matrix value of 10^15 or
        more) and leaves them out: solving the rest would answer another model.
        """
        count = len(self.cost)
        none = np.empty(0, np.int32)
        # HiGHS minimises the negated objective, as through PuLP (FastHiGHS): the
        # same model in the same sense, so both interfaces take the same search path.
        status = h.addCols(
            count,
            -np.array(self.cost),
            np.array(self.lower),
            np.array(self.upper),
            0,
            none,
            none,
            np.empty(0),
        )
        if status == highspy.HighsStatus.kError:
            return "HiGHS refused the model's columns (a value out of its range)"
        integer = np.ones(count, bool)
        integer[self.continuous] = False
        columns = np.flatnonzero(integer).astype(np.int32)
        if len(columns):
            h.changeColsIntegrality(
                len(columns), columns, np.full(len(columns), highspy.HighsVarType.kInteger)
            )
        if self.starts:
            status = h.addRows(
                len(self.starts),
                np.array(self.row_lower),
                np.array(self.row_upper),
                len(self.index),
                np.array(self.starts, np.int32),
                np.array(self.index, np.int32),
                np.array(self.value, float),
            )
            if status == highspy.HighsStatus.kError:
                return "HiGHS refused the model's rows (a value out of its range)"
        return None

    def to_pulp(self) -> tuple[pulp.LpProblem, list[pulp.LpVariable]]:
        """The same model as a PuLP problem, and its variables by column."""
        problem = pulp.LpProblem("auction", pulp.LpMaximize)
        continuous = set(self.continuous)
        variables = [
            problem.add_variable(
                f"x{number:07d}",
                lower,
                upper,
                cat=pulp.const.LpContinuous if number in continuous else pulp.const.LpInteger,
            )
            for number, (lower, upper) in enumerate(zip(self.lower, self.upper, strict=True))
        ]
        problem.setObjective(
            pulp.LpAffineExpression([(variables[c], a) for c, a in enumerate(self.cost) if a])
        )
        ends = [*self.starts[1:], len(self.index)]
        for number, (start, end) in enumerate(zip(self.starts, ends, strict=True)):
            expression = pulp.LpAffineExpression(
                [(variables[self.index[k]], self.value[k]) for k in range(start, end)]
            )
            lower, upper = self.row_lower[number], self.row_upper[number]
            if lower == upper:
                sense, rhs = pulp.LpConstraintEQ, lower
            elif math.isinf(lower):
                sense, rhs = pulp.LpConstraintLE, upper
            else:
                sense, rhs = pulp.LpConstraintGE, lower
            problem.addConstraint(
                pulp.LpConstraint(expression, sense=sense, rhs=rhs, name=f"r{number:07d}")
            )
        return problem, variables


def _run_highs(
    model: _Model, *, time_limit_s: float, gap: float, first_solution: bool = False
) -> _Run | str:
    """Solve ``model`` with HiGHS through highspy (:func:`_options`).

    With ``first_solution``, a callback interrupts HiGHS at its first check after it
    holds a solution worth more than the empty fill: on a large model that is its
    randomized rounding of the root LP, right after the LP. Without it HiGHS goes on
    to its cut rounds, and after five of them waits for its analytic centre (an
    interior-point solve of the whole model that its time limit does not stop: it
    took 0.5-3.4 s on a batch of 1,000 bundles on this machine).
    """
    h: Any = highspy.Highs()  # type: ignore[no-untyped-call]  # highspy leaves it unannotated
    began = time.perf_counter()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("mip_rel_gap", gap)
    for name, option in _options(model).items():
        h.setOptionValue(name, option)
    refused = model.matrix.to_highs(h)
    if refused:
        return refused
    build_s = time.perf_counter() - began
    h.setOptionValue("time_limit", max(time_limit_s - build_s, 0.001))
    if first_solution:
        h.cbMipInterrupt.subscribe(_stop_at_first_solution)
    h.run()
    return dataclasses.replace(_highs_run(h, model), build_s=build_s)


def _options(model: _Model) -> Mapping[str, str | bool]:
    """The HiGHS options for ``model``: :data:`PRICE_HIGHS_OPTIONS` when it holds price
    constraints, :data:`AUCTION_HIGHS_OPTIONS` otherwise."""
    return PRICE_HIGHS_OPTIONS if model.price_cols else AUCTION_HIGHS_OPTIONS


def _stop_at_first_solution(event: Any) -> None:
    """HiGHS's MIP interrupt callback: stop once the incumbent is worth more than 0
    (its objective, the negated improvement, below 0)."""
    if -_INF < event.data_out.mip_primal_bound < 0:
        event.interrupt()


def _highs_run(h: Any, model: _Model) -> _Run:
    """What the HiGHS instance ``h`` that just ran on ``model`` concluded."""
    model_status = h.getModelStatus()
    info = h.getInfo()
    lots = None
    prices: Mapping[str, Fraction] = {}
    if info.primal_solution_status == 2:  # kSolutionStatusFeasible
        values = h.getSolution().col_value
        lots = round_lots([values[o.col] for o in model.orders])
        if lots is None:
            return _Run("non-integral solution", None, None, None)
        prices = model.witness(values)
    kinds = highspy.HighsModelStatus
    if model_status == kinds.kOptimal:
        status = "optimal"
    elif lots is not None:  # any solution HiGHS holds; verify() checks it exactly
        status = "feasible"
    elif model_status in (
        kinds.kTimeLimit,
        kinds.kInterrupt,
        kinds.kIterationLimit,
        kinds.kSolutionLimit,
    ):
        status = "no primal solution"
    else:
        return _Run(f"HiGHS model status {h.modelStatusToString(model_status)}", None, None, None)
    bound = -float(info.mip_dual_bound)  # it minimised the negated objective
    value = -float(info.objective_function_value) if lots is not None else 0.0
    if not math.isfinite(bound):
        return _Run(status, lots, None, None, prices=prices)
    return _Run(status, lots, value, bound, prices=prices)


def _run_pulp(model: _Model, solver: Any, name: SolverName) -> _Run | str:
    """Solve ``model`` as a PuLP problem with ``solver`` (PuLP's HiGHS or CBC)."""
    began = time.perf_counter()
    problem, variables = model.matrix.to_pulp()
    build_s = time.perf_counter() - began
    try:
        problem.solve(solver)
    except (pulp.PulpSolverError, ArithmeticError, LookupError, ValueError) as exc:
        # LookupError: PuLP reading back a model HiGHS refused part of.
        return f"{type(exc).__name__}: {exc}"
    solution = read_solution(problem, [variables[o.col] for o in model.orders], name)
    prices: Mapping[str, Fraction] = {}
    if solution.values is None:
        status = "no primal solution" if name == "highs" else "no integer solution"
        lots = None
    else:
        lots = round_lots(solution.values)
        if lots is None:
            return _Run("non-integral solution", None, None, None, build_s)
        status = "optimal" if solution.status == "optimal" else "feasible"
        prices = model.witness({c: variables[c].value() for c in model.price_cols.values()})
    if name != "highs":
        return _Run(status, lots, None, None, build_s, prices)
    info = problem.solverModel.getInfo()
    # FastHiGHS minimises the negated objective.
    bound = -float(info.mip_dual_bound)
    value = -float(info.objective_function_value) if lots is not None else 0.0
    if not math.isfinite(bound):
        return _Run(status, lots, None, None, build_s, prices)
    return _Run(status, lots, value, bound, build_s, prices)


class _Model(abc.ABC):
    """The clearing MILP over admitted bundles and contra orders (one auction, or one
    independent part of it), written into a :class:`_Matrix`; the price rules are
    the subclass's.

    Price constraints: each symbol a bundle's price constraint names gets an integer
    price variable ``u_s`` (``price_cols``), its price's offset from the low end of its
    interval on the price grid (:class:`_BoxRow`), which the formulation ties to the
    symbol's fills; each such bundle a fill indicator and copies of those variables
    that equal them while it fills (:meth:`_price_system`). ``binding`` are price rows
    that hold whatever fills (an earlier batch's filled bundles')."""

    def __init__(
        self,
        entries: Sequence[_Entry],
        contra: Sequence[_Order],
        spreads: _Spreads,
        units: _Units,
        binding: Sequence[_PriceRow] = (),
    ) -> None:
        self.entries = entries
        self.spreads = spreads
        self.refs = spreads.refs
        self.units = units
        self.binding = binding
        self.orders = [o for e in entries for o in e.legs.values()] + list(contra)
        self.matrix = _Matrix()
        self.price_cols: dict[str, int] = {}  # symbol -> its price variable's column
        self.box: dict[str, tuple[int, int]] = {}  # symbol -> (low end, width) in grid steps
        # entry index -> its price rows that bind on some grid prices only, or None when
        # they hold at no grid prices of the box (it cannot fill here)
        self.systems: dict[int, tuple[_BoxRow, ...] | None] = {}

    def build(self) -> None:
        matrix = self.matrix
        for order in self.orders:
            order.col = matrix.column(order.max_lots)
        self._objective()
        by_symbol: dict[str, list[_Order]] = {}
        for order in self.orders:
            by_symbol.setdefault(order.symbol, []).append(order)
        for symbol in sorted(by_symbol):
            matrix.row(
                ((o.col, o.lot if o.side is Side.BUY else -o.lot) for o in by_symbol[symbol]),
                0.0,
                0.0,
            )
        binding = self._price_columns()
        self._prices(by_symbol)
        self._self_trade(by_symbol)
        for index, entry in enumerate(self.entries):
            self._bundle_rows(index, entry)
        for row in binding:
            matrix.row(
                [
                    (self.price_cols[s], a)
                    for s, a in zip(row.symbols, row.coefficients, strict=True)
                ],
                -_INF if row.lower is None else row.lower,
                _INF if row.upper is None else row.upper,
            )

    @abc.abstractmethod
    def _prices(self, by_symbol: Mapping[str, Sequence[_Order]]) -> None:
        """Which orders may fill at the symbols' clearing prices (the formulation); for a
        symbol in ``price_cols``, also ties its price variable to those fills."""

    def _steps(self, symbol: str) -> tuple[int, int]:
        """The symbol's price interval on the price grid: its low end and its width, in
        whole steps (both ends are on the grid: see :class:`_Units`)."""
        found = self.box.get(symbol)
        if found is None:
            low, high = self.spreads.bounds[symbol]
            scale = self.units.prices
            found = self.box[symbol] = (int(low * scale), int((high - low) * scale))
        return found

    def _price_columns(self) -> list[_BoxRow]:
        """Each bundle's price rows over the box of prices (:func:`_on_box`) into
        ``systems``, and a price variable per symbol that one of them, or a binding
        row, still needs; the binding rows that need writing."""
        scale, needed = self.units.prices, set[str]()
        for index, entry in enumerate(self.entries):
            if not entry.price_rows or not entry.legs:
                continue
            for symbol in entry.price_symbols:
                self._steps(symbol)
            rows = [_on_box(row, scale, self.box) for row in entry.price_rows]
            if any(row.holds == "never" for row in rows):
                self.systems[index] = None
                continue
            some = tuple(row for row in rows if row.holds == "some")
            if not some:
                continue  # they hold at every price the box allows
            # One inequality holds at a corner of the box; an equality over one price at
            # a grid point (its coefficient is ±1). Otherwise, look for a point.
            decided = len(some) == 1 and (
                some[0].lower != some[0].upper or len(some[0].symbols) == 1
            )
            sizes = tuple(sorted({(s, self.box[s][1]) for row in some for s in row.symbols}))
            if not decided and not _integer_point(some, sizes):
                self.systems[index] = None
                continue
            self.systems[index] = some
            needed.update(s for row in some for s in row.symbols)
        binding: list[_BoxRow] = []
        for price_row in self.binding:
            for symbol in price_row.symbols:
                self._steps(symbol)
            row = _on_box(price_row, scale, self.box)
            # "never" only if an earlier batch's prices failed exactness; left out, the
            # union's exact verification then decides.
            if row.holds == "some":
                binding.append(row)
                needed.update(row.symbols)
        for symbol in sorted(needed):
            self.price_cols[symbol] = self.matrix.column(self.box[symbol][1])
        return binding

    def witness(self, values: Sequence[float] | Mapping[int, float | None]) -> dict[str, Fraction]:
        """The solver's prices of the symbols in ``price_cols``, from the solution's
        column ``values``: each on the grid, or none at all if one is not within
        :data:`~gateway.solver.milp.INTEGRALITY_TOL` of a whole step."""
        prices: dict[str, Fraction] = {}
        for symbol, column in self.price_cols.items():
            value = values[column]
            if value is None or not math.isfinite(value):
                return {}
            steps = round(value)
            if abs(value - steps) > INTEGRALITY_TOL:
                return {}
            prices[symbol] = Fraction(self.box[symbol][0] + steps, self.units.prices)
        return prices

    def _grid_link(self, order: _Order) -> None:
        """An inside order of a symbol with a price variable ``u`` (the price's offset in
        grid steps, in ``[0, width]``): a binary ``z`` lets it fill (``n ≤ max_lots·z``),
        and then the price must be on its side of its limit, at offset ``l``: a buy
        ``u ≤ l + (width − l)·(1 − z)``, a sell ``u ≥ l·z``. Whole numbers up to the
        width, in both formulations."""
        matrix = self.matrix
        low, width = self._steps(order.symbol)
        limit = int(order.limit * self.units.prices) - low
        price = self.price_cols[order.symbol]
        z = matrix.column(1)
        matrix.row([(order.col, 1), (z, -order.max_lots)], -_INF, 0.0)
        if order.side is Side.BUY:
            matrix.row([(price, 1), (z, width - limit)], -_INF, width)
        else:
            matrix.row([(price, 1), (z, -limit)], 0.0, _INF)

    def _objective(self) -> None:
        """Improvement Σ_buys limit·q − Σ_sells limit·q in integer units of the
        auction's grid, plus tie-breaks (:meth:`_Units.cost`)."""
        shift = self._shifts()
        cost = self.matrix.cost
        for order in self.orders:
            cost[order.col] = self.units.cost(order, shift.get(order.symbol, 0))

    def _shifts(self) -> Mapping[str, int]:
        """A whole number of grid units per symbol subtracted from each of its orders'
        limits in the objective (none here)."""
        return {}

    def _self_trade(self, by_symbol: Mapping[str, Sequence[_Order]]) -> None:
        """Self-trade prevention: on a symbol that has it, the orders of one owner fill
        on one side only. A binary ``z`` per owner with orders on both sides: its buys
        may fill while ``z = 1`` (``q ≤ cap · z``), its sells while ``z = 0``
        (``q ≤ cap · (1 − z)``)."""
        matrix = self.matrix
        for symbol in sorted(by_symbol):
            if not self.refs[symbol].self_trade_prevention:
                continue
            sides: dict[str, tuple[list[_Order], list[_Order]]] = {}
            for order in by_symbol[symbol]:
                if order.owner:
                    sides.setdefault(order.owner, ([], []))[order.side is Side.SELL].append(order)
            for owner in sorted(sides):
                buys, sells = sides[owner]
                if not (buys and sells):
                    continue
                z = matrix.column(1)
                for order in buys:
                    matrix.row([(order.col, 1), (z, -order.max_lots)], -_INF, 0.0)
                for order in sells:
                    matrix.row([(order.col, 1), (z, order.max_lots)], -_INF, order.max_lots)

    def _bundle_rows(self, index: int, entry: _Entry) -> None:
        # The same integer rows over lot counts as the pre-solver's; a leg with no
        # order in this auction (nothing left, or no reference market) fills 0, and a
        # row left with no term holds (the empty fill satisfies every admitted row).
        bundle, legs = entry.participant.bundle, entry.legs
        matrix = self.matrix
        system = self.systems.get(index, ())
        if system is None:
            # Its price constraints hold at no grid prices within the box: no fill here.
            for order in legs.values():
                matrix.upper[order.col] = 0.0
            return
        for row in entry.rows:
            terms = [(legs[i].col, a) for i, a in enumerate(row.coefficients) if a and i in legs]
            if not terms:
                continue
            rhs = float(row.rhs)
            if row.sense is Sense.LE:
                matrix.row(terms, -_INF, rhs)
            elif row.sense is Sense.GE:
                matrix.row(terms, rhs, _INF)
            else:
                matrix.row(terms, rhs, rhs)
        w = None
        if bundle.min_total_fill and legs:
            # A non-empty fill must reach the minimum: w = 1 if the bundle trades.
            w = matrix.column(1)
            total = [(o.col, o.lot) for o in legs.values()]
            cap = sum(o.max_lots * o.lot for o in legs.values())
            matrix.row([*total, (w, -cap)], -_INF, 0.0)
            matrix.row([*total, (w, -bundle.min_total_fill)], 0.0, _INF)
        if system:
            self._price_system(legs, system, w)

    def _price_system(
        self, legs: Mapping[int, _Order], system: Sequence[_BoxRow], w: int | None
    ) -> None:
        """A bundle's price rows, binding while it fills. Its fill indicator ``y`` (the
        minimum fill's ``w`` when it has one: ``w = 0`` leaves no lot) with ``n ≤
        max_lots·y`` per order; per symbol a copy ``c_s`` of the price variable, in
        the same ``[0, width_s]``, equal to it while ``y = 1`` (``|u_s − c_s| ≤
        width_s·(1 − y)``); and the rows over the copies, unconditionally (they hold
        somewhere in the box: :meth:`_price_columns`). The rows' coefficients and the
        copies' ties stay within MAX_PRICE_ROW and MAX_PRICE_STEPS (see the module
        docstring), so what the solver's tolerances allow rounds to an exact answer."""
        matrix = self.matrix
        y = w
        if y is None:
            y = matrix.column(1)
            for order in legs.values():
                matrix.row([(order.col, 1), (y, -order.max_lots)], -_INF, 0.0)
        copies: dict[str, int] = {}
        for symbol in sorted({s for row in system for s in row.symbols}):
            width = self.box[symbol][1]
            copy = copies[symbol] = matrix.column(width)
            if width:
                price = self.price_cols[symbol]
                matrix.row([(price, 1), (copy, -1), (y, width)], -_INF, width)
                matrix.row([(copy, 1), (price, -1), (y, width)], -_INF, width)
        for row in system:
            matrix.row(
                [(copies[s], a) for s, a in zip(row.symbols, row.coefficients, strict=True)],
                -_INF if row.lower is None else row.lower,
                _INF if row.upper is None else row.upper,
            )


class _LadderModel(_Model):
    """Prices as threshold binaries per symbol (:mod:`gateway.venue.ladder`), and the
    objective measured from each symbol's mid."""

    def _shifts(self) -> Mapping[str, int]:
        """The mid of each symbol on the grid (rounded down): by the balance rows
        ``Σ_buys lot·n = Σ_sells lot·n``, subtracting the same amount from every
        limit of a symbol changes the objective of every feasible fill by exactly 0,
        and leaves coefficients of the size of the spread instead of the price
        (HiGHS warned of "excessively large costs" at ~10^6)."""
        return {s: self.units.mid(self.refs[s]) for s in {o.symbol for o in self.orders}}

    def _prices(self, by_symbol: Mapping[str, Sequence[_Order]]) -> None:
        """Per symbol, its :func:`~gateway.venue.ladder.price_ladder`; a symbol with a
        price variable (one a price constraint names) has its inside orders tied to it
        instead (:meth:`~_Model._grid_link`): the ladder says only which fills some
        price allows, a price constraint needs the price itself."""
        matrix = self.matrix
        for symbol in sorted(by_symbol):
            orders = by_symbol[symbol]
            if symbol in self.price_cols:
                for order in orders:
                    if self.spreads.eligible(order) == "inside":
                        self._grid_link(order)
                continue
            bid, offer = self.spreads.bounds[symbol]
            ladder = price_ladder([(o.side, o.limit) for o in orders], bid, offer)
            steps = [matrix.column(1) for _ in ladder.thresholds]
            for k in range(1, len(steps)):
                matrix.row([(steps[k], 1), (steps[k - 1], -1)], -_INF, 0.0)
            for order, link in zip(orders, ladder.links, strict=True):
                if link is None:
                    continue
                step = steps[link.step]
                if link.when_reached:  # a sell: q <= cap * v
                    matrix.row([(order.col, 1), (step, -order.max_lots)], -_INF, 0.0)
                else:  # a buy: q <= cap * (1 - v)
                    matrix.row([(order.col, 1), (step, order.max_lots)], -_INF, order.max_lots)


class _BigMModel(_Model):
    """The model before issue 15: a continuous price per symbol and, per order inside
    the spread, a binary and two big-M rows. A symbol with a price variable (one a
    price constraint names) has it instead, in whole steps of the price grid, with
    big-M rows of whole numbers (:meth:`_grid_link`)."""

    def _prices(self, by_symbol: Mapping[str, Sequence[_Order]]) -> None:
        prices = {
            s: self.matrix.column(
                float(self.refs[s].offer), lower=float(self.refs[s].bid), integer=False
            )
            for s in sorted(by_symbol)
            if s not in self.price_cols
        }
        for order in self.orders:
            if self.spreads.eligible(order) == "inside":
                if order.symbol in self.price_cols:
                    self._grid_link(order)
                else:
                    self._price_link(order, prices[order.symbol])

    def _price_link(self, order: _Order, price: int) -> None:
        """z = 1 lets the order fill; then the price must be on its side of its limit."""
        matrix = self.matrix
        bid, offer = self.spreads.bounds[order.symbol]
        z = matrix.column(1)
        matrix.row([(order.col, 1), (z, -order.max_lots)], -_INF, 0.0)
        spread = float(offer - bid)
        if order.side is Side.BUY:
            matrix.row([(price, 1), (z, spread)], -_INF, float(order.limit) + spread)
        else:
            matrix.row([(price, 1), (z, -spread)], float(order.limit) - spread, _INF)


@dataclass(frozen=True, slots=True)
class _Outcome:
    participants: Sequence[Participant]
    contra: Sequence[ContraOrder]
    spreads: _Spreads
    orders: Sequence[_Order]
    lots: Sequence[int]
    status: str
    solve_ms: float
    witness: Mapping[str, Fraction] = field(default_factory=dict)  # the solver's prices
    grid: int = 1  # the price grid 1/grid of the witness


def _finish(outcome: _Outcome) -> tuple[AuctionResult, dict[str, str]]:
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
    by_bundle, others = _problems(result, participants, contra, spreads)
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


def _settle(
    prices: dict[str, Fraction],
    interval: dict[str, list[Fraction]],
    held: Sequence[PriceConstraint],
    outcome: _Outcome,
) -> None:
    """The prices of the symbols that the filled bundles' price constraints ``held``
    name, in ``prices``: from the solver's, which satisfy them (:class:`_Model`), each
    symbol in turn moved as close to its mid as its fills' ``interval`` and the
    constraints allow with the others' prices fixed (:func:`_toward_mids`). If the
    solver's prices do not hold exactly (its tolerances; never seen), the mids clamped
    to the intervals, as for the other symbols: :func:`verify` then names what fails,
    and the auction is solved again without the bundles it names."""
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
    # at every price of that model's box (:func:`_on_box`): any price in its interval
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
    outcome: _Outcome,
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


def verify(
    result: AuctionResult,
    participants: Sequence[Participant],
    contra: Sequence[ContraOrder],
    refs: Mapping[str, SymbolRef],
) -> list[str]:
    """Every way ``result`` breaks the auction's rules, in exact arithmetic."""
    by_bundle, others = _problems(result, participants, contra, _Spreads(refs))
    return [p for found in by_bundle.values() for p in found] + others


def _problems(
    result: AuctionResult,
    participants: Sequence[Participant],
    contra: Sequence[ContraOrder],
    spreads: _Spreads,
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
    spreads: _Spreads,
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


def _price_problems(result: AuctionResult, spreads: _Spreads) -> list[str]:
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
