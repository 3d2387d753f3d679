"""Counterparty messages read into the decision core's records (``translate``); the
clients' rate limit (``TokenBucket``); the counterparty session's reset after its numbers
started again (``VenueSide.to_admin``; end to end in tests/integration/test_faults.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import quickfix as fix

from fixspec import Tag
from gateway.fix.engine import Connector, session_settings
from gateway.fix.messages import business_reject, list_cancel_request, new_message
from gateway.router import sessions
from gateway.router.config import VenueConfig
from gateway.router.records import InstrumentsIn, VenueReject
from gateway.router.sessions import TokenBucket, translate

VENUE = ("FIX.4.4", "BIDGW", "VENUE")


def read(message: object) -> object:
    return translate("venue", message, VENUE, replay=False)


def test_a_refused_cancel_names_its_bundle_and_whether_the_id_was_unknown() -> None:
    refused = business_reject(
        ref_msg_type="K", reason=1, text="unknown or finished list 'B-7'", ref_id="B-7"
    )
    assert read(refused) == VenueReject(
        "B-7",
        None,
        "counterparty rejected: unknown or finished list 'B-7'",
        ref_msg_type="K",
        unknown_id=True,
    )
    other = business_reject(ref_msg_type="K", reason=0, text="not now", ref_id="B-7")
    record = read(other)
    assert isinstance(record, VenueReject)
    assert (record.bundle_id, record.unknown_id) == ("B-7", False)


def test_a_refused_status_request_names_its_bundle_and_whether_the_id_was_unknown() -> None:
    refused = business_reject(
        ref_msg_type="M", reason=1, text="unknown list 'B-7'", ref_seq_num=9, ref_id="B-7"
    )
    assert read(refused) == VenueReject(
        "B-7", 9, "counterparty rejected: unknown list 'B-7'", ref_msg_type="M", unknown_id=True
    )
    # The engine's own refusal of a type it does not serve names no list.
    unsupported = business_reject(ref_msg_type="M", reason=3, text="Unsupported Message Type")
    assert read(unsupported) == VenueReject(
        None,
        None,
        "counterparty rejected: Unsupported Message Type",
        ref_msg_type="M",
        unknown_id=False,
    )


def test_a_refused_list_is_matched_later_by_its_msg_seq_num_not_by_its_ref_id() -> None:
    refused = business_reject(ref_msg_type="E", reason=1, text="no", ref_seq_num=12, ref_id="X")
    assert read(refused) == VenueReject(
        None, 12, "counterparty rejected: no", ref_msg_type="E", unknown_id=True
    )
    unreadable = business_reject(ref_msg_type="E", reason=0, text="no")
    unreadable.setField(45, "twelve")
    record = read(unreadable)
    assert isinstance(record, VenueReject)
    assert record.ref_seq_num is None


def test_a_refused_security_list_request_is_an_instruments_answer() -> None:
    refused = business_reject(ref_msg_type="x", reason=3, text="unsupported", ref_id="IL-1")
    assert read(refused) == InstrumentsIn("IL-1", -1, text="unsupported")


def test_a_token_bucket_allows_its_rate_with_one_second_of_burst(monkeypatch):
    now = [50.0]
    monkeypatch.setattr(sessions.time, "monotonic", lambda: now[0])
    bucket = TokenBucket(4)
    assert [bucket.take() for _ in range(5)] == [True, True, True, True, False]
    now[0] += 0.5  # two tokens back
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    now[0] += 60  # idle: the burst stays one second's worth
    assert sum(bucket.take() for _ in range(10)) == 4


def test_a_message_type_a_side_does_not_take_is_unsupported() -> None:
    """The engine answers UnsupportedMessageType with a reject; never a wrong record."""
    assert frozenset({"E", "K"}) == sessions.CLIENT_TYPES
    assert frozenset({"N", "8", "j", "y"}) == sessions.VENUE_TYPES
    with pytest.raises(fix.UnsupportedMessageType):
        read(list_cancel_request("B-1"))  # a cancel from the counterparty


def _expected_after(logout_text: str, *, accept: bool, comp_ids: tuple[str, str]) -> int:
    """The MsgSeqNum a real (never started) initiator session expects from the
    counterparty, 153 before, once the venue side has sent a Logout with ``logout_text``."""
    gateway = SimpleNamespace(venue=VenueConfig(port=9879, accept_sequence_restart=accept))
    side = sessions.VenueSide(gateway, on_sent=lambda message: None)
    settings = session_settings(
        {"ConnectionType": "initiator", "SocketConnectHost": "127.0.0.1"}
        | {"SocketConnectPort": 9, "HeartBtInt": 30, "ReconnectInterval": 30},
        [comp_ids],
    )
    connector = Connector("initiator", side, settings, store="memory", log_dir=None)
    session_id = fix.SessionID("FIX.4.4", *comp_ids)
    session = fix.Session.lookupSession(session_id)
    session.setNextTargetMsgSeqNum(153)
    logout = new_message("5")
    logout.setField(Tag.TEXT, logout_text)
    side.to_admin(logout, session_id)
    expected = int(session.getExpectedTargetNum())
    connector.stop()
    return expected


def test_numbers_that_started_again_at_the_venue_s_logon_are_expected_from_there_on():
    too_low = "MsgSeqNum too low, expecting 153 but received 7"
    ids = ("SEQ-GW", "SEQ-VENUE")
    assert _expected_after(too_low, accept=True, comp_ids=ids) == 7
    # Off: QuickFIX's own answer, the number stays.
    assert _expected_after(too_low, accept=False, comp_ids=(ids[0], "V2")) == 153
    # Any other Logout changes nothing.
    assert _expected_after("session stopped", accept=True, comp_ids=(ids[0], "V3")) == 153
