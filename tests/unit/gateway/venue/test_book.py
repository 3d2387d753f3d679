"""The venue's records and reports (gateway/venue/book.py). Its ExecutionReports on
the wire: built as typed records and encoded by the shared codec, they carry
exactly the fields and texts the venue always sent."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixspec import Tag
from gateway.core.bundle import Constraint, Leg, OrderBundle, Sense, Side
from gateway.core.errors import GatewayError
from gateway.fix.messages import (
    decimal_text,
    decode_execution_report,
    encode_execution_report,
    group_ids,
    new_message,
)
from gateway.fix.venue_codec import encode_bundle
from gateway.venue.book import Resting, exact, leg_report

CLOSING = ("4", "3", "C")


def _resting(limit: Decimal, qty: int, filled: int, notional: Fraction) -> Resting:
    bundle = OrderBundle(
        bundle_id="LIST-1",
        legs=(
            Leg(symbol="AAAA", side=Side.BUY, limit_price=limit, max_qty=qty),
            Leg(symbol="BBBB", side=Side.SELL, limit_price=Decimal("19.950"), max_qty=qty),
        ),
        constraints=(
            Constraint(name="pair", coefficients=(Decimal(1), Decimal(-1)), sense=Sense.EQ),
        ),
    )
    return Resting(
        ("FIX.4.4", "VENUE", "BIDGW"),
        bundle,
        ("LIST-1-1", "LIST-1-2"),
        [filled, filled],
        [notional, notional],
    )


def _as_before(
    resting: Resting,
    index: int,
    *,
    exec_id: str,
    transact_time: str,
    exec_type: str,
    last_qty: int = 0,
    last_px: Fraction | None = None,
    text: str | None = None,
) -> Any:
    """The venue's hand-built ExecutionReport before it used the shared codec."""
    leg = resting.bundle.legs[index]
    done = resting.filled[index]
    closing = exec_type in CLOSING
    left = 0 if closing else leg.max_qty - done
    avg = (
        Decimal(0)
        if not done
        else Decimal((resting.notional[index] / done).numerator)
        / Decimal((resting.notional[index] / done).denominator)
    )
    status = exec_type if closing else ("2" if left == 0 else "1" if done else "0")
    fields: list[tuple[int, str]] = [
        (Tag.ORDER_ID, f"V{resting.cl_ord_ids[index]}"),
        (Tag.EXEC_ID, exec_id),
        (Tag.CL_ORD_ID, resting.cl_ord_ids[index]),
        (Tag.LIST_ID, resting.bundle.bundle_id),
        (Tag.EXEC_TYPE, exec_type),
        (Tag.ORD_STATUS, status),
        (Tag.SYMBOL, leg.symbol),
        (Tag.SIDE, "1" if leg.side is Side.BUY else "2"),
        (Tag.ORDER_QTY, str(leg.max_qty)),
        (Tag.PRICE, decimal_text(leg.limit_price)),
        (Tag.CUM_QTY, str(done)),
        (Tag.LEAVES_QTY, str(left)),
        (Tag.AVG_PX, decimal_text(avg)),
        (Tag.TRANSACT_TIME, transact_time),
    ]
    if last_px is not None:
        price = Decimal(last_px.numerator) / Decimal(last_px.denominator)
        fields += [(Tag.LAST_QTY, str(last_qty)), (Tag.LAST_PX, decimal_text(price))]
    if text:
        fields.append((Tag.TEXT, text))
    message = new_message("8")
    for tag, value in fields:
        message.setField(tag, value)
    return message


def _same_wire(resting: Resting, index: int, **kwargs: Any) -> None:
    record = leg_report(resting, index, exec_id="E1-7", **kwargs)
    assert record.transact_time is not None
    datetime.strptime(record.transact_time, "%Y%m%d-%H:%M:%S.%f")  # UTCTimestamp, ms
    expected = _as_before(
        resting, index, exec_id="E1-7", transact_time=record.transact_time, **kwargs
    )
    sent = encode_execution_report(record)
    assert sent.toString() == expected.toString()
    assert decode_execution_report(sent) == record


def test_a_fill_at_a_midpoint_and_an_uneven_average_are_written_as_before() -> None:
    # Filled 300 at 10.00 then 10.01 twice: the average 10.00666... has 28 digits.
    resting = _resting(Decimal("10.050"), 1000, 300, Fraction("3002"))
    _same_wire(resting, 0, exec_type="F", last_qty=100, last_px=Fraction(2001, 200))
    _same_wire(resting, 1, exec_type="F", last_qty=100, last_px=Fraction(10))


def test_closing_reports_with_text_and_round_limits_are_written_as_before() -> None:
    resting = _resting(Decimal("1E+2"), 500, 0, Fraction(0))
    for exec_type in CLOSING:
        _same_wire(resting, 0, exec_type=exec_type, text="cancelled on request")
    _same_wire(_resting(Decimal("100.00"), 500, 500, Fraction(50_000)), 0, exec_type="F")


@given(
    limit=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(100_000), places=6),
    lots=st.integers(min_value=1, max_value=50),
    filled_lots=st.integers(min_value=0, max_value=50),
    ticks=st.lists(st.integers(min_value=1, max_value=10**8), min_size=2, max_size=2),
    exec_type=st.sampled_from(["F", *CLOSING]),
)
def test_every_report_is_written_as_before(
    limit: Decimal, lots: int, filled_lots: int, ticks: list[int], exec_type: str
) -> None:
    qty, filled = lots * 100, min(filled_lots, lots) * 100
    # A clearing price is the midpoint of two 4-decimal prices at most.
    price = Fraction(ticks[0] + ticks[1], 2 * 10**4)
    resting = _resting(limit, qty, filled, price * filled)
    fill = {"last_qty": 100, "last_px": price} if exec_type == "F" else {"text": "expired"}
    _same_wire(resting, 0, exec_type=exec_type, **fill)


def test_a_price_without_a_finite_decimal_is_refused() -> None:
    assert exact(Fraction(1, 8)) == Decimal("0.125")
    with pytest.raises(GatewayError, match="no finite decimal form"):
        exact(Fraction(1, 3))


def test_group_ids_reads_a_bundles_cl_ord_ids_in_order() -> None:
    bundle = _resting(Decimal(10), 100, 0, Fraction(0)).bundle
    message = encode_bundle(bundle, "LIST-1", ["b", "a"])
    assert group_ids(message) == ["b", "a"]
