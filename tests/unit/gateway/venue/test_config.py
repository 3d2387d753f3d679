"""The venue's config: ticks, reference prices on them, and what fits the auction."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.venue.config import VenueAppConfig, load_venue_config
from tests.conftest import ROOT


def config(symbols: dict[str, Any], **extra: Any) -> VenueAppConfig:
    return VenueAppConfig.model_validate({"port": 9879, "symbols": symbols, **extra})


def test_the_tick_defaults_to_a_cent_and_the_price_scale_covers_every_grid():
    plain = config({"AAAA": {"bid": "9.95", "offer": "10.05"}})
    assert plain.symbols["AAAA"].tick == Decimal("0.01")
    assert plain.price_scale() == 100  # the liquidity's default tick is 0.01 too
    mixed = config(
        {
            "AAAA": {"bid": "9.95", "offer": "10.05"},
            "EUR": {"bid": "0.7960", "offer": "0.7970", "lot_size": 100_000, "tick": "0.0001"},
            "HALF": {"bid": "4.5", "offer": "5.5", "tick": "0.5"},
        },
        liquidity={"tick": "0.005"},
    )
    assert mixed.price_scale() == 10_000


def test_the_shipped_venue_config_is_valid():
    shipped = load_venue_config(ROOT / "config" / "venue.yaml")
    assert shipped.symbols["EUR"].tick == Decimal("0.0001")
    assert shipped.symbols["AAAA"].tick == Decimal("0.01")


@pytest.mark.parametrize(
    ("symbol", "message"),
    [
        ({"bid": "9.95", "offer": "10.05", "tick": "0"}, "must be greater than 0"),
        ({"bid": "9.95", "offer": "10.05", "tick": "-0.01"}, "must be greater than 0"),
        (
            {"bid": "9.95", "offer": "10.05", "tick": "0.0000001"},
            "tick 0.0000001 has 7 decimal places; at most 6",
        ),
        ({"bid": "9.955", "offer": "10.05"}, "bid 9.955 is not a multiple of the tick 0.01"),
        (
            {"bid": "9.95", "offer": "10.05", "tick": "0.02"},
            "bid 9.95 is not a multiple of the tick 0.02",
        ),
        (
            {"bid": "0.7960", "offer": "0.7970", "lot_size": 100_000},
            "bid 0.7960 is not a multiple of the tick 0.01",
        ),
        ({"bid": "10.05", "offer": "10.05"}, "bid 10.05 must be below offer 10.05"),
        ({"bid": "9.95", "offer": "10.05", "tick": 0.01}, "binary float"),
    ],
)
def test_a_bad_tick_or_reference_price_is_refused(symbol, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        config({"AAAA": symbol})


def test_the_liquidity_tick_has_the_same_bound():
    with pytest.raises(ValidationError, match=re.escape("tick 0.00000001 has 8 decimal places")):
        config({"AAAA": {"bid": "9.95", "offer": "10.05"}}, liquidity={"tick": "0.00000001"})


def test_a_lot_at_the_offer_must_fit_the_auctions_objective():
    # 1,000,000 × 10^6 (a 0.000001 tick) × 10^4 lot = 10^16 > 10^12.
    with pytest.raises(ValidationError, match=r"symbol BIG: a lot of 10000 at the offer"):
        config(
            {"BIG": {"bid": "999999", "offer": "1000000", "lot_size": 10_000, "tick": "0.000001"}}
        )
    fits = config({"BIG": {"bid": "999999", "offer": "1000000", "lot_size": 10_000}})
    assert fits.price_scale() == 100


def test_self_trade_prevention_is_on_unless_a_symbol_switches_it_off():
    venue = config(
        {
            "AAAA": {"bid": "9.95", "offer": "10.05"},
            "BBBB": {"bid": "19.95", "offer": "20.05", "self_trade_prevention": False},
        }
    )
    assert venue.symbols["AAAA"].self_trade_prevention is True
    assert venue.symbols["BBBB"].self_trade_prevention is False
    with pytest.raises(ValidationError, match="valid boolean"):
        config({"AAAA": {"bid": "9.95", "offer": "10.05", "self_trade_prevention": "no"}})
    shipped = load_venue_config(ROOT / "config" / "venue.yaml")
    assert all(ref.self_trade_prevention for ref in shipped.symbols.values())


def test_the_auction_settings_of_issue_15_have_their_defaults():
    auction = config({"AAAA": {"bid": "9.95", "offer": "10.05"}}).auction
    assert (auction.interface, auction.batch_bundles) == ("highspy", 1000)
    custom = config(
        {"AAAA": {"bid": "9.95", "offer": "10.05"}},
        auction={"interface": "pulp", "batch_bundles": 200},
    ).auction
    assert (custom.interface, custom.batch_bundles) == ("pulp", 200)
    with pytest.raises(ValidationError, match="interface"):
        config({"AAAA": {"bid": "9.95", "offer": "10.05"}}, auction={"interface": "cplex"})
