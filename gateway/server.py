"""The gateway: client sessions in, bundles out to the counterparty, reports back.

One process, two QuickFIX connectors:

* a ``SocketAcceptor`` for client sessions (one static session per allowed
  client CompID; any other CompID is refused by the engine at logon);
* a ``SocketInitiator`` to the counterparty.

Threads. The engine's threads only copy each message and put it on one FIFO
queue (``fromApp`` is thin); a single worker thread owns all state and does
the work: decode → strategy → pre-solve → forward or reject, and the relay of
counterparty reports back to the client. One worker means a client's
acceptance is always sent before any report about that bundle is relayed, and
no state needs locks. Client requests beyond ``queue_max`` waiting are
rejected at once ("gateway busy"), never queued forever; counterparty reports
are always queued.

Ids. The client's ListID/ClOrdIDs must be unique per client (a duplicate is
rejected, not forwarded twice). Each accepted bundle gets a gateway BundleID,
used as the ListID downstream, and ``<BundleID>-<ListSeqNo>`` ClOrdIDs; every
counterparty message is mapped back to the client's own ids.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import quickfix as fix
import structlog

from fixspec import DICTIONARY, Tag
from gateway.bundle import OrderBundle
from gateway.config import AppConfig, ClientsConfig, VenueConfig
from gateway.errors import GatewayError, PayloadError
from gateway.fixcore import (
    Connector,
    Dispatch,
    SafeApplication,
    copy_message,
    msg_type,
    session_settings,
)
from gateway.journal import Journal, JournalBundle, JournalDecision
from gateway.logs import bound
from gateway.plugins import StrategyRegistry, parse_envelope
from gateway.presolve import PreSolver, Verdict
from gateway.wire import (
    InboundList,
    ListOrderStatus,
    ListStatusType,
    OrderReport,
    business_reject,
    decode_new_order_list,
    encode_bundle,
    list_cancel_request,
    list_status,
)

__all__ = ["Gateway"]

log = structlog.get_logger("bidgw.gateway")

SessionKey = tuple[str, str, str]  # BeginString, SenderCompID, TargetCompID

# ListRejectReason (1386) values used here
_DUPLICATE = 6
_UNSUPPORTED = 11
_CLOSED = 2
_OTHER = 99
# BusinessRejectReason (380)
_UNKNOWN_ID = 1
_NOT_AVAILABLE = 4
_OTHER_BMR = 0

_TERMINAL_LIST = {ListOrderStatus.ALL_DONE, ListOrderStatus.REJECT}
_TERMINAL_ORD = {"2", "3", "4", "8", "C"}  # filled, done for day, cancelled, rejected, expired


def _key(session_id: Any) -> SessionKey:
    return (
        session_id.getBeginString().getValue(),
        session_id.getSenderCompID().getValue(),
        session_id.getTargetCompID().getValue(),
    )


def _session(key: SessionKey) -> Any:
    return fix.SessionID(*key)


@dataclass(slots=True)
class _Record:
    """One accepted bundle and how its ids map between client and counterparty."""

    client: SessionKey
    list_id: str
    cl_ord_ids: tuple[str, ...]
    bundle_id: str
    venue_cl_ord_ids: tuple[str, ...]
    legs_qty: tuple[int, ...]
    cum_qty: list[int]
    done: bool = False


@dataclass(slots=True)
class _Decision:
    """What a client was told about a ListID (to answer a PossDup resend)."""

    accepted: bool
    text: str
    cl_ord_ids: tuple[str, ...]
    bundle_id: str | None = None
    reject_reason: int | None = None


@dataclass(frozen=True, slots=True)
class _Solving:
    """A bundle handed to the solver pool, and what to do with its verdict."""

    session: SessionKey
    inbound: InboundList
    bundle: OrderBundle
    cl_ord_ids: tuple[str, ...]
    started: float
    future: Future[Verdict]
    journal_id: int | None = None


@dataclass(frozen=True, slots=True)
class _Work:
    source: str  # "client" | "venue" | "solved" | "reforward" | "stop"
    message: Any = None
    session: SessionKey | None = None
    solved: _Solving | None = None
    journal_id: int | None = None  # inbox row, marked handled once the work is done
    replay: bool = False  # re-read from the journal after a restart


@dataclass(slots=True)
class _ClientState:
    list_ids: dict[str, _Decision] = field(default_factory=dict)
    cl_ord_ids: set[str] = field(default_factory=set)
    open_bundles: set[str] = field(default_factory=set)  # BundleIDs not yet done


class _TokenBucket:
    """``rate`` messages per second with one second of burst (engine thread only)."""

    def __init__(self, rate: int) -> None:
        self.rate = float(rate)
        self.tokens = float(rate)
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Gateway:
    """The running gateway. ``start()``, then ``stop()``; thread-safe to stop."""

    def __init__(self, config: AppConfig, *, registry: StrategyRegistry | None = None) -> None:
        if config.clients is None or config.venue is None:
            raise GatewayError("the gateway config needs both 'clients' and 'venue' sections")
        self.config = config
        self.clients: ClientsConfig = config.clients
        self.venue: VenueConfig = config.venue
        self.registry = registry or config.registry()
        self.presolver = PreSolver(config.presolve)
        # highspy releases the GIL while solving: solves run beside the worker's Python.
        self._solvers = ThreadPoolExecutor(
            max_workers=config.presolve_workers, thread_name_prefix="bidgw-presolve"
        )
        self._in_flight = 0  # client requests being pre-solved (worker-owned count)
        self.venue_session = fix.SessionID(
            "FIX.4.4", self.venue.sender_comp_id, self.venue.target_comp_id
        )
        self.venue_logged_on = threading.Event()
        self.client_logons: dict[str, threading.Event] = {
            comp_id: threading.Event() for comp_id in self.clients.allowed_comp_ids
        }
        self._queue: queue.Queue[_Work] = queue.Queue()
        self._stopping = threading.Event()
        self._run_id = _base36(time.time_ns() // 1_000_000)
        self._sequence = itertools.count(1)
        self._records: dict[tuple[SessionKey, str], _Record] = {}
        self._by_bundle: dict[str, _Record] = {}
        self._by_venue_order: dict[str, tuple[_Record, int]] = {}
        self._sent_lists: dict[int, str] = {}  # venue MsgSeqNum -> BundleID
        self._clients: dict[SessionKey, _ClientState] = {}
        self._to_forward: list[tuple[_Record, Any, str]] = []
        self._to_ack: list[tuple[_Record, str]] = []
        self._current = _Work("none")
        self._deferred = False
        self.journal = (
            Journal(config.journal, full_sync=config.journal_full_sync)
            if config.journal is not None
            else None
        )
        self._worker = threading.Thread(target=self._work_loop, name="bidgw-worker", daemon=True)
        self._buckets = {
            comp_id: _TokenBucket(self.clients.limits_for(comp_id).max_messages_per_second)
            for comp_id in self.clients.allowed_comp_ids
        }
        self._client_dispatch = Dispatch()
        self._client_dispatch.register("E", self._on_new_order_list)
        self._client_dispatch.register("K", self._on_list_cancel)
        self._venue_dispatch = Dispatch()
        self._venue_dispatch.register("N", self._on_venue_list_status)
        self._venue_dispatch.register("8", self._on_venue_execution_report)
        self._venue_dispatch.register("j", self._on_venue_business_reject)
        stores = config.store_dir
        acceptor: dict[str, Any] = {
            "ConnectionType": "acceptor",
            "SocketAcceptPort": self.clients.port,
            "FileStorePath": stores / "clients",
            "FileLogPath": config.fix_log_dir / "clients",
        }
        if self.clients.allowed_remote_addresses:
            acceptor["AllowedRemoteAddresses"] = ",".join(self.clients.allowed_remote_addresses)
        client_settings = session_settings(
            acceptor,
            [(self.clients.sender_comp_id, comp_id) for comp_id in self.clients.allowed_comp_ids],
        )
        venue_settings = session_settings(
            {
                "ConnectionType": "initiator",
                "SocketConnectHost": self.venue.host,
                "SocketConnectPort": self.venue.port,
                "HeartBtInt": self.venue.heartbeat_secs,
                "ReconnectInterval": self.venue.reconnect_secs,
                "FileStorePath": stores / "venue",
                "FileLogPath": config.fix_log_dir / "venue",
            },
            [(self.venue.sender_comp_id, self.venue.target_comp_id)],
        )
        self._client_side = Connector(
            "acceptor",
            _ClientSide(self),
            client_settings,
            store=config.store,
            log_dir=config.fix_log_dir,
        )
        self._venue_side = Connector(
            "initiator",
            _VenueSide(self),
            venue_settings,
            store=config.store,
            log_dir=config.fix_log_dir,
        )

    # lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        if self.journal is not None:
            self._restore()
        self._worker.start()
        self._client_side.start()
        self._venue_side.start()
        log.info(
            "gateway.started",
            client_port=self.clients.port,
            clients=list(self.clients.allowed_comp_ids),
            venue=f"{self.venue.host}:{self.venue.port}",
            strategies=list(self.registry.names),
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Finish queued work, log out every session, stop both connectors."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._solvers.shutdown(wait=True)  # in-flight solves post their verdicts first
        self._queue.put(_Work("stop"))
        self._worker.join(timeout)
        self._client_side.stop()
        self._venue_side.stop()
        log.info("gateway.stopped")

    # engine threads: thin ----------------------------------------------------------
    def _check_logon(self, message: Any, session_id: Any) -> None:
        """Username (553) / Password (554) against the configured SHA-256, if any."""
        if not self.clients.credentials:
            return
        comp_id = session_id.getTargetCompID().getValue()
        expected = self.clients.credentials.get(comp_id)
        username = message.getField(Tag.USERNAME) if message.isSetField(Tag.USERNAME) else ""
        password = message.getField(Tag.PASSWORD) if message.isSetField(Tag.PASSWORD) else ""
        digest = hashlib.sha256(password.encode()).hexdigest()
        if (
            expected is None
            or not hmac.compare_digest(username, expected.username)
            or not hmac.compare_digest(digest, expected.password_sha256)
        ):
            log.warning("client.logon_refused", client=comp_id, username=username)
            raise fix.RejectLogon("logon refused: unknown Username or wrong Password")

    def _client_message(self, message: Any, session_id: Any) -> None:
        kind = msg_type(message)
        self._client_dispatch.handler(kind)  # unknown type: the engine sends a BMR
        comp_id = session_id.getTargetCompID().getValue()
        bucket = self._buckets.get(comp_id)
        if bucket is not None and not bucket.take():
            limit = self.clients.limits_for(comp_id).max_messages_per_second
            self._refuse(message, session_id, f"rate limit: at most {limit} messages per second")
            return
        if (
            self._stopping.is_set()
            or self._queue.qsize() + self._in_flight >= self.config.queue_max
        ):
            reason = (
                "gateway is shutting down"
                if self._stopping.is_set()
                else f"gateway busy: {self.config.queue_max} requests waiting"
            )
            self._refuse(message, session_id, reason)
            return
        self._queue.put(
            _Work(
                "client",
                copy_message(message),
                _key(session_id),
                journal_id=self._journal_in("client", message, session_id),
            )
        )

    def _venue_message(self, message: Any, session_id: Any) -> None:
        self._venue_dispatch.handler(msg_type(message))
        self._queue.put(
            _Work(
                "venue",
                copy_message(message),
                _key(session_id),
                journal_id=self._journal_in("venue", message, session_id),
            )
        )

    def _journal_in(self, source: str, message: Any, session_id: Any) -> int | None:
        """Journal an incoming message before the engine counts it as received."""
        if self.journal is None:
            return None
        return self.journal.receive(source, _key(session_id), message.toString())

    def _refuse(self, message: Any, session_id: Any, reason: str) -> None:
        if msg_type(message) == "E":
            orders = _cl_ord_ids(message)
            reply = _reject_status(message.getField(Tag.LIST_ID), orders, reason, _OTHER)
        else:
            reply = business_reject(
                ref_msg_type=msg_type(message),
                reason=_NOT_AVAILABLE,
                text=reason,
                ref_seq_num=_seq_num(message),
            )
        fix.Session.sendToTarget(reply, session_id)

    # worker ------------------------------------------------------------------------
    def _work_loop(self) -> None:
        while True:
            work = self._queue.get()
            if work.source == "stop":
                return
            self._current = work
            self._deferred = False
            try:
                if work.source == "reforward":
                    self._reforward()
                    continue
                if work.solved is not None:
                    self._on_solved(work.solved)
                    if work.solved.journal_id is not None and self.journal is not None:
                        self.journal.handled(work.solved.journal_id)
                    continue
                assert work.session is not None
                with bound(session_id=":".join(work.session[1:])):
                    kind = msg_type(work.message)
                    dispatch = (
                        self._client_dispatch if work.source == "client" else self._venue_dispatch
                    )
                    dispatch.handler(kind)(work.message, work.session)
                if (
                    work.journal_id is not None
                    and self.journal is not None
                    and not (self._deferred)
                ):
                    self.journal.handled(work.journal_id)
            except Exception as exc:  # one bad message must not stop the worker
                log.error(
                    "gateway.work_failed",
                    source=work.source,
                    error=f"{type(exc).__name__}: {exc}",
                    exc_info=True,
                )
                if work.source == "client" and work.session is not None:
                    self._safe_send(
                        business_reject(
                            ref_msg_type=msg_type(work.message),
                            reason=_OTHER_BMR,
                            text=f"internal error processing this message: {type(exc).__name__}",
                            ref_seq_num=_seq_num(work.message),
                        ),
                        work.session,
                    )

    def _safe_send(self, message: Any, session: SessionKey) -> bool:
        try:
            return bool(fix.Session.sendToTarget(message, _session(session)))
        except fix.SessionNotFound:
            log.error("gateway.session_not_found", session=":".join(session))
            return False

    def _relay(self, message: Any, session: SessionKey) -> None:
        """A counterparty report to its client. Replayed from the journal after a restart,
        it may already have been sent before the crash: it carries PossResend (97) = Y,
        so the client can drop a copy it has (ExecID, or a second terminal ListStatus)."""
        if self._current.replay:
            message.getHeader().setField(Tag.POSS_RESEND, "Y")
        self._safe_send(message, session)

    def _client_state(self, session: SessionKey) -> _ClientState:
        return self._clients.setdefault(session, _ClientState())

    def _on_new_order_list(self, message: Any, session: SessionKey) -> None:
        list_id = message.getField(Tag.LIST_ID)
        with bound(list_id=list_id):
            started = time.perf_counter()
            state = self._client_state(session)
            cl_ord_ids = _cl_ord_ids(message)
            limit = self.config.max_orders_per_list
            if len(cl_ord_ids) > limit:
                # Refused before anything is decoded or remembered; the reply echoes at
                # most `limit` orders.
                self._reject(
                    session,
                    list_id,
                    cl_ord_ids[:limit],
                    f"{len(cl_ord_ids)} orders in one list; this gateway accepts at most {limit}",
                    _UNSUPPORTED,
                    record=False,
                )
                return
            previous = state.list_ids.get(list_id)
            if previous is not None:
                if _is_poss_dup(message) or self._current.replay:
                    self._repeat_decision(list_id, previous, session)
                    return
                self._reject(
                    session,
                    list_id,
                    cl_ord_ids,
                    f"duplicate ListID {list_id!r}: this "
                    "list was already received; it is not forwarded again",
                    _DUPLICATE,
                    record=False,
                )
                return
            reused = [c for c in cl_ord_ids if c in state.cl_ord_ids]
            if reused:
                self._reject(
                    session,
                    list_id,
                    cl_ord_ids,
                    f"duplicate ClOrdID {reused[0]!r}: already used by this client",
                    _DUPLICATE,
                )
                return
            state.cl_ord_ids.update(cl_ord_ids)
            try:
                inbound = decode_new_order_list(message)
                envelope = parse_envelope(inbound.envelope)
                bundle_id = f"B{self._run_id}-{next(self._sequence)}"
                bundle = self.registry.build(
                    envelope,
                    bundle_id=bundle_id,
                    metadata=_bundle_metadata(session, inbound),
                )
            except GatewayError as exc:
                reason = _single_line(str(exc))
                unsupported = isinstance(exc, PayloadError) and "unknown strategy" in reason
                self._reject(
                    session, list_id, cl_ord_ids, reason, _UNSUPPORTED if unsupported else _OTHER
                )
                return
            breach = self._limit_breach(session, state, bundle)
            if breach:
                self._reject(session, list_id, cl_ord_ids, breach, _OTHER)
                return
            # The ids are taken now: a duplicate arriving during the solve is refused.
            state.list_ids[list_id] = _Decision(False, "being pre-solved", tuple(cl_ord_ids))
            self._in_flight += 1
            state.open_bundles.add(bundle.bundle_id)  # reserved while it is being solved
            future = self._solvers.submit(self.presolver.check, bundle)
            solving = _Solving(
                session,
                inbound,
                bundle,
                tuple(cl_ord_ids),
                started,
                future,
                journal_id=self._current.journal_id,
            )
            self._deferred = True  # the inbox row is handled when the verdict is
            future.add_done_callback(lambda _: self._queue.put(_Work("solved", solved=solving)))

    def _limit_breach(
        self, session: SessionKey, state: _ClientState, bundle: OrderBundle
    ) -> str | None:
        """The client limit this bundle would break, as a reason, or None."""
        limits = self.clients.limits_for(session[2])
        if len(bundle.legs) > limits.max_legs:
            return f"limit: {len(bundle.legs)} legs, at most {limits.max_legs} per bundle"
        if len(state.open_bundles) >= limits.max_open_bundles:
            return (
                f"limit: {len(state.open_bundles)} bundles already open, at most "
                f"{limits.max_open_bundles}"
            )
        notional = sum((leg.limit_price * leg.max_qty for leg in bundle.legs), Decimal(0))
        if notional > limits.max_notional:
            return f"limit: notional {notional} above {limits.max_notional}"
        return None

    def _on_solved(self, solving: _Solving) -> None:
        """A verdict is back from the solver pool: reject, or forward and accept."""
        self._in_flight -= 1
        inbound, session = solving.inbound, solving.session
        # Released now; _forward takes the slot again if the bundle is accepted.
        self._client_state(session).open_bundles.discard(solving.bundle.bundle_id)
        with bound(session_id=":".join(session[1:]), list_id=inbound.list_id):
            try:
                verdict = solving.future.result()
            except Exception as exc:  # a solver crash rejects this bundle only
                self._reject(
                    session,
                    inbound.list_id,
                    solving.cl_ord_ids,
                    f"pre-solve failed: {type(exc).__name__}: {exc}",
                    _OTHER,
                )
                return
            presolve_ms = verdict.build_ms + verdict.solve_ms
            if not verdict.feasible:
                self._reject(
                    session,
                    inbound.list_id,
                    solving.cl_ord_ids,
                    f"pre-solve {verdict.outcome.value}: {verdict.reason}",
                    _OTHER,
                    presolve_ms=presolve_ms,
                )
                return
            if not self.venue_logged_on.is_set():
                self._reject(
                    session,
                    inbound.list_id,
                    solving.cl_ord_ids,
                    "counterparty session is not logged on: the bundle was not "
                    "forwarded; send it again later",
                    _CLOSED,
                )
                return
            self._forward(
                session,
                inbound,
                solving.bundle,
                max_fill=verdict.max_fill or (),
                started=solving.started,
                presolve_ms=presolve_ms,
            )

    def _forward(
        self,
        session: SessionKey,
        inbound: InboundList,
        bundle: Any,
        *,
        max_fill: Sequence[int],
        started: float,
        presolve_ms: float,
    ) -> None:
        bundle_id = bundle.bundle_id
        venue_ids = tuple(f"{bundle_id}-{i + 1}" for i in range(len(bundle.legs)))
        all_ids = tuple(order.cl_ord_id for order in inbound.orders)
        cl_ord_ids = _leg_orders(bundle, inbound)
        if cl_ord_ids is None:
            self._reject(
                session,
                inbound.list_id,
                all_ids,
                "the strategy built a leg on an instrument this list does not contain",
                _OTHER,
            )
            return
        record = _Record(
            client=session,
            list_id=inbound.list_id,
            cl_ord_ids=cl_ord_ids,
            bundle_id=bundle_id,
            venue_cl_ord_ids=venue_ids,
            legs_qty=tuple(leg.max_qty for leg in bundle.legs),
            cum_qty=[0] * len(bundle.legs),
        )
        venue_message = encode_bundle(bundle, bundle_id, venue_ids)
        fill = ", ".join(
            f"{leg.symbol} {qty}" for leg, qty in zip(bundle.legs, max_fill, strict=True)
        )
        text = f"accepted as {bundle_id}; largest possible fill: {fill}"
        if self.journal is not None:
            # Durable before anything leaves: a crash from here on re-forwards and re-acks.
            self.journal.accept(
                JournalBundle(
                    bundle_id,
                    session,
                    inbound.list_id,
                    cl_ord_ids,
                    venue_ids,
                    record.legs_qty,
                    venue_message.toString(),
                    text,
                    False,
                    False,
                ),
                JournalDecision(session, inbound.list_id, True, text, all_ids, bundle_id, None),
            )
        # Register before sending: the counterparty may answer at once.
        self._records[(session, inbound.list_id)] = record
        self._client_state(session).open_bundles.add(bundle_id)
        self._by_bundle[bundle_id] = record
        for index, venue_id in enumerate(venue_ids):
            self._by_venue_order[venue_id] = (record, index)
        if not self._safe_send(venue_message, _key(self.venue_session)):
            self._unregister(record)
            if self.journal is not None:
                self.journal.mark(bundle_id, "done")
            self._reject(
                session,
                inbound.list_id,
                all_ids,
                "counterparty session refused the message: the bundle was not forwarded",
                _CLOSED,
            )
            return
        if self.journal is not None:
            self.journal.mark(bundle_id, "forwarded")
        self._client_state(session).list_ids[inbound.list_id] = _Decision(
            True, text, all_ids, bundle_id
        )
        self._send_ack(record, all_ids, text)
        log.info(
            "bundle.accepted",
            client=session[2],
            list_id=inbound.list_id,
            bundle_id=bundle_id,
            strategy=bundle.metadata.get("strategy"),
            legs=len(bundle.legs),
            max_fill=list(max_fill),
            presolve_ms=round(presolve_ms, 3),
            decision_ms=round((time.perf_counter() - started) * 1000, 3),
        )

    def _close(self, record: _Record) -> None:
        record.done = True
        if self.journal is not None:
            self.journal.mark(record.bundle_id, "done")
        self._client_state(record.client).open_bundles.discard(record.bundle_id)

    def _send_ack(self, record: _Record, all_ids: Sequence[str], text: str) -> None:
        """The acceptance (ListStatus ACK) for a forwarded bundle; journaled as sent."""
        self._safe_send(
            list_status(
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
                        OrderReport(c, ord_status="4", text="not part of the bundle: no trade")
                        for c in all_ids
                        if c not in record.cl_ord_ids
                    ),
                ],
            ),
            record.client,
        )
        if self.journal is not None:
            self.journal.mark(record.bundle_id, "acked")

    def _restore(self) -> None:
        """Rebuild state from the journal; queue what a crash left unfinished."""
        assert self.journal is not None
        for decision in self.journal.decisions():
            state = self._client_state(decision.session)
            state.list_ids[decision.list_id] = _Decision(
                decision.accepted,
                decision.text,
                decision.cl_ord_ids,
                decision.bundle_id,
                decision.reject_reason,
            )
            state.cl_ord_ids.update(decision.cl_ord_ids)
        dictionary = fix.DataDictionary(str(DICTIONARY))
        for saved in self.journal.open_bundles():
            record = _Record(
                client=saved.session,
                list_id=saved.list_id,
                cl_ord_ids=saved.leg_cl_ord_ids,
                bundle_id=saved.bundle_id,
                venue_cl_ord_ids=saved.venue_ids,
                legs_qty=saved.legs_qty,
                cum_qty=[0] * len(saved.legs_qty),
            )
            self._records[(saved.session, saved.list_id)] = record
            self._by_bundle[saved.bundle_id] = record
            for index, venue_id in enumerate(saved.venue_ids):
                self._by_venue_order[venue_id] = (record, index)
            self._client_state(saved.session).open_bundles.add(saved.bundle_id)
            if not saved.forwarded:
                self._to_forward.append(
                    (record, fix.Message(saved.venue_raw, dictionary, False), saved.ack_text)
                )
            elif not saved.acked:
                self._to_ack.append((record, saved.ack_text))
        for message in self.journal.pending():
            self._queue.put(
                _Work(
                    message.source,
                    fix.Message(message.raw, dictionary, False),
                    message.session,
                    journal_id=message.id,
                    replay=True,
                )
            )
        log.info(
            "gateway.restored",
            bundles=len(self._records),
            to_forward=len(self._to_forward),
            to_ack=len(self._to_ack),
        )

    def _reforward(self) -> None:
        """After a restart: forward bundles the crash interrupted (the venue dedups by id)."""
        for record, message, text in list(self._to_forward):
            if not self.venue_logged_on.is_set():
                return
            if self._safe_send(message, _key(self.venue_session)):
                assert self.journal is not None
                self.journal.mark(record.bundle_id, "forwarded")
                self._to_forward.remove((record, message, text))
                decision = self._client_state(record.client).list_ids.get(record.list_id)
                self._send_ack(record, decision.cl_ord_ids if decision else record.cl_ord_ids, text)
        for record, text in list(self._to_ack):
            decision = self._client_state(record.client).list_ids.get(record.list_id)
            self._send_ack(record, decision.cl_ord_ids if decision else record.cl_ord_ids, text)
            self._to_ack.remove((record, text))

    def _unregister(self, record: _Record) -> None:
        self._client_state(record.client).open_bundles.discard(record.bundle_id)
        self._records.pop((record.client, record.list_id), None)
        self._by_bundle.pop(record.bundle_id, None)
        for venue_id in record.venue_cl_ord_ids:
            self._by_venue_order.pop(venue_id, None)

    def _reject(
        self,
        session: SessionKey,
        list_id: str,
        cl_ord_ids: Sequence[str],
        reason: str,
        code: int,
        *,
        record: bool = True,
        presolve_ms: float | None = None,
    ) -> None:
        if record:
            self._client_state(session).list_ids[list_id] = _Decision(
                False, reason, tuple(cl_ord_ids), reject_reason=code
            )
            if self.journal is not None:
                self.journal.decide(
                    JournalDecision(session, list_id, False, reason, tuple(cl_ord_ids), None, code)
                )
        self._safe_send(_reject_status(list_id, cl_ord_ids, reason, code), session)
        log.info(
            "bundle.rejected",
            client=session[2],
            list_id=list_id,
            reason=reason,
            reject_reason=code,
            **({} if presolve_ms is None else {"presolve_ms": round(presolve_ms, 3)}),
        )

    def _repeat_decision(self, list_id: str, decision: _Decision, session: SessionKey) -> None:
        """A PossDup resend of a list we already decided on: answer again, forward nothing."""
        if decision.accepted:
            reply = list_status(
                list_id=list_id,
                status_type=ListStatusType.ACK,
                order_status=ListOrderStatus.RECEIVED_FOR_EXECUTION,
                text=decision.text,
                bundle_id=decision.bundle_id,
                orders=[OrderReport(c) for c in decision.cl_ord_ids],
            )
        else:
            reply = _reject_status(
                list_id, decision.cl_ord_ids, decision.text, decision.reject_reason or _OTHER
            )
        self._safe_send(reply, session)
        log.info("bundle.possdup_answered", list_id=list_id, accepted=decision.accepted)

    def _on_list_cancel(self, message: Any, session: SessionKey) -> None:
        list_id = message.getField(Tag.LIST_ID)
        record = self._records.get((session, list_id))
        if record is None or record.done:
            why = "unknown ListID" if record is None else "the list is already done"
            self._safe_send(
                business_reject(
                    ref_msg_type="K",
                    reason=_UNKNOWN_ID,
                    ref_id=list_id,
                    ref_seq_num=_seq_num(message),
                    text=f"cannot cancel {list_id!r}: {why}",
                ),
                session,
            )
            return
        if not self.venue_logged_on.is_set() or not self._safe_send(
            list_cancel_request(record.bundle_id), _key(self.venue_session)
        ):
            self._safe_send(
                business_reject(
                    ref_msg_type="K",
                    reason=_NOT_AVAILABLE,
                    ref_id=list_id,
                    ref_seq_num=_seq_num(message),
                    text="counterparty session is not logged on: cancel not forwarded; "
                    "send it again later",
                ),
                session,
            )
            return
        log.info("bundle.cancel_forwarded", list_id=list_id, bundle_id=record.bundle_id)

    # counterparty reports ------------------------------------------------------------
    def _on_venue_list_status(self, message: Any, _session_key: SessionKey) -> None:
        bundle_id = message.getField(Tag.LIST_ID)
        record = self._by_bundle.get(bundle_id)
        if record is None:
            log.error("venue.unknown_list", bundle_id=bundle_id)
            return
        if record.done:
            # A restarted venue may send a bundle's final state twice (its resync and
            # QuickFIX's resend of the original): the client gets one terminal status.
            log.info("venue.status_after_done", bundle_id=bundle_id, list_id=record.list_id)
            return
        status = int(message.getField(Tag.LIST_ORDER_STATUS))
        text = (
            message.getField(Tag.LIST_STATUS_TEXT)
            if message.isSetField(Tag.LIST_STATUS_TEXT)
            else None
        )
        orders = _order_reports(message, lambda venue_id: self._client_order(record, venue_id))
        reply = list_status(
            list_id=record.list_id,
            status_type=int(message.getField(Tag.LIST_STATUS_TYPE)),
            order_status=status,
            text=text,
            bundle_id=record.bundle_id,
            orders=orders,
            rpt_seq=int(message.getField(Tag.RPT_SEQ)),
            reject_reason=int(message.getField(Tag.LIST_REJECT_REASON))
            if message.isSetField(Tag.LIST_REJECT_REASON)
            else None,
        )
        # Relayed first, then marked done: a crash in between replays the report (flagged
        # PossResend) instead of losing it.
        self._relay(reply, record.client)
        if status in _TERMINAL_LIST:
            _failpoint("terminal_relayed")
            self._close(record)
            _failpoint("terminal_closed")
        log.info(
            "venue.list_status",
            list_id=record.list_id,
            bundle_id=record.bundle_id,
            list_order_status=status,
            text=text,
        )

    def _client_order(self, record: _Record, venue_id: str) -> str:
        entry = self._by_venue_order.get(venue_id)
        if entry is None or entry[0] is not record:
            raise GatewayError(
                f"counterparty reported unknown order {venue_id!r} for {record.bundle_id}"
            )
        return record.cl_ord_ids[entry[1]]

    def _on_venue_execution_report(self, message: Any, _session_key: SessionKey) -> None:
        venue_id = message.getField(Tag.CL_ORD_ID)
        entry = self._by_venue_order.get(venue_id)
        if entry is None:
            log.error("venue.unknown_order", cl_ord_id=venue_id)
            return
        record, index = entry
        report = fix.Message(message)
        header = report.getHeader()
        for tag in (Tag.POSS_DUP_FLAG, Tag.POSS_RESEND, 122, 115, 128, 50, 57):
            header.removeField(tag)
        report.setField(Tag.CL_ORD_ID, record.cl_ord_ids[index])
        report.setField(Tag.LIST_ID, record.list_id)
        report.setField(Tag.BUNDLE_ID, record.bundle_id)
        cum_qty = int(Decimal(message.getField(Tag.CUM_QTY)))
        record.cum_qty[index] = cum_qty
        self._relay(report, record.client)
        log.info(
            "venue.execution_report",
            list_id=record.list_id,
            bundle_id=record.bundle_id,
            cl_ord_id=record.cl_ord_ids[index],
            exec_type=message.getField(Tag.EXEC_TYPE),
            cum_qty=cum_qty,
        )

    def _on_venue_business_reject(self, message: Any, _session_key: SessionKey) -> None:
        ref = message.getField(Tag.REF_SEQ_NUM) if message.isSetField(Tag.REF_SEQ_NUM) else None
        text = message.getField(Tag.TEXT) if message.isSetField(Tag.TEXT) else "no reason given"
        self._venue_rejected(int(ref) if ref else None, f"counterparty rejected: {text}")

    def _venue_rejected(self, ref_seq_num: int | None, reason: str) -> None:
        bundle_id = self._sent_lists.pop(ref_seq_num, None) if ref_seq_num else None
        record = self._by_bundle.get(bundle_id) if bundle_id else None
        if record is None:
            log.error("venue.reject_unmatched", ref_seq_num=ref_seq_num, reason=reason)
            return
        self._close(record)
        self._safe_send(
            _reject_status(
                record.list_id, record.cl_ord_ids, reason, _OTHER, bundle_id=record.bundle_id
            ),
            record.client,
        )
        log.info(
            "bundle.rejected_by_venue", list_id=record.list_id, bundle_id=bundle_id, reason=reason
        )

    # callbacks from the venue side, on its engine thread
    def _venue_sent(self, message: Any) -> None:
        if msg_type(message) == "E":
            seq = int(message.getHeader().getField(Tag.MSG_SEQ_NUM))
            self._sent_lists[seq] = message.getField(Tag.LIST_ID)

    def _venue_admin(self, message: Any) -> None:
        if msg_type(message) == "3":  # session-level Reject of one of our messages
            ref = message.getField(Tag.REF_SEQ_NUM)
            text = message.getField(Tag.TEXT) if message.isSetField(Tag.TEXT) else "rejected"
            self._queue.put(
                _Work("venue", _venue_reject_marker(int(ref), text), _key(self.venue_session))
            )


def _venue_reject_marker(ref_seq_num: int, text: str) -> Any:
    """Carry a venue session Reject to the worker as a BusinessMessageReject-shaped item."""
    return business_reject(
        ref_msg_type="E", reason=_OTHER_BMR, text=f"session reject: {text}", ref_seq_num=ref_seq_num
    )


class _ClientSide(SafeApplication):
    name = "clients"

    def __init__(self, gateway: Gateway) -> None:
        super().__init__()
        self.gateway = gateway

    def on_logon(self, session_id: Any) -> None:
        comp_id = session_id.getTargetCompID().getValue()
        event = self.gateway.client_logons.get(comp_id)
        if event is not None:
            event.set()
        log.info("client.logon", client=comp_id)

    def on_logout(self, session_id: Any) -> None:
        comp_id = session_id.getTargetCompID().getValue()
        event = self.gateway.client_logons.get(comp_id)
        if event is not None:
            event.clear()
        log.info("client.logout", client=comp_id)

    def from_admin(self, message: Any, session_id: Any) -> None:
        if msg_type(message) == "A":
            self.gateway._check_logon(message, session_id)

    def from_app(self, message: Any, session_id: Any) -> None:
        self.gateway._client_message(message, session_id)


class _VenueSide(SafeApplication):
    name = "venue"

    def __init__(self, gateway: Gateway) -> None:
        super().__init__()
        self.gateway = gateway

    def on_logon(self, session_id: Any) -> None:
        self.gateway.venue_logged_on.set()
        self.gateway._queue.put(_Work("reforward"))
        log.info("venue.logon", session=session_id.toString())

    def on_logout(self, session_id: Any) -> None:
        self.gateway.venue_logged_on.clear()
        log.warning("venue.logout", session=session_id.toString())

    def to_app(self, message: Any, session_id: Any) -> None:
        self.gateway._venue_sent(message)

    def from_admin(self, message: Any, session_id: Any) -> None:
        self.gateway._venue_admin(message)

    def from_app(self, message: Any, session_id: Any) -> None:
        self.gateway._venue_message(message, session_id)


# helpers -------------------------------------------------------------------------


def _cl_ord_ids(message: Any) -> list[str]:
    ids: list[str] = []
    group = fix.Group(Tag.NO_ORDERS, Tag.CL_ORD_ID)
    count = message.groupCount(Tag.NO_ORDERS) if message.isSetField(Tag.NO_ORDERS) else 0
    for index in range(1, count + 1):
        message.getGroup(index, group)
        if group.isSetField(Tag.CL_ORD_ID):
            ids.append(group.getField(Tag.CL_ORD_ID))
    return ids


def _order_reports(message: Any, client_id: Callable[[str], str]) -> list[OrderReport]:
    reports: list[OrderReport] = []
    group = fix.Group(Tag.NO_ORDERS, Tag.CL_ORD_ID)
    for index in range(1, message.groupCount(Tag.NO_ORDERS) + 1):
        message.getGroup(index, group)
        reports.append(
            OrderReport(
                cl_ord_id=client_id(group.getField(Tag.CL_ORD_ID)),
                cum_qty=int(Decimal(group.getField(Tag.CUM_QTY))),
                leaves_qty=int(Decimal(group.getField(Tag.LEAVES_QTY))),
                cxl_qty=int(Decimal(group.getField(Tag.CXL_QTY))),
                avg_px=Decimal(group.getField(Tag.AVG_PX)),
                ord_status=group.getField(Tag.ORD_STATUS),
                text=group.getField(Tag.TEXT) if group.isSetField(Tag.TEXT) else None,
            )
        )
    return reports


def _reject_status(
    list_id: str, cl_ord_ids: Sequence[str], reason: str, code: int, *, bundle_id: str | None = None
) -> Any:
    return list_status(
        list_id=list_id,
        status_type=ListStatusType.RESPONSE,
        order_status=ListOrderStatus.REJECT,
        text=reason,
        reject_reason=code,
        bundle_id=bundle_id,
        orders=[OrderReport(c, ord_status="8") for c in cl_ord_ids],
    )


def _leg_orders(bundle: OrderBundle, inbound: InboundList) -> tuple[str, ...] | None:
    """The client's ClOrdID for each bundle leg, matched by symbol in list order.

    Built-in strategies make one leg per order; a strategy may also leave orders
    out (no trade needed). None when a leg's instrument is not among the orders.
    """
    positions = inbound.envelope["bidder_data"]["positions"]
    free = [
        (str(p["symbol"]), order.cl_ord_id)
        for p, order in zip(positions, inbound.orders, strict=True)
    ]
    ids: list[str] = []
    for leg in bundle.legs:
        match = next((i for i, (symbol, _) in enumerate(free) if symbol == leg.symbol), None)
        if match is None:
            return None
        ids.append(free.pop(match)[1])
    return tuple(ids)


def _bundle_metadata(session: SessionKey, inbound: InboundList) -> dict[str, str]:
    """Audit data for the bundle; the earliest ExpireTime of the orders travels on."""
    metadata = {"client": session[2], "client_list_id": inbound.list_id}
    expiries = [o.expire_time for o in inbound.orders if o.expire_time]
    if expiries:
        metadata["expire_time"] = min(expiries)
    return metadata


def _seq_num(message: Any) -> int | None:
    header = message.getHeader()
    return int(header.getField(Tag.MSG_SEQ_NUM)) if header.isSetField(Tag.MSG_SEQ_NUM) else None


def _is_poss_dup(message: Any) -> bool:
    header = message.getHeader()
    return bool(header.isSetField(Tag.POSS_DUP_FLAG) and header.getField(Tag.POSS_DUP_FLAG) == "Y")


def _single_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rem = divmod(number, 36)
        out = digits[rem] + out
    return out or "0"


_FAILPOINT = os.environ.get("BIDGW_FAILPOINT", "")


def _failpoint(name: str) -> None:
    """Fault injection for the crash tests: with ``BIDGW_FAILPOINT=<name>`` in the
    environment the process dies here as if killed (no cleanup, no logout)."""
    if name == _FAILPOINT:
        os._exit(137)
