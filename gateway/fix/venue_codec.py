"""The counterparty hop's codec: an :class:`~gateway.core.bundle.OrderBundle` <-> the
NewOrderList (35=E) the counterparty receives.

The legs travel as orders plus NoBundleConstraints(20010) with the coefficient of
each order's fill quantity, so the counterparty needs no strategy code.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import quickfix as fix

from fixspec import Tag
from gateway.core.bundle import Constraint, Leg, OrderBundle, Sense, Side
from gateway.core.errors import PayloadError
from gateway.fix.messages import (
    decimal_text,
    fix_decimal,
    get_field,
    new_message,
    order_group,
)

__all__ = ["decode_bundle", "encode_bundle"]

_SENSE_CODES = {Sense.LE: "L", Sense.EQ: "E", Sense.GE: "G"}
_SENSES = {code: sense for sense, code in _SENSE_CODES.items()}


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
        order = order_group()
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
    group = order_group()
    try:
        for index in range(1, message.groupCount(Tag.NO_ORDERS) + 1):
            message.getGroup(index, group)
            cl_ord_ids.append(group.getField(Tag.CL_ORD_ID))
            expiry = get_field(group, Tag.EXPIRE_TIME)
            if expiry:
                expire_times.append(expiry)
            legs.append(
                Leg(
                    symbol=group.getField(Tag.SYMBOL),
                    side=Side.BUY if group.getField(Tag.SIDE) == "1" else Side.SELL,
                    limit_price=fix_decimal(group.getField(Tag.PRICE)),
                    max_qty=int(group.getField(Tag.ORDER_QTY)),
                    lot_size=int(get_field(group, Tag.ROUND_LOT) or 100),
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
                coefficients[seq - 1] = fix_decimal(term.getField(Tag.TERM_COEFFICIENT))
            constraints.append(
                Constraint(
                    name=row.getField(Tag.CONSTRAINT_NAME),
                    coefficients=tuple(coefficients),
                    sense=_SENSES[row.getField(Tag.CONSTRAINT_SENSE)],
                    rhs=fix_decimal(row.getField(Tag.CONSTRAINT_RHS)),
                    description=get_field(row, Tag.CONSTRAINT_TEXT) or "",
                )
            )
        min_total = get_field(message, Tag.MIN_TOTAL_FILL)
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
