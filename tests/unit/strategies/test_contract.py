"""The contract every strategy plugin must pass.

A plugin joins by adding a case to ``CASES``: a valid payload and an invalid
one; a built-in also adds to ``FILLS`` a fill of its valid payload's bundle
within its bound, the achieved value worked by hand, and a fill outside it.
The tests check what the rest of the gateway relies on.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.core.bundle import OrderBundle
from gateway.core.errors import PayloadError
from gateway.core.plugins import BuildContext, FillCheck, FillDescriber, LoadedStrategy, Strategy
from gateway.solver.presolve import PreSolver
from tests.conftest import envelope, seed_hedge

CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "single_factor_hedged": (
        seed_hedge()["bidder_data"],
        {"target_hedge_ratio": 2, "positions": "not a list"},
    ),
    "beta_neutral": (
        {
            "beta_tol": 20,
            "positions": [
                {
                    "symbol": "AAAA",
                    "side": "Buy",
                    "price": "10.00",
                    "beta_coeff": "1.0",
                    "qty": 1000,
                },
                {
                    "symbol": "BBBB",
                    "side": "Sell",
                    "price": "10.00",
                    "beta_coeff": "1.0",
                    "qty": 1000,
                },
            ],
        },
        {"beta_tol": 20},
    ),
    "mean_reversion_hedge": (
        {
            "price_history": "config/samples/fx_prices.csv",
            "vectors": "given",
            "positions": [
                {"symbol": "EUR", "side": "Sell", "qty": 400_000, "price": "0.7970", "beta_1": 1},
                {"symbol": "CHF", "side": "Buy", "qty": 400_000, "price": "0.7455", "beta_1": -1},
            ],
        },
        {"price_history": "config/samples/fx_prices.csv", "positions": []},
    ),
    "pairs": (
        {
            "ratio_min": "0.5",
            "ratio_max": "2",
            "positions": [
                {"symbol": "AAAA", "side": "Buy", "qty": 1000, "price": "10.00"},
                {"symbol": "BBBB", "side": "Sell", "qty": 1000, "price": "20.00"},
            ],
        },
        {"ratio_min": 1, "positions": []},
    ),
    "dollar_neutral": (
        {
            "tolerance_pct": 5,
            "positions": [
                {"symbol": "AAAA", "side": "Buy", "qty": 1000, "price": "10.00"},
                {"symbol": "BBBB", "side": "Sell", "qty": 1000, "price": "20.00"},
            ],
        },
        {"tolerance_pct": 5},
    ),
}


# Per built-in strategy, fills per bundle leg of its CASES payload:
# (within the bound, the achieved value worked by hand, outside the bound).
FILLS: dict[str, tuple[tuple[int, ...], Fraction, tuple[int, ...]]] = {
    # docs/math.md §2 worked check, AAAA +4, BBBB −12, CCCC −3, r = 2:
    # abs_weighted = 4·900 + 12·100 = 4800, net = 4·900 − 12·100 = 2400, ρ = 1/2 = 1/r.
    # AAAA 800: abs 4400, net 2000, ρ = 5/11.
    "single_factor_hedged": ((900, 100, 0), Fraction(1, 2), (800, 100, 0)),
    # Same price and beta on both sides, buy vs sell: net 0. BBBB 900: net 10·1000 −
    # 10·900 = 1000, abs 19000, drift 1/19 > 1/20 (docs/math.md §3).
    "beta_neutral": ((1000, 1000), Fraction(0), (1000, 900)),
    # The hedge buys 4 lots EUR and sells 4 lots CHF; half of each is half the trade.
    "mean_reversion_hedge": ((200_000, 200_000), Fraction(1, 2), (200_000, 100_000)),
    # q_B / q_A = 600 / 400 = 3/2 inside [1/2, 2]; 900 / 400 = 9/4 above 2.
    "pairs": ((400, 600), Fraction(3, 2), (400, 900)),
    # net = 10·1000 − 20·500 = 0; with BBBB 400: net 2000, gross 18000, 1/9 > 5%.
    "dollar_neutral": ((1000, 500), Fraction(0), (1000, 400)),
}


@pytest.fixture(params=sorted(CASES))
def case(request, registry):
    name = request.param
    valid, invalid = CASES[name]
    return registry.get(name), valid, invalid


def test_every_registered_strategy_has_a_contract_case(registry):
    assert set(registry.names) == set(CASES)


def test_plugin_satisfies_the_protocol(case):
    loaded, _, _ = case
    assert isinstance(loaded.plugin, Strategy)


def test_valid_payload_builds_a_bundle_in_payload_order(case):
    loaded, valid, _ = case
    bundle = loaded.build(valid, context=_context())
    assert isinstance(bundle, OrderBundle)
    assert bundle.bundle_id == "L-1"
    # Legs come in payload order (a strategy may leave out positions it does not trade).
    order = [p["symbol"] for p in valid["positions"]]
    indices = [order.index(leg.symbol) for leg in bundle.legs]
    assert indices == sorted(indices)
    assert all(len(c.coefficients) == len(bundle.legs) for c in bundle.constraints)
    # The empty fill always satisfies a strategy's constraints (docs/math.md §4) ...
    assert bundle.violations([0] * len(bundle.legs)) == []
    # ... and the sample has a non-empty fill that verifies.
    verdict = PreSolver().check(bundle)
    assert verdict.feasible
    assert bundle.violations(verdict.max_fill or ()) == []


def test_invalid_payload_raises_payload_error_only(case):
    loaded, _, invalid = case
    with pytest.raises(PayloadError) as info:
        loaded.build(invalid, context=_context())
    assert info.value.issues
    assert all(issue.path.startswith("bidder_data") for issue in info.value.issues)


def test_build_is_deterministic(case):
    loaded, valid, _ = case
    assert loaded.build(valid, context=_context()) == loaded.build(valid, context=_context())


def _context():
    return BuildContext(bundle_id="L-1", metadata={"client": "DESK1"})


def test_seed_envelope_round_trip(registry):
    assert registry.build(envelope(seed_hedge())).legs[0].symbol == "AAAA"


# --- describe_fill: the strategy's own account of a fill ------------------------------


def test_every_builtin_strategy_describes_fills(registry):
    assert set(FILLS) == set(registry.names)
    assert all(isinstance(registry.get(name).plugin, FillDescriber) for name in FILLS)


def test_describe_fill_matches_the_hand_computation(case):
    loaded, valid, _ = case
    inside, achieved, outside = FILLS[loaded.name]
    bundle = loaded.build(valid, context=_context())
    check = loaded.describe_fill(valid, bundle, inside)
    assert isinstance(check, FillCheck)
    assert check.achieved == achieved
    assert isinstance(check.achieved, Fraction)  # exact, never a float
    assert check.within
    assert check.measure
    assert check.bound
    assert str(check).startswith(f"{check.measure} {float(achieved):+.4f}, {check.bound}")
    assert bundle.violations(inside) == []
    check = loaded.describe_fill(valid, bundle, outside)
    assert check is not None
    assert not check.within
    assert check.achieved != achieved
    assert bundle.violations(outside) != []


def test_describe_fill_of_the_empty_fill_is_within(case):
    loaded, valid, _ = case
    bundle = loaded.build(valid, context=_context())
    check = loaded.describe_fill(valid, bundle, [0] * len(bundle.legs))
    assert check is not None
    assert check.within


_BUNDLES: dict[str, OrderBundle] = {}


def _bundle(loaded: LoadedStrategy, valid: dict[str, Any]) -> OrderBundle:
    if loaded.name not in _BUNDLES:
        _BUNDLES[loaded.name] = loaded.build(valid, context=_context())
    return _BUNDLES[loaded.name]


# The fixture only hands out immutable objects, so sharing it across examples is safe.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(data=st.data())
def test_describe_fill_agrees_with_the_bundle_constraints(case, data):
    loaded, valid, _ = case
    bundle = _bundle(loaded, valid)
    fills = [
        leg.lot_size * data.draw(st.integers(0, min(leg.max_lots, 12)), label=leg.symbol)
        for leg in bundle.legs
    ]
    check = loaded.describe_fill(valid, bundle, fills)
    assert check is not None
    assert check.within == (bundle.violations(fills) == [])
