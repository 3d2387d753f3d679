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
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from gateway.core.reports import ListOrderStatus, ListStatusType, OrderReport
from gateway.router.book import Book
from gateway.router.records import (
    Action,
    Close,
    Denied,
    DenyCode,
    Ignored,
    RelayExecution,
    RelayStatus,
    VenueExecution,
    VenueListStatus,
    VenueReject,
)

__all__ = ["TERMINAL_LIST_STATUS", "Relay"]

TERMINAL_LIST_STATUS = frozenset({ListOrderStatus.ALL_DONE, ListOrderStatus.REJECT})


class Relay:
    """Counterparty reports → client relays, over a :class:`Book`."""

    def __init__(self, book: Book, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.book = book
        self.clock = clock

    def on_status(self, status: VenueListStatus) -> list[Action]:
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
        record = self.book.by_bundle.get(bundle_id)
        if record is not None and not record.done:
            self.book.finish(record, self.clock())

    def on_execution(self, execution: VenueExecution) -> list[Action]:
        entry = self.book.by_venue_order.get(execution.cl_ord_id)
        if entry is None:
            return [Ignored("venue.unknown_order", None, execution.cl_ord_id)]
        record, index = entry
        if execution.state is not None:
            state = execution.state
            record.orders[index] = dataclasses.replace(
                state,
                cl_ord_id=record.cl_ord_ids[index],
                cxl_qty=max(0, record.legs_qty[index] - state.cum_qty - state.leaves_qty),
                text=None,
            )
        return [
            RelayExecution(
                record.client,
                execution,
                record.cl_ord_ids[index],
                record.list_id,
                record.bundle_id,
            )
        ]

    def on_reject(self, reject: VenueReject) -> list[Action]:
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
        )
        return [denied, Close(record.bundle_id)]
