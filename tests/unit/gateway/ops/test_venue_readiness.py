"""The simulated venue's readiness (what its /readyz answers), without starting it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.fix.engine import free_port
from gateway.venue.app import READY_FAILURES, Venue
from gateway.venue.config import VenueAppConfig


@pytest.fixture
def party(tmp_path: Path) -> Iterator[Venue]:
    """A venue, not started; stopped at teardown, which takes its session (VENUE→BIDGW)
    out of QuickFIX's process-wide registry, where it would shadow the next venue the
    process starts (tests/unit/gateway/venue/test_app.py, ``make_venue``)."""
    config = VenueAppConfig.model_validate(
        {
            "port": free_port(),
            "store": "memory",
            "store_dir": tmp_path / "store",
            "symbols": {"AAAA": {"bid": "9.95", "offer": "10.05"}},
        }
    )
    venue = Venue(config)
    yield venue
    venue.stop()


def test_a_venue_whose_auctions_do_not_run_or_do_not_clear_is_not_ready(party: Venue) -> None:
    assert party.readiness()["auctions_running"] is not None  # none has run yet
    party.stats.last_auction_at = time.monotonic()
    assert party.readiness() == {"auctions_running": None, "auctions_clearing": None}
    party.stats.failing_in_a_row = READY_FAILURES
    assert party.readiness()["auctions_clearing"] == (
        f"{READY_FAILURES} auctions in a row ended without a solution"
    )
    party.stats.last_auction_at = time.monotonic() - 60
    assert "no auction has ended for 60" in (party.readiness()["auctions_running"] or "")
