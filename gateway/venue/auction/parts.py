"""A ``ladder`` auction's independent parts, each its own MILP.

Bundles and contra orders that share no symbol, directly or through others
(:mod:`gateway.venue.auction.components`), are separate MILPs: :meth:`Answer.solve`
builds a :class:`~gateway.venue.auction.model.LadderModel` per part and solves them
smallest first, each in a share of the time left proportional to its orders (at
least :data:`MIN_SOLVE_MS`). A part that fails or times out fills nothing (its
empty fill is valid on its own) and the others still fill; :meth:`Answer.solved`
turns the parts' answers into the whole auction's :class:`Solved`, its gap from
the sum of the parts' objectives and bounds (the objective units are the
auction's: :class:`~gateway.venue.auction.orders.Units`). A large auction runs
the same per batch (:mod:`gateway.venue.auction.batches`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final

from gateway.venue.auction.components import components
from gateway.venue.auction.model import LadderModel
from gateway.venue.auction.orders import Context, Entry, Order, Spreads
from gateway.venue.auction.prices import PriceRow
from gateway.venue.auction.solvers import solve_part

__all__ = ["MIN_SOLVE_MS", "Answer", "Solved"]

#: The least solver time a part of a ``ladder`` auction gets, even past the time limit.
MIN_SOLVE_MS: Final = 5.0


@dataclass(slots=True)
class Solved:
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


class Answer:
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
        traded: Sequence[Entry],
        contra_orders: Sequence[Order],
        spreads: Spreads,
        context: Context,
        *,
        deadline: float,
        first_fill_deadline: float,
        first_solution: bool = False,
        binding: Sequence[PriceRow] = (),
    ) -> None:
        """One MILP per independent part of ``traded`` and ``contra_orders``, smallest
        part first. Each part gets a share of the time left proportional to its
        orders (:func:`_size`; what a smaller part leaves unused goes to the larger ones).
        With ``first_fill_deadline`` later than ``deadline``, a part holding no fill
        worth more than nothing at its share of ``deadline`` goes on until its first
        one or its share of ``first_fill_deadline``
        (:func:`~gateway.venue.auction.solvers.solve_part`).

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
            model = LadderModel(part_entries, part_contra, spreads, context.units, part_rows)
            model.build()
            self.build_s += time.perf_counter() - began
            now = time.perf_counter()
            budget_ms = max((deadline - now) * 1000 * size / left, MIN_SOLVE_MS)
            first_fill_ms = max((first_fill_deadline - now) * 1000 * size / left, budget_ms)
            left -= size
            run = solve_part(
                model,
                context.config,
                budget_ms / 1000,
                first_solution,
                first_fill_s=first_fill_ms / 1000,
            )
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

    def solved(self, orders: Sequence[Order], gap: float | None) -> Solved:
        """The whole auction's answer, over its order list."""
        detail = "; ".join(self.problems)
        if self.parts and not self.lots:
            return Solved(None, detail, gap, parts=self.parts, build_s=self.build_s)
        status = "optimal" if all(s == "optimal" for s in self.statuses) else "feasible"
        lots = [self.lots.get(id(o), 0) for o in orders]
        return Solved(lots, status, gap, detail, self.parts, self.build_s, self.prices)


def _size(traded: Sequence[Entry], contra: Sequence[Order], index: int) -> int:
    """The weight of item ``index`` of a part in its share of the time: a bundle's
    legs, or 1 for a contra order and for a carried price row (a few rows in the
    model; counting it keeps a part of such rows alone from weighing nothing)."""
    return len(traded[index].legs) if index < len(traded) else 1
