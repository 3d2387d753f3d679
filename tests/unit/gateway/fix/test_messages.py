"""Reports as typed records: encode -> decode returns the record; a relay keeps every field."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import quickfix as fix
from hypothesis import given
from hypothesis import strategies as st

from fixspec import DICTIONARY, Tag
from gateway.core.reports import ExecutionReport, ListOrderStatus, ListStatusType, OrderReport
from gateway.fix.messages import (
    decode_execution_report,
    decode_order_reports,
    encode_execution_report,
    list_status,
)

_DICTIONARY = fix.DataDictionary(str(DICTIONARY))

prices = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10**6), places=4).map(
    lambda d: Decimal(format(d, "f"))
)
ids = st.text(alphabet="ABCXYZ0123456789-", min_size=1, max_size=12)


@st.composite
def reports(draw: st.DrawFn) -> ExecutionReport:
    filled = draw(st.booleans())
    return ExecutionReport(
        order_id=draw(ids),
        exec_id=draw(ids),
        cl_ord_id=draw(ids),
        exec_type=draw(st.sampled_from(["0", "F", "4", "3"])),
        ord_status=draw(st.sampled_from(["0", "1", "2", "4"])),
        symbol=draw(st.sampled_from(["AAAA", "EUR"])),
        side=draw(st.sampled_from(["1", "2"])),
        cum_qty=draw(st.integers(0, 10**9)),
        leaves_qty=draw(st.integers(0, 10**9)),
        avg_px=draw(prices),
        list_id=draw(st.none() | ids),
        order_qty=draw(st.none() | st.integers(1, 10**9)),
        price=draw(st.none() | prices),
        transact_time=draw(st.none() | st.just("20261121-10:00:00.123")),
        last_qty=draw(st.integers(1, 10**6)) if filled else None,
        last_px=draw(prices) if filled else None,
        text=draw(st.none() | st.just("auction 12")),
        bundle_id=draw(st.none() | ids),
    )


@given(reports())
def test_an_execution_report_survives_the_wire(report: ExecutionReport) -> None:
    wire = encode_execution_report(report).toString()
    decoded = decode_execution_report(fix.Message(wire, _DICTIONARY, False))
    expected = dataclasses.replace(report, bundle_id=None)  # BundleID is the gateway's own
    assert decoded == expected


def test_a_relayed_report_differs_from_the_venues_only_in_the_ids() -> None:
    venue = ExecutionReport(
        order_id="VB1-1",
        exec_id="E7",
        cl_ord_id="B1-1",
        list_id="B1",
        exec_type="F",
        ord_status="1",
        symbol="AAAA",
        side="1",
        cum_qty=300,
        leaves_qty=1700,
        avg_px=Decimal("9.995"),
        order_qty=2000,
        price=Decimal("10.05"),
        transact_time="20261121-10:00:00.123",
        last_qty=300,
        last_px=Decimal("9.9950"),
    )
    sent = encode_execution_report(venue)
    relayed = encode_execution_report(
        dataclasses.replace(
            decode_execution_report(sent), cl_ord_id="L1-A", list_id="L1", bundle_id="B1"
        )
    )

    def fields(message: object) -> dict[str, str]:
        text = message.toString()  # type: ignore[attr-defined]
        pairs = [item.split("=", 1) for item in text.split("\x01") if item]
        return {tag: value for tag, value in pairs if tag not in ("9", "10", "52", "34")}

    before, after = fields(sent), fields(relayed)
    assert after.pop(str(Tag.BUNDLE_ID)) == "B1"
    assert (after.pop("11"), after.pop("66")) == ("L1-A", "L1")
    assert (before.pop("11"), before.pop("66")) == ("B1-1", "B1")
    assert after == before
    assert before["31"] == "9.9950"  # exact text, trailing zero kept


def test_order_reports_of_a_list_status_decode_to_what_was_encoded() -> None:
    orders = [
        OrderReport("B1-1", cum_qty=900, leaves_qty=0, avg_px=Decimal("10"), ord_status="2"),
        OrderReport("B1-2", cum_qty=0, cxl_qty=100, ord_status="4", text="cancelled"),
    ]
    message = list_status(
        list_id="B1",
        status_type=ListStatusType.ALL_DONE,
        order_status=ListOrderStatus.ALL_DONE,
        orders=orders,
    )
    parsed = fix.Message(message.toString(), _DICTIONARY, False)
    assert list(decode_order_reports(parsed)) == orders
