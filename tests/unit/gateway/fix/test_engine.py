"""``SafeApplication``'s guard, the Logout causes it keeps, and ``Throttle``.

QuickFIX calls these callbacks; here they are called directly with real quickfix
messages and SessionIDs, as the engine would."""

from __future__ import annotations

from typing import Any

import pytest
import quickfix as fix

from fixspec import Tag
from gateway.fix import engine
from gateway.fix.engine import SafeApplication, Throttle
from gateway.fix.messages import new_message

SESSION = fix.SessionID("FIX.4.4", "BIDGW", "VENUE")


class Failing(SafeApplication):
    """Every hook raises what the test sets."""

    def __init__(self) -> None:
        super().__init__()
        self.error: BaseException = RuntimeError("a bug")

    def from_app(self, message: Any, session_id: Any) -> None:
        raise self.error

    def from_admin(self, message: Any, session_id: Any) -> None:
        raise self.error

    def to_app(self, message: Any, session_id: Any) -> None:
        raise self.error

    def to_admin(self, message: Any, session_id: Any) -> None:
        raise self.error

    def on_logon(self, session_id: Any) -> None:
        raise self.error

    def on_logout(self, session_id: Any) -> None:
        raise self.error


def admin(kind: str, text: str | None = None) -> Any:
    message = fix.Message()
    message.getHeader().setField(Tag.MSG_TYPE, kind)
    if text is not None:
        message.setField(Tag.TEXT, text)
    return message


def test_an_exception_in_a_hook_is_logged_and_swallowed_never_raised_into_quickfix():
    app = Failing()
    app.fromApp(new_message("N"), SESSION)  # returns: the engine's thread lives on
    app.error = KeyboardInterrupt()  # even a BaseException
    app.fromApp(new_message("N"), SESSION)
    assert app.activity


def test_engine_exceptions_raised_on_purpose_reach_quickfix():
    app = Failing()
    app.error = fix.UnsupportedMessageType()
    with pytest.raises(fix.UnsupportedMessageType):
        app.fromApp(new_message("N"), SESSION)


@pytest.mark.parametrize(
    ("callback", "error"),
    [
        ("fromApp", fix.RejectLogon("only fromAdmin may refuse a logon")),
        ("fromApp", fix.DoNotSend()),
        ("toApp", fix.FieldNotFound(58)),
        ("toAdmin", fix.FieldNotFound(58)),
        ("onLogon", fix.IncorrectTagValue(58)),
        ("onLogout", fix.UnsupportedMessageType()),
    ],
)
def test_an_engine_exception_the_binding_does_not_take_in_that_callback_is_swallowed(
    callback, error
):
    """The binding hands an engine exception back to the engine only from the callbacks
    that declare it (quickfix.i's director:except): anywhere else it would end the
    process (``Py_Exit(1)``), so the guard treats it as any other exception."""
    app = Failing()
    app.error = error
    if callback in ("onLogon", "onLogout"):
        getattr(app, callback)(SESSION)  # returns: the engine's thread lives on
    else:
        getattr(app, callback)(new_message("N"), SESSION)


@pytest.mark.parametrize(
    ("callback", "error"),
    [
        ("fromApp", fix.UnsupportedMessageType()),
        ("fromApp", fix.IncorrectTagValue(44)),
        ("fromAdmin", fix.RejectLogon("refused")),
        ("toApp", fix.DoNotSend()),
    ],
)
def test_an_engine_exception_reaches_quickfix_from_the_callbacks_that_take_it(callback, error):
    app = Failing()
    app.error = error
    with pytest.raises(type(error)):
        getattr(app, callback)(new_message("N"), SESSION)


def test_a_logon_whose_check_failed_unexpectedly_is_refused_not_let_through():
    app = Failing()
    with pytest.raises(fix.RejectLogon):
        app.fromAdmin(admin("A"), SESSION)
    app.fromAdmin(admin("0"), SESSION)  # a Heartbeat whose hook failed: nothing to refuse


def test_the_cause_of_a_logout_is_the_logouts_text_or_a_closed_connection():
    app = SafeApplication()
    assert app.logout_cause(SESSION) == "connection closed without a Logout"
    app.fromAdmin(admin("5", "MsgSeqNum too low, expecting 12 but received 1"), SESSION)
    assert app.logout_received(SESSION) == "MsgSeqNum too low, expecting 12 but received 1"
    assert app.logout_cause(SESSION) == (
        "Logout received: MsgSeqNum too low, expecting 12 but received 1"
    )
    assert app.logout_cause(SESSION) == "connection closed without a Logout"  # told once
    app.toAdmin(admin("5"), SESSION)
    app.fromAdmin(admin("5", "the answer"), SESSION)
    assert app.logout_received(SESSION) is None  # we began that end, not the peer
    assert app.logout_cause(SESSION) == "Logout sent: no Text"  # the first one says why
    app.toAdmin(admin("5", "refused"), SESSION)
    app.onLogon(SESSION)  # a later logon: that Logout is over
    assert app.logout_cause(SESSION) == "connection closed without a Logout"
    other = fix.SessionID("FIX.4.4", "BIDGW", "DESK1")
    app.fromAdmin(admin("5", "bye"), other)
    assert app.logout_cause(SESSION) == "connection closed without a Logout"
    assert app.logout_cause(other) == "Logout received: bye"


def test_throttle_lets_one_line_per_key_per_interval_and_counts_the_rest(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(engine.time, "monotonic", lambda: now[0])
    throttle = Throttle(1.0)
    assert throttle.allow("a") == 0
    assert throttle.allow("a") is None
    assert throttle.allow("a") is None
    assert throttle.allow("b") == 0  # each key on its own
    now[0] += 1.0
    assert throttle.allow("a") == 2  # the two left out since the last line
    assert throttle.allow("a") is None


def retransmission(poss_dup: str | None, sending_time: str, orig_sending_time: str | None) -> Any:
    message = new_message("E")
    header = message.getHeader()
    header.setField(Tag.MSG_SEQ_NUM, "7")
    header.setField(Tag.SENDING_TIME, sending_time)
    if poss_dup is not None:
        header.setField(Tag.POSS_DUP_FLAG, poss_dup)
    if orig_sending_time is not None:
        header.setField(Tag.ORIG_SENDING_TIME, orig_sending_time)
    return message


@pytest.mark.parametrize(
    ("poss_dup", "sending_time", "orig_sending_time", "reason"),
    [
        (None, "20261121-14:30:00.000", None, None),  # not a retransmission
        ("N", "20261121-14:30:00.000", None, None),
        ("Y", "20261121-14:30:00.000", None, 1),  # required tag missing
        ("Y", "20261121-14:30:00.000", "20261121-14:30:00.000", None),  # equal: no later
        ("Y", "20261121-14:30:00.000", "20261121-14:29:59.999", None),
        ("Y", "20261121-14:30:00.000", "20261121-14:30:00.001", 10),  # SendingTime accuracy
        ("Y", "20261121-14:30:00", "20261121-14:30:00.000000001", 10),  # any precision
        ("Y", "20261121-14:30:00.123456", "20261121-14:30:00.123", None),
        ("Y", "20261121-00:00:00.000", "20261120-23:59:59.999", None),  # across midnight
        ("Y", "20261120-23:59:59.999", "20261121-00:00:00.000", 10),
    ],
)
def test_a_retransmission_needs_an_orig_sending_time_no_later_than_its_sending_time(
    poss_dup, sending_time, orig_sending_time, reason
):
    fault = engine.retransmission_fault(retransmission(poss_dup, sending_time, orig_sending_time))
    assert (fault and fault[0]) == reason
    if fault is not None:
        assert "OrigSendingTime(122)" in fault[1]
        assert "not processed" in fault[1]


def test_a_refused_retransmission_never_reaches_the_application():
    """Its Reject cannot be sent here (no session is registered): the failure is
    logged and swallowed, and the message is still not handed on."""
    seen: list[Any] = []

    class Recording(SafeApplication):
        def from_app(self, message: Any, session_id: Any) -> None:
            seen.append(message)

    app = Recording()
    app.fromApp(retransmission("Y", "20261121-14:30:00.000", None), SESSION)
    app.fromApp(retransmission("Y", "20261121-14:30:00.000", "20261121-14:30:00.001"), SESSION)
    assert seen == []
    app.fromApp(retransmission("Y", "20261121-14:30:00.000", "20261121-14:30:00.000"), SESSION)
    app.fromApp(retransmission(None, "20261121-14:30:00.000", None), SESSION)
    assert len(seen) == 2
