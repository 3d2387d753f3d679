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
* A claim ("infeasible", "optimal") is only as good as the rows the solver was
  given. Integer rows of 10^14 made HiGHS prove wrong smallest fills and CBC
  declare feasible bundles infeasible; :func:`solver_rows` divides large rows
  down, and :func:`solve_lots` solves a lot-count model so that what it claims
  holds for the integer rows themselves (docs/presolve.md).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
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
    "INTEGRALITY_TOL",
    "MAX_EXACT_ACTIVITY",
    "ROW_TOLERANCE",
    "SMALL_MODEL_OPTIONS",
    "SOLVER_MAX_COEFFICIENT",
    "FastHiGHS",
    "LotSolution",
    "ScaledRow",
    "Side",
    "Solution",
    "SolveStatus",
    "SolverName",
    "SolverRow",
    "SolverSettings",
    "lot_model",
    "oversized_row",
    "read_solution",
    "relative_gap",
    "round_lots",
    "row_constraints",
    "row_holds",
    "scaled_rows",
    "solve",
    "solve_lots",
    "solver_rows",
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
#: integer row, with each leg at its largest lot count. Below 2^53 every coefficient,
#: activity and partial sum is an exact double, so the row :func:`solver_rows` hands
#: the solver (divided by a power of two) is the row itself and the exact check of its
#: answer is meaningful; above it HiGHS has been seen to return solutions that fail
#: exact verification and to loop in root separation without checking its time limit
#: (a 2-leg bundle with coefficients ~1e9 and limits raised to ~3e9 lots).
MAX_EXACT_ACTIVITY: Final = 2**53

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

#: CBC's command line without its preprocessing, for the smallest-fill solves
#: (:func:`solve_lots` with ``minimise``). With it, CBC was seen to cut off the
#: optimum and report the worse point as optimal: the smallest fill of a 4-leg
#: single_factor_hedged bundle, 10 lots of weight against 9
#: (tests/unit/gateway/solver/test_milp.py), and 1 such case in 900 brute-forced
#: hedge bundles (docs/presolve.md); without it CBC found every optimum. The largest
#: fill keeps it: no wrong maximum was seen with it, and without it 1 in 20 of
#: bench/presolve.py's 50-leg bundles ran into the 1 s limit (189 ms with it).
CBC_NO_PREPROCESS: Final[tuple[str, ...]] = ("preprocess off",)


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
        cbc_preprocess: let CBC preprocess the model (default True; see
            :data:`CBC_NO_PREPROCESS`).
    """

    solver: SolverName = "highs"
    gap_rel: float = 0.0
    integer_objective: bool = False
    small_model: bool = False
    cbc_preprocess: bool = True

    def make(self, time_limit_s: float) -> Any:
        """A fresh PuLP solver with a wall-clock limit of ``time_limit_s`` seconds
        (at least 10 ms for CBC)."""
        if self.solver == "cbc":
            return pulp.COIN_CMD(
                path=CBC_PATH,
                msg=False,
                timeLimit=max(time_limit_s, 0.01),
                gapRel=self.gap_rel,
                options=[] if self.cbc_preprocess else list(CBC_NO_PREPROCESS),
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
    """The first row whose activity as the solver gets it (:func:`solver_rows`: its
    largest coefficient below 2^24) can exceed :data:`MAX_EXACT_ACTIVITY` with each leg
    at ``caps`` lots, with that activity bound; None when every row is safe."""
    for row in rows:
        shift = _shift(row)
        activity = sum(abs(a) * cap for a, cap in zip(row.coefficients, caps, strict=True))
        activity += math.ceil(abs(Fraction(row.rhs)))
        if activity >> shift > MAX_EXACT_ACTIVITY:
            return row, activity >> shift
    return None


def _shift(row: ScaledRow) -> int:
    """The power of two ``row`` is divided by for the solver (:func:`solver_rows`)."""
    largest = max((abs(a) for a in row.coefficients), default=0)
    return max(largest.bit_length() - SOLVER_MAX_COEFFICIENT.bit_length() + 1, 0)


#: The largest coefficient a row reaches the solver with (2^24): a row with larger
#: ones is divided by a power of two to bring them below it (:func:`solver_rows`).
#: At 2^30 CBC still declared some feasible beta- and dollar-neutral bundles
#: infeasible; at 2^24 neither solver disagreed with brute force on the same bundles.
SOLVER_MAX_COEFFICIENT: Final = 2**24
#: How far past its bound the solver may leave a row it accepts: HiGHS's
#: ``mip_feasibility_tolerance`` (CBC's is smaller).
ROW_TOLERANCE: Final = 1e-6

#: Which of a row's two solver forms a model holds (see :func:`solver_rows`): ``outer``
#: holds exactly the fills that satisfy the row (and the solver may accept a little
#: more within its tolerance); ``inner`` only fills that satisfy it, even so.
Side = Literal["outer", "inner"]


@dataclass(frozen=True, slots=True)
class SolverRow:
    """One integer row as the solver sees it: ``lower <= Σ coefficients[i]·n_i <= upper``.

    ``terms`` are ``(leg index, coefficient)`` for the non-zero coefficients; a bound
    of None is absent. ``exact`` says the solver's tolerance is below half of one
    unit of the row, so the solver holds exactly the lot counts that satisfy it.
    """

    name: str
    terms: tuple[tuple[int, float], ...]
    lower: float | None
    upper: float | None
    exact: bool


def solver_rows(row: ScaledRow, caps: Sequence[int], side: Side) -> SolverRow:
    """``row`` as the solver gets it over lot counts up to ``caps``, with its bounds
    for ``side``.

    A row whose coefficients pass :data:`SOLVER_MAX_COEFFICIENT` is divided by the
    power of two that brings them below it, the scale the solvers' tolerances and
    cuts are made for. Fed the integers themselves (~10^14 for a beta bound with
    prices to six decimals), HiGHS was seen to prove a smallest fill of 5 lots, and
    with other options 47, where 3 lots satisfy the rows.

    One unit of the integer row is then ``u`` (1, or the power of two). Up to 2^53
    a coefficient divided by a power of two is exact, and so is every activity at
    whole lot counts while it stays below 2^53 (:func:`oversized_row`): the
    ``outer`` form, the row's own bound, keeps exactly the fills that satisfy it. A
    coefficient past 2^53 (a beta bound over prices with many decimals) is rounded
    to a double; the outer bound is then loosened by the most the rounding and the
    sum can move an activity (``E``), so that it still keeps every such fill.
    Either way "infeasible" and "optimal" on the outer form hold for the row
    itself, as far as the solver is right on a well-scaled model.

    The solver accepts a point within :data:`ROW_TOLERANCE` of the bound, at lot
    counts within :data:`INTEGRALITY_TOL` of whole numbers, plus ``E``: a margin
    ``δ``. When ``2δ < u`` no such point misses the row by a whole unit (``exact``);
    else the ``inner`` form tightens the bound by ``δ − u/2`` (and ``E``), so that
    every point the solver accepts rounds to a fill that satisfies the row. An
    equality's inner form is the equality itself.
    """
    shift = _shift(row)
    unit = math.ldexp(1.0, -shift)
    terms = tuple((i, math.ldexp(float(a), -shift)) for i, a in enumerate(row.coefficients) if a)
    rounding = Fraction(0)
    if any(abs(a) > MAX_EXACT_ACTIVITY for a in row.coefficients):  # not all exact doubles
        for (i, term), a in zip(terms, (a for a in row.coefficients if a), strict=True):
            rounding += abs(Fraction(a, 1 << shift) - Fraction(term)) * caps[i]
    bound = abs(Fraction(row.rhs))
    if bound >= MAX_EXACT_ACTIVITY:  # the bound itself is rounded
        rounding += bound / (1 << shift) * Fraction(2.0**-52)
    reach = sum(abs(term) * caps[i] for i, term in terms)
    if rounding or reach > MAX_EXACT_ACTIVITY * unit:
        # Rounded coefficients, or sums past 2^53: each addition may round too.
        error = float(rounding) + (len(terms) + 1) * reach * 2.0**-52
    else:
        error = 0.0
    margin = ROW_TOLERANCE + INTEGRALITY_TOL * sum(abs(a) for _, a in terms) + error
    exact = 2 * margin < unit
    rhs = row.rhs
    low = math.ceil(rhs) * unit if row.sense is not Sense.LE else None
    high = math.floor(rhs) * unit if row.sense is not Sense.GE else None
    if row.sense is Sense.EQ and rhs != int(rhs):  # no whole lot count reaches it
        low = high = float(rhs) * unit
    if side == "outer" or row.sense is Sense.EQ:
        move = -error
    else:
        move = max(margin + error - unit / 2, 0.0)
    low = None if low is None else low + move
    high = None if high is None else high - move
    return SolverRow(row.name, terms, low, high, exact)


def row_holds(row: ScaledRow, lots: Sequence[int]) -> bool:
    """Whether ``lots`` satisfy ``row`` exactly (integer arithmetic)."""
    activity = sum(a * n for a, n in zip(row.coefficients, lots, strict=True))
    return row.sense.holds(Fraction(activity), Fraction(row.rhs))


def row_constraints(
    row: SolverRow, variables: Sequence[pulp.LpVariable | None], name: str
) -> list[pulp.LpConstraint]:
    """``row`` as PuLP constraints named after ``name`` over one lot-count variable
    per leg: one for a single bound or equal bounds, two (``name_lo``, ``name_hi``) for
    a range.

    A leg whose variable is None is not in the model (its fill is 0 there) and is
    left out of the row.
    """
    expression = [(variables[i], a) for i, a in row.terms if variables[i] is not None]
    if row.lower is not None and row.lower == row.upper:
        return [_constraint(expression, pulp.LpConstraintEQ, row.lower, name)]
    bounds = [
        (pulp.LpConstraintGE, row.lower, "_lo"),
        (pulp.LpConstraintLE, row.upper, "_hi"),
    ]
    present = [(sense, bound, suffix) for sense, bound, suffix in bounds if bound is not None]
    return [
        _constraint(expression, sense, bound, name if len(present) == 1 else name + suffix)
        for sense, bound, suffix in present
    ]


def _constraint(
    terms: Sequence[tuple[pulp.LpVariable | None, float]], sense: int, rhs: float, name: str
) -> pulp.LpConstraint:
    return pulp.LpConstraint(pulp.LpAffineExpression(terms), sense=sense, rhs=rhs, name=name)


def lot_model(
    bundle: OrderBundle,
    rows: Sequence[ScaledRow],
    caps: Sequence[int],
    *,
    minimise: bool,
    min_total: int | None,
    side: Side = "outer",
) -> tuple[pulp.LpProblem, list[pulp.LpVariable]]:
    """The pre-solver's MILP over lot counts, one integer variable per leg.

    Maximises (or, with ``minimise``, minimises) the total fill quantity in units
    of the legs' common lot divisor, an integer-valued objective, subject to
    ``rows``, ``0 <= n_i <= caps[i]`` (normally the legs' limits in lots), a
    minimum total quantity when ``min_total`` is set, and, when minimising, at
    least one lot (the empty fill is excluded). ``rows`` reach the solver in their
    ``side`` form (:func:`solver_rows`). Returns the problem and its variables in leg
    order.
    """
    lots = [leg.lot_size for leg in bundle.legs]
    problem = pulp.LpProblem("presolve", pulp.LpMinimize if minimise else pulp.LpMaximize)
    variables = [
        problem.add_variable(f"n{i:05d}", 0, cap, cat=pulp.const.LpInteger)
        for i, cap in enumerate(caps)
    ]
    problem.setObjective(
        pulp.LpAffineExpression(list(zip(variables, _weights(bundle), strict=True)))
    )
    for index, row in enumerate(rows):
        for constraint in row_constraints(solver_rows(row, caps, side), variables, f"c{index}"):
            problem.addConstraint(constraint)
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


def _weights(bundle: OrderBundle) -> list[int]:
    """Each leg's lot in units of the legs' common lot divisor: the objective's weights."""
    lots = [leg.lot_size for leg in bundle.legs]
    unit = math.gcd(*lots)
    return [lot // unit for lot in lots]


#: What :func:`solve_lots` concluded: a :data:`SolveStatus`, or ``inexact`` when the
#: solver's fills lie within its tolerance of a row's bound and fail it exactly.
LotStatus = Literal["optimal", "feasible", "infeasible", "timeout", "error", "inexact"]


@dataclass(frozen=True, slots=True)
class LotSolution:
    """A lot-count model's answer, checked against its rows in integer arithmetic.

    Attributes:
        status: ``optimal`` (``lots`` proven best), ``feasible`` (``lots`` not proven
            best), ``infeasible`` (no lot counts satisfy the rows), ``timeout``,
            ``error`` or ``inexact`` (see :data:`LotStatus`).
        lots: lot counts within the caps that satisfy every row exactly, when found.
        detail: what went wrong, for ``error`` and ``inexact``.
    """

    status: LotStatus
    lots: tuple[int, ...] | None
    detail: str = ""


def solve_lots(
    bundle: OrderBundle,
    rows: Sequence[ScaledRow],
    caps: Sequence[int],
    settings: SolverSettings,
    time_limit_s: float,
    *,
    minimise: bool,
    min_total: int | None,
) -> LotSolution:
    """:func:`lot_model` solved so that what it claims holds for ``rows`` exactly.

    The model is solved with its rows in their ``outer`` form (:func:`solver_rows`),
    which every fill satisfying them keeps: "infeasible" and "optimal" hold for the
    rows themselves. Its solution, rounded, must satisfy every row exactly. When it
    does not (it lies in the tolerance band of a row too fine for the solver), the
    ``inner`` form is solved in the time left: its solution satisfies the rows, and
    is proven best when its total equals the outer optimum's.
    """
    deadline = time.perf_counter() + time_limit_s
    if minimise:
        settings = replace(settings, cbc_preprocess=False)
    problem, variables = lot_model(bundle, rows, caps, minimise=minimise, min_total=min_total)
    outer = solve(problem, variables, settings, time_limit_s)
    if outer.status in ("infeasible", "error", "timeout"):
        return LotSolution(outer.status, None, outer.detail)
    if outer.values is None:  # "optimal" without values: never seen
        return LotSolution("timeout", None)
    off = _verified(outer.values, rows, caps)
    if not isinstance(off, str):
        return LotSolution(outer.status, off)
    if all(solver_rows(row, caps, "outer").exact for row in rows):
        return LotSolution("inexact", None, off)
    remaining = deadline - time.perf_counter()
    if remaining <= 0:
        return LotSolution("inexact", None, off)
    problem, variables = lot_model(
        bundle, rows, caps, minimise=minimise, min_total=min_total, side="inner"
    )
    inner = solve(problem, variables, settings, remaining)
    found = None if inner.values is None else _verified(inner.values, rows, caps)
    if found is None or isinstance(found, str):
        return LotSolution("inexact", None, off)
    weights = _weights(bundle)
    bound = round(sum(w * v for w, v in zip(weights, outer.values, strict=True)))
    total = sum(w * n for w, n in zip(weights, found, strict=True))
    if outer.status == "optimal" and total == bound:
        return LotSolution("optimal", found)
    return LotSolution(
        "feasible",
        found,
        f"not proven best: {off}; the best fill found that satisfies it exactly is reported",
    )


def _verified(
    values: Sequence[float], rows: Sequence[ScaledRow], caps: Sequence[int]
) -> tuple[int, ...] | str:
    """``values`` rounded to lot counts when they are whole, within ``caps`` and
    satisfy every row exactly; else why not."""
    lots = round_lots(values)
    if lots is None:
        return "the solver's lot counts are not whole numbers"
    if any(not 0 <= n <= cap for n, cap in zip(lots, caps, strict=True)):
        return "the solver's fill is outside the legs' limits"
    for row in rows:
        if not row_holds(row, lots):
            return (
                f"constraint {row.name}: the solver's fill misses it by less than the "
                "solver's tolerance"
            )
    return tuple(lots)
