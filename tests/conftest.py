"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from gateway.core import logs
from gateway.core.plugins import BidderPayload, StrategyRegistry
from gateway.solver.presolve import PresolveConfig, PreSolver

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "config" / "samples"

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
# Tests assert behaviour, not log lines: keep the output for warnings and errors.
logs.configure(level="warning", json=True)

# CI runs the same examples every time (no flaky red builds); locally they vary.
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture(scope="session")
def registry() -> StrategyRegistry:
    return StrategyRegistry.from_settings()


@pytest.fixture(scope="session")
def presolver() -> PreSolver:
    return PreSolver(PresolveConfig(smallest_fill=True))


def seed_hedge(aaaa_qty: int = 2000) -> dict[str, Any]:
    """The seed's hedge_data sample as a payload envelope (docs/math.md §2)."""
    return {
        "strategy": "single_factor_hedged",
        "lot_size": 100,
        "bidder_data": {
            "target_hedge_ratio": 2,
            "positions": [
                {
                    "symbol": "AAAA",
                    "side": "Buy",
                    "hedge_qty_coeff": 4,
                    "qty": aaaa_qty,
                    "price": "10.00",
                },
                {
                    "symbol": "BBBB",
                    "side": "Sell",
                    "hedge_qty_coeff": -12,
                    "qty": 1000,
                    "price": "20.00",
                },
                {
                    "symbol": "CCCC",
                    "side": "Buy",
                    "hedge_qty_coeff": -3,
                    "qty": 1000,
                    "price": "5.00",
                },
            ],
        },
    }


def envelope(raw: dict[str, Any]) -> BidderPayload:
    return BidderPayload.model_validate(raw)
