"""Explanations of infeasible bundles: signs, minimal conflicts, smallest fills, texts."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from gateway.core.bundle import Constraint, Leg, OrderBundle, Sense, Side
from gateway.solver.explain import (
    explain_infeasible,
    least_fill,
    minimal_conflict,
    pair_smallest_fill,
    sign_reason,
)
from gateway.solver.milp import SolverSettings, scaled_rows

SOLVERS = ["highs", "cbc"]
# As the pre-solver sets them up.
SETTINGS = {
    name: SolverSettings(solver=name, integer_objective=True, small_model=True) for name in SOLVERS
}


def later() -> float:
    return time.perf_counter() + 10.0


def past() -> float:
    return time.perf_counter() - 1.0


def leg(symbol: str, max_qty: int, lot: int = 100, side: Side = Side.BUY) -> Leg:
    return Leg(symbol=symbol, side=side, limit_price=Decimal(1), max_qty=max_qty, lot_size=lot)


def constraint(
    name: str, *coefficients: int, sense: Sense = Sense.EQ, rhs: int = 0, description: str = ""
) -> Constraint:
    return Constraint(
        name=name,
        coefficients=tuple(Decimal(c) for c in coefficients),
        sense=sense,
        rhs=Decimal(rhs),
        description=description,
    )


def seed_bundle(aaaa_qty: int) -> OrderBundle:
    """The seed's hedge sample: 4·AAAA == 36·BBBB + 9·CCCC with lots of 100."""
    return OrderBundle(
        bundle_id="seed",
        legs=(leg("AAAA", aaaa_qty), leg("BBBB", 1000, side=Side.SELL), leg("CCCC", 1000)),
        constraints=(constraint("hedge_ratio", -4, 36, 9, description="abs == 2 * net"),),
    )


def joint_bundle() -> OrderBundle:
    """A >= B and A <= B/2 each allow a fill; together only the empty one."""
    return OrderBundle(
        bundle_id="joint",
        legs=(leg("A", 1000), leg("B", 1000, side=Side.SELL)),
        constraints=(
            constraint("a_ge_b", 1, -1, sense=Sense.GE),
            constraint("loose", 1, 1, sense=Sense.LE, rhs=10**6),
            constraint("a_le_half_b", 2, -1, sense=Sense.LE),
        ),
    )


# --- signs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("coefficients", "sense", "expected"),
    [
        (
            (2, 3),
            Sense.EQ,
            "constraint c (2·A + 3·B == 0) needs legs with coefficients of both signs, "
            "but every coefficient is positive, so only the empty fill satisfies it",
        ),
        (
            (-2, -1),
            Sense.EQ,
            "constraint c (-2·A - B == 0) needs legs with coefficients of both signs, "
            "but every coefficient is negative, so only the empty fill satisfies it",
        ),
        (
            (1, 4),
            Sense.LE,
            "constraint c (A + 4·B <= 0) needs a leg with a coefficient <= 0, "
            "but every coefficient is positive, so only the empty fill satisfies it",
        ),
        (
            (-1, -4),
            Sense.GE,
            "constraint c (-A - 4·B >= 0) needs a leg with a coefficient >= 0, "
            "but every coefficient is negative, so only the empty fill satisfies it",
        ),
        ((2, -3), Sense.EQ, None),
        ((-1, -4), Sense.LE, None),
        ((1, 4), Sense.GE, None),
        ((0, 0), Sense.EQ, None),
        ((-2, 0), Sense.EQ, None),  # B is outside the constraint: it can fill alone
    ],
)
def test_sign_reason(coefficients, sense, expected):
    bundle = OrderBundle(
        bundle_id="x",
        legs=(leg("A", 1000), leg("B", 1000)),
        constraints=(constraint("c", *coefficients, sense=sense),),
    )
    [row] = scaled_rows(bundle, bundle.constraints)
    assert sign_reason(row, bundle.constraints[0], bundle.symbols) == expected


def test_sign_reason_needs_a_homogeneous_row():
    # 2·A + 3·B == 500 is one-signed but not homogeneous: the signs are not the reason.
    bundle = OrderBundle(
        bundle_id="x",
        legs=(leg("A", 1000), leg("B", 1000)),
        constraints=(constraint("c", 2, 3, rhs=500),),
    )
    [row] = scaled_rows(bundle, bundle.constraints)
    assert sign_reason(row, bundle.constraints[0], bundle.symbols) is None


# --- minimal conflicts ---------------------------------------------------------------


@pytest.mark.parametrize("solver", SOLVERS)
def test_minimal_conflict_drops_the_innocent_constraint(solver):
    bundle = joint_bundle()
    rows = scaled_rows(bundle, bundle.constraints)
    assert minimal_conflict(bundle, rows, SETTINGS[solver], later()) == [0, 2]


def test_minimal_conflict_is_none_when_the_rows_allow_a_fill():
    bundle = seed_bundle(2000)
    rows = scaled_rows(bundle, bundle.constraints)
    assert minimal_conflict(bundle, rows, SETTINGS["highs"], later()) is None


def test_minimal_conflict_is_none_after_the_deadline():
    bundle = joint_bundle()
    rows = scaled_rows(bundle, bundle.constraints)
    assert minimal_conflict(bundle, rows, SETTINGS["highs"], past()) is None


# --- smallest fills ------------------------------------------------------------------


@pytest.mark.parametrize("solver", SOLVERS)
def test_smallest_fill_of_the_seed_sample(solver):
    bundle = seed_bundle(2000)
    rows = scaled_rows(bundle, bundle.constraints)
    caps = [leg.max_lots for leg in bundle.legs]
    assert least_fill(bundle, rows, caps, SETTINGS[solver], later()) == ((900, 100, 0), True)


def test_smallest_fill_beyond_the_limits_checks_only_the_given_constraints():
    bundle = seed_bundle(500)
    rows = scaled_rows(bundle, bundle.constraints)
    caps = [leg.max_lots for leg in bundle.legs]
    assert least_fill(bundle, rows, caps, SETTINGS["highs"], later()) is None
    lifted = [max(cap, 36) for cap in caps]
    assert least_fill(
        bundle, rows, lifted, SETTINGS["highs"], later(), constraints=bundle.constraints
    ) == ((900, 100, 0), True)


def test_smallest_fill_respects_the_minimum_total_fill():
    bundle = OrderBundle(
        bundle_id="seed",
        legs=seed_bundle(2000).legs,
        constraints=seed_bundle(2000).constraints,
        min_total_fill=1100,
    )
    rows = scaled_rows(bundle, bundle.constraints)
    caps = [leg.max_lots for leg in bundle.legs]
    assert least_fill(bundle, rows, caps, SETTINGS["highs"], later()) == ((900, 0, 400), True)


def test_the_closed_form_of_a_two_leg_equality_is_its_smallest_fill():
    """a·n_i + b·n_j = 0 with a, b of opposite signs: (|b|/g, |a|/g), whatever the sizes."""
    legs = tuple(
        Leg(symbol=s, side=side, limit_price=Decimal(1), max_qty=10, lot_size=lot)
        for s, side, lot in (("A", Side.BUY, 100), ("B", Side.SELL, 10), ("C", Side.BUY, 1))
    )
    hedge = Constraint(
        name="h", coefficients=(Decimal(6), Decimal(-40), Decimal(0)), sense=Sense.EQ
    )
    bundle = OrderBundle(bundle_id="p", legs=legs, constraints=(hedge,))
    rows = scaled_rows(bundle, bundle.constraints)  # over lots: 600·n_A − 400·n_B → 3, −2
    # C is not in the row: one lot of it alone (1) is smaller than A 200, B 30.
    assert pair_smallest_fill(bundle, rows, [hedge]) == (0, 0, 1)
    pair = Constraint(name="h", coefficients=(Decimal(6), Decimal(-40)), sense=Sense.EQ)
    two = OrderBundle(bundle_id="q", legs=legs[:2], constraints=(pair,))
    two_rows = scaled_rows(two, two.constraints)
    assert pair_smallest_fill(two, two_rows, [pair]) == (200, 30)
    assert least_fill(two, two_rows, [10, 10], SETTINGS["highs"], later(), constraints=[pair]) == (
        (200, 30),
        True,
    )
    # Not the shape: an inequality, or three legs in the row.
    le = Constraint(name="le", coefficients=hedge.coefficients, sense=Sense.LE)
    assert pair_smallest_fill(bundle, scaled_rows(bundle, [le]), [le]) is None


def test_smallest_fill_is_none_after_the_deadline():
    bundle = seed_bundle(2000)
    rows = scaled_rows(bundle, bundle.constraints)
    caps = [leg.max_lots for leg in bundle.legs]
    assert least_fill(bundle, rows, caps, SETTINGS["highs"], past()) is None


# --- whole explanations --------------------------------------------------------------


@pytest.mark.parametrize("solver", SOLVERS)
def test_explanation_of_the_seed_sample_over_its_limit(solver):
    bundle = seed_bundle(500)
    rows = scaled_rows(bundle, bundle.constraints)
    assert explain_infeasible(bundle, rows, SETTINGS[solver], later()) == (
        "no non-empty fill within the legs' limits satisfies constraint hedge_ratio "
        "(-4·AAAA + 36·BBBB + 9·CCCC == 0) [abs == 2 * net]: with lot sizes 100 the "
        "smallest fill that does is AAAA 900, BBBB 100, CCCC 0, which needs AAAA 900 "
        "above its limit 500"
    )


def test_explanation_names_each_legs_lot_size_when_they_differ():
    bundle = OrderBundle(
        bundle_id="x",
        legs=(leg("A", 50, lot=10), leg("B", 1000, side=Side.SELL)),
        constraints=(constraint("same", 1, -1),),
    )
    rows = scaled_rows(bundle, bundle.constraints)
    assert explain_infeasible(bundle, rows, SETTINGS["highs"], later()) == (
        "no non-empty fill within the legs' limits satisfies constraint same (A - B == 0): "
        "with lot sizes A 10, B 100 the smallest fill that does is A 100, B 100, which "
        "needs A 100 above its limit 50"
    )


def test_explanation_of_a_joint_conflict_names_both_constraints():
    bundle = joint_bundle()
    rows = scaled_rows(bundle, bundle.constraints)
    reason = explain_infeasible(bundle, rows, SETTINGS["highs"], later())
    assert reason.startswith(
        "no non-empty fill within the legs' limits satisfies constraints "
        "a_ge_b (A - B >= 0) and a_le_half_b (2·A - B <= 0) together"
    )
    assert "loose" not in reason


def test_explanation_of_signs_carries_the_description():
    bundle = OrderBundle(
        bundle_id="x",
        legs=(leg("A", 1000), leg("B", 1000)),
        constraints=(
            constraint("loose", 1, 1, sense=Sense.LE, rhs=10**6),
            constraint("one_sided", 2, 3, description="beta drift"),
        ),
    )
    rows = scaled_rows(bundle, bundle.constraints)
    reason = explain_infeasible(bundle, rows, SETTINGS["highs"], past())
    assert reason.startswith("constraint one_sided (2·A + 3·B == 0) needs legs with")
    assert reason.endswith("so only the empty fill satisfies it [beta drift]")


def test_explanation_of_a_minimum_total_fill():
    legs = (leg("A", 300),)
    alone = OrderBundle(bundle_id="x", legs=legs, min_total_fill=400)
    assert explain_infeasible(alone, [], SETTINGS["highs"], later()) == (
        "no non-empty fill reaches the minimum total fill 400 within the legs' limits"
    )
    hedged = OrderBundle(
        bundle_id="x",
        legs=seed_bundle(2000).legs,
        constraints=seed_bundle(2000).constraints,
        min_total_fill=5000,
    )
    rows = scaled_rows(hedged, hedged.constraints)
    assert explain_infeasible(hedged, rows, SETTINGS["highs"], later()) == (
        "fills that satisfy the constraints total less than the minimum total fill 5000"
    )


def test_explanation_after_the_deadline_is_generic():
    bundle = joint_bundle()
    rows = scaled_rows(bundle, bundle.constraints)
    assert explain_infeasible(bundle, rows, SETTINGS["highs"], past()) == (
        "no non-empty fill satisfies the constraints within the legs' limits and lot sizes"
    )
