"""MILP plumbing shared by the pre-solver, its explanations and the venue's auction.

Everything here is about getting an exact answer out of PuLP: setting up
HiGHS (in-process) or CBC (PuLP's bundled binary), reading what the solver
really concluded, rounding its values to lot counts, and turning a bundle's
exact constraints into small integer rows.

Reading the status is where the traps are:

* PuLP reports a HiGHS run stopped by its time limit (or an interrupt, or an
  iteration limit) while holding a solution as ``LpStatusOptimal``.
  :func:`read_solution` ignores PuLP's status for HiGHS and reads HiGHS's own
  model status and primal solution status.
* A CBC run stopped by its time limit may be reported as "optimal" too, with
  ``sol_status`` saying only "integer feasible"; and a run that stops with no
  integer solution still leaves the LP relaxation's fractional values in the
  variables. :func:`read_solution` reads ``sol_status`` and hands out values
  only when CBC reports an integer solution.
* Whatever the status, a solution is only a candidate: :func:`round_lots`
  refuses values that are not integers, and callers re-check the rounded fill
  against the bundle in exact arithmetic before acting on it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Final, Literal

import highspy
import numpy as np
import pulp
from pulp.apis import coin_api

from gateway.core.bundle import Constraint, OrderBundle, Sense

__all__ = [
    "CBC_PATH",
    "HIGHS_MAX_MATRIX_VALUE",
    "INTEGRALITY_TOL",
    "MAX_EXACT_ACTIVITY",
    "SMALL_MODEL_OPTIONS",
    "FastHiGHS",
    "ScaledRow",
    "Solution",
    "SolveStatus",
    "SolverName",
    "SolverSettings",
    "beyond_highs",
    "lot_model",
    "oversized_row",
    "read_solution",
    "relative_gap",
    "round_lots",
    "row_constraint",
    "scaled_rows",
    "solve",
]

#: ``highs`` (in-process through highspy) or ``cbc`` (PuLP's bundled binary, a subprocess).
SolverName = Literal["highs", "cbc"]

#: What a solve concluded, read from the solver itself (see :func:`read_solution`):
#: ``optimal`` proven optimal; ``feasible`` stopped by a limit holding a solution;
#: ``infeasible`` proven infeasible; ``timeout`` stopped by a limit with no solution;
#: ``error`` anything else (a solver failure or an unexpected status).
SolveStatus = Literal["optimal", "feasible", "infeasible", "timeout", "error"]

#: A value within this distance of an integer counts as that integer.
INTEGRALITY_TOL: Final = 1e-6

#: The largest row activity a model may reach: ``Σ_i |a_i| · cap_i + |rhs|`` of every
#: integer row, with each leg at its largest lot count. Below 2^53 every activity,
#: partial sum and coefficient is an exact double, so the solver's arithmetic on the
#: model is exact before its tolerances; above it HiGHS has been seen to return
#: solutions that fail exact verification, to drop rows (coefficients >= 1e15 count
#: as infinite) and to loop in root separation without checking its time limit
#: (a 2-leg bundle with coefficients ~1e9 and limits raised to ~3e9 lots).
MAX_EXACT_ACTIVITY: Final = 2**53

#: HiGHS counts a matrix value from this size on as infinite and refuses the model
#: (its ``large_matrix_value``); a row can stay below 2^53 in activity and still hold
#: such a coefficient (one leg at one lot).
HIGHS_MAX_MATRIX_VALUE: Final = 10**15

#: PuLP's bundled cbc binary, run through ``COIN_CMD`` (``PULP_CBC_CMD`` is deprecated in 3.3).
CBC_PATH: Final[str] = os.path.normpath(coin_api.pulp_cbc_path)

#: HiGHS options for small models that HiGHS closes at the root node anyway (the
#: pre-solver's). Measured on 10-leg hedge bundles (bench/presolve.py): feasibility
#: jump costs ~3 ms per solve and RINS/RENS/root-reduced-cost most of the p99 tail;
#: HiGHS presolve only adds time at this size.
SMALL_MODEL_OPTIONS: Final[Mapping[str, str | bool]] = MappingProxyType(
    {
        "presolve": "off",
        "mip_heuristic_run_feasibility_jump": False,
        "mip_heuristic_run_rins": False,
        "mip_heuristic_run_rens": False,
        "mip_heuristic_run_root_reduced_cost": False,
    }
)


# ---------------------------------------------------------------------------
# Solver set-up


class FastHiGHS(pulp.HiGHS):  # type: ignore[misc]  # pulp ships no type information
    """PuLP's HiGHS interface with the model passed in one call.

    ``pulp.HiGHS.buildSolverModel`` adds columns and rows one at a time from
    Python; this builds the same model in a handful of array calls. Status
    handling stays PuLP's, which maps a time limit to "optimal": read the
    outcome with :func:`read_solution`, never from ``problem.status``.
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
        _checked(
            "columns",
            h.addCols(
                count,
                costs,
                lower,
                upper,
                0,
                np.empty(0, np.int32),
                np.empty(0, np.int32),
                np.empty(0),
            ),
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
            _checked(
                "rows",
                h.addRows(
                    len(rows),
                    row_lower,
                    row_upper,
                    len(indices),
                    np.array(starts, np.int32),
                    np.array(indices, np.int32),
                    np.array(values),
                ),
            )


def _checked(what: str, status: Any) -> None:
    """HiGHS refuses values it counts as infinite (a matrix value >= 1e15) with
    ``kError`` and leaves them out; solving the rest would answer another model."""
    if status == highspy.HighsStatus.kError:
        raise pulp.PulpSolverError(f"HiGHS refused the model's {what} (a value out of its range)")


@dataclass(frozen=True, slots=True, kw_only=True)
class SolverSettings:
    """How to set up a solver for one kind of model; :meth:`make` builds one per solve.

    Attributes:
        solver: ``highs`` (in-process, :class:`FastHiGHS`, one thread) or ``cbc``.
        gap_rel: relative optimality gap at which the solver may stop (default 0:
            prove optimality).
        integer_objective: the objective is integer-valued at every integer point,
            so HiGHS may stop at an absolute gap of 0.5: a gap below 1 proves
            optimality (default False). CBC keeps its own absolute gap.
        small_model: use :data:`SMALL_MODEL_OPTIONS` for HiGHS (default False:
            large models, such as an auction, keep HiGHS presolve and heuristics).
    """

    solver: SolverName = "highs"
    gap_rel: float = 0.0
    integer_objective: bool = False
    small_model: bool = False

    def make(self, time_limit_s: float) -> Any:
        """A fresh PuLP solver with a wall-clock limit of ``time_limit_s`` seconds
        (at least 10 ms for CBC)."""
        if self.solver == "cbc":
            return pulp.COIN_CMD(
                path=CBC_PATH, msg=False, timeLimit=max(time_limit_s, 0.01), gapRel=self.gap_rel
            )
        options = SMALL_MODEL_OPTIONS if self.small_model else {}
        return FastHiGHS(
            msg=False,
            timeLimit=time_limit_s,
            gapRel=self.gap_rel,
            gapAbs=0.5 if self.integer_objective else None,
            threads=1,
            **options,
        )


# ---------------------------------------------------------------------------
# Running a problem and reading the answer


@dataclass(frozen=True, slots=True)
class Solution:
    """A raw solver answer, before rounding and exact verification.

    Attributes:
        status: see :data:`SolveStatus`.
        values: the solver's solution, one value per variable in the order the
            caller gave them, whenever the solver holds one (HiGHS: a feasible
            primal solution; CBC: an optimal or integer-feasible one); else None.
            Never trust them without :func:`round_lots` and an exact re-check.
        detail: what went wrong, for ``error``.
    """

    status: SolveStatus
    values: tuple[float, ...] | None
    detail: str = ""


def solve(
    problem: pulp.LpProblem,
    variables: Sequence[pulp.LpVariable],
    settings: SolverSettings,
    time_limit_s: float,
) -> Solution:
    """Solve ``problem`` with a solver built from ``settings`` and read the outcome.

    A solver failure (``PulpSolverError``) is an ``error`` solution, not an exception.
    """
    try:
        problem.solve(settings.make(time_limit_s))
        return read_solution(problem, variables, settings.solver)
    except pulp.PulpSolverError as exc:
        return Solution("error", None, str(exc))
    except (ArithmeticError, LookupError, ValueError, TypeError) as exc:
        # PuLP reading back a model HiGHS refused part of (e.g. a row it dropped).
        return Solution("error", None, f"{type(exc).__name__}: {exc}")


def read_solution(
    problem: pulp.LpProblem, variables: Sequence[pulp.LpVariable], solver: SolverName
) -> Solution:
    """What the solver that just ran on ``problem`` concluded, read from the solver itself.

    ``variables`` are the ones whose values the caller wants, in the order wanted.
    """
    if solver == "highs":
        return _read_highs(problem, variables)
    return _read_cbc(problem, variables)


def _read_highs(problem: pulp.LpProblem, variables: Sequence[pulp.LpVariable]) -> Solution:
    h: Any = problem.solverModel
    model_status = h.getModelStatus()
    has_solution = h.getInfo().primal_solution_status == 2  # kSolutionStatusFeasible
    # Columns are in lp.variables() order (PuLP sorts by name), not the caller's:
    # map back through each variable's column index.
    columns = h.getSolution().col_value
    values = tuple(columns[v.index] for v in variables) if has_solution else None
    status_enum = highspy.HighsModelStatus
    if model_status == status_enum.kOptimal:
        return Solution("optimal", values)
    if model_status in (status_enum.kInfeasible, status_enum.kUnboundedOrInfeasible):
        return Solution("infeasible", values)
    if model_status in (
        status_enum.kTimeLimit,
        status_enum.kInterrupt,
        status_enum.kIterationLimit,
        status_enum.kSolutionLimit,
    ):
        return Solution("feasible" if values else "timeout", values)
    return Solution("error", values, f"HiGHS model status {h.modelStatusToString(model_status)}")


def _read_cbc(problem: pulp.LpProblem, variables: Sequence[pulp.LpVariable]) -> Solution:
    # status: 1 optimal, -1 infeasible, 0 not solved; sol_status: 1 optimal, 2 feasible.
    sol_status = problem.sol_status
    values = (
        tuple(float(v.varValue) if v.varValue is not None else math.nan for v in variables)
        if sol_status in (pulp.const.LpSolutionOptimal, pulp.const.LpSolutionIntegerFeasible)
        else None
    )
    if problem.status == pulp.const.LpStatusInfeasible:
        return Solution("infeasible", values)
    if sol_status == pulp.const.LpSolutionOptimal:
        return Solution("optimal", values)
    if sol_status == pulp.const.LpSolutionIntegerFeasible:
        return Solution("feasible", values)
    if problem.status == pulp.const.LpStatusNotSolved:
        return Solution("timeout", None)
    return Solution("error", None, f"CBC status {pulp.LpStatus.get(problem.status)}")


def relative_gap(problem: pulp.LpProblem, solver: SolverName) -> float | None:
    """The relative MIP gap the solver reached, if it reports one (HiGHS does; CBC
    through PuLP does not)."""
    if solver != "highs":
        return None
    gap = float(problem.solverModel.getInfo().mip_gap)
    return gap if math.isfinite(gap) else None


def round_lots(values: Sequence[float]) -> list[int] | None:
    """Nearest integers, or None if any value is not within :data:`INTEGRALITY_TOL` of one."""
    rounded: list[int] = []
    for value in values:
        if not math.isfinite(value):
            return None
        nearest = round(value)
        if abs(value - nearest) > INTEGRALITY_TOL:
            return None
        rounded.append(int(nearest))
    return rounded


# ---------------------------------------------------------------------------
# Rows over lot counts


@dataclass(frozen=True, slots=True)
class ScaledRow:
    """A bundle constraint over lot counts ``n_i = q_i / lot_i``, scaled to coprime integers.

    ``Σ_i coefficients[i] · n_i  sense  rhs`` holds exactly when the constraint
    holds for the fill ``q_i = lot_i · n_i``. ``rhs`` stays a Fraction when it is
    not a multiple of the coefficients' divisor (an equality then has no integer
    solution).
    """

    name: str
    coefficients: tuple[int, ...]
    sense: Sense
    rhs: int | Fraction


def scaled_rows(bundle: OrderBundle, constraints: Sequence[Constraint]) -> list[ScaledRow]:
    """``constraints`` (of ``bundle``) as integer rows over the legs' lot counts.

    From each constraint's integer form (:attr:`Constraint.integers`): each
    coefficient times its leg's lot size, all divided by their greatest common
    divisor (the right-hand side too, staying a Fraction when it is not a multiple).
    """
    lots = [leg.lot_size for leg in bundle.legs]
    rows: list[ScaledRow] = []
    for constraint in constraints:
        ints = [a * lot for a, lot in zip(constraint.integers, lots, strict=True)]
        divisor = math.gcd(*ints) or 1
        rhs, remainder = divmod(constraint.integer_rhs, divisor)
        rows.append(
            ScaledRow(
                constraint.name,
                tuple(a // divisor for a in ints),
                constraint.sense,
                rhs if remainder == 0 else Fraction(constraint.integer_rhs, divisor),
            )
        )
    return rows


def oversized_row(rows: Sequence[ScaledRow], caps: Sequence[int]) -> tuple[ScaledRow, int] | None:
    """The first row whose activity can exceed :data:`MAX_EXACT_ACTIVITY` with each
    leg at ``caps`` lots, with that activity bound; None when every row is safe."""
    for row in rows:
        activity = sum(abs(a) * cap for a, cap in zip(row.coefficients, caps, strict=True))
        activity += abs(row.rhs) if isinstance(row.rhs, int) else math.ceil(abs(row.rhs))
        if activity > MAX_EXACT_ACTIVITY:
            return row, activity
    return None


def beyond_highs(rows: Sequence[ScaledRow]) -> tuple[ScaledRow, int] | None:
    """The first row with a coefficient HiGHS refuses (:data:`HIGHS_MAX_MATRIX_VALUE`
    or more), with that coefficient; None when HiGHS takes every row."""
    for row in rows:
        largest = max((abs(a) for a in row.coefficients), default=0)
        if largest >= HIGHS_MAX_MATRIX_VALUE:
            return row, largest
    return None


_PULP_SENSE = {
    Sense.LE: pulp.LpConstraintLE,
    Sense.EQ: pulp.LpConstraintEQ,
    Sense.GE: pulp.LpConstraintGE,
}


def row_constraint(
    row: ScaledRow, variables: Sequence[pulp.LpVariable | None], name: str
) -> pulp.LpConstraint:
    """``row`` as a PuLP constraint named ``name`` over one lot-count variable per leg.

    A leg whose variable is None is not in the model (its fill is 0 there) and is
    left out of the row, as are zero coefficients.
    """
    terms = [
        (v, a) for v, a in zip(variables, row.coefficients, strict=True) if a and v is not None
    ]
    return pulp.LpConstraint(
        pulp.LpAffineExpression(terms),
        sense=_PULP_SENSE[row.sense],
        rhs=float(row.rhs),
        name=name,
    )


def lot_model(
    bundle: OrderBundle,
    rows: Sequence[ScaledRow],
    caps: Sequence[int],
    *,
    minimise: bool,
    min_total: int | None,
) -> tuple[pulp.LpProblem, list[pulp.LpVariable]]:
    """The pre-solver's MILP over lot counts, one integer variable per leg.

    Maximises (or, with ``minimise``, minimises) the total fill quantity in units
    of the legs' common lot divisor, an integer-valued objective, subject to
    ``rows``, ``0 <= n_i <= caps[i]`` (normally the legs' limits in lots), a
    minimum total quantity when ``min_total`` is set, and, when minimising, at
    least one lot (the empty fill is excluded). Returns the problem and its
    variables in leg order.
    """
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
        problem.addConstraint(row_constraint(row, variables, f"c{index}"))
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
