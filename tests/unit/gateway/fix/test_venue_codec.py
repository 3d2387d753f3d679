"""The counterparty hop's reference data and client identity (gateway.fix.venue_codec)."""

from __future__ import annotations

from decimal import Decimal

import pytest
import quickfix as fix

from fixspec import DICTIONARY, Tag
from gateway.core.errors import PayloadError
from gateway.core.instruments import Instrument
from gateway.fix.venue_codec import (
    decode_bundle,
    decode_security_list,
    encode_bundle,
    encode_security_list,
    list_status_request,
    security_list_request,
)
from tests.unit.gateway.router.conftest import hedged_bundle

INSTRUMENTS = (
    Instrument("AAAA", 100, Decimal("0.01"), Decimal("9.95"), Decimal("10.05")),
    Instrument("EUR", 100000, Decimal("0.0001"), None, None, tradable=False),
)


def wire(message: fix.Message) -> fix.Message:
    """Through the data dictionary as a peer's engine would parse it."""
    header = message.getHeader()
    for tag, value in ((8, "FIX.4.4"), (49, "VENUE"), (56, "BIDGW"), (34, "2")):
        header.setField(tag, value)
    header.setField(52, "20261121-14:30:00.000")
    return fix.Message(message.toString(), fix.DataDictionary(str(DICTIONARY)), True)


def test_a_security_list_round_trips_every_instrument_field() -> None:
    answer = decode_security_list(wire(encode_security_list("R1", "SL1", INSTRUMENTS)))
    assert (answer.req_id, answer.result, answer.last_fragment) == ("R1", 0, True)
    assert answer.instruments == INSTRUMENTS


def test_missing_lot_and_tick_default_to_one_and_a_millionth() -> None:
    message = encode_security_list("R1", "SL1", INSTRUMENTS[:1])
    entry = fix.Group(Tag.NO_RELATED_SYM, Tag.SYMBOL)
    message.getGroup(1, entry)
    entry.removeField(Tag.ROUND_LOT)
    entry.removeField(Tag.MIN_PRICE_INCREMENT)
    bare = encode_security_list("R1", "SL1", ())
    bare.setField(Tag.TOT_NO_RELATED_SYM, "1")
    bare.addGroup(entry)
    (only,) = decode_security_list(bare).instruments
    assert (only.round_lot, only.tick) == (1, Decimal("0.000001"))


def test_an_unreadable_list_is_refused_whole() -> None:
    message = encode_security_list("R1", "SL1", INSTRUMENTS[:1])
    entry = fix.Group(Tag.NO_RELATED_SYM, Tag.SYMBOL)
    message.getGroup(1, entry)
    entry.setField(Tag.ROUND_LOT, "-5")
    message.replaceGroup(1, entry)
    with pytest.raises(PayloadError, match="must be positive"):
        decode_security_list(message)


def test_the_request_subscribes_to_updates_of_every_security() -> None:
    message = wire(security_list_request("IL1"))
    assert message.getField(Tag.SECURITY_LIST_REQUEST_TYPE) == "4"
    assert message.getField(Tag.SUBSCRIPTION_REQUEST_TYPE) == "1"


def test_the_status_request_names_the_bundle_by_the_list_id_the_counterparty_knows() -> None:
    message = wire(list_status_request("B1-7"))
    assert message.getHeader().getField(Tag.MSG_TYPE) == "M"
    assert message.getField(Tag.LIST_ID) == "B1-7"


def test_the_desk_travels_as_a_client_party_on_every_order() -> None:
    bundle = hedged_bundle("B1")
    bundle = type(bundle)(
        bundle_id="B1", legs=bundle.legs, constraints=bundle.constraints, metadata={"client": "D1"}
    )
    decoded, _ = decode_bundle(wire(encode_bundle(bundle, "B1", ("B1-1", "B1-2"))))
    assert decoded.metadata["client"] == "D1"
    anonymous, _ = decode_bundle(wire(encode_bundle(hedged_bundle("B2"), "B2", ("B2-1", "B2-2"))))
    assert "client" not in anonymous.metadata


def test_price_constraints_travel_to_the_counterparty_exactly() -> None:
    from gateway.core.bundle import PriceConstraint, Sense

    spread = PriceConstraint(
        name="spread",
        terms=(("BBBB", Decimal(1)), ("AAAA", Decimal("-2.5"))),
        sense=Sense.GE,
        rhs=Decimal("-0.05"),
        description="p_B - 2.5 * p_A >= -0.05 at the clearing prices",
    )
    plain = hedged_bundle("B1")
    bundle = type(plain)(
        bundle_id="B1", legs=plain.legs, constraints=plain.constraints, price_constraints=(spread,)
    )
    decoded, _ = decode_bundle(wire(encode_bundle(bundle, "B1", ("B1-1", "B1-2"))))
    assert decoded.price_constraints == (spread,)
