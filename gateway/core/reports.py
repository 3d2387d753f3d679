"""Report records both hops share, as typed values (no quickfix here).

The codecs in :mod:`gateway.fix.messages` encode and decode them; the gateway's
decision core maps their ids between the client and the counterparty, and the
simulated counterparty builds them from its book.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = ["ExecutionReport", "ListOrderStatus", "ListStatusType", "OrderReport"]


class ListStatusType:
    """ListStatusType (429)."""

    ACK = 1
    RESPONSE = 2
    TIMED = 3
    EXEC_STARTED = 4
    ALL_DONE = 5
    ALERT = 6


class ListOrderStatus:
    """ListOrderStatus (431)."""

    IN_BIDDING_PROCESS = 1
    RECEIVED_FOR_EXECUTION = 2
    EXECUTING = 3
    CANCELLING = 4
    ALERT = 5
    ALL_DONE = 6
    REJECT = 7


@dataclass(frozen=True, slots=True)
class OrderReport:
    """One order entry of a ListStatus (OrdListStatGrp)."""

    cl_ord_id: str
    cum_qty: int = 0
    leaves_qty: int = 0
    cxl_qty: int = 0
    avg_px: Decimal = Decimal(0)
    ord_status: str = "0"  # OrdStatus (39): 0 new, 1 partial, 2 filled, 4 cancelled, 8 rejected
    text: str | None = None


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """An ExecutionReport (35=8) for one leg: every field the gateway relays.

    From the counterparty ``cl_ord_id``/``list_id`` are its ids; the relay
    replaces them with the client's and adds ``bundle_id``.
    """

    order_id: str
    exec_id: str
    cl_ord_id: str
    exec_type: str
    ord_status: str
    symbol: str
    side: str
    cum_qty: int
    leaves_qty: int
    avg_px: Decimal
    list_id: str | None = None
    order_qty: int | None = None
    price: Decimal | None = None
    transact_time: str | None = None
    last_qty: int | None = None
    last_px: Decimal | None = None
    text: str | None = None
    bundle_id: str | None = None
    replay: bool = False
