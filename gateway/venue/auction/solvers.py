"""Running one model through a solver: HiGHS through highspy, or PuLP.

:func:`solve_part` picks the way a ``ladder`` part reaches its solver
(``AuctionConfig.solver`` and ``interface``): HiGHS through highspy (the
default: the model's arrays in a few calls, options by model, and optionally a
stop at the first solution worth more than nothing, for batches), or a PuLP
problem built from the same arrays, solved by PuLP's HiGHS interface
(``FastHiGHS``) or CBC (:func:`run_pulp`, also the ``big_m`` formulation's only
path). Either way the answer is a :class:`Run`: a status, every order's lots,
the objective and the solver's dual bound when it says, and the solver's prices
where price constraints need them (:meth:`~gateway.venue.auction.model.Model.witness`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Final

import highspy
import pulp

from gateway.solver.milp import FastHiGHS, SolverName, SolverSettings, read_solution, round_lots
from gateway.venue.auction.hull import MIN_BUNDLES, hull_start
from gateway.venue.auction.matrix import INF, quiet_highs
from gateway.venue.auction.model import Model
from gateway.venue.auction.types import AuctionConfig

__all__ = [
    "AUCTION_HIGHS_OPTIONS",
    "PRICE_HIGHS_OPTIONS",
    "Run",
    "relative_gap",
    "run_pulp",
    "solve_part",
]

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
#: A part with at most this many columns is first solved as an LP (its relaxation):
#: when every integer column is whole at the LP's optimum, that is the MILP's optimum
#: and HiGHS's MIP is not run. Measured over the 714 parts of one ``bidgw demo``
#: (docs/auction.md): 86% of the parts of up to 8 columns, 71% up to 16 and 46% up
#: to 32 have a whole LP optimum, and the LP takes a quarter of the MIP's time
#: (0.2 against 0.8 ms); from 33 columns on few do, and a fractional one pays both.
LP_FIRST_MAX_COLUMNS: Final = 32
#: HiGHS options for a ``ladder`` part that holds price constraints (it has price
#: variables): HiGHS's defaults. On four books built as bench/auction.py's (its seed
#: and the next three) of 100 bundles and 20 pairs with a spread limit (``--pairs``)
#: they reached the 1e-3 gap in 1.1, 2.3 and 6.2 s (the fourth: 0.9% at the 20 s
#: limit), :data:`AUCTION_HIGHS_OPTIONS` in 12.5, 1.2 and 15.7 s (19.4 s). Parts
#: without price constraints keep those.
PRICE_HIGHS_OPTIONS: Final[Mapping[str, str | bool]] = MappingProxyType({})


def relative_gap(value: float, bound: float) -> float:
    """Relative gap of a maximisation with objective ``value`` and dual ``bound``,
    as HiGHS reports it: 0 when they meet, infinite when only the empty fill is known."""
    if bound - value <= 0:
        return 0.0
    if value <= 0:
        return math.inf
    return (bound - value) / value


@dataclass(frozen=True, slots=True)
class Run:
    """One solver run on one model: ``optimal`` or ``feasible`` and every order's
    lots, or why there are none; the objective of those lots and the solver's
    dual bound, when it says (HiGHS does, CBC through PuLP does not)."""

    status: str
    lots: list[int] | None
    value: float | None
    bound: float | None
    build_s: float = 0.0  # passing the model to the solver (building the PuLP problem)
    prices: Mapping[str, Fraction] = field(default_factory=dict)  # Model.witness


def solve_part(
    model: Model,
    config: AuctionConfig,
    time_limit_s: float,
    first_solution: bool = False,
    *,
    first_fill_s: float,
) -> Run | str:
    """Solve one part of a ``ladder`` auction: its run, or what went wrong. With
    ``first_solution`` (highspy only), stop at the first fill worth more than nothing.
    With ``first_fill_s`` past ``time_limit_s`` (highspy only), a solve that holds no
    such fill at ``time_limit_s`` goes on until its first one, or ``first_fill_s``."""
    if config.solver == "cbc":
        settings = SolverSettings(solver="cbc", gap_rel=config.gap)
        return run_pulp(model, settings.make(time_limit_s), "cbc")
    if config.interface == "pulp":
        solver = FastHiGHS(
            msg=False,
            timeLimit=time_limit_s,
            gapRel=config.gap,
            threads=1,
            **_options(model),
        )
        return run_pulp(model, solver, "highs")
    return _run_highs(
        model,
        time_limit_s=time_limit_s,
        gap=config.gap,
        first_solution=first_solution,
        first_fill_s=first_fill_s,
    )


def _run_highs(
    model: Model,
    *,
    time_limit_s: float,
    gap: float,
    first_solution: bool = False,
    first_fill_s: float,
) -> Run | str:
    """Solve ``model`` with HiGHS through highspy (:func:`_options`).

    With ``first_solution``, a callback interrupts HiGHS at its first check after it
    holds a solution worth more than the empty fill: on a large model that is its
    randomized rounding of the root LP, right after the LP. Without it HiGHS goes on
    to its cut rounds, and after five of them computes its analytic centre and rounds
    towards it (central rounding), which its time limit does not stop: 0.5-3.4 s on
    a batch of 1,000 bundles on this machine.

    With ``first_fill_s`` later than ``time_limit_s``, HiGHS's own limit is
    ``first_fill_s`` and the same callback stops it once ``time_limit_s`` has passed
    and it holds a fill worth more than nothing (:class:`_StopAtFill`). HiGHS calls
    it between its cut rounds and nodes, not inside an LP solve, a heuristic or a
    sub-MIP, so a solve that holds a fill at ``time_limit_s`` may run on until the
    current one ends.
    """
    h = quiet_highs(mip_rel_gap=gap, **_options(model))
    began = time.perf_counter()
    refused = model.matrix.to_highs(h)
    if refused:
        return refused
    build_s = time.perf_counter() - began
    limit_s = max(time_limit_s - build_s, 0.001)
    hard_s = max(first_fill_s - build_s, limit_s)
    h.setOptionValue("time_limit", hard_s)
    if len(model.matrix.cost) <= LP_FIRST_MAX_COLUMNS:
        whole = _whole_relaxation(h, model)
        if whole is not None:
            return dataclasses.replace(whole, build_s=build_s)
    if first_solution or hard_s > limit_s:
        after = time.perf_counter() + (0.0 if first_solution else limit_s)
        h.cbMipInterrupt.subscribe(_StopAtFill(after))
    elif _wants_start(model, limit_s):
        began_start = time.perf_counter()
        start = hull_start(model, _options(model), began_start + START_SHARE * limit_s)
        spent = time.perf_counter() - began_start
        h.setOptionValue("time_limit", max(hard_s - spent, 0.001))
        if start is not None:
            solution = highspy.HighsSolution()
            solution.col_value = start.values
            solution.value_valid = True
            h.setSolution(solution)
    h.run()
    return dataclasses.replace(_highs_run(h, model), build_s=build_s)


#: The least time a part must have left for the start of :mod:`~gateway.venue.auction.hull`:
#: it takes ~0.3-0.7 s at 500 bundles (docs/auction.md). Below, HiGHS runs alone.
START_MIN_SECONDS: Final = 1.0

#: The share of a part's time the start may take, so that HiGHS always has the rest to
#: search and prove the gap from it: its sub-MIP has no limit of its own and took up to
#: 4 s on a 200-bundle book (docs/auction.md); stopped early, it still hands over the
#: best fill it found.
START_SHARE: Final = 0.5


def _wants_start(model: Model, limit_s: float) -> bool:
    """Whether to compute a start for ``model`` (:func:`~gateway.venue.auction.hull.hull_start`)
    before HiGHS runs: a part of at least :data:`~gateway.venue.auction.hull.MIN_BUNDLES`
    bundles without price constraints, solved to the gap with at least
    :data:`START_MIN_SECONDS` left (not stopped at its first fill: the venue's window
    and the batches want an early fill, not a proven gap)."""
    return (
        len(model.entries) >= MIN_BUNDLES and not model.price_cols and limit_s >= START_MIN_SECONDS
    )


def _whole_relaxation(h: Any, model: Model) -> Run | None:
    """Solve the LP relaxation of the model loaded in ``h``: an ``optimal`` run if every
    integer column is whole (within ``round_lots``'s tolerance, as HiGHS's MIP accepts
    them) at its optimum, which is then the MILP's too; else None, with ``h`` set to
    solve the MILP."""
    h.setOptionValue("solve_relaxation", True)
    h.run()
    h.setOptionValue("solve_relaxation", False)
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    values = h.getSolution().col_value
    continuous = set(model.matrix.continuous)
    integer = [v for column, v in enumerate(values) if column not in continuous]
    if round_lots(integer) is None:
        return None
    lots = round_lots([values[o.col] for o in model.orders])
    value = -float(h.getInfo().objective_function_value)  # it minimised the negation
    return Run("optimal", lots, value, value, prices=model.witness(values))


def _options(model: Model) -> Mapping[str, str | bool]:
    """The HiGHS options for ``model``: :data:`PRICE_HIGHS_OPTIONS` when it holds price
    constraints, :data:`AUCTION_HIGHS_OPTIONS` otherwise."""
    return PRICE_HIGHS_OPTIONS if model.price_cols else AUCTION_HIGHS_OPTIONS


@dataclass(frozen=True, slots=True)
class _StopAtFill:
    """HiGHS's MIP interrupt callback: stop once ``after`` (``perf_counter``) has passed
    and the incumbent is worth more than 0 (its objective, the negated improvement,
    below 0)."""

    after: float

    def __call__(self, event: Any) -> None:
        if -INF < event.data_out.mip_primal_bound < 0 and time.perf_counter() >= self.after:
            event.interrupt()


def _highs_run(h: Any, model: Model) -> Run:
    """What the HiGHS instance ``h`` that just ran on ``model`` concluded."""
    model_status = h.getModelStatus()
    info = h.getInfo()
    lots = None
    prices: Mapping[str, Fraction] = {}
    if info.primal_solution_status == 2:  # kSolutionStatusFeasible
        values = h.getSolution().col_value
        lots = round_lots([values[o.col] for o in model.orders])
        if lots is None:
            return Run("non-integral solution", None, None, None)
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
        return Run(f"HiGHS model status {h.modelStatusToString(model_status)}", None, None, None)
    bound = -float(info.mip_dual_bound)  # it minimised the negated objective
    value = -float(info.objective_function_value) if lots is not None else 0.0
    if not math.isfinite(bound):
        return Run(status, lots, None, None, prices=prices)
    return Run(status, lots, value, bound, prices=prices)


def run_pulp(model: Model, solver: Any, name: SolverName) -> Run | str:
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
            return Run("non-integral solution", None, None, None, build_s)
        status = "optimal" if solution.status == "optimal" else "feasible"
        prices = model.witness({c: variables[c].value() for c in model.price_cols.values()})
    if name != "highs":
        return Run(status, lots, None, None, build_s, prices)
    info = problem.solverModel.getInfo()
    # FastHiGHS minimises the negated objective.
    bound = -float(info.mip_dual_bound)
    value = -float(info.objective_function_value) if lots is not None else 0.0
    if not math.isfinite(bound):
        return Run(status, lots, None, None, build_s, prices)
    return Run(status, lots, value, bound, build_s, prices)
