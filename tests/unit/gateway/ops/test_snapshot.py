"""The operator's view of the book, built as the state owner builds it."""

from __future__ import annotations

import json
from fractions import Fraction

from gateway.core.plugins import FillCheck
from gateway.core.reports import OrderReport
from gateway.ops.page import live_fragment
from gateway.ops.snapshot import DecisionLog, DecisionView, build_state
from gateway.router.book import Book
from gateway.router.records import BundleRecord

DESK1 = ("FIX.4.4", "BIDGW", "DESK1")
DESK2 = ("FIX.4.4", "BIDGW", "DESK2")


def record(session, n: int) -> BundleRecord:
    return BundleRecord(
        client=session,
        list_id=f"L{n}",
        cl_ord_ids=(f"L{n}-1", f"L{n}-2"),
        all_ids=(f"L{n}-1", f"L{n}-2"),
        bundle_id=f"B{n}",
        venue_ids=(f"B{n}-1", f"B{n}-2"),
        legs_qty=(2000, 1000),
    )


def build(book: Book, legs=None, *, max_bundles: int = 10, decisions: DecisionLog | None = None):
    return build_state(
        book,
        legs or {},
        halted=frozenset({"DESK2"}),
        decisions=decisions or DecisionLog(5),
        queued=3,
        in_flight=1,
        max_bundles=max_bundles,
    )


def test_each_leg_shows_its_last_reported_fill_and_what_remains() -> None:
    book = Book(retain_done_secs=60)
    first = record(DESK1, 1)
    book.register(first)
    first.orders[:] = [OrderReport("L1-1", cum_qty=900, leaves_qty=1100, ord_status="1")]
    legs = {"B1": ("single_factor_hedged", (("AAAA", "buy"), ("BBBB", "sell")))}
    state = build(book, legs)
    (bundle,) = state.bundles
    assert (bundle.bundle_id, bundle.client, bundle.list_id) == ("B1", "DESK1", "L1")
    assert bundle.strategy == "single_factor_hedged"
    assert [
        (leg.symbol, leg.side, leg.filled, leg.remaining, leg.status) for leg in bundle.legs
    ] == [
        ("AAAA", "buy", 900, 1100, "1"),
        ("BBBB", "sell", 0, 1000, "A"),  # nothing reported yet: all of it remains
    ]
    assert state.open_by_client == {"DESK1": 1}
    assert (state.queued, state.in_flight, state.halted) == (3, 1, frozenset({"DESK2"}))


def test_each_bundle_shows_its_fill_against_the_strategys_bound() -> None:
    """The strategy's describe_fill over the legs' filled quantities, marked within or
    not; a strategy that raises shows n/a, never breaks the view."""
    book = Book(retain_done_secs=60)
    for n in (1, 2, 3):
        book.register(record(DESK1, n))
    book.by_bundle["B1"].orders[:] = [OrderReport("L1-1", cum_qty=900, leaves_qty=1100)]
    seen: list[list[int]] = []

    def ratio(fills):
        seen.append(list(fills))
        return FillCheck(
            measure="hedge ratio", achieved=Fraction(1), bound="target +0.5000", within=False
        )

    def broken(fills):
        raise ZeroDivisionError

    state = build_state(
        book,
        {},
        halted=frozenset(),
        decisions=DecisionLog(5),
        queued=0,
        in_flight=0,
        max_bundles=10,
        measures={"B1": ratio, "B2": broken},
    )
    views = {view.bundle_id: view for view in state.bundles}
    assert seen == [[900, 0]]
    assert (views["B1"].measure, views["B1"].within) == (
        "hedge ratio +1.0000, target +0.5000",
        False,
    )
    assert (views["B2"].measure, views["B2"].within) == ("n/a (ZeroDivisionError)", None)
    assert (views["B3"].measure, views["B3"].within) == (None, None)
    assert "hedge ratio +1.0000, target +0.5000 (outside)" in live_fragment([], state)


def test_done_bundles_are_not_open_and_the_page_lists_the_newest_first() -> None:
    book = Book(retain_done_secs=60)
    records = [record(DESK1, n) for n in range(4)] + [record(DESK2, 9)]
    for item in records:
        book.register(item)
    book.finish(records[0], now=0.0)
    state = build(book, max_bundles=2)
    assert state.open_bundles == 4
    assert [b.bundle_id for b in state.bundles] == ["B9", "B3"]
    assert [leg.symbol for leg in state.bundles[0].legs] == ["?", "?"]  # legs unknown
    assert state.open_by_client == {"DESK1": 3, "DESK2": 1}


def test_the_decision_log_keeps_the_last_ones_newest_first_and_the_view_is_json() -> None:
    log = DecisionLog(2)
    for n in range(3):
        log.add(DecisionView(float(n), "DESK1", f"L{n}", n % 2 == 0, f"reason {n}"))
    state = build(Book(retain_done_secs=60), decisions=log)
    assert [d.list_id for d in state.decisions] == ["L2", "L1"]
    data = json.loads(json.dumps(state.to_json()))
    assert data["halted"] == ["DESK2"]
    assert data["decisions"][0]["reason"] == "reason 2"
