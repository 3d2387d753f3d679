"""The FIX session day (``fix.day_start``) over real sessions: at its end every session
is logged out, both sequence numbers restart at 1 and the message stores are emptied
(QuickFIX's FileStore keeps an in-memory index entry per stored message until then;
issue 10, bounded memory), and the desks log on again into the new day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import quickfix as fix

from gateway.core.config import FixFilesConfig
from gateway.router.service import Gateway
from gateway.tools.client import submit
from tests.conftest import seed_hedge
from tests.integration.conftest import (
    DEADLINE,
    Counterparty,
    gateway_config,
    make_client,
    running,
    wait_until,
)

pytestmark = pytest.mark.integration

#: Seconds from now to the end of the test's session day: the gateway, the venue
#: session and the desk must all be logged on and have traded before it.
DAY_ENDS_IN = 6


def _stored(store: Path) -> int:
    """Messages the FileStores under ``store`` hold (their ``.header`` entries)."""
    return sum(len(h.read_text().split()) for h in store.rglob("*.header"))


def test_at_the_end_of_the_session_day_every_session_resets_and_trades_on(ports, tmp_path):
    ends = datetime.now(UTC) + timedelta(seconds=DAY_ENDS_IN)
    day = FixFilesConfig(day_start=ends.strftime("%H:%M:%S"))
    venue = Counterparty(ports["venue"], tmp_path, schedule=day.schedule())
    venue.connector.start()
    try:
        with running(Gateway(gateway_config(ports, tmp_path, fix=day))) as gw:
            desk = make_client(ports, tmp_path, store="file", reset_on_logon=False, fix=day)
            try:
                assert desk.start(DEADLINE)
                for n in range(3):
                    first = submit(desk, seed_hedge(), list_id=f"DAY1-{n}", wait_done=False)
                    assert first.status == "accepted", first.reason
                session = fix.Session.lookupSession(fix.SessionID("FIX.4.4", "BIDGW", "DESK1"))
                upstream = fix.Session.lookupSession(fix.SessionID("FIX.4.4", "BIDGW", "VENUE"))
                numbers_before = session.getExpectedSenderNum()
                upstream_before = upstream.getExpectedSenderNum()
                stored_before = _stored(tmp_path / "gw-store")
                assert numbers_before >= 5, numbers_before  # a Logon, a ListStatus a list
                assert stored_before >= 4, stored_before
                assert upstream_before >= 5, upstream_before  # Logon, SecurityListRequest, lists
                assert datetime.now(UTC) < ends, "the test traded too slowly for its day"

                # The day ends: QuickFIX logs the desk out (and the venue session) ...
                assert wait_until(lambda: not desk.logged_on.is_set(), DAY_ENDS_IN + DEADLINE)
                # ... and the desk's engine logs on into the new day at number 1.
                assert desk.logged_on.wait(DEADLINE), "the desk did not log on again"
                assert session.getExpectedSenderNum() <= 3  # its Logon answer, no more
                assert session.getExpectedTargetNum() <= 3
                assert _stored(tmp_path / "gw-store") < stored_before
                assert desk.session_rejects.empty()

                # Trading goes on in the new day, through the venue session too, once the
                # gateway (not only the counterparty) sees that session logged on again
                # in the new day: the desk may be back before it. Its numbers restarted
                # at 1: a Logon, a SecurityListRequest and a ListStatusRequest for each
                # of the three open lists (without the reset: upstream_before + 6 or more).
                assert wait_until(
                    lambda: (
                        gw.venue_logged_on.is_set()
                        and upstream.getExpectedSenderNum() < upstream_before + 3
                    ),
                    DEADLINE,
                ), "the gateway did not log on to the counterparty in the new day"
                later = submit(desk, seed_hedge(), list_id="DAY2", wait_done=False)
                assert later.status == "accepted", later.reason
                assert venue.next_bundle().bundle.bundle_id
            finally:
                desk.stop()
    finally:
        venue.connector.stop()
