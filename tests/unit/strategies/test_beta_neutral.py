"""beta_neutral: the seed's code form |beta_net| <= beta_abs / beta_tol (DESIGN.md §4.2)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.errors import PayloadError
from tests.conftest import envelope


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
