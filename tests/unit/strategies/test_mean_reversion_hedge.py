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


@pytest.fixture
def registry_in(tmp_path: Path) -> StrategyRegistry:
    """A registry whose data_dir is ``tmp_path``, holding a copy of the FX prices."""
    (tmp_path / "fx_prices.csv").write_text((SAMPLES / "fx_prices.csv").read_text())
    settings = StrategiesFile.model_validate(
        {"strategies": {"mean_reversion_hedge": {"config": {"data_dir": str(tmp_path)}}}}
    )
    return StrategyRegistry.from_settings(settings)


def _fx_sample(**change: object) -> dict[str, object]:
    raw = load_yaml(SAMPLES / "fx_hedge.yaml")
    raw["bidder_data"].update(change)
    return raw


def _refusal(registry: StrategyRegistry, raw: dict[str, object]) -> dict[str, str]:
    with pytest.raises(PayloadError) as info:
        registry.build(parse_envelope(raw), bundle_id="X")
    return {issue.path: issue.reason for issue in info.value.issues}


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda rows: rows[:4], "bad.csv: cannot estimate mean-reverting vectors from 3 rows"),
        (lambda rows: [*rows[:50], "50,nan,1,1,1", *rows[51:]], "bad.csv, line 51, EUR: 'nan'"),
        (lambda rows: [*rows[:50], "50,1,1", *rows[51:]], "bad.csv, line 51: 3 cells, the header"),
        (lambda rows: [rows[0], *(f"{i},1,2,3,4" for i in range(99))], "the prices of"),
        (lambda rows: [rows[0].replace("JPY", "EUR"), *rows[1:]], "EUR is named twice"),
    ],
)
def test_a_bad_price_history_is_refused_with_its_line(registry_in, tmp_path, edit, reason):
    rows = (SAMPLES / "fx_prices.csv").read_text().splitlines()
    (tmp_path / "bad.csv").write_text("\n".join(edit(rows)) + "\n")
    issues = _refusal(registry_in, _fx_sample(price_history="bad.csv"))
    assert reason in issues["bidder_data.price_history"], issues


def test_a_horizon_longer_than_the_history_names_the_horizon(registry_in):
    issues = _refusal(registry_in, _fx_sample(horizon=749))
    assert issues == {
        "bidder_data.horizon": "fx_prices.csv has 750 rows of prices; a risk horizon of "
        "749 step(s) needs at least 751"
    }


def test_more_pca_vectors_than_instruments_names_the_count(registry_in):
    issues = _refusal(registry_in, _fx_sample(vectors="pca", vector_count=5))
    assert issues == {
        "bidder_data.vector_count": "5 vectors of 4 instruments; 1 to 4 principal components "
        "can be taken"
    }


def test_given_vectors_need_the_same_betas_on_every_position(registry_in):
    raw = _fx_sample(vectors="given")
    positions = raw["bidder_data"]["positions"]  # type: ignore[index]
    for position, betas in zip(
        positions,
        [
            {"beta_1": 1, "beta_2": 1},
            {"beta_1": 0, "beta_3": 1},
            {"beta_1": -1, "beta_2": 0},
            {"beta_1": 0, "beta_2": -2},
        ],
        strict=True,
    ):
        position.update(betas)
    issues = _refusal(registry_in, raw)
    assert issues["bidder_data"].endswith(
        f"positions[1] ({positions[1]['symbol']}) has beta_1, beta_3"
    ), issues


def test_dependent_given_vectors_are_refused_on_the_positions(registry_in):
    raw = _fx_sample(vectors="given")
    for position in raw["bidder_data"]["positions"]:  # type: ignore[index]
        position.update({"beta_1": 1, "beta_2": 2})
    issues = _refusal(registry_in, raw)
    assert "linearly dependent" in issues["bidder_data.positions"], issues


def test_the_risk_reported_is_that_of_the_bundle_sent(fx_registry):
    """risk_after is the book plus the legs' full trade, rounded to lots, not the
    lattice's whole lots of the (fractional) vectors; both are reported."""
    raw = load_yaml(SAMPLES / "fx_hedge.yaml")
    bundle = fx_registry.build(parse_envelope(raw), bundle_id="FX9")
    positions = raw["bidder_data"]["positions"]
    symbols = [p["symbol"] for p in positions]
    book = np.array(
        [(1 if p["side"] == "Buy" else -1) * p["qty"] for p in positions], dtype=np.float64
    )
    trade = np.zeros(len(symbols))
    for leg in bundle.legs:
        trade[symbols.index(leg.symbol)] = leg.side.sign * leg.max_qty
    cov = covariance(BOOK.prices)
    sent = risk(book + trade, cov)
    assert float(bundle.metadata["risk_after"]) == pytest.approx(sent, rel=1e-5)
    assert float(bundle.metadata["risk_before"]) == pytest.approx(risk(book, cov), rel=1e-5)
    # On this sample the Johansen vectors are fractional: rounding changes the risk.
    assert bundle.metadata["risk_unrounded"] != bundle.metadata["risk_after"]
