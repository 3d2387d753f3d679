"""The client hop's codec: a bidder payload <-> the client's NewOrderList (35=E).

Pure functions, no sessions; ``fixspec/README.md`` is the specification.

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
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import quickfix as fix

from fixspec import Tag
from gateway.core.bundle import Side
from gateway.core.errors import FieldIssue, PayloadError
from gateway.core.exact import parse_decimal
from gateway.fix.messages import (
    decimal_text,
    fix_decimal,
    get_field,
    need_field,
    new_message,
    order_group,
    utc_stamp,
)

__all__ = [
    "InboundList",
    "InboundOrder",
    "WireLimits",
    "decode_new_order_list",
    "encode_new_order_list",
    "wire_path",
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
_INTEGER = re.compile(r"-?[0-9]+")  # matched whole (fullmatch): no sign '+', no spaces
#: Position keys carried by standard order fields, never as parameters.
_ORDER_KEYS = {
    "symbol": Tag.SYMBOL,
    "side": Tag.SIDE,
    "qty": Tag.ORDER_QTY,
    "price": Tag.PRICE,
    "lot_size": Tag.ROUND_LOT,
}


_POSITION = re.compile(r"bidder_data\.positions\[(\d+)\](?:\.(\w+))?(.*)")
_TAG_NAMES = {
    Tag.SYMBOL: "Symbol",
    Tag.SIDE: "Side",
    Tag.ORDER_QTY: "OrderQty",
    Tag.PRICE: "Price",
    Tag.ROUND_LOT: "RoundLot",
}


def wire_path(path: str) -> str:
    """A payload field path as the FIX field a desk sent it in, the path after it:
    ``bidder_data.positions[0].qty`` → ``NoOrders[1].OrderQty(38)
    (bidder_data.positions[0].qty)``; a list parameter ``bidder_data.beta_tol`` →
    ``StrategyParameter[beta_tol] (bidder_data.beta_tol)``, as the codec names them. Paths that name
    no field of the message (``bidder_data``, or a FIX name already) stay as they are."""
    wire = None
    if (found := _POSITION.fullmatch(path)) is not None:
        index, key, rest = int(found.group(1)) + 1, found.group(2), found.group(3)
        if key is None:
            wire = f"NoOrders[{index}]"
        elif key in _ORDER_KEYS:
            tag = _ORDER_KEYS[key]
            wire = f"NoOrders[{index}].{_TAG_NAMES[tag]}({tag}){rest}"
        else:
            wire = f"NoOrders[{index}].StrategyParameter[{key}]{rest}"
    elif path == "bidder_data.positions":
        wire = "NoOrders(73)"
    elif path == "strategy":
        wire = "BidderType(20001)"
    elif path == "lot_size":
        wire = "LotSize(20002)"
    elif path.startswith("bidder_data.") and path.count(".") == 1:
        wire = f"StrategyParameter[{path.removeprefix('bidder_data.')}]"
    return path if wire is None else f"{wire} ({path})"


@dataclass(frozen=True, slots=True)
class WireLimits:
    """The grid every number from a client must be on (``AppConfig`` sets them).

    Attributes:
        max_price_decimals: decimal places of a limit price, Price (44).
        max_significant_digits: significant digits of a numeric strategy
            parameter (a coefficient, a ratio, a beta); the pre-solver computes
            with them exactly, and every extra digit multiplies the integers the
            solver sees.
        max_parameters: strategy parameters (957) per order and on the list; a
            larger group is refused unread (100 orders x 100 parameters cost
            ~0.3 s of a worker to read, for nothing a strategy uses).
    """

    max_price_decimals: int = 8
    max_significant_digits: int = 12
    max_parameters: int = 32


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
        order = order_group()
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


def _read_params(
    fields: Any, where: str, issues: list[FieldIssue], limits: WireLimits
) -> dict[str, object]:
    params: dict[str, object] = {}
    count = (
        fields.groupCount(Tag.NO_STRATEGY_PARAMETERS)
        if fields.isSetField(Tag.NO_STRATEGY_PARAMETERS)
        else 0
    )
    if count > limits.max_parameters:
        issues.append(
            FieldIssue(
                f"{where}NoStrategyParameters(957)",
                f"{count} parameters; at most {limits.max_parameters}",
            )
        )
        return params
    group = fix.Group(Tag.NO_STRATEGY_PARAMETERS, Tag.STRATEGY_PARAMETER_NAME)
    for index in range(1, count + 1):
        fields.getGroup(index, group)
        label = f"{where}NoStrategyParameters[{index}]."
        name = need_field(
            group, Tag.STRATEGY_PARAMETER_NAME, f"{label}StrategyParameterName(958)", issues
        )
        kind = need_field(
            group, Tag.STRATEGY_PARAMETER_TYPE, f"{label}StrategyParameterType(959)", issues
        )
        text = need_field(
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
            params[name] = _param_value(kind, text, limits)
        except ValueError as exc:
            issues.append(FieldIssue(path, str(exc)))
    return params


def _param_value(kind: str, text: str, limits: WireLimits) -> object:
    if kind == _INT:
        if not _INTEGER.fullmatch(text):
            raise ValueError(f"{text!r} is not an integer (StrategyParameterType 1)")
        _check_digits(text, Decimal(text), limits)
        return int(text)
    if kind in _DECIMAL_TYPES:
        value = fix_decimal(text)
        _check_digits(text, value, limits)
        return value
    if kind == _BOOLEAN:
        if text not in ("Y", "N"):
            raise ValueError(f"{text!r} is not Y or N (StrategyParameterType 13)")
        return text == "Y"
    return text


def _check_digits(text: str, value: Decimal, limits: WireLimits) -> None:
    digits = len(value.normalize().as_tuple().digits)
    if digits > limits.max_significant_digits:
        raise ValueError(
            f"{text} has {digits} significant digits; at most {limits.max_significant_digits}"
        )


def _check_price(text: str, where: str, issues: list[FieldIssue], limits: WireLimits) -> None:
    try:
        value = fix_decimal(text)
    except ValueError as exc:
        issues.append(FieldIssue(f"{where}Price(44)", str(exc)))
        return
    exponent = value.normalize().as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if places > limits.max_price_decimals:
        issues.append(
            FieldIssue(
                f"{where}Price(44)",
                f"{text} has {places} decimal places; at most {limits.max_price_decimals}",
            )
        )


def _decode_order(
    group: Any, index: int, issues: list[FieldIssue], limits: WireLimits, now: datetime
) -> tuple[InboundOrder, dict[str, object]]:
    """One order of a client NewOrderList as a payload position."""
    where = f"NoOrders[{index}]."
    seq_text = need_field(group, Tag.LIST_SEQ_NO, f"{where}ListSeqNo(67)", issues)
    seq = int(seq_text) if _INTEGER.fullmatch(seq_text) else 0
    if seq_text and seq != index:
        issues.append(FieldIssue(f"{where}ListSeqNo(67)", f"{seq_text}, expected {index}"))
    side = need_field(group, Tag.SIDE, f"{where}Side(54)", issues)
    if side and side not in ("1", "2"):
        issues.append(FieldIssue(f"{where}Side(54)", f"{side!r}: only 1 (Buy) and 2 (Sell)"))
    ord_type = get_field(group, Tag.ORD_TYPE)
    if ord_type not in (None, "2"):
        issues.append(FieldIssue(f"{where}OrdType(40)", f"{ord_type!r}: only 2 (Limit)"))
    price = get_field(group, Tag.PRICE)
    if price is None:
        issues.append(FieldIssue(f"{where}Price(44)", "required: orders are limit orders"))
    else:
        _check_price(price, where, issues, limits)
    qty_text = need_field(group, Tag.ORDER_QTY, f"{where}OrderQty(38)", issues)
    if qty_text and not _INTEGER.fullmatch(qty_text):
        issues.append(
            FieldIssue(
                f"{where}OrderQty(38)", f"{qty_text!r} is not a whole number of shares/units"
            )
        )
    position: dict[str, object] = {
        "symbol": need_field(group, Tag.SYMBOL, f"{where}Symbol(55)", issues),
        "side": "Buy" if side == "1" else "Sell",
        "qty": int(qty_text) if _INTEGER.fullmatch(qty_text) else qty_text,
        "price": price,
    }
    round_lot = get_field(group, Tag.ROUND_LOT)
    if round_lot is not None:
        if _INTEGER.fullmatch(round_lot):
            position["lot_size"] = int(round_lot)
        else:
            issues.append(
                FieldIssue(f"{where}RoundLot(561)", f"{round_lot!r} is not a whole number")
            )
    position.update(_read_params(group, where, issues, limits))
    cl_ord_id = need_field(group, Tag.CL_ORD_ID, f"{where}ClOrdID(11)", issues)
    expire_time = get_field(group, Tag.EXPIRE_TIME)
    if expire_time is not None and expire_time <= utc_stamp(now):
        # Comparable as text: both YYYYMMDD-HH:MM:SS[.sss] (the dictionary checked it).
        issues.append(FieldIssue(f"{where}ExpireTime(126)", f"{expire_time} is not in the future"))
    return InboundOrder(cl_ord_id, seq, expire_time), position


def decode_new_order_list(
    message: Any, limits: WireLimits | None = None, *, now: datetime | None = None
) -> InboundList:
    """A client NewOrderList as ids plus a payload envelope; every number on the
    grid of ``limits`` (default :class:`WireLimits`), every ExpireTime after ``now``
    (default: the clock).

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
    lot = get_field(message, Tag.LOT_SIZE)
    if lot is not None:
        envelope["lot_size"] = int(lot)
    limits = limits or WireLimits()
    data = _read_params(message, "", issues, limits)
    orders: list[InboundOrder] = []
    positions: list[dict[str, object]] = []
    group = order_group()
    now = now or datetime.now(UTC)
    for index in range(1, count + 1):
        message.getGroup(index, group)
        order, position = _decode_order(group, index, issues, limits, now)
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
