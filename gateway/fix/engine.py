"""QuickFIX plumbing shared by the gateway, the client and the venue.

* :class:`SafeApplication` — every callback catches everything: an exception
  other than the engine's own escaping a quickfix callback kills the process
  (``PyErr_Print(); Py_Exit(1)``). Engine exceptions (``RejectLogon``,
  ``UnsupportedMessageType``, ``DoNotSend``, ...) pass through on purpose, in the
  callbacks where the binding hands them to the engine (:data:`PASSED_TO_ENGINE`):
  the engine turns them into the right reject. Before an application message reaches
  the application, it refuses a retransmission (PossDupFlag 43 = Y) without
  OrigSendingTime (122) or with one later than its SendingTime (52), which
  QuickFIX 1.16 lets through at the expected MsgSeqNum
  (:func:`retransmission_fault`).
* :class:`Dispatch` — a ``{MsgType: handler}`` table built once (the binding
  has no MessageCracker): a duplicate handler is an error, an unknown type
  raises ``UnsupportedMessageType`` so the engine answers with a
  BusinessMessageReject.
* :func:`session_settings` — QuickFIX ``SessionSettings`` built in code from
  validated config, so tests inject ports, stores and directories.
* :class:`Connector` — a started ``SocketAcceptor``/``SocketInitiator`` with
  its store and log factories kept alive, stopped cleanly (logout sent), driven
  by a poll loop that survives running out of descriptors and never ends
  without saying why.
* :class:`Throttle` — at most one log line per kind of event per interval.
* :func:`hide_from_poll` / :func:`show_to_poll` — sockets another event loop in
  the process serves (the front door's), which the poll loops must not wait on.
* :func:`loopback_only` — a listening port QuickFIX bound on every interface
  made to take connections from 127.0.0.1 alone (a socket filter).

Facts this relies on (docs/architecture.md, "Threads and who owns what"):
callbacks run on the engine's thread and the message is borrowed
(``copy_message`` before handing it to another thread); the plain socket
connectors, not the threaded ones; importing quickfix resets SIGINT, so CLIs
install their handlers after import.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import re
import select
import socket
import stat
import struct
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

import _quickfix
import quickfix as fix
import structlog

from fixspec import DICTIONARY, Tag
from gateway.core.config import FixFilesConfig
from gateway.fix.messages import fix_text, get_field, is_poss_dup, new_message

__all__ = [
    "PASSED_TO_ENGINE",
    "Connector",
    "Dispatch",
    "SafeApplication",
    "Throttle",
    "close_connections_to",
    "connections_to",
    "copy_message",
    "free_port",
    "hide_from_poll",
    "loopback_only",
    "msg_type",
    "restarted_numbers",
    "retransmission_fault",
    "session_settings",
    "show_to_poll",
]

log = structlog.get_logger("bidgw.fix")

#: QuickFIX's Text when a message's MsgSeqNum is below the one it expects
#: (``Session::doTargetTooLow``).
_TOO_LOW = re.compile(r"MsgSeqNum too low, expecting (\d+) but received (\d+)")


def restarted_numbers(message: Any, session_id: Any) -> tuple[int, int] | None:
    """``(expected, received)`` when ``message``, about to be sent, is the Logout with
    which QuickFIX refuses a Logon whose MsgSeqNum is below the one it expects: the
    peer's numbers started again (its FIX store was wiped). None for anything else
    (a message that is not a Logout costs one comparison), and in a logged-on session,
    where numbers that go back are the engine's to refuse.

    QuickFIX refuses such a Logon at every attempt until the peer's numbers catch up
    with the ones expected, a few a try. Every message the peer sent before was
    received (the next one was expected), so nothing is skipped by expecting its new
    number from then on (``session.setNextTargetMsgSeqNum(received)``): its next Logon
    is then taken, and its ResendRequest for our messages answered as any."""
    if msg_type(message) != "5":
        return None
    session = fix.Session.lookupSession(session_id)
    if session is None or session.isLoggedOn():
        return None
    match = _TOO_LOW.fullmatch(get_field(message, Tag.TEXT) or "")
    return None if match is None else (int(match[1]), int(match[2]))


#: The engine's exceptions the binding hands back to the engine, per callback (quickfix
#: 1.16's ``src/python/quickfix.i``, ``director:except``); any other exception leaving a
#: callback, an engine exception in the wrong one included (a ``FieldNotFound`` in
#: ``toAdmin``, a ``RejectLogon`` in ``fromApp``), ends the process. Everything else is
#: caught in the callbacks.
PASSED_TO_ENGINE: Final[Mapping[str, tuple[type[BaseException], ...]]] = MappingProxyType(
    {
        "toApp": (fix.DoNotSend,),
        "fromAdmin": (
            fix.FieldNotFound,
            fix.IncorrectDataFormat,
            fix.IncorrectTagValue,
            fix.RejectLogon,
        ),
        "fromApp": (
            fix.FieldNotFound,
            fix.IncorrectDataFormat,
            fix.IncorrectTagValue,
            fix.UnsupportedMessageType,
        ),
    }
)

Handler = Callable[[Any, Any], None]

#: How often the poll loop logs the same trouble (a failing poll, descriptor scan).
_TROUBLE_LOG_SECS = 5.0


class _HiddenSockets:
    """Descriptor numbers (as /proc/self/fd names) of sockets another event loop in
    this process serves; ``names`` is replaced, never changed in place, so the poll
    loops read it without a lock."""

    def __init__(self) -> None:
        self.names: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def add(self, fd: int) -> None:
        with self._lock:
            self.names = self.names | {str(fd)}

    def discard(self, fd: int) -> None:
        with self._lock:
            self.names = self.names - {str(fd)}


_hidden = _HiddenSockets()


def hide_from_poll(fd: int) -> None:
    """The poll loops stop waiting on socket ``fd`` (another loop serves it).

    Without this, a socket of the front door's asyncio loop with bytes not yet read
    by that loop keeps every poll loop waking up (the wait is level-triggered) and
    competing with it for the GIL: the front door's hop cost milliseconds.
    """
    _hidden.add(fd)


def show_to_poll(fd: int) -> None:
    """Undo :func:`hide_from_poll` once ``fd`` is closed (its number may be reused by
    a QuickFIX socket, which the poll loops then find at their next listing)."""
    _hidden.discard(fd)


class Throttle:
    """At most one log line per key per ``interval`` seconds (one thread only).

    :meth:`allow` answers None while a line for ``key`` would come too soon (and
    counts it), otherwise how many were left out since the last line.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._next: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def allow(self, key: str) -> int | None:
        now = time.monotonic()
        if now < self._next.get(key, 0.0):
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return None
        self._next[key] = now + self.interval
        return self._suppressed.pop(key, 0)


def copy_message(message: Any) -> Any:
    """An owned copy of a message borrowed from a callback."""
    return fix.Message(message)


def msg_type(message: Any) -> str:
    return str(message.getHeader().getField(Tag.MSG_TYPE))


#: SessionRejectReason (373) values of a refused retransmission.
_REQUIRED_TAG_MISSING = 1
_SENDING_TIME_ACCURACY_PROBLEM = 10


def retransmission_fault(message: Any) -> tuple[int, str] | None:
    """Why a message with PossDupFlag (43) = Y must be refused, as its
    SessionRejectReason (373) and Text (58); None when it is not a retransmission or
    carries OrigSendingTime (122) no later than its SendingTime (52).

    QuickFIX 1.16 makes these checks (``Session::doPossDup``) only for a message
    whose MsgSeqNum is lower than expected (``Session::doTargetTooLow``), a message
    it never hands to the application; one at the expected number, or filling a
    gap, reaches the application unchecked. The times are compared as the engine compares them
    (``DateTime``: Julian day, then nanoseconds of the day), whatever their precision.

    Raises:
        fix.IncorrectDataFormat: a timestamp the engine cannot read (the dictionary
            refuses one first); raised into the engine, it answers with a Reject.
    """
    if not is_poss_dup(message):
        return None
    header = message.getHeader()
    if not header.isSetField(Tag.ORIG_SENDING_TIME):
        return _REQUIRED_TAG_MISSING, (
            "PossDupFlag(43)=Y without OrigSendingTime(122): a retransmission must carry "
            "the time the message was first sent; the message was not processed"
        )
    original, sent = fix.OrigSendingTime(), fix.SendingTime()
    header.getField(original)
    header.getField(sent)
    first, now = original.getValue(), sent.getValue()
    if (first.m_date, first.m_time) > (now.m_date, now.m_time):
        return _SENDING_TIME_ACCURACY_PROBLEM, (
            f"OrigSendingTime(122) {header.getField(Tag.ORIG_SENDING_TIME)} is later than "
            f"SendingTime(52) {header.getField(Tag.SENDING_TIME)}: a retransmission cannot "
            "have been first sent after it was resent; the message was not processed"
        )
    return None


class Dispatch:
    """``{MsgType: handler}``, built once."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, message_type: str, handler: Handler) -> None:
        if message_type in self._handlers:
            raise ValueError(f"duplicate handler for MsgType {message_type!r}")
        self._handlers[message_type] = handler

    def supports(self, message_type: str) -> bool:
        return message_type in self._handlers

    def handler(self, message_type: str) -> Handler:
        try:
            return self._handlers[message_type]
        except KeyError:
            raise fix.UnsupportedMessageType() from None


class SafeApplication(fix.Application):  # type: ignore[misc]  # quickfix is untyped
    """A quickfix Application whose callbacks never let an exception escape.

    Subclasses override the ``on_*`` methods; the quickfix-named callbacks
    wrap them. Engine exceptions raised on purpose are re-raised.
    """

    name = "app"
    #: Set by every callback; the poll loop uses it to poll again at once.
    activity = False
    #: Thread id of the connector's poll loop (set by the connector).
    poll_thread: int | None = None
    #: Wakes the connector's poll loop so a send from another thread is flushed at once.
    wake: Callable[[], None] | None = None

    def __init__(self) -> None:
        super().__init__()
        #: The first Logout of each session's last exchange, by SessionID text: (sent
        #: or received, its Text).
        self._logouts: dict[str, tuple[str, str | None]] = {}
        #: Sessions disabled to log them out after a refused retransmission, by
        #: SessionID text: the Text of that Logout (:meth:`_log_out`).
        self._refusal_logouts: dict[str, str] = {}

    # quickfix callbacks ------------------------------------------------------
    def onCreate(self, session_id: Any) -> None:
        self._guard("onCreate", self.on_create, session_id)

    def onLogon(self, session_id: Any) -> None:
        self.logout_cause(session_id)  # a Logout noted before (a refused logon) is over
        self._guard("onLogon", self.on_logon, session_id)

    def onLogout(self, session_id: Any) -> None:
        self._guard("onLogout", self._enable_after_refusal, session_id, None)
        self._guard("onLogout", self.on_logout, session_id)

    def toAdmin(self, message: Any, session_id: Any) -> None:
        self._guard("toAdmin", self._admin_out, message, session_id)
        self._sent()

    def fromAdmin(self, message: Any, session_id: Any) -> None:
        if not self._guard("fromAdmin", self._admin_in, message, session_id) and _is_logon(message):
            # A logon check that failed unexpectedly must not let the Logon through.
            raise fix.RejectLogon("logon refused: internal error checking the logon")

    def toApp(self, message: Any, session_id: Any) -> None:
        self._guard("toApp", self.to_app, message, session_id)
        self._sent()

    def _sent(self) -> None:
        """A message is going out: if from another thread, let the poll loop flush it."""
        if self.wake is not None and threading.get_ident() != self.poll_thread:
            self.wake()

    def fromApp(self, message: Any, session_id: Any) -> None:
        self._guard("fromApp", self._app_in, message, session_id)

    def _app_in(self, message: Any, session_id: Any) -> None:
        fault = retransmission_fault(message)
        if fault is None:
            self.from_app(message, session_id)
        else:
            self._refuse_retransmission(message, session_id, *fault)

    def _refuse_retransmission(self, message: Any, session_id: Any, reason: int, text: str) -> None:
        """Answer a retransmission :func:`retransmission_fault` refuses as QuickFIX
        answers one under a lower MsgSeqNum: a session Reject (RefTagID 122), and for
        OrigSendingTime later than SendingTime a Logout too. The application never
        sees the message; returning normally, the engine counts its MsgSeqNum, as it
        does for a Reject it sends itself. Sending from here is what the engine does
        (``sendToTarget`` on its own thread, under its re-entrant session lock)."""
        header = message.getHeader()
        seq = header.getField(Tag.MSG_SEQ_NUM)
        kind = header.getField(Tag.MSG_TYPE)
        reject = new_message("3")
        reject.setField(Tag.REF_SEQ_NUM, seq)
        reject.setField(Tag.REF_TAG_ID, str(Tag.ORIG_SENDING_TIME))
        reject.setField(Tag.REF_MSG_TYPE, kind)
        reject.setField(Tag.SESSION_REJECT_REASON, str(reason))
        reject.setField(Tag.TEXT, fix_text(text))
        fix.Session.sendToTarget(reject, session_id)
        logout = reason == _SENDING_TIME_ACCURACY_PROBLEM and self._log_out(
            session_id,
            f"SendingTime accuracy problem: OrigSendingTime(122) later than SendingTime(52) "
            f"in the retransmission of MsgSeqNum {seq}",
        )
        log.warning(
            "fix.retransmission_refused",
            app=self.name,
            session=session_id.toString(),
            msg_type=kind,
            msg_seq_num=int(seq),
            session_reject_reason=reason,
            reason=text,
            logout=logout,
        )

    def _log_out(self, session_id: Any, text: str) -> bool:
        """End the session with a Logout whose Text is ``text``, as the engine's own
        ``generateLogout`` does (the binding does not expose it); False when it is
        already ending or disabled (an operator's logout, a stop), which stands.

        ``Session.logout`` disables the session; when the message being processed
        is done, the engine sends the Logout and then waits for the answer (at most
        LogoutTimeout) before it disconnects. The session is enabled again as that
        Logout goes out, or when the session ends first (:meth:`_enable_after_refusal`),
        so the peer may log on again and an initiator reconnects."""
        session = fix.Session.lookupSession(session_id)
        if session is None or not session.isEnabled() or session.sentLogout():
            return False
        self._refusal_logouts[session_id.toString()] = text
        session.logout(text)
        return True

    def _enable_after_refusal(self, session_id: Any, logout: Any | None) -> None:
        """Enable a session :meth:`_log_out` disabled, once its Logout goes out
        (``logout``) or the session has ended (None).

        A Logout without Text is the engine's answer to the peer's own Logout, and
        the session ends right after it: this is called again then. A Logout with
        another Text took the place of ours: an operator's logout or a stop disabled
        the session meanwhile (the engine sends the last reason it was given), and it
        stays disabled. One that lands while the engine is still busy with the
        refused message, in the rare case the session then ends without our Logout
        or as that Logout is being sent, can go unnoticed (``Session.logout`` takes
        no lock to order it by); logging the session out again holds.
        """
        key = session_id.toString()
        text = self._refusal_logouts.get(key)
        if text is None:
            return
        sent = None if logout is None else get_field(logout, Tag.TEXT)
        if logout is not None and not sent:
            return
        del self._refusal_logouts[key]
        session = fix.Session.lookupSession(session_id)
        if session is not None and (logout is None or sent == text):
            session.logon()

    def _admin_out(self, message: Any, session_id: Any) -> None:
        self._note_logout(message, session_id, "sent")
        if msg_type(message) == "5":
            self._enable_after_refusal(session_id, message)
        self.to_admin(message, session_id)

    def _admin_in(self, message: Any, session_id: Any) -> None:
        self._note_logout(message, session_id, "received")
        self.from_admin(message, session_id)

    def _note_logout(self, message: Any, session_id: Any, way: str) -> None:
        if msg_type(message) == "5":
            text = message.getField(Tag.TEXT) if message.isSetField(Tag.TEXT) else None
            # The first Logout of an exchange says why; the other side's is its answer.
            self._logouts.setdefault(session_id.toString(), (way, text))

    def logout_received(self, session_id: Any) -> str | None:
        """The Text of the Logout that began the session's end, when the peer sent it
        (why it refused a logon, say); None otherwise. Kept until the next logon."""
        way, text = self._logouts.get(session_id.toString(), ("", None))
        return text if way == "received" else None

    def logout_cause(self, session_id: Any) -> str:
        """Why a session that just ended ended, for its log line (call it once, from
        ``on_logout``): the Text of the first Logout it received or sent, or that the
        connection closed without one."""
        noted = self._logouts.pop(session_id.toString(), None)
        if noted is None:
            return "connection closed without a Logout"
        way, text = noted
        return f"Logout {way}: {text or 'no Text'}"

    def _guard(self, callback: str, fn: Callable[..., None], *args: Any) -> bool:
        """Run a hook; False if it raised something other than an engine exception
        the binding hands back to the engine from this callback
        (:data:`PASSED_TO_ENGINE`): that is logged and swallowed."""
        self.activity = True
        try:
            fn(*args)
        except PASSED_TO_ENGINE.get(callback, ()):
            raise
        except BaseException as exc:
            with contextlib.suppress(BaseException):
                log.error(
                    "fix.callback_failed",
                    app=self.name,
                    callback=callback,
                    error=f"{type(exc).__name__}: {exc}",
                    exc_info=True,
                )
            return False
        return True

    # overridable hooks ---------------------------------------------------------
    def on_create(self, session_id: Any) -> None:
        """A session was created."""

    def on_logon(self, session_id: Any) -> None:
        """A session logged on."""

    def on_logout(self, session_id: Any) -> None:
        """A session logged out or disconnected."""

    def to_admin(self, message: Any, session_id: Any) -> None:
        """An admin message is about to be sent (e.g. add Logon credentials)."""

    def from_admin(self, message: Any, session_id: Any) -> None:
        """An admin message arrived (raise ``RejectLogon`` to refuse a Logon)."""

    def to_app(self, message: Any, session_id: Any) -> None:
        """An application message is about to be sent."""

    def from_app(self, message: Any, session_id: Any) -> None:
        """An application message arrived."""


def _is_logon(message: Any) -> bool:
    try:
        return msg_type(message) == "A"
    except Exception:  # unreadable: treat it as a Logon, so a failed check refuses it
        return True


def _dictionary(values: Mapping[str, str | int | bool | Path]) -> Any:
    result = fix.Dictionary()
    for key, value in values.items():
        if isinstance(value, bool):
            result.setString(key, "Y" if value else "N")
        else:
            result.setString(key, str(value))
    return result


def session_settings(
    defaults: Mapping[str, str | int | bool | Path], sessions: Sequence[tuple[str, str]]
) -> Any:
    """SessionSettings with common defaults and one FIX 4.4 session per (sender, target).

    Every session validates against the bidgw dictionary and its day starts at
    00:00:00 UTC unless ``defaults`` carry a schedule
    (:meth:`~gateway.core.config.FixFilesConfig.schedule`).
    """
    base: dict[str, str | int | bool | Path] = {
        "BeginString": "FIX.4.4",
        **FixFilesConfig().schedule(),
        "UseDataDictionary": True,
        "DataDictionary": DICTIONARY,
        "ValidateUserDefinedFields": True,
        "AllowUnknownMsgFields": False,
        "ValidateFieldsHaveValues": True,
        "TimestampPrecision": 3,
        "SocketNodelay": True,
        "SocketReuseAddress": True,
    }
    base.update(defaults)
    settings = fix.SessionSettings()
    settings.set(_dictionary(base))
    for sender, target in sessions:
        session_id = fix.SessionID("FIX.4.4", sender, target)
        settings.set(session_id, _dictionary({"SenderCompID": sender, "TargetCompID": target}))
    return settings


class Connector:
    """A running acceptor or initiator with its factories kept referenced.

    Both are driven by our own thread calling ``poll()``, not by QuickFIX's
    ``start()`` thread:

    * in quickfix 1.16 ``Acceptor::stop()`` tears down the socket server
      (``onStop``) while the acceptor's own thread may be deleting it, a
      use-after-free that crashed the process on every stop of an idle
      acceptor here (upstream quickfix PR #740 reorders it; not released).
      With our thread, the loop is ended and joined first and ``stop()`` then
      runs with no engine thread alive;
    * QuickFIX's own thread acts on a requested logout at its next 1-second
      tick; our loop acts within a millisecond, so shutdown is prompt.

    Between polls the loop blocks in :class:`_SocketWaiter` until a socket of
    the process is readable, a send from another thread asks for a flush, or
    20 ms pass (QuickFIX's timers: heartbeats, reconnects), so an idle
    connector costs almost nothing and a message is handled as soon as it
    arrives.

    The loop never ends on an error: a failing poll or wait is logged (at most
    once per ``_TROUBLE_LOG_SECS`` per kind) and the loop carries on after a
    short pause, so a process out of descriptors (EMFILE) keeps serving the
    sessions it has; anything that still ends the thread is logged
    (``fix.poll_loop_died``) before it goes.
    """

    def __init__(
        self,
        kind: Literal["acceptor", "initiator"],
        application: SafeApplication,
        settings: Any,
        *,
        store: Literal["file", "memory"],
        log_dir: Path | None,
    ) -> None:
        self.kind = kind
        self.session_ids: list[Any] = list(settings.getSessions())
        self.application = application
        self.settings = settings
        self.store_factory = (
            fix.FileStoreFactory(settings) if store == "file" else fix.MemoryStoreFactory()
        )
        # FileLogPath comes from the settings; without a log dir, a screen log that
        # prints nothing (the binding has no NullLogFactory).
        self.log_factory = (
            fix.FileLogFactory(settings)
            if log_dir is not None
            else fix.ScreenLogFactory(False, False, False)
        )
        factory = fix.SocketAcceptor if kind == "acceptor" else fix.SocketInitiator
        self.engine = factory(application, self.store_factory, settings, self.log_factory)
        #: An acceptor's listening ports (each session's SocketAcceptPort).
        self.ports: frozenset[int] = (
            frozenset(settings.get(sid).getInt("SocketAcceptPort") for sid in self.session_ids)
            if kind == "acceptor"
            else frozenset()
        )
        self._started = False
        self._halt = threading.Event()
        self._poller: threading.Thread | None = None
        self._waiter = _SocketWaiter()
        application.wake = self._waiter.wake

    def start(self) -> None:
        """Start; an acceptor binds its port here and raises if it cannot."""
        # The first poll binds the listening socket or starts connecting (and raises
        # on configuration errors, e.g. a port in use), in the caller's thread.
        self.engine.poll()
        self._poller = threading.Thread(
            target=self._poll_loop, daemon=True, name=f"fix-{self.application.name}"
        )
        self._poller.start()
        self._started = True

    def _poll_loop(self) -> None:
        app = self.application
        app.poll_thread = threading.get_ident()
        # Call the C function, not quickfix.py's `poll(self)` wrapper: callbacks run
        # below this frame, and an exception raised in one (RejectLogon) leaks its
        # traceback inside the binding; through the wrapper's frame that kept the whole
        # engine, its sessions and their SessionIDs alive after stop(). This frame
        # only holds the connector, which drops the engine when it stops.
        poll = _quickfix.Acceptor_poll if self.kind == "acceptor" else _quickfix.Initiator_poll
        throttle = Throttle(_TROUBLE_LOG_SECS)
        try:
            while not self._halt.is_set():
                app.activity = False
                try:
                    poll(self.engine)
                except Exception as exc:  # the engine reports socket trouble this way
                    self._trouble(throttle, "fix.poll_failed", exc)
                if app.activity:
                    continue
                try:
                    self._waiter.wait(0.02)
                except Exception as exc:  # never let the wait end the loop
                    self._trouble(throttle, "fix.wait_failed", exc)
                    self._halt.wait(0.02)
        except BaseException as exc:
            with contextlib.suppress(BaseException):
                log.critical(
                    "fix.poll_loop_died",
                    app=app.name,
                    error=f"{type(exc).__name__}: {exc}",
                    exc_info=True,
                )
            raise

    def _trouble(self, throttle: Throttle, event: str, exc: Exception) -> None:
        suppressed = throttle.allow(event)
        if suppressed is not None:
            log.error(
                event,
                app=self.application.name,
                error=f"{type(exc).__name__}: {exc}",
                **({"suppressed": suppressed} if suppressed else {}),
            )

    def stop(self, *, logout_timeout: float = 2.0) -> None:
        """Log out every session, wait for the logouts (bounded), then stop.

        Stores are flushed by the engine; the engine object is dropped so the
        same SessionIDs can be registered again (a restart, the next test).
        """
        if not self._started:
            if hasattr(self, "engine"):  # never started: its sessions still leave the registry
                self._waiter.close()
                del self.engine
            return
        self._started = False
        sessions = [fix.Session.lookupSession(sid) for sid in self.session_ids]
        live = [s for s in sessions if s is not None and s.isLoggedOn()]
        for session in live:
            session.logout("session stopped")
        deadline = time.monotonic() + logout_timeout
        while any(s.isLoggedOn() for s in live) and time.monotonic() < deadline:
            time.sleep(0.005)  # polling the engine's state with a deadline
        if self._poller is not None:
            self._halt.set()
            self._waiter.wake()
            self._poller.join()
        self._waiter.close()
        self.engine.stop(True)
        # Sessions live in a process-wide registry until their connector is destroyed.
        # The application outlives the engine: the engine calls into it.
        del self.engine
        if self.ports:
            closed = close_connections_to(self.ports)
            if closed:
                log.info(
                    "fix.unanswered_connections_closed", app=self.application.name, count=closed
                )


def connections_to(ports: frozenset[int]) -> list[int]:
    """The descriptors of this process's TCP connections whose local port is one of
    ``ports``: connections an acceptor on them accepted. Linux only (``/proc``);
    elsewhere none."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return []
    found = []
    for name in names:
        try:
            fd = int(name)
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            sock = socket.socket(fileno=fd)  # wraps fd; detach() leaves it open
        except (OSError, ValueError):
            continue
        try:
            if (
                sock.family in (socket.AF_INET, socket.AF_INET6)
                and sock.type == socket.SOCK_STREAM
                and sock.getsockname()[1] in ports
            ):
                sock.getpeername()  # raises unless connected (not a listener)
                found.append(fd)
        except OSError:
            pass
        finally:
            sock.detach()
    return found


def close_connections_to(ports: frozenset[int]) -> int:
    """Shut down and close the connections :func:`connections_to` finds; how many.

    For a stopped acceptor (:meth:`Connector.stop`). QuickFIX's ``SocketAcceptor``
    closes a connection when its session logs out or disconnects, and its listening
    sockets when it stops; a connection it accepted but has not logged on (a peer
    that reconnected while the acceptor was stopping, its Logon unread) belongs to
    its socket server, which only the engine's own thread deletes, and a polled
    acceptor has none. Such a socket stayed open and silent: the peer waited for
    its Logon answer until its LogonTimeout (10 s by default) before it tried the
    restarted acceptor, and the process kept the descriptor. Once the engine is
    gone nothing else refers to it.
    """
    closed = 0
    for fd in connections_to(ports):
        try:
            sock = socket.socket(fileno=fd)
        except OSError:
            continue
        try:
            still = sock.getsockname()[1] in ports  # not a number reused meanwhile
        except OSError:
            still = False
        if not still:
            sock.detach()
            continue
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        closed += 1
    return closed


class _SocketWaiter:
    """Blocks until a socket of this process is readable, ``wake()`` is called,
    or a timeout passes.

    QuickFIX's ``poll()`` never blocks and the binding does not expose its
    sockets, so the socket descriptors are read from ``/proc/self/fd`` before
    each wait: a listdir, and an fstat only for descriptor numbers not known
    from the previous listing (a full pass, an fstat of every descriptor, runs at
    most every ``FULL_REFRESH_SECS``, for a number that was closed and reused
    by a socket in between; until then the 20 ms cap of the poll loop bounds
    the delay). Profiling a loaded gateway showed the fstat of every descriptor
    before every wait as its largest single cost. Sockets owned by other
    connectors in the process only cause a harmless extra poll; sockets another
    event loop serves are left out (:func:`hide_from_poll`). Without ``/proc`` it
    sleeps 1 ms instead.

    When the listing fails (EMFILE: the process is out of descriptors, and the
    listing needs one) the previous set of sockets is kept and the listing is
    tried again after a back-off (doubling up to ``RETRY_SECS[1]``), with one
    warning per ``_TROUBLE_LOG_SECS``: the sessions already connected keep
    being served.
    """

    FULL_REFRESH_SECS = 1.0
    RETRY_SECS = (0.05, 1.0)

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._poller = select.poll()
        self._poller.register(self._read, select.POLLIN)
        self._sockets: set[int] = set()
        self._known: frozenset[str] = frozenset()  # descriptor names fstat'ed and open
        self._full_refresh_at = 0.0
        self._has_proc = os.path.isdir("/proc/self/fd")
        self._retry_at = 0.0  # after a failed listing, when to try again
        self._retry_secs = self.RETRY_SECS[0]
        self._throttle = Throttle(_TROUBLE_LOG_SECS)

    def wake(self) -> None:
        with contextlib.suppress(OSError):  # a full pipe is already a pending wake-up
            os.write(self._write, b"!")

    def wait(self, timeout: float) -> None:
        if not self._has_proc:
            time.sleep(0.001)
            return
        now = time.monotonic()
        if now >= self._retry_at:
            try:
                self._refresh()
            except OSError as exc:
                self._retry_at = now + self._retry_secs
                self._retry_secs = min(self._retry_secs * 2, self.RETRY_SECS[1])
                suppressed = self._throttle.allow("scan")
                if suppressed is not None:
                    log.warning(
                        "fix.fd_scan_failed",
                        error=f"{type(exc).__name__}: {exc}",
                        sockets_kept=len(self._sockets),
                        **({"suppressed": suppressed} if suppressed else {}),
                    )
            else:
                self._retry_secs = self.RETRY_SECS[0]
        events = self._poller.poll(timeout * 1000)
        if any(fd == self._read for fd, _ in events):
            with contextlib.suppress(OSError):
                os.read(self._read, 4096)

    def _refresh(self) -> None:
        # The listing includes the descriptor listdir itself used, closed by now: its
        # number is the next one a new socket gets, so a name is "known" only once an
        # fstat of it succeeded, and a closed one is looked at again next time.
        listed = frozenset(os.listdir("/proc/self/fd")) - _hidden.names
        now = time.monotonic()
        full = now >= self._full_refresh_at
        if full:
            self._full_refresh_at = now + self.FULL_REFRESH_SECS
            known: set[str] = set()
            current: set[int] = set()
        else:
            known = set(self._known & listed)
            current = {fd for fd in self._sockets if str(fd) in known}
        for name in listed - known:
            try:
                mode = os.fstat(int(name)).st_mode
            except OSError:
                continue
            known.add(name)
            if stat.S_ISSOCK(mode):
                current.add(int(name))
        self._known = frozenset(known)
        for fd in self._sockets - current:
            with contextlib.suppress(KeyError, ValueError):
                self._poller.unregister(fd)
        for fd in current - self._sockets:
            self._poller.register(fd, select.POLLIN | select.POLLPRI)
        self._sockets = current

    def close(self) -> None:
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)


_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_handed_out: set[int] = set()
_handed_out_lock = threading.Lock()


def free_port() -> int:
    """A TCP port free on every interface right now (for tests and the demo).

    The port is drawn below the kernel's ephemeral range: a port the kernel hands out
    for ``bind(0)`` or an outgoing connection (the gateway's own initiator, the front
    door's hop to the acceptor) can be taken by one of those before the caller binds
    it, which made "Address already in use" an occasional test failure. No port is
    handed out twice in one process.
    """
    low = 32768
    with contextlib.suppress(OSError, ValueError):
        low = int(_EPHEMERAL_RANGE.read_text().split()[0])
    first, last = (10000, low - 1) if low > 11000 else (1024, low - 1)
    rng = random.Random()
    with _handed_out_lock:
        for _ in range(1000):
            port = rng.randint(first, last)
            if port in _handed_out:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind(("", port))
                except OSError:
                    continue
            _handed_out.add(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# A listening port for the front door alone -------------------------------------------------

#: Linux's SO_ATTACH_FILTER and SO_LOCK_FILTER (the socket module has neither name).
_SO_ATTACH_FILTER = 26
_SO_LOCK_FILTER = 44
#: A classic BPF program (``struct sock_filter``: code, jt, jf, k): load the IPv4
#: source address (offset 12 of the network header, ``SKF_NET_OFF`` = -0x100000),
#: keep the packet when it is 127.0.0.1, else drop it.
_LOOPBACK_FILTER = (
    (0x20, 0, 0, (-0x100000 + 12) & 0xFFFFFFFF),  # ld  [net + 12]
    (0x15, 0, 1, 0x7F000001),  # jeq #127.0.0.1, keep, drop
    (0x06, 0, 0, 0xFFFFFFFF),  # keep: ret #all of it
    (0x06, 0, 0, 0),  # drop: ret #0
)


def loopback_only(port: int) -> bool:
    """Make this process's TCP listener on ``port`` accept connections from
    127.0.0.1 alone; True when done.

    QuickFIX 1.16 binds an acceptor's port on every interface (``SocketAcceptPort``
    only; ``socket_createAcceptor`` uses ``INADDR_ANY``) and checks
    ``AllowedRemoteAddresses`` only after it has acted on a connection's first
    message, a Logon whose ResetSeqNumFlag has then already reset the session. The
    gateway's acceptor is meant for its front door alone, so a socket filter
    (Linux's ``SO_ATTACH_FILTER``, locked with ``SO_LOCK_FILTER``) drops every
    packet from another source address at the listener: a SYN from elsewhere is
    never answered and no connection is made. Connections accepted from it inherit
    the filter. The listener is found among the process's descriptors by its
    address (``0.0.0.0:port``, listening). False, with nothing changed, when there
    is none or the platform has no socket filters (the caller says so).
    """
    if not sys.platform.startswith("linux"):
        return False
    program = b"".join(struct.pack("HBBI", *op) for op in _LOOPBACK_FILTER)
    buffer = ctypes.create_string_buffer(program)
    fprog = struct.pack("HL", len(_LOOPBACK_FILTER), ctypes.addressof(buffer))
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError, ValueError):
            if not stat.S_ISSOCK(os.fstat(int(name)).st_mode):
                continue
            # A duplicate: the socket object closes it, and the listener stays open.
            with socket.socket(fileno=os.dup(int(name))) as sock:
                if (
                    sock.family == socket.AF_INET
                    and sock.type == socket.SOCK_STREAM
                    and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                    and sock.getsockname() == ("0.0.0.0", port)
                ):
                    sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
                    with contextlib.suppress(OSError):  # locking is a second line of defence
                        sock.setsockopt(socket.SOL_SOCKET, _SO_LOCK_FILTER, 1)
                    return True
    return False
