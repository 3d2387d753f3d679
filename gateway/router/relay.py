"""The gateway's decision core, counterparty side: a venue report in, relays out.

I/O-free, like :mod:`gateway.router.decide`, and over the same :class:`Book`.
Every report about an accepted bundle is mapped back to the client's ids and
relayed; a terminal ListStatus (or a counterparty reject) is followed by
:class:`Close`, which the service carries out *after* the relay went out (a
crash in between replays the report, flagged PossResend, instead of losing
it); a bundle relays at most one terminal answer.

A counterparty's reject of a bundle the gateway accepted reaches the client as
ListStatusType (429) 5 (all done) with ListOrderStatus (431) 7: the gateway's
own decision reject is 429 = 2, so the two never share a shape. Each report
also updates the legs' state in the book (:attr:`BundleRecord.orders`), which
answers a resend of the list.

At each logon of the counterparty session the gateway asks it about every open
bundle it forwarded (:meth:`Relay.to_reconcile`, ListStatusRequest 35=M). Its
ListStatus answer is relayed like any other; an unknown-ID refusal closes the
bundle as a cancel refused the same way does (:meth:`Relay._close_unknown`); and
each answer is tallied (:class:`Reconciled`) for the log and the metrics.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from gateway.core.reports import ListOrderStatus, ListStatusType, OrderReport
from gateway.router.book import Book
from gateway.router.records import (
    Action,
    BundleRecord,
    BusinessReason,
    CancelOut,
    Close,
    Denied,
    DenyCode,
    DenyKind,
    Ignored,
    NoticeReject,
    Reconciled,
    ReconcileOutcome,
    RelayExecution,
    RelayStatus,
    VenueExecution,
    VenueListStatus,
    VenueReject,
)

__all__ = ["TERMINAL_LIST_STATUS", "Relay"]

TERMINAL_LIST_STATUS = frozenset({ListOrderStatus.ALL_DONE, ListOrderStatus.REJECT})


@dataclass(slots=True)
class _Tally:
    """The ListStatusRequests of one counterparty logon and their answers so far."""

    asked: int
    waiting: set[str]
    counts: dict[ReconcileOutcome, int] = field(
        default_factory=lambda: dict.fromkeys(ReconcileOutcome, 0)
    )


class Relay:
    """Counterparty reports → client relays, over a :class:`Book`."""

    def __init__(self, book: Book, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.book = book
        self.clock = clock
        #: A desk's cancel forwarded and not yet answered, by BundleID: the desk hears
        #: of it if the counterparty refuses the cancel.
        self.cancels: dict[str, CancelOut] = {}
        #: The ListStatusRequests sent at the counterparty's last logon, and their answers.
        self._tally: _Tally | None = None

    def cancel_sent(self, cancel: CancelOut) -> None:
        """A desk's ListCancelRequest went to the counterparty."""
        self.cancels[cancel.bundle_id] = cancel

    # reconciliation at the counterparty's logon ----------------------------------------
    def to_reconcile(self, skip: Collection[str] = ()) -> list[str]:
        """The counterparty logged on: the BundleIDs to ask it about (ListStatusRequest).

        Every open bundle but those in ``skip``: bundles not forwarded yet, and those
        forwarded again at this logon (the counterparty answers a repeated BundleID
        with its state). A done bundle is never asked about."""
        return [r.bundle_id for r in self.book.open_records() if r.bundle_id not in skip]

    def reconciling(self, asked: Sequence[str]) -> int:
        """The requests about ``asked`` went out: their answers are tallied from now on.
        Returns how many requests of the previous logon were never answered (the
        session dropped first): the bundles still open among them are asked again."""
        unanswered = len(self._tally.waiting) if self._tally is not None else 0
        self._tally = _Tally(len(asked), set(asked))
        return unanswered

    def _answered(self, bundle_id: str | None, outcome: ReconcileOutcome) -> list[Action]:
        """Tally the counterparty's answer about ``bundle_id``, if it was asked about."""
        tally = self._tally
        if tally is None or bundle_id is None or bundle_id not in tally.waiting:
            return []
        tally.waiting.discard(bundle_id)
        tally.counts[outcome] += 1
        counts = tally.counts
        return [
            Reconciled(
                bundle_id,
                outcome,
                tally.asked,
                counts[ReconcileOutcome.HELD],
                counts[ReconcileOutcome.CLOSED],
                counts[ReconcileOutcome.REFUSED],
            )
        ]

    # reports ---------------------------------------------------------------------------
    def on_status(self, status: VenueListStatus) -> list[Action]:
        """Any ListStatus of an asked-about bundle answers for it: the counterparty holds
        it (the status itself goes the usual way, whatever it says)."""
        return self._status(status) + self._answered(status.bundle_id, ReconcileOutcome.HELD)

    def _status(self, status: VenueListStatus) -> list[Action]:
        record = self.book.by_bundle.get(status.bundle_id)
        if record is None:
            return [Ignored("venue.unknown_list", status.bundle_id)]
        if record.done:
            # A restarted venue may send a bundle's final state twice (its resync and
            # QuickFIX's resend of the original): the client gets one terminal status.
            return [Ignored("venue.status_after_done", status.bundle_id, error=False)]
        orders = []
        legs: list[tuple[int, OrderReport]] = []
        for order in status.orders:
            entry = self.book.by_venue_order.get(order.cl_ord_id)
            if entry is None or entry[0] is not record:
                detail = f"unknown order {order.cl_ord_id!r} in the status"
                return [Ignored("venue.unknown_order", status.bundle_id, detail)]
            mapped = dataclasses.replace(order, cl_ord_id=record.cl_ord_ids[entry[1]])
            orders.append(mapped)
            legs.append((entry[1], mapped))
        for index, order in legs:
            record.orders[index] = dataclasses.replace(order, text=None)
        relayed = dataclasses.replace(status, orders=tuple(orders))
        if status.order_status == ListOrderStatus.REJECT:
            # A reject after the gateway's acceptance: never the decision's shape (429=2).
            relayed = dataclasses.replace(relayed, status_type=ListStatusType.ALL_DONE)
        actions: list[Action] = [
            RelayStatus(record.client, record.list_id, record.bundle_id, relayed)
        ]
        if status.order_status in TERMINAL_LIST_STATUS:
            actions.append(Close(record.bundle_id))
        return actions

    def close(self, bundle_id: str) -> None:
        """Carrying out :class:`Close`, after the relay went out: the bundle is done."""
        self.cancels.pop(bundle_id, None)  # a cancel's answer is the terminal status
        record = self.book.by_bundle.get(bundle_id)
        if record is not None and not record.done:
            self.book.finish(record, self.clock())

    def on_execution(self, execution: VenueExecution) -> list[Action]:
        entry = self.book.by_venue_order.get(execution.cl_ord_id)
        if entry is None:
            return [Ignored("venue.unknown_order", None, execution.cl_ord_id)]
        record, index = entry
        actions: list[Action] = []
        if record.done:
            # Within the grace period a done bundle's reports still reach the desk, which
            # drops a copy by its ExecID (a restarted venue resends what it sent). The
            # legs' state stays the terminal status's: an older report must not undo it.
            detail = f"{execution.cl_ord_id}: relayed after the bundle's terminal status"
            actions.append(Ignored("venue.execution_after_done", record.bundle_id, detail, False))
        elif execution.state is not None:
            state = execution.state
            record.orders[index] = dataclasses.replace(
                state,
                cl_ord_id=record.cl_ord_ids[index],
                cxl_qty=max(0, record.legs_qty[index] - state.cum_qty - state.leaves_qty),
                text=None,
            )
        actions.append(
            RelayExecution(
                record.client,
                execution,
                record.cl_ord_ids[index],
                record.list_id,
                record.bundle_id,
            )
        )
        return actions

    def on_reject(self, reject: VenueReject) -> list[Action]:
        if reject.ref_msg_type == "K":
            return self._cancel_refused(reject)
        if reject.ref_msg_type == "M":
            return self._status_request_refused(reject)
        record = self.book.by_bundle.get(reject.bundle_id) if reject.bundle_id else None
        if record is None or record.done:
            # A bundle relays one terminal answer: a reject after it finished is logged.
            return [Ignored("venue.reject_unmatched", reject.bundle_id, reject.reason)]
        record.orders = [
            OrderReport(order.cl_ord_id, order.cum_qty, 0, 0, order.avg_px, "8")
            for order in record.orders
        ]
        denied = Denied(
            record.client,
            record.list_id,
            record.cl_ord_ids,
            DenyCode.OTHER,
            reject.reason,
            remember=False,
            bundle_id=record.bundle_id,
            kind=DenyKind.COUNTERPARTY,
        )
        return [denied, Close(record.bundle_id)]

    def _cancel_refused(self, reject: VenueReject) -> list[Action]:
        """The counterparty refused a ListCancelRequest.

        Refused as an unknown id while the bundle is open here, the counterparty holds
        no such list (it lost its book, say): nothing more can fill, so the bundle is
        closed, its legs cancelled, and the desk told, which also answers a cancel it
        sent. Refused for another reason, the bundle stays open and a desk that asked
        for the cancel gets the refusal. After the bundle finished (its terminal status
        crossed the cancel) there is nothing to do."""
        bundle_id = reject.bundle_id or ""
        record = self.book.by_bundle.get(bundle_id)
        if record is None or record.done:
            self.cancels.pop(bundle_id, None)
            return [Ignored("venue.cancel_refused_after_done", bundle_id, reject.reason, False)]
        if not reject.unknown_id:
            refused: list[Action] = [Ignored("venue.cancel_refused", bundle_id, reject.reason)]
            asked = self.cancels.pop(bundle_id, None)
            if asked is not None:
                text = f"cannot cancel {record.list_id!r}: {reject.reason}; the list stays open"
                refused.append(
                    NoticeReject(
                        asked.session,
                        "K",
                        BusinessReason.OTHER,
                        text,
                        asked.ref_seq_num,
                        record.list_id,
                    )
                )
            return refused
        return self._close_unknown(record, reject)

    def _status_request_refused(self, reject: VenueReject) -> list[Action]:
        """The counterparty refused the ListStatusRequest sent at its logon.

        Refused as an unknown ID while the bundle is open here, it holds no such list,
        and nothing more can fill: the bundle is closed as for a cancel refused so. A
        NewOrderList the gateway sent before the disconnect and the counterparty had
        not received is no exception: the request went out after it on the same
        session, so QuickFIX's resend at the logon delivered the list first (FIX
        processes a session's messages in sequence). Only a sequence reset (a new
        session day) loses such a list, and then the counterparty never gets it:
        closing is right, and sending it again could place a bundle a second time
        (one that filled before the counterparty lost its book). Refused for another
        reason (it does not serve the request), the bundle stays open."""
        bundle_id = reject.bundle_id
        record = self.book.by_bundle.get(bundle_id) if bundle_id else None
        actions: list[Action]
        if not reject.unknown_id:
            outcome = ReconcileOutcome.REFUSED
            actions = [Ignored("venue.status_request_refused", bundle_id, reject.reason)]
        elif record is None or record.done:
            outcome = ReconcileOutcome.CLOSED
            event = "venue.status_unknown_after_done"
            actions = [Ignored(event, bundle_id, reject.reason, False)]
        else:
            outcome = ReconcileOutcome.CLOSED
            actions = self._close_unknown(record, reject)
        return actions + self._answered(bundle_id, outcome)

    def _close_unknown(self, record: BundleRecord, reject: VenueReject) -> list[Action]:
        """The counterparty holds no such list (it lost its book, say), refused as an
        unknown ID: close the open bundle here, its open legs cancelled, and tell the
        desk with a terminal ListStatus saying so."""
        bundle_id = record.bundle_id
        record.orders = [
            dataclasses.replace(
                order,
                leaves_qty=0,
                cxl_qty=max(0, qty - order.cum_qty),
                ord_status="4" if order.cum_qty < qty else order.ord_status,
                text=None,
            )
            for order, qty in zip(record.orders, record.legs_qty, strict=True)
        ]
        closed = VenueListStatus(
            bundle_id=bundle_id,
            status_type=ListStatusType.ALL_DONE,
            order_status=ListOrderStatus.ALL_DONE,
            rpt_seq=1,
            orders=tuple(record.orders),
            text=(
                f"closed: the counterparty has no open list {bundle_id} ({reject.reason}); "
                "nothing more will fill"
            ),
        )
        return [
            Ignored("venue.list_unknown_closed", bundle_id, reject.reason),
            RelayStatus(record.client, record.list_id, bundle_id, closed),
            Close(bundle_id),
        ]
