"""The gateway's two thin FIX session applications, and the translation of each
inbound message into the typed work the state owner handles.

They run on the engine's poll threads and do only what must happen there:
check a client's Logon credentials, apply the per-client message rate, refuse
work when the gateway is busy or stopping, journal the message before the
engine advances its sequence number, translate it to a record (cheap: ids and
flags; a NewOrderList is copied and decoded later, on the pool), and queue it.
Everything else happens on the state owner (:mod:`gateway.router.service`).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import quickfix as fix
import structlog

from fixspec import Tag
from gateway.core.reports import OrderReport
from gateway.fix.engine import SafeApplication, copy_message, msg_type, restarted_numbers
from gateway.fix.frontdoor import REFUSED_CREDENTIALS, credentials_match
from gateway.fix.messages import (
    decode_order_reports,
    fix_decimal,
    get_field,
    group_ids,
    is_poss_dup,
    is_resend,
    seq_num,
)
from gateway.fix.venue_codec import decode_security_list
from gateway.router.records import (
    DeskSession,
    InstrumentsIn,
    ListCancel,
    ListHeader,
    SessionKey,
    VenueExecution,
    VenueListStatus,
    VenueReject,
)

if TYPE_CHECKING:
    from gateway.router.service import Gateway

__all__ = [
    "ClientSide",
    "TokenBucket",
    "VenueSide",
    "Work",
    "far_over_the_limit",
    "oversized_id",
    "session_key",
    "translate",
]

log = structlog.get_logger("bidgw.gateway")


def session_key(session_id: Any) -> SessionKey:
    return (
        session_id.getBeginString().getValue(),
        session_id.getSenderCompID().getValue(),
        session_id.getTargetCompID().getValue(),
    )


@dataclass(frozen=True, slots=True)
class Work:
    """One item for the state owner: a typed record, plus what it needs besides.

    ``message`` is the owned quickfix copy of a client NewOrderList: the strategy
    build decodes it off the state owner. ``journal_id`` is the inbox row, marked
    handled once the item's decision is made.
    """

    record: object
    message: Any = None
    journal_id: int | None = None
    #: perf_counter stamps and stage durations (µs) of a client list on its way
    #: through the gateway, logged with its decision (bench/gateway.py reads them).
    stages: dict[str, float] | None = None


def translate(
    source: str,
    message: Any,
    session: SessionKey,
    *,
    replay: bool,
    cl_ord_ids: tuple[str, ...] | None = None,
) -> object:
    """A quickfix message → the record the decision core takes (engine exceptions
    such as FieldNotFound propagate: the engine rejects the message; a MsgType the
    side does not take raises UnsupportedMessageType).

    ``cl_ord_ids``: a NewOrderList's ClOrdIDs when the caller has read them already.
    """
    reader = _READERS[source].get(msg_type(message))
    if reader is None:
        raise fix.UnsupportedMessageType()
    return reader(message, session, replay, cl_ord_ids)


def _list_header(
    message: Any, session: SessionKey, replay: bool, cl_ord_ids: tuple[str, ...] | None
) -> ListHeader:
    return ListHeader(
        session,
        message.getField(Tag.LIST_ID),
        cl_ord_ids if cl_ord_ids is not None else tuple(group_ids(message)),
        poss_dup=is_resend(message),
        replay=replay,
        ref_seq_num=seq_num(message),
    )


def _list_cancel(message: Any, session: SessionKey, *_: object) -> ListCancel:
    return ListCancel(session, message.getField(Tag.LIST_ID), seq_num(message))


def _venue_list_status(
    message: Any, _session: SessionKey, replay: bool, *_: object
) -> VenueListStatus:
    reason = get_field(message, Tag.LIST_REJECT_REASON)
    return VenueListStatus(
        bundle_id=message.getField(Tag.LIST_ID),
        status_type=int(message.getField(Tag.LIST_STATUS_TYPE)),
        order_status=int(message.getField(Tag.LIST_ORDER_STATUS)),
        rpt_seq=int(message.getField(Tag.RPT_SEQ)),
        orders=decode_order_reports(message),
        text=get_field(message, Tag.LIST_STATUS_TEXT),
        reject_reason=int(reason) if reason is not None else None,
        replay=replay,
    )


def _venue_execution(
    message: Any, _session: SessionKey, replay: bool, *_: object
) -> VenueExecution:
    cl_ord_id = message.getField(Tag.CL_ORD_ID)
    return VenueExecution(cl_ord_id, copy_message(message), replay, _order_state(message))


def _instruments(message: Any, *_: object) -> InstrumentsIn:
    answer = decode_security_list(message)
    return InstrumentsIn(
        answer.req_id, answer.result, answer.instruments, answer.last_fragment, answer.text
    )


def _venue_reject(message: Any, *_: object) -> InstrumentsIn | VenueReject:
    """35=j: the counterparty could not process one of our messages. A refused
    ListCancelRequest or ListStatusRequest names its list (BusinessRejectRefID, the
    BundleID); a refused NewOrderList is matched by its RefSeqNum later."""
    ref = get_field(message, Tag.REF_SEQ_NUM)
    text = get_field(message, Tag.TEXT) or "no reason given"
    ref_type = get_field(message, Tag.REF_MSG_TYPE)
    ref_id = get_field(message, Tag.BUSINESS_REJECT_REF_ID)
    if ref_type == "x":  # it does not serve SecurityListRequests
        return InstrumentsIn(ref_id or "", -1, text=text)
    return VenueReject(
        ref_id if ref_type in ("K", "M") else None,
        int(ref) if ref and ref.isdigit() else None,
        f"counterparty rejected: {text}",
        ref_msg_type=ref_type,
        unknown_id=get_field(message, Tag.BUSINESS_REJECT_REASON) == "1",
    )


_Reader = Callable[[Any, SessionKey, bool, tuple[str, ...] | None], object]
#: Each side's MsgTypes and how each becomes a record: the one list of what a side takes.
_READERS: dict[str, dict[str, _Reader]] = {
    "client": {"E": _list_header, "K": _list_cancel},
    "venue": {
        "N": _venue_list_status,
        "8": _venue_execution,
        "y": _instruments,
        "j": _venue_reject,
    },
}
CLIENT_TYPES = frozenset(_READERS["client"])
VENUE_TYPES = frozenset(_READERS["venue"])


def _order_state(report: Any) -> OrderReport | None:
    """The order's state an ExecutionReport carries, if its fields read as FIX numbers
    (the report is relayed either way; the state answers a resend of the list)."""
    try:
        return OrderReport(
            report.getField(Tag.CL_ORD_ID),
            cum_qty=int(fix_decimal(report.getField(Tag.CUM_QTY))),
            leaves_qty=int(fix_decimal(report.getField(Tag.LEAVES_QTY))),
            avg_px=fix_decimal(report.getField(Tag.AVG_PX)),
            ord_status=report.getField(Tag.ORD_STATUS),
        )
    except (ValueError, ArithmeticError, fix.FieldNotFound):
        return None


#: A list with more than this many times ``max_orders_per_list`` orders is refused
#: unread, by one BusinessMessageReject, instead of a ListStatus answering each order.
UNREAD_FACTOR = 10


def far_over_the_limit(message: Any, limit: int) -> str | None:
    """Why a NewOrderList is refused without reading its orders, if it is: more than
    :data:`UNREAD_FACTOR` times ``limit`` orders (answering each would cost the state
    owner ~18 µs an order, 190 ms for 10,000)."""
    count = message.groupCount(Tag.NO_ORDERS) if message.isSetField(Tag.NO_ORDERS) else 0
    if count <= UNREAD_FACTOR * limit:
        return None
    return (
        f"{count} orders in one list; this gateway accepts at most {limit}, and a list of "
        f"more than {UNREAD_FACTOR * limit} is refused unread (its orders are not answered "
        "one by one)"
    )


def oversized_id(list_id: str, cl_ord_ids: tuple[str, ...], limit: int) -> str | None:
    """Why a client message's ListID or a ClOrdID is too long to keep, if one is."""
    if len(list_id) > limit:
        return f"ListID(66) is {len(list_id)} characters long; at most {limit}"
    for index, cl_ord_id in enumerate(cl_ord_ids, start=1):
        if len(cl_ord_id) > limit:
            return (
                f"NoOrders[{index}].ClOrdID(11) is {len(cl_ord_id)} characters long; "
                f"at most {limit}"
            )
    return None


class TokenBucket:
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


class ClientSide(SafeApplication):
    """The acceptor for desks: logon check, rate limit, journal, translate, queue."""

    name = "clients"

    def __init__(self, gateway: Gateway) -> None:
        super().__init__()
        self.gateway = gateway
        clients = gateway.clients
        self.buckets = {
            comp_id: TokenBucket(clients.limits_for(comp_id).max_messages_per_second)
            for comp_id in clients.allowed_comp_ids
        }
        #: Per desk, whether the Logon being processed carried ResetSeqNumFlag (141).
        self.reset_logons: dict[str, bool] = {}

    def on_logon(self, session_id: Any) -> None:
        comp_id = session_id.getTargetCompID().getValue()
        event = self.gateway.client_logons.get(comp_id)
        if event is not None:
            event.set()
        reset = self.reset_logons.pop(comp_id, False)
        self.gateway.submit(Work(DeskSession(comp_id, up=True, reset=reset)))
        log.info("client.logon", client=comp_id, reset_seq_num=reset)

    def on_logout(self, session_id: Any) -> None:
        comp_id = session_id.getTargetCompID().getValue()
        event = self.gateway.client_logons.get(comp_id)
        was_up = event is not None and event.is_set()
        if event is not None:
            event.clear()
        self.gateway.desk_logged_off(comp_id)
        if was_up:  # not for a refused logon: nothing was up
            self.gateway.submit(Work(DeskSession(comp_id, up=False)))
        log.info("client.logout", client=comp_id, cause=self.logout_cause(session_id))

    def from_admin(self, message: Any, session_id: Any) -> None:
        if msg_type(message) == "A":
            self._check_logon(message, session_id)
            comp_id = session_id.getTargetCompID().getValue()
            self.reset_logons[comp_id] = get_field(message, Tag.RESET_SEQ_NUM_FLAG) == "Y"

    def _check_logon(self, message: Any, session_id: Any) -> None:
        """Username (553) / Password (554) against the configured SHA-256, if any.

        The front door (:mod:`gateway.fix.frontdoor`) has run the same check before
        the Logon reached the engine; this one is defence in depth (a connection
        to the internal port that did not come through it).
        """
        credentials = self.gateway.clients.credentials
        if not credentials:
            return
        comp_id = session_id.getTargetCompID().getValue()
        username = get_field(message, Tag.USERNAME)
        if not credentials_match(
            credentials.get(comp_id), username, get_field(message, Tag.PASSWORD)
        ):
            log.warning("client.logon_refused", client=comp_id, username=username or "")
            raise fix.RejectLogon(REFUSED_CREDENTIALS)

    def from_app(self, message: Any, session_id: Any) -> None:
        started = time.perf_counter()
        kind = msg_type(message)
        if kind not in CLIENT_TYPES:
            raise fix.UnsupportedMessageType()  # the engine answers with a BMR
        gateway = self.gateway
        if kind == "E":
            unread = far_over_the_limit(message, gateway.config.max_orders_per_list)
            if unread is not None:  # not even its ids are read: answering each costs too much
                gateway.refuse_oversized(message, session_id, unread)
                return
        # Ids first: every refusal below echoes them, and nothing oversized is kept.
        cl_ord_ids = tuple(group_ids(message)) if kind == "E" else ()
        too_long = oversized_id(
            get_field(message, Tag.LIST_ID) or "", cl_ord_ids, gateway.config.max_id_length
        )
        if too_long is not None:
            gateway.refuse_oversized(message, session_id, too_long)
            return
        comp_id = session_id.getTargetCompID().getValue()
        bucket = self.buckets.get(comp_id)
        if bucket is not None and not bucket.take():
            limit = gateway.clients.limits_for(comp_id).max_messages_per_second
            gateway.refuse(message, session_id, f"rate limit: at most {limit} messages per second")
            return
        busy = gateway.busy_reason()
        if busy is not None:
            gateway.refuse(message, session_id, busy)
            return
        key = session_key(session_id)
        journaled = time.perf_counter()
        try:
            journal_id = gateway.journal_in("client", message, key)
        except sqlite3.Error as exc:
            # Not kept, so not accepted (the journal locked by a VACUUM, a full disk):
            # refused with the reason, and the desk may send it again.
            log.error(
                "gateway.journal_write_failed",
                source="client",
                error=f"{type(exc).__name__}: {exc}",
            )
            reason = f"not accepted: the gateway's journal is unavailable ({exc}); send it again"
            gateway.refuse(message, session_id, reason)
            return
        translated = time.perf_counter()
        ids = cl_ord_ids if kind == "E" else None
        record = gateway.translate_in("client", message, key, journal_id, ids)
        owned = copy_message(message) if kind == "E" else None
        queued = time.perf_counter()
        stages = {
            "engine_us": (queued - started) * 1e6,
            "inbox_journal_us": (translated - journaled) * 1e6,
            "queued": queued,
        }
        gateway.submit(Work(record, owned, journal_id, stages))


class VenueSide(SafeApplication):
    """The initiator to the counterparty: translate its reports and queue them."""

    name = "venue"

    def __init__(self, gateway: Gateway, on_sent: Callable[[Any], None]) -> None:
        super().__init__()
        self.gateway = gateway
        self.on_sent = on_sent

    def to_admin(self, message: Any, session_id: Any) -> None:
        """Take the counterparty's numbers from where they started again, when it
        answers our Logon below the one expected (``venue.accept_sequence_restart``;
        :func:`~gateway.fix.engine.restarted_numbers`): one Logon refused instead of
        one every attempt until its numbers catch up with ours. Our own numbers go
        on, so its ResendRequest for them is answered under the resend rule
        (:meth:`~gateway.router.service.Gateway.resend_refusal`)."""
        numbers = restarted_numbers(message, session_id)
        if numbers is None:
            return
        accept = self.gateway.venue.accept_sequence_restart
        log.error(
            "venue.sequence_restarted",
            session=session_id.toString(),
            expected=numbers[0],
            received=numbers[1],
            action=(
                f"expecting {numbers[1]} from the next Logon on"
                if accept
                else "refused at every Logon until the counterparty's numbers catch up "
                "(venue.accept_sequence_restart is off): reset one side by hand"
            ),
        )
        if accept:
            fix.Session.lookupSession(session_id).setNextTargetMsgSeqNum(numbers[1])

    def on_logon(self, session_id: Any) -> None:
        session = fix.Session.lookupSession(session_id)
        if session is not None and session.getExpectedSenderNum() <= 2:
            # A new FIX session day (or a reset): our numbers start again at 1, and a
            # Reject's RefSeqNum must not find a list sent under that number before.
            self.gateway.forget_sent_lists()
        self.gateway.venue_logged_on.set()
        self.gateway.submit(Work("reforward"))
        log.info("venue.logon", session=session_id.toString())

    def on_logout(self, session_id: Any) -> None:
        self.gateway.venue_logged_on.clear()
        log.warning(
            "venue.logout", session=session_id.toString(), cause=self.logout_cause(session_id)
        )

    def to_app(self, message: Any, session_id: Any) -> None:
        if is_poss_dup(message):  # QuickFIX resending it: only what may be booked again
            why = self.gateway.resend_refusal(message)
            if why is not None:
                log.warning(
                    "venue.resend_skipped",
                    msg_type=msg_type(message),
                    seq=seq_num(message),
                    bundle_id=get_field(message, Tag.LIST_ID),
                    why=why,
                )
                raise fix.DoNotSend()  # the engine sends a gap fill in its place
        self.on_sent(message)

    def from_admin(self, message: Any, session_id: Any) -> None:
        if msg_type(message) == "3":  # session-level Reject of one of our messages
            ref = int(message.getField(Tag.REF_SEQ_NUM))
            text = get_field(message, Tag.TEXT) or "rejected"
            self.gateway.submit(
                Work(VenueReject(None, ref, f"counterparty rejected: session reject: {text}"))
            )

    def from_app(self, message: Any, session_id: Any) -> None:
        if msg_type(message) not in VENUE_TYPES:
            raise fix.UnsupportedMessageType()
        key = session_key(session_id)
        try:
            journal_id = self.gateway.journal_in("venue", message, key)
        except sqlite3.Error as exc:
            # The engine counts it as received either way, and the counterparty will not
            # send it again: handled from memory, so only a crash before its relay loses it.
            log.critical(
                "gateway.journal_write_failed",
                source="venue",
                error=f"{type(exc).__name__}: {exc}",
                handled="without a journal row",
            )
            journal_id = None
        record = self.gateway.translate_in("venue", message, key, journal_id)
        self.gateway.submit(Work(record, journal_id=journal_id))
