"""dollar_neutral: |Σ s·p·q| <= tolerance_pct/100 · Σ p·q, exact (docs/templates.md §2)."""

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


def dollar_payload(tol: str = "5", *, ref: bool = False) -> dict[str, Any]:
    positions = [
        {"symbol": "AAAA", "side": "Buy", "qty": 3000, "price": "10.05"},
        {"symbol": "BBBB", "side": "Sell", "qty": 3000, "price": "19.95"},
        {"symbol": "CCCC", "side": "Sell", "qty": 3000, "price": "4.95"},
    ]
    if ref:
        for position, mid in zip(positions, ("10", "20", "5"), strict=True):
            position["ref_price"] = mid
    return {
        "strategy": "dollar_neutral",
        "lot_size": 100,
        "bidder_data": {"tolerance_pct": tol, "positions": positions},
    }


def test_rows_are_s_minus_t_and_s_plus_t_times_price(registry):
    bundle = registry.build(envelope(dollar_payload("5")))
    upper, lower = bundle.constraints
    # t = 0.05: AAAA (1 − 0.05)·10.05, BBBB (−1 − 0.05)·19.95, CCCC (−1 − 0.05)·4.95
    assert (upper.name, upper.sense) == ("dollar_upper", Sense.LE)
    assert upper.coefficients == (Decimal("9.5475"), Decimal("-20.9475"), Decimal("-5.1975"))
    assert (lower.name, lower.sense) == ("dollar_lower", Sense.GE)
    assert lower.coefficients == (Decimal("10.5525"), Decimal("-18.9525"), Decimal("-4.7025"))
    assert upper.description == "net <= 5% of gross"


def test_zero_tolerance_is_one_equality(registry):
    (row,) = registry.build(envelope(dollar_payload("0", ref=True))).constraints
    assert (row.name, row.sense) == ("dollar_neutral", Sense.EQ)
    assert row.coefficients == (Decimal(10), Decimal(-20), Decimal(-5))


def test_ref_prices_replace_the_limits_in_the_sums(registry):
    bundle = registry.build(envelope(dollar_payload("0", ref=True)))
    # At the mids: buy 2000 AAAA (20,000) against selling 1000 BBBB (20,000): neutral.
    assert bundle.violations((2000, 1000, 0)) == []
    # At the limits the same fill is 20,100 bought against 19,950 sold: not neutral.
    assert registry.build(envelope(dollar_payload("0.5"))).violations((2000, 1000, 0)) == []
    assert registry.build(envelope(dollar_payload("0.3"))).violations((2000, 1000, 0)) != []
    # The limits still bound the legs' prices.
    assert [leg.limit_price for leg in bundle.legs] == [
        Decimal("10.05"),
        Decimal("19.95"),
        Decimal("4.95"),
    ]


def test_describe_fill_by_hand(registry):
    raw = dollar_payload("5", ref=True)
    bundle = registry.build(envelope(raw))
    # net = 10·2000 − 20·900 − 5·200 = 1000, gross = 20000 + 18000 + 1000 = 39000.
    check = registry.get("dollar_neutral").describe_fill(
        raw["bidder_data"], bundle, (2000, 900, 200)
    )
    assert check is not None
    assert check.achieved == Fraction(1000, 39000)
    assert check.within
    assert str(check) == "dollar imbalance +0.0256, bound ±0.0500"


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda d: d.update(tolerance_pct="101"), "from 0 to 100"),
        (lambda d: d.update(tolerance_pct="-1"), "from 0 to 100"),
        (lambda d: d["positions"][0].update(ref_price="10"), "but not on [1, 2]"),
        (lambda d: d["positions"][0].update(ref_price="0"), "greater than 0"),
        (lambda d: d.update(positions=[]), "at least 1"),
        (lambda d: d.pop("tolerance_pct"), "Field required"),
    ],
)
def test_invalid_dollar_payloads_say_why(registry, mutate, words):
    raw = dollar_payload()
    mutate(raw["bidder_data"])
    with pytest.raises(PayloadError) as info:
        registry.build(envelope(raw))
    assert any(words in str(issue) for issue in info.value.issues), [
        str(i) for i in info.value.issues
    ]


def test_the_sample_fills_within_two_percent(registry, presolver):
    raw = load_yaml(SAMPLES / "dollar_neutral.yaml")
    bundle = registry.build(envelope(raw))
    verdict = presolver.check(bundle)
    assert verdict.feasible
    assert verdict.max_fill is not None
    check = registry.get("dollar_neutral").describe_fill(
        raw["bidder_data"], bundle, verdict.max_fill
    )
    assert check is not None
    assert check.within
    assert check.achieved is not None
    assert abs(check.achieved) <= Fraction(2, 100)


@given(
    fill=st.lists(st.integers(0, 30), min_size=3, max_size=3),
    tol=st.sampled_from(["0", "0.5", "2.5", "5", "50", "100"]),
    ref=st.booleans(),
)
def test_constraints_hold_iff_net_within_tolerance_of_gross(registry, fill, tol, ref):
    raw = dollar_payload(tol, ref=ref)
    bundle = registry.build(envelope(raw))
    quantities = [100 * n for n in fill]
    net = gross = Fraction(0)
    for p, q in zip(raw["bidder_data"]["positions"], quantities, strict=True):
        price = Fraction(Decimal(p.get("ref_price", p["price"])))
        net += (1 if p["side"] == "Buy" else -1) * price * q
        gross += price * q
    expected = abs(net) <= Fraction(Decimal(tol)) / 100 * gross
    assert (bundle.violations(quantities) == []) == expected


# --- the pre-solver against brute force on dollar-neutral bundles ---------------------


@st.composite
def dollar_payloads(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 4))
    lot = draw(st.sampled_from([1, 10, 100]))
    ref = draw(st.booleans())
    positions = []
    for i in range(count):
        position = {
            "symbol": f"S{i}",
            "side": draw(st.sampled_from(["Buy", "Sell"])),
            "price": str(Decimal(draw(st.integers(100, 5000))) / 100),
            "qty": lot * draw(st.integers(1, 10)),
        }
        if ref:
            position["ref_price"] = str(Decimal(draw(st.integers(100, 5000))) / 100)
        positions.append(position)
    tol = draw(st.sampled_from(["0", "1", "2.5", "5", "10", "100"]))
    return {
        "strategy": "dollar_neutral",
        "lot_size": lot,
        "bidder_data": {"tolerance_pct": tol, "positions": positions},
    }


@given(raw=dollar_payloads())
def test_presolver_matches_brute_force_on_dollar_neutral(
    registry: StrategyRegistry, raw: dict[str, Any]
):
    bundle = registry.build(envelope(raw))
    verdict = PreSolver().check(bundle)
    event(f"feasible={verdict.feasible} path={verdict.path}")
    assert_matches_brute_force(bundle, verdict)
