"""What the venue refuses at arrival: each denial names the field, the order and the
limit; every bundle the built-in strategies and the demo send passes."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from gateway.core.bundle import Constraint, Leg, OrderBundle, PriceConstraint, Sense, Side
from gateway.core.plugins import StrategyRegistry
from gateway.tools.demo import DemoOptions, _payloads
from gateway.venue.config import load_venue_config
from gateway.venue.screen import refusal
from tests.conftest import ROOT, envelope

CONFIG = load_venue_config(ROOT / "config" / "venue.yaml")
SCALE = CONFIG.price_scale()
IDS = ("X-1", "X-2")


def bundle(
    *,
    aaaa: str = "10.05",
    eur: str = "0.7965",
    lots: tuple[int, int] = (100, 100_000),
    qty: tuple[int, int] = (2000, 1_000_000),
    coefficients: tuple[str, str] = ("1", "-2"),
    rhs: str = "0",
    sense: Sense = Sense.EQ,
    min_total_fill: int | None = None,
) -> OrderBundle:
    """Buy AAAA (tick 0.01, lot 100), sell EUR (tick 0.0001, lot 100,000), one row."""
    return OrderBundle(
        bundle_id="X",
        legs=(
            Leg(
                symbol="AAAA",
                side=Side.BUY,
                limit_price=Decimal(aaaa),
                max_qty=qty[0],
                lot_size=lots[0],
            ),
            Leg(
                symbol="EUR",
                side=Side.SELL,
                limit_price=Decimal(eur),
                max_qty=qty[1],
                lot_size=lots[1],
            ),
        ),
        constraints=(
            Constraint(
                name="hedge",
                coefficients=tuple(Decimal(c) for c in coefficients),
                sense=sense,
                rhs=Decimal(rhs),
            ),
        ),
        min_total_fill=min_total_fill,
    )


def refused(candidate: OrderBundle) -> str | None:
    return refusal(candidate, IDS, CONFIG.symbols, SCALE)


def test_a_bundle_on_the_grids_within_the_bounds_is_taken():
    assert refused(bundle()) is None
    # Trailing zeros are not digits; a tick-multiple written with more places is fine.
    assert refused(bundle(aaaa="10.0500", coefficients=("252.000", "-336.000"))) is None


def test_the_issues_price_is_refused_naming_the_field_the_order_and_the_tick():
    assert refused(bundle(aaaa="9.95000000000000000000000001")) == (
        "Price(44) of order X-1 (AAAA): 9.95000000000000000000000001 is not a multiple "
        "of the tick 0.01"
    )


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"aaaa": "9.955"},
            "Price(44) of order X-1 (AAAA): 9.955 is not a multiple of the tick 0.01",
        ),
        (
            {"eur": "0.79655"},
            "Price(44) of order X-2 (EUR): 0.79655 is not a multiple of the tick 0.0001",
        ),
        ({"aaaa": "0"}, "Price(44) of order X-1 (AAAA): 0 must be positive"),
        ({"aaaa": "-10.05"}, "Price(44) of order X-1 (AAAA): -10.05 must be positive"),
        (
            {"lots": (150, 100_000)},
            "RoundLot(561) of order X-1 (AAAA): 150 is not a multiple of the venue's lot 100",
        ),
        (
            {"lots": (1_000_100, 100_000), "qty": (2_000_200, 1_000_000)},
            "RoundLot(561) of order X-1 (AAAA): 1000100 is more than 10000 times the "
            "venue's lot 100",
        ),
        (
            {"coefficients": ("3.0000000000000003", "-3")},
            "TermCoefficient(20016) of constraint hedge, order X-1 (AAAA): 3.0000000000000003 "
            "has 17 significant digits; at most 15",
        ),
        (
            {"coefficients": ("1", "-0.1234567890123456")},
            "TermCoefficient(20016) of constraint hedge, order X-2 (EUR): -0.1234567890123456 "
            "has 16 significant digits; at most 15",
        ),
        (
            {"rhs": "1.0000000000000001", "sense": Sense.LE},
            "ConstraintRHS(20013) of constraint hedge: 1.0000000000000001 has 17 significant "
            "digits; at most 15",
        ),
        (
            {"rhs": "100", "sense": Sense.GE},
            "ConstraintRHS(20013) of constraint hedge: 0 >= 100 excludes the empty fill, "
            "which every auction the bundle does not trade in needs",
        ),
        (
            {"qty": (10_000_100, 1_000_000)},
            "OrderQty(38) of order X-1 (AAAA): 10000100 is 100001 lots of 100; at most 100000",
        ),
        (
            {"aaaa": "1000000.01"},
            "Price(44) of order X-1 (AAAA): 1000000.01 on the price grid 1/10000 counts "
            "1000000010000 per lot of 100 in the auction's objective; at most 1000000000000",
        ),
        (
            # Each has few digits; over lot counts (100 and 100,000) the row is
            # 24691357802469·a − 2·e.
            {"coefficients": ("2.4691357802469", "-0.00002")},
            "TermCoefficient(20016)s of constraint hedge: over lot counts its coefficients "
            "scale to integers up to 24691357802469; at most 1000000000",
        ),
        (
            {"min_total_fill": 1000, "qty": (9_000_000, 100_000_000)},
            "MinTotalFill(20017): 1000 needs the bundle's whole quantity within 100000 lots "
            "of its smallest lot 100; it is 109000000",
        ),
    ],
)
def test_each_denial_names_the_field_and_the_limit(changes, expected):
    assert refused(bundle(**changes)) == expected


def test_the_digit_bound_is_fifteen_significant_digits():
    # Alone in its row, a 15-digit coefficient scales to 1: the row is fine.
    assert refused(bundle(coefficients=("1.23456789012345", "0"))) is None
    assert refused(bundle(coefficients=("1.234567890123456", "0"))) == (
        "TermCoefficient(20016) of constraint hedge, order X-1 (AAAA): 1.234567890123456 "
        "has 16 significant digits; at most 15"
    )


def test_unknown_symbols_come_first():
    leg = dataclasses.replace(bundle().legs[0], symbol="ZZZZ", limit_price=Decimal("1.001"))
    unknown = dataclasses.replace(bundle(), legs=(leg, bundle().legs[1]))
    assert refused(unknown) == "unknown symbol(s) ZZZZ"


def test_every_sample_and_demo_bundle_is_taken(monkeypatch):
    """The venue must not refuse what the built-in strategies send: the samples (the
    FX one included, on its 0.0001 tick) and a few hundred of the demo's random bundles."""
    monkeypatch.chdir(ROOT)  # the FX sample's price history is read relative to it
    registry = StrategyRegistry.from_file(ROOT / "config" / "strategies.yaml")
    venue = yaml.safe_load((ROOT / "config" / "venue.yaml").read_text())
    options = DemoOptions(config_dir=ROOT / "config", out_dir=Path("unused"), bundles=300)
    checked = 0
    for source, payload in _payloads(options, venue):
        try:
            built = registry.build(envelope(payload), bundle_id="D")
        except Exception:  # samples meant to be refused by the gateway (too small, ...)
            continue
        ids = [f"D-{i + 1}" for i in range(len(built.legs))]
        assert refusal(built, ids, CONFIG.symbols, SCALE) is None, source
        checked += 1
    assert checked >= 300


# --- price constraints (issue 17) --------------------------------------------------------


def spread_pair(*, k: str = "1", rhs: str = "10.00", sense: Sense = Sense.LE) -> OrderBundle:
    """Buy BBBB, sell AAAA, with ``p_B − k·p_A (sense) rhs`` on the clearing prices."""
    return OrderBundle(
        bundle_id="X",
        legs=(
            Leg(symbol="AAAA", side=Side.SELL, limit_price=Decimal("9.95"), max_qty=1000),
            Leg(symbol="BBBB", side=Side.BUY, limit_price=Decimal("20.05"), max_qty=1000),
        ),
        price_constraints=(
            PriceConstraint(
                name="spread",
                terms=(("BBBB", Decimal(1)), ("AAAA", -Decimal(k))),
                sense=sense,
                rhs=Decimal(rhs),
            ),
        ),
    )


@pytest.mark.parametrize(
    ("k", "rhs", "sense"),
    [
        ("1", "10.00", Sense.LE),
        ("1", "9.90", Sense.LE),  # holds at one corner of the references only
        ("2", "0", Sense.GE),
        ("0.98", "10.2", Sense.LE),  # 50·p_B − 49·p_A
        ("1.2345", "7.65", Sense.LE),  # 10000·p_B − 12345·p_A: 22,345 in magnitude
        ("1", "10.0001", Sense.EQ),  # on the venue's grid 1/10000
    ],
)
def test_a_pair_with_a_spread_the_model_holds_exactly_is_taken(k, rhs, sense):
    assert refused(spread_pair(k=k, rhs=rhs, sense=sense)) is None


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"k": "1.0000000000000001"},
            "PriceTermCoefficient(20026) of price constraint spread, symbol AAAA: "
            "-1.0000000000000001 has 17 significant digits; at most 15",
        ),
        (
            {"rhs": "10.000000000000001"},
            "PriceConstraintRHS(20023) of price constraint spread: 10.000000000000001 has 17 "
            "significant digits; at most 15",
        ),
        (
            # Exact over prices only as 1000000·p_B − 1000001·p_A: HiGHS's tolerances
            # could pass prices a step off.
            {"k": "1.000001"},
            "PriceTermCoefficient(20026)s of price constraint spread: over the clearing "
            "prices its coefficients scale to the coprime integers 1000000, -1000001, "
            "2000001 in magnitude together; at most 100000",
        ),
        (
            # Seven decimals: a grid of 10^-7, on which AAAA's 0.10 spread is 10^6 steps.
            {"rhs": "10.0000001"},
            "PriceConstraintRHS(20023) of price constraint spread: 10.0000001 puts the "
            "clearing prices on the grid 1/10000000, where a reference its bundle's price "
            "constraints name spans 1000000 steps; at most 100000",
        ),
        (
            {"rhs": "9"},
            "PriceConstraintRHS(20023) of price constraint spread: p(BBBB) - p(AAAA) <= 9 "
            "holds at no clearing prices within the reference markets of its symbols, "
            "where its left-hand side lies in [9.9, 10.1]; the bundle could never fill",
        ),
        (
            {"k": "2", "rhs": "0.5", "sense": Sense.GE},
            "PriceConstraintRHS(20023) of price constraint spread: p(BBBB) - 2·p(AAAA) >= "
            "0.5 holds at no clearing prices within the reference markets of its symbols, "
            "where its left-hand side lies in [-0.15, 0.15]; the bundle could never fill",
        ),
    ],
)
def test_each_price_constraint_denial_names_the_field(changes, expected):
    assert refused(spread_pair(**changes)) == expected


def test_a_pairs_bundle_with_a_spread_from_the_strategy_is_taken(registry):
    raw = {
        "strategy": "pairs",
        "lot_size": 100,
        "bidder_data": {
            "ratio_min": "0.4",
            "ratio_max": "0.6",
            "spread": "10.02",
            "positions": [
                {"symbol": "AAAA", "side": "Sell", "qty": 3000, "price": "9.95"},
                {"symbol": "BBBB", "side": "Buy", "qty": 1500, "price": "20.05"},
            ],
        },
    }
    assert refused(registry.build(envelope(raw), bundle_id="X")) is None
