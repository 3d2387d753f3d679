"""``bidgw venue``: the simulated counterparty, a thin FIX acceptor over the auction.

Like QuickFIX's ordermatch example, the FIX application here only decodes,
encodes and sends; :mod:`gateway.venue.auction` clears and knows nothing of FIX.

One thread (``_run``) owns all state: it handles each incoming bundle or cancel
as soon as it arrives and runs an auction every ``auction_interval_ms`` over
every resting bundle plus synthetic contra liquidity (seeded: a resting book at
the reference bid/offer and random orders inside the spread). The auction's
solve runs on a second thread, on a snapshot of the book: meanwhile the state
thread acknowledges new bundles (they join the next auction) and answers
SecurityListRequests, and holds back, until the auction's reports are sent, what
could change a bundle in it (a cancel, a reload). Fills go back as
ExecutionReports per leg and ListStatus per bundle. After a fill, the
pre-solver checks whether the remaining quantities can still fill within the
bundle's constraints; when not (or when all is filled) the bundle is done.

A bundle the auction cannot model exactly and safely is refused when it
arrives (:func:`gateway.venue.screen.refusal`: limit prices on the symbol's
tick, coefficient digits, lots, the auction model's bounds), with a reject text
naming the field, and never enters the book. As a second line, the auction
itself leaves out a bundle it cannot build a model for (the venue then cancels
it, "cancelled by the venue: ...") or whose fill fails exact verification (it
stays resting; after :data:`EXCLUSIONS_BEFORE_CANCEL` such auctions it is
cancelled), and the others clear. Bundles restored from a journal are screened
again after a restart and cancelled the same way. Auctions that end without a
solution while bundles rest are logged with their number and how many failed
in a row (a warning each; an error from :data:`READY_FAILURES` in a row, when
``/readyz`` fails, and at every power of ten after it).

Memory is bounded: a finished bundle, with its ListID and ClOrdIDs, leaves
memory ``retain_done_secs`` after it is done. A repeated ListID (the gateway
forwards a bundle again after a crash) is answered with the bundle's current
state and never booked twice: from memory, or later from the journal, which
keeps finished bundles for ``journal_retention_hours`` and is compacted every
``journal_compact_every_secs`` by the same thread. Without a journal the venue
has forgotten a bundle once it left memory: a repeat of it is booked as new.

A ListStatusRequest (35=M: the gateway asks about each of its open bundles at
every logon) is answered with the list's ListStatus as it stands, each leg's
CumQty, LeavesQty and OrdStatus (the same report as the answer to a repeat);
for a list the venue does not hold for that session (lost with its journal, or
never received) with a BusinessMessageReject, BusinessRejectReason (380) 1
(unknown ID), BusinessRejectRefID (379) the ListID. Like a cancel, it waits for
an auction being solved to be reported, so the answer includes its fills.

After a restart, every leg of a bundle whose last reports the crash may have cut
off (its journal row not marked reported) is restated: an ExecutionReport with
ExecType (150) D, ExecRestatementReason (378) 99 and the leg's CumQty, LeavesQty
and AvgPx, sent before anything else the restarted venue says about it. A fill
journaled just before the crash thus reaches the gateway as quantities on each
leg, even though its own ExecutionReport was never sent.

With ``ops.enabled`` in its config the venue serves its own ``/metrics`` and
``/healthz`` (:mod:`gateway.ops.venue`) on a thread of its own: the state thread
only bumps in-memory counters (:class:`~gateway.ops.metrics.VenueMetrics`). A port
it cannot take fails the venue's start, naming the port.

Callers watch the auctions through an observer (``on_auction``) called on that
thread after each auction with an :class:`AuctionSummary`. The fault tests kill
the process at a named point through ``failpoint`` (``fill_journaled``: a fill
is in the journal, its reports are not sent).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import queue
import random
import sqlite3
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import quickfix as fix
import structlog

from fixspec import DICTIONARY, Tag
from gateway.core.bundle import Constraint, OrderBundle, Sense, Side
from gateway.core.errors import GatewayError
from gateway.core.instruments import Instrument
from gateway.core.reports import ExecutionReport
from gateway.core.store import OwnerLock
from gateway.fix.engine import (
    Connector,
    Dispatch,
    SafeApplication,
    copy_message,
    msg_type,
    restarted_numbers,
    session_settings,
)
from gateway.fix.filelog import FixLogRotation
from gateway.fix.messages import (
    ListOrderStatus,
    ListStatusType,
    OrderReport,
    business_reject,
    encode_execution_report,
    get_field,
    group_ids,
    list_status,
    seq_num,
)
from gateway.fix.venue_codec import decode_bundle, encode_security_list
from gateway.ops.metrics import VenueMetrics
from gateway.ops.venue import VenueOpsServer
from gateway.solver.presolve import PresolveConfig, PreSolver
from gateway.venue.auction import (
    AuctionConfig,
    AuctionResult,
    ContraOrder,
    Participant,
    SymbolRef,
    clear,
)
from gateway.venue.batching import BatchSize, ran_out_of_time
from gateway.venue.book import (
    Resting,
    expiry,
    leg_report,
    list_report,
    list_state,
    ord_status,
    owner,
)
from gateway.venue.config import VenueAppConfig
from gateway.venue.journal import VenueJournal, VenueRow
from gateway.venue.screen import refusal

__all__ = ["EXCLUSIONS_BEFORE_CANCEL", "AuctionSummary", "Venue", "VenueSize", "VenueStats"]

#: ExecRestatementReason (378) of a restatement after a restart: 99 (other).
RESTATED_AFTER_RESTART = "99"

#: Auctions in a row without a solution (while bundles rest) after which /readyz fails.
READY_FAILURES = 10

#: A bundle left out of this many auctions because the solver's fill for it failed
#: exact verification is cancelled: the auction cannot clear it reliably.
EXCLUSIONS_BEFORE_CANCEL = 3

log = structlog.get_logger("bidgw.venue")


_SOLVE_TIMES_KEPT = 1000

#: An inbox item: kind (a MsgType, or the state thread's own step), the message, the
#: session, and the journal's id for it (0: not journaled).
_InboxItem = tuple[str, Any, tuple[str, str, str], int]

#: The inbox item the solver thread puts when an auction's solve has ended.
_SOLVED = "solved"

#: What the state thread handles while an auction is being solved: it changes no
#: bundle in the auction (a new bundle joins the next one). The rest waits.
_DURING_AUCTION = frozenset({"E", "x"})


@dataclass(slots=True)
class _Auction:
    """One auction's snapshot, taken by the state thread, cleared on the solver thread;
    ``result`` or ``error`` is set before ``solved``."""

    number: int
    participants: list[Participant]
    contra: list[ContraOrder]
    refs: dict[str, SymbolRef]
    config: AuctionConfig
    seed: int
    result: AuctionResult | None = None
    error: Exception | None = None
    #: Per filled bundle, what it has left after its fill and whether that can still
    #: fill within its constraints (the pre-solver's answer, on the solver thread).
    outlook: dict[str, tuple[tuple[int, ...], bool]] = field(default_factory=dict)
    solved: threading.Event = field(default_factory=threading.Event)


@dataclass
class VenueStats:
    """Counters a caller (the demo, tests) can read; ``solve_ms`` holds the last
    1,000 auctions' solve times, ``failing_in_a_row`` how many auctions in a row
    ended without a solution (or raised) while bundles rested."""

    auctions: int = 0
    bundles_received: int = 0
    bundles_rejected: int = 0
    fills: int = 0
    failing_in_a_row: int = 0
    last_auction_at: float = 0.0  # time.monotonic() when the last auction ended
    solve_ms: deque[float] = field(default_factory=lambda: deque(maxlen=_SOLVE_TIMES_KEPT))


@dataclass(frozen=True, slots=True)
class VenueSize:
    """What the venue holds in memory.

    Attributes:
        resting: bundles in the book.
        finished: finished bundles not yet ``retain_done_secs`` old.
        seen_ids: ListIDs and ClOrdIDs remembered for duplicate checks.
    """

    resting: int
    finished: int
    seen_ids: int


@dataclass(frozen=True, slots=True)
class AuctionSummary:
    """One auction, as the ``on_auction`` observer sees it.

    Attributes:
        number: auctions run so far, this one included.
        status: the clearing status (optimal, feasible, no_trade, no_solution,
            unverified), or ``failed`` when the auction raised.
        bundles: bundles that took part.
        bundles_filled: bundles that got a fill.
        solve_ms: the solver's time.
        size: what the venue holds once the auction's reports are sent.
        rejected: bundles the auction could not model, cancelled by the venue.
        excluded: bundles left out of this auction (their fill failed verification).
    """

    number: int
    status: str
    bundles: int
    bundles_filled: int
    solve_ms: float
    size: VenueSize
    rejected: int = 0
    excluded: int = 0


class Venue(SafeApplication):
    """The simulated counterparty. ``start()``, then ``stop()``.

    ``on_auction`` is called on the venue's state thread after every auction
    with its summary; it must return quickly, and what it raises is logged.
    """

    name = "venue"

    def __init__(
        self,
        config: VenueAppConfig,
        *,
        on_auction: Callable[[AuctionSummary], None] | None = None,
        failpoint: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self._on_auction = on_auction
        self._failpoint = failpoint or _no_failpoint
        # The config guarantees bid < offer, both on the symbol's tick.
        self.refs = {
            s: SymbolRef(c.bid, c.offer, c.self_trade_prevention) for s, c in config.symbols.items()
        }
        self._price_scale = config.price_scale()
        self.stats = VenueStats()
        self._batch = BatchSize(config.auction.batch_bundles)
        self.metrics = VenueMetrics()
        self.ops: VenueOpsServer | None = (
            VenueOpsServer(self, config.ops) if config.ops.enabled else None
        )
        self.logged_on = threading.Event()
        self._inbox: queue.Queue[_InboxItem | None] = queue.Queue()
        self._solver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="venue-solver")
        # The state thread's schedule: the auction being solved, the items held back
        # until it is reported, when the next one starts (time.monotonic()).
        self._interval = config.auction_interval_ms / 1000
        self._running: _Auction | None = None
        self._waiting: deque[_InboxItem] = deque()
        self._next_auction = 0.0
        self._journal = VenueJournal(config.journal) if config.journal else None
        self._owner = OwnerLock(config.journal) if config.journal else None
        self._resync: dict[tuple[str, str, str], list[str]] = {}
        self._restate: list[str] = []  # ListIDs whose legs a restart restates
        self._book: dict[str, Resting] = {}
        # Finished bundles in the order they finished, each with when (monotonic).
        self._finished: OrderedDict[str, tuple[Resting, float]] = OrderedDict()
        self._seen_ids: set[tuple[str, str]] = set()  # (client CompID, ListID or ClOrdID)
        self._retain_done_secs = float(config.retain_done_secs)
        self._compact_every_secs = float(config.journal_compact_every_secs)
        self._next_compaction = time.monotonic() + self._compact_every_secs
        self._dictionary: Any = None  # loaded when a journal row is first decoded
        self._exec_ids = itertools.count(1)
        # ExecIDs stay unique across restarts of a journaled venue.
        self._exec_prefix = f"E{time.time_ns() // 1_000_000:x}-"
        self._presolver = PreSolver(PresolveConfig(explain=False, time_limit_ms=200))
        self._dispatch = Dispatch()
        self._dispatch.register("E", self._on_bundle)
        self._dispatch.register("K", self._on_cancel)
        self._dispatch.register("x", self._on_security_list_request)
        self._dispatch.register("M", self._on_list_status_request)
        #: Subscribed SecurityListRequests: (session, SecurityReqID) → told on a reload.
        self._subscribers: dict[tuple[str, str, str], str] = {}
        self._list_versions = itertools.count(1)
        self._stop = threading.Event()
        self._restoring = False  # a restored book's restate/reclose still to run
        self._thread = threading.Thread(target=self._run, name="venue-auctions", daemon=True)
        settings = session_settings(
            {
                "ConnectionType": "acceptor",
                "SocketAcceptPort": config.port,
                "FileStorePath": config.store_dir,
                **({"FileLogPath": config.fix_log_dir} if config.fix_log_dir else {}),
                **config.fix.schedule(),
            },
            [(config.sender_comp_id, comp_id) for comp_id in config.allowed_comp_ids],
        )
        self._connector = Connector(
            "acceptor", self, settings, store=config.store, log_dir=config.fix_log_dir
        )
        self._log_rotation = (
            FixLogRotation.for_config(config.fix_log_dir, config.fix)
            if config.fix_log_dir is not None
            else None
        )

    # lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Start, the /metrics surface first: a port it cannot take fails the start
        (naming the port) before anything else runs; before it, the journal's
        :class:`OwnerLock` (one running venue per journal). A start that fails after
        taking the lock stops what it started, the lock included, before the error
        goes on."""
        if self._owner is not None:
            self._owner.acquire()
        try:
            if self.ops is not None:
                self.ops.start()
            if self._journal is not None:
                self._restore(self._journal)
            self._thread.start()
            self._connector.start()
            if self._log_rotation is not None:
                self._log_rotation.start()
        except BaseException:
            self.stop()
            raise
        log.info(
            "venue.started",
            port=self.config.port,
            symbols=sorted(self.refs),
            auction_interval_ms=self.config.auction_interval_ms,
        )

    def stop(self) -> None:
        if self.ops is not None:
            self.ops.stop()
        self._stop.set()
        self._inbox.put(None)
        if self._thread.ident is not None:  # started (a failed start may not have)
            self._thread.join(10)
        if self._thread.is_alive():  # an auction still solved or reported: its fills are lost
            log.error("venue.stop_timed_out", auction=self.stats.auctions)
        self._solver.shutdown(wait=False)
        self._connector.stop()
        if self._log_rotation is not None:
            self._log_rotation.stop()
        if self._journal is not None:
            self._journal.close()
        if self._owner is not None:
            self._owner.release()
        log.info("venue.stopped", auctions=self.stats.auctions)

    def readiness(self) -> dict[str, str | None]:
        """Each readiness check (any thread): None when it passes, else what fails."""
        interval = self.config.auction_interval_ms / 1000
        since = time.monotonic() - self.stats.last_auction_at
        stalled = self.stats.last_auction_at == 0.0 or since > max(1.0, 10 * interval)
        failing = self.stats.failing_in_a_row
        return {
            "auctions_running": f"no auction has ended for {since:.1f} s" if stalled else None,
            "auctions_clearing": (
                f"{failing} auctions in a row ended without a solution"
                if failing >= READY_FAILURES
                else None
            ),
        }

    @property
    def batch_bundles(self) -> int:
        """The next auction's batch size (gateway/venue/batching.py); any thread reads it."""
        return self._batch.current

    @property
    def messages_waiting(self) -> int:
        """Messages held back until the auction being cleared has sent its reports
        (cancels, reloads: :meth:`_run`); any thread reads it."""
        return len(self._waiting)

    def size(self) -> VenueSize:
        """What the venue holds in memory now (a snapshot: the state thread moves on)."""
        return VenueSize(len(self._book), len(self._finished), len(self._seen_ids))

    # FIX callbacks (engine thread): thin -------------------------------------------------
    def on_logon(self, session_id: Any) -> None:
        self._inbox.put(("resync", None, _key(session_id), 0))
        self.logged_on.set()
        log.info("venue.logon", session=session_id.toString())

    def on_logout(self, session_id: Any) -> None:
        self.logged_on.clear()
        log.info("venue.logout", session=session_id.toString(), cause=self.logout_cause(session_id))

    def to_admin(self, message: Any, session_id: Any) -> None:
        """A gateway whose numbers started again at its Logon (its FIX store wiped) is
        expected from its new number on (:func:`~gateway.fix.engine.restarted_numbers`)."""
        numbers = restarted_numbers(message, session_id)
        if numbers is not None:
            log.warning(
                "venue.sequence_restarted",
                session=session_id.toString(),
                expected=numbers[0],
                received=numbers[1],
            )
            fix.Session.lookupSession(session_id).setNextTargetMsgSeqNum(numbers[1])

    def from_app(self, message: Any, session_id: Any) -> None:
        kind = msg_type(message)
        self._dispatch.handler(kind)  # unsupported types: the engine sends a BMR
        key = _key(session_id)
        # Journaled before the engine advances its sequence number: a crash from here on
        # cannot lose a message the engine counted as received.
        try:
            journal_id = (
                self._journal.receive("gateway", key, message.toString()) if self._journal else 0
            )
        except sqlite3.Error as exc:
            # Neither kept nor handled (the journal is locked by a VACUUM, or the disk is
            # full): refused, so the gateway knows to send it again.
            log.error("venue.journal_write_failed", kind=kind, error=f"{type(exc).__name__}: {exc}")
            reason = f"not taken: the venue's journal is unavailable ({exc}); send it again"
            self._send(_refusal_of(kind, message, reason), key)
            return
        self._inbox.put((kind, copy_message(message), key, journal_id))

    # the venue's thread ----------------------------------------------------------------
    def _run(self) -> None:
        """The state thread: messages as they come, an auction every interval.

        An auction's solve runs on the solver thread while this thread goes on with
        new bundles and SecurityListRequests (:data:`_DURING_AUCTION`). Everything
        else that could change a bundle in the auction (a cancel, a reload, a resync)
        waits until its fills are reported, then runs in arrival order.
        """
        self._next_auction = time.monotonic() + self._interval
        while not self._stop.is_set():
            running = self._running
            timeout = None if running else max(0.0, self._next_auction - time.monotonic())
            try:
                item = self._inbox.get(timeout=timeout)
            except queue.Empty:
                item = None
            if item is None:
                pass
            elif item[0] == _SOLVED:
                self._solved(item[1])
            elif running is not None and self._must_wait(item[0]):
                self._waiting.append(item)
            else:
                self._take(item)
            if self._running is None:
                while self._waiting:
                    self._take(self._waiting.popleft())
            try:
                self._housekeeping()
            except Exception as exc:  # a journal error must not stop the venue
                log.error("venue.housekeeping_failed", error=f"{type(exc).__name__}: {exc}")
            if self._running is None and time.monotonic() >= self._next_auction:
                self._start_auction()
        if self._running is not None:  # stopping: the auction's fills still go out
            self._running.solved.wait()
            self._close_auction(self._running)
        for item in self._waiting:  # still in the journal: replayed at the next start
            log.info("venue.not_handled_at_stop", kind=item[0])

    def _must_wait(self, kind: str) -> bool:
        """While an auction is solved, whether an item waits for its reports: all but
        :data:`_DURING_AUCTION`, and those too behind a waiting reload (a bundle or a
        SecurityListRequest that came after it must see its symbols)."""
        return kind not in _DURING_AUCTION or any(w[0] == "reload" for w in self._waiting)

    def _start_auction(self) -> None:
        """Take the next auction's snapshot and hand it to the solver thread."""
        if self._stop.is_set() or self._restoring:
            return
        try:
            self._running = self._open_auction()
            self._solver.submit(self._solve_and_wake, self._running)
        except Exception as exc:  # an auction bug must not stop the venue
            self._running = None
            self._auction_failed(exc)
            self._next_auction = time.monotonic() + self._interval

    def _solved(self, auction: _Auction) -> None:
        """The running auction's solve ended: report it, and schedule the next."""
        if auction is not self._running:
            log.error("venue.unexpected_solve", auction=auction.number)
            return
        self._close_auction(auction)
        self._running = None
        self._next_auction += self._interval
        if self._next_auction < time.monotonic():  # fell behind: skip, don't burst
            self._next_auction = time.monotonic() + self._interval

    def _answer_meanwhile(self) -> None:
        """Between two bundles' reports (an auction that filled 1,000 bundles sends
        ~7,000 messages): handle the new bundles and SecurityListRequests that have
        arrived, so their answers do not queue behind every report; the rest waits."""
        stopping = False
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                break
            if item is None:
                stopping = True
            elif item[0] == _SOLVED:  # stopping: the auction being reported said so
                continue
            elif not self._must_wait(item[0]):
                self._take(item)
            else:
                self._waiting.append(item)
        if stopping:
            self._inbox.put(None)

    def _take(self, item: _InboxItem) -> None:
        """Handle one inbox item, then mark it handled in the journal."""
        kind, message, session, journal_id = item
        try:
            self._handle(kind, message, session)
        except Exception as exc:  # one bad message must not stop the venue
            self._failed(kind, message, session, exc)
        if journal_id and self._journal is not None:
            try:
                self._journal.handled(journal_id)
            except Exception as exc:  # replayed at the next start: the venue goes on
                log.error("venue.journal_failed", error=f"{type(exc).__name__}: {exc}")

    def _failed(
        self, kind: str, message: Any, session: tuple[str, str, str], exc: Exception
    ) -> None:
        """A message whose handling raised: logged with its traceback and, unless it was
        booked before the failure, refused on the wire so the gateway is not left
        waiting for an answer."""
        list_id = get_field(message, Tag.LIST_ID) if kind in ("E", "K", "M") else None
        log.error(
            "venue.message_failed",
            kind=kind,
            list_id=list_id,
            error=f"{type(exc).__name__}: {exc}",
            exc_info=True,
        )
        if not self._dispatch.supports(kind) or (kind == "E" and list_id in self._book):
            return  # a step of the venue's own, or a list booked before the failure
        text = f"internal error processing this message: {type(exc).__name__}"
        try:
            self._send(_refusal_of(kind, message, text), session)
        except Exception as reply_failed:  # already logged above; the venue goes on
            log.error("venue.reply_failed", error=f"{type(reply_failed).__name__}: {reply_failed}")

    def _solve_and_wake(self, auction: _Auction) -> None:
        """The solver thread: clear the auction's snapshot, then wake the state thread."""
        try:
            self._solve(auction)
        finally:
            self._inbox.put((_SOLVED, auction, ("", "", ""), 0))

    def _solve(self, auction: _Auction) -> None:
        """Clear the auction's snapshot, then ask the pre-solver whether each filled
        bundle can fill more (neither touches the venue's state)."""
        try:
            auction.result = clear(
                auction.participants,
                auction.contra,
                auction.refs,
                auction.config,
                seed=auction.seed,
            )
        except Exception as exc:  # reported by the state thread as a failed auction
            auction.error = exc
        else:
            self._look_ahead(auction, auction.result)
        finally:
            auction.solved.set()

    def _look_ahead(self, auction: _Auction, result: AuctionResult) -> None:
        """Fill ``auction.outlook``; a bundle it misses is checked when reported."""
        remaining = {p.bundle.bundle_id: p for p in auction.participants}
        for list_id, fills in result.bundle_fills.items():
            try:
                participant = remaining[list_id]
                left = tuple(r - f for r, f in zip(participant.remaining, fills, strict=True))
                more = self._can_fill_more(participant.bundle, left)
                auction.outlook[list_id] = (left, more)
            except Exception as exc:  # the state thread asks again
                log.error("venue.look_ahead_failed", list_id=list_id, error=repr(exc))

    def reload(self, config: VenueAppConfig) -> None:
        """Take ``config``'s symbols (any thread; ``bidgw venue`` calls it on SIGHUP): the
        new list is sent to every subscribed gateway, and a resting bundle on a symbol no
        longer listed is cancelled. The other settings stay as they were at start."""
        self._inbox.put(("reload", config, ("", "", ""), 0))

    def _handle(self, kind: str, message: Any, session: tuple[str, str, str]) -> None:
        """One inbox item: a message from the gateway, or the state thread's own step
        (``resync`` at a logon; ``restate``, ``reclose`` and ``restored`` once after a restart;
        ``reload`` of the symbols)."""
        if kind == "reload":
            self._reload(message)
        elif kind == "resync":
            self._send_resync(session)
        elif kind == "restate":
            self._send_restatements()
        elif kind == "reclose":
            self._reclose()
        elif kind == "restored":
            self._restoring = False  # auctions may run from now on
        else:
            self._dispatch.handler(kind)(message, session)

    def _count(self, summary: AuctionSummary) -> None:
        """The auction in the venue's metrics: in-memory counters, no I/O."""
        self.stats.last_auction_at = time.monotonic()
        try:
            metrics = self.metrics
            metrics.auctions.labels(summary.status).inc()
            if summary.status != "failed":
                metrics.auction_seconds.observe(summary.solve_ms / 1000)
            metrics.bundles_filled.inc(summary.bundles_filled)
            metrics.exclusions.inc(summary.excluded)
            metrics.auction_rejections.inc(summary.rejected)
        except Exception as exc:  # metrics must not stop the venue
            log.error("venue.metrics_failed", error=f"{type(exc).__name__}: {exc}")

    def _observe(self, summary: AuctionSummary) -> None:
        if self._on_auction is None:
            return
        try:
            self._on_auction(summary)
        except Exception as exc:  # an observer's bug must not stop the venue
            log.error("venue.observer_failed", error=f"{type(exc).__name__}: {exc}")

    def _housekeeping(self) -> None:
        """Forget bundles finished more than ``retain_done_secs`` ago; compact the
        journal every ``journal_compact_every_secs``."""
        now = time.monotonic()
        horizon = now - self._retain_done_secs
        while self._finished:
            list_id, (resting, done_at) = next(iter(self._finished.items()))
            if done_at > horizon:
                break
            del self._finished[list_id]
            self._forget_ids(list_id, resting)
        if self._journal is not None and now >= self._next_compaction:
            self._next_compaction = now + self._compact_every_secs
            counts = self._journal.compact(float(self.config.journal_retention_hours) * 3600)
            log.info("journal.compacted", **counts)

    def _send(self, message: Any, session: tuple[str, str, str]) -> None:
        try:
            fix.Session.sendToTarget(message, fix.SessionID(*session))
        except fix.SessionNotFound:
            log.error("venue.session_not_found", session=":".join(session))

    def _on_bundle(self, message: Any, session: tuple[str, str, str]) -> None:
        self.stats.bundles_received += 1
        self.metrics.bundles_received.inc()
        list_id = message.getField(Tag.LIST_ID)
        known = self._lookup(list_id)
        if known is not None and known.session == session:
            # The gateway forwarded this bundle again (after a restart): answer with its
            # current state; never a second copy, never a reject.
            self._send(self._repeat_answer(list_id, known), session)
            log.info("venue.bundle_repeated", list_id=list_id, done=known.done)
            return
        try:
            bundle, cl_ord_ids = decode_bundle(message)
            refused = self._refusal(bundle, cl_ord_ids)
            if refused is not None:
                raise GatewayError(refused)
            duplicate = self._used_id(session, (list_id, *cl_ord_ids))
            if list_id in self._book or duplicate is not None:
                raise GatewayError(f"duplicate id {duplicate or list_id!r}")
        except GatewayError as exc:
            self.stats.bundles_rejected += 1
            self.metrics.bundles_rejected.inc()
            self._send(_refusal_of("E", message, str(exc)), session)
            log.info("venue.bundle_rejected", list_id=list_id, reason=str(exc))
            return
        self._remember_ids(session, list_id, cl_ord_ids)
        self._book[list_id] = Resting(
            session,
            bundle,
            cl_ord_ids,
            [0] * len(bundle.legs),
            [Fraction(0)] * len(bundle.legs),
            raw=message.toString(),
            expires_at=expiry(bundle),
        )
        self._save(list_id, self._book[list_id], ids=(list_id, *cl_ord_ids))
        self._send(
            list_status(
                list_id=list_id,
                status_type=ListStatusType.ACK,
                order_status=ListOrderStatus.IN_BIDDING_PROCESS,
                text="resting in the auction",
                orders=[
                    OrderReport(c, leaves_qty=leg.max_qty)
                    for c, leg in zip(cl_ord_ids, bundle.legs, strict=True)
                ],
            ),
            session,
        )
        self._reported(list_id)
        log.info("venue.bundle_resting", list_id=list_id, legs=len(bundle.legs))

    def _repeat_answer(self, list_id: str, known: Resting) -> Any:
        """The ListStatus answering a bundle received again: its state now."""
        return _state_report(list_id, known, f"already received: {list_state(known)[2]}")

    def _on_list_status_request(self, message: Any, session: tuple[str, str, str]) -> None:
        """ListStatusRequest (35=M), which the gateway sends about each open bundle at
        every logon: the list's ListStatus with every leg's quantities now, or, for a
        list this session never sent or the venue no longer knows (lost with its
        journal), a BusinessMessageReject 380 = 1 (unknown ID) naming it."""
        list_id = message.getField(Tag.LIST_ID)
        self._send(self._status_answer(list_id, session), session)

    def _status_answer(self, list_id: str, session: tuple[str, str, str]) -> Any:
        """The answer to a ListStatusRequest about ``list_id`` from ``session``."""
        known = self._lookup(list_id)
        if known is None or known.session != session:
            log.info("venue.status_unknown", list_id=list_id)
            return _bmr("M", list_id, f"unknown list {list_id!r}")
        log.info("venue.status_answered", list_id=list_id, done=known.done)
        text = known.close_text if known.done else f"current state: {list_state(known)[2]}"
        return _state_report(list_id, known, text)

    def instruments(self) -> list[Instrument]:
        """The symbols as the SecurityList sends them."""
        return [
            Instrument(symbol, c.lot_size, c.tick, c.bid, c.offer)
            for symbol, c in self.config.symbols.items()
        ]

    def _on_security_list_request(self, message: Any, session: tuple[str, str, str]) -> None:
        """SecurityListRequest (35=x): every symbol, whatever the request type; with
        SubscriptionRequestType (263) 1 the requester gets the list again on a reload
        (2 unsubscribes)."""
        req_id = message.getField(Tag.SECURITY_REQ_ID)
        subscription = (
            message.getField(Tag.SUBSCRIPTION_REQUEST_TYPE)
            if message.isSetField(Tag.SUBSCRIPTION_REQUEST_TYPE)
            else "0"
        )
        if subscription == "2":
            self._subscribers.pop(session, None)
            return
        if subscription == "1":
            self._subscribers[session] = req_id
        self._send_security_list(session, req_id)

    def _send_security_list(self, session: tuple[str, str, str], req_id: str) -> None:
        response_id = f"SL{next(self._list_versions)}"
        self._send(encode_security_list(req_id, response_id, self.instruments()), session)
        log.info("venue.security_list_sent", req_id=req_id, symbols=len(self.config.symbols))

    def _reload(self, config: VenueAppConfig) -> None:
        self.config = self.config.model_copy(update={"symbols": dict(config.symbols)})
        self.refs = {
            s: SymbolRef(c.bid, c.offer, c.self_trade_prevention)
            for s, c in self.config.symbols.items()
        }
        self._price_scale = self.config.price_scale()
        for list_id, resting in list(self._book.items()):
            gone = sorted({leg.symbol for leg in resting.bundle.legs} - set(self.refs))
            if gone:
                text = f"symbol(s) {', '.join(gone)} no longer listed"
                self._finish(list_id, resting, exec_type="4", text=text)
        log.info("venue.reloaded", symbols=sorted(self.refs))
        for session, req_id in list(self._subscribers.items()):
            self._send_security_list(session, req_id)

    def _refusal(self, bundle: OrderBundle, cl_ord_ids: Sequence[str]) -> str | None:
        """Why the venue cannot take ``bundle`` (:func:`~gateway.venue.screen.refusal`)."""
        return refusal(bundle, cl_ord_ids, self.config.symbols, self._price_scale)

    def _remember_ids(
        self, session: tuple[str, str, str], list_id: str, cl_ord_ids: Sequence[str]
    ) -> None:
        """The ids a client has used; a later bundle reusing one is a duplicate."""
        self._seen_ids.update((session[2], c) for c in (list_id, *cl_ord_ids))

    def _forget_ids(self, list_id: str, resting: Resting) -> None:
        """A finished bundle leaves memory: its ids are checked in the journal now."""
        self._seen_ids.difference_update(
            (resting.session[2], c) for c in (list_id, *resting.cl_ord_ids)
        )

    def _used_id(self, session: tuple[str, str, str], ids: Sequence[str]) -> str | None:
        """The first of ``ids`` the client already used, in memory or in the journal."""
        used = {c for c in ids if (session[2], c) in self._seen_ids}
        if self._journal is not None and (stored := self._journal.used_id(session[2], ids)):
            used.add(stored)
        return next((c for c in ids if c in used), None)

    def _lookup(self, list_id: str) -> Resting | None:
        """A bundle the venue accepted: resting, finished in memory, or in the journal."""
        resting = self._book.get(list_id)
        if resting is None and list_id in self._finished:
            resting = self._finished[list_id][0]
        if resting is None and self._journal is not None:
            row = self._journal.find(list_id)
            if row is not None:
                resting = self._from_row(row)
                log.info("venue.found_in_journal", list_id=list_id, done=row.done)
        return resting

    def _on_cancel(self, message: Any, session: tuple[str, str, str]) -> None:
        list_id = message.getField(Tag.LIST_ID)
        resting = self._book.get(list_id)
        if resting is None or resting.session != session:
            self._send(_bmr("K", list_id, f"unknown or finished list {list_id!r}"), session)
            return
        self._finish(list_id, resting, exec_type="4", text="cancelled on request")

    def _auction(self) -> AuctionSummary:
        """One auction start to end on the calling thread (the state thread runs the
        solve on the solver thread instead, and goes on with messages: :meth:`_run`)."""
        try:
            running = self._open_auction()
        except Exception as exc:  # an auction bug must not stop the venue
            return self._auction_failed(exc)
        self._solve(running)
        return self._close_auction(running)

    def _open_auction(self) -> _Auction:
        """Number the next auction (counted even if this raises), expire bundles, and
        take the snapshot it clears."""
        number = self.stats.auctions + 1
        self.stats.auctions = number
        self._expire()
        rng = random.Random(f"{self.config.seed}:{number}")
        contra = self._liquidity(rng)
        participants = [
            Participant(r.bundle, r.remaining, owner=owner(r)) for r in self._book.values()
        ]
        config = self.config.auction
        if self._batch.current != config.batch_bundles:
            config = config.model_copy(update={"batch_bundles": self._batch.current})
        return _Auction(number, participants, contra, dict(self.refs), config, rng.randrange(2**31))

    def _close_auction(self, running: _Auction) -> AuctionSummary:
        """Report a solved auction's fills (state thread), count and observe it."""
        try:
            if running.error is not None:
                raise running.error
            assert running.result is not None
            summary = self._settle(running, running.result)
        except Exception as exc:  # an auction bug must not stop the venue
            return self._auction_failed(exc)
        self._count(summary)
        self._observe(summary)
        return summary

    def _auction_failed(self, exc: BaseException) -> AuctionSummary:
        failing = self._failing(bool(self._book))
        log.error(
            "venue.auction_failed",
            auction=self.stats.auctions,
            in_a_row=failing,
            error=f"{type(exc).__name__}: {exc}",
            exc_info=exc,
        )
        summary = AuctionSummary(self.stats.auctions, "failed", 0, 0, 0.0, self.size())
        self._count(summary)
        self._observe(summary)
        return summary

    def _settle(self, running: _Auction, result: AuctionResult) -> AuctionSummary:
        """What an auction's result does to the book: fills reported, bundles left out."""
        number, participants, auction = running.number, running.participants, running.config
        self.stats.solve_ms.append(result.solve_ms)
        self._adapt_batches(number, result, auction, len(participants))
        self._leave_out(number, result.rejected, result.excluded)
        left_out = {"rejected": len(result.rejected), "excluded": len(result.excluded)}
        if result.status in ("no_solution", "unverified"):
            failing = self._failing(bool(participants))
            log.warning(
                "auction.no_fill",
                auction=number,
                status=result.status,
                detail=result.detail,
                bundles=len(participants),
                in_a_row=failing,
            )
            if failing >= READY_FAILURES and _power_of_ten(failing):
                log.error(
                    "auction.keeps_failing",
                    auction=number,
                    in_a_row=failing,
                    newest=[p.bundle.bundle_id for p in participants[-3:]],
                )
            return AuctionSummary(
                number,
                result.status,
                len(participants),
                0,
                result.solve_ms,
                self.size(),
                **left_out,
            )
        self._failing(False)
        gap = result.gap  # to the solver's bound; logged as None when unknown or infinite
        # An auction with no bundle in it (an idle venue runs ten a second, its synthetic
        # liquidity trading with itself) is logged at debug: /metrics counts every
        # auction and its fills, and /readyz says they run.
        (log.info if participants else log.debug)(
            "auction.cleared",
            auction=number,
            status=result.status,
            bundles=len(participants),
            bundles_filled=len(result.bundle_fills),
            contra_filled=len(result.contra_fills),
            solve_ms=round(result.solve_ms, 3),
            improvement=str(result.improvement),
            gap=float(f"{gap:.3g}") if gap is not None and math.isfinite(gap) else None,
        )
        for list_id, fills in result.bundle_fills.items():
            outlook = running.outlook.get(list_id)
            self._report_fills(list_id, self._book[list_id], fills, result.prices, outlook)
            self._answer_meanwhile()
        return AuctionSummary(
            number,
            result.status,
            len(participants),
            len(result.bundle_fills),
            result.solve_ms,
            self.size(),
            **left_out,
        )

    def _adapt_batches(
        self, number: int, result: AuctionResult, config: AuctionConfig, bundles: int
    ) -> None:
        """The next auction's batch size after this one (gateway/venue/batching.py)."""
        timed_out = ran_out_of_time(result, config)
        size = self._batch.after(
            timed_out=timed_out, filled=bool(result.bundle_fills), bundles=bundles
        )
        if size is None:
            return
        if timed_out:
            log.warning(
                "auction.batches_smaller",
                auction=number,
                batch_bundles=size,
                why=f"no fill of {bundles} bundles in time",
            )
        else:
            log.info("auction.batches_larger", auction=number, batch_bundles=size)

    def _failing(self, failed: bool) -> int:
        """Count an auction that failed while bundles rested (or reset the count)."""
        self.stats.failing_in_a_row = self.stats.failing_in_a_row + 1 if failed else 0
        return self.stats.failing_in_a_row

    def _leave_out(
        self, number: int, rejected: Mapping[str, str], excluded: Mapping[str, str]
    ) -> None:
        """Cancel the bundles auction ``number`` could not model, and those it left out
        :data:`EXCLUSIONS_BEFORE_CANCEL` times; the others stay resting."""
        for list_id, reason in rejected.items():
            log.warning("auction.bundle_rejected", auction=number, list_id=list_id, why=reason)
            if (resting := self._book.get(list_id)) is not None:
                self._finish(
                    list_id, resting, exec_type="4", text=f"cancelled by the venue: {reason}"
                )
        for list_id, reason in excluded.items():
            resting = self._book.get(list_id)
            if resting is None:
                continue
            resting.exclusions += 1
            if self._journal is not None:
                self._journal.excluded(list_id, resting.exclusions)
            log.warning(
                "auction.bundle_excluded",
                auction=number,
                list_id=list_id,
                times=resting.exclusions,
                why=reason,
            )
            if resting.exclusions >= EXCLUSIONS_BEFORE_CANCEL:
                text = (
                    f"cancelled by the venue: left out of {resting.exclusions} auctions; "
                    f"last: {reason}"
                )
                self._finish(list_id, resting, exec_type="4", text=text)

    def _liquidity(self, rng: random.Random) -> list[ContraOrder]:
        spec = self.config.liquidity
        orders: list[ContraOrder] = []
        for symbol in sorted(self.refs):
            ref = self.refs[symbol]
            lot = self.config.symbols[symbol].lot_size
            if spec.touch_lots:
                orders.append(
                    ContraOrder(
                        f"{symbol}-bid", symbol, Side.BUY, ref.bid, spec.touch_lots * lot, lot
                    )
                )
                orders.append(
                    ContraOrder(
                        f"{symbol}-offer", symbol, Side.SELL, ref.offer, spec.touch_lots * lot, lot
                    )
                )
            steps = int((ref.offer - ref.bid) / spec.tick)
            for k in range(spec.flow_orders):
                price = ref.bid + spec.tick * rng.randint(0, steps)
                side = rng.choice([Side.BUY, Side.SELL])
                orders.append(
                    ContraOrder(
                        f"{symbol}-flow{k}",
                        symbol,
                        side,
                        price,
                        rng.randint(1, spec.flow_max_lots) * lot,
                        lot,
                    )
                )
        return orders

    def _report_fills(
        self,
        list_id: str,
        resting: Resting,
        fills: Sequence[int],
        prices: Mapping[str, Fraction],
        outlook: tuple[tuple[int, ...], bool] | None = None,
    ) -> None:
        """Book and report one bundle's fill; ``outlook``: what it has left after it and
        whether that can fill (:meth:`_look_ahead`), else the pre-solver is asked here."""
        self.stats.fills += 1
        for index, (leg, qty) in enumerate(zip(resting.bundle.legs, fills, strict=True)):
            if qty:  # a leg with no fill may have no clearing price
                resting.filled[index] += qty
                resting.notional[index] += prices[leg.symbol] * qty
        started = resting.started
        resting.started = True
        self._save(list_id, resting)  # before any report leaves
        self._failpoint("fill_journaled")
        for index, (leg, qty) in enumerate(zip(resting.bundle.legs, fills, strict=True)):
            if not qty:
                continue
            report = self._leg_report(
                resting, index, exec_type="F", last_qty=qty, last_px=prices[leg.symbol]
            )
            self._send(encode_execution_report(report), resting.session)
            self.metrics.fills.labels(leg.symbol).inc()
            self.metrics.filled_quantity.labels(leg.symbol).inc(qty)
        if not started:
            self._send(
                list_report(
                    list_id,
                    resting,
                    ListStatusType.EXEC_STARTED,
                    ListOrderStatus.EXECUTING,
                    text="executing",
                ),
                resting.session,
            )
        more = outlook[1] if outlook is not None and outlook[0] == resting.remaining else None
        if not self._close_if_exhausted(list_id, resting, can_fill_more=more):
            self._reported(list_id)

    def _close_if_exhausted(
        self, list_id: str, resting: Resting, *, can_fill_more: bool | None = None
    ) -> bool:
        """Finish a bundle that is filled, or whose remaining quantities cannot fill
        within its constraints (``can_fill_more``, when already known for them)."""
        remaining = resting.remaining
        if not any(remaining):
            self._finish(list_id, resting, exec_type=None, text="filled")
        elif not (
            can_fill_more
            if can_fill_more is not None
            else self._can_fill_more(resting.bundle, remaining)
        ):
            self._finish(
                list_id,
                resting,
                exec_type="3",
                text="remaining quantities cannot fill within the bundle's constraints",
            )
        else:
            return False
        return True

    def _can_fill_more(self, bundle: OrderBundle, remaining: Sequence[int]) -> bool:
        legs = [(leg, left) for leg, left in zip(bundle.legs, remaining, strict=True)]
        if all(left < leg.lot_size for leg, left in legs):
            return False
        # A Leg needs max_qty >= 1: exhausted legs keep one lot and a row pins them to 0.
        capped = [dataclasses.replace(leg, max_qty=max(left, leg.lot_size)) for leg, left in legs]
        zero_rows = tuple(
            Constraint(
                name=f"exhausted_{i}",
                sense=Sense.LE,
                coefficients=tuple(Decimal(1 if j == i else 0) for j in range(len(legs))),
            )
            for i, (leg, left) in enumerate(legs)
            if left < leg.lot_size
        )
        probe = OrderBundle(
            bundle_id=bundle.bundle_id,
            legs=tuple(capped),
            constraints=bundle.constraints + zero_rows,
            min_total_fill=bundle.min_total_fill,
        )
        return self._presolver.check(probe).feasible

    def _expire(self) -> None:
        now = datetime.now(UTC)
        for list_id, resting in list(self._book.items()):
            if resting.expires_at is not None and now >= resting.expires_at:
                self._finish(list_id, resting, exec_type="C", text="expired")

    def _finish(self, list_id: str, resting: Resting, *, exec_type: str | None, text: str) -> None:
        """Report the bundle done; ``exec_type`` closes the open legs (4, 3 or C)."""
        self._book.pop(list_id, None)
        self._retain(list_id, resting)
        resting.done, resting.closed, resting.close_text = True, exec_type, text
        self._save(list_id, resting)
        if exec_type is not None:
            for index, left in enumerate(resting.remaining):
                if left:
                    report = self._leg_report(resting, index, exec_type=exec_type, text=text)
                    self._send(encode_execution_report(report), resting.session)
        self._send(
            list_report(
                list_id,
                resting,
                ListStatusType.ALL_DONE,
                ListOrderStatus.ALL_DONE,
                text=text,
                closed=exec_type,
            ),
            resting.session,
        )
        self._reported(list_id)
        log.info("venue.bundle_done", list_id=list_id, why=text, filled=resting.filled)

    def _retain(self, list_id: str, resting: Resting) -> None:
        """Keep a finished bundle in memory for ``retain_done_secs``."""
        previous = self._finished.pop(list_id, None)
        if previous is not None and previous[0] is not resting:
            self._forget_ids(list_id, previous[0])  # another client's, same ListID
        self._finished[list_id] = (resting, time.monotonic())

    # the journal -----------------------------------------------------------------------
    def _save(self, list_id: str, resting: Resting, *, ids: Sequence[str] = ()) -> None:
        if self._journal is not None:
            self._journal.save(
                list_id,
                resting.session,
                resting.raw,
                resting.filled,
                [f"{n.numerator}/{n.denominator}" for n in resting.notional],
                started=resting.started,
                done=resting.done,
                closed=resting.closed,
                close_text=resting.close_text,
                ids=ids,
            )

    def _reported(self, list_id: str) -> None:
        if self._journal is not None:
            self._journal.reported(list_id)

    def _restore(self, journal: VenueJournal) -> None:
        """Rebuild the book, the finished bundles whose last reports may not have left,
        and their ids from the journal (older finished bundles stay in the journal)."""
        for row in journal.restorable():
            self._restore_row(row)
        # First the restatements (the crash may have cut off reports), then closes
        # (re-screening the restored book), then the messages received but not handled
        # (a cancel that waited for an auction), all before the first auction: one the
        # screen now refuses must be cancelled with its reason, not be cleared, and a
        # replayed cancel must not speak of a bundle before its restatement.
        self._restoring = True
        self._inbox.put(("restate", None, ("", "", ""), 0))
        self._inbox.put(("reclose", None, ("", "", ""), 0))
        for pending in journal.pending():
            message = fix.Message(pending.raw, self._data_dictionary(), False)
            self._inbox.put((msg_type(message), message, pending.session, pending.id))
        self._inbox.put(("restored", None, ("", "", ""), 0))
        log.info(
            "venue.restored",
            resting=len(self._book),
            finished=len(self._finished),
            to_resync=sum(len(ids) for ids in self._resync.values()),
        )

    def _restore_row(self, row: VenueRow) -> None:
        resting = self._from_row(row)
        if row.done:
            self._retain(row.list_id, resting)
        else:
            self._book[row.list_id] = resting
        self._remember_ids(row.session, row.list_id, resting.cl_ord_ids)
        if not row.reported:
            self._resync.setdefault(row.session, []).append(row.list_id)
            self._restate.append(row.list_id)

    def _from_row(self, row: VenueRow) -> Resting:
        """A journal row as the venue holds a bundle in memory."""
        bundle, cl_ord_ids = decode_bundle(fix.Message(row.raw, self._data_dictionary(), False))
        return Resting(
            row.session,
            bundle,
            cl_ord_ids,
            list(row.filled),
            [Fraction(n) for n in row.notional],
            raw=row.raw,
            expires_at=expiry(bundle),
            started=row.started,
            done=row.done,
            closed=row.closed,
            close_text=row.close_text,
            exclusions=row.exclusions,
        )

    def _data_dictionary(self) -> Any:
        if self._dictionary is None:
            self._dictionary = fix.DataDictionary(str(DICTIONARY))
        return self._dictionary

    def _reclose(self) -> None:
        """After a restart: cancel restored bundles the venue would refuse today (a
        journal written before the screening of :mod:`gateway.venue.screen`), and close
        those whose remaining quantities cannot fill (a crash between a fill and its
        close leaves them resting)."""
        for list_id, resting in list(self._book.items()):
            refused = self._refusal(resting.bundle, resting.cl_ord_ids)
            if refused is not None:
                self._finish(
                    list_id, resting, exec_type="4", text=f"cancelled by the venue: {refused}"
                )
            elif any(resting.filled):
                self._close_if_exhausted(list_id, resting)

    def _send_restatements(self) -> None:
        """After a restart: restate every leg of each bundle whose last reports the
        crash may have cut off (ExecType D with its CumQty), before anything else is
        said about it: a fill journaled but never reported is not lost to the
        client's per-order view. Sent while the session may still be logged out: the
        engine stores them and the gateway's ResendRequest fetches them in order."""
        for list_id in self._restate:
            resting = self._lookup(list_id)
            if resting is None:
                continue
            for index in range(len(resting.bundle.legs)):
                report = self._leg_report(
                    resting,
                    index,
                    exec_type="D",
                    text="restated after a venue restart: reports may have been lost",
                )
                if resting.closed:  # a closed leg stays closed in its restatement
                    left = resting.remaining[index]
                    status = ord_status(resting.filled[index], left, resting.closed)
                    report = dataclasses.replace(report, ord_status=status, leaves_qty=0)
                message = encode_execution_report(report)
                message.setField(Tag.EXEC_RESTATEMENT_REASON, RESTATED_AFTER_RESTART)
                self._send(message, resting.session)
            log.info("venue.restated", list_id=list_id, filled=resting.filled)
        self._restate.clear()

    def _send_resync(self, session: tuple[str, str, str]) -> None:
        """After a restart: tell the gateway the state of bundles whose last reports the
        crash may have cut off (their quantities say what filled)."""
        for list_id in self._resync.pop(session, []):
            resting = self._lookup(list_id)
            if resting is None:  # compacted away: its reports went out long ago
                continue
            text = resting.close_text if resting.done else "restored after a venue restart"
            self._send(_state_report(list_id, resting, text), session)
            self._reported(list_id)
            log.info("venue.resynced", list_id=list_id, done=resting.done)

    def _leg_report(
        self,
        resting: Resting,
        index: int,
        *,
        exec_type: str,
        last_qty: int = 0,
        last_px: Fraction | None = None,
        text: str | None = None,
    ) -> ExecutionReport:
        """One leg's ExecutionReport: a fill (``last_px`` given) or its close."""
        return leg_report(
            resting,
            index,
            exec_id=f"{self._exec_prefix}{next(self._exec_ids)}",
            exec_type=exec_type,
            last_qty=last_qty,
            last_px=last_px,
            text=text,
        )


def _no_failpoint(_name: str) -> None:
    return None


def _power_of_ten(n: int) -> bool:
    """1, 10, 100, ...: when a run of failed auctions is logged as an error."""
    if n < 1:
        return False
    while n % 10 == 0:
        n //= 10
    return n == 1


def _key(session_id: Any) -> tuple[str, str, str]:
    return (
        session_id.getBeginString().getValue(),
        session_id.getSenderCompID().getValue(),
        session_id.getTargetCompID().getValue(),
    )


def _refusal_of(kind: str, message: Any, text: str) -> Any:
    """The answer to a message the venue did not take: a rejected ListStatus for a
    NewOrderList (the gateway relays it to the desk), else a BusinessMessageReject
    (reason 0, other) naming it by MsgSeqNum and id."""
    if kind == "E":
        return list_status(
            list_id=get_field(message, Tag.LIST_ID) or "",
            status_type=ListStatusType.RESPONSE,
            order_status=ListOrderStatus.REJECT,
            text=text,
            reject_reason=99,
            orders=[OrderReport(c, ord_status="8") for c in group_ids(message)],
        )
    ref_id = get_field(message, Tag.SECURITY_REQ_ID if kind == "x" else Tag.LIST_ID)
    return business_reject(
        ref_msg_type=kind, reason=0, text=text, ref_seq_num=seq_num(message), ref_id=ref_id
    )


def _state_report(list_id: str, resting: Resting, text: str) -> Any:
    """The bundle's ListStatus as it stands (:func:`list_state`), each leg's CumQty,
    LeavesQty and OrdStatus, its legs closed as its close reported them: the answer to
    a repeated bundle, to a ListStatusRequest, and the resync after a restart."""
    kind, status, _ = list_state(resting)
    return list_report(list_id, resting, kind, status, text=text, closed=resting.closed)


def _bmr(ref_type: str, ref_id: str, text: str) -> Any:
    return business_reject(ref_msg_type=ref_type, reason=1, text=text, ref_id=ref_id)
