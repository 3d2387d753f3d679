"""The typed records the decision core takes and the actions it returns.

The session applications (:mod:`gateway.router.sessions`) turn quickfix
messages into the *inputs* below with the codecs in :mod:`gateway.fix`; the
decision core (:mod:`gateway.router.decide`, :mod:`gateway.router.relay`)
answers with *actions*; the service (:mod:`gateway.router.service`) carries
the actions out, in order: journal, encode, send, log. Nothing in this module
imports quickfix or touches a socket or a file (docs/architecture.md).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.core.bundle import OrderBundle
from gateway.core.instruments import Instrument
from gateway.core.reports import OrderReport

__all__ = [
    "NOT_IN_BUNDLE",
    "Accept",
    "Action",
    "Admit",
    "Breach",
    "BundleRecord",
    "CancelOut",
    "Close",
    "Decision",
    "Denied",
    "DenyCode",
    "DenyKind",
    "DeskSession",
    "Ignored",
    "InstrumentsIn",
    "ListCancel",
    "ListHeader",
    "NoticeReject",
    "ReconcileOutcome",
    "Reconciled",
    "RelayExecution",
    "RelayStatus",
    "Repeat",
    "SessionKey",
    "Solved",
    "VenueExecution",
    "VenueListStatus",
    "VenueReject",
]

#: (BeginString, SenderCompID, TargetCompID) of a session, as the gateway sees it.
SessionKey = tuple[str, str, str]

#: Text (58) of the order entry of a client order the strategy left out of the bundle.
NOT_IN_BUNDLE = "not part of the bundle: no trade"


class DenyCode(enum.IntEnum):
    """ListRejectReason (1386) of a denied list; chosen by the kind of failure."""

    CLOSED = 2  # the counterparty session is not logged on, or refused the message
    DUPLICATE = 6  # a ClOrdID already used by this client
    UNSUPPORTED = 11  # unsupported order characteristic: unknown strategy, too many orders
    OTHER = 99  # anything else, with the reason in the text


class DenyKind(enum.StrEnum):
    """Why a list was denied, as a metrics label (``bidgw_bundles_denied_total``'s
    ``kind``): the wire carries only ListRejectReason, 99 for most of these, and the
    text."""

    INVALID = "invalid"  # the list or its payload cannot be built (fields, strategy, size)
    DUPLICATE = "duplicate"  # a ClOrdID this client already used
    HALTED = "halted"  # an operator's halt or kill switch
    LIMIT = "limit"  # a client limit: legs, open bundles, notional, open quantity
    PRETRADE = "pretrade"  # the pre-trade checks against the instrument list
    INFEASIBLE = "infeasible"  # the pre-solver proved that no non-empty fill exists
    PRESOLVE_TIMEOUT = "presolve_timeout"  # the pre-solve ran out of time
    VENUE_DOWN = "venue_down"  # the counterparty session is down or refused the send
    COUNTERPARTY = "counterparty"  # the counterparty rejected a bundle after acceptance
    INTERNAL = "internal"  # a failure inside the gateway, or it is stopping


@dataclass(frozen=True, slots=True)
class Breach:
    """A check a list fails before it is solved: the reason (the reject's text) and
    whether it is a client limit or a pre-trade check."""

    reason: str
    kind: DenyKind


class ReconcileOutcome(enum.StrEnum):
    """What the counterparty answered to a ListStatusRequest (35=M) the gateway sent at
    its logon, as a metrics label (``bidgw_reconcile_bundles_total``'s ``outcome``)."""

    HELD = "held"  # a ListStatus: it holds the list (the status went the usual way)
    CLOSED = "closed"  # unknown ID: it holds no such list, so the gateway closed it
    REFUSED = "refused"  # refused for another reason: the bundle stays open


class BusinessReason(enum.IntEnum):
    """BusinessRejectReason (380) values the gateway sends."""

    OTHER = 0
    UNKNOWN_ID = 1
    NOT_AVAILABLE = 4


# --- inputs -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListHeader:
    """What the core needs of a client NewOrderList before anything is decoded."""

    session: SessionKey
    list_id: str
    cl_ord_ids: tuple[str, ...]
    #: PossDupFlag (43) or PossResend (97) = Y: it may repeat a list already received.
    poss_dup: bool = False
    replay: bool = False  # re-read from the journal after a restart
    #: Replayed after its handling already ended the process twice (once live, once
    #: replayed): denied instead of tried a third time.
    poisoned: bool = False
    #: MsgSeqNum (34) of the message: what a BusinessMessageReject refers to.
    ref_seq_num: int | None = None


@dataclass(frozen=True, slots=True)
class Solved:
    """A strategy build and pre-solve, finished off the state owner.

    Either ``bundle`` with the pre-solver's answer (``feasible``, ``outcome``,
    ``reason``, ``max_fill`` per leg; not solved when a client limit or a
    pre-trade check already refuses it, ``refused`` saying why), or ``error``:
    what the decode, the build or the solver raised.
    """

    header: ListHeader
    bundle_id: str
    bundle: OrderBundle | None = None
    open_before: int = 0
    feasible: bool = False
    outcome: str = ""
    reason: str = ""
    max_fill: tuple[int, ...] = ()
    presolve_ms: float | None = None
    error: BaseException | None = None
    #: The payload's bidder_data the bundle was built from (for the operator page's
    #: achieved-vs-bound measure); None when the build failed.
    bidder_data: Mapping[str, Any] | None = None
    #: Why the pool did not solve it (a limit or a pre-trade check); the decider
    #: checks again, and denies with this breach if the check passes by then.
    refused: Breach | None = None


@dataclass(frozen=True, slots=True)
class ListCancel:
    session: SessionKey
    list_id: str
    ref_seq_num: int | None


@dataclass(frozen=True, slots=True)
class VenueListStatus:
    """A counterparty ListStatus (35=N), decoded; order entries carry venue ClOrdIDs."""

    bundle_id: str
    status_type: int
    order_status: int
    rpt_seq: int
    orders: tuple[OrderReport, ...]
    text: str | None = None
    reject_reason: int | None = None
    replay: bool = False


@dataclass(frozen=True, slots=True)
class VenueExecution:
    """A counterparty ExecutionReport: the ClOrdID the core maps back to the client's,
    and the message itself, owned by this record and relayed as it came with only
    the ids replaced (fields bidgw does not model reach the desk untouched). The
    core never looks inside ``message``."""

    cl_ord_id: str
    message: Any  # a quickfix Message (untyped); the core passes it on unread
    replay: bool = False
    #: The order's state the report carries (CumQty, LeavesQty, AvgPx, OrdStatus; in
    #: the venue's ClOrdID), when it could be read: kept to answer a resend.
    state: OrderReport | None = None


@dataclass(frozen=True, slots=True)
class VenueReject:
    """The counterparty refused a message (BusinessMessageReject or session Reject).

    ``bundle_id``: for a refused list, what the service found for its RefSeqNum, if
    anything; for a refused cancel or status request (``ref_msg_type`` "K" or "M"), the
    BusinessRejectRefID. ``unknown_id``: BusinessRejectReason (380) 1, the counterparty
    has no such list."""

    bundle_id: str | None
    ref_seq_num: int | None
    reason: str
    ref_msg_type: str | None = None
    unknown_id: bool = False


# --- state --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InstrumentsIn:
    """A SecurityList (35=y) from the counterparty, or its refusal of the request
    (``result`` other than 0: SecurityRequestResult, or -1 for a BusinessMessageReject
    of the SecurityListRequest)."""

    req_id: str
    result: int
    instruments: tuple[Instrument, ...] = ()
    last_fragment: bool = True
    text: str | None = None


@dataclass(frozen=True, slots=True)
class DeskSession:
    """A desk's session logged on (``up``; ``reset``: its Logon carried
    ResetSeqNumFlag) or off."""

    comp_id: str
    up: bool
    reset: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    """What a client was told about a ListID (to answer a PossDup resend)."""

    accepted: bool
    text: str
    cl_ord_ids: tuple[str, ...]
    bundle_id: str | None = None
    reject_reason: int | None = None
    #: Not a decision yet: the list is being built and pre-solved.
    pending: bool = False


@dataclass(slots=True)
class BundleRecord:
    """One accepted bundle and how its ids map between the client and the counterparty."""

    client: SessionKey
    list_id: str
    cl_ord_ids: tuple[str, ...]  # the client order of each leg
    all_ids: tuple[str, ...]  # every ClOrdID of the client's list
    bundle_id: str
    venue_ids: tuple[str, ...]
    legs_qty: tuple[int, ...]
    done: bool = False
    #: Each leg's symbol (the per-symbol open-quantity limit reads it; empty for a
    #: bundle restored from a journal written before it was kept).
    symbols: tuple[str, ...] = ()
    #: Each leg's state as last reported (in the client's ClOrdIDs): what a resend of
    #: the list is answered with. Starts as the acceptance has it.
    orders: list[OrderReport] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.orders:
            self.orders = [
                OrderReport(c, leaves_qty=q)
                for c, q in zip(self.cl_ord_ids, self.legs_qty, strict=True)
            ]


# --- actions ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Denied:
    """A list the gateway will not forward: the one exit for every reject reason.

    ``remember`` is false for a decision that must not be recorded under the
    ListID (a duplicate ListID, a list refused before its ids were read).
    """

    session: SessionKey
    list_id: str
    cl_ord_ids: tuple[str, ...]
    code: DenyCode
    reason: str
    remember: bool = True
    bundle_id: str | None = None
    presolve_ms: float | None = None
    kind: DenyKind = DenyKind.INTERNAL


@dataclass(frozen=True, slots=True)
class Admit:
    """Ids taken: build and pre-solve this list off the state owner as ``bundle_id``.

    ``open_before`` is how many of the client's bundles were open or being solved
    when the list arrived: the open-bundle limit is judged on that count."""

    header: ListHeader
    bundle_id: str
    open_before: int = 0


@dataclass(frozen=True, slots=True)
class Repeat:
    """A resend (PossDup, PossResend) or a replay of a decided list: answer again with the
    decision and every order's current state (``orders``), forward nothing."""

    session: SessionKey
    list_id: str
    decision: Decision
    orders: tuple[OrderReport, ...] = ()


@dataclass(frozen=True, slots=True)
class Accept:
    """Journal, forward ``bundle`` downstream, then acknowledge it to the client."""

    record: BundleRecord
    bundle: OrderBundle
    text: str
    max_fill: tuple[int, ...]
    presolve_ms: float | None
    bidder_data: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RelayStatus:
    """Send a counterparty ListStatus to the client: ``status`` is in the client's
    ClOrdIDs, ``list_id`` the client's ListID, ``bundle_id`` the gateway's."""

    session: SessionKey
    list_id: str
    bundle_id: str
    status: VenueListStatus


@dataclass(frozen=True, slots=True)
class RelayExecution:
    """Relay ``execution.message`` to the client under its own ids."""

    session: SessionKey
    execution: VenueExecution
    cl_ord_id: str
    list_id: str
    bundle_id: str


@dataclass(frozen=True, slots=True)
class Close:
    """The bundle is done: carried out after the relay that preceded it, it finishes
    the bundle in the book (:meth:`Relay.close`) and journals it done."""

    bundle_id: str


@dataclass(frozen=True, slots=True)
class CancelOut:
    """Forward a ListCancelRequest for ``bundle_id`` to the counterparty."""

    session: SessionKey
    list_id: str
    bundle_id: str
    ref_seq_num: int | None


@dataclass(frozen=True, slots=True)
class NoticeReject:
    """A BusinessMessageReject (35=j) to a client."""

    session: SessionKey
    ref_msg_type: str
    reason: BusinessReason
    text: str
    ref_seq_num: int | None = None
    ref_id: str | None = None


@dataclass(frozen=True, slots=True)
class Reconciled:
    """The counterparty answered the ListStatusRequest about ``bundle_id`` sent at its
    logon (``outcome``); ``asked`` ... ``refused``: that logon's tally after this answer."""

    bundle_id: str
    outcome: ReconcileOutcome
    asked: int
    held: int
    closed: int
    refused: int

    @property
    def complete(self) -> bool:
        """Every request of that logon has its answer."""
        return self.held + self.closed + self.refused >= self.asked


@dataclass(frozen=True, slots=True)
class Ignored:
    """A counterparty report that maps to nothing relayable: logged, not sent."""

    event: str
    bundle_id: str | None = None
    detail: str = ""
    error: bool = True


Action = (
    Ignored
    | Denied
    | Admit
    | Repeat
    | Accept
    | RelayStatus
    | RelayExecution
    | Close
    | CancelOut
    | NoticeReject
    | Reconciled
)
