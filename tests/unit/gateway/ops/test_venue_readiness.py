"""The simulated venue's readiness (what its /readyz answers), without starting it."""

from __future__ import annotations

import time
from pathlib import Path

from gateway.fix.engine import free_port
from gateway.venue.app import READY_FAILURES, Venue
from gateway.venue.config import VenueAppConfig


def venue(tmp_path: Path) -> Venue:
    config = VenueAppConfig.model_validate(
        {
            "port": free_port(),
            "store": "memory",
            "store_dir": tmp_path / "store",
            "symbols": {"AAAA": {"bid": "9.95", "offer": "10.05"}},
        }
    )
    return Venue(config)


def test_a_venue_whose_auctions_do_not_run_or_do_not_clear_is_not_ready(tmp_path: Path) -> None:
    party = venue(tmp_path)
    assert party.readiness()["auctions_running"] is not None  # none has run yet
    party.stats.last_auction_at = time.monotonic()
    assert party.readiness() == {"auctions_running": None, "auctions_clearing": None}
    party.stats.failing_in_a_row = READY_FAILURES
    assert party.readiness()["auctions_clearing"] == (
        f"{READY_FAILURES} auctions in a row ended without a solution"
    )
    party.stats.last_auction_at = time.monotonic() - 60
    assert "no auction has ended for 60" in (party.readiness()["auctions_running"] or "")
