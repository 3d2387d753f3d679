"""One auction from start to end: :func:`clear`.

In order: admission (:mod:`gateway.venue.auction.admission`: the contra orders
and the bundles the model can hold, in book order); the tie-breaks (one seeded
shuffle over every order of the auction, whatever the parts) and the objective's
units (:class:`~gateway.venue.auction.orders.Units`); the solve, either one
``big_m`` MILP through PuLP or the ``ladder`` model in independent parts
(:mod:`gateway.venue.auction.parts`) and, for a large book, batches
(:mod:`gateway.venue.auction.batches`); then the fills and prices, verified
exactly (:mod:`gateway.venue.auction.results`). When the verification names
bundles, the auction is cleared once more without them. With ``ladder`` the
time limit counts from the start of :func:`clear`, admission and building
included.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from collections.abc import Mapping, Sequence

from gateway.solver.milp import SolverSettings
from gateway.venue.auction.admission import admit, admit_contra
from gateway.venue.auction.batches import solve_batches
from gateway.venue.auction.model import BigMModel
from gateway.venue.auction.orders import Context, Entry, Order, Spreads, Units, price_grid
from gateway.venue.auction.parts import Answer, Solved
from gateway.venue.auction.results import Outcome, finish
from gateway.venue.auction.solvers import relative_gap, run_pulp
from gateway.venue.auction.types import (
    AuctionConfig,
    AuctionResult,
    ContraOrder,
    Participant,
    SymbolRef,
)

__all__ = ["clear"]


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
    spreads = Spreads(refs)
    orders = admit_contra(contra, spreads)
    entries, rejected, excluded = admit(participants, orders, spreads)
    checked = time.perf_counter()
    admit_s = checked - started
    limit_s = config.time_limit_ms / 1000
    # The first fill's window counts from the end of admission (0.3 s at 5,000
    # bundles): from the start, a book that large never had time to fill.
    first_fill_deadline = started + limit_s
    if config.first_fill_limit_s > limit_s:  # a solve that takes the callback
        first_fill_deadline = checked + config.first_fill_limit_s

    def clear_entries(admitted: list[Entry], start: float) -> tuple[AuctionResult, dict[str, str]]:
        return _clear_once(
            admitted,
            orders,
            contra,
            spreads,
            config=config,
            seed=seed,
            started=started,
            deadline=start + limit_s,
            first_fill_deadline=max(first_fill_deadline, start + limit_s),
            admit_s=admit_s,
        )

    result, faults = clear_entries(entries, started)
    if result.status == "unverified" and faults:
        # A tolerance effect of the solver on these bundles' rows: clear without them.
        for bundle_id, problems in faults.items():
            excluded[bundle_id] = f"the solver's fill failed exact verification: {problems}"
        entries = [e for e in entries if e.bundle_id not in faults]
        # The second solve gets its own time limit; the first fill's stays as it was.
        result, _ = clear_entries(entries, time.perf_counter())
    return dataclasses.replace(result, rejected=rejected, excluded=excluded)


def _clear_once(
    entries: Sequence[Entry],
    contra_orders: Sequence[Order],
    contra: Sequence[ContraOrder],
    spreads: Spreads,
    *,
    config: AuctionConfig,
    seed: int,
    started: float,
    deadline: float,
    first_fill_deadline: float,
    admit_s: float,
) -> tuple[AuctionResult, dict[str, str]]:
    """One solve over ``entries`` and the contra orders, verified; with the bundles
    the verification found at fault, if it failed. Times are reported from
    ``started``; the ``ladder`` solves stop by ``deadline`` (``perf_counter``), or
    with no fill yet at the first one or ``first_fill_deadline``."""
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
    context = Context(orders, spreads, config, Units(grid, len(orders), prices))
    if config.formulation == "big_m":
        solved = _solve_big_m(entries, contra_orders, context)
    else:
        solved = _solve_parts(
            entries,
            contra_orders,
            context,
            deadline=deadline,
            first_fill_deadline=first_fill_deadline,
        )
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
    result, faults = finish(
        Outcome(
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
    if solved.detail:  # after what finish found (no fill in time, a failed check)
        detail = "; ".join(filter(None, (result.detail, solved.detail)))
        result = dataclasses.replace(result, detail=detail)
    verify_ms = (time.perf_counter() - started) * 1000 - solve_ms
    return dataclasses.replace(
        result, build_ms=build_ms, gap=solved.gap, verify_ms=verify_ms, parts=solved.parts
    ), faults


def _solve_big_m(
    entries: Sequence[Entry], contra_orders: Sequence[Order], context: Context
) -> Solved:
    """The model before issue 15: one MILP through PuLP, HiGHS defaults, the time
    limit for the solver alone."""
    orders, config = context.orders, context.config
    began = time.perf_counter()
    model = BigMModel(entries, contra_orders, context.spreads, context.units)
    model.build()
    build_s = time.perf_counter() - began
    # Unlike the small pre-solve models, auctions are large: HiGHS presolve stays on.
    settings = SolverSettings(solver=config.solver, gap_rel=config.gap)
    run = run_pulp(model, settings.make(config.time_limit_ms / 1000), config.solver)
    if isinstance(run, str):
        return Solved(None, run, None, build_s=build_s)
    build_s += run.build_s
    gap = None if run.value is None or run.bound is None else relative_gap(run.value, run.bound)
    if run.lots is None:
        return Solved(None, run.status, gap, build_s=build_s)
    by_order = {id(o): n for o, n in zip(model.orders, run.lots, strict=True)}
    return Solved(
        [by_order[id(o)] for o in orders], run.status, gap, build_s=build_s, prices=run.prices
    )


def _solve_parts(
    entries: Sequence[Entry],
    contra_orders: Sequence[Order],
    context: Context,
    *,
    deadline: float,
    first_fill_deadline: float,
) -> Solved:
    """The ``ladder`` model: independent parts solved one by one, and an auction of
    more than ``config.batch_bundles`` bundles in batches (:func:`solve_batches`).

    A part the solver fails on, or leaves without a solution, fills nothing: its
    empty fill is valid on its own. The auction has no solution only when no part
    has one.
    """
    traded = [e for e in entries if e.legs]  # a bundle with no order here fills nothing
    if len(traded) > context.config.batch_bundles:
        return solve_batches(
            traded,
            contra_orders,
            context,
            deadline=deadline,
            first_fill_deadline=first_fill_deadline,
        )
    answer = Answer(context.config.solver == "highs")
    answer.solve(
        traded,
        contra_orders,
        context.spreads,
        context,
        deadline=deadline,
        first_fill_deadline=first_fill_deadline,
    )
    gap = relative_gap(answer.value, answer.bound) if answer.gap_known else None
    return answer.solved(context.orders, gap)
