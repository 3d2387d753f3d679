"""Admission: which bundles one auction takes, and the bounds that make that safe.

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

So :func:`~gateway.venue.auction.clear` first takes each bundle on its own
(:func:`model_problem`; building its orders and rows happens here too, and
anything that raises counts as a problem) and leaves out those the model cannot
hold exactly and safely. The bounds, from what the model needs:

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
  exactly (:mod:`gateway.venue.auction.prices`). A symbol named with no reference
  market, coefficients past the bound or a reference too wide on the bundle's own
  grid reject the bundle; a grid refined by a later bundle past the bound leaves
  that bundle out of the auction.

Such a bundle is reported in
:attr:`~gateway.venue.auction.AuctionResult.rejected` (the venue closes it) and
the auction clears the rest. Within the bounds, HiGHS's relative tolerances can
still accept a fill that misses a large-coefficient equality by a few units; the
exact verification catches it. When the failures it finds name bundles (their
constraints, lots, minimum or limits), the auction is solved once more without
those bundles, which are reported in
:attr:`~gateway.venue.auction.AuctionResult.excluded` (they stay in the book);
failures that name no bundle leave the auction ``unverified`` as before
(:func:`~gateway.venue.auction.clear`).

:func:`model_problem` is also the venue's screen at arrival
(:mod:`gateway.venue.screen`); :func:`admit` and :func:`admit_contra` turn what
passes into the model's :class:`~gateway.venue.auction.orders.Entry` and
:class:`~gateway.venue.auction.orders.Order` values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Final, Literal

from gateway.core.bundle import OrderBundle, Sense
from gateway.solver.milp import ScaledRow, scaled_rows
from gateway.venue.auction.orders import Entry, Order, Spreads, price_grid
from gateway.venue.auction.prices import PriceRow, price_rows_of
from gateway.venue.auction.types import ContraOrder, Participant, SymbolRef

__all__ = [
    "MAX_COST",
    "MAX_LOTS",
    "MAX_PRICE_ROW",
    "MAX_PRICE_STEPS",
    "MAX_ROW_ACTIVITY",
    "MAX_ROW_COEFFICIENT",
    "Unmodellable",
    "admit",
    "admit_contra",
    "model_problem",
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
        price_rows=price_rows_of(bundle),
        spreads=None if refs is None else Spreads(refs),
    )


def _model_problem(
    bundle: OrderBundle,
    price_scale: int,
    limits: Sequence[tuple[int, int]],
    rows: Sequence[ScaledRow],
    *,
    price_rows: Sequence[PriceRow] = (),
    spreads: Spreads | None = None,
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
    price_rows: Sequence[PriceRow], price_scale: int, spreads: Spreads | None
) -> Unmodellable | None:
    """Why the model cannot hold one of a bundle's price constraints exactly: its
    coefficients in coprime integers sum to more than :data:`MAX_PRICE_ROW` in
    magnitude; or (with ``spreads``) a symbol it names has no reference market, or
    one wider than :data:`MAX_PRICE_STEPS` steps of the price grid (``price_scale``
    refined by every reference), or wider than that once the right-hand sides refine
    the grid further (:attr:`PriceRow.grid`)."""
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


def admit_contra(contra: Sequence[ContraOrder], spreads: Spreads) -> list[Order]:
    orders = [
        Order(
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


def admit(
    participants: Sequence[Participant], contra: Sequence[Order], spreads: Spreads
) -> tuple[list[Entry], dict[str, str], dict[str, str]]:
    """The bundles the auction takes, in book order; the rejected and the excluded,
    each with why (see the module docstring)."""
    base = price_grid(o.limit for o in contra)
    base_top = max((abs(o.limit) * o.lot for o in contra), default=Fraction(0))
    scale, top = base, base_top
    width = Fraction(0)  # the widest reference a price constraint of the admitted names
    rhs_grid = 1  # the grid of the admitted price constraints' right-hand sides
    entries: list[Entry] = []
    rejected: dict[str, str] = {}
    excluded: dict[str, str] = {}
    for participant in participants:
        bundle = participant.bundle
        try:
            limits = [leg.limit_price.as_integer_ratio() for leg in bundle.legs]
            own = math.lcm(base, *(d for _, d in limits))
            rows = scaled_rows(bundle, bundle.constraints)
            price_rows = price_rows_of(bundle)
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
    spreads: Spreads,
    grid: int,
    limits: Sequence[tuple[int, int]],
    rows: Sequence[ScaledRow],
    *,
    price_rows: Sequence[PriceRow] = (),
) -> Entry:
    bundle = participant.bundle
    legs: dict[int, Order] = {}
    for index, (leg, left, (numerator, denominator)) in enumerate(
        zip(bundle.legs, participant.remaining, limits, strict=True)
    ):
        if leg.symbol in spreads.refs and left >= leg.lot_size:
            order = Order(
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
    return Entry(participant, legs, tuple(rows), grid, top, tuple(price_rows), width)
