"""single_factor_hedged: the constraint rows are docs/math.md §2, exactly."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.bundle import Sense
from gateway.core.errors import PayloadError
from tests.conftest import envelope, seed_hedge


def test_seed_sample_compiles_to_4a_eq_36b_plus_9c(registry):
    bundle = registry.build(envelope(seed_hedge()))
    (constraint,) = bundle.constraints
    assert constraint.sense is Sense.EQ
    # |c| - r·c with r = 2: AAAA 4 - 8 = -4, BBBB 12 + 24 = 36, CCCC 3 + 6 = 9
    assert constraint.coefficients == (Decimal(-4), Decimal(36), Decimal(9))
    assert [leg.lot_size for leg in bundle.legs] == [100, 100, 100]
    assert bundle.violations((900, 100, 0)) == []
    assert bundle.violations((800, 100, 0)) != []


def _abs_net(payload: dict[str, Any], fill: list[int]) -> tuple[Fraction, Fraction]:
    coefficients = [
        Fraction(Decimal(p["hedge_qty_coeff"])) for p in payload["bidder_data"]["positions"]
    ]
    abs_weighted = sum((abs(c) * q for c, q in zip(coefficients, fill, strict=True)), Fraction(0))
    net = sum((c * q for c, q in zip(coefficients, fill, strict=True)), Fraction(0))
    return abs_weighted, net


@given(
    fill=st.lists(st.integers(0, 30), min_size=3, max_size=3),
    ratio=st.sampled_from(["2", "-2", "1.5", "3", "1"]),
)
def test_exact_form_holds_iff_abs_equals_r_times_net(registry, fill, ratio):
    raw = seed_hedge()
    raw["bidder_data"]["target_hedge_ratio"] = ratio
    for p in raw["bidder_data"]["positions"]:
        p["qty"] = 3000
    bundle = registry.build(envelope(raw))
    quantities = [100 * n for n in fill]
    abs_weighted, net = _abs_net(raw, quantities)
    assert bundle.constraints[0].holds(quantities) == (abs_weighted == Fraction(ratio) * net)


@given(
    fill=st.lists(st.integers(0, 30), min_size=3, max_size=3),
    bounds=st.lists(st.integers(-20, 20), min_size=2, max_size=2).map(sorted),
)
def test_band_form_bounds_the_hedging_ratio(registry, fill, bounds):
    low, high = (Fraction(b, 20) for b in bounds)
    raw = seed_hedge()
    data = raw["bidder_data"]
    del data["target_hedge_ratio"]
    data["hedge_ratio_min"] = str(Decimal(bounds[0]) / 20)
    data["hedge_ratio_max"] = str(Decimal(bounds[1]) / 20)
    for p in data["positions"]:
        p["qty"] = 3000
    bundle = registry.build(envelope(raw))
    quantities = [100 * n for n in fill]
    abs_weighted, net = _abs_net(raw, quantities)
    expected = low * abs_weighted <= net <= high * abs_weighted
    assert all(c.holds(quantities) for c in bundle.constraints) == expected


def _invalid(registry, mutate) -> PayloadError:
    raw = seed_hedge()
    mutate(raw["bidder_data"])
    with pytest.raises(PayloadError) as info:
        registry.build(envelope(raw))
    return info.value


@pytest.mark.parametrize(
    ("mutate", "path", "words"),
    [
        (lambda d: d.update(positions=[]), "bidder_data.positions", "at least 1"),
        (
            lambda d: d["positions"][1].update(qty=0),
            "bidder_data.positions[1].qty",
            "greater than 0",
        ),
        (
            lambda d: d["positions"][1].update(qty=-5),
            "bidder_data.positions[1].qty",
            "greater than 0",
        ),
        (
            lambda d: [p.update(hedge_qty_coeff=abs(p["hedge_qty_coeff"])) for p in d["positions"]],
            "bidder_data",
            "no hedge position",
        ),
        (
            lambda d: [
                p.update(hedge_qty_coeff=-abs(p["hedge_qty_coeff"])) for p in d["positions"]
            ],
            "bidder_data",
            "no primary position",
        ),
        (
            lambda d: d.update(
                target_hedge_ratio=None, hedge_ratio_min="-1.5", hedge_ratio_max="0.5"
            ),
            "bidder_data",
            "hedge_ratio_min must lie in [-1, 1]",
        ),
        (
            lambda d: d.update(
                target_hedge_ratio=None, hedge_ratio_min="0.5", hedge_ratio_max="0.2"
            ),
            "bidder_data",
            "greater than hedge_ratio_max",
        ),
        (
            lambda d: d.update(hedge_ratio_min="0.1", hedge_ratio_max="0.2"),
            "bidder_data",
            "not both",
        ),
        (lambda d: d.update(target_hedge_ratio=None), "bidder_data", "give target_hedge_ratio"),
        (lambda d: d.update(target_hedge_ratio="0.5"), "bidder_data", "|r| >= 1"),
        (
            lambda d: d["positions"].append(dict(d["positions"][0])),
            "bidder_data",
            "repeats buy AAAA",
        ),
        (
            lambda d: d["positions"][0].update(hedge_qty_coeff="NaN"),
            "bidder_data.positions[0].hedge_qty_coeff",
            "not a finite number",
        ),
        (
            lambda d: d["positions"][0].update(price="Infinity"),
            "bidder_data.positions[0].price",
            "not a finite number",
        ),
        (
            lambda d: d["positions"][0].update(price=10.5),
            "bidder_data.positions[0].price",
            "not exact",
        ),
        (
            lambda d: d["positions"][0].update(side="Hold"),
            "bidder_data.positions[0].side",
            "Buy or Sell",
        ),
        (
            lambda d: d["positions"][0].update(hedge_qty_coeff=0),
            "bidder_data.positions[0]",
            "must be non-zero",
        ),
        (
            lambda d: d["positions"][0].update(colour="red"),
            "bidder_data.positions[0].colour",
            "unknown field",
        ),
        (
            lambda d: d["positions"][0].update(qty=50),
            "bidder_data.positions[0].qty",
            "less than one lot",
        ),
    ],
)
def test_invalid_payloads_name_the_field(registry, mutate, path, words):
    error = _invalid(registry, mutate)
    assert any(issue.path == path and words in issue.reason for issue in error.issues), [
        str(i) for i in error.issues
    ]
    assert path in str(error)


def test_side_is_case_insensitive_and_lot_precedence(registry):
    raw = seed_hedge()
    raw["lot_size"] = 50
    positions = raw["bidder_data"]["positions"]
    positions[0]["side"] = "BUY"
    positions[1]["side"] = "sell"
    positions[2]["lot_size"] = 25
    bundle = registry.build(envelope(raw))
    assert [leg.side.value for leg in bundle.legs] == ["buy", "sell", "buy"]
    assert [leg.lot_size for leg in bundle.legs] == [50, 50, 25]


# --- describe_fill: the achieved hedging ratio next to its target or band -------------


def _describe(registry, raw: dict[str, Any], fills: tuple[int, ...]):
    bundle = registry.build(envelope(raw))
    return registry.get("single_factor_hedged").describe_fill(raw["bidder_data"], bundle, fills)


@pytest.mark.parametrize(
    ("fills", "abs_weighted", "net"),
    [
        # docs/math.md §2 worked check: 4·900 + 12·100 = 4800, 4·900 − 12·100 = 2400.
        ((900, 100, 0), 4800, 2400),
        # CCCC instead of BBBB: 4·900 + 3·400 = 4800, 4·900 − 3·400 = 2400.
        ((900, 0, 400), 4800, 2400),
        ((1800, 100, 400), 9600, 4800),
    ],
)
def test_fills_on_the_seed_constraint_have_ratio_one_half(registry, fills, abs_weighted, net):
    check = _describe(registry, seed_hedge(), fills)
    assert check.achieved == Fraction(net, abs_weighted) == Fraction(1, 2)
    assert check.within
    assert str(check) == "hedge ratio +0.5000, target +0.5000"


def test_seed_sample_fill_off_the_constraint_is_outside(registry):
    # AAAA 1000, BBBB 100: abs 4000 + 1200 = 5200, net 4000 − 1200 = 2800, ρ = 7/13.
    check = _describe(registry, seed_hedge(), (1000, 100, 0))
    assert check.achieved == Fraction(7, 13)
    assert not check.within
    assert str(check) == "hedge ratio +0.5385, target +0.5000"


def test_negative_target_ratio(registry):
    # r = −2: ρ = −1/2, i.e. net short: 4·a + 12·b = −2·(4·a − 12·b) ⇔ 12·a = 12·b.
    raw = seed_hedge()
    raw["bidder_data"]["target_hedge_ratio"] = -2
    check = _describe(registry, raw, (300, 300, 0))
    assert check.achieved == Fraction(1200 - 3600, 1200 + 3600) == Fraction(-1, 2)
    assert check.within
    assert check.bound == "target -0.5000"


def _band(low: str, high: str) -> dict[str, Any]:
    raw = seed_hedge()
    data = raw["bidder_data"]
    del data["target_hedge_ratio"]
    data["hedge_ratio_min"], data["hedge_ratio_max"] = low, high
    return raw


@pytest.mark.parametrize(
    ("fills", "ratio", "within"),
    [
        ((2000, 400, 0), Fraction(3200, 12800), True),  # 8000 − 4800 over 8000 + 4800: 1/4
        ((2000, 500, 0), Fraction(2000, 14000), True),  # 1/7
        ((1200, 400, 0), Fraction(0), True),  # fully hedged: 4800 − 4800
        ((2000, 300, 0), Fraction(4400, 11600), False),  # 11/29 above the band
        ((2000, 1000, 0), Fraction(-4000, 20000), False),  # −1/5 below it
    ],
)
def test_band_form_reports_the_ratio_against_the_band(registry, fills, ratio, within):
    check = _describe(registry, _band("0", "0.25"), fills)
    assert check.achieved == ratio
    assert check.within is within
    assert check.bound == "band [+0.00, +0.25]"


def test_band_bounds_are_shown_exactly(registry):
    check = _describe(registry, _band("-0.125", "1"), (900, 100, 0))
    assert check.bound == "band [-0.125, +1.00]"


def test_empty_fill_has_no_ratio_and_is_within(registry):
    check = _describe(registry, seed_hedge(), (0, 0, 0))
    assert check.achieved is None
    assert check.within
    assert str(check) == "hedge ratio undefined, target +0.5000"
