"""Large books in batches, with the gap stated against a bound of the whole.

One MILP over thousands of bundles cannot even solve its LP relaxation within
the time limit, so a ``ladder`` auction of more than
``AuctionConfig.batch_bundles`` bundles clears them in batches, in book order
(:func:`solve_batches`), each in independent parts
(:class:`~gateway.venue.auction.parts.Answer`) with HiGHS stopping at its first
solution worth more than nothing. What earlier batches filled stays and binds
the later ones (:class:`_Carried`); the union is verified as one fill. Its gap is
stated against :func:`_mid_bound`, the Lagrangian relaxation of the whole
auction with every balance row priced at the symbol's mid. docs/auction.md has
the measurements.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final

import highspy

from gateway.core.bundle import Sense, Side
from gateway.venue.auction.matrix import INF, Matrix, quiet_highs
from gateway.venue.auction.orders import Context, Entry, Order, Spreads, Units
from gateway.venue.auction.parts import MIN_SOLVE_MS, Answer, Solved
from gateway.venue.auction.prices import PriceRow
from gateway.venue.auction.solvers import relative_gap
from gateway.venue.auction.types import SymbolRef

__all__ = ["MIN_BATCH", "solve_batches"]

#: The smallest batch of a large auction (see AuctionConfig.batch_bundles).
MIN_BATCH: Final = 50


def solve_batches(
    traded: Sequence[Entry],
    contra_orders: Sequence[Order],
    context: Context,
    *,
    deadline: float,
    first_fill_deadline: float,
) -> Solved:
    """A large auction: its bundles in batches, in book order, each cleared (in
    independent parts) with what the earlier ones left, in an equal share of the
    time left, HiGHS stopping at its first solution worth more than nothing
    (:func:`~gateway.venue.auction.solvers.solve_part`). Until a batch fills
    something, the batch being solved may take all the time to
    ``first_fill_deadline`` when that is later.

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
    (:func:`~gateway.venue.auction.verify`). Bundles of different batches do not
    trade with each other, so it is never proven optimal: the gap is stated against
    a bound of the whole auction (:func:`_mid_bound`), computed after the batches
    if the deadline has not passed (else the gap is None and ``detail`` says so).
    """
    spreads, units = context.spreads, context.units
    answer = Answer(gap_known=False)  # the parts' bounds are the batches', not the auction's
    size = context.config.batch_bundles
    queue = list(traded)  # book order; a batch that found no solution goes back in front
    carried = _Carried(dict(spreads.bounds), {id(o): o.max_lots for o in contra_orders})
    batches: list[int] = []  # the size of each batch cleared
    while queue:
        # Until something fills, a batch may take all the time to first_fill_deadline:
        # once one has filled, the auction keeps to its deadline.
        end = deadline if any(answer.lots.values()) else max(deadline, first_fill_deadline)
        if end - time.perf_counter() <= MIN_SOLVE_MS / 1000:
            break
        batch, narrowed = queue[:size], Spreads(spreads.refs, carried.bounds)
        batch_entries = [_narrowed(e, narrowed, carried.sides) for e in batch]
        copies = carried.contra(contra_orders, narrowed)
        now = time.perf_counter()
        share = now + (deadline - now) / -(-len(queue) // size)  # an equal share of the rest
        step = Answer(gap_known=True)
        step.solve(
            [e for e in batch_entries if e.legs],
            [copy for copy, _ in copies],
            narrowed,
            context,
            deadline=share,
            first_fill_deadline=end if end > deadline else share,
            first_solution=True,
            binding=carried.binding,
        )
        answer.build_s += step.build_s
        answer.parts += step.parts
        filled = any(step.lots.values())
        # Proven: the solver showed nothing in this batch is worth more than no fill.
        proven_empty = not filled and all(status == "optimal" for status in step.statuses)
        could_trade = not proven_empty and (not step.gap_known or step.bound > 0)
        if size > MIN_BATCH and not filled and could_trade:
            # Only the empty fill in time (the LP relaxation alone can take it), though
            # the batch could trade: this batch again, and the rest, in smaller ones.
            size = max(size // 2, MIN_BATCH)
            continue
        batches.append(len(batch))
        del queue[: len(batch)]
        if len(batches) == 1 and size == context.config.batch_bundles:
            # Then batches twice as large: fewer, larger batches trade more with each
            # other; the first, smaller one makes sure something fills early.
            size *= 2
        # "optimal" only for a batch that proved nothing trades in it: an auction whose
        # every batch did so, all reached, is no_trade; one without a fill otherwise,
        # no_solution.
        answer.statuses.append("optimal" if proven_empty else "feasible")
        answer.prices.update(step.prices)  # a part that failed keeps the earlier prices
        carried.keep(batch_entries, copies, step, answer, spreads.refs)
    if queue:  # bundles not reached: no proof that nothing trades
        answer.statuses.append("not reached")
    # The bound only states the gap: it comes after the fills, and only in time left
    # (~0.1-0.3 s at 5,000 bundles, which a book that large at the venue's own 80 ms
    # limit does not have: computed first, it kept the first batch from filling).
    bound, in_time = None, time.perf_counter() < deadline
    if in_time:
        began = time.perf_counter()
        bound = _mid_bound(traded, contra_orders, spreads, units)
        answer.build_s += time.perf_counter() - began
    answer.problems.append(
        f"{len(traded)} bundles in {len(batches)} batches of {', '.join(map(str, batches))}"
        + (f"; {len(queue)} not reached in time" if queue else "")
        + ("" if in_time else "; no time left to bound the gap")
    )
    value = sum(
        units.cost(o, units.mid(spreads.refs[o.symbol])) * n
        for o, n in _filled(context.orders, answer)
    )
    gap = None if bound is None else relative_gap(value, bound)
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
    binding: list[PriceRow] = field(default_factory=list)

    def contra(
        self, contra_orders: Sequence[Order], narrowed: Spreads
    ) -> list[tuple[Order, Order]]:
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
        batch_entries: Sequence[Entry],
        copies: Sequence[tuple[Order, Order]],
        step: Answer,
        answer: Answer,
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


def _filled(orders: Sequence[Order], answer: Answer) -> list[tuple[Order, int]]:
    """The orders ``answer`` fills, with their lots."""
    return [(o, answer.lots[id(o)]) for o in orders if answer.lots.get(id(o))]


def _narrowed(entry: Entry, spreads: Spreads, sides: Mapping[tuple[str, str], Side]) -> Entry:
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


def _narrow(bounds: dict[str, tuple[Fraction, Fraction]], order: Order) -> None:
    """Narrow the order's symbol's price interval to where its fill is allowed."""
    low, high = bounds[order.symbol]
    if order.side is Side.BUY:
        bounds[order.symbol] = (low, min(high, order.limit))
    else:
        bounds[order.symbol] = (max(low, order.limit), high)


def _mid_bound(
    traded: Sequence[Entry], contra_orders: Sequence[Order], spreads: Spreads, units: Units
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
    block = Matrix()
    for entry in traded:
        columns = {}
        for index, order in entry.legs.items():
            columns[index] = block.column(order.max_lots, integer=False)
            block.cost[columns[index]] = units.cost(order, shifts[order.symbol])
        for row in entry.rows:
            terms = [(columns[i], a) for i, a in enumerate(row.coefficients) if a and i in columns]
            if terms:
                rhs = float(row.rhs)
                lower = rhs if row.sense is not Sense.LE else -INF
                upper = rhs if row.sense is not Sense.GE else INF
                block.row(terms, lower, upper)
    h = quiet_highs(presolve="off")
    if block.to_highs(h) is not None:
        return None
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return bound - float(h.getInfo().objective_function_value)  # of the negated objective
