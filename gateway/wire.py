"""FIX encoding and decoding: payloads, bundles and reports <-> quickfix messages.

Pure functions, no sessions. ``fixspec/README.md`` is the specification this
module implements; tag numbers come from :class:`fixspec.Tag`.

Client → gateway, a bidder payload as NewOrderList (35=E)::

    ListID(66) BidType(394)=3 TotNoOrders(68) BidderType(20001) [LotSize(20002)]
    [NoStrategyParameters(957): name(958) type(959) value(960)]   list-level bidder data
    NoOrders(73): ClOrdID(11) ListSeqNo(67) Symbol(55) Side(54) OrderQty(38)
                  OrdType(40)=2 Price(44) [RoundLot(561)]
                  [NoStrategyParameters(957) ...]                 per-order bidder data

decodes to the same envelope a payload YAML file gives: the orders become
``bidder_data.positions`` (symbol, side, qty, price, lot_size plus each order's
parameters) and the list-level parameters become the other ``bidder_data``
keys. Any strategy's scalar parameters travel this way, so a third-party
plugin needs no dictionary change.

Gateway → counterparty, the compiled bundle as NewOrderList: the legs as
orders plus NoBundleConstraints(20010) with the coefficient of each order's
fill quantity, so the counterparty needs no strategy code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import quickfix as fix
import quickfix44 as fix44

from fixspec import Tag
from gateway.bundle import Constraint, Leg, OrderBundle, Sense, Side
from gateway.errors import FieldIssue, PayloadError
from gateway.exact import parse_decimal

__all__ = [
    "InboundList",
    "InboundOrder",
    "ListOrderStatus",
    "ListStatusType",
    "OrderReport",
    "business_reject",
    "decimal_text",
    "decode_bundle",
    "decode_new_order_list",
    "encode_bundle",
    "encode_new_order_list",
    "list_cancel_request",
    "list_status",
    "new_message",
]

# StrategyParameterType (959) values we read and write.
_INT, _FLOAT, _QTY, _PRICE, _AMT, _PERCENTAGE, _BOOLEAN, _STRING = (
    "1",
    "6",
    "7",
    "8",
    "10",
    "11",
    "13",
    "14",
)
_DECIMAL_TYPES = {_FLOAT, _QTY, _PRICE, _AMT, _PERCENTAGE}
_INTEGER = re.compile(r"^-?\d+$")
#: Position keys carried by standard order fields, never as parameters.
_ORDER_KEYS = {
    "symbol": Tag.SYMBOL,
    "side": Tag.SIDE,
    "qty": Tag.ORDER_QTY,
    "price": Tag.PRICE,
    "lot_size": Tag.ROUND_LOT,
}
_SENSE_CODES = {Sense.LE: "L", Sense.EQ: "E", Sense.GE: "G"}
# quickfix44's group classes fill a 146-entry field-order array item by item on
# every construction (~27 µs); copying a template keeps the order for ~1 µs.
_ORDER_TEMPLATE = fix44.NewOrderList.NoOrders()
_STATUS_TEMPLATE = fix44.ListStatus.NoOrders()


def _order_group() -> Any:
    return fix.Group(_ORDER_TEMPLATE)


def _status_group() -> Any:
    return fix.Group(_STATUS_TEMPLATE)


_SENSES = {code: sense for sense, code in _SENSE_CODES.items()}


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


def decimal_text(value: Decimal | int) -> str:
    """A FIX decimal: plain digits, no exponent, no trailing zeros beyond need."""
    if isinstance(value, int):
        return str(value)
    return format(value.normalize(), "f")


def new_message(msg_type: str) -> Any:
    message = fix.Message()
    message.getHeader().setField(Tag.MSG_TYPE, msg_type)
    return message


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]


def _get(fields: Any, tag: int) -> str | None:
    return fields.getField(tag) if fields.isSetField(tag) else None


def _need(fields: Any, tag: int, label: str, issues: list[FieldIssue]) -> str:
    """A field the gateway requires; QuickFIX does not check required fields inside
    repeating groups, so a missing one becomes an issue (and "" for the caller)."""
    value = _get(fields, tag)
    if value is None or value == "":
        issues.append(FieldIssue(label, "required"))
        return ""
    return value


# --- client payload <-> NewOrderList -------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboundOrder:
    cl_ord_id: str
    list_seq_no: int
    expire_time: str | None = None  # ExpireTime (126), passed through to the counterparty


@dataclass(frozen=True, slots=True)
class InboundList:
    """A decoded client NewOrderList: ids plus the payload envelope (a plain dict)."""

    list_id: str
    orders: tuple[InboundOrder, ...]
    envelope: dict[str, Any]


def _param_type(value: object) -> tuple[str, str]:
    if isinstance(value, bool):
        return _BOOLEAN, "Y" if value else "N"
    if isinstance(value, int):
        return _INT, str(value)
    if isinstance(value, Decimal):
        return _FLOAT, decimal_text(value)
    if isinstance(value, str):
        return _STRING, value
    raise PayloadError(
        f"cannot send {type(value).__name__} value {value!r} over FIX: only "
        "numbers, strings and booleans travel as strategy parameters"
    )


def _add_params(target: Any, params: Mapping[str, object]) -> None:
    for name, value in params.items():
        kind, text = _param_type(value)
        group = fix.Group(Tag.NO_STRATEGY_PARAMETERS, Tag.STRATEGY_PARAMETER_NAME)
        group.setField(Tag.STRATEGY_PARAMETER_NAME, name)
        group.setField(Tag.STRATEGY_PARAMETER_TYPE, kind)
        group.setField(Tag.STRATEGY_PARAMETER_VALUE, text)
        target.addGroup(group)


def encode_new_order_list(
    envelope: Mapping[str, Any], list_id: str, cl_ord_ids: Sequence[str]
) -> Any:
    """A payload envelope (as in a payload YAML file) as a client NewOrderList."""
    data = dict(envelope.get("bidder_data") or {})
    positions = data.pop("positions", None)
    if not isinstance(positions, list) or not positions:
        raise PayloadError(
            "bidder_data.positions must be a non-empty list to travel over FIX",
            issues=[FieldIssue("bidder_data.positions", "missing or empty")],
        )
    if len(cl_ord_ids) != len(positions):
        raise ValueError("one ClOrdID per position")
    message = new_message("E")
    message.setField(Tag.LIST_ID, list_id)
    message.setField(Tag.BID_TYPE, "3")
    message.setField(Tag.TOT_NO_ORDERS, str(len(positions)))
    message.setField(Tag.BIDDER_TYPE, str(envelope["strategy"]))
    if envelope.get("lot_size") is not None:
        message.setField(Tag.LOT_SIZE, str(envelope["lot_size"]))
    _add_params(message, data)
    for index, (position, cl_ord_id) in enumerate(zip(positions, cl_ord_ids, strict=True)):
        if not isinstance(position, Mapping):
            raise PayloadError(
                "each position must be a mapping",
                issues=[FieldIssue(f"bidder_data.positions[{index}]", "not a mapping")],
            )
        order = _order_group()
        order.setField(Tag.CL_ORD_ID, cl_ord_id)
        order.setField(Tag.LIST_SEQ_NO, str(index + 1))
        try:
            order.setField(Tag.SYMBOL, str(position["symbol"]))
            order.setField(Tag.SIDE, "1" if Side.parse(str(position["side"])) is Side.BUY else "2")
            order.setField(Tag.ORDER_QTY, str(position["qty"]))
            order.setField(Tag.PRICE, decimal_text(parse_decimal(position["price"])))
        except (KeyError, ValueError) as exc:
            raise PayloadError(
                "invalid position", issues=[FieldIssue(f"bidder_data.positions[{index}]", f"{exc}")]
            ) from None
        order.setField(Tag.ORD_TYPE, "2")
        if position.get("lot_size") is not None:
            order.setField(Tag.ROUND_LOT, str(position["lot_size"]))
        _add_params(order, {k: v for k, v in position.items() if k not in _ORDER_KEYS})
        message.addGroup(order)
    return message


def _read_params(fields: Any, where: str, issues: list[FieldIssue]) -> dict[str, object]:
    params: dict[str, object] = {}
    count = (
        fields.groupCount(Tag.NO_STRATEGY_PARAMETERS)
        if fields.isSetField(Tag.NO_STRATEGY_PARAMETERS)
        else 0
    )
    group = fix.Group(Tag.NO_STRATEGY_PARAMETERS, Tag.STRATEGY_PARAMETER_NAME)
    for index in range(1, count + 1):
        fields.getGroup(index, group)
        label = f"{where}NoStrategyParameters[{index}]."
        name = _need(
            group, Tag.STRATEGY_PARAMETER_NAME, f"{label}StrategyParameterName(958)", issues
        )
        kind = _need(
            group, Tag.STRATEGY_PARAMETER_TYPE, f"{label}StrategyParameterType(959)", issues
        )
        text = _need(
            group, Tag.STRATEGY_PARAMETER_VALUE, f"{label}StrategyParameterValue(960)", issues
        )
        if not (name and kind and text):
            continue
        path = f"{where}StrategyParameter[{name}]"
        if name in params:
            issues.append(FieldIssue(path, "parameter given twice"))
            continue
        if name in _ORDER_KEYS or name == "positions":
            issues.append(
                FieldIssue(
                    path, f"'{name}' travels in its own FIX field, not as a strategy parameter"
                )
            )
            continue
        try:
            params[name] = _param_value(kind, text)
        except ValueError as exc:
            issues.append(FieldIssue(path, str(exc)))
    return params


def _param_value(kind: str, text: str) -> object:
    if kind == _INT:
        if not _INTEGER.match(text):
            raise ValueError(f"{text!r} is not an integer (StrategyParameterType 1)")
        return int(text)
    if kind in _DECIMAL_TYPES:
        return parse_decimal(text)
    if kind == _BOOLEAN:
        if text not in ("Y", "N"):
            raise ValueError(f"{text!r} is not Y or N (StrategyParameterType 13)")
        return text == "Y"
    return text


def _decode_order(
    group: Any, index: int, issues: list[FieldIssue]
) -> tuple[InboundOrder, dict[str, object]]:
    """One order of a client NewOrderList as a payload position."""
    where = f"NoOrders[{index}]."
    seq_text = _need(group, Tag.LIST_SEQ_NO, f"{where}ListSeqNo(67)", issues)
    seq = int(seq_text) if _INTEGER.match(seq_text) else 0
    if seq_text and seq != index:
        issues.append(FieldIssue(f"{where}ListSeqNo(67)", f"{seq_text}, expected {index}"))
    side = _need(group, Tag.SIDE, f"{where}Side(54)", issues)
    if side and side not in ("1", "2"):
        issues.append(FieldIssue(f"{where}Side(54)", f"{side!r}: only 1 (Buy) and 2 (Sell)"))
    ord_type = _get(group, Tag.ORD_TYPE)
    if ord_type not in (None, "2"):
        issues.append(FieldIssue(f"{where}OrdType(40)", f"{ord_type!r}: only 2 (Limit)"))
    price = _get(group, Tag.PRICE)
    if price is None:
        issues.append(FieldIssue(f"{where}Price(44)", "required: orders are limit orders"))
    qty_text = _need(group, Tag.ORDER_QTY, f"{where}OrderQty(38)", issues)
    if qty_text and not _INTEGER.match(qty_text):
        issues.append(
            FieldIssue(
                f"{where}OrderQty(38)", f"{qty_text!r} is not a whole number of shares/units"
            )
        )
    position: dict[str, object] = {
        "symbol": _need(group, Tag.SYMBOL, f"{where}Symbol(55)", issues),
        "side": "Buy" if side == "1" else "Sell",
        "qty": int(qty_text) if _INTEGER.match(qty_text) else qty_text,
        "price": price,
    }
    round_lot = _get(group, Tag.ROUND_LOT)
    if round_lot is not None:
        if _INTEGER.match(round_lot):
            position["lot_size"] = int(round_lot)
        else:
            issues.append(
                FieldIssue(f"{where}RoundLot(561)", f"{round_lot!r} is not a whole number")
            )
    position.update(_read_params(group, where, issues))
    cl_ord_id = _need(group, Tag.CL_ORD_ID, f"{where}ClOrdID(11)", issues)
    return InboundOrder(cl_ord_id, seq, _get(group, Tag.EXPIRE_TIME)), position


def decode_new_order_list(message: Any) -> InboundList:
    """A client NewOrderList as ids plus a payload envelope.

    Raises:
        PayloadError: naming the FIX field (and order) for anything the
            dictionary let through but the gateway cannot use.
    """
    list_id = message.getField(Tag.LIST_ID)
    issues: list[FieldIssue] = []
    count = message.groupCount(Tag.NO_ORDERS)
    total = message.getField(Tag.TOT_NO_ORDERS)
    if total != str(count):
        issues.append(
            FieldIssue(
                "TotNoOrders(68)",
                f"{total} but the message carries {count} "
                "orders: fragmented lists are not supported",
            )
        )
    envelope: dict[str, Any] = {"strategy": message.getField(Tag.BIDDER_TYPE), "id": list_id}
    lot = _get(message, Tag.LOT_SIZE)
    if lot is not None:
        envelope["lot_size"] = int(lot)
    data = _read_params(message, "", issues)
    orders: list[InboundOrder] = []
    positions: list[dict[str, object]] = []
    group = _order_group()
    for index in range(1, count + 1):
        message.getGroup(index, group)
        order, position = _decode_order(group, index, issues)
        if order.cl_ord_id in {o.cl_ord_id for o in orders}:
            issues.append(
                FieldIssue(
                    f"NoOrders[{index}].ClOrdID(11)", f"{order.cl_ord_id!r} repeats in this list"
                )
            )
        orders.append(order)
        positions.append(position)
    if issues:
        raise PayloadError("invalid NewOrderList", issues=issues, list_id=list_id)
    envelope["bidder_data"] = {**data, "positions": positions}
    return InboundList(list_id, tuple(orders), envelope)


# --- bundle <-> NewOrderList (gateway -> counterparty) ----------------------------


def encode_bundle(bundle: OrderBundle, list_id: str, cl_ord_ids: Sequence[str]) -> Any:
    """The compiled bundle as the NewOrderList the counterparty receives."""
    message = new_message("E")
    message.setField(Tag.LIST_ID, list_id)
    message.setField(Tag.BID_TYPE, "3")
    message.setField(Tag.TOT_NO_ORDERS, str(len(bundle.legs)))
    message.setField(Tag.BIDDER_TYPE, bundle.metadata.get("strategy", "bundle"))
    if bundle.min_total_fill:
        message.setField(Tag.MIN_TOTAL_FILL, str(bundle.min_total_fill))
    expire_time = bundle.metadata.get("expire_time")
    for index, (leg, cl_ord_id) in enumerate(zip(bundle.legs, cl_ord_ids, strict=True)):
        order = _order_group()
        order.setField(Tag.CL_ORD_ID, cl_ord_id)
        order.setField(Tag.LIST_SEQ_NO, str(index + 1))
        order.setField(Tag.SYMBOL, leg.symbol)
        order.setField(Tag.SIDE, "1" if leg.side is Side.BUY else "2")
        order.setField(Tag.ORDER_QTY, str(leg.max_qty))
        order.setField(Tag.ORD_TYPE, "2")
        order.setField(Tag.PRICE, decimal_text(leg.limit_price))
        order.setField(Tag.ROUND_LOT, str(leg.lot_size))
        if expire_time:
            order.setField(Tag.TIME_IN_FORCE, "6")  # good till date
            order.setField(Tag.EXPIRE_TIME, expire_time)
        message.addGroup(order)
    for constraint in bundle.constraints:
        group = fix.Group(Tag.NO_BUNDLE_CONSTRAINTS, Tag.CONSTRAINT_NAME)
        group.setField(Tag.CONSTRAINT_NAME, constraint.name)
        group.setField(Tag.CONSTRAINT_SENSE, _SENSE_CODES[constraint.sense])
        group.setField(Tag.CONSTRAINT_RHS, decimal_text(constraint.rhs))
        if constraint.description:
            group.setField(Tag.CONSTRAINT_TEXT, constraint.description)
        for index, coefficient in enumerate(constraint.coefficients):
            if coefficient == 0:
                continue
            term = fix.Group(Tag.NO_CONSTRAINT_TERMS, Tag.TERM_LIST_SEQ_NO)
            term.setField(Tag.TERM_LIST_SEQ_NO, str(index + 1))
            term.setField(Tag.TERM_COEFFICIENT, decimal_text(coefficient))
            group.addGroup(term)
        message.addGroup(group)
    return message


def decode_bundle(message: Any) -> tuple[OrderBundle, tuple[str, ...]]:
    """A counterparty-side NewOrderList as an OrderBundle plus the legs' ClOrdIDs.

    Raises:
        PayloadError: for legs or constraints the counterparty cannot use.
    """
    list_id = message.getField(Tag.LIST_ID)
    legs: list[Leg] = []
    cl_ord_ids: list[str] = []
    expire_times: list[str] = []
    group = _order_group()
    try:
        for index in range(1, message.groupCount(Tag.NO_ORDERS) + 1):
            message.getGroup(index, group)
            cl_ord_ids.append(group.getField(Tag.CL_ORD_ID))
            expiry = _get(group, Tag.EXPIRE_TIME)
            if expiry:
                expire_times.append(expiry)
            legs.append(
                Leg(
                    symbol=group.getField(Tag.SYMBOL),
                    side=Side.BUY if group.getField(Tag.SIDE) == "1" else Side.SELL,
                    limit_price=parse_decimal(group.getField(Tag.PRICE)),
                    max_qty=int(group.getField(Tag.ORDER_QTY)),
                    lot_size=int(_get(group, Tag.ROUND_LOT) or 100),
                )
            )
        constraints: list[Constraint] = []
        count = (
            message.groupCount(Tag.NO_BUNDLE_CONSTRAINTS)
            if message.isSetField(Tag.NO_BUNDLE_CONSTRAINTS)
            else 0
        )
        row = fix.Group(Tag.NO_BUNDLE_CONSTRAINTS, Tag.CONSTRAINT_NAME)
        term = fix.Group(Tag.NO_CONSTRAINT_TERMS, Tag.TERM_LIST_SEQ_NO)
        for index in range(1, count + 1):
            message.getGroup(index, row)
            coefficients = [Decimal(0)] * len(legs)
            for t in range(1, row.groupCount(Tag.NO_CONSTRAINT_TERMS) + 1):
                row.getGroup(t, term)
                seq = int(term.getField(Tag.TERM_LIST_SEQ_NO))
                if not 1 <= seq <= len(legs):
                    raise ValueError(f"constraint term refers to ListSeqNo {seq}")
                coefficients[seq - 1] = parse_decimal(term.getField(Tag.TERM_COEFFICIENT))
            constraints.append(
                Constraint(
                    name=row.getField(Tag.CONSTRAINT_NAME),
                    coefficients=tuple(coefficients),
                    sense=_SENSES[row.getField(Tag.CONSTRAINT_SENSE)],
                    rhs=parse_decimal(row.getField(Tag.CONSTRAINT_RHS)),
                    description=_get(row, Tag.CONSTRAINT_TEXT) or "",
                )
            )
        min_total = _get(message, Tag.MIN_TOTAL_FILL)
        bundle = OrderBundle(
            bundle_id=list_id,
            legs=tuple(legs),
            constraints=tuple(constraints),
            min_total_fill=int(min_total) if min_total else None,
            metadata={
                "strategy": message.getField(Tag.BIDDER_TYPE),
                **({"expire_time": min(expire_times)} if expire_times else {}),
            },
        )
    except (ValueError, KeyError) as exc:
        raise PayloadError(f"invalid bundle: {exc}", list_id=list_id) from None
    return bundle, tuple(cl_ord_ids)


# --- reports ---------------------------------------------------------------------


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
    """A ListStatus (35=N); the reason goes in ListStatusText and each order's Text."""
    entries = list(orders)
    message = new_message("N")
    message.setField(Tag.LIST_ID, list_id)
    message.setField(Tag.LIST_STATUS_TYPE, str(status_type))
    message.setField(Tag.NO_RPTS, "1")
    message.setField(Tag.LIST_ORDER_STATUS, str(order_status))
    message.setField(Tag.RPT_SEQ, str(rpt_seq))
    message.setField(Tag.TOT_NO_ORDERS, str(len(entries)))
    message.setField(Tag.TRANSACT_TIME, _utc_now())
    if text:
        message.setField(Tag.LIST_STATUS_TEXT, _fix_text(text))
    if bundle_id:
        message.setField(Tag.BUNDLE_ID, bundle_id)
    if reject_reason is not None:
        message.setField(Tag.LIST_REJECT_REASON, str(reject_reason))
    for entry in entries:
        group = _status_group()
        # Never send an empty field, even when echoing a client's empty ClOrdID.
        group.setField(Tag.CL_ORD_ID, entry.cl_ord_id or "(empty)")
        group.setField(Tag.CUM_QTY, str(entry.cum_qty))
        group.setField(Tag.ORD_STATUS, entry.ord_status)
        group.setField(Tag.LEAVES_QTY, str(entry.leaves_qty))
        group.setField(Tag.CXL_QTY, str(entry.cxl_qty))
        group.setField(Tag.AVG_PX, decimal_text(entry.avg_px))
        if entry.text or text:
            group.setField(Tag.TEXT, _fix_text(entry.text or text or ""))
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
    message.setField(Tag.TEXT, _fix_text(text))
    if ref_seq_num is not None:
        message.setField(Tag.REF_SEQ_NUM, str(ref_seq_num))
    if ref_id:
        message.setField(Tag.BUSINESS_REJECT_REF_ID, ref_id)
    return message


def list_cancel_request(list_id: str, text: str | None = None) -> Any:
    message = new_message("K")
    message.setField(Tag.LIST_ID, list_id)
    message.setField(Tag.TRANSACT_TIME, _utc_now())
    if text:
        message.setField(Tag.TEXT, _fix_text(text))
    return message


def _fix_text(text: str) -> str:
    """Text fields are single-line ASCII without SOH; keep reasons readable and bounded."""
    cleaned = "".join(ch if 32 <= ord(ch) < 127 else _ASCII.get(ch, "?") for ch in text)
    return cleaned[:1000]


_ASCII = {"·": "*", "−": "-", "Σ": "sum", "≤": "<=", "≥": ">=", "ρ": "rho", "…": "..."}
