"""The pre-solver: can a non-empty fill of this bundle satisfy every
constraint, and what is the largest one?

The bundle's constraints are homogeneous in practice, so the empty fill always
satisfies them (DESIGN.md §4.3); the question is whether a **non-empty** fill
exists within every leg's limit and lot size. The model, in lot counts
``n_i = q_i / lot_i``::

    maximise   Σ_i q_i                 (total quantity; integral after scaling)
    subject to Σ_i a_i · lot_i · n_i  (<= | == | >=)  b     for every constraint
               Σ_i q_i >= min_total_fill                    (when set)
               n_i integer, 0 <= n_i <= floor(max_qty_i / lot_i)

is built in PuLP and solved by HiGHS in-process (default) or CBC. The bundle
is feasible exactly when the maximum total is positive. Every solution is
rounded, then re-checked with :meth:`OrderBundle.violations` in exact
arithmetic before it is reported; a solver status is never trusted alone. A
time limit with no verified solution is a TIMEOUT, never "infeasible".

When the bundle is infeasible, :func:`_explain` finds the constraint (or the
smallest set of constraints) that no non-empty fill within the limits can
satisfy, and says why: either its signs make any non-empty fill impossible,
or the smallest fill that satisfies it exceeds named legs' limits.

Where the time goes (bench/presolve.py, 10-leg hedge bundles, this machine):
scaling rows and building the PuLP model ~0.06 ms; handing it to HiGHS
~0.1 ms; HiGHS's MIP run ~1.4 ms at p50. With default options the run costs
3-5 ms: ~3 ms is the feasibility-jump heuristic and most of the p99 tail is
RINS/RENS/root-reduced-cost, on models HiGHS closes at the root node anyway;
HiGHS presolve only adds time at this size. We switch those off and pass the
model in array calls instead of PuLP's column-by-column loop (``_FastHiGHS``).
What remains is HiGHS's fixed MIP set-up and root cut separation: ~0.75 ms
even when handed the optimal solution as an incumbent.
"""

from __future__ import annotations

import enum
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import highspy
import numpy as np
import pulp
from pulp.apis import coin_api

from gateway.core.bundle import Constraint, OrderBundle, Sense
from gateway.core.exact import integer_row
from gateway.core.fields import FrozenModel, PositiveInt

__all__ = [
    "Outcome",
    "PreSolver",
    "PresolveConfig",
    "Verdict",
]

_INTEGRALITY_TOL = 1e-6
_CBC_PATH: str = os.path.normpath(coin_api.pulp_cbc_path)


class PresolveConfig(FrozenModel):
    """Pre-solver settings (the ``presolve:`` section of gateway.yaml).

    Attributes:
        solver: ``highs`` (in-process through highspy, default) or ``cbc``
            (PuLP's bundled CBC, a subprocess).
        time_limit_ms: wall-clock limit for one solve (default 1000).
        max_legs: bundles with more legs are refused unsolved (default 100).
        smallest_fill: also compute the smallest non-empty fill (one more
            solve; ``bidgw check`` turns it on, the gateway leaves it off).
        explain: on an infeasible bundle, find which constraints and legs are
            to blame (extra solves, only on the infeasible path; default on).
    """

    solver: Literal["highs", "cbc"] = "highs"
    time_limit_ms: PositiveInt = 1000
    max_legs: PositiveInt = 100
    smallest_fill: bool = False
    explain: bool = True


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
        solver: ``highs`` or ``cbc``.
        build_ms / solve_ms: time spent building the model and in the solver(s).
    """

    outcome: Outcome
    reason: str | None
    max_fill: tuple[int, ...] | None = None
    optimal: bool = False
    min_fill: tuple[int, ...] | None = None
    solver: str = "highs"
    build_ms: float = 0.0
    solve_ms: float = 0.0

    @property
    def feasible(self) -> bool:
        return self.outcome is Outcome.FEASIBLE

    @property
    def max_total(self) -> int:
        return sum(self.max_fill) if self.max_fill else 0


# ---------------------------------------------------------------------------
# PuLP → HiGHS


class _FastHiGHS(pulp.HiGHS):  # type: ignore[misc]  # pulp ships no type information
    """PuLP's HiGHS interface with the model passed in one call.

    ``pulp.HiGHS.buildSolverModel`` adds columns and rows one at a time from
    Python; this builds the same model in a handful of array calls. Status
    handling stays PuLP's; the caller reads HiGHS's own model status and
    primal solution status afterwards (PuLP maps a time limit to "optimal").
    """

    def buildSolverModel(self, lp: pulp.LpProblem) -> None:
        h: Any = lp.solverModel
        inf = highspy.kHighsInf
        variables = lp.variables()
        sign = -1.0 if lp.sense == pulp.const.LpMaximize else 1.0
        count = len(variables)
        costs = np.empty(count)
        lower = np.empty(count)
        upper = np.empty(count)
        for index, var in enumerate(variables):
            var.index = index
            costs[index] = sign * lp.objective.get(var, 0.0)
            lower[index] = -inf if var.lowBound is None else var.lowBound
            upper[index] = inf if var.upBound is None else var.upBound
        h.addCols(
            count, costs, lower, upper, 0, np.empty(0, np.int32), np.empty(0, np.int32), np.empty(0)
        )
        integer = [i for i, v in enumerate(variables) if v.cat == pulp.const.LpInteger]
        if integer and self.mip:
            h.changeColsIntegrality(
                len(integer),
                np.array(integer, np.int32),
                np.full(len(integer), highspy.HighsVarType.kInteger),
            )
        rows = lp.constraints()
        row_lower = np.empty(len(rows))
        row_upper = np.empty(len(rows))
        starts: list[int] = []
        indices: list[int] = []
        values: list[float] = []
        for index, row in enumerate(rows):
            row.index = index
            starts.append(len(indices))
            for var, coefficient in row.items():
                if coefficient:
                    indices.append(var.index)
                    values.append(coefficient)
            lb, ub = row.getLb(), row.getUb()
            row_lower[index] = -inf if lb is None else lb
            row_upper[index] = inf if ub is None else ub
        if rows:
            h.addRows(
                len(rows),
                row_lower,
                row_upper,
                len(indices),
                np.array(starts, np.int32),
                np.array(indices, np.int32),
                np.array(values),
            )


@dataclass(frozen=True, slots=True)
class _Solution:
    """A raw solver answer, before verification."""

    status: Literal["optimal", "feasible", "infeasible", "timeout", "error"]
    lots: tuple[float, ...] | None
    detail: str = ""


def _make_solver(config: PresolveConfig, time_limit_s: float) -> Any:
    if config.solver == "cbc":
        # PuLP's bundled cbc binary through COIN_CMD (PULP_CBC_CMD is deprecated in 3.3).
        return pulp.COIN_CMD(
            path=_CBC_PATH, msg=False, timeLimit=max(time_limit_s, 0.01), gapRel=0.0
        )
    return _FastHiGHS(
        msg=False,
        timeLimit=time_limit_s,
        gapRel=0.0,
        gapAbs=0.5,  # objectives are integer-valued, so a gap below 1 proves optimality
        threads=1,
        # Measured on 10-leg hedge bundles (bench/presolve.py): feasibility jump costs
        # ~3 ms per solve and RINS/RENS/root-reduced-cost most of the p99 tail, on models
        # HiGHS closes at the root anyway; its presolve only adds time at this size.
        presolve="off",
        mip_heuristic_run_feasibility_jump=False,
        mip_heuristic_run_rins=False,
        mip_heuristic_run_rens=False,
        mip_heuristic_run_root_reduced_cost=False,
    )


def _run(
    problem: pulp.LpProblem,
    variables: Sequence[pulp.LpVariable],
    config: PresolveConfig,
    time_limit_s: float,
) -> _Solution:
    solver = _make_solver(config, time_limit_s)
    try:
        problem.solve(solver)
    except pulp.PulpSolverError as exc:
        return _Solution("error", None, str(exc))
    if config.solver == "highs":
        h: Any = problem.solverModel
        model_status = h.getModelStatus()
        has_solution = h.getInfo().primal_solution_status == 2  # kSolutionStatusFeasible
        # Columns are in lp.variables() order (PuLP sorts by name), not leg order:
        # map back through each variable's column index.
        columns = h.getSolution().col_value
        values = tuple(columns[v.index] for v in variables) if has_solution else None
        status_enum = highspy.HighsModelStatus
        if model_status == status_enum.kOptimal:
            return _Solution("optimal", values)
        if model_status in (status_enum.kInfeasible, status_enum.kUnboundedOrInfeasible):
            return _Solution("infeasible", None)
        if model_status in (
            status_enum.kTimeLimit,
            status_enum.kInterrupt,
            status_enum.kIterationLimit,
            status_enum.kSolutionLimit,
        ):
            return _Solution("feasible" if values else "timeout", values)
        return _Solution("error", None, f"HiGHS model status {h.modelStatusToString(model_status)}")
    # CBC: status 1 optimal, -1 infeasible, 0 not solved; sol_status 1 optimal, 2 feasible.
    values = tuple(float(v.varValue) if v.varValue is not None else math.nan for v in variables)
    if problem.status == pulp.const.LpStatusInfeasible:
        return _Solution("infeasible", None)
    if problem.sol_status == pulp.const.LpSolutionOptimal:
        return _Solution("optimal", values)
    if problem.sol_status == pulp.const.LpSolutionIntegerFeasible:
        return _Solution("feasible", values)
    if problem.status == pulp.const.LpStatusNotSolved:
        return _Solution("timeout", None)
    return _Solution("error", None, f"CBC status {pulp.LpStatus.get(problem.status)}")


def _round_lots(values: Sequence[float]) -> list[int] | None:
    """Nearest integers, or None if any value is not within tolerance of one."""
    rounded: list[int] = []
    for value in values:
        if not math.isfinite(value):
            return None
        nearest = round(value)
        if abs(value - nearest) > _INTEGRALITY_TOL:
            return None
        rounded.append(int(nearest))
    return rounded


# ---------------------------------------------------------------------------
# The model


@dataclass(frozen=True, slots=True)
class _Row:
    """A constraint scaled to coprime integers over lot counts."""

    name: str
    coefficients: tuple[int, ...]
    sense: Sense
    rhs: int | Fraction


def _scaled_rows(bundle: OrderBundle, constraints: Sequence[Constraint]) -> list[_Row]:
    rows: list[_Row] = []
    for constraint in constraints:
        over_lots = [
            Fraction(a) * leg.lot_size
            for a, leg in zip(constraint.coefficients, bundle.legs, strict=True)
        ]
        ints, rhs = integer_row(over_lots, Fraction(constraint.rhs))
        rows.append(_Row(constraint.name, tuple(ints), constraint.sense, rhs))
    return rows


_PULP_SENSE = {
    Sense.LE: pulp.LpConstraintLE,
    Sense.EQ: pulp.LpConstraintEQ,
    Sense.GE: pulp.LpConstraintGE,
}


def _model(
    bundle: OrderBundle,
    rows: Sequence[_Row],
    caps: Sequence[int],
    *,
    minimise: bool,
    min_total: int | None,
) -> tuple[pulp.LpProblem, list[pulp.LpVariable]]:
    """The MILP over lot counts with per-leg caps (normally the leg limits)."""
    lots = [leg.lot_size for leg in bundle.legs]
    unit = math.gcd(*lots)
    problem = pulp.LpProblem("presolve", pulp.LpMinimize if minimise else pulp.LpMaximize)
    variables = [
        problem.add_variable(f"n{i:05d}", 0, cap, cat=pulp.const.LpInteger)
        for i, cap in enumerate(caps)
    ]
    problem.setObjective(
        pulp.LpAffineExpression([(v, lot // unit) for v, lot in zip(variables, lots, strict=True)])
    )
    for index, row in enumerate(rows):
        terms = [(v, a) for v, a in zip(variables, row.coefficients, strict=True) if a]
        problem.addConstraint(
            pulp.LpConstraint(
                pulp.LpAffineExpression(terms),
                sense=_PULP_SENSE[row.sense],
                rhs=float(row.rhs),
                name=f"c{index}",
            )
        )
    if min_total:
        problem.addConstraint(
            pulp.LpConstraint(
                pulp.LpAffineExpression([(v, lot) for v, lot in zip(variables, lots, strict=True)]),
                sense=pulp.LpConstraintGE,
                rhs=min_total,
                name="min_total",
            )
        )
    if minimise:
        problem.addConstraint(
            pulp.LpConstraint(
                pulp.LpAffineExpression([(v, 1) for v in variables]),
                sense=pulp.LpConstraintGE,
                rhs=1,
                name="non_empty",
            )
        )
    return problem, variables


def _fmt_fill(bundle: OrderBundle, quantities: Sequence[int]) -> str:
    parts = [f"{leg.symbol} {qty}" for leg, qty in zip(bundle.legs, quantities, strict=True)]
    return ", ".join(parts)


class PreSolver:
    """Answers, for one bundle at a time, whether it can ever fill.

    Thread-safe: each call builds its own PuLP problem and HiGHS instance.
    """

    def __init__(self, config: PresolveConfig | None = None) -> None:
        self.config = config or PresolveConfig()

    def check(self, bundle: OrderBundle) -> Verdict:
        """Pre-solve ``bundle``; never raises for a bundle that is merely bad."""
        config = self.config
        if len(bundle.legs) > config.max_legs:
            return Verdict(
                outcome=Outcome.TOO_LARGE,
                solver=config.solver,
                reason=f"{len(bundle.legs)} legs exceed the pre-solver's limit of "
                f"{config.max_legs}",
            )
        deadline = time.perf_counter() + config.time_limit_ms / 1000
        started = time.perf_counter()
        rows = _scaled_rows(bundle, bundle.constraints)
        caps = [leg.max_lots for leg in bundle.legs]
        problem, variables = _model(
            bundle, rows, caps, minimise=False, min_total=bundle.min_total_fill
        )
        built = time.perf_counter()
        raw = _run(problem, variables, config, config.time_limit_ms / 1000)

        def verdict(outcome: Outcome, reason: str | None, **extra: Any) -> Verdict:
            return Verdict(
                outcome=outcome,
                reason=reason,
                solver=config.solver,
                build_ms=(built - started) * 1000,
                solve_ms=(time.perf_counter() - built) * 1000,
                **extra,
            )

        if raw.status == "error":
            return verdict(Outcome.SOLVER_ERROR, f"solver failed: {raw.detail}")
        if raw.status == "infeasible":
            return verdict(Outcome.INFEASIBLE, self._reason(bundle, rows, deadline))
        if raw.lots is None:  # "timeout", or "optimal" without values (never seen)
            return verdict(
                Outcome.TIMEOUT,
                f"no fill found within the {config.time_limit_ms} "
                "ms time limit; feasibility unknown",
            )
        lots = _round_lots(raw.lots)
        if lots is None:
            return verdict(Outcome.SOLVER_ERROR, "solver returned a non-integral solution")
        fill = tuple(n * leg.lot_size for n, leg in zip(lots, bundle.legs, strict=True))
        problems = bundle.violations(fill)
        if problems:
            return verdict(
                Outcome.SOLVER_ERROR,
                "solver solution failed exact verification: " + "; ".join(problems),
            )
        optimal = raw.status == "optimal"
        if sum(fill) == 0:
            if not optimal:  # stopped by the time limit holding only the empty fill
                return verdict(
                    Outcome.TIMEOUT,
                    "time limit reached before a non-empty fill was found; feasibility unknown",
                )
            return verdict(Outcome.INFEASIBLE, self._reason(bundle, rows, deadline))
        min_fill = (
            _smallest_fill(bundle, rows, caps, config, deadline) if config.smallest_fill else None
        )
        return verdict(
            Outcome.FEASIBLE,
            None if optimal else "time limit reached; max fill not proven maximal",
            max_fill=fill,
            optimal=optimal,
            min_fill=min_fill,
        )

    def _reason(self, bundle: OrderBundle, rows: Sequence[_Row], deadline: float) -> str:
        if self.config.explain:
            return _explain(bundle, rows, self.config, deadline)
        return "no non-empty fill satisfies the constraints within the legs' limits"


def _smallest_fill(
    bundle: OrderBundle,
    rows: Sequence[_Row],
    caps: Sequence[int],
    config: PresolveConfig,
    deadline: float,
    *,
    constraints: Sequence[Constraint] | None = None,
) -> tuple[int, ...] | None:
    """The verified non-empty fill with the least total quantity, if found in time.

    ``constraints`` restricts the exact check to a subset (when explaining);
    by default the whole bundle is verified.
    """
    remaining = deadline - time.perf_counter()
    if remaining <= 0:
        return None
    problem, variables = _model(
        bundle,
        rows,
        caps,
        minimise=True,
        min_total=bundle.min_total_fill if constraints is None else None,
    )
    raw = _run(problem, variables, config, remaining)
    if raw.lots is None or raw.status not in ("optimal", "feasible"):
        return None
    lots = _round_lots(raw.lots)
    if lots is None:
        return None
    fill = [n * leg.lot_size for n, leg in zip(lots, bundle.legs, strict=True)]
    checked = constraints if constraints is not None else bundle.constraints
    if sum(fill) == 0 or any(n < 0 or n > cap for n, cap in zip(lots, caps, strict=True)):
        return None
    if not all(c.holds(fill) for c in checked):
        return None
    if constraints is None and bundle.violations(fill):
        return None
    return tuple(fill)


def _feasible_alone(
    bundle: OrderBundle, rows: Sequence[_Row], config: PresolveConfig, deadline: float
) -> bool | None:
    """Whether a non-empty fill within limits satisfies ``rows``; None if unknown."""
    remaining = deadline - time.perf_counter()
    if remaining <= 0:
        return None
    caps = [leg.max_lots for leg in bundle.legs]
    problem, variables = _model(bundle, rows, caps, minimise=False, min_total=None)
    raw = _run(problem, variables, config, remaining)
    if raw.status == "infeasible":
        return False
    if raw.lots is None or raw.status == "error":
        return None
    lots = _round_lots(raw.lots)
    if lots is None:
        return None
    return sum(lots) > 0 if raw.status == "optimal" else (True if sum(lots) > 0 else None)


def _sign_reason(row: _Row, constraint: Constraint, symbols: Sequence[str]) -> str | None:
    """Why a homogeneous row admits no non-empty fill at any size, if it is the signs."""
    if row.rhs != 0:
        return None
    signs = {(a > 0) - (a < 0) for a in row.coefficients}
    rendered = constraint.render(symbols)
    if row.sense is Sense.EQ and signs in ({1}, {-1}):
        kind = "positive" if signs == {1} else "negative"
        return (
            f"constraint {constraint.name} ({rendered}) needs legs with coefficients of "
            f"both signs, but every coefficient is {kind}, so only the empty fill "
            "satisfies it"
        )
    if row.sense is Sense.LE and signs == {1}:
        return (
            f"constraint {constraint.name} ({rendered}) needs a leg with a coefficient "
            "<= 0, but every coefficient is positive, so only the empty fill satisfies it"
        )
    if row.sense is Sense.GE and signs == {-1}:
        return (
            f"constraint {constraint.name} ({rendered}) needs a leg with a coefficient "
            ">= 0, but every coefficient is negative, so only the empty fill satisfies it"
        )
    return None


def _explain(
    bundle: OrderBundle, rows: Sequence[_Row], config: PresolveConfig, deadline: float
) -> str:
    """A reason a person can act on for an infeasible bundle."""
    symbols = bundle.symbols
    constraints = bundle.constraints
    generic = "no non-empty fill satisfies the constraints within the legs' limits and lot sizes"
    if not constraints:
        return (
            f"no non-empty fill reaches the minimum total fill {bundle.min_total_fill} "
            "within the legs' limits"
            if bundle.min_total_fill
            else generic
        )
    for row, constraint in zip(rows, constraints, strict=True):
        reason = _sign_reason(row, constraint, symbols)
        if reason:
            return f"{reason}{_description(constraint)}"
    # The smallest set of constraints that no non-empty fill satisfies (deletion filter).
    keep = list(range(len(rows)))
    if _feasible_alone(bundle, rows, config, deadline) is not False:
        # Only the min_total_fill row (absent from this check) makes it infeasible.
        return (
            f"fills that satisfy the constraints total less than the minimum total fill "
            f"{bundle.min_total_fill}"
            if bundle.min_total_fill
            else generic
        )
    for index in list(keep):
        trial = [i for i in keep if i != index]
        if trial and _feasible_alone(bundle, [rows[i] for i in trial], config, deadline) is False:
            keep = trial
    culprits = [constraints[i] for i in keep]
    culprit_rows = [rows[i] for i in keep]
    names = " and ".join(f"{c.name} ({c.render(symbols)}){_description(c)}" for c in culprits)
    subject = f"constraint {names}" if len(culprits) == 1 else f"constraints {names} together"
    # How large would a fill have to be? Lift the limits to a bound large enough for
    # the smallest two-leg solution (|a_j|/g lots of one leg against |a_i|/g of the other).
    bound = max((abs(a) for row in culprit_rows for a in row.coefficients), default=1)
    caps = [max(leg.max_lots, bound) for leg in bundle.legs]
    smallest = _smallest_fill(bundle, culprit_rows, caps, config, deadline, constraints=culprits)
    if smallest is None:
        return f"no non-empty fill within the legs' limits satisfies {subject}"
    over = [
        f"{leg.symbol} {qty} above its limit {leg.max_qty}"
        for leg, qty in zip(bundle.legs, smallest, strict=True)
        if qty > leg.max_qty
    ]
    return (
        f"no non-empty fill within the legs' limits satisfies {subject}: with lot sizes "
        f"{_lots(bundle)} the smallest fill that does is {_fmt_fill(bundle, smallest)}, "
        f"which needs {', '.join(over) or 'more than the limits allow'}"
    )


def _description(constraint: Constraint) -> str:
    return f" [{constraint.description}]" if constraint.description else ""


def _lots(bundle: OrderBundle) -> str:
    sizes = {leg.lot_size for leg in bundle.legs}
    if len(sizes) == 1:
        return str(sizes.pop())
    return ", ".join(f"{leg.symbol} {leg.lot_size}" for leg in bundle.legs)
