"""The front door: the one listener desks reach; QuickFIX's acceptor sits behind it.

QuickFIX 1.16 acts on a Logon before the application can refuse it (a
ResetSeqNumFlag resets the session's sequence numbers and store before
``fromAdmin`` runs), queues every message for a client that stops reading in
memory without limit, never times out a connection that does not log on, and
has no hook for any of it. So the gateway puts this TCP front end on the
public client port, an asyncio loop on its own thread (:class:`LoopThread`),
and moves the QuickFIX acceptor to an internal port that only it connects to:

* **accept** — a peer address outside ``allowed_remote_addresses`` is closed at
  once; at most ``max_unauthenticated`` connections wait for their logon, and
  one more closes the oldest of them (so sockets left idle cannot lock desks
  out, and descriptors stay bounded); when accept fails for lack of
  descriptors (EMFILE) accepting pauses with a back-off while the established
  connections keep flowing;
* **first message** — framed exactly (``8=FIX.4.4|9=len|...|10=ccc|``, checksum
  verified, :func:`frame_length`), at most ``max_logon_bytes``, within
  ``logon_timeout`` seconds; garbage, a longer message, a first message that is
  not a Logon or a timeout closes the connection;
* **logon check** — SenderCompID allowed, TargetCompID the gateway's, and the
  credentials (:func:`credentials_match`, the same check the session runs
  again) before anything reaches QuickFIX. A refusal is answered with a
  standalone Logout (:func:`refusal_logout`) and the connection closes. The
  session is never reset. A QuickFIX peer counts any Logout as the next
  number it expects, so the Logout is numbered only when that number is
  known (:meth:`FrontDoor.refusal_seq_num`): the session's next, consumed,
  when the desk logged off with everything; none at all (the connection just
  closes, the reason is logged) while messages wait for the desk, which would
  otherwise skip one of them;
* **pipe** — the Logon's exact bytes go to the QuickFIX port, then bytes flow
  both ways in chunks of at most 64 KiB per read, so no socket holds the loop.
  Towards QuickFIX the usual flow control applies (a client is not read while
  QuickFIX has not taken what it sent). Towards the client nothing waits: a
  client whose unsent bytes exceed ``max_outbound_buffer`` is disconnected
  (``frontdoor.slow_consumer``), QuickFIX sees the disconnect and keeps the
  messages in its store for the resend at the next logon.

A connection counts as logged on once QuickFIX answers its Logon; until then
it is one of the ``max_unauthenticated``. Every refusal is logged with the
peer address (at most one line per kind of event a second, with the number
left out) and counted in :attr:`FrontDoor.tally`.

Two details keep the extra hop cheap (bench/gateway.py): accepted sockets get
TCP_NODELAY explicitly (asyncio sets it only on sockets created with
``IPPROTO_TCP``; without it Nagle and the desk's delayed ACK held replies
~40 ms), and every socket of this loop is hidden from the FIX poll loops'
descriptor scan (:func:`gateway.fix.engine.hide_from_poll`), which would
otherwise wake on bytes this loop has not read yet and compete for the GIL.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import hmac
import socket
import threading
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, Protocol, TypeVar

import structlog

from gateway.fix.engine import Throttle, hide_from_poll, show_to_poll

__all__ = [
    "FRONT_DOOR_EVENTS",
    "REFUSED_CREDENTIALS",
    "Credential",
    "FrameError",
    "FrontDoor",
    "FrontDoorConfig",
    "LogonPolicy",
    "LogonRequest",
    "LoopThread",
    "MessageSizes",
    "Tally",
    "credentials_match",
    "frame_length",
    "parse_fields",
    "parse_logon",
    "refusal_logout",
]

log = structlog.get_logger("bidgw.frontdoor")

T = TypeVar("T")

_SOH = b"\x01"
#: Every message starts so: the gateway speaks FIX 4.4 only.
_PREFIX = b"8=FIX.4.4\x019="
_TRAILER = 7  # b"10=ccc\x01"
_CHUNK = 65536  # bytes per read, in both directions
#: Times a Logon the engine dropped unanswered is forwarded again, and the most bytes
#: kept to do it (the Logon and whatever the client sent before the answer).
_FORWARD_RETRIES = 3
_TCP_ESTABLISHED = 1  # tcp_info.tcpi_state (linux/tcp.h); 8 is CLOSE_WAIT: the peer's FIN came
_FORWARD_KEEP = 65536
_ACCEPTS_PER_WAKE = 64  # then the loop serves the other sockets
_ACCEPT_BACKOFF = (0.05, 1.0)  # first and longest pause after EMFILE on accept
_OUT_OF_DESCRIPTORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}

#: Data fields (whose value may contain SOH) a FIX 4.4 Logon may carry, and the
#: length field that must come right before each.
_DATA_FIELDS = {91: 90, 89: 93, 96: 95, 213: 212}
_LENGTH_FIELDS = frozenset(_DATA_FIELDS.values())
#: Fields the check reads: a Logon carrying one twice is refused as malformed.
_SINGLE = frozenset({8, 9, 10, 34, 35, 49, 56, 141, 553, 554})

#: The refusal for wrong credentials, from the front door and from the session alike.
REFUSED_CREDENTIALS = "logon refused: unknown Username or wrong Password"


class FrameError(ValueError):
    """The bytes are not the FIX 4.4 message they claim to be."""


# the first message ---------------------------------------------------------------------------
def frame_length(data: bytes | bytearray | memoryview, limit: int) -> int | None:
    """The length of the FIX 4.4 message at the start of ``data``; None if more bytes are needed.

    Raises:
        FrameError: ``data`` cannot start a FIX 4.4 message, the message is longer
            than ``limit`` bytes, its BodyLength (9) does not end where CheckSum
            (10) starts, or the checksum is wrong.
    """
    head = bytes(data[: len(_PREFIX) + 8])
    known = min(len(head), len(_PREFIX))
    if head[:known] != _PREFIX[:known]:
        raise FrameError("not a FIX 4.4 message (it must start 8=FIX.4.4|9=)")
    if len(head) <= len(_PREFIX):
        return None
    end = head.find(_SOH, len(_PREFIX))
    digits = head[len(_PREFIX) : end if end >= 0 else len(head)]
    if not digits.isdigit():
        if end >= 0 or digits:
            raise FrameError("BodyLength (9) is not a number")
        return None
    if end < 0:
        if len(digits) >= 8:
            raise FrameError("BodyLength (9) is not a number of at most 7 digits")
        return None
    total = end + 1 + int(digits) + _TRAILER
    if total > limit:
        raise FrameError(f"message of {total} bytes, more than {limit}")
    if len(data) < total:
        return None
    trailer = bytes(data[total - _TRAILER : total])
    if data[total - _TRAILER - 1] != _SOH[0] or not (
        trailer.startswith(b"10=") and trailer[3:6].isdigit() and trailer.endswith(_SOH)
    ):
        raise FrameError("BodyLength (9) does not end where CheckSum (10) starts")
    if sum(data[: total - _TRAILER]) % 256 != int(trailer[3:6]):
        raise FrameError("wrong CheckSum (10)")
    return total


# after the logon: message sizes ---------------------------------------------------------------
class MessageSizes:
    """Follows the message boundaries of a client's byte stream by BodyLength (9) to
    bound each message's size, holding at most the start of one (up to its BodyLength).

    QuickFIX reads a message whole before it parses it, whatever BodyLength says, so
    without a bound one desk could make the gateway buffer gigabytes. Bytes before a
    message start (``8=FIX.4.4|9=``) are skipped, as QuickFIX's parser skips them;
    the bytes themselves are never changed or held back.
    """

    __slots__ = ("_head", "_need", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._need = 0  # bytes of the current message still to come
        self._head = b""  # the start of the next message, until its BodyLength is read

    def feed(self, data: bytes) -> int | None:
        """Account for ``data``; the size a message declares when it is over the limit
        (10^8 for a BodyLength of more than 7 digits), else None."""
        if self._head:
            data, self._head = self._head + data, b""
        pos, size = 0, len(data)
        while pos < size:
            if self._need:
                step = min(self._need, size - pos)
                self._need -= step
                pos += step
                continue
            start = data.find(_PREFIX, pos)
            if start < 0:  # no message starts here: keep what could begin one
                self._head = data[max(pos, size - len(_PREFIX) + 1) :]
                return None
            digits_at = start + len(_PREFIX)
            end = data.find(_SOH, digits_at, digits_at + 8)
            if end < 0:
                if size - digits_at < 8:
                    self._head = data[start:]  # its BodyLength is still to come
                    return None
                if data[digits_at : digits_at + 8].isdigit():
                    return 10**8  # 8 digits and more
                pos = start + 1  # not a BodyLength: not a message start
                continue
            digits = data[digits_at:end]
            if not digits.isdigit():
                pos = start + 1
                continue
            total = end - start + 1 + int(digits) + _TRAILER
            if total > self.limit:
                return total
            self._need = max(0, total - (size - start))
            pos = min(size, start + total)
        return None


def parse_fields(message: bytes) -> list[tuple[int, bytes]]:
    """The ``(tag, value)`` pairs of one framed message, in order.

    A data field (RawData 96, SecureData 91, XmlData 213, Signature 89) is read
    by the length given in the field right before it, as QuickFIX reads it, so
    an SOH inside its value cannot smuggle in a field the engine would not see.
    """
    fields: list[tuple[int, bytes]] = []
    pos, size = 0, len(message)
    while pos < size:
        equals = message.find(b"=", pos)
        tag_text = message[pos:equals] if equals >= 0 else b""
        if not tag_text.isdigit() or len(tag_text) > 9:
            raise FrameError(f"malformed field at byte {pos}")
        tag = int(tag_text)
        length_tag = _DATA_FIELDS.get(tag)
        if length_tag is not None:
            if not fields or fields[-1][0] != length_tag:
                raise FrameError(f"data field {tag} not right after its length field {length_tag}")
            stop = equals + 1 + int(fields[-1][1])
            if stop >= size or message[stop] != _SOH[0]:
                raise FrameError(f"data field {tag} is not as long as field {length_tag} says")
        else:
            stop = message.find(_SOH, equals + 1)
            if stop < 0:
                raise FrameError(f"field {tag} is not terminated by SOH")
        value = message[equals + 1 : stop]
        if tag in _LENGTH_FIELDS and not value.isdigit():
            raise FrameError(f"length field {tag} is not a number")
        fields.append((tag, value))
        pos = stop + 1
    return fields


@dataclass(frozen=True, slots=True)
class LogonRequest:
    """What the front door reads from a client's first message (bytes as sent)."""

    msg_type: bytes
    sender_comp_id: bytes
    target_comp_id: bytes
    username: bytes | None = None
    password: bytes | None = None
    reset_seq_num: bool = False


def parse_logon(message: bytes) -> LogonRequest:
    """The fields of a framed first message that the logon check needs.

    Raises:
        FrameError: MsgType (35) is not the third field or CheckSum (10) not the
            last (a data field ran over it), SenderCompID (49) or TargetCompID (56)
            is missing, or a field the check reads appears twice.
    """
    fields = parse_fields(message)
    if len(fields) < 4 or fields[2][0] != 35:
        raise FrameError("MsgType (35) is not the third field")
    if fields[-1][0] != 10:
        raise FrameError("CheckSum (10) is not the last field")
    values: dict[int, bytes] = {}
    for tag, value in fields:
        if tag in _SINGLE and tag in values:
            raise FrameError(f"field {tag} appears more than once")
        values.setdefault(tag, value)
    if not values.get(49) or not values.get(56):
        raise FrameError("SenderCompID (49) or TargetCompID (56) is missing")
    return LogonRequest(
        msg_type=values[35],
        sender_comp_id=values[49],
        target_comp_id=values[56],
        username=values.get(553),
        password=values.get(554),
        reset_seq_num=values.get(141) == b"Y",
    )


# the logon check -----------------------------------------------------------------------------
class Credential(Protocol):
    """A client's expected Username (553) and the hex SHA-256 of its Password (554)."""

    @property
    def username(self) -> str: ...

    @property
    def password_sha256(self) -> str: ...


def _as_bytes(value: str | bytes | None) -> bytes:
    """A field's value as the bytes that were sent (quickfix hands over undecodable
    bytes as surrogate escapes: they go back to the same bytes)."""
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")


def credentials_match(
    expected: Credential | None, username: str | bytes | None, password: str | bytes | None
) -> bool:
    """Whether Username/Password match the configured credential (None never matches).

    Compared as bytes in constant time (``hmac.compare_digest`` refuses str with
    non-ASCII characters, so a str compare would raise instead of answering), and
    both parts are always compared.
    """
    digest = hashlib.sha256(_as_bytes(password)).hexdigest().encode()
    if expected is None:
        return False
    name_ok = hmac.compare_digest(_as_bytes(username), expected.username.encode())
    password_ok = hmac.compare_digest(digest, expected.password_sha256.encode())
    return name_ok and password_ok


def _printable(value: bytes, limit: int = 32, *, spaces: bool = False) -> str:
    """A peer-supplied value fit to quote in a log or a FIX field: printable ASCII,
    anything else as ``?``, cut at ``limit`` bytes."""
    low = 0x20 if spaces else 0x21
    text = "".join(chr(b) if low <= b < 0x7F else "?" for b in value[:limit])
    return text + ("..." if len(value) > limit else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class LogonPolicy:
    """Who may log on: the checks the front door runs on a Logon before QuickFIX sees it."""

    sender_comp_id: str
    allowed_comp_ids: frozenset[str]
    credentials: Mapping[str, Credential] = field(default_factory=dict)

    def refusal(self, logon: LogonRequest) -> str | None:
        """The reason to refuse this Logon (a Logout's Text), or None to let it through."""
        client = logon.sender_comp_id.decode("utf-8", "replace")
        if client not in self.allowed_comp_ids:
            return f"logon refused: SenderCompID {_printable(logon.sender_comp_id)} is not allowed"
        if logon.target_comp_id != self.sender_comp_id.encode():
            return f"logon refused: TargetCompID must be {self.sender_comp_id}"
        if self.credentials and not credentials_match(
            self.credentials.get(client), logon.username, logon.password
        ):
            return REFUSED_CREDENTIALS
        return None


def refusal_logout(
    sender_comp_id: str, target_comp_id: bytes, text: str, seq_num: int = 1
) -> bytes:
    """A Logout (35=5) answering a refused Logon, built without any session.

    ``seq_num`` is its MsgSeqNum (34): the session's next number when the front
    door has taken one for it (:attr:`FrontDoorConfig.refusal_seq_num`), else 1.
    A QuickFIX peer counts a Logout whatever its number (its next expected number
    goes up by one), so only the session's own next number keeps a desk that
    mistyped its password in step for its next logon.
    """
    now = datetime.now(UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]
    target = _printable(target_comp_id, 64) or "UNKNOWN"
    reason = _printable(text.encode("ascii", "replace"), 200, spaces=True)
    body = (
        f"35=5\x0134={seq_num}\x0149={sender_comp_id}\x0152={now}\x0156={target}\x0158={reason}\x01"
    ).encode()
    head = _PREFIX + str(len(body)).encode() + _SOH
    checksum = sum(head + body) % 256
    return head + body + b"10=%03d\x01" % checksum


# plumbing ------------------------------------------------------------------------------------
class LoopThread:
    """An asyncio event loop running on its own daemon thread (the front door's, the
    TLS proxy's); the loop exists from ``start()`` until ``stop()``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=self.name, daemon=True)
        self._thread.start()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None, "the loop thread is not started"
        return self._loop

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run ``coroutine`` on the loop and wait for its result (from another thread)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Call ``fn`` on the loop's thread and wait for its result."""

        async def call() -> T:
            return fn()

        return self.run(call(), timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel the loop's tasks, stop it, join the thread and close the loop."""
        if self._loop is None or self._thread is None:
            return
        if self._thread.is_alive():

            async def cancel() -> None:
                for task in asyncio.all_tasks():
                    if task is not asyncio.current_task():
                        task.cancel()

            with contextlib.suppress(Exception):
                self.run(cancel(), timeout)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
        if not self._thread.is_alive() and not self._loop.is_closed():
            self._loop.close()


#: Every event :attr:`FrontDoor.tally` counts (exported as bidgw_frontdoor_events_total).
FRONT_DOOR_EVENTS: Final = (
    "accepted",
    "logon",
    "address_refused",
    "evicted",
    "bad_first_message",
    "logon_timeout",
    "logon_refused",
    "logon_dropped",
    "logon_abandoned",
    "upstream_failed",
    "slow_consumer",
    "message_too_large",
    "accept_failed",
    "loop_error",
)


class Tally:
    """How often each front door event happened; :meth:`wait_for` blocks until a count is
    reached (tests, and anyone watching the gateway from inside the process)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._changed = threading.Condition()

    def add(self, event: str) -> None:
        with self._changed:
            self._counts[event] += 1
            self._changed.notify_all()

    def __getitem__(self, event: str) -> int:
        with self._changed:
            return self._counts[event]

    def wait_for(self, event: str, count: int, timeout: float) -> bool:
        """True once ``event`` has happened ``count`` times, False if ``timeout`` passes first."""
        with self._changed:
            return self._changed.wait_for(lambda: self._counts[event] >= count, timeout)


@dataclass(frozen=True, slots=True, kw_only=True)
class FrontDoorConfig:
    """Where the front door listens, where QuickFIX listens, and the limits (see the module).

    Attributes:
        listen_host / listen_port: the public client port (0: any free port).
        target_host / target_port: the QuickFIX acceptor behind it.
        policy: the logon check.
        allowed_remote_addresses: peer IP addresses allowed to connect (empty: any).
        max_unauthenticated: connections waiting for their logon, at most.
        logon_timeout: seconds a connection has to log on.
        max_logon_bytes: the longest first message.
        max_outbound_buffer: bytes waiting for a client that is not reading, at most.
        max_message_bytes: the longest message a logged-on client may send
            (:class:`MessageSizes`); a longer one closes its connection.
        engine_logged_on: whether QuickFIX still has a CompID's session logged on.
            A desk that reconnects at once can log on again before QuickFIX has read
            the end of its previous connection (closed by the front door a moment
            earlier), and QuickFIX drops a second logon for a logged-on session
            without an answer ("Session not found for incoming message"); so a
            Logon waits (up to ``release_wait`` seconds) until QuickFIX has let
            the CompID's session go.
        release_wait: see ``engine_logged_on``.
        refusal_seq_num: for a refused Logon of an allowed CompID, the MsgSeqNum of
            the Logout that answers it, or None to close the connection without one
            (see :meth:`FrontDoor.refusal_seq_num`). Unset: 1. Called on the front
            door's thread, and only while no other connection of the CompID is on
            its way to QuickFIX.
    """

    listen_host: str = "0.0.0.0"
    listen_port: int
    target_host: str = "127.0.0.1"
    target_port: int
    policy: LogonPolicy
    allowed_remote_addresses: frozenset[str] = frozenset()
    max_unauthenticated: int = 64
    logon_timeout: float = 10.0
    max_logon_bytes: int = 4096
    max_outbound_buffer: int = 16 * 2**20
    max_message_bytes: int = 2**20
    engine_logged_on: Callable[[str], bool] | None = None
    release_wait: float = 2.0
    refusal_seq_num: Callable[[str], int | None] | None = None


_State = Literal["logon", "refused", "connecting", "forwarded", "open", "closed"]


class FrontDoor:
    """The public client port in front of the QuickFIX acceptor.

    ``start()`` binds the port (raising if it cannot) and serves on its own
    thread; ``stop_accepting()`` closes the port, ``stop()`` also closes every
    connection. Thread-safe to start and stop; everything else runs on the loop.

    :attr:`tally` counts ``accepted``, ``logon`` (QuickFIX answered the Logon)
    and, each logged as ``frontdoor.<name>``: ``address_refused``, ``evicted``
    (the oldest waiting connection, closed for a new one), ``bad_first_message``,
    ``logon_timeout``, ``logon_refused``, ``logon_dropped`` (QuickFIX dropped the
    Logon unread; it is forwarded again), ``logon_abandoned`` (the client closed before
    its Logon reached QuickFIX: it never does), ``upstream_failed``, ``slow_consumer``,
    ``message_too_large``, ``accept_failed`` (EMFILE and the like) and ``loop_error``:
    :data:`FRONT_DOOR_EVENTS`.
    """

    def __init__(self, config: FrontDoorConfig) -> None:
        self.config = config
        self.tally = Tally()
        self._thread = LoopThread("bidgw-frontdoor")
        self._listener: socket.socket | None = None
        self._port = config.listen_port
        #: Connections not logged on yet, oldest first (a dict keeps insertion order).
        self._waiting: dict[_Connection, None] = {}
        self._open: set[_Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._backoff = _ACCEPT_BACKOFF[0]
        self._throttle = Throttle(1.0)
        self._hidden: set[int] = set()  # descriptors hidden from the FIX poll loops
        #: One read buffer for every socket: each read is copied out before the next.
        self.chunk = memoryview(bytearray(_CHUNK))

    @property
    def port(self) -> int:
        """The port clients connect to."""
        return self._port

    @property
    def address(self) -> str:
        """The address the listener is bound to (once started)."""
        if self._listener is None:
            return self.config.listen_host
        return str(self._listener.getsockname()[0])

    @property
    def _loop(self) -> asyncio.AbstractEventLoop:
        return self._thread.loop

    def refusal_seq_num(self, comp_id: bytes) -> int | None:
        """The MsgSeqNum of the Logout refusing a Logon from ``comp_id``, or None: no
        Logout, the connection is closed.

        A QuickFIX peer counts a Logout whatever its number (its next expected number
        goes up by one, with no resend), so only a Logout numbered exactly as the peer
        expects leaves it in step. 1 for a CompID the gateway does not serve, or while
        another connection of it is on its way to QuickFIX; otherwise
        :attr:`FrontDoorConfig.refusal_seq_num` decides.
        """
        numbers = self.config.refusal_seq_num
        try:
            client = comp_id.decode("ascii")
        except UnicodeDecodeError:
            return 1
        if numbers is None or client not in self.config.policy.allowed_comp_ids:
            return 1
        if any(c.comp_id == client for c in self._open if c.state in ("connecting", "forwarded")):
            return 1
        try:
            return numbers(client)
        except Exception:  # the engine's state is the gateway's: close without a Logout
            log.exception("frontdoor.refusal_seq_num_failed", client=client)
            return None

    @property
    def unauthenticated(self) -> int:
        """Connections that have not logged on yet."""
        return len(self._waiting)

    # lifecycle (any thread) -----------------------------------------------------------------
    def start(self) -> None:
        config = self.config
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((config.listen_host, config.listen_port))
            listener.listen(socket.SOMAXCONN)
            listener.setblocking(False)
        except OSError as exc:
            listener.close()
            raise OSError(
                exc.errno,
                f"client port {config.listen_host}:{config.listen_port}: {exc.strerror}",
            ) from None
        self._listener = listener
        self._port = int(listener.getsockname()[1])
        self.hide(listener.fileno())
        self._thread.start()
        self._loop.set_exception_handler(self._loop_error)
        self._thread.call(self._listen)
        log.info(
            "frontdoor.started",
            listen=f"{config.listen_host}:{self._port}",
            target=f"{config.target_host}:{config.target_port}",
            max_unauthenticated=config.max_unauthenticated,
            logon_timeout_secs=config.logon_timeout,
            max_outbound_buffer_bytes=config.max_outbound_buffer,
        )

    def stop_accepting(self) -> None:
        """Close the public port; connections already open stay."""
        if self._thread.running:
            with contextlib.suppress(Exception):
                self._thread.call(self._close_listener)

    def stop(self) -> None:
        """Close the port and every connection, then end the thread."""
        if self._thread.running:
            with contextlib.suppress(Exception):
                self._thread.call(self._close_all)
        self._thread.stop()
        if self._listener is not None:
            self._listener.close()
        for fd in list(self._hidden):  # sockets the stopped loop never got to close
            self.show(fd)

    # on the loop ----------------------------------------------------------------------------
    def _listen(self) -> None:
        assert self._listener is not None
        self._loop.add_reader(self._listener.fileno(), self._accept)

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(listener.fileno())
            self.show(listener.fileno())
            listener.close()

    def _close_all(self) -> None:
        self._close_listener()
        for connection in [*self._waiting, *self._open]:
            connection.finish("gateway stopping")

    def _accept(self) -> None:
        """Take up to ``_ACCEPTS_PER_WAKE`` connections, then let the loop serve the rest."""
        for _ in range(_ACCEPTS_PER_WAKE):
            listener = self._listener
            if listener is None:
                return
            try:
                sock, address = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _OUT_OF_DESCRIPTORS:
                    self._pause_accepting(exc)
                    return
                self.event("accept_failed", error=f"{type(exc).__name__}: {exc}")
                continue
            self._backoff = _ACCEPT_BACKOFF[0]
            self._admit(sock, f"{address[0]}:{address[1]}", address[0])

    def _pause_accepting(self, exc: OSError) -> None:
        """Out of descriptors: stop accepting for a while (the kernel keeps the queue);
        established connections keep flowing meanwhile."""
        listener = self._listener
        if listener is None:
            return
        self._loop.remove_reader(listener.fileno())
        delay, self._backoff = self._backoff, min(self._backoff * 2, _ACCEPT_BACKOFF[1])
        self._loop.call_later(delay, self._resume_accepting)
        self.event(
            "accept_failed",
            level="error",
            error=f"{errno.errorcode.get(exc.errno or 0, exc.errno)}: {exc.strerror}",
            retry_in_secs=delay,
            connections=len(self._open),
            unauthenticated=len(self._waiting),
        )

    def _resume_accepting(self) -> None:
        if self._listener is not None:
            self._loop.add_reader(self._listener.fileno(), self._accept)

    def _admit(self, sock: socket.socket, peer: str, host: str) -> None:
        config = self.config
        if config.allowed_remote_addresses and host not in config.allowed_remote_addresses:
            self.event("address_refused", peer=peer)  # counted before the peer can see it
            sock.close()
            return
        if len(self._waiting) >= config.max_unauthenticated:
            oldest = next(iter(self._waiting))
            self.event("evicted", peer=oldest.peer, limit=config.max_unauthenticated)
            oldest.finish("too many connections waiting for their logon", abort=True)
        # asyncio sets TCP_NODELAY only on sockets whose proto says TCP: an accepted
        # socket's says 0, and Nagle with the peer's delayed ACK holds replies ~40 ms.
        with contextlib.suppress(OSError):  # already reset by the peer: found out soon
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = _Connection(self, peer, sock.fileno())
        self.hide(connection.fd)
        self._waiting[connection] = None
        connection.timer = self._loop.call_later(config.logon_timeout, connection.logon_timed_out)
        self.tally.add("accepted")
        self._spawn(self._attach(sock, connection))

    async def _attach(self, sock: socket.socket, connection: _Connection) -> None:
        try:
            await self._loop.connect_accepted_socket(lambda: connection, sock)
        except OSError as exc:
            self.show(connection.fd)
            sock.close()
            connection.finish(f"cannot serve the connection: {exc}")

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = self._loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def hide(self, fd: int) -> None:
        """This loop serves socket ``fd``: keep it out of the FIX poll loops' waits."""
        self._hidden.add(fd)
        hide_from_poll(fd)

    def show(self, fd: int) -> None:
        """Socket ``fd`` is being closed: its number may next be a FIX engine's socket."""
        self._hidden.discard(fd)
        show_to_poll(fd)

    def logged_on(self, connection: _Connection) -> None:
        self._waiting.pop(connection, None)
        self._open.add(connection)
        self.tally.add("logon")
        log.info("frontdoor.logon", client=connection.comp_id, peer=connection.peer)

    def forget(self, connection: _Connection) -> None:
        self._waiting.pop(connection, None)
        self._open.discard(connection)

    def event(self, name: str, *, level: str = "warning", **fields: Any) -> None:
        """Count an event; log it unless one of its kind was logged less than a second ago
        (the next line says how many were left out)."""
        self.tally.add(name)
        suppressed = self._throttle.allow(name)
        if suppressed is not None:
            extra = {"suppressed": suppressed} if suppressed else {}
            getattr(log, level)(f"frontdoor.{name}", **fields, **extra)

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        self.event(
            "loop_error",
            level="error",
            message=context.get("message"),
            error=f"{type(exc).__name__}: {exc}" if exc is not None else None,
        )


class _Connection(asyncio.BufferedProtocol):
    """One client connection: its logon phase, then the pipe to QuickFIX (client side)."""

    def __init__(self, door: FrontDoor, peer: str, fd: int) -> None:
        self.door = door
        self.peer = peer
        self.fd = fd
        self.state: _State = "logon"
        self.comp_id: str | None = None
        self.client: asyncio.Transport | None = None
        self.upstream: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self._logon = bytearray(door.config.max_logon_bytes)
        self._filled = 0
        self._pending: list[bytes] = []
        #: What went to the engine before its first answer (None: too much to keep).
        self._unanswered: list[bytes] | None = []
        self._retries = 0
        self._sizes = MessageSizes(door.config.max_message_bytes)

    # the client's socket ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.client = transport
        if self.state == "closed":
            transport.abort()

    def get_buffer(self, sizehint: int) -> memoryview:
        if self.state == "logon":
            return memoryview(self._logon)[self._filled :]
        return self.door.chunk

    def buffer_updated(self, nbytes: int) -> None:
        if self.state in ("forwarded", "open"):
            assert self.upstream is not None
            data = bytes(self.door.chunk[:nbytes])
            if self._oversized(data):
                return
            self.upstream.write(data)
            if self.state == "forwarded":
                self._keep(data)
        elif self.state == "logon":
            self._filled += nbytes
            self._read_logon()
        elif self.state == "connecting":  # reading is paused; a read already under way
            data = bytes(self.door.chunk[:nbytes])
            if not self._oversized(data):
                self._pending.append(data)
        # refused, closed: dropped

    def eof_received(self) -> bool:
        return False  # close: QuickFIX ends a session whose peer stops sending anyway

    def _oversized(self, data: bytes) -> bool:
        """Whether ``data`` carries a message over the size limit; then the connection
        is closed (what went before it stays with QuickFIX, the rest never gets there)."""
        size = self._sizes.feed(data)
        if size is None:
            return False
        self.door.event(
            "message_too_large",
            client=self.comp_id,
            peer=self.peer,
            bytes=size,
            limit=self.door.config.max_message_bytes,
        )
        self.finish("message too large", abort=True)
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.door.show(self.fd)  # the transport closes the socket right after this
        self.finish("client disconnected")

    # the logon ----------------------------------------------------------------------------------
    def _read_logon(self) -> None:
        door = self.door
        data = memoryview(self._logon)[: self._filled]
        try:
            size = frame_length(data, len(self._logon))
            if size is None:
                if self._filled >= len(self._logon):
                    raise FrameError(f"no complete message in {len(self._logon)} bytes")
                return
            message = bytes(data[:size])
            logon = parse_logon(message)
            if logon.msg_type != b"A":
                raise FrameError(f"first message is MsgType {_printable(logon.msg_type)}, not A")
        except FrameError as exc:
            door.event("bad_first_message", peer=self.peer, error=str(exc))
            self.finish("bad first message")
            return
        rest = bytes(data[size:])
        reason = door.config.policy.refusal(logon)
        if reason is not None:
            door.event(
                "logon_refused",
                peer=self.peer,
                client=_printable(logon.sender_comp_id),
                username=_printable(logon.username or b""),
                reset_seq_num=logon.reset_seq_num,
                reason=reason,
            )
            # The Logout, then our FIN; what the peer still sends is read and dropped
            # until it closes (or the logon timeout): closing a socket with unread
            # bytes sends a reset that can overtake the Logout.
            assert self.client is not None
            seq_num = door.refusal_seq_num(logon.sender_comp_id)
            if seq_num is not None:
                self.client.write(
                    refusal_logout(
                        door.config.policy.sender_comp_id, logon.sender_comp_id, reason, seq_num
                    )
                )
            self.client.write_eof()
            self.state = "refused"
            self._logon = bytearray()
            return
        self.comp_id = logon.sender_comp_id.decode()
        self.state = "connecting"
        self._logon = bytearray()
        self._pending = [message, rest] if rest else [message]
        if self._oversized(rest):
            return
        assert self.client is not None
        self.client.pause_reading()
        door._spawn(self._connect())

    async def _connect(self) -> None:
        door = self.door
        config = door.config
        await self._engine_released()
        if self.state != "connecting":
            return  # closed while waiting
        try:
            await door._loop.create_connection(
                lambda: _Upstream(self), config.target_host, config.target_port
            )
        except OSError as exc:
            door.event(
                "upstream_failed",
                level="error",
                client=self.comp_id,
                peer=self.peer,
                error=f"{type(exc).__name__}: {exc}",
            )
            self.finish("cannot reach the FIX engine")

    async def _engine_released(self) -> None:
        """Wait (bounded) until QuickFIX has let go of this CompID's previous connection."""
        door = self.door
        still = door.config.engine_logged_on
        if still is None:
            return
        # Also when this CompID has a connection open here: its close may be waiting in
        # this very loop iteration. A real second connection waits release_wait, then
        # QuickFIX refuses it as before.
        assert self.comp_id is not None
        deadline = door._loop.time() + door.config.release_wait
        while still(self.comp_id) and door._loop.time() < deadline:
            await asyncio.sleep(0.005)

    def upstream_made(self, transport: asyncio.Transport) -> None:
        if self.state != "connecting":
            transport.close()
            return
        assert self.client is not None
        if _peer_closed(self.client):
            # Reading was paused while the Logon waited for the engine, so the loop did
            # not see the client leave: a Logon from a connection that is gone must not
            # reach QuickFIX (with 141=Y it would reset a session another connection
            # may be about to take up).
            transport.close()
            self.door.event("logon_abandoned", level="info", client=self.comp_id, peer=self.peer)
            self.finish("client disconnected before its logon reached the engine")
            return
        self.upstream = transport
        self.state = "forwarded"
        data = b"".join(self._pending)
        transport.write(data)
        self._pending = []
        self._unanswered = []
        self._keep(data)
        assert self.client is not None
        self.client.resume_reading()

    def logon_timed_out(self) -> None:
        if self.state == "refused":
            self.finish("logon refused; the peer did not close")
        elif self.state in ("logon", "connecting", "forwarded"):
            self.door.event(
                "logon_timeout",
                peer=self.peer,
                client=self.comp_id,
                waited_secs=self.door.config.logon_timeout,
                stage=self.state,
            )
            self.finish("no logon in time")

    # QuickFIX's side ------------------------------------------------------------------------------
    def _keep(self, data: bytes) -> None:
        """Remember bytes sent to the engine before its first answer (bounded)."""
        if self._unanswered is None:
            return
        self._unanswered.append(data)
        if sum(map(len, self._unanswered)) > _FORWARD_KEEP:
            self._unanswered = None

    def engine_closed(self) -> None:
        """The engine closed its side. Before any answer to the Logon that means
        QuickFIX dropped it unread ("Session not found for incoming message": it
        still held the CompID's previous connection, which it had already stopped
        counting as logged on or registered): the Logon is forwarded again, at most
        ``_FORWARD_RETRIES`` times, once the engine has let the session go."""
        sent = self._unanswered
        if self.state == "forwarded" and sent and self._retries < _FORWARD_RETRIES:
            self._retries += 1
            self.door.event(
                "logon_dropped",
                level="info",
                client=self.comp_id,
                peer=self.peer,
                attempt=self._retries,
            )
            self.upstream = None
            self.state = "connecting"
            self._pending = list(sent)
            self._unanswered = []
            assert self.client is not None
            self.client.pause_reading()
            self.door._spawn(self._connect())
            return
        self.finish("the FIX engine closed the session")

    def from_engine(self, data: bytes) -> None:
        """Bytes QuickFIX sent the client: passed on at once; never held back."""
        client = self.client
        if self.state == "closed" or client is None:
            return
        if self.state == "forwarded":
            self.state = "open"
            if self.timer is not None:
                self.timer.cancel()
            self.door.logged_on(self)
        client.write(data)
        buffered = client.get_write_buffer_size()
        if buffered > self.door.config.max_outbound_buffer:
            self.door.event(
                "slow_consumer",
                client=self.comp_id,
                peer=self.peer,
                buffered_bytes=buffered,
                limit=self.door.config.max_outbound_buffer,
            )
            self.finish("slow consumer", abort=True)

    def engine_paused(self, paused: bool) -> None:
        """QuickFIX has not taken what the client sent: stop (or resume) reading the client."""
        if self.client is not None and self.state in ("forwarded", "open"):
            if paused:
                self.client.pause_reading()
            else:
                self.client.resume_reading()

    def finish(self, reason: str, *, abort: bool = False) -> None:
        """Close both sides (once): the client's after what is queued for it, unless ``abort``."""
        if self.state == "closed":
            return
        self.state = "closed"
        if self.timer is not None:
            self.timer.cancel()
        self.door.forget(self)
        if self.client is not None:
            if abort:
                self.client.abort()
            else:
                self.client.close()
        if self.upstream is not None:
            self.upstream.close()
        self._logon = bytearray()
        self._pending = []
        log.debug("frontdoor.closed", client=self.comp_id, peer=self.peer, reason=reason)


def _peer_closed(transport: asyncio.Transport) -> bool:
    """Whether the peer of a transport that is not being read has closed or reset its
    side: the kernel's TCP state (Linux), else a peek at a copy of the socket."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return True
    try:
        if hasattr(socket, "TCP_INFO"):
            info: bytes = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)
            return info[0] != _TCP_ESTABLISHED
        with socket.fromfd(sock.fileno(), sock.family, sock.type) as probe:
            return probe.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False  # open, nothing to read
    except OSError:
        return True


class _Upstream(asyncio.BufferedProtocol):
    """The front door's connection to the QuickFIX acceptor, for one client."""

    def __init__(self, connection: _Connection) -> None:
        self.connection = connection
        self.fd = -1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.fd = transport.get_extra_info("socket").fileno()
        self.connection.door.hide(self.fd)
        self.connection.upstream_made(transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.connection.door.chunk

    def buffer_updated(self, nbytes: int) -> None:
        self.connection.from_engine(bytes(self.connection.door.chunk[:nbytes]))

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.connection.door.show(self.fd)
        self.connection.engine_closed()

    def pause_writing(self) -> None:
        self.connection.engine_paused(True)

    def resume_writing(self) -> None:
        self.connection.engine_paused(False)
