"""The running gateway: wiring, the state owner, and the one place actions are carried out.

One process, two QuickFIX connectors — a ``SocketAcceptor`` for desks (one
static session per allowed CompID) and a ``SocketInitiator`` to the
counterparty — around the I/O-free decision core (:mod:`gateway.router.decide`,
:mod:`gateway.router.relay`). docs/architecture.md draws the whole picture.

Threads and ownership:

* engine poll threads (:mod:`gateway.router.sessions`): logon checks, rate
  limits and busy refusals, then journal, translate, queue;
* the state owner (``_work_loop``): the only thread that reads or changes the
  book; it asks the core for actions and carries them out in order (journal,
  encode, send, log), and expires old state now and then;
* the fair pool (:mod:`gateway.router.pool`): decodes each list, builds its
  bundle with the strategy and pre-solves it, per-client round-robin, and
  hands the result back to the state owner.

Crash safety: the journal records every inbound message before the engine
counts it, every decision, and each bundle before it is forwarded; a report is
relayed before its bundle is marked done. On restart :meth:`Gateway._restore`
rebuilds the book and replays what a crash left unfinished.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import queue
import threading
import time
import tracemalloc
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, TypeVar

import quickfix as fix
import structlog

from fixspec import DICTIONARY, Tag
from gateway.core.bundle import OrderBundle
from gateway.core.errors import GatewayError, PayloadError
from gateway.core.instruments import InstrumentList
from gateway.core.logs import bound
from gateway.core.plugins import FillCheck, StrategyRegistry, parse_envelope
from gateway.core.reports import ListOrderStatus, ListStatusType, OrderReport
from gateway.core.store import OwnerLock
from gateway.fix.client_codec import InboundList, WireLimits, decode_new_order_list, wire_path
from gateway.fix.engine import Connector, free_port, loopback_only, msg_type, session_settings
from gateway.fix.filelog import FixLogRotation
from gateway.fix.frontdoor import FrontDoor, FrontDoorConfig, LogonPolicy
from gateway.fix.messages import (
    business_reject,
    get_field,
    group_ids,
    list_cancel_request,
    list_status,
    seq_num,
)
from gateway.fix.venue_codec import (
    decode_bundle,
    encode_bundle,
    list_status_request,
    security_list_request,
)
from gateway.ops.metrics import GatewayMetrics
from gateway.ops.server import OpsServer
from gateway.ops.snapshot import (
    DecisionLog,
    DecisionView,
    LegInfo,
    Measure,
    StateView,
    build_state,
)
from gateway.router.book import Book
from gateway.router.config import AppConfig, ClientsConfig, VenueConfig
from gateway.router.controls import OPERATOR_REASON, Controls
from gateway.router.decide import Decider, ShuttingDown, unsolvable
from gateway.router.journal import Journal, JournalBundle, JournalDecision
from gateway.router.pool import FairPool, Job, Share
from gateway.router.records import (
    NOT_IN_BUNDLE,
    Accept,
    Action,
    Admit,
    BundleRecord,
    BusinessReason,
    CancelOut,
    Close,
    Decision,
    Denied,
    DenyCode,
    DenyKind,
    DeskSession,
    Ignored,
    InstrumentsIn,
    ListCancel,
    ListHeader,
    NoticeReject,
    Reconciled,
    RelayExecution,
    RelayStatus,
    Repeat,
    SessionKey,
    Solved,
    VenueExecution,
    VenueListStatus,
    VenueReject,
)
from gateway.router.relay import TERMINAL_LIST_STATUS, Relay
from gateway.router.risk import pretrade_breach
from gateway.router.sessions import ClientSide, VenueSide, Work, translate
from gateway.solver.sandbox import SandboxClosed, SolverSandbox

__all__ = ["Failpoint", "Gateway"]

log = structlog.get_logger("bidgw.gateway")

#: Called with a crash-window name ("terminal_relayed", "terminal_closed"); the
#: fault tests inject one that kills the process there. The default does nothing.
Failpoint = Callable[[str], None]

_STOP = "stop"
_REFORWARD = "reforward"
_SENT_LISTS_KEPT = 10_000  # venue MsgSeqNum -> BundleID, for matching a later reject
_HOUSEKEEPING_SECS = 1.0
_STATE_LOG_SECS = 10.0  # how often the state owner logs what it holds (gateway.state)
#: Text of the reject of a list from a desk an operator halted (the ops surface).
HALTED = "desk halted by the operator: new lists are refused until it is resumed"

_T = TypeVar("_T")


@dataclasses.dataclass(frozen=True, slots=True)
class _Task:
    """Work for the state owner from another thread (the ops surface): run, answer."""

    run: Callable[[], Any]
    future: concurrent.futures.Future[Any]


def _leg_info(bundle: OrderBundle) -> LegInfo:
    """What the operator's view shows of a bundle: its strategy and each leg's (symbol, side)."""
    strategy = str(bundle.metadata.get("strategy", "?"))
    return (strategy, tuple((leg.symbol, leg.side.value) for leg in bundle.legs))


def _measure(plugin: Any, bidder_data: Mapping[str, Any], bundle: OrderBundle) -> Measure:
    """How a fill of ``bundle`` measures against its strategy's bound (the operator
    page's column): the strategy's ``describe_fill``; None when it gives none."""

    def measure(fills: Sequence[int]) -> FillCheck | None:
        check: FillCheck | None = plugin.describe_fill(bidder_data, bundle, fills)
        return check

    return measure


def _no_failpoint(_name: str) -> None:
    return None


class Gateway:
    """The running gateway. ``start()``, then ``stop()``; thread-safe to stop."""

    def __init__(
        self,
        config: AppConfig,
        *,
        registry: StrategyRegistry | None = None,
        failpoint: Failpoint = _no_failpoint,
    ) -> None:
        if config.clients is None or config.venue is None:
            raise GatewayError("the gateway config needs both 'clients' and 'venue' sections")
        self.config = config
        self.clients: ClientsConfig = config.clients
        self.venue: VenueConfig = config.venue
        self.registry = registry or config.registry()
        self._sandbox: SolverSandbox | None = None  # solver processes, from start()
        #: Per desk, the session's next sender number when the desk last had every
        #: message (its logout, or the gateway's start): see _take_refusal_seq_num.
        self._caught_up: dict[str, int] = {}
        self._wire_limits = WireLimits(
            max_price_decimals=config.max_price_decimals,
            max_significant_digits=config.max_significant_digits,
            max_parameters=config.max_strategy_parameters,
        )
        self.failpoint = failpoint
        self.journal = (
            Journal(config.journal, full_sync=config.journal_full_sync)
            if config.journal is not None
            else None
        )
        #: Held from start() to stop(): one running gateway per journal.
        self._owner = OwnerLock(config.journal) if config.journal is not None else None
        self.book = Book(retain_done_secs=float(config.retain_done_secs), history=self.journal)
        self._risk = config.risk.limits()
        self.controls = Controls(
            self.book,
            self.clients.limits_for,
            instruments=self._saved_instruments() or config.instruments.load_file(),
            killed=self._saved_kills(),
        )
        self.decider = Decider(
            self.book,
            limits=self.clients.limits_for,
            max_orders_per_list=config.max_orders_per_list,
            pretrade=self._pretrade,
            blocked=self.controls.blocked,
        )
        self._instrument_requests = 0
        #: Set once the pre-trade checks have an instrument list (journal, file, venue).
        self.instruments_ready = threading.Event()
        if self.controls.instruments is not None:
            self.instruments_ready.set()
        self.relay = Relay(self.book)
        self.venue_session: SessionKey = (
            "FIX.4.4",
            self.venue.sender_comp_id,
            self.venue.target_comp_id,
        )
        self.venue_logged_on = threading.Event()
        self.client_logons: dict[str, threading.Event] = {
            comp_id: threading.Event() for comp_id in self.clients.allowed_comp_ids
        }
        self._queue: queue.Queue[Work] = queue.Queue()
        self._in_flight = 0  # lists admitted and not yet decided (state owner's count)
        self._stopping = threading.Event()
        self._pool: FairPool | None = None
        self._sent_lists: OrderedDict[int, str] = OrderedDict()
        self._to_forward: list[tuple[BundleRecord, str, str]] = []  # record, raw, ack text
        self._to_ack: list[tuple[BundleRecord, str]] = []
        self._dictionary: Any = None
        self._next_expiry = 0.0
        self._next_state_log = time.monotonic() + _STATE_LOG_SECS
        self._next_compaction = time.monotonic() + float(config.journal_compact_every_secs)
        self._worker = threading.Thread(target=self._work_loop, name="bidgw-state", daemon=True)
        # The operator surface (gateway/ops): counters the state owner bumps, its last
        # decisions, the desks an operator halted (state owner only), each open
        # bundle's strategy and legs for the page, and the web server when enabled.
        self.metrics = GatewayMetrics()
        self.decisions = DecisionLog(config.ops.recent_decisions)
        self.halted: set[str] = set()
        self._bundle_legs: dict[str, LegInfo] = {}
        self._measures: dict[str, Measure] = {}  # the page's achieved-vs-bound per bundle
        self.ops: OpsServer | None = OpsServer(self, config.ops) if config.ops.enabled else None
        self._client_side = Connector(
            "acceptor",
            ClientSide(self),
            self._client_settings(),
            store=config.store,
            log_dir=config.fix_log_dir,
        )
        self._venue_side = Connector(
            "initiator",
            VenueSide(self, self._venue_sent),
            self._venue_settings(),
            store=config.store,
            log_dir=config.fix_log_dir,
        )
        #: Keeps QuickFIX's FIX logs (never trimmed by QuickFIX) to a size on disk.
        self._log_rotation = FixLogRotation.for_config(config.fix_log_dir, config.fix)
        #: The public client port: checks each Logon, then pipes to the acceptor.
        self.front_door = FrontDoor(
            FrontDoorConfig(
                listen_host=self.clients.host,
                listen_port=self.clients.port,
                target_port=self.internal_port,
                policy=LogonPolicy(
                    sender_comp_id=self.clients.sender_comp_id,
                    allowed_comp_ids=frozenset(self.clients.allowed_comp_ids),
                    credentials=self.clients.credentials,
                ),
                allowed_remote_addresses=frozenset(self.clients.allowed_remote_addresses),
                max_unauthenticated=self.clients.max_unauthenticated_connections,
                logon_timeout=float(self.clients.logon_timeout_secs),
                max_outbound_buffer=self.clients.max_outbound_buffer_bytes,
                max_message_bytes=self.clients.max_message_bytes,
                engine_logged_on=self._client_logged_on,
                refusal_seq_num=self._take_refusal_seq_num,
            )
        )

    def _take_refusal_seq_num(self, comp_id: str) -> int | None:
        """The MsgSeqNum for the Logout refusing a logon of ``comp_id`` (front door
        thread), or None: close without a Logout.

        The desk will count that Logout as the number it expects next. While the
        session is logged on, the refused peer is not that desk: 1, nothing touched.
        When the desk logged off with every message (the session's next number is
        what it was then), that number is the one the desk expects: it is taken
        (the session moves past it) and used. Otherwise messages wait for the desk,
        and any Logout would make it skip one: None.
        """
        session = self.desk_session(comp_id)
        if session is None or session.isLoggedOn():
            return 1
        number = int(session.getExpectedSenderNum())
        if self._caught_up.get(comp_id) != number:
            return None
        session.setNextSenderMsgSeqNum(number + 1)
        self._caught_up[comp_id] = number + 1
        return number

    def desk_logged_off(self, comp_id: str) -> None:
        """Note the session's next number as the one the desk expects (QuickFIX thread)."""
        session = self.desk_session(comp_id)
        if session is not None:
            self._caught_up[comp_id] = int(session.getExpectedSenderNum())

    def _client_logged_on(self, comp_id: str) -> bool:
        """Whether QuickFIX still holds ``comp_id``'s session for a connection (any
        thread): logged on, or registered to a connection it has not torn down yet
        (it stops counting as logged on first, and drops a Logon for a session still
        registered)."""
        if fix.Session.isSessionRegistered(fix.SessionID(*self.desk_key(comp_id))):
            return True
        session = self.desk_session(comp_id)
        return session is not None and bool(session.isLoggedOn())

    def desk_key(self, comp_id: str) -> SessionKey:
        """The (BeginString, SenderCompID, TargetCompID) of ``comp_id``'s session."""
        return ("FIX.4.4", self.clients.sender_comp_id, comp_id)

    def desk_session(self, comp_id: str) -> Any:
        """QuickFIX's session object for desk ``comp_id`` (None if it has none)."""
        return fix.Session.lookupSession(fix.SessionID(*self.desk_key(comp_id)))

    def _client_settings(self) -> Any:
        """The desks' acceptor, behind the front door: QuickFIX 1.16 binds its port on
        every interface (no setting binds one address), so only connections from
        127.0.0.1 — the front door's — are allowed on it (AllowedRemoteAddresses,
        checked after the first message; :func:`loopback_only` at start drops every
        other source address before a connection is made)."""
        self.internal_port = self.clients.internal_port or free_port()
        acceptor: dict[str, Any] = {
            "ConnectionType": "acceptor",
            "SocketAcceptPort": self.internal_port,
            "AllowedRemoteAddresses": "127.0.0.1",
            "FileStorePath": self.config.store_dir / "clients",
            "FileLogPath": self.config.fix_log_dir / "clients",
            **self.config.fix.schedule(),
        }
        return session_settings(
            acceptor,
            [(self.clients.sender_comp_id, comp_id) for comp_id in self.clients.allowed_comp_ids],
        )

    def _venue_settings(self) -> Any:
        return session_settings(
            {
                "ConnectionType": "initiator",
                "SocketConnectHost": self.venue.host,
                "SocketConnectPort": self.venue.port,
                "HeartBtInt": self.venue.heartbeat_secs,
                "ReconnectInterval": self.venue.reconnect_secs,
                "FileStorePath": self.config.store_dir / "venue",
                "FileLogPath": self.config.fix_log_dir / "venue",
                **self.config.fix.schedule(),
            },
            [(self.venue.sender_comp_id, self.venue.target_comp_id)],
        )

    # lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Start everything, the operator surface first: a port it cannot take fails the
        start (naming the port) before anything else runs, since ``bidgw status`` and
        ``bidgw admin`` would otherwise reach whatever else holds it. Before it, the
        journal's :class:`OwnerLock`: a second gateway on the same journal is refused.

        A start that fails after taking the lock stops what it started, the lock
        included, before the error goes on: the same journal can be started again
        at once, from this process too."""
        if self._owner is not None:
            self._owner.acquire()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        log.info(
            "gateway.started",
            client_port=self.clients.port,
            internal_port=self.internal_port,
            clients=list(self.clients.allowed_comp_ids),
            venue=f"{self.venue.host}:{self.venue.port}",
            strategies=list(self.registry.names),
        )

    def _start(self) -> None:
        if self.ops is not None:
            self.ops.start()
        self._sandbox = SolverSandbox(self.config.presolve, self.config.presolve_workers)
        self._pool = FairPool(
            self.config.presolve_workers, name="bidgw-presolve", share=self._share
        )
        if self.journal is not None:
            self._restore(self.journal)
        self._worker.start()
        self._client_side.start()
        if not loopback_only(self.internal_port):
            log.warning(
                "gateway.internal_port_open",
                internal_port=self.internal_port,
                detail="QuickFIX binds it on every interface and no socket filter could be "
                "attached here: keep it closed to the network with a firewall",
            )
        for comp_id in self.clients.allowed_comp_ids:  # as if each desk had just logged off
            self.desk_logged_off(comp_id)
        self._venue_side.start()
        self._log_rotation.start()
        self.front_door.start()  # desks reach the acceptor from here on

    def _share(self, session: Hashable) -> Share:
        """A client's share of the pool workers, from its limits."""
        assert isinstance(session, tuple)
        limits = self.clients.limits_for(str(session[2]))
        return Share(
            max_running=limits.max_concurrent_solves,
            seconds_per_second=float(limits.max_solver_seconds_per_second),
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Refuse new work; kill running pre-solves and deny their lists and those not yet
        started ("gateway is shutting down ... send it again later"); log out."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self.ops is not None:
            self.ops.stop()
        if self._sandbox is not None:
            self._sandbox.close()  # a running pre-solve ends now, its list denied
        if self._pool is not None:
            shutting_down = ShuttingDown(
                "gateway is shutting down: the list was not pre-solved; send it again later"
            )
            for job in self._pool.close(timeout):
                job.done(None, shutting_down)
        self._queue.put(Work(_STOP))
        if self._worker.ident is not None:  # started (a failed start may not have)
            self._worker.join(timeout)
        self.front_door.stop_accepting()
        self._client_side.stop()  # the logouts reach the desks through the front door
        self.front_door.stop()
        self._venue_side.stop()
        self._log_rotation.stop()
        if self.journal is not None:
            self.journal.close()
        if self._owner is not None:
            self._owner.release()
        log.info("gateway.stopped")

    # called from the ops surface's threads (gateway.ops.server) -------------------------
    def on_state_owner(self, task: Callable[[], _T], timeout: float) -> _T:
        """Run ``task`` on the state owner between two records and return what it
        returns (any thread). ``TimeoutError`` when it has not run within ``timeout``
        (the state owner is busy, or the gateway stopping): then it never runs."""
        if self._stopping.is_set():
            raise TimeoutError("the gateway is stopping")
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()
        self._queue.put(Work(_Task(task, future)))
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    @property
    def queue_depth(self) -> int:
        """Records waiting for the state owner (any thread)."""
        return self._queue.qsize()

    def state(self, timeout: float = 2.0) -> StateView:
        """The book as the operator page shows it, made on the state owner (any thread)."""
        return self.on_state_owner(
            lambda: build_state(
                self.book,
                self._bundle_legs,
                measures=self._measures,
                halted=frozenset(self.halted),
                killed=frozenset(self.controls.killed),
                decisions=self.decisions,
                queued=self._queue.qsize(),
                in_flight=self._in_flight,
                max_bundles=self.config.ops.page_bundles,
            ),
            timeout,
        )

    def operator_cancel(self, bundle_id: str) -> Literal["sent", "queued", "unknown"]:
        """State owner: cancel an open bundle for the operator. "sent": the
        ListCancelRequest went out (its answer is relayed to the desk as any cancel's);
        "queued": the counterparty is down, it goes at its next logon (as a kill
        switch's cancels do); "unknown": no such open bundle."""
        record = self.book.by_bundle.get(bundle_id)
        if record is None or record.done:
            return "unknown"
        self.controls.want(bundle_id, OPERATOR_REASON)
        return "sent" if self._cancel_for_control(record) else "queued"

    # controls: instruments, kill switch, cancel on disconnect (gateway.router.controls) --
    def _pretrade(self, bundle: OrderBundle) -> str | None:
        """The pre-trade checks against the instrument list as it is now (any thread)."""
        return pretrade_breach(bundle, self.controls.instruments, self._risk)

    def _saved_instruments(self) -> InstrumentList | None:
        saved = self.journal.control("instruments") if self.journal is not None else None
        return InstrumentList.from_json(saved, "journal") if saved else None

    def _saved_kills(self) -> list[str]:
        saved = self.journal.control("killed") if self.journal is not None else None
        return list(json.loads(saved)) if saved else []

    def _on_instruments(self, message: InstrumentsIn) -> None:
        update = self.controls.on_instruments(message, time.time())
        if update.refused is not None:
            fallback = self.controls.instruments
            log.warning(
                "instruments.refused",
                req_id=message.req_id,
                reason=update.refused,
                using=fallback.source if fallback is not None else "none",
            )
        listed = update.installed
        if listed is None:
            return
        if self.journal is not None:
            self.journal.save_control("instruments", listed.to_json())
        self.instruments_ready.set()
        log.info("instruments.loaded", req_id=message.req_id, symbols=sorted(listed.instruments))

    def kill(self, comp_id: str, *, release: bool = False) -> str:
        """State owner: throw (or release) the kill switch for a desk or ``*`` (every
        desk); its open bundles are cancelled at the counterparty. Journaled."""
        if release:
            if not self.controls.release(comp_id):
                return f"{comp_id}: no kill switch thrown"
            self._save_kills()
            log.warning("ops.kill_released", client=comp_id)
            return f"{comp_id}: kill switch released; new lists are decided again"
        records = self.controls.kill(comp_id)
        self._save_kills()
        sent = sum(self._cancel_for_control(record) for record in records)
        log.warning("ops.kill", client=comp_id, open_bundles=len(records), cancels_sent=sent)
        later = len(records) - sent
        return (
            f"{comp_id}: kill switch thrown; {len(records)} open bundle(s), cancel sent for "
            f"{sent}"
            + (f", {later} when the counterparty logs on" if later else "")
            + "; new lists are refused until it is released"
        )

    def _save_kills(self) -> None:
        if self.journal is not None:
            self.journal.save_control("killed", json.dumps(sorted(self.controls.killed)))

    def _cancel_for_control(self, record: BundleRecord) -> bool:
        """A ListCancelRequest for a kill switch or a cancel on disconnect; False when the
        counterparty is down (the cancel stays wanted and goes at its next logon)."""
        reason = self.controls.reason(record.bundle_id)
        if not self.venue_up or not self._send(
            list_cancel_request(record.bundle_id, reason), self.venue_session
        ):
            return False
        self.controls.sent(record.bundle_id)
        log.warning(
            "bundle.cancel_forwarded",
            client=record.client[2],
            list_id=record.list_id,
            bundle_id=record.bundle_id,
            reason=reason,
        )
        return True

    def _on_desk_session(self, event: DeskSession) -> None:
        if not event.up:
            self.controls.desk_down(event.comp_id, time.monotonic())
            return
        for record in self.controls.desk_up(event.comp_id, event.reset):
            self._restate(record)

    def _note_relayed(self, bundle_id: str) -> None:
        record = self.book.by_bundle.get(bundle_id)
        if record is not None:
            self.controls.relayed(record, self._client_logged_on)

    def _restate(self, record: BundleRecord) -> None:
        """The bundle's current state to a desk whose reset logon discarded the reports
        stored for it (PossResend: it may have seen them)."""
        done = record.done
        reply = list_status(
            list_id=record.list_id,
            status_type=ListStatusType.ALL_DONE if done else ListStatusType.RESPONSE,
            order_status=ListOrderStatus.ALL_DONE if done else ListOrderStatus.EXECUTING,
            text="current state: reports sent while the session was down were reset away",
            bundle_id=record.bundle_id,
            orders=record.orders,
        )
        reply.getHeader().setField(Tag.POSS_RESEND, "Y")
        self._send(reply, record.client)
        log.info("bundle.restated", client=record.client[2], bundle_id=record.bundle_id)

    # called from the engine threads (gateway.router.sessions) ---------------------------
    def submit(self, work: Work) -> None:
        self._queue.put(work)

    def busy_reason(self) -> str | None:
        if self._stopping.is_set():
            return "gateway is shutting down"
        if self._queue.qsize() + self._in_flight >= self.config.queue_max:
            return f"gateway busy: {self.config.queue_max} requests waiting"
        return None

    def journal_in(self, source: str, message: Any, session: SessionKey) -> int | None:
        """Journal an incoming message before the engine counts it as received."""
        if self.journal is None:
            return None
        return self.journal.receive(source, session, message.toString())

    def translate_in(
        self,
        source: str,
        message: Any,
        session: SessionKey,
        journal_id: int | None,
        cl_ord_ids: tuple[str, ...] | None = None,
    ) -> object:
        """Translate a journaled message; one that cannot be translated is marked handled
        (the engine rejects it, or the failure is logged) so a restart does not replay it."""
        try:
            return translate(source, message, session, replay=False, cl_ord_ids=cl_ord_ids)
        except BaseException:
            if journal_id is not None and self.journal is not None:
                self.journal.handled(journal_id)
            raise

    def refuse(self, message: Any, session_id: Any, reason: str) -> None:
        """Refused on the engine thread (rate limit, busy): nothing is remembered."""
        if msg_type(message) == "E":
            reply = _reject_status(
                message.getField(Tag.LIST_ID), group_ids(message), reason, DenyCode.OTHER
            )
        else:
            reply = business_reject(
                ref_msg_type=msg_type(message),
                reason=BusinessReason.NOT_AVAILABLE,
                text=reason,
                ref_seq_num=seq_num(message),
            )
        fix.Session.sendToTarget(reply, session_id)

    def refuse_oversized(self, message: Any, session_id: Any, reason: str) -> None:
        """An id too long to keep: a BusinessMessageReject that names the limit and
        does not echo the id (the client matches it by RefSeqNum); nothing is kept."""
        reply = business_reject(
            ref_msg_type=msg_type(message),
            reason=BusinessReason.OTHER,
            text=f"refused: {reason}",
            ref_seq_num=seq_num(message),
        )
        fix.Session.sendToTarget(reply, session_id)
        log.warning("client.refused", reason=reason, client=session_id.getTargetCompID().getValue())

    def _venue_sent(self, message: Any) -> None:
        """toApp on the venue session: remember which BundleID each MsgSeqNum carried.

        Called on the state owner for its sends and on the venue poll thread for
        QuickFIX's resends; single dict operations, atomic under the GIL."""
        if msg_type(message) == "E":
            seq = int(message.getHeader().getField(Tag.MSG_SEQ_NUM))
            self._sent_lists[seq] = message.getField(Tag.LIST_ID)
            while len(self._sent_lists) > _SENT_LISTS_KEPT:
                self._sent_lists.popitem(last=False)

    def resend_refusal(self, message: Any) -> str | None:
        """QuickFIX is resending one of our messages to the counterparty (PossDupFlag =
        Y, on the venue poll thread, answering its ResendRequest): why it must go as a
        gap fill instead, or None to send it.

        A NewOrderList goes again only while its bundle is open here and nothing of it
        has filled: the counterparty then never booked it, or lost it, and booking it
        is right. A ListCancelRequest or ListStatusRequest goes again only while its
        bundle is open. Anything else about a list that is done, part filled or no
        longer held would be booked again at its full quantity by a counterparty that
        lost its book or restored it from a backup; the reconciliation that follows the
        logon closes an open bundle the counterparty no longer holds. Reads one record of
        the state owner's book, attribute by attribute (atomic under the GIL): a fill
        relayed meanwhile is the race any fill crossing the resend has."""
        list_id = get_field(message, Tag.LIST_ID)
        if list_id is None:  # a SecurityListRequest: nothing to book
            return None
        record = self.book.by_bundle.get(list_id)
        if record is None:
            return "the bundle is no longer held here"
        if record.done:
            return "the bundle is done"
        if msg_type(message) == "E" and any(order.cum_qty for order in record.orders):
            return "the bundle has filled in part: the counterparty has booked it"
        return None

    def forget_sent_lists(self) -> None:
        """The venue session's numbers restarted at 1 (poll thread; one atomic clear)."""
        self._sent_lists.clear()

    # the state owner -----------------------------------------------------------------------
    def _work_loop(self) -> None:
        while True:
            try:
                work = self._queue.get(timeout=self._wait_secs())
            except queue.Empty:
                self._housekeeping()
                continue
            if work.record == _STOP:
                return
            if isinstance(work.record, _Task):  # from the ops surface: never a message
                _run_task(work.record)
                self._housekeeping()
                continue
            try:
                self._handle(work)
            except Exception as exc:  # one bad message must not stop the state owner
                log.error(
                    "gateway.work_failed",
                    record=type(work.record).__name__,
                    error=f"{type(exc).__name__}: {exc}",
                    exc_info=True,
                )
                try:
                    self._internal_error(work, exc)
                except Exception as reply_failed:
                    log.error("gateway.reply_failed", error=repr(reply_failed))
            self._housekeeping()

    def _handle(self, work: Work) -> None:
        record = work.record
        stages = work.stages
        if stages is not None:
            # First the hop from the engine thread, then the one back from the pool.
            hop = "return_wait_us" if "queue_wait_us" in stages else "queue_wait_us"
            stages[hop] = (time.perf_counter() - stages.pop("queued")) * 1e6
        if isinstance(record, ListHeader):
            with bound(session_id=":".join(record.session[1:]), list_id=record.list_id):
                started = time.perf_counter()
                answer = self._halted(record) or self.decider.on_list(record)
                if stages is not None:
                    stages["admit_us"] = (time.perf_counter() - started) * 1e6
                if isinstance(answer, Admit):
                    self._admit(answer, work)
                    return  # the inbox row is handled when the verdict is
                self._carry_out([answer], replay=record.replay)
        elif isinstance(record, Solved):
            self._in_flight -= 1
            header = record.header
            with bound(session_id=":".join(header.session[1:]), list_id=header.list_id):
                started = time.perf_counter()
                verdict = self.decider.on_solved(record, venue_up=self.venue_up)
                if stages is not None:
                    stages["decide_us"] = (time.perf_counter() - started) * 1e6
                self._observe(record, stages)
                self._carry_out([verdict], replay=header.replay, stages=stages)
        elif isinstance(record, ListCancel):
            self.metrics.cancels.labels(record.session[2]).inc()
            self._carry_out([self.decider.on_cancel(record, venue_up=self.venue_up)])
        elif isinstance(record, VenueListStatus):
            self._carry_out(self.relay.on_status(record), replay=record.replay)
        elif isinstance(record, VenueExecution):
            self._carry_out(self.relay.on_execution(record), replay=record.replay)
        elif isinstance(record, VenueReject):
            self._carry_out(self.relay.on_reject(self._matched(record)))
        else:
            self._handle_control(record)
        if work.journal_id is not None and self.journal is not None:
            self.journal.handled(work.journal_id)

    def _matched(self, reject: VenueReject) -> VenueReject:
        """A refused list is found by the MsgSeqNum it went out with; a refused cancel or
        status request names its BundleID itself."""
        if reject.ref_msg_type in ("K", "M"):
            return reject
        seq = reject.ref_seq_num
        return dataclasses.replace(
            reject, bundle_id=self._sent_lists.pop(seq, None) if seq else None
        )

    def _handle_control(self, record: object) -> None:
        """The records that are not a message about a list: sessions and reference data."""
        if isinstance(record, InstrumentsIn):
            self._on_instruments(record)
        elif isinstance(record, DeskSession):
            self._on_desk_session(record)
        elif record == _REFORWARD:
            self._reforward()
        else:  # a record added without its handler: loud (gateway.work_failed), not dropped
            raise TypeError(f"no handler for the record {type(record).__name__}")

    @property
    def venue_up(self) -> bool:
        return self.venue_logged_on.is_set()

    def _observe(self, solved: Solved, stages: dict[str, float] | None) -> None:
        """The decision and pre-solve latency histograms (gateway.ops.metrics)."""
        if stages is not None:
            self.metrics.decision_seconds.observe(_decision_seconds(stages))
        if solved.presolve_ms is not None:
            self.metrics.presolve_seconds.observe(solved.presolve_ms / 1e3)

    def _halted(self, header: ListHeader) -> Denied | None:
        """A new list from a desk an operator halted is denied, not remembered (the desk
        may send it again once resumed); a resend of a decided list is still answered.
        Also counts the list as received (replays after a restart are not)."""
        if not header.replay:
            self.metrics.bundles_received.labels(header.session[2]).inc()
        if header.poss_dup or header.replay:
            return None
        reason = self.controls.blocked(header.session[2])
        if reason is None and header.session[2] in self.halted:
            reason = HALTED
        if reason is None:
            return None
        return Denied(
            header.session,
            header.list_id,
            header.cl_ord_ids,
            DenyCode.OTHER,
            reason,
            False,
            kind=DenyKind.HALTED,
        )

    def _admit(self, admit: Admit, work: Work) -> None:
        """Hand the list to the pool: decode, build, pre-solve; the verdict comes back
        to the state owner as a :class:`Solved` carrying the same inbox row."""
        assert self._pool is not None
        self._in_flight += 1
        message, journal_id = work.message, work.journal_id
        stages = work.stages if work.stages is not None else {}
        submitted = time.perf_counter()

        def run() -> object:
            stages["pool_wait_us"] = (time.perf_counter() - submitted) * 1e6
            return self._build_and_solve(admit, message, stages)

        def done(result: object, error: BaseException | None) -> None:
            solved = (
                result
                if isinstance(result, Solved)
                else Solved(admit.header, admit.bundle_id, error=error)
            )
            stages["queued"] = time.perf_counter()
            self._queue.put(Work(solved, journal_id=journal_id, stages=stages))

        job = Job(run, done)
        try:
            self._pool.submit(admit.header.session, job)
        except RuntimeError:  # stopping: the pool no longer takes work
            job.done(None, ShuttingDown("gateway is shutting down; send it again later"))

    def _build_and_solve(self, admit: Admit, message: Any, stages: dict[str, float]) -> Solved:
        """On a pool worker: the list's payload → bundle → pre-solve verdict."""
        self.failpoint("list_handling")
        header = admit.header
        started = time.perf_counter()
        try:
            inbound = decode_new_order_list(message, self._wire_limits)
            envelope = parse_envelope(inbound.envelope)
            decoded = time.perf_counter()
            bundle = self.registry.build(
                envelope,
                bundle_id=admit.bundle_id,
                metadata=_bundle_metadata(header.session, inbound),
            )
        except PayloadError as exc:  # named by the FIX fields the desk sent
            return Solved(header, admit.bundle_id, error=exc.with_paths(wire_path))
        except GatewayError as exc:
            return Solved(header, admit.bundle_id, error=exc)
        built = time.perf_counter()
        limits = self.clients.limits_for(header.session[2])
        refused = unsolvable(bundle, limits, admit.open_before, self._pretrade)
        if refused is not None:
            # Refused whatever the verdict (the decider says why): no solve.
            return Solved(
                header,
                admit.bundle_id,
                bundle,
                admit.open_before,
                outcome="unsolved",
                refused=refused,
            )
        assert self._sandbox is not None
        try:
            verdict = self._sandbox.check(bundle)
        except SandboxClosed:
            raise ShuttingDown(
                "gateway is shutting down: the list was not pre-solved; send it again later"
            ) from None
        stages["decode_us"] = (decoded - started) * 1e6
        stages["build_us"] = (built - decoded) * 1e6
        stages["presolve_us"] = (time.perf_counter() - built) * 1e6
        return Solved(
            header,
            admit.bundle_id,
            bundle,
            admit.open_before,
            feasible=verdict.feasible,
            outcome=verdict.outcome.value,
            reason=verdict.reason or "",
            max_fill=tuple(verdict.max_fill or ()),
            presolve_ms=verdict.build_ms + verdict.solve_ms,
            bidder_data=envelope.bidder_data,
        )

    # carrying out actions: the one place that journals, encodes, sends and logs ------------
    def _carry_out(  # noqa: PLR0912 - one branch per action type
        self,
        actions: Sequence[Action],
        *,
        replay: bool = False,
        stages: dict[str, float] | None = None,
    ) -> None:
        for action in actions:
            if isinstance(action, Denied):
                self._deny(action)
            elif isinstance(action, Repeat):
                self._repeat(action)
            elif isinstance(action, Accept):
                self._accept(action, stages if stages is not None else {})
            elif isinstance(action, RelayStatus):
                self._relay_status(action, replay=replay)
                self._save_orders(action.bundle_id)
            elif isinstance(action, RelayExecution):
                self._relay_execution(action, replay=replay)
                self._save_orders(action.bundle_id)
            elif isinstance(action, Close):
                self.failpoint("terminal_relayed")
                self.relay.close(action.bundle_id)
                self.controls.sent(action.bundle_id)  # nothing left to cancel
                if self.journal is not None:
                    self.journal.mark(action.bundle_id, "done")
                self.failpoint("terminal_closed")
            elif isinstance(action, CancelOut):
                self._cancel(action)
            elif isinstance(action, NoticeReject):
                self._notice(action)
            elif isinstance(action, Reconciled):
                self._reconciled(action)
            elif isinstance(action, Ignored):
                emit = log.error if action.error else log.info
                emit(action.event, bundle_id=action.bundle_id, detail=action.detail)
            else:  # Admit is handled before this; anything else is a missing handler
                raise TypeError(f"no handler for the action {type(action).__name__}")

    def _save_orders(self, bundle_id: str) -> None:
        """Journal the legs' state a relayed report left (it answers a later resend)."""
        record = self.book.by_bundle.get(bundle_id)
        if record is not None and self.journal is not None:
            self.journal.save_orders(bundle_id, record.orders)

    def _deny(self, denied: Denied) -> None:
        """Every denial leaves here: journal (if remembered), encode, send, log.

        A denial with a BundleID is the counterparty's reject of a bundle the gateway
        had accepted: ListStatusType 5 (all done), never the decision's 2."""
        if denied.remember and self.journal is not None:
            self.journal.decide(
                JournalDecision(
                    denied.session,
                    denied.list_id,
                    False,
                    denied.reason,
                    denied.cl_ord_ids,
                    None,
                    int(denied.code),
                )
            )
        self._send(
            _reject_status(
                denied.list_id,
                denied.cl_ord_ids,
                denied.reason,
                denied.code,
                bundle_id=denied.bundle_id,
            ),
            denied.session,
        )
        if denied.bundle_id is not None:
            self._save_orders(denied.bundle_id)
        stage = "gateway" if denied.bundle_id is None else "counterparty"
        self.metrics.bundles_denied.labels(
            denied.session[2], str(int(denied.code)), stage, denied.kind.value
        ).inc()
        self.decisions.add(
            DecisionView(
                time.time(),
                denied.session[2],
                denied.list_id,
                False,
                denied.reason,
                denied.bundle_id,
                int(denied.code),
                denied.presolve_ms,
            )
        )
        log.info(
            "bundle.rejected",
            client=denied.session[2],
            list_id=denied.list_id,
            bundle_id=denied.bundle_id,
            reason=denied.reason,
            reject_reason=int(denied.code),
            **({} if denied.presolve_ms is None else {"presolve_ms": round(denied.presolve_ms, 3)}),
        )

    def _repeat(self, repeat: Repeat) -> None:
        """A resend of a decided list: the decision again, with every order as it stands
        now, flagged PossResend (97) = Y (it repeats what was sent under another
        MsgSeqNum); nothing is forwarded."""
        decision = repeat.decision
        if decision.accepted:
            reply = list_status(
                list_id=repeat.list_id,
                status_type=ListStatusType.ACK,
                order_status=ListOrderStatus.RECEIVED_FOR_EXECUTION,
                text=decision.text,
                bundle_id=decision.bundle_id,
                orders=repeat.orders,
            )
        else:
            code = DenyCode(decision.reject_reason or DenyCode.OTHER)
            reply = _reject_status(repeat.list_id, decision.cl_ord_ids, decision.text, code)
        reply.getHeader().setField(Tag.POSS_RESEND, "Y")
        self._send(reply, repeat.session)
        log.info("bundle.possdup_answered", list_id=repeat.list_id, accepted=decision.accepted)

    def _accept(self, accept: Accept, stages: dict[str, float]) -> None:
        """Journal the bundle, forward it, then acknowledge it (crash-safe order)."""
        record = accept.record
        clock = time.perf_counter
        started = clock()
        try:
            venue_message = encode_bundle(accept.bundle, record.bundle_id, record.venue_ids)
            encoded = clock()
            self._journal_accept(accept, venue_message.toString())
        except Exception as exc:  # nothing left the gateway: undo, and say so
            log.error("bundle.accept_failed", error=f"{type(exc).__name__}: {exc}", exc_info=True)
            reason = f"internal error, the bundle was not forwarded: {type(exc).__name__}"
            self._deny(
                self.decider.forward_failed(record, reason, DenyCode.OTHER, DenyKind.INTERNAL)
            )
            return
        journaled = clock()
        if not self._send(venue_message, self.venue_session):
            if self.journal is not None:
                self.journal.mark(record.bundle_id, "done")
            self._deny(self.decider.forward_failed(record))
            return
        forwarded = clock()
        if self.journal is not None:
            self.journal.mark(record.bundle_id, "forwarded")
        marked = clock()
        self._send_ack(record, accept.text, stages)
        legs = self._bundle_legs[record.bundle_id] = _leg_info(accept.bundle)
        strategy = legs[0]
        self.metrics.bundles_accepted.labels(record.client[2], strategy).inc()
        if accept.bidder_data is not None and strategy in self.registry.names:
            self._measures[record.bundle_id] = _measure(
                self.registry.get(strategy), accept.bidder_data, accept.bundle
            )
        self.decisions.add(
            DecisionView(
                time.time(),
                record.client[2],
                record.list_id,
                True,
                accept.text,
                record.bundle_id,
                None,
                accept.presolve_ms,
            )
        )
        stages["encode_bundle_us"] = (encoded - started) * 1e6
        stages["journal_us"] = ((journaled - encoded) + (marked - forwarded)) * 1e6 + stages.pop(
            "ack_journal_us", 0.0
        )
        stages["send_venue_us"] = (forwarded - journaled) * 1e6
        log.info(
            "bundle.accepted",
            client=record.client[2],
            list_id=record.list_id,
            bundle_id=record.bundle_id,
            strategy=accept.bundle.metadata.get("strategy"),
            legs=len(accept.bundle.legs),
            max_fill=list(accept.max_fill),
            presolve_ms=None if accept.presolve_ms is None else round(accept.presolve_ms, 3),
            stages_us={name: round(value) for name, value in stages.items()},
        )

    def _journal_accept(self, accept: Accept, venue_raw: str) -> None:
        """Durable before anything leaves: a crash from here on re-forwards and re-acks."""
        record = accept.record
        if self.journal is not None:
            self.journal.accept(
                JournalBundle(
                    record.bundle_id,
                    record.client,
                    record.list_id,
                    record.cl_ord_ids,
                    record.venue_ids,
                    record.legs_qty,
                    venue_raw,
                    accept.text,
                    False,
                    False,
                ),
                JournalDecision(
                    record.client,
                    record.list_id,
                    True,
                    accept.text,
                    record.all_ids,
                    record.bundle_id,
                    None,
                ),
            )

    def _send_ack(
        self, record: BundleRecord, text: str, stages: dict[str, float] | None = None
    ) -> None:
        """The acceptance (ListStatus ACK) for a forwarded bundle; journaled as sent."""
        started = time.perf_counter()
        ack = list_status(
            list_id=record.list_id,
            status_type=ListStatusType.ACK,
            order_status=ListOrderStatus.RECEIVED_FOR_EXECUTION,
            text=text,
            bundle_id=record.bundle_id,
            orders=[
                *(
                    OrderReport(c, leaves_qty=q)
                    for c, q in zip(record.cl_ord_ids, record.legs_qty, strict=True)
                ),
                # Orders the strategy left out of the bundle (e.g. no hedge trade needed).
                *(
                    OrderReport(c, ord_status="4", text=NOT_IN_BUNDLE)
                    for c in record.all_ids
                    if c not in record.cl_ord_ids
                ),
            ],
        )
        encoded = time.perf_counter()
        self._send(ack, record.client)
        sent = time.perf_counter()
        if self.journal is not None:
            self.journal.mark(record.bundle_id, "acked")
        if stages is not None:
            stages["encode_ack_us"] = (encoded - started) * 1e6
            stages["send_ack_us"] = (sent - encoded) * 1e6
            stages["ack_journal_us"] = (time.perf_counter() - sent) * 1e6

    def _relay_status(self, action: RelayStatus, *, replay: bool) -> None:
        status = action.status
        reply = list_status(
            list_id=action.list_id,
            status_type=status.status_type,
            order_status=status.order_status,
            text=status.text,
            bundle_id=action.bundle_id,
            orders=status.orders,
            rpt_seq=status.rpt_seq,
            reject_reason=status.reject_reason,
        )
        self._relay(reply, action.session, replay)
        self._note_relayed(action.bundle_id)
        log.info(
            "venue.list_status",
            list_id=action.list_id,
            bundle_id=action.bundle_id,
            list_order_status=status.order_status,
            terminal=status.order_status in TERMINAL_LIST_STATUS,
            text=status.text,
        )

    def _relay_execution(self, action: RelayExecution, *, replay: bool) -> None:
        """The counterparty's ExecutionReport as it came, under the client's ids."""
        report = action.execution.message
        header = report.getHeader()
        for tag in (
            Tag.POSS_DUP_FLAG,
            Tag.POSS_RESEND,
            Tag.ORIG_SENDING_TIME,
            Tag.ON_BEHALF_OF_COMP_ID,
            Tag.DELIVER_TO_COMP_ID,
            Tag.SENDER_SUB_ID,
            Tag.TARGET_SUB_ID,
        ):
            header.removeField(tag)  # the venue session's own header fields
        report.setField(Tag.CL_ORD_ID, action.cl_ord_id)
        report.setField(Tag.LIST_ID, action.list_id)
        report.setField(Tag.BUNDLE_ID, action.bundle_id)
        self._relay(report, action.session, replay)
        self._note_relayed(action.bundle_id)
        if get_field(report, Tag.EXEC_TYPE) == "F" and not replay:
            self.metrics.fills.labels(action.session[2]).inc()
            self.metrics.filled_quantity.labels(action.session[2]).inc(
                _quantity(get_field(report, Tag.LAST_QTY))
            )
        log.info(
            "venue.execution_report",
            list_id=action.list_id,
            bundle_id=action.bundle_id,
            cl_ord_id=action.cl_ord_id,
            exec_type=get_field(report, Tag.EXEC_TYPE),
            cum_qty=get_field(report, Tag.CUM_QTY),
        )

    def _relay(self, message: Any, session: SessionKey, replay: bool) -> None:
        """A counterparty report to its client. Replayed from the journal after a restart,
        it may already have been sent before the crash: it carries PossResend (97) = Y,
        so the client can drop a copy it has (ExecID, or a second terminal ListStatus)."""
        if replay:
            message.getHeader().setField(Tag.POSS_RESEND, "Y")
        self._send(message, session)

    def _cancel(self, action: CancelOut) -> None:
        if not self.venue_up or not self._send(
            list_cancel_request(action.bundle_id), self.venue_session
        ):
            self._notice(self.decider.cancel_failed(action))
            return
        self.relay.cancel_sent(action)
        log.info("bundle.cancel_forwarded", list_id=action.list_id, bundle_id=action.bundle_id)

    def _notice(self, notice: NoticeReject) -> None:
        self._send(
            business_reject(
                ref_msg_type=notice.ref_msg_type,
                reason=notice.reason,
                text=notice.text,
                ref_seq_num=notice.ref_seq_num,
                ref_id=notice.ref_id,
            ),
            notice.session,
        )

    def _internal_error(self, work: Work, exc: Exception) -> None:
        """A client list or cancel whose handling failed gets a BusinessMessageReject."""
        record = work.record
        text = f"internal error processing this message: {type(exc).__name__}"
        if isinstance(record, ListHeader):
            seq = seq_num(work.message) if work.message is not None else None
            notice = NoticeReject(record.session, "E", BusinessReason.OTHER, text, seq)
        elif isinstance(record, ListCancel):
            notice = NoticeReject(
                record.session, "K", BusinessReason.OTHER, text, record.ref_seq_num, record.list_id
            )
        elif isinstance(record, Solved):
            header = record.header
            notice = NoticeReject(
                header.session, "E", BusinessReason.OTHER, text, ref_id=header.list_id
            )
        else:
            return
        self._notice(notice)

    def _send(self, message: Any, session: SessionKey) -> bool:
        try:
            return bool(fix.Session.sendToTarget(message, fix.SessionID(*session)))
        except fix.SessionNotFound:
            log.error("gateway.session_not_found", session=":".join(session))
            return False

    # retention -------------------------------------------------------------------------
    def _housekeeping(self) -> None:
        try:
            self._expire_and_compact()
        except Exception as exc:  # e.g. the journal locked by a manual VACUUM: next time
            log.error("gateway.housekeeping_failed", error=f"{type(exc).__name__}: {exc}")

    def _wait_secs(self) -> float:
        """How long the state owner may wait for work: until its next housekeeping or
        the next cancel on disconnect, whichever is first."""
        due = self.controls.next_due()
        if due is None:
            return _HOUSEKEEPING_SECS
        return max(0.0, min(_HOUSEKEEPING_SECS, due - time.monotonic()))

    def _expire_and_compact(self) -> None:
        now = time.monotonic()
        for record in self.controls.due(now):
            self._cancel_for_control(record)
        if now >= self._next_expiry:
            self._next_expiry = now + _HOUSEKEEPING_SECS
            self.book.expire(now)
            if len(self._bundle_legs) > len(self.book.by_bundle):  # the page's leg names
                self._bundle_legs = {
                    key: value
                    for key, value in self._bundle_legs.items()
                    if key in self.book.by_bundle
                }
            if len(self._measures) > len(self.book.by_bundle):
                self._measures = {
                    key: value
                    for key, value in self._measures.items()
                    if key in self.book.by_bundle
                }
        if self.journal is not None and now >= self._next_compaction:
            self._next_compaction = now + float(self.config.journal_compact_every_secs)
            counts = self.journal.compact(float(self.config.journal_retention_hours) * 3600)
            log.info("journal.compacted", **counts)
        if now >= self._next_state_log:
            self._next_state_log = now + _STATE_LOG_SECS
            self._log_state()

    def _log_state(self) -> None:
        """What the gateway holds, every ``_STATE_LOG_SECS``: the book's entries, work
        waiting, and (when tracemalloc is on: ``BIDGW_TRACEMALLOC=1 bidgw run``, as
        bench/memory.py does) the Python heap, to tell it from the engine's memory."""
        heap = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else None
        log.info(
            "gateway.state",
            **self.book.size(),
            in_flight=self._in_flight,
            queued=self._queue.qsize(),
            sent_lists=len(self._sent_lists),
            python_heap_bytes=heap,
        )

    # restart ---------------------------------------------------------------------------
    def _restore(self, journal: Journal) -> None:
        """Rebuild the book from the journal; queue what a crash left unfinished."""
        now = time.monotonic()
        for saved in journal.open_bundles():
            decision = journal.past_decision(saved.session, saved.list_id)
            record = BundleRecord(
                client=saved.session,
                list_id=saved.list_id,
                cl_ord_ids=saved.leg_cl_ord_ids,
                all_ids=decision.cl_ord_ids if decision else saved.leg_cl_ord_ids,
                bundle_id=saved.bundle_id,
                venue_ids=saved.venue_ids,
                legs_qty=saved.legs_qty,
                orders=list(saved.orders),
            )
            self.book.restore(
                record,
                decision or Decision(True, saved.ack_text, record.all_ids, saved.bundle_id),
                now,
            )
            self._bundle_legs[saved.bundle_id] = self._legs_sent(saved)
            if not saved.forwarded:
                self._to_forward.append((record, saved.venue_raw, saved.ack_text))
            elif not saved.acked:
                self._to_ack.append((record, saved.ack_text))
        for message in journal.pending():
            try:
                parsed = fix.Message(message.raw, self._data_dictionary(), False)
                record_in = translate(message.source, parsed, message.session, replay=True)
            except Exception as exc:  # a row that cannot be read must not stop a restart
                log.error("gateway.replay_unreadable", inbox_id=message.id, error=repr(exc))
                journal.handled(message.id)
                continue
            owned = None
            if isinstance(record_in, ListHeader):
                owned = parsed
                if message.replays >= 1:  # this is its third try: poison stays poison
                    log.error("gateway.replay_poisoned", inbox_id=message.id, **_ids(record_in))
                    record_in = dataclasses.replace(record_in, poisoned=True)
                else:
                    journal.replaying(message.id)
            self._queue.put(Work(record_in, owned, message.id))
        log.info(
            "gateway.restored",
            bundles=len(self.book.by_bundle),
            to_forward=len(self._to_forward),
            to_ack=len(self._to_ack),
        )

    def _legs_sent(self, saved: JournalBundle) -> LegInfo:
        """A restored bundle's strategy and legs for the operator's view, read back from
        the NewOrderList it was forwarded as (its bidder data, and so the page's bound
        column, is not journaled)."""
        try:
            sent = fix.Message(saved.venue_raw, self._data_dictionary(), False)
            bundle, _ = decode_bundle(sent)
        except Exception as exc:  # the page shows "?" rather than the restart failing
            log.warning(
                "gateway.restored_legs_unreadable", bundle_id=saved.bundle_id, error=repr(exc)
            )
            return ("?", ())
        return _leg_info(bundle)

    def _data_dictionary(self) -> Any:
        if self._dictionary is None:
            self._dictionary = fix.DataDictionary(str(DICTIONARY))
        return self._dictionary

    def _reforward(self) -> None:
        """The counterparty logged on: ask for its instruments; send the cancels that are
        still wanted; forward bundles a crash interrupted (the venue dedups by id) and
        acknowledge them; then ask about every other open bundle (:meth:`_reconcile`)."""
        if self.config.instruments.request and self.venue_up:
            self._instrument_requests += 1
            request_id = f"IL{self.decider.run_id}-{self._instrument_requests}"
            if self._send(security_list_request(request_id), self.venue_session):
                log.info("instruments.requested", req_id=request_id)
        for record in self.controls.wanted():
            self._cancel_for_control(record)
        reforwarded: set[str] = set()
        for item in list(self._to_forward):
            if not self.venue_up:
                return
            record, raw, text = item
            message = fix.Message(raw, self._data_dictionary(), False)
            if self._send(message, self.venue_session):
                if self.journal is not None:
                    self.journal.mark(record.bundle_id, "forwarded")
                self._to_forward.remove(item)
                reforwarded.add(record.bundle_id)
                self._send_ack(record, text)
        for pending_ack in list(self._to_ack):
            record, text = pending_ack
            self._send_ack(record, text)
            self._to_ack.remove(pending_ack)
        if self.venue.reconcile_on_logon:
            self._reconcile(reforwarded)

    def _reconcile(self, reforwarded: set[str]) -> None:
        """Ask the counterparty about every open bundle it was sent, one
        ListStatusRequest (35=M) each, after everything else this logon sent: a
        NewOrderList the disconnect cut off is resent by QuickFIX before any of them,
        so "unknown ID" means the counterparty holds no such list (it lost its book),
        and the relay closes the bundle. Not asked: bundles not forwarded yet, and those
        forwarded again just now (the counterparty answers the repeat with its state).
        Sent at once, as re-forwards and wanted cancels are: the gateway paces no
        counterparty traffic."""
        not_forwarded = {record.bundle_id for record, _, _ in self._to_forward}
        asked: list[str] = []
        for bundle_id in self.relay.to_reconcile(reforwarded | not_forwarded):
            if not self.venue_up or not self._send(
                list_status_request(bundle_id), self.venue_session
            ):
                break  # the session dropped: the next logon asks again
            asked.append(bundle_id)
        unanswered = self.relay.reconciling(asked)
        self.metrics.reconcile.labels("asked").inc(len(asked))
        log.info(
            "venue.reconcile_asked",
            asked=len(asked),
            not_forwarded=len(not_forwarded),
            reforwarded=len(reforwarded),
            unanswered_before=unanswered,
        )

    def _reconciled(self, answer: Reconciled) -> None:
        """One answer to the logon's ListStatusRequests: counted; the logon's tally is
        logged once every answer is in."""
        self.metrics.reconcile.labels(answer.outcome.value).inc()
        if answer.complete:
            log.info(
                "venue.reconciled",
                asked=answer.asked,
                held=answer.held,
                closed=answer.closed,
                refused=answer.refused,
            )


def _reject_status(
    list_id: str,
    cl_ord_ids: tuple[str, ...] | list[str],
    reason: str,
    code: DenyCode,
    *,
    bundle_id: str | None = None,
) -> Any:
    """A list reject: the gateway's decision (ListStatusType 2, no BundleID), or, with
    ``bundle_id``, the counterparty's reject after the gateway accepted (type 5)."""
    return list_status(
        list_id=list_id,
        status_type=ListStatusType.ALL_DONE if bundle_id else ListStatusType.RESPONSE,
        order_status=ListOrderStatus.REJECT,
        text=reason,
        reject_reason=int(code),
        bundle_id=bundle_id,
        orders=[OrderReport(c, ord_status="8") for c in cl_ord_ids],
    )


def _bundle_metadata(session: SessionKey, inbound: InboundList) -> dict[str, str]:
    """Audit data for the bundle; the earliest ExpireTime of the orders travels on."""
    metadata = {"client": session[2], "client_list_id": inbound.list_id}
    expiries = [o.expire_time for o in inbound.orders if o.expire_time]
    if expiries:
        metadata["expire_time"] = min(expiries)
    return metadata


def _run_task(task: _Task) -> None:
    """A task from another thread, on the state owner: its result or error to its future."""
    if task.future.set_running_or_notify_cancel():  # False: its caller gave up waiting
        try:
            task.future.set_result(task.run())
        except Exception as exc:
            task.future.set_exception(exc)


def _decision_seconds(stages: dict[str, float]) -> float:
    """A list's time from its arrival to its verdict, from its stage durations (µs);
    the inbox journal write is part of the engine stage."""
    return sum(value for name, value in stages.items() if name != "inbox_journal_us") / 1e6


def _quantity(text: str | None) -> float:
    """LastQty (32) as a number for the filled-quantity counter; 0 when unreadable."""
    try:
        value = Decimal(text or "0")
    except InvalidOperation:
        return 0.0
    return float(value) if value.is_finite() and value > 0 else 0.0


def _ids(header: ListHeader) -> dict[str, str]:
    return {"client": header.session[2], "list_id": header.list_id}
