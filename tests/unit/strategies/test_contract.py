"""The contract every strategy plugin must pass.

A plugin joins by adding a case to ``CASES``: a valid payload and an invalid
one. The tests check what the rest of the gateway relies on.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.core.bundle import OrderBundle
from gateway.core.errors import PayloadError
from gateway.core.plugins import Strategy
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
    # The empty fill always satisfies a strategy's constraints (DESIGN.md §4.3) ...
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
    from gateway.core.plugins import BuildContext

    return BuildContext(bundle_id="L-1", metadata={"client": "DESK1"})


def test_seed_envelope_round_trip(registry):
    assert registry.build(envelope(seed_hedge())).legs[0].symbol == "AAAA"
