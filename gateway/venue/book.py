"""The venue's record of a bundle it holds, and the reports written from it.

:class:`Resting` is what :class:`~gateway.venue.app.Venue` keeps per accepted
bundle (and journals); :func:`leg_report` and :func:`list_report` turn it into an
ExecutionReport of one leg and a ListStatus of the whole, with quantities and
average prices exact (a price without a finite decimal form is refused, never
rounded). Pure functions: the venue's state thread calls them, and the tests of
the wire format (tests/unit/gateway/venue/test_book.py) call them directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from gateway.core.bundle import OrderBundle, Side
from gateway.core.errors import GatewayError
from gateway.core.reports import ExecutionReport
from gateway.fix.messages import (
    ListOrderStatus,
    ListStatusType,
    OrderReport,
    decimal_text,
    list_status,
    utc_now,
)

__all__ = [
    "Resting",
    "average_price",
    "exact",
    "expiry",
    "leg_report",
    "list_report",
    "list_state",
    "ord_status",
    "owner",
    "wire",
]


@dataclass(slots=True)
class Resting:
    """A bundle the venue accepted, as it holds it: where it came from, its legs'
    quantities filled and notional (exact), and how it ended. The journal stores
    the same fields (:class:`~gateway.venue.journal.VenueRow`)."""

    session: tuple[str, str, str]
    bundle: OrderBundle
    cl_ord_ids: tuple[str, ...]
    filled: list[int]
    notional: list[Fraction]
    raw: str = ""
    expires_at: datetime | None = None
    started: bool = False
    done: bool = False
    closed: str | None = None
    close_text: str = ""
    exclusions: int = 0  # auctions that left it out (its fill failed verification)

    @property
    def remaining(self) -> tuple[int, ...]:
        """Each leg's quantity not filled yet."""
        return tuple(
            leg.max_qty - done for leg, done in zip(self.bundle.legs, self.filled, strict=True)
        )


def owner(resting: Resting) -> str:
    """The client a resting bundle belongs to, for self-trade prevention: the desk
    named in its orders' Parties (PartyRole 3) within the gateway session it came
    on; "" (never held back) when it names none."""
    client = resting.bundle.metadata.get("client")
    return f"{resting.session[2]}/{client}" if client else ""


def list_state(resting: Resting) -> tuple[int, int, str]:
    """Where the bundle stands, as its reports so far left it: ListStatusType (429),
    ListOrderStatus (431) and a word for texts: resting, executing once a fill went
    out, or done."""
    if resting.done:
        return ListStatusType.ALL_DONE, ListOrderStatus.ALL_DONE, "done"
    if resting.started:
        return ListStatusType.EXEC_STARTED, ListOrderStatus.EXECUTING, "executing"
    return ListStatusType.ACK, ListOrderStatus.IN_BIDDING_PROCESS, "resting"


def list_report(
    list_id: str,
    resting: Resting,
    status_type: int,
    order_status: int,
    *,
    text: str,
    closed: str | None = None,
) -> Any:
    """The bundle's ListStatus (35=N) with every leg's quantities and OrdStatus;
    ``closed``: the ExecType its open legs were closed with (they show LeavesQty 0)."""
    orders = []
    for index, (cl_ord_id, leg) in enumerate(
        zip(resting.cl_ord_ids, resting.bundle.legs, strict=True)
    ):
        done = resting.filled[index]
        left = leg.max_qty - done
        orders.append(
            OrderReport(
                cl_ord_id,
                cum_qty=done,
                leaves_qty=0 if closed else left,
                cxl_qty=left if closed else 0,
                avg_px=average_price(resting, index),
                ord_status=ord_status(done, left, closed),
            )
        )
    return list_status(
        list_id=list_id,
        status_type=status_type,
        order_status=order_status,
        text=text,
        orders=orders,
    )


def leg_report(
    resting: Resting,
    index: int,
    *,
    exec_id: str,
    exec_type: str,
    last_qty: int = 0,
    last_px: Fraction | None = None,
    text: str | None = None,
) -> ExecutionReport:
    """The record of one leg's ExecutionReport. Prices are written as
    :func:`decimal_text` writes them (``encode_execution_report`` keeps a Decimal's
    digits as they are)."""
    leg = resting.bundle.legs[index]
    done = resting.filled[index]
    closing = exec_type in ("4", "3", "C")
    left = 0 if closing else leg.max_qty - done
    fill = last_px is not None
    return ExecutionReport(
        order_id=f"V{resting.cl_ord_ids[index]}",
        exec_id=exec_id,
        cl_ord_id=resting.cl_ord_ids[index],
        exec_type=exec_type,
        ord_status=exec_type if closing else ord_status(done, left, None),
        symbol=leg.symbol,
        side="1" if leg.side is Side.BUY else "2",
        cum_qty=done,
        leaves_qty=left,
        avg_px=wire(average_price(resting, index)),
        list_id=resting.bundle.bundle_id,
        order_qty=leg.max_qty,
        price=wire(leg.limit_price),
        transact_time=utc_now(),
        last_qty=last_qty if fill else None,
        last_px=exact(last_px) if last_px is not None else None,
        text=text or None,
    )


def ord_status(done: int, left: int, closed: str | None) -> str:
    """OrdStatus (39) of a leg: filled when nothing is left, else its close's
    ExecType (4, 3, C) once closed, partially filled or new while open."""
    if closed:
        return "2" if left == 0 else closed
    if left == 0:
        return "2"
    return "1" if done else "0"


def average_price(resting: Resting, index: int) -> Decimal:
    """AvgPx (6) of a leg: its notional over its filled quantity (0 unfilled); exact when
    that is a finite decimal, else rounded to 28 significant digits (Decimal's context)."""
    done = resting.filled[index]
    if not done:
        return Decimal(0)
    value = resting.notional[index] / done
    return Decimal(value.numerator) / Decimal(value.denominator)


def wire(value: Decimal) -> Decimal:
    """``value`` with the digits :func:`decimal_text` writes (no trailing zeros)."""
    return Decimal(decimal_text(value))


def exact(value: Fraction) -> Decimal:
    """A price that is a finite decimal (mid of two decimals, or a limit), exactly."""
    result = Decimal(value.numerator) / Decimal(value.denominator)
    if Fraction(result) != value:
        raise GatewayError(f"price {value} has no finite decimal form")
    return wire(result)


def expiry(bundle: OrderBundle) -> datetime | None:
    """When the bundle expires: its orders' ExpireTime (126), passed on by the gateway."""
    expires = bundle.metadata.get("expire_time")
    return _parse_utc(expires) if expires else None


def _parse_utc(text: str) -> datetime | None:
    for fmt in ("%Y%m%d-%H:%M:%S.%f", "%Y%m%d-%H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None
