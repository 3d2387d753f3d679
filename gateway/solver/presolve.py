"""The pre-solver: can a non-empty fill of this bundle satisfy every
constraint, and what is the largest one?

The bundle's constraints are homogeneous in practice, so the empty fill always
satisfies them (docs/math.md §4, "Feasibility is never q = 0"); the question
is whether a **non-empty** fill exists within every leg's limit and lot size.
The model, in lot counts ``n_i = q_i / lot_i``::

    maximise   Σ_i q_i                 (total quantity; integral after scaling)
    subject to Σ_i a_i · lot_i · n_i  (<= | == | >=)  b     for every constraint
               Σ_i q_i >= min_total_fill                    (when set)
               n_i integer, 0 <= n_i <= floor(max_qty_i / lot_i)

is built in PuLP (:func:`gateway.solver.milp.lot_model`) and solved by HiGHS
in-process (default) or CBC. The bundle is feasible exactly when the maximum
total is positive. Every solution is rounded, then re-checked with
:meth:`OrderBundle.violations` in exact arithmetic before it is reported; a
solver status is never trusted alone (:func:`gateway.solver.milp.read_solution`).
A time limit with no verified solution is a TIMEOUT, never "infeasible".

When the bundle is infeasible, :func:`gateway.solver.explain.explain_infeasible`
finds the constraint (or the smallest set of constraints) that no non-empty
fill within the limits can satisfy, and says why: either its signs make any
non-empty fill impossible, or the smallest fill that satisfies it exceeds named
legs' limits.

Where the time goes (bench/presolve.py, 10-leg hedge bundles, this machine):
scaling rows and building the PuLP model ~0.06 ms; handing it to HiGHS
~0.1 ms; HiGHS's MIP run ~1.4 ms at p50. With default options the run costs
3-5 ms: ~3 ms is the feasibility-jump heuristic and most of the p99 tail is
RINS/RENS/root-reduced-cost, on models HiGHS closes at the root node anyway;
HiGHS presolve only adds time at this size. We switch those off
(:data:`gateway.solver.milp.SMALL_MODEL_OPTIONS`) and pass the model in array
calls instead of PuLP's column-by-column loop
(:class:`gateway.solver.milp.FastHiGHS`). What remains is HiGHS's fixed MIP
set-up and root cut separation: ~0.75 ms even when handed the optimal solution
as an incumbent.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import model_validator

from gateway.core.bundle import Constraint, OrderBundle, Sense
from gateway.core.fields import FrozenModel, PositiveInt
from gateway.solver import fast
from gateway.solver.explain import explain_infeasible, least_fill
from gateway.solver.milp import (
    MAX_EXACT_ACTIVITY,
    ScaledRow,
    SolverName,
    SolverSettings,
    oversized_row,
    scaled_rows,
    solve_lots,
)
from gateway.solver.prices import implied, price_box, unattainable

__all__ = [
    "Outcome",
    "PreSolver",
    "PresolveConfig",
    "Verdict",
]

# One solver set-up per solver name, built once: the pre-solver's models are small and
# their objective (total quantity in lot-divisor units) is integer-valued.
_SETTINGS: Mapping[SolverName, SolverSettings] = {
    "highs": SolverSettings(solver="highs", integer_objective=True, small_model=True),
    "cbc": SolverSettings(solver="cbc", integer_objective=True, small_model=True),
}


class PresolveConfig(FrozenModel):
    """Pre-solver settings (the ``presolve:`` section of gateway.yaml).

    Attributes:
        solver: ``highs`` (in-process through highspy, default) or ``cbc``
            (PuLP's bundled CBC, a subprocess).
        time_limit_ms: wall-clock limit for one pre-solve, explanation included
            (default 1000); the solver's own limit, which it checks only now and then.
        kill_after_ms: hard deadline of one pre-solve in the gateway (default 2000,
            more than ``time_limit_ms``): a solver process that has not answered by
            then is killed and replaced, and the list is denied as a timeout
            (:mod:`gateway.solver.sandbox`).
        max_legs: bundles with more legs are refused unsolved (default 100).
        smallest_fill: also compute the smallest non-empty fill (one more
            solve; ``bidgw check`` turns it on, the gateway leaves it off).
        explain: on an infeasible bundle, find which constraints and legs are
            to blame (extra solves, only on the infeasible path; default on).
        fast_path: decide the bundles it can without the MILP
            (:mod:`gateway.solver.fast`; default on). Off, every bundle goes to
            the MILP (for comparison and benchmarks).
    """

    solver: SolverName = "highs"
    time_limit_ms: PositiveInt = 1000
    kill_after_ms: PositiveInt = 2000
    max_legs: PositiveInt = 100
    smallest_fill: bool = False
    explain: bool = True
    fast_path: bool = True

    @model_validator(mode="after")
    def _deadlines(self) -> PresolveConfig:
        if self.kill_after_ms <= self.time_limit_ms:
            raise ValueError(
                f"kill_after_ms ({self.kill_after_ms}) must be more than time_limit_ms "
                f"({self.time_limit_ms}): it is the hard stop after the solver's own limit"
            )
        return self


class Outcome(enum.Enum):
    """What the pre-solver concluded."""

    FEASIBLE = "feasible"  # a verified non-empty fill exists
    INFEASIBLE = "infeasible"  # proven: only the empty fill (or nothing) satisfies it
    TIMEOUT = "timeout"  # the time limit ran out with no verified fill
    TOO_LARGE = "too_large"  # more legs than max_legs; not solved
    SOLVER_ERROR = "solver_error"  # solver failure or a solution that failed verification


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """The pre-solver's answer for one bundle.

    Attributes:
        outcome: see :class:`Outcome`.
        reason: why it is not feasible (None when feasible), or a note such as
            "time limit reached; max fill not proven maximal".
        max_fill: per-leg quantities (leg order) of the verified fill with the
            largest total; None unless feasible.
        optimal: True when ``max_fill`` is proven maximal.
        min_fill: the smallest non-empty fill, when requested and found.
        min_optimal: True when ``min_fill`` is proven smallest.
        solver: ``highs`` or ``cbc``.
        path: what decided: ``fast`` (:mod:`gateway.solver.fast`, no MILP) or
            ``milp``; ``checks`` for a bundle refused before any solve.
        build_ms / solve_ms: time spent building the model (scaling the rows and,
            for the MILP, the PuLP model) and in the solver(s) (the fast path
            and its exact re-check, or the MILP with explanations).
    """

    outcome: Outcome
    reason: str | None
    max_fill: tuple[int, ...] | None = None
    optimal: bool = False
    min_fill: tuple[int, ...] | None = None
    min_optimal: bool = False
    solver: str = "highs"
    path: str = "milp"
    build_ms: float = 0.0
    solve_ms: float = 0.0

    @property
    def feasible(self) -> bool:
        return self.outcome is Outcome.FEASIBLE

    @property
    def max_total(self) -> int:
        return sum(self.max_fill) if self.max_fill else 0


class PreSolver:
    """Answers, for one bundle at a time, whether it can ever fill.

    Thread-safe: each call builds its own PuLP problem and HiGHS instance.
    """

    def __init__(self, config: PresolveConfig | None = None) -> None:
        self.config = config or PresolveConfig()

    def check(self, bundle: OrderBundle) -> Verdict:
        """Pre-solve ``bundle``; never raises for a bundle that is merely bad."""
        verdict = self._check(bundle, solver=True)
        assert verdict is not None  # with a solver, every path ends in a verdict
        return self._prices(bundle, verdict, solver=True)

    def quick(self, bundle: OrderBundle) -> Verdict | None:
        """The verdict if it needs no solver at all, else None.

        Only the fast path (:mod:`gateway.solver.fast`, pure Python with bounded
        work) and closed-form explanations run: no HiGHS, no CBC. The gateway calls
        this on its own thread and hands the bundle to a solver process
        (:mod:`gateway.solver.sandbox`) only when it answers None.
        """
        if not self.config.fast_path:
            return None
        verdict = self._check(bundle, solver=False)
        return None if verdict is None else self._prices(bundle, verdict, solver=False)

    def _prices(self, bundle: OrderBundle, verdict: Verdict, *, solver: bool) -> Verdict:
        """A feasible verdict checked against the bundle's price constraints
        (:mod:`gateway.solver.prices`): infeasible when one can never hold within the
        limits of the legs every fill trades, else feasible with a note."""
        if not bundle.price_constraints or not verdict.feasible:
            return verdict
        started = time.perf_counter()
        named = {symbol for price in bundle.price_constraints for symbol, _ in price.terms}
        forced = [
            index
            for index, leg in enumerate(bundle.legs)
            if leg.symbol in named and self._forced(bundle, index, solver=solver)
        ]
        box = price_box(bundle, forced)
        spent = (time.perf_counter() - started) * 1000
        for price in bundle.price_constraints:
            why = unattainable(price, box)
            if why is not None:
                return dataclasses.replace(
                    verdict,
                    outcome=Outcome.INFEASIBLE,
                    reason=why,
                    max_fill=None,
                    optimal=False,
                    min_fill=None,
                    solve_ms=verdict.solve_ms + spent,
                )
        note = "; ".join(
            f"price constraint {price.name} implied by the limits (never binds)"
            if implied(price, box)
            else f"price constraint {price.name} attainable within the limits; decided at "
            "the auction"
            for price in bundle.price_constraints
        )
        reason = f"{verdict.reason}; {note}" if verdict.reason else note
        return dataclasses.replace(verdict, reason=reason, solve_ms=verdict.solve_ms + spent)

    def _forced(self, bundle: OrderBundle, index: int, *, solver: bool) -> bool:
        """Whether every non-empty fill trades leg ``index`` (proven: with its quantity
        held at zero the bundle has no non-empty fill). Unknown counts as not forced."""
        zero = Constraint(
            name=f"leg_{index + 1}_zero",
            coefficients=tuple(Decimal(int(i == index)) for i in range(len(bundle.legs))),
            sense=Sense.EQ,
        )
        held = dataclasses.replace(
            bundle, constraints=(*bundle.constraints, zero), price_constraints=()
        )
        quiet = PreSolver(self.config.model_copy(update={"explain": False}))
        verdict = quiet._check(held, solver=solver)
        return verdict is not None and verdict.outcome is Outcome.INFEASIBLE

    def _check(self, bundle: OrderBundle, *, solver: bool) -> Verdict | None:
        config = self.config
        if len(bundle.legs) > config.max_legs:
            return Verdict(
                outcome=Outcome.TOO_LARGE,
                solver=config.solver,
                path="checks",
                reason=f"{len(bundle.legs)} legs exceed the pre-solver's limit of "
                f"{config.max_legs}",
            )
        settings = _SETTINGS[config.solver]
        deadline = time.perf_counter() + config.time_limit_ms / 1000
        started = time.perf_counter()
        rows = scaled_rows(bundle, bundle.constraints)
        caps = [leg.max_lots for leg in bundle.legs]
        # Beyond what a solver computes exactly, only the fast path (integer arithmetic
        # throughout) may still decide, without any solve.
        too_large = _inexact(bundle, rows, caps)
        if config.fast_path:
            quick = self._fast(
                bundle,
                rows=rows,
                caps=caps,
                settings=settings if solver and too_large is None else None,
                deadline=deadline,
                started=started,
            )
            if quick is not None:
                return quick
        if too_large is not None:
            return Verdict(
                outcome=Outcome.TOO_LARGE, solver=config.solver, reason=too_large, path="checks"
            )
        if not solver:
            return None
        built = time.perf_counter()
        answer = solve_lots(
            bundle,
            rows,
            caps,
            settings,
            config.time_limit_ms / 1000,
            minimise=False,
            min_total=bundle.min_total_fill,
        )

        def verdict(outcome: Outcome, reason: str | None, **extra: Any) -> Verdict:
            return Verdict(
                outcome=outcome,
                reason=reason,
                solver=config.solver,
                build_ms=(built - started) * 1000,
                solve_ms=(time.perf_counter() - built) * 1000,
                **extra,
            )

        if answer.status == "error":
            return verdict(Outcome.SOLVER_ERROR, f"solver failed: {answer.detail}")
        if answer.status == "inexact":
            return verdict(
                Outcome.SOLVER_ERROR,
                f"solver solution failed exact verification: {answer.detail}; feasibility "
                "unknown: use coefficients with fewer significant digits",
            )
        if answer.status == "infeasible":
            return verdict(
                Outcome.INFEASIBLE, self._solved_reason(bundle, rows, settings, deadline)
            )
        if answer.lots is None:  # "timeout"
            return verdict(
                Outcome.TIMEOUT,
                f"no fill found within the {config.time_limit_ms} "
                "ms time limit; feasibility unknown",
            )
        lots = answer.lots
        fill = tuple(n * leg.lot_size for n, leg in zip(lots, bundle.legs, strict=True))
        problems = bundle.violations(fill)
        if problems:
            return verdict(
                Outcome.SOLVER_ERROR,
                "solver solution failed exact verification: " + "; ".join(problems),
            )
        optimal = answer.status == "optimal"
        if sum(fill) == 0:
            if not optimal:  # stopped by the time limit holding only the empty fill
                return verdict(
                    Outcome.TIMEOUT,
                    "time limit reached before a non-empty fill was found; feasibility unknown",
                )
            return verdict(
                Outcome.INFEASIBLE, self._solved_reason(bundle, rows, settings, deadline)
            )
        least = least_fill(bundle, rows, caps, settings, deadline) if config.smallest_fill else None
        return verdict(
            Outcome.FEASIBLE,
            None if optimal else answer.detail or "time limit reached; max fill not proven maximal",
            max_fill=fill,
            optimal=optimal,
            min_fill=least[0] if least is not None else None,
            min_optimal=least is not None and least[1],
        )

    def _fast(
        self,
        bundle: OrderBundle,
        *,
        rows: Sequence[ScaledRow],
        caps: Sequence[int],
        settings: SolverSettings | None,
        deadline: float,
        started: float,
    ) -> Verdict | None:
        """The fast path's verdict (:mod:`gateway.solver.fast`), or None to run the MILP.

        Its maximum fill is re-checked against the bundle in exact arithmetic like
        a solver's; one that fails (a defect) is ignored and the MILP decides. With
        ``settings`` None no solver may run: a verdict whose explanation (or
        smallest fill) would need one is None too.
        """
        begun = time.perf_counter()
        unit = math.gcd(*(leg.lot_size for leg in bundle.legs))
        decision = fast.decide(rows, caps, [leg.lot_size // unit for leg in bundle.legs])
        if decision is None:
            return None

        def verdict(outcome: Outcome, reason: str | None, **extra: Any) -> Verdict:
            return Verdict(
                outcome=outcome,
                reason=reason,
                solver=self.config.solver,
                path="fast",
                build_ms=(begun - started) * 1000,
                solve_ms=(time.perf_counter() - begun) * 1000,
                **extra,
            )

        if decision.lots is None:
            reason = self._reason(bundle, rows, settings, deadline)
            return None if reason is None else verdict(Outcome.INFEASIBLE, reason)
        fill = tuple(n * leg.lot_size for n, leg in zip(decision.lots, bundle.legs, strict=True))
        total = sum(fill)
        minimum = bundle.min_total_fill or 0
        if total < minimum:  # the largest total is below it: so is every other fill's
            return verdict(
                Outcome.INFEASIBLE,
                f"the largest fill that satisfies the constraints within the legs' limits "
                f"totals {total}, less than the minimum total fill {minimum}",
            )
        if total == 0 or bundle.violations(fill):
            return None
        least = None
        if self.config.smallest_fill:
            if settings is None:
                return None
            least = least_fill(bundle, rows, caps, settings, deadline)
        return verdict(
            Outcome.FEASIBLE,
            None,
            max_fill=fill,
            optimal=True,
            min_fill=least[0] if least is not None else None,
            min_optimal=least is not None and least[1],
        )

    def _reason(
        self,
        bundle: OrderBundle,
        rows: Sequence[ScaledRow],
        settings: SolverSettings | None,
        deadline: float,
    ) -> str | None:
        """Why ``bundle`` is infeasible; None only without ``settings``, when the
        explanation would need a solver."""
        if not self.config.explain:
            return _NO_FILL
        reason = explain_infeasible(bundle, rows, settings, deadline)
        return _NO_FILL if reason is None and settings is not None else reason

    def _solved_reason(
        self,
        bundle: OrderBundle,
        rows: Sequence[ScaledRow],
        settings: SolverSettings,
        deadline: float,
    ) -> str:
        return self._reason(bundle, rows, settings, deadline) or _NO_FILL


_NO_FILL = "no non-empty fill satisfies the constraints within the legs' limits"


def _inexact(bundle: OrderBundle, rows: Sequence[ScaledRow], caps: Sequence[int]) -> str | None:
    """Why this bundle's model is beyond what a solver computes exactly, if it is.

    Every row activity, as the solver gets the row (:func:`oversized_row`), must stay
    within :data:`MAX_EXACT_ACTIVITY` with each leg at its limit (and so must the total
    quantity), or the solver's floating point is no longer exact and its answers (and
    its time limit) cannot be trusted.
    """
    total = sum(leg.max_qty for leg in bundle.legs)
    if total > MAX_EXACT_ACTIVITY:
        return (
            f"the legs' limits total {total}, beyond 2^53 ({MAX_EXACT_ACTIVITY}), the "
            "largest quantity the solver represents exactly"
        )
    oversized = oversized_row(rows, caps)
    if oversized is None:
        return None
    row, activity = oversized
    return (
        f"constraint {row.name}: with its coefficients over lots scaled below 2^24, its "
        f"activity with every leg at its limit reaches {activity:.3g}, beyond 2^53 "
        f"({MAX_EXACT_ACTIVITY:.3g}), the largest value the solver represents exactly; use "
        "smaller limits"
    )
