"""The shared MILP plumbing, against real PuLP with HiGHS and CBC (no mocks)."""

from __future__ import annotations

import itertools
import math
import random
from decimal import Decimal
from fractions import Fraction

import highspy
import pulp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core.bundle import Constraint, Leg, OrderBundle, Sense, Side
from gateway.solver.milp import (
    CBC_PATH,
    SMALL_MODEL_OPTIONS,
    FastHiGHS,
    ScaledRow,
    SolverSettings,
    lot_model,
    read_solution,
    relative_gap,
    round_lots,
    row_constraints,
    row_holds,
    scaled_rows,
    solve,
    solve_lots,
    solver_rows,
)

SOLVERS = ["highs", "cbc"]


def market_split(sense: str, *, seed: int = 0) -> tuple[pulp.LpProblem, list[pulp.LpVariable]]:
    """A Cornuéjols-Dawande market split instance: 10 rows over 100 binaries.

    With equality rows (``Σ a·x == Σa/2``) it is notoriously hard for branch and
    bound, almost surely infeasible, and neither solver finds or refutes a
    solution within milliseconds. With ``<=`` rows the empty choice is feasible,
    and maximising a random objective is far from proven optimal in milliseconds
    (measured here: 10 seeds of 10, even at 50 ms).
    """
    rng = random.Random(seed)
    problem = pulp.LpProblem("market_split", pulp.LpMaximize)
    xs = [problem.add_variable(f"x{j:03d}", 0, 1, cat=pulp.const.LpInteger) for j in range(100)]
    problem.setObjective(pulp.LpAffineExpression([(x, rng.randint(1, 99)) for x in xs]))
    for i in range(10):
        a = [rng.randint(0, 99) for _ in xs]
        problem.addConstraint(
            pulp.LpConstraint(
                pulp.LpAffineExpression(list(zip(xs, a, strict=True))),
                sense=sense,
                rhs=sum(a) // 2,
                name=f"r{i}",
            )
        )
    return problem, xs


def doubled(rhs: int) -> tuple[pulp.LpProblem, list[pulp.LpVariable]]:
    """2·x == rhs over an integer 0 <= x <= 5: infeasible for an odd ``rhs``."""
    problem = pulp.LpProblem("doubled", pulp.LpMaximize)
    x = problem.add_variable("x", 0, 5, cat=pulp.const.LpInteger)
    problem.setObjective(pulp.LpAffineExpression([(x, 1)]))
    problem.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression([(x, 2)]), rhs=rhs, name="c"))
    return problem, [x]


def satisfied(problem: pulp.LpProblem, xs: list[pulp.LpVariable], lots: list[int]) -> bool:
    """Whether the integer point ``lots`` satisfies every row of ``problem`` exactly."""
    value = dict(zip(xs, lots, strict=True))
    for constraint in problem.constraints():
        lhs = sum(int(a) * value[v] for v, a in constraint.items())
        rhs = -int(constraint.constant)
        holds = {
            pulp.LpConstraintLE: lhs <= rhs,
            pulp.LpConstraintEQ: lhs == rhs,
            pulp.LpConstraintGE: lhs >= rhs,
        }[constraint.sense]
        if not holds:
            return False
    return True


# --- solver set-up -------------------------------------------------------------------


def test_small_model_settings_give_a_tuned_highs():
    solver = SolverSettings(solver="highs", integer_objective=True, small_model=True).make(0.25)
    assert isinstance(solver, FastHiGHS)
    assert solver.timeLimit == 0.25
    assert solver.gapRel == 0.0
    assert solver.gapAbs == 0.5
    assert solver.threads == 1
    assert solver.optionsDict == dict(SMALL_MODEL_OPTIONS)
    assert solver.optionsDict["presolve"] == "off"


def test_large_model_settings_keep_highs_defaults():
    solver = SolverSettings(solver="highs", gap_rel=0.001).make(0.08)
    assert isinstance(solver, FastHiGHS)
    assert (solver.timeLimit, solver.gapRel, solver.gapAbs) == (0.08, 0.001, None)
    assert solver.optionsDict == {}


def test_cbc_settings_use_the_bundled_binary_with_a_floor_on_the_time_limit():
    solver = SolverSettings(solver="cbc", gap_rel=0.001).make(0.0)
    assert isinstance(solver, pulp.COIN_CMD)
    assert solver.path == CBC_PATH
    assert solver.timeLimit == 0.01
    assert solver.optionsDict["gapRel"] == 0.001
    assert solver.options == []
    plain = SolverSettings(solver="cbc", cbc_preprocess=False).make(1.0)
    assert plain.options == ["preprocess off"]


# --- reading what the solver concluded -----------------------------------------------


@pytest.mark.parametrize("solver", SOLVERS)
def test_optimal_solution_is_read_in_the_callers_variable_order(solver):
    # PuLP sorts variables by name (x0, x1, x10, x11, x2, ...) and HiGHS's columns follow
    # that order; values must come back in the order the caller passed.
    problem = pulp.LpProblem("order", pulp.LpMaximize)
    xs = [problem.add_variable(f"x{i}", 0, i, cat=pulp.const.LpInteger) for i in range(12)]
    problem.setObjective(pulp.LpAffineExpression([(x, 1) for x in xs]))
    solution = solve(problem, xs, SolverSettings(solver=solver), 10.0)
    assert solution.status == "optimal"
    assert solution.values is not None
    assert round_lots(solution.values) == list(range(12))
    reversed_order = read_solution(problem, xs[::-1], solver)
    assert reversed_order.values == solution.values[::-1]


@pytest.mark.parametrize("solver", SOLVERS)
def test_infeasible_is_read_as_infeasible(solver):
    problem, xs = doubled(1)
    solution = solve(problem, xs, SolverSettings(solver=solver), 10.0)
    assert solution.status == "infeasible"
    assert solution.values is None


def test_highs_time_limit_with_a_solution_is_feasible_not_optimal():
    # PuLP maps HiGHS's time limit to LpStatusOptimal; the reader must not.
    # HiGHS needs a moment to find a first solution (longer on a loaded machine):
    # the limit grows until it stops on the limit holding one.
    for limit in (0.01, 0.03, 0.1, 0.3):
        problem, xs = market_split(pulp.LpConstraintLE)
        solution = solve(problem, xs, SolverSettings(solver="highs"), limit)
        if solution.values is not None:
            break
    assert problem.solverModel.getModelStatus() == highspy.HighsModelStatus.kTimeLimit
    assert solution.status == "feasible"
    assert solution.values is not None
    lots = round_lots(solution.values)
    assert lots is not None
    assert satisfied(problem, xs, lots)


@pytest.mark.parametrize("solver", SOLVERS)
def test_time_limit_without_a_solution_is_a_timeout_with_no_values(solver):
    problem, xs = market_split(pulp.LpConstraintEQ)
    solution = solve(problem, xs, SolverSettings(solver=solver), 0.02)
    assert solution.status == "timeout"
    assert solution.values is None


def test_cbc_timeout_hands_out_none_of_the_fractional_values_it_leaves():
    problem, xs = market_split(pulp.LpConstraintEQ)
    solution = solve(problem, xs, SolverSettings(solver="cbc"), 0.02)
    # The trap: after a timeout with no integer solution, CBC (through PuLP) still
    # leaves the LP relaxation's fractional values in the variables.
    left = [x.varValue for x in xs if x.varValue is not None]
    assert round_lots(left) is None
    assert solution.values is None


def test_cbc_stopped_early_with_a_solution_is_feasible_not_optimal():
    # Stopped on its node limit holding a solution, CBC's status line reads
    # "Stopped on nodes - objective value ...", which PuLP reports as optimal; only
    # sol_status says "integer feasible".
    problem, xs = market_split(pulp.LpConstraintLE)
    problem.solve(pulp.COIN_CMD(path=CBC_PATH, msg=False, maxNodes=0))
    solution = read_solution(problem, xs, "cbc")
    assert solution.status == "feasible"
    assert solution.values is not None
    lots = round_lots(solution.values)
    assert lots is not None
    assert satisfied(problem, xs, lots)


def test_relative_gap_is_reported_by_highs_only():
    # Stopped by a loose gap tolerance, not a time limit (with a 10 ms limit the gap
    # depended on the machine's load, and the test failed now and then): HiGHS
    # reports the gap it stopped at, 4.3% here.
    problem, xs = market_split(pulp.LpConstraintLE)
    solve(problem, xs, SolverSettings(solver="highs", gap_rel=0.5), 10.0)
    gap = relative_gap(problem, "highs")
    assert gap is not None
    assert 0 < gap < math.inf
    problem, xs = doubled(2)
    assert solve(problem, xs, SolverSettings(solver="highs"), 10.0).status == "optimal"
    assert relative_gap(problem, "highs") == 0
    solve(problem, xs, SolverSettings(solver="cbc"), 10.0)
    assert relative_gap(problem, "cbc") is None


# --- rounding ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], []),
        ([0.0, 3.0, -0.0], [0, 3, 0]),
        ([2.0000004, 6.9999996], [2, 7]),
        ([1e9 + 1e-7], [1_000_000_000]),
        ([2.5], None),
        ([1.00001], None),
        ([3.0, 0.34466541], None),
        ([math.nan], None),
        ([math.inf], None),
        ([-math.inf, 1.0], None),
    ],
)
def test_round_lots(values, expected):
    assert round_lots(values) == expected


# --- integer rows over lot counts ---------------------------------------------------


def _bundle(coefficients, lots, *, sense=Sense.EQ, rhs=Decimal(0)) -> OrderBundle:
    legs = tuple(
        Leg(
            symbol=f"S{i}",
            side=Side.BUY,
            limit_price=Decimal(1),
            max_qty=lot * 10,
            lot_size=lot,
        )
        for i, lot in enumerate(lots)
    )
    constraint = Constraint(
        name="c", coefficients=tuple(coefficients), sense=sense, rhs=rhs, description="d"
    )
    return OrderBundle(bundle_id="b", legs=legs, constraints=(constraint,))


def test_scaled_rows_are_coprime_integers_over_lot_counts():
    # 0.5·q0 - 1.25·q1 with lots 100 and 10 is 50·n0 - 12.5·n1: times 2, over 25.
    bundle = _bundle([Decimal("0.5"), Decimal("-1.25")], [100, 10])
    assert scaled_rows(bundle, bundle.constraints) == [
        ScaledRow("c", (4, -1), Sense.EQ, 0),
    ]


def test_scaled_row_keeps_a_fractional_right_hand_side():
    # 2·q0 + 4·q1 == 5 over lots of 1: n0 + 2·n1 == 5/2 has no integer solution.
    bundle = _bundle([Decimal(2), Decimal(4)], [1, 1], rhs=Decimal(5))
    [row] = scaled_rows(bundle, bundle.constraints)
    assert row.coefficients == (1, 2)
    assert row.rhs == Fraction(5, 2)
    assert isinstance(row.rhs, Fraction)


COEFFICIENT = st.integers(-400, 400).map(lambda c: Decimal(c) / 8)


@given(
    data=st.data(),
    count=st.integers(1, 4),
    sense=st.sampled_from(list(Sense)),
    rhs=st.integers(-3000, 3000).map(lambda r: Decimal(r) / 4),
)
def test_scaled_row_holds_exactly_when_the_constraint_holds(data, count, sense, rhs):
    coefficients = data.draw(st.lists(COEFFICIENT, min_size=count, max_size=count))
    lots = data.draw(st.lists(st.sampled_from([1, 10, 100]), min_size=count, max_size=count))
    bundle = _bundle(coefficients, lots, sense=sense, rhs=rhs)
    [row] = scaled_rows(bundle, bundle.constraints)
    assert math.gcd(*row.coefficients) in (0, 1)
    n = data.draw(st.lists(st.integers(0, 10), min_size=count, max_size=count))
    fill = [k * lot for k, lot in zip(n, lots, strict=True)]
    lhs = sum(a * k for a, k in zip(row.coefficients, n, strict=True))
    assert sense.holds(Fraction(lhs), Fraction(row.rhs)) == bundle.constraints[0].holds(fill)


def test_row_constraints_leave_out_zero_coefficients_and_absent_legs():
    problem = pulp.LpProblem("rows", pulp.LpMaximize)
    a, c = (problem.add_variable(name, 0, 10, cat=pulp.const.LpInteger) for name in "ac")
    row = ScaledRow("r", (3, -2, 0, 5), Sense.GE, Fraction(7, 2))
    [constraint] = row_constraints(solver_rows(row, [10] * 4, "outer"), [a, None, c, None], "b1_0")
    assert constraint.name == "b1_0"
    assert dict(constraint.items()) == {a: 3}
    assert constraint.sense == pulp.LpConstraintGE
    assert constraint.getLb() == 4  # >= 3.5 in whole numbers


def test_a_small_row_reaches_the_solver_as_it_is_and_exact_on_both_sides():
    row = ScaledRow("hedge", (-4, 36, 9), Sense.EQ, 0)
    outer, inner = (solver_rows(row, [20, 10, 10], side) for side in ("outer", "inner"))
    assert outer == inner
    assert outer.exact
    assert outer.terms == ((0, -4.0), (1, 36.0), (2, 9.0))
    assert (outer.lower, outer.upper) == (0.0, 0.0)
    assert len(row_constraints(outer, [None, None, None], "c0")) == 1


def test_a_row_of_large_coefficients_is_divided_down_and_tightened_inside():
    big = 2**45
    row = ScaledRow("band", (big, -(big + 1)), Sense.GE, 0)
    outer = solver_rows(row, [10, 10], "outer")
    inner = solver_rows(row, [10, 10], "inner")
    # Divided by 2^22: the largest coefficient just below 2^24, exactly.
    assert outer.terms == ((0, 2.0**23), (1, -(2.0**23 + 2.0**-22)))
    assert not outer.exact
    assert outer.lower == 0.0
    assert inner.lower is not None
    assert inner.lower > 0
    equality = ScaledRow("eq", (big, -(big + 1)), Sense.EQ, 0)
    assert solver_rows(equality, [10, 10], "inner") == solver_rows(equality, [10, 10], "outer")


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    scale=st.integers(0, 70),
    sense=st.sampled_from([Sense.LE, Sense.GE]),
)
def test_outer_keeps_every_fill_of_the_row_and_inner_only_such_fills(data, scale, sense):
    """At whole lot counts the outer form accepts every fill that satisfies the row
    (and, while the coefficients are exact doubles, only those); every point the
    inner form accepts within the solver's tolerance, at lot counts within the
    integrality tolerance of whole ones, rounds to such a fill."""
    count = data.draw(st.integers(1, 4))
    coefficients = tuple(data.draw(st.integers(-(2**scale), 2**scale)) for _ in range(count))
    rhs = data.draw(st.integers(-(2**scale), 2**scale))
    row = ScaledRow("r", coefficients, sense, rhs)
    lots = data.draw(st.lists(st.integers(0, 20), min_size=count, max_size=count))
    noise = data.draw(st.lists(st.floats(-1e-6, 1e-6), min_size=count, max_size=count))
    outer = solver_rows(row, [20] * count, "outer")
    activity = math.fsum(a * lots[i] for i, a in outer.terms)
    within = (outer.lower is None or activity >= outer.lower) and (
        outer.upper is None or activity <= outer.upper
    )
    if row_holds(row, lots):
        assert within
    if max(map(abs, coefficients)) < 2**53:
        assert within == row_holds(row, lots)
    inner = solver_rows(row, [20] * count, "inner")
    near = math.fsum(a * (lots[i] + noise[i]) for i, a in inner.terms)
    tolerance = 1e-6  # HiGHS's mip_feasibility_tolerance
    accepted = (inner.lower is None or near >= inner.lower - tolerance) and (
        inner.upper is None or near <= inner.upper + tolerance
    )
    if accepted:
        assert row_holds(row, lots)


# --- the lot-count model -------------------------------------------------------------


def _seed_bundle(aaaa_qty: int) -> OrderBundle:
    """The seed sample: 4·AAAA == 36·BBBB + 9·CCCC, lots of 100."""
    legs = tuple(
        Leg(symbol=symbol, side=side, limit_price=Decimal(10), max_qty=qty, lot_size=100)
        for symbol, side, qty in (
            ("AAAA", Side.BUY, aaaa_qty),
            ("BBBB", Side.SELL, 1000),
            ("CCCC", Side.BUY, 1000),
        )
    )
    hedge = Constraint(
        name="hedge", coefficients=(Decimal(-4), Decimal(36), Decimal(9)), sense=Sense.EQ
    )
    return OrderBundle(bundle_id="seed", legs=legs, constraints=(hedge,))


@pytest.mark.parametrize("solver", SOLVERS)
def test_lot_model_maximises_and_minimises_the_total_fill(solver):
    bundle = _seed_bundle(2000)
    rows = scaled_rows(bundle, bundle.constraints)
    caps = [leg.max_lots for leg in bundle.legs]
    settings = SolverSettings(solver=solver, integer_objective=True, small_model=True)
    problem, variables = lot_model(bundle, rows, caps, minimise=False, min_total=None)
    largest = solve(problem, variables, settings, 10.0)
    assert largest.status == "optimal"
    assert largest.values is not None
    assert round_lots(largest.values) == [18, 0, 8]
    # Minimising excludes the empty fill: the smallest is AAAA 900, BBBB 100.
    problem, variables = lot_model(bundle, rows, caps, minimise=True, min_total=None)
    smallest = solve(problem, variables, settings, 10.0)
    assert smallest.values is not None
    assert round_lots(smallest.values) == [9, 1, 0]


def test_lot_model_min_total_excludes_small_fills():
    bundle = _seed_bundle(2000)
    rows = scaled_rows(bundle, bundle.constraints)
    caps = [leg.max_lots for leg in bundle.legs]
    settings = SolverSettings(integer_objective=True, small_model=True)
    problem, variables = lot_model(bundle, rows, caps, minimise=True, min_total=1100)
    solution = solve(problem, variables, settings, 10.0)
    assert solution.values is not None
    # 4·a == 36·b + 9·c in lots: a = 9 allows (b, c) = (1, 0) or (0, 4); the first is
    # 1000, below the minimum; every fill with a >= 18 is larger than 1300.
    assert round_lots(solution.values) == [9, 0, 4]
    # Beyond the limits no non-empty fill reaches the minimum.
    problem, variables = lot_model(bundle, rows, caps, minimise=False, min_total=10**6)
    assert solve(problem, variables, settings, 10.0).status == "infeasible"


def _two_legs(coefficients: tuple[Decimal, Decimal], sense: Sense, caps=(10, 10)) -> OrderBundle:
    legs = tuple(
        Leg(symbol=s, side=side, limit_price=Decimal(1), max_qty=cap, lot_size=1)
        for s, side, cap in (("A", Side.BUY, caps[0]), ("B", Side.SELL, caps[1]))
    )
    row = Constraint(name="c", coefficients=coefficients, sense=sense)
    return OrderBundle(bundle_id="x", legs=legs, constraints=(row,))


def test_a_fill_in_a_rows_tolerance_band_gives_way_to_one_that_satisfies_it():
    """2^51·A >= (2^51 + 1)·B: A = B = 1 misses by one unit in 4.5·10^15, which HiGHS
    accepts (2.4·10^-7 once the row is divided down, within its 10^-6; CBC's
    tolerance is finer). It fails the exact check; the inner model's A = 1, B = 0
    satisfies the row, reported as not proven best."""
    big = 2**51
    bundle = _two_legs((Decimal(big), Decimal(-(big + 1))), Sense.GE, caps=(1, 1))
    rows = scaled_rows(bundle, bundle.constraints)
    settings = SolverSettings(integer_objective=True, small_model=True)
    answer = solve_lots(bundle, rows, [1, 1], settings, 10.0, minimise=False, min_total=None)
    assert answer.lots == (1, 0)
    assert answer.status == "feasible"
    assert answer.detail.startswith("not proven best: constraint c: the solver's fill misses")


def _lot_bundle(*legs: tuple[str, int, int]) -> OrderBundle:
    """Buy legs (symbol, lot, limit in lots) for models whose rows are given."""
    return OrderBundle(
        bundle_id="x",
        legs=tuple(
            Leg(symbol=s, side=Side.BUY, limit_price=Decimal(1), max_qty=lot * n, lot_size=lot)
            for s, lot, n in legs
        ),
    )


@pytest.mark.parametrize("solver", SOLVERS)
def test_coefficients_of_10_to_the_14_get_the_exact_smallest_fill(solver):
    """The quant audit's beta-neutral bundle, as integer rows over lots: fed the
    integers (up to 4.4·10^14), HiGHS proved 5 lots the smallest, and other option
    sets 47 or 11; 1 lot of A and 1 of D satisfy both rows (brute force below)."""
    rows = [
        ScaledRow(
            "lower",
            (-109775897700000, 28399180000000, -26578076000000, 122798830600397),
            Sense.GE,
            0,
        ),
        ScaledRow(
            "upper",
            (-439103590800000, 28399180000000, -106312304000000, 122798830600397),
            Sense.LE,
            0,
        ),
    ]
    bundle = _lot_bundle(("A", 200, 1), ("B", 100, 3), ("C", 1000, 5), ("D", 100, 3))
    caps = [1, 3, 5, 3]
    weights = [2, 1, 10, 1]
    feasible = [
        lots
        for lots in itertools.product(*(range(cap + 1) for cap in caps))
        if any(lots) and all(row_holds(row, lots) for row in rows)
    ]

    def total(lots: tuple[int, ...]) -> int:
        return sum(w * n for w, n in zip(weights, lots, strict=True))

    smallest = min(total(lots) for lots in feasible)
    largest = max(total(lots) for lots in feasible)
    settings = SolverSettings(solver=solver, integer_objective=True, small_model=True)
    least = solve_lots(bundle, rows, caps, settings, 10.0, minimise=True, min_total=None)
    most = solve_lots(bundle, rows, caps, settings, 10.0, minimise=False, min_total=None)
    assert least.status == most.status == "optimal"
    assert least.lots is not None
    assert most.lots is not None
    assert total(least.lots) == smallest == 3
    assert total(most.lots) == largest


@pytest.mark.parametrize("solver", SOLVERS)
def test_the_smallest_fill_of_a_hedge_band_is_the_brute_force_one(solver):
    """A single_factor_hedged band the brute-force audit found: CBC with its
    preprocessing reported 10 (S0 1 lot, S2 3 lots) as the proven smallest weight,
    where S0 1, S1 2, S2 2 weighs 9; HiGHS had it right."""
    rows = [
        ScaledRow("lower", (4026380400, -57360040, -332204157, 7678398), Sense.GE, 0),
        ScaledRow("upper", (575197200, -44165720, -255788451, 1096914), Sense.LE, 0),
    ]
    bundle = _lot_bundle(("S0", 100, 5), ("S1", 100, 4), ("S2", 300, 3), ("S3", 1000, 4))
    caps = [5, 4, 3, 4]
    weights = [1, 1, 3, 10]
    smallest = min(
        sum(w * n for w, n in zip(weights, lots, strict=True))
        for lots in itertools.product(*(range(cap + 1) for cap in caps))
        if any(lots) and all(row_holds(row, lots) for row in rows)
    )
    settings = SolverSettings(solver=solver, integer_objective=True, small_model=True)
    least = solve_lots(bundle, rows, caps, settings, 10.0, minimise=True, min_total=None)
    assert least.status == "optimal"
    assert least.lots == (1, 2, 2, 0)
    assert smallest == 9


@pytest.mark.parametrize("solver", SOLVERS)
def test_a_row_beyond_doubles_is_answered_inexact_not_as_another_model(solver):
    """(10^16 + 1)·A == 10^16·B is not a row of doubles (the pre-solver refuses such
    activity before any solve); the solver's A = B fails it exactly, and the answer
    says so instead of reporting a fill or a proof about another row."""
    bundle = _two_legs((Decimal("3.0000000000000003"), Decimal(-3)), Sense.EQ)
    rows = scaled_rows(bundle, bundle.constraints)
    settings = SolverSettings(solver=solver, small_model=True)
    answer = solve_lots(bundle, rows, [10, 10], settings, 1.0, minimise=False, min_total=None)
    assert answer.status == "inexact"
    assert answer.lots is None
    assert answer.detail.startswith("constraint c: the solver's fill misses it")
