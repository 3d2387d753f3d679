"""pairs: ratio_min <= q_B / q_A <= ratio_max, exact and in lots (docs/templates.md §1)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from gateway.core.bundle import Sense
from gateway.core.errors import PayloadError
from gateway.core.plugins import StrategyRegistry
from gateway.core.yamlio import load_yaml
from gateway.solver.presolve import PreSolver
from tests.conftest import SAMPLES, envelope
from tests.unit.gateway.solver.test_presolve import assert_matches_brute_force


def pairs_payload(low: str = "0.5", high: str = "2", **extra: Any) -> dict[str, Any]:
    return {
        "strategy": "pairs",
        "lot_size": 100,
        "bidder_data": {
            "ratio_min": low,
            "ratio_max": high,
            "positions": [
                {"symbol": "AAAA", "side": "Buy", "qty": 1000, "price": "10.00"},
                {"symbol": "BBBB", "side": "Sell", "qty": 1000, "price": "20.00"},
            ],
            **extra,
        },
    }


def test_two_legs_compile_to_a_band_of_two_rows(registry):
    bundle = registry.build(envelope(pairs_payload()))
    low, high = bundle.constraints
    # q_B − 0.5·q_A >= 0 and q_B − 2·q_A <= 0
    assert (low.name, low.sense, low.coefficients) == (
        "ratio_min",
        Sense.GE,
        (Decimal("-0.5"), Decimal(1)),
    )
    assert (high.name, high.sense, high.coefficients) == (
        "ratio_max",
        Sense.LE,
        (Decimal(-2), Decimal(1)),
    )
    assert bundle.violations((400, 800)) == []  # ratio 2, at the edge
    assert bundle.violations((400, 200)) == []  # ratio 1/2, at the other edge
    assert bundle.violations((400, 900)) != []
    assert bundle.violations((400, 100)) != []
    assert bundle.violations((0, 100)) != []  # B never fills without A


def test_equal_bounds_give_one_equality_and_a_zero_minimum_no_row(registry):
    (row,) = registry.build(envelope(pairs_payload("1.5", "1.5"))).constraints
    assert (row.name, row.sense, row.coefficients) == (
        "pair_ratio",
        Sense.EQ,
        (Decimal("-1.5"), Decimal(1)),
    )
    (row,) = registry.build(envelope(pairs_payload("0", "3"))).constraints
    assert row.name == "ratio_max"


def test_an_exact_ratio_is_exact_in_lots(registry, presolver):
    # 1.5 B per A with lots of 100: A fills in multiples of 200 (A 200, B 300).
    verdict = presolver.check(registry.build(envelope(pairs_payload("1.5", "1.5"))))
    assert verdict.feasible
    assert verdict.min_fill == (200, 300)
    assert verdict.max_fill == (600, 900)


def test_groups_sum_their_legs(registry):
    raw = pairs_payload("1", "1")
    raw["bidder_data"]["positions"] = [
        {"symbol": "AAAA", "side": "Buy", "qty": 1000, "price": "10", "group": "a"},
        {"symbol": "BBBB", "side": "Sell", "qty": 1000, "price": "20", "group": "B"},
        {"symbol": "CCCC", "side": "Buy", "qty": 1000, "price": "5", "group": "A"},
    ]
    bundle = registry.build(envelope(raw))
    (row,) = bundle.constraints
    assert row.coefficients == (Decimal(-1), Decimal(1), Decimal(-1))
    assert bundle.violations((300, 500, 200)) == []
    check = registry.get("pairs").describe_fill(raw["bidder_data"], bundle, (300, 500, 200))
    assert check is not None
    assert check.achieved == 1
    assert check.within
    assert str(check) == "ratio B/A +1.0000, target 1"


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda d: d.update(ratio_min="-1"), "ratio_min must be >= 0"),
        (lambda d: d.update(ratio_min="3"), "greater than ratio_max"),
        (lambda d: d.update(ratio_max="0"), "greater than 0"),
        (lambda d: d.update(spread_k="0"), "greater than 0"),
        (
            lambda d: (
                d.update(spread="1"),
                d["positions"][0].update(group="A"),
                d["positions"][1].update(group="B"),
                d["positions"].append(
                    {"symbol": "CCCC", "side": "Sell", "qty": 100, "price": "5", "group": "B"}
                ),
            ),
            "exactly one position in each group",
        ),
        (
            lambda d: d["positions"].append(
                {"symbol": "CCCC", "side": "Buy", "qty": 100, "price": "5"}
            ),
            "exactly two positions",
        ),
        (lambda d: d["positions"][0].update(group="A"), "positions [1] have no group"),
        (lambda d: d["positions"][0].update(group="C"), "'A' or 'B'"),
        (
            lambda d: [p.update(group="A") for p in d["positions"]],
            "group B has no position",
        ),
        (lambda d: d["positions"][1].update(symbol="AAAA", side="Buy"), "repeats buy AAAA"),
        (
            lambda d: d["positions"][1].update(symbol="AAAA"),
            "positions[1] trades AAAA in group B, and positions[0] trades it in group A: "
            "the two sides of a pair trade different symbols",
        ),
        (lambda d: d["positions"].pop(), "at least 2"),
    ],
)
def test_invalid_pairs_payloads_say_why(registry, mutate, words):
    raw = pairs_payload()
    mutate(raw["bidder_data"])
    with pytest.raises(PayloadError) as info:
        registry.build(envelope(raw))
    assert any(words in str(issue) for issue in info.value.issues), [
        str(i) for i in info.value.issues
    ]


def test_the_sample_checks_and_its_smallest_fill_is_in_the_band(registry, presolver):
    bundle = registry.build(envelope(load_yaml(SAMPLES / "pairs.yaml")))
    verdict = presolver.check(bundle)
    assert verdict.feasible
    assert verdict.min_fill == (200, 100)  # ratio 1/2 inside [0.4, 0.6]


@given(
    fill=st.lists(st.integers(0, 30), min_size=2, max_size=2),
    band=st.lists(st.integers(0, 12), min_size=2, max_size=2).map(sorted),
)
def test_constraints_hold_iff_the_ratio_is_in_the_band(registry, fill, band):
    low, high = Fraction(band[0], 4), Fraction(max(band[1], 1), 4)
    raw = pairs_payload(str(Decimal(band[0]) / 4), str(Decimal(max(band[1], 1)) / 4))
    for position in raw["bidder_data"]["positions"]:
        position["qty"] = 3000
    bundle = registry.build(envelope(raw))
    q_a, q_b = (100 * n for n in fill)
    expected = low * q_a <= q_b <= high * q_a
    assert (bundle.violations((q_a, q_b)) == []) == expected


# --- the pre-solver against brute force on pairs bundles ------------------------------


@st.composite
def pairs_payloads(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(2, 4))
    groups = ["A", "B"] + [draw(st.sampled_from("AB")) for _ in range(count - 2)]
    lots = [draw(st.sampled_from([1, 10, 100])) for _ in range(count)]
    positions = [
        {
            "symbol": f"S{i}",
            "side": draw(st.sampled_from(["Buy", "Sell"])),
            "qty": lot * draw(st.integers(1, 8)) + draw(st.integers(0, lot - 1)),
            "price": "10",
            "lot_size": lot,
            "group": group,
        }
        for i, (group, lot) in enumerate(zip(groups, lots, strict=True))
    ]
    low = Decimal(draw(st.integers(0, 16))) / draw(st.sampled_from([1, 2, 4, 8]))
    high = max(low, Decimal(draw(st.integers(1, 16))) / draw(st.sampled_from([1, 5, 8])))
    return {
        "strategy": "pairs",
        "bidder_data": {"ratio_min": str(low), "ratio_max": str(high), "positions": positions},
    }


@given(raw=pairs_payloads())
def test_presolver_matches_brute_force_on_pairs(registry: StrategyRegistry, raw: dict[str, Any]):
    bundle = registry.build(envelope(raw))
    verdict = PreSolver().check(bundle)
    event(f"feasible={verdict.feasible} path={verdict.path}")
    assert_matches_brute_force(bundle, verdict)


def test_a_spread_limit_travels_as_a_price_constraint_with_the_side_of_b(registry):
    # B (BBBB) is sold: the pair wants at least the spread, p_B - 2·p_A >= -0.5.
    bundle = registry.build(envelope(pairs_payload(spread="-0.5", spread_k="2")))
    (price,) = bundle.price_constraints
    assert (price.name, price.sense, price.rhs) == ("spread", Sense.GE, Decimal("-0.5"))
    assert price.terms == (("BBBB", Decimal(1)), ("AAAA", Decimal(-2)))
    assert price.render() == "p(BBBB) - 2·p(AAAA) >= -0.5"
    prices = {"AAAA": Decimal("10.00"), "BBBB": Decimal("19.40")}
    assert bundle.price_violations((100, 100), prices) != []  # 19.40 - 20 = -0.6
    assert bundle.price_violations((0, 0), prices) == []  # binds only where it fills
    assert bundle.price_violations((100, 100), {**prices, "BBBB": Decimal("19.50")}) == []


def _sides(raw: dict[str, Any], a: str, b: str) -> dict[str, Any]:
    positions = raw["bidder_data"]["positions"]
    positions[0]["side"], positions[1]["side"] = a, b
    return raw


@pytest.mark.parametrize(("spread", "feasible"), [("-9", True), ("-10", True), ("-10.01", False)])
def test_the_pre_solver_refuses_a_spread_the_limits_rule_out(spread, feasible):
    # Both bought: p_A <= 10 and p_B <= 20, B bought so p_B - p_A <= spread; the lowest
    # p_B - p_A the limits allow is 0 - 10 = -10.
    raw = _sides(pairs_payload(spread=spread), "Buy", "Buy")
    verdict = PreSolver().check(StrategyRegistry.from_settings().build(envelope(raw)))
    assert verdict.feasible is feasible
    if not feasible:
        assert verdict.reason == (
            "price constraint spread (p(BBBB) - p(AAAA) <= -10.01) cannot hold at clearing "
            "prices within the legs' limits: there its left-hand side is at least -10"
        )


def test_a_classic_pair_spread_is_attainable_and_said_to_be_implied_when_the_limits_imply_it():
    # Buy A at <= 10, sell B at >= 20: p_B - p_A >= 10 whenever both trade.
    implied = _sides(pairs_payload(spread="5"), "Buy", "Sell")
    verdict = PreSolver().check(StrategyRegistry.from_settings().build(envelope(implied)))
    assert verdict.feasible
    assert "spread implied by the limits (never binds)" in (verdict.reason or "")
    binding = _sides(pairs_payload(spread="12"), "Buy", "Sell")
    verdict = PreSolver().check(StrategyRegistry.from_settings().build(envelope(binding)))
    assert verdict.feasible
    assert "spread attainable within the limits; decided at the auction" in (verdict.reason or "")
