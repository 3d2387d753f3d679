"""The counterparty hop's codec: an :class:`~gateway.core.bundle.OrderBundle` <-> the
NewOrderList (35=E) the counterparty receives.

The legs travel as orders plus NoBundleConstraints(20010) with the coefficient of
each order's fill quantity, so the counterparty needs no strategy code. Each order
names the desk it comes from in Parties (PartyID (448) = the desk's CompID,
PartyRole (452) = 3, client ID): the counterparty's self-trade prevention keys on it.

The same hop carries the counterparty's reference data: the gateway's
SecurityListRequest (35=x) and the SecurityList (35=y) answering it
(:func:`security_list_request`, :func:`decode_security_list`,
:func:`encode_security_list`); and the ListStatusRequest (35=M) the gateway sends
at each logon about every open bundle (:func:`list_status_request`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import quickfix as fix

from fixspec import Tag
from gateway.core.bundle import Constraint, Leg, OrderBundle, PriceConstraint, Sense, Side
from gateway.core.errors import PayloadError
from gateway.core.instruments import Instrument
from gateway.fix.messages import (
    decimal_text,
    fix_decimal,
    get_field,
    new_message,
    order_group,
)

__all__ = [
    "PARTY_ROLE_CLIENT",
    "SecurityListAnswer",
    "decode_bundle",
    "decode_security_list",
    "encode_bundle",
    "encode_security_list",
    "list_status_request",
    "security_list_request",
]

#: PartyRole (452) 3: client ID; PartyIDSource (447) D: proprietary (the CompID).
PARTY_ROLE_CLIENT = "3"
#: SecurityTradingStatus (326): 17 ready to trade; 2 trading halt; 18 not available.
_TRADING = "17"
_NOT_TRADING = "18"

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
    client = bundle.metadata.get("client")
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
        if client:
            party = fix.Group(Tag.NO_PARTY_IDS, Tag.PARTY_ID)
            party.setField(Tag.PARTY_ID, client)
            party.setField(Tag.PARTY_ID_SOURCE, "D")
            party.setField(Tag.PARTY_ROLE, PARTY_ROLE_CLIENT)
            order.addGroup(party)
        if expire_time:
            order.setField(Tag.TIME_IN_FORCE, "6")  # good till date
            order.setField(Tag.EXPIRE_TIME, expire_time)
        message.addGroup(order)
    _add_constraints(message, bundle)
    return message


def _add_constraints(message: Any, bundle: OrderBundle) -> None:
    """NoBundleConstraints (20010) and NoPriceConstraints (20020) onto ``message``."""
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
    for price in bundle.price_constraints:
        group = fix.Group(Tag.NO_PRICE_CONSTRAINTS, Tag.PRICE_CONSTRAINT_NAME)
        group.setField(Tag.PRICE_CONSTRAINT_NAME, price.name)
        group.setField(Tag.PRICE_CONSTRAINT_SENSE, _SENSE_CODES[price.sense])
        group.setField(Tag.PRICE_CONSTRAINT_RHS, decimal_text(price.rhs))
        for symbol, coefficient in price.terms:
            term = fix.Group(Tag.NO_PRICE_TERMS, Tag.PRICE_TERM_SYMBOL)
            term.setField(Tag.PRICE_TERM_SYMBOL, symbol)
            term.setField(Tag.PRICE_TERM_COEFFICIENT, decimal_text(coefficient))
            group.addGroup(term)
        if price.description:
            group.setField(Tag.PRICE_CONSTRAINT_TEXT, price.description)
        message.addGroup(group)


def decode_bundle(message: Any) -> tuple[OrderBundle, tuple[str, ...]]:
    """A counterparty-side NewOrderList as an OrderBundle plus the legs' ClOrdIDs.

    Raises:
        PayloadError: for legs or constraints the counterparty cannot use.
    """
    list_id = message.getField(Tag.LIST_ID)
    legs: list[Leg] = []
    cl_ord_ids: list[str] = []
    expire_times: list[str] = []
    clients: set[str] = set()
    group = order_group()
    try:
        for index in range(1, message.groupCount(Tag.NO_ORDERS) + 1):
            message.getGroup(index, group)
            cl_ord_ids.append(group.getField(Tag.CL_ORD_ID))
            clients.update(_clients(group))
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
        prices = _price_constraints(message)
        bundle = OrderBundle(
            bundle_id=list_id,
            legs=tuple(legs),
            constraints=tuple(constraints),
            min_total_fill=int(min_total) if min_total else None,
            metadata={
                "strategy": message.getField(Tag.BIDDER_TYPE),
                **({"expire_time": min(expire_times)} if expire_times else {}),
                # One client per bundle; orders naming several leave it unknown.
                **({"client": next(iter(clients))} if len(clients) == 1 else {}),
            },
            price_constraints=prices,
        )
    except (ValueError, KeyError) as exc:
        raise PayloadError(f"invalid bundle: {exc}", list_id=list_id) from None
    return bundle, tuple(cl_ord_ids)


def _price_constraints(message: Any) -> tuple[PriceConstraint, ...]:
    """NoPriceConstraints (20020): rows over the clearing prices of the bundle's symbols."""
    if not message.isSetField(Tag.NO_PRICE_CONSTRAINTS):
        return ()
    row = fix.Group(Tag.NO_PRICE_CONSTRAINTS, Tag.PRICE_CONSTRAINT_NAME)
    term = fix.Group(Tag.NO_PRICE_TERMS, Tag.PRICE_TERM_SYMBOL)
    rows: list[PriceConstraint] = []
    for index in range(1, message.groupCount(Tag.NO_PRICE_CONSTRAINTS) + 1):
        message.getGroup(index, row)
        terms = []
        for t in range(1, row.groupCount(Tag.NO_PRICE_TERMS) + 1):
            row.getGroup(t, term)
            terms.append(
                (
                    term.getField(Tag.PRICE_TERM_SYMBOL),
                    fix_decimal(term.getField(Tag.PRICE_TERM_COEFFICIENT)),
                )
            )
        rows.append(
            PriceConstraint(
                name=row.getField(Tag.PRICE_CONSTRAINT_NAME),
                terms=tuple(terms),
                sense=_SENSES[row.getField(Tag.PRICE_CONSTRAINT_SENSE)],
                rhs=fix_decimal(row.getField(Tag.PRICE_CONSTRAINT_RHS)),
                description=get_field(row, Tag.PRICE_CONSTRAINT_TEXT) or "",
            )
        )
    return tuple(rows)


def _clients(order: Any) -> list[str]:
    """PartyIDs with PartyRole 3 (client ID) in one order's Parties."""
    if not order.isSetField(Tag.NO_PARTY_IDS):
        return []
    party = fix.Group(Tag.NO_PARTY_IDS, Tag.PARTY_ID)
    found = []
    for index in range(1, order.groupCount(Tag.NO_PARTY_IDS) + 1):
        order.getGroup(index, party)
        if get_field(party, Tag.PARTY_ROLE) == PARTY_ROLE_CLIENT:
            found.append(party.getField(Tag.PARTY_ID))
    return found


# --- reference data --------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SecurityListAnswer:
    """One SecurityList (35=y) message: all or one fragment of the instruments.

    ``result`` is SecurityRequestResult (560): 0 valid request; anything else means
    the counterparty will not send the list (``text`` says why, if it does).
    """

    req_id: str
    result: int
    instruments: tuple[Instrument, ...]
    last_fragment: bool
    text: str | None = None


def security_list_request(req_id: str) -> Any:
    """SecurityListRequest (35=x): every instrument (559 = 4), as a snapshot plus
    updates (263 = 1): the counterparty sends the whole list again when it changes."""
    message = new_message("x")
    message.setField(Tag.SECURITY_REQ_ID, req_id)
    message.setField(Tag.SECURITY_LIST_REQUEST_TYPE, "4")
    message.setField(Tag.SUBSCRIPTION_REQUEST_TYPE, "1")
    return message


def list_status_request(list_id: str) -> Any:
    """ListStatusRequest (35=M) for the bundle the counterparty knows as ``list_id``
    (the BundleID): it answers with the list's ListStatus, or, when it holds no such
    list, a BusinessMessageReject with BusinessRejectReason (380) 1 (unknown ID)."""
    message = new_message("M")
    message.setField(Tag.LIST_ID, list_id)
    return message


def encode_security_list(
    req_id: str,
    response_id: str,
    instruments: Iterable[Instrument],
    *,
    result: int = 0,
    text: str | None = None,
) -> Any:
    """SecurityList (35=y) with every instrument in one message (LastFragment Y)."""
    listed = list(instruments)
    message = new_message("y")
    message.setField(Tag.SECURITY_REQ_ID, req_id)
    message.setField(Tag.SECURITY_RESPONSE_ID, response_id)
    message.setField(Tag.SECURITY_REQUEST_RESULT, str(result))
    message.setField(Tag.TOT_NO_RELATED_SYM, str(len(listed)))
    message.setField(Tag.LAST_FRAGMENT, "Y")
    if text:
        message.setField(Tag.TEXT, text)
    for instrument in listed:
        entry = fix.Group(Tag.NO_RELATED_SYM, Tag.SYMBOL)
        entry.setField(Tag.SYMBOL, instrument.symbol)
        entry.setField(Tag.ROUND_LOT, str(instrument.round_lot))
        entry.setField(Tag.MIN_PRICE_INCREMENT, decimal_text(instrument.tick))
        if instrument.bid is not None:
            entry.setField(Tag.BID_PX, decimal_text(instrument.bid))
        if instrument.offer is not None:
            entry.setField(Tag.OFFER_PX, decimal_text(instrument.offer))
        status = _TRADING if instrument.tradable else _NOT_TRADING
        entry.setField(Tag.SECURITY_TRADING_STATUS, status)
        message.addGroup(entry)
    return message


def decode_security_list(message: Any) -> SecurityListAnswer:
    """A SecurityList (35=y) from the counterparty.

    An instrument without RoundLot (561) trades in lots of 1; without
    MinPriceIncrement (969) any price of at most 6 decimal places is on its grid;
    SecurityTradingStatus (326) 2 (halt) or 18 (not available) makes it untradable.

    Raises:
        PayloadError: for a list the gateway cannot read (the previous one stays).
    """
    req_id = message.getField(Tag.SECURITY_REQ_ID)
    try:
        result = int(message.getField(Tag.SECURITY_REQUEST_RESULT))
        instruments = []
        entry = fix.Group(Tag.NO_RELATED_SYM, Tag.SYMBOL)
        count = (
            message.groupCount(Tag.NO_RELATED_SYM) if message.isSetField(Tag.NO_RELATED_SYM) else 0
        )
        for index in range(1, count + 1):
            message.getGroup(index, entry)
            lot = int(fix_decimal(get_field(entry, Tag.ROUND_LOT) or "1"))
            tick = fix_decimal(get_field(entry, Tag.MIN_PRICE_INCREMENT) or "0.000001")
            if lot <= 0 or tick <= 0:
                raise ValueError(f"RoundLot {lot} and MinPriceIncrement {tick} must be positive")
            bid, offer = get_field(entry, Tag.BID_PX), get_field(entry, Tag.OFFER_PX)
            instruments.append(
                Instrument(
                    entry.getField(Tag.SYMBOL),
                    lot,
                    tick,
                    fix_decimal(bid) if bid else None,
                    fix_decimal(offer) if offer else None,
                    get_field(entry, Tag.SECURITY_TRADING_STATUS) not in ("2", "18"),
                )
            )
    except (ValueError, ArithmeticError, fix.FieldNotFound) as exc:
        raise PayloadError(f"unreadable SecurityList {req_id!r}: {exc}") from None
    return SecurityListAnswer(
        req_id,
        result,
        tuple(instruments),
        get_field(message, Tag.LAST_FRAGMENT) != "N",
        get_field(message, Tag.TEXT),
    )


# --- reports ---------------------------------------------------------------------
