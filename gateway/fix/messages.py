"""FIX messages both hops share: reports, rejects, cancels and field helpers.

Pure functions, no sessions. ``fixspec/README.md`` is the specification the
codecs implement; tag numbers come from :class:`fixspec.Tag`. The client hop's
codec is :mod:`gateway.fix.client_codec`, the counterparty hop's
:mod:`gateway.fix.venue_codec`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import quickfix as fix
import quickfix44 as fix44

from fixspec import Tag
from gateway.core.errors import FieldIssue
from gateway.core.exact import parse_decimal
from gateway.core.reports import ExecutionReport, ListOrderStatus, ListStatusType, OrderReport

__all__ = [
    "ExecutionReport",
    "ListOrderStatus",
    "ListStatusType",
    "OrderReport",
    "business_reject",
    "decimal_text",
    "decode_execution_report",
    "decode_order_reports",
    "encode_execution_report",
    "fix_decimal",
    "fix_text",
    "get_field",
    "group_ids",
    "is_poss_dup",
    "is_resend",
    "list_cancel_request",
    "list_status",
    "need_field",
    "new_message",
    "order_group",
    "seq_num",
    "status_group",
    "utc_now",
    "utc_stamp",
]


# quickfix44's group classes fill a 146-entry field-order array item by item on
# every construction (~27 µs); copying a template keeps the order for ~1 µs.
_ORDER_TEMPLATE = fix44.NewOrderList.NoOrders()
_STATUS_TEMPLATE = fix44.ListStatus.NoOrders()


def order_group() -> Any:
    return fix.Group(_ORDER_TEMPLATE)


def status_group() -> Any:
    return fix.Group(_STATUS_TEMPLATE)


def decimal_text(value: Decimal | int) -> str:
    """A FIX decimal: plain digits, no exponent, no trailing zeros beyond need."""
    if isinstance(value, int):
        return str(value)
    return format(value.normalize(), "f")


#: FIX's float syntax (Qty, Price, Amt, Percentage, float): an optional '-', digits and
#: at most one '.'; no '+', no exponent, no spaces (FIX 4.4 Vol 1, "Data types").
_FIX_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def fix_decimal(text: str) -> Decimal:
    """A decimal field's value, exactly; ``1E1``, ``+5``, `` 5`` and ``NaN`` are refused.

    Raises:
        ValueError: saying what is wrong, for the caller to name the field.
    """
    if not _FIX_DECIMAL.fullmatch(text):
        raise ValueError(
            f"{text!r} is not a FIX decimal: digits with an optional leading '-' and "
            "one '.', no exponent"
        )
    return parse_decimal(text)


def new_message(msg_type: str) -> Any:
    message = fix.Message()
    message.getHeader().setField(Tag.MSG_TYPE, msg_type)
    return message


def utc_stamp(moment: datetime) -> str:
    """``moment`` (UTC) as a FIX UTCTimestamp with milliseconds."""
    return moment.strftime("%Y%m%d-%H:%M:%S.%f")[:-3]


def utc_now() -> str:
    return utc_stamp(datetime.now(UTC))


def get_field(fields: Any, tag: int) -> str | None:
    return fields.getField(tag) if fields.isSetField(tag) else None


def need_field(fields: Any, tag: int, label: str, issues: list[FieldIssue]) -> str:
    """A field the gateway requires; QuickFIX does not check required fields inside
    repeating groups, so a missing one becomes an issue (and "" for the caller)."""
    value = get_field(fields, tag)
    if value is None or value == "":
        issues.append(FieldIssue(label, "required"))
        return ""
    return value


def list_status(
    *,
    list_id: str,
    status_type: int,
    order_status: int,
    orders: Iterable[OrderReport],
    text: str | None = None,
    bundle_id: str | None = None,
    reject_reason: int | None = None,
    rpt_seq: int = 1,
) -> Any:
    """A ListStatus (35=N); the reason goes once in ListStatusText (truncated there);
    an order entry carries Text only when it has a reason of its own."""
    entries = list(orders)
    message = new_message("N")
    message.setField(Tag.LIST_ID, list_id)
    message.setField(Tag.LIST_STATUS_TYPE, str(status_type))
    message.setField(Tag.NO_RPTS, "1")
    message.setField(Tag.LIST_ORDER_STATUS, str(order_status))
    message.setField(Tag.RPT_SEQ, str(rpt_seq))
    message.setField(Tag.TOT_NO_ORDERS, str(len(entries)))
    message.setField(Tag.TRANSACT_TIME, utc_now())
    if text:
        message.setField(Tag.LIST_STATUS_TEXT, fix_text(text))
    if bundle_id:
        message.setField(Tag.BUNDLE_ID, bundle_id)
    if reject_reason is not None:
        message.setField(Tag.LIST_REJECT_REASON, str(reject_reason))
    for entry in entries:
        group = status_group()
        # Never send an empty field, even when echoing a client's empty ClOrdID.
        group.setField(Tag.CL_ORD_ID, entry.cl_ord_id or "(empty)")
        group.setField(Tag.CUM_QTY, str(entry.cum_qty))
        group.setField(Tag.ORD_STATUS, entry.ord_status)
        group.setField(Tag.LEAVES_QTY, str(entry.leaves_qty))
        group.setField(Tag.CXL_QTY, str(entry.cxl_qty))
        group.setField(Tag.AVG_PX, decimal_text(entry.avg_px))
        if entry.text:  # the list's reason is in ListStatusText once, not per entry
            group.setField(Tag.TEXT, fix_text(entry.text))
        message.addGroup(group)
    return message


def business_reject(
    *,
    ref_msg_type: str,
    reason: int,
    text: str,
    ref_seq_num: int | None = None,
    ref_id: str | None = None,
) -> Any:
    """A BusinessMessageReject (35=j)."""
    message = new_message("j")
    message.setField(Tag.REF_MSG_TYPE, ref_msg_type)
    message.setField(Tag.BUSINESS_REJECT_REASON, str(reason))
    message.setField(Tag.TEXT, fix_text(text))
    if ref_seq_num is not None:
        message.setField(Tag.REF_SEQ_NUM, str(ref_seq_num))
    if ref_id:
        message.setField(Tag.BUSINESS_REJECT_REF_ID, ref_id)
    return message


def list_cancel_request(list_id: str, text: str | None = None) -> Any:
    message = new_message("K")
    message.setField(Tag.LIST_ID, list_id)
    message.setField(Tag.TRANSACT_TIME, utc_now())
    if text:
        message.setField(Tag.TEXT, fix_text(text))
    return message


def fix_text(text: str) -> str:
    """Text fields are single-line ASCII without SOH; keep reasons readable and bounded."""
    cleaned = "".join(ch if 32 <= ord(ch) < 127 else _ASCII.get(ch, "?") for ch in text)
    return cleaned[:1000]


_ASCII = {"·": "*", "−": "-", "Σ": "sum", "≤": "<=", "≥": ">=", "ρ": "rho", "…": "..."}


# --- execution reports and list statuses as typed records ----------------------------

_ER_TEXT_FIELDS = (
    (Tag.ORDER_ID, "order_id"),
    (Tag.EXEC_ID, "exec_id"),
    (Tag.CL_ORD_ID, "cl_ord_id"),
    (Tag.EXEC_TYPE, "exec_type"),
    (Tag.ORD_STATUS, "ord_status"),
    (Tag.SYMBOL, "symbol"),
    (Tag.SIDE, "side"),
)
_ER_OPTIONAL_TEXT = ((Tag.LIST_ID, "list_id"), (Tag.TRANSACT_TIME, "transact_time"))


def _exact(value: Decimal) -> str:
    """A decimal as written (no exponent, trailing zeros kept: relays stay byte-equal)."""
    return format(value, "f")


def encode_execution_report(report: ExecutionReport) -> Any:
    """An ExecutionReport (35=8) from its record (the venue's, or a relayed one)."""
    message = new_message("8")
    for tag, name in _ER_TEXT_FIELDS + _ER_OPTIONAL_TEXT:
        value = getattr(report, name)
        if value is not None:
            message.setField(tag, value)
    if report.order_qty is not None:
        message.setField(Tag.ORDER_QTY, str(report.order_qty))
    if report.price is not None:
        message.setField(Tag.PRICE, _exact(report.price))
    message.setField(Tag.CUM_QTY, str(report.cum_qty))
    message.setField(Tag.LEAVES_QTY, str(report.leaves_qty))
    message.setField(Tag.AVG_PX, _exact(report.avg_px))
    if report.last_qty is not None:
        message.setField(Tag.LAST_QTY, str(report.last_qty))
    if report.last_px is not None:
        message.setField(Tag.LAST_PX, _exact(report.last_px))
    if report.text:
        message.setField(Tag.TEXT, report.text)
    if report.bundle_id:
        message.setField(Tag.BUNDLE_ID, report.bundle_id)
    return message


def _qty(fields: Any, tag: int) -> int:
    return int(Decimal(fields.getField(tag)))


def _optional_qty(fields: Any, tag: int) -> int | None:
    text = get_field(fields, tag)
    return None if text is None else int(Decimal(text))


def _optional_decimal(fields: Any, tag: int) -> Decimal | None:
    text = get_field(fields, tag)
    return None if text is None else Decimal(text)


def decode_execution_report(message: Any) -> ExecutionReport:
    """The record of a counterparty ExecutionReport; a missing required field raises
    the engine's FieldNotFound (the engine then rejects the message)."""
    return ExecutionReport(
        order_id=message.getField(Tag.ORDER_ID),
        exec_id=message.getField(Tag.EXEC_ID),
        cl_ord_id=message.getField(Tag.CL_ORD_ID),
        exec_type=message.getField(Tag.EXEC_TYPE),
        ord_status=message.getField(Tag.ORD_STATUS),
        symbol=message.getField(Tag.SYMBOL),
        side=message.getField(Tag.SIDE),
        list_id=get_field(message, Tag.LIST_ID),
        transact_time=get_field(message, Tag.TRANSACT_TIME),
        cum_qty=_qty(message, Tag.CUM_QTY),
        leaves_qty=_qty(message, Tag.LEAVES_QTY),
        avg_px=Decimal(message.getField(Tag.AVG_PX)),
        order_qty=_optional_qty(message, Tag.ORDER_QTY),
        price=_optional_decimal(message, Tag.PRICE),
        last_qty=_optional_qty(message, Tag.LAST_QTY),
        last_px=_optional_decimal(message, Tag.LAST_PX),
        text=get_field(message, Tag.TEXT),
    )


def decode_order_reports(message: Any) -> tuple[OrderReport, ...]:
    """The order entries (OrdListStatGrp) of a ListStatus."""
    reports: list[OrderReport] = []
    group = fix.Group(Tag.NO_ORDERS, Tag.CL_ORD_ID)
    for index in range(1, message.groupCount(Tag.NO_ORDERS) + 1):
        message.getGroup(index, group)
        reports.append(
            OrderReport(
                cl_ord_id=group.getField(Tag.CL_ORD_ID),
                cum_qty=_qty(group, Tag.CUM_QTY),
                leaves_qty=_qty(group, Tag.LEAVES_QTY),
                cxl_qty=_qty(group, Tag.CXL_QTY),
                avg_px=Decimal(group.getField(Tag.AVG_PX)),
                ord_status=group.getField(Tag.ORD_STATUS),
                text=get_field(group, Tag.TEXT),
            )
        )
    return tuple(reports)


def group_ids(message: Any, count_tag: int = Tag.NO_ORDERS, tag: int = Tag.CL_ORD_ID) -> list[str]:
    """The ``tag`` of every entry of a repeating group (an entry without it is skipped)."""
    ids: list[str] = []
    group = fix.Group(count_tag, tag)
    count = message.groupCount(count_tag) if message.isSetField(count_tag) else 0
    for index in range(1, count + 1):
        message.getGroup(index, group)
        if group.isSetField(tag):
            ids.append(group.getField(tag))
    return ids


def seq_num(message: Any) -> int | None:
    header = message.getHeader()
    return int(header.getField(Tag.MSG_SEQ_NUM)) if header.isSetField(Tag.MSG_SEQ_NUM) else None


def is_poss_dup(message: Any) -> bool:
    header = message.getHeader()
    return bool(header.isSetField(Tag.POSS_DUP_FLAG) and header.getField(Tag.POSS_DUP_FLAG) == "Y")


def is_resend(message: Any) -> bool:
    """PossDupFlag (43) = Y (the engine's retransmission, under the original MsgSeqNum)
    or PossResend (97) = Y (the application's, under a new MsgSeqNum): either way the
    message may repeat one already received, and is answered, never acted on twice."""
    header = message.getHeader()
    return is_poss_dup(message) or bool(
        header.isSetField(Tag.POSS_RESEND) and header.getField(Tag.POSS_RESEND) == "Y"
    )
