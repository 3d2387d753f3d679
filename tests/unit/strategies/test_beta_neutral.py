"""beta_neutral: the seed's code form |beta_net| <= beta_abs / beta_tol (docs/math.md §3)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.errors import PayloadError
from gateway.core.yamlio import load_yaml
from tests.conftest import SAMPLES, envelope


def beta_payload(tol: str = "20") -> dict[str, Any]:
    return {
        "strategy": "beta_neutral",
        "bidder_data": {
            "beta_tol": tol,
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
                    "beta_coeff": "-1.30",
                    "qty": 6000,
                },
            ],
        },
    }


@given(
    fill=st.lists(st.integers(0, 50), min_size=3, max_size=3),
    tol=st.sampled_from(["1", "2.5", "20", "100"]),
)
def test_constraints_hold_iff_net_within_gross_over_tol(registry, fill, tol):
    raw = beta_payload(tol)
    bundle = registry.build(envelope(raw))
    quantities = [100 * n for n in fill]
    positions = raw["bidder_data"]["positions"]
    net = Fraction(0)
    gross = Fraction(0)
    for p, q in zip(positions, quantities, strict=True):
        sign = 1 if p["side"] == "Buy" else -1
        beta, price = Fraction(Decimal(p["beta_coeff"])), Fraction(Decimal(p["price"]))
        net += sign * beta * price * q
        gross += abs(beta) * price * q
    expected = abs(net) * Fraction(Decimal(tol)) <= gross
    assert all(c.holds(quantities) for c in bundle.constraints) == expected


@pytest.mark.parametrize(
    ("mutate", "path", "words"),
    [
        (lambda d: d.update(beta_tol=0), "bidder_data.beta_tol", "greater than 0"),
        (lambda d: d.update(beta_tol="-3"), "bidder_data.beta_tol", "greater than 0"),
        (lambda d: d.update(positions=[]), "bidder_data.positions", "at least 1"),
        (
            lambda d: d["positions"][2].update(qty=0),
            "bidder_data.positions[2].qty",
            "greater than 0",
        ),
        (
            lambda d: d["positions"][0].update(beta_coeff="inf"),
            "bidder_data.positions[0].beta_coeff",
            "not a finite number",
        ),
        (
            lambda d: d["positions"].append(dict(d["positions"][1])),
            "bidder_data",
            "repeats sell BBBB",
        ),
        (lambda d: d.pop("beta_tol"), "bidder_data.beta_tol", "Field required"),
    ],
)
def test_invalid_beta_payloads_name_the_field(registry, mutate, path, words):
    raw = beta_payload()
    mutate(raw["bidder_data"])
    with pytest.raises(PayloadError) as info:
        registry.build(envelope(raw))
    assert any(i.path == path and words in i.reason for i in info.value.issues), [
        str(i) for i in info.value.issues
    ]


# --- describe_fill: the achieved beta drift next to ±1/beta_tol -----------------------


def _describe(registry, raw: dict[str, Any], fills: tuple[int, ...]):
    bundle = registry.build(envelope(raw))
    return registry.get("beta_neutral").describe_fill(raw["bidder_data"], bundle, fills)


def test_seed_sample_drift_by_hand(registry):
    raw = load_yaml(SAMPLES / "beta_seed.yaml")
    # Per share, s·β·p: DDDD +1.10·101.25 = 111.375, EEEE −0.85·48.10 = −40.885,
    # FFFF −1.30·22.40 = −29.12. Fill 4300, 8000, 5900:
    # beta_net = 478912.5 − 327080 − 171808 = −19975.5
    # beta_abs = 478912.5 + 327080 + 171808 = 977800.5     drift ≈ −0.0204, inside ±1/20
    check = _describe(registry, raw, (4300, 8000, 5900))
    assert check.achieved == Fraction("-19975.5") / Fraction("977800.5")
    assert check.within
    assert str(check) == "beta drift -0.0204, bound ±0.0500"


def test_seed_sample_fill_beyond_the_tolerance_is_outside(registry):
    raw = load_yaml(SAMPLES / "beta_seed.yaml")
    # 100 each: beta_net = 11137.5 − 4088.5 − 2912 = 4137, beta_abs = 18138: drift ≈ 0.228.
    check = _describe(registry, raw, (100, 100, 100))
    assert check.achieved == Fraction(4137, 18138)
    assert not check.within
    # beta_tol is the reciprocal of the allowed drift: at tol 4 (±25%) the same fill is in.
    raw["bidder_data"]["beta_tol"] = 4
    check = _describe(registry, raw, (100, 100, 100))
    assert check.within
    assert check.bound == "bound ±0.2500"


def test_selling_a_negative_beta_adds_to_the_net(registry):
    # CCCC: Sell, β −1.30: s·β·p = +29.12 per share.
    # beta_net = 11137.5 − 4088.5 + 2912 = 9961, beta_abs = 18138.
    check = _describe(registry, beta_payload(), (100, 100, 100))
    assert check.achieved == Fraction(9961, 18138)
    assert not check.within


def test_fill_with_no_beta_exposure_has_no_drift(registry):
    raw = beta_payload()
    raw["bidder_data"]["positions"][0]["beta_coeff"] = "0"
    check = _describe(registry, raw, (500, 0, 0))
    assert check.achieved is None
    assert check.within
