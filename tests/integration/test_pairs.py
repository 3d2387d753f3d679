"""A pair's spread limit on clearing prices, end to end: desk → gateway → the real venue."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from gateway.fix.engine import msg_type
from gateway.tools.client import parse_report, submit
from gateway.venue.app import Venue
from tests.integration.test_venue import Auctions, fills_for, two_desks, venue_config

pytestmark = pytest.mark.integration


def pair(list_side: str, spread: str | None = None) -> dict[str, Any]:
    """AAAA and BBBB one for one, both at the far side of the venue's spread:
    ``long`` buys AAAA at <= 10.05 and sells BBBB at >= 19.95; ``short`` sells AAAA at
    >= 10.05 and buys BBBB at <= 19.95, so the two cross only at exactly 10.05 and
    19.95, where p_BBBB - p_AAAA = 9.90. With a spread, the long (it sells B) needs
    ``p_BBBB - p_AAAA >= spread``."""
    long = list_side == "long"
    return {
        "strategy": "pairs",
        "lot_size": 100,
        "bidder_data": {
            "ratio_min": "1",
            "ratio_max": "1",
            **({"spread": spread} if spread is not None else {}),
            "positions": [
                {
                    "symbol": "AAAA",
                    "side": "Buy" if long else "Sell",
                    "qty": 1000,
                    "price": "10.05",
                },
                {
                    "symbol": "BBBB",
                    "side": "Sell" if long else "Buy",
                    "qty": 1000,
                    "price": "19.95",
                },
            ],
        },
    }


def test_a_pair_fills_only_at_clearing_prices_within_its_spread(
    ports: dict[str, int], tmp_path: Any
) -> None:
    auctions = Auctions()
    venue = Venue(venue_config(ports, tmp_path), on_auction=auctions)
    with two_desks(ports, tmp_path, venue) as (one, two):
        # Inside the venue's bands p_BBBB - p_AAAA is at most 20.05 - 9.95 = 10.10:
        # a spread above that is denied by the gateway, never forwarded.
        never = submit(one, pair("long", spread="10.11"), list_id="NEVER", timeout=5)
        assert never.status == "rejected"
        assert "within the counterparty's bid-offer ranges" in (never.reason or "")
        assert venue.stats.bundles_received == 0
        # 9.95 is attainable in the bands, but not where the mirror crosses.
        tight = submit(one, pair("long", spread="9.95"), list_id="TIGHT", wait_done=False)
        assert tight.status == "accepted", tight.reason
        mirror = submit(two, pair("short"), list_id="MIRROR", wait_done=False)
        assert mirror.status == "accepted", mirror.reason
        assert auctions.wait_count(auctions.count + 5)
        assert one.wait_for(lambda m: msg_type(m) == "8", 0.05) is None
        loose = submit(one, pair("long", spread="9.90"), list_id="LOOSE", wait_done=False)
        assert loose.status == "accepted", loose.reason
        reports = fills_for(one, "LOOSE", 2)
        prices = {r["symbol"]: Decimal(r["last_px"]) for r in reports if r["last_qty"]}
        assert prices == {"AAAA": Decimal("10.05"), "BBBB": Decimal("19.95")}, reports
        assert len(fills_for(two, "MIRROR", 2)) >= 2
        assert (
            one.wait_for(
                lambda m: msg_type(m) == "8" and parse_report(m)["list_id"] == "TIGHT", 0.2
            )
            is None
        )
