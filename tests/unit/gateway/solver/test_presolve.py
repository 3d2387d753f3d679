"""The pre-solver against the seed samples and against brute-force enumeration."""

from __future__ import annotations

import itertools
import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from gateway.core.bundle import Constraint, Leg, OrderBundle, Sense, Side
from gateway.core.plugins import StrategyRegistry
from gateway.solver.presolve import Outcome, PresolveConfig, PreSolver, Verdict
from tests.conftest import envelope, seed_hedge

# --- the seed sample (docs/math.md §2) ---------------------------------------------


def test_seed_hedge_sample_is_feasible_with_aaaa_2000(registry, presolver):
    bundle = registry.build(envelope(seed_hedge(2000)))
    verdict = presolver.check(bundle)
    assert verdict.outcome is Outcome.FEASIBLE
    assert verdict.optimal
    # 4·AAAA == 36·BBBB + 9·CCCC in lots of 100: AAAA 1800 with CCCC 800 (total 2600) beats
    # every other fill; AAAA 2000 would need 36b + 9c = 8000, not a multiple of 9.
    assert verdict.max_fill == (1800, 0, 800)
    # The smallest non-empty fill is the one docs/math.md §2 derives by hand.
    assert verdict.min_fill == (900, 100, 0)
    assert bundle.violations(verdict.max_fill) == []


#: Every way to run the pre-solver: the fast path (HiGHS behind it), and each MILP alone.
PATHS = pytest.mark.parametrize(
    ("solver", "fast_path"), [("highs", True), ("highs", False), ("cbc", False)]
)


@PATHS
def test_seed_hedge_sample_with_aaaa_500_is_infeasible_with_reason(registry, solver, fast_path):
    bundle = registry.build(envelope(seed_hedge(500)))
    verdict = PreSolver(PresolveConfig(solver=solver, fast_path=fast_path)).check(bundle)
    assert verdict.path == ("fast" if fast_path else "milp")
    assert verdict.outcome is Outcome.INFEASIBLE
    assert verdict.max_fill is None
    reason = verdict.reason or ""
    assert "hedge_ratio" in reason
    assert "AAAA 900 above its limit 500" in reason
    assert "AAAA 900, BBBB 100, CCCC 0" in reason


def test_sign_infeasibility_names_the_constraint():
    legs = (
        Leg(symbol="A", side=Side.BUY, limit_price=Decimal(1), max_qty=1000),
        Leg(symbol="B", side=Side.BUY, limit_price=Decimal(1), max_qty=1000),
    )
    bundle = OrderBundle(
        bundle_id="x",
        legs=legs,
        constraints=(
            Constraint(name="one_sided", coefficients=(Decimal(2), Decimal(3)), sense=Sense.EQ),
        ),
    )
    verdict = PreSolver().check(bundle)
    assert verdict.outcome is Outcome.INFEASIBLE
    assert "one_sided" in (verdict.reason or "")
    assert "both signs" in (verdict.reason or "")


def test_joint_infeasibility_names_both_constraints():
    # A >= B and A <= B/2 each allow a non-empty fill, together only A = B = 0.
    legs = (
        Leg(symbol="A", side=Side.BUY, limit_price=Decimal(1), max_qty=1000),
        Leg(symbol="B", side=Side.SELL, limit_price=Decimal(1), max_qty=1000),
    )
    bundle = OrderBundle(
        bundle_id="x",
        legs=legs,
        constraints=(
            Constraint(name="a_ge_b", coefficients=(Decimal(1), Decimal(-1)), sense=Sense.GE),
            Constraint(name="a_le_half_b", coefficients=(Decimal(2), Decimal(-1)), sense=Sense.LE),
            Constraint(
                name="loose",
                coefficients=(Decimal(1), Decimal(1)),
                sense=Sense.LE,
                rhs=Decimal(10**6),
            ),
        ),
    )
    verdict = PreSolver().check(bundle)
    assert verdict.outcome is Outcome.INFEASIBLE
    reason = verdict.reason or ""
    assert "a_ge_b" in reason
    assert "a_le_half_b" in reason
    assert "loose" not in reason


def test_many_legs_map_to_their_own_quantities():
    # Regression: PuLP orders variables by name (n0, n1, n10, ...), HiGHS columns follow
    # that order; quantities must still come back in leg order. Distinct limits and a
    # loose constraint make the unique optimum "every leg at its limit".
    legs = tuple(
        Leg(symbol=f"S{i}", side=Side.BUY, limit_price=Decimal(1), max_qty=100 * (i + 1))
        for i in range(23)
    )
    loose = Constraint(
        name="loose",
        coefficients=tuple(Decimal(1) for _ in legs),
        sense=Sense.LE,
        rhs=Decimal(10**9),
    )
    bundle = OrderBundle(bundle_id="x", legs=legs, constraints=(loose,))
    for solver, fast_path in (("highs", True), ("highs", False), ("cbc", False)):
        verdict = PreSolver(PresolveConfig(solver=solver, fast_path=fast_path)).check(bundle)
        assert verdict.max_fill == tuple(leg.max_qty for leg in legs), solver


def test_min_total_fill_is_respected():
    legs = (Leg(symbol="A", side=Side.BUY, limit_price=Decimal(1), max_qty=300),)
    feasible = OrderBundle(bundle_id="x", legs=legs, min_total_fill=300)
    assert PreSolver().check(feasible).max_fill == (300,)
    too_big = OrderBundle(bundle_id="x", legs=legs, min_total_fill=400)
    verdict = PreSolver().check(too_big)
    assert verdict.outcome is Outcome.INFEASIBLE
    assert "minimum total fill 400" in (verdict.reason or "")


def test_too_many_legs_is_refused_unsolved():
    legs = tuple(
        Leg(symbol=f"S{i}", side=Side.BUY, limit_price=Decimal(1), max_qty=100) for i in range(5)
    )
    verdict = PreSolver(PresolveConfig(max_legs=4)).check(OrderBundle(bundle_id="x", legs=legs))
    assert verdict.outcome is Outcome.TOO_LARGE
    assert "5 legs" in (verdict.reason or "")


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_a_coefficient_of_10_to_the_15_is_solved_exactly(solver):
    """HiGHS refuses a matrix value of 10^15 or more, and misjudged rows of 10^14; the
    row reaches it divided by a power of two, so the bundle gets its exact answer
    instead of 'solver failed' or 'too large'."""
    legs = (
        Leg(symbol="A", side=Side.BUY, limit_price=Decimal(1), max_qty=1, lot_size=1),
        Leg(symbol="B", side=Side.SELL, limit_price=Decimal(1), max_qty=3, lot_size=1),
    )
    row = Constraint(
        name="wide",
        coefficients=(Decimal(10**15 + 1), Decimal(-(10**15 + 3))),
        sense=Sense.LE,
        rhs=Decimal(0),
    )
    bundle = OrderBundle(bundle_id="x", legs=legs, constraints=(row,))
    verdict = PreSolver(PresolveConfig(fast_path=False, solver=solver, smallest_fill=True)).check(
        bundle
    )
    assert verdict.outcome is Outcome.FEASIBLE
    assert verdict.optimal
    assert verdict.max_fill == (1, 3)
    assert verdict.min_fill == (0, 1)


def test_beyond_2_to_the_53_the_fast_path_still_decides_in_integers():
    """3·A >= 2·B reaches 5·2^51 at the legs' limits, beyond what a solver holds
    exactly; the fast path's integer arithmetic still finds the maximum (every leg
    at its limit). It was refused as too large before any path ran."""
    legs = (
        Leg(symbol="A", side=Side.BUY, limit_price=Decimal(1), max_qty=2**51, lot_size=1),
        Leg(symbol="B", side=Side.SELL, limit_price=Decimal(1), max_qty=2**51, lot_size=1),
    )
    row = Constraint(name="wide", coefficients=(Decimal(3), Decimal(-2)), sense=Sense.GE)
    bundle = OrderBundle(bundle_id="x", legs=legs, constraints=(row,))
    verdict = PreSolver(PresolveConfig()).check(bundle)
    assert verdict.outcome is Outcome.FEASIBLE
    assert verdict.path == "fast"
    assert verdict.max_fill == (2**51, 2**51)
    quick = PreSolver(PresolveConfig()).quick(bundle)
    assert quick is not None
    assert (quick.outcome, quick.max_fill) == (Outcome.FEASIBLE, (2**51, 2**51))
    # What only a solver could add (the smallest fill) is still refused.
    needs_solver = PreSolver(PresolveConfig(smallest_fill=True)).check(bundle)
    assert needs_solver.outcome is Outcome.TOO_LARGE
    assert "beyond 2^53" in (needs_solver.reason or "")


def test_coefficients_past_2_to_the_53_are_rounded_for_the_solver_and_still_exact():
    """(10^17 + 1)·A >= 10^17·B: no double holds 10^17 + 1, so the solver gets the
    row rounded, with its bound moved by the most the rounding can change an
    activity. It was refused as too large; now the MILP answers it, and its answers
    are checked in integers."""
    legs = (
        Leg(symbol="A", side=Side.BUY, limit_price=Decimal(1), max_qty=7, lot_size=1),
        Leg(symbol="B", side=Side.SELL, limit_price=Decimal(1), max_qty=9, lot_size=1),
    )
    row = Constraint(
        name="wide", coefficients=(Decimal(10**17 + 1), Decimal(-(10**17))), sense=Sense.GE
    )
    bundle = OrderBundle(bundle_id="x", legs=legs, constraints=(row,))
    verdict = PreSolver(PresolveConfig(fast_path=False, smallest_fill=True)).check(bundle)
    assert verdict.outcome is Outcome.FEASIBLE
    # B may exceed A by no lot: 7 of each, not 7 and 8 (short by 10^17 - 7).
    assert verdict.max_fill == (7, 7)
    assert verdict.min_fill == (1, 0)
    assert verdict.optimal
    assert verdict.min_optimal


def test_timeout_is_reported_as_timeout_not_infeasible():
    # A hard equality knapsack (large coprime coefficients, 40 legs) cannot be solved
    # in one millisecond; whatever HiGHS has by then, the answer must not be
    # "infeasible", and anything reported as feasible must verify.
    rng = np.random.default_rng(7)
    legs = tuple(
        Leg(symbol=f"S{i}", side=Side.BUY, limit_price=Decimal(1), max_qty=10**6, lot_size=1)
        for i in range(40)
    )
    coefficients = tuple(
        Decimal(int(c)) * (1 if i % 2 else -1)
        for i, c in enumerate(rng.integers(10**5, 10**6, size=40))
    )
    bundle = OrderBundle(
        bundle_id="x",
        legs=legs,
        constraints=(
            Constraint(name="knapsack", coefficients=coefficients, sense=Sense.EQ, rhs=Decimal(7)),
        ),
    )
    verdict = PreSolver(PresolveConfig(time_limit_ms=1, explain=False)).check(bundle)
    assert verdict.outcome in (Outcome.TIMEOUT, Outcome.FEASIBLE)
    if verdict.outcome is Outcome.FEASIBLE:
        assert not verdict.optimal
        assert verdict.max_fill is not None
        assert bundle.violations(verdict.max_fill) == []
    else:
        assert "time limit" in (verdict.reason or "")


def test_cbc_and_highs_agree_on_the_beta_sample(registry):
    raw: dict[str, Any] = {
        "strategy": "beta_neutral",
        "bidder_data": {
            "beta_tol": 20,
            "positions": [
                {
                    "symbol": "AAAA",
                    "side": "Buy",
                    "price": "101.25",
                    "beta_coeff": "1.10",
                    "qty": 5000,
                },
                {
                    "symbol": "BBBB",
                    "side": "Sell",
                    "price": "48.10",
                    "beta_coeff": "0.85",
                    "qty": 8000,
                },
                {
                    "symbol": "CCCC",
                    "side": "Sell",
                    "price": "22.40",
                    "beta_coeff": "1.30",
                    "qty": 6000,
                },
            ],
        },
    }
    bundle = registry.build(envelope(raw))
    fast = PreSolver(PresolveConfig()).check(bundle)
    highs = PreSolver(PresolveConfig(solver="highs", fast_path=False)).check(bundle)
    cbc = PreSolver(PresolveConfig(solver="cbc", fast_path=False)).check(bundle)
    assert fast.feasible
    assert highs.feasible
    assert cbc.feasible
    assert fast.max_total == highs.max_total == cbc.max_total == 18900


# --- brute force --------------------------------------------------------------------


def brute_force(bundle: OrderBundle) -> tuple[bool, int]:
    """Feasible flag and maximum total quantity by enumerating every lot vector.

    Independent of the pre-solver: exact rational coefficients are scaled to
    int64 per constraint and every combination is checked with numpy.
    """
    ranges = [np.arange(leg.max_lots + 1, dtype=np.int64) for leg in bundle.legs]
    grid = np.array(list(itertools.product(*ranges)), dtype=np.int64)
    lots = np.array([leg.lot_size for leg in bundle.legs], dtype=np.int64)
    quantities = grid * lots
    ok = np.ones(len(grid), dtype=bool)
    for constraint in bundle.constraints:
        fractions = [Fraction(c) for c in constraint.coefficients] + [Fraction(constraint.rhs)]
        scale = math.lcm(*(f.denominator for f in fractions))
        coefficients = np.array([int(f * scale) for f in fractions[:-1]], dtype=np.int64)
        rhs = int(fractions[-1] * scale)
        lhs = quantities @ coefficients
        if constraint.sense is Sense.EQ:
            ok &= lhs == rhs
        elif constraint.sense is Sense.LE:
            ok &= lhs <= rhs
        else:
            ok &= lhs >= rhs
    totals = quantities.sum(axis=1)
    if bundle.min_total_fill:
        ok &= totals >= bundle.min_total_fill
    best = int(totals[ok].max()) if ok.any() else 0
    return best > 0, best


LOTS = st.sampled_from([1, 10, 100])
SIDES = st.sampled_from(["Buy", "Sell", "buy", "SELL"])


@st.composite
def hedge_payloads(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(2, 4))
    coefficients = draw(
        st.lists(
            st.integers(-20, 20)
            .filter(bool)
            .map(lambda c: Decimal(c) / draw(st.sampled_from([1, 2, 4]))),
            min_size=count,
            max_size=count,
        )
    )
    if all(c > 0 for c in coefficients):
        coefficients[-1] = -coefficients[-1]
    if all(c < 0 for c in coefficients):
        coefficients[0] = -coefficients[0]
    lot = draw(LOTS)
    positions = [
        {
            "symbol": f"S{i}",
            "side": draw(SIDES),
            "hedge_qty_coeff": str(c),
            "qty": lot * draw(st.integers(1, 12)) + draw(st.integers(0, lot - 1)),
            "price": "10.00",
        }
        for i, c in enumerate(coefficients)
    ]
    data: dict[str, Any] = {"positions": positions}
    if draw(st.booleans()):
        sign = draw(st.sampled_from([1, -1]))
        data["target_hedge_ratio"] = str(
            sign
            * draw(
                st.sampled_from([Decimal(1), Decimal("1.5"), Decimal(2), Decimal(3), Decimal(4)])
            )
        )
    else:
        low, high = sorted(draw(st.lists(st.integers(-20, 20), min_size=2, max_size=2)))
        data["hedge_ratio_min"] = str(Decimal(low) / 20)
        data["hedge_ratio_max"] = str(Decimal(high) / 20)
    return {"strategy": "single_factor_hedged", "lot_size": lot, "bidder_data": data}


@st.composite
def beta_payloads(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 4))
    lot = draw(LOTS)
    positions = [
        {
            "symbol": f"S{i}",
            "side": draw(SIDES),
            "price": str(Decimal(draw(st.integers(100, 20000))) / 100),
            "beta_coeff": str(Decimal(draw(st.integers(-200, 200))) / 100),
            "qty": lot * draw(st.integers(1, 12)),
        }
        for i in range(count)
    ]
    tol = draw(st.sampled_from(["1", "2", "2.5", "5", "10", "20"]))
    return {
        "strategy": "beta_neutral",
        "lot_size": lot,
        "bidder_data": {"beta_tol": tol, "positions": positions},
    }


@given(raw=st.one_of(hedge_payloads(), beta_payloads()))
def test_presolver_matches_brute_force(registry: StrategyRegistry, raw: dict[str, Any]):
    bundle = registry.build(envelope(raw))
    verdict = PreSolver().check(bundle)
    event(f"{raw['strategy']} feasible={verdict.feasible} path={verdict.path}")
    assert_matches_brute_force(bundle, verdict)


def assert_matches_brute_force(bundle: OrderBundle, verdict: Verdict) -> None:
    """The verdict is proven and agrees with :func:`brute_force`: the feasible flag,
    the maximum total, and a maximum fill that satisfies the bundle exactly."""
    expected_feasible, expected_total = brute_force(bundle)
    assert verdict.outcome in (Outcome.FEASIBLE, Outcome.INFEASIBLE), verdict.reason
    assert verdict.feasible == expected_feasible, verdict.reason
    assert verdict.max_total == expected_total
    if verdict.feasible:
        assert verdict.optimal
        assert verdict.max_fill is not None
        assert bundle.violations(verdict.max_fill) == []
    else:
        assert verdict.reason


@given(raw=st.one_of(hedge_payloads(), beta_payloads()))
def test_cbc_matches_highs(registry: StrategyRegistry, raw: dict[str, Any]):
    bundle = registry.build(envelope(raw))
    # Both MILPs, without the fast path that would answer most of these for either.
    highs = PreSolver(PresolveConfig(solver="highs", explain=False, fast_path=False)).check(bundle)
    cbc = PreSolver(PresolveConfig(solver="cbc", explain=False, fast_path=False)).check(bundle)
    assert (highs.path, cbc.path) == ("milp", "milp")
    assert (highs.feasible, highs.max_total) == (cbc.feasible, cbc.max_total)
