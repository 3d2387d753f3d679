"""Estimation of mean-reverting vectors, the hedge on a synthetic book, the plugin."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from gateway.core.errors import PayloadError
from gateway.core.plugins import StrategiesFile, StrategyRegistry, parse_envelope
from gateway.core.yamlio import load_yaml
from gateway.solver.presolve import PreSolver
from strategies.lattice import risk, solve_hedge
from strategies.meanrev import covariance, johansen_vectors, pca_vectors, synthetic_fx
from tests.conftest import SAMPLES

BOOK = synthetic_fx()


def span_error(estimated: np.ndarray, true: np.ndarray) -> float:
    """Largest relative distance of a true vector from the estimated span."""
    basis, _ = np.linalg.qr(estimated)
    residual = true - basis @ (basis.T @ true)
    return float(np.max(np.linalg.norm(residual, axis=0) / np.linalg.norm(true, axis=0)))


def test_johansen_finds_rank_two_and_recovers_the_span():
    vectors = johansen_vectors(BOOK.prices)
    assert vectors.shape == (4, 2)
    assert span_error(vectors, BOOK.true_vectors) < 0.02


def test_pca_smallest_components_recover_the_span():
    assert span_error(pca_vectors(BOOK.prices, 2), BOOK.true_vectors) < 0.02


def test_hedge_removes_a_book_made_of_the_vectors_leaving_only_the_noise():
    lot = 100_000.0
    cov = covariance(BOOK.prices)
    basis = lot * BOOK.true_vectors
    noise = np.array([3_000.0, -2_000.0, 1_000.0, 4_000.0])
    book = basis @ np.array([7, -3]) + noise
    solution = solve_hedge(book, basis, cov, "exact")
    assert solution.omega.tolist() == [7, -3]
    assert solution.residual == pytest.approx(noise)
    # Expected factor: everything but the noise is hedged.
    assert solution.risk_after == pytest.approx(risk(noise, cov))
    assert solution.reduction == pytest.approx(risk(book, cov) / risk(noise, cov))
    assert solution.reduction > 1_000


@pytest.fixture(scope="module")
def fx_registry() -> StrategyRegistry:
    settings = StrategiesFile.model_validate(
        {"strategies": {"mean_reversion_hedge": {"config": {"data_dir": str(SAMPLES)}}}}
    )
    return StrategyRegistry.from_settings(settings)


def test_sample_payload_builds_a_feasible_proportional_bundle(fx_registry):
    payload = parse_envelope(load_yaml(SAMPLES / "fx_hedge.yaml"))
    bundle = fx_registry.build(payload, bundle_id="FX1")
    assert all(leg.lot_size == 100_000 for leg in bundle.legs)
    assert float(bundle.metadata["risk_after"]) <= float(bundle.metadata["risk_before"])
    verdict = PreSolver().check(bundle)
    assert verdict.feasible
    assert verdict.max_fill == tuple(leg.max_qty for leg in bundle.legs)


def test_partial_fills_keep_the_vector_proportions(fx_registry):
    # One given vector, long EUR / short CHF; the book is short 4 lots of it, so the
    # hedge buys 4 lots EUR and sells 4 lots CHF, and fills must stay 1:1.
    payload = parse_envelope(
        {
            "strategy": "mean_reversion_hedge",
            "bidder_data": {
                "price_history": "fx_prices.csv",
                "vectors": "given",
                "positions": [
                    {
                        "symbol": "EUR",
                        "side": "Sell",
                        "qty": 400_000,
                        "price": "0.7970",
                        "beta_1": 1,
                    },
                    {
                        "symbol": "CHF",
                        "side": "Buy",
                        "qty": 400_000,
                        "price": "0.7455",
                        "beta_1": -1,
                    },
                ],
            },
        }
    )
    bundle = fx_registry.build(payload, bundle_id="FX2")
    assert [(leg.symbol, leg.side.value, leg.max_qty) for leg in bundle.legs] == [
        ("EUR", "buy", 400_000),
        ("CHF", "sell", 400_000),
    ]
    assert bundle.violations([100_000, 100_000]) == []  # a quarter of the hedge
    assert bundle.violations([300_000, 300_000]) == []
    assert bundle.violations([200_000, 100_000]) != []  # off the vector: refused
    assert bundle.metadata["lots_per_vector"] == "-4"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"price_history": "../../etc/passwd"}, "bidder_data.price_history"),
        ({"price_history": "missing.csv"}, "bidder_data.price_history"),
        ({"vectors": "pca"}, "bidder_data"),
    ],
)
def test_invalid_payloads_name_the_field(fx_registry, change, path):
    raw = load_yaml(SAMPLES / "fx_hedge.yaml")
    raw["bidder_data"].update(change)
    with pytest.raises(PayloadError) as info:
        fx_registry.build(parse_envelope(raw), bundle_id="X")
    assert any(issue.path == path for issue in info.value.issues), info.value


def test_committed_samples_are_the_generator_output(tmp_path: Path):
    from strategies.meanrev import write_samples

    write_samples(tmp_path)
    for name in ("fx_prices.csv", "fx_positions.csv"):
        assert (tmp_path / name).read_text() == (SAMPLES / name).read_text()


def test_decimal_betas_are_accepted(fx_registry):
    payload = parse_envelope(
        {
            "strategy": "mean_reversion_hedge",
            "bidder_data": {
                "price_history": "fx_prices.csv",
                "vectors": "given",
                "positions": [
                    {
                        "symbol": "EUR",
                        "side": "Sell",
                        "qty": 400_000,
                        "price": "0.7970",
                        "beta_1": Decimal("0.5"),
                    },
                    {
                        "symbol": "CHF",
                        "side": "Buy",
                        "qty": 400_000,
                        "price": "0.7455",
                        "beta_1": "-0.5",
                    },
                ],
            },
        }
    )
    bundle = fx_registry.build(payload, bundle_id="X")
    assert [leg.symbol for leg in bundle.legs] == ["EUR", "CHF"]
    assert bundle.metadata["lots_per_vector"] == "-8"


def test_describe_fill_reports_the_share_of_the_hedge_and_its_proportions(fx_registry):
    data = {
        "price_history": "fx_prices.csv",
        "vectors": "given",
        "positions": [
            {"symbol": "EUR", "side": "Sell", "qty": 400_000, "price": "0.7970", "beta_1": 1},
            {"symbol": "CHF", "side": "Buy", "qty": 400_000, "price": "0.7455", "beta_1": -1},
        ],
    }
    bundle = fx_registry.build(
        parse_envelope({"strategy": "mean_reversion_hedge", "bidder_data": data}),
        bundle_id="FX3",
    )
    strategy = fx_registry.get("mean_reversion_hedge")
    # The full hedge is 400,000 EUR bought and 400,000 CHF sold: 100,000 of each is a quarter.
    check = strategy.describe_fill(data, bundle, [100_000, 100_000])
    assert check is not None
    assert check.achieved == Fraction(200_000, 800_000) == Fraction(1, 4)
    assert check.within
    assert str(check).startswith("hedge trade filled +0.2500, every leg in that proportion (risk ")
    # Off the vector: 2 lots of EUR against 1 of CHF is not a hedge.
    check = strategy.describe_fill(data, bundle, [200_000, 100_000])
    assert check is not None
    assert check.achieved == Fraction(3, 8)
    assert not check.within
