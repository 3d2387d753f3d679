"""The venue (gateway/venue/app.py) without its sessions: tests hand it messages and
run its auctions on their own thread (its reports go to a session not logged on)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from fixspec import Tag
from gateway.core.bundle import Constraint, Leg, OrderBundle, Sense, Side
from gateway.fix.engine import free_port
from gateway.fix.messages import (
    decode_order_reports,
    list_cancel_request,
)
from gateway.fix.venue_codec import encode_bundle
from gateway.venue import app
from gateway.venue.app import READY_FAILURES, Venue
from gateway.venue.auction import AuctionConfig, AuctionResult, clear
from gateway.venue.batching import GROW_AFTER
from gateway.venue.book import Resting
from gateway.venue.config import VenueAppConfig
from tests.unit.gateway.venue.auction.test_solvers import large_book

# --- one bundle never stops every auction (issue 10, finding 3) -------------------------

SESSION = ("FIX.4.4", "VENUE", "BIDGW")  # the venue's side of the gateway's session


@pytest.fixture
def make_venue(tmp_path: Path) -> Iterator[Callable[..., Venue]]:
    """The real venue, not started: tests hand it messages and run its auctions on
    their own thread (its reports go to a session that is not logged on).

    Each is stopped at teardown. Constructing a venue registers its session
    (VENUE→BIDGW) in QuickFIX's process-wide registry, and only ``stop()`` takes it
    out (or the garbage collector, some time later: the venue and its connector refer
    to each other). Left there, it shadows the session of the next venue the process
    builds (the registry keeps the first of two with one SessionID): that venue's
    sendToTarget goes to the stale session, and once the collector destroys the stale
    one it takes the SessionID out of the registry, so the new venue's acceptor drops
    every Logon. tests/integration/test_venue.py run right after this file failed so:
    the gateway never logged on ("connection closed without a Logout")."""
    venues: list[Venue] = []

    def make(**extra: Any) -> Venue:
        config = VenueAppConfig.model_validate(
            {
                "port": free_port(),
                "store": "memory",
                "store_dir": tmp_path / "store",
                "symbols": {
                    "AAAA": {"bid": "9.95", "offer": "10.05"},
                    "BBBB": {"bid": "19.95", "offer": "20.05"},
                },
                # The default liquidity: ten lots at each touch, two random orders a symbol.
                **extra,
            }
        )
        venues.append(Venue(config))
        return venues[-1]

    yield make
    for venue in venues:
        venue.stop()


def _pair(list_id: str, direction: str, aaaa: str | None = None, bbbb_qty: int = 1000) -> Any:
    """AAAA = 2 · BBBB at the far side of the spread, as the venue receives it."""
    long = direction == "long"
    bundle = OrderBundle(
        bundle_id=list_id,
        legs=(
            Leg(
                symbol="AAAA",
                side=Side.BUY if long else Side.SELL,
                limit_price=Decimal(aaaa or ("10.05" if long else "9.95")),
                max_qty=2000,
            ),
            Leg(
                symbol="BBBB",
                side=Side.SELL if long else Side.BUY,
                limit_price=Decimal("19.95" if long else "20.05"),
                max_qty=bbbb_qty,
            ),
        ),
        constraints=(
            Constraint(name="hedge", coefficients=(Decimal(1), Decimal(-2)), sense=Sense.EQ),
        ),
    )
    return encode_bundle(bundle, list_id, [f"{list_id}-1", f"{list_id}-2"])


def test_the_issues_bundle_is_refused_at_arrival_and_the_book_fills(make_venue):
    """A normal book plus one bundle priced 9.95000000000000000000000001. Before, the
    venue booked it and every auction ended no_solution: nothing filled for anyone."""
    venue = make_venue()
    venue._on_bundle(_pair("LONG", "long"), SESSION)
    venue._on_bundle(_pair("BAD", "long", aaaa="9.95000000000000000000000001"), SESSION)
    venue._on_bundle(_pair("SHORT", "short"), SESSION)
    summary = venue._auction()
    assert summary.status in ("optimal", "feasible")
    assert summary.bundles_filled == 2
    assert venue.stats.fills == 2
    assert "BAD" not in venue._book
    assert "BAD" not in venue._finished
    assert (venue.stats.bundles_received, venue.stats.bundles_rejected) == (3, 1)
    assert venue.stats.failing_in_a_row == 0


def test_an_auction_without_bundles_is_logged_at_debug_and_one_with_bundles_at_info(make_venue):
    """An idle venue runs ten auctions a second, its synthetic liquidity trading with
    itself: those are logged at debug, so an operator's log at info shows the
    auctions that held a bundle."""
    venue = make_venue()  # the default liquidity
    wrapper = structlog.get_config()["wrapper_class"]  # the suite's: warnings and up
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        with capture_logs() as logs:
            idle = venue._auction()
            venue._on_bundle(_pair("LONG", "long"), SESSION)
            venue._on_bundle(_pair("SHORT", "short"), SESSION)
            busy = venue._auction()
    finally:
        structlog.configure(wrapper_class=wrapper)
    assert (idle.bundles, busy.bundles, busy.bundles_filled) == (0, 2, 2)
    cleared = [e for e in logs if e["event"] == "auction.cleared"]
    assert [(e["log_level"], e["bundles"]) for e in cleared] == [("debug", 0), ("info", 2)]


def test_a_restored_bundle_refused_today_is_cancelled_before_any_auction(make_venue, tmp_path):
    """A journal from before the screening holds the issue's bundle, resting: the
    restarted venue cancels it and the others clear."""
    journal = tmp_path / "venue.sqlite"
    first = make_venue(journal=journal)
    first._on_bundle(_pair("LONG", "long"), SESSION)
    assert first._journal is not None
    bad = _pair("BAD", "long", aaaa="9.95000000000000000000000001")
    first._journal.save(
        "BAD", SESSION, bad.toString(), [0, 0], ["0/1", "0/1"], started=False, done=False
    )
    first._journal.close()
    venue = make_venue(journal=journal)
    assert venue._journal is not None
    venue._restore(venue._journal)
    assert set(venue._book) == {"LONG", "BAD"}
    venue._reclose()
    assert set(venue._book) == {"LONG"}
    cancelled = venue._finished["BAD"][0]
    assert cancelled.closed == "4"
    assert cancelled.close_text == (
        "cancelled by the venue: Price(44) of order BAD-1 (AAAA): "
        "9.95000000000000000000000001 is not a multiple of the tick 0.01"
    )
    venue._on_bundle(_pair("SHORT", "short"), SESSION)
    assert venue._auction().bundles_filled == 2


def test_after_a_restart_waiting_messages_are_replayed_after_the_restatements(make_venue, tmp_path):
    """A cancel the venue received but had not handled (it waited for an auction) when
    it died is replayed after the restatements and the re-screening of the book, and
    auctions wait until it has been: the gateway hears about the bundle's fill before
    the answer to its cancel."""
    journal = tmp_path / "venue.sqlite"
    first = make_venue(journal=journal)
    first._on_bundle(_pair("LONG", "long"), SESSION)
    assert first._journal is not None
    first._journal.save(  # filled, its reports cut off
        "LONG",
        SESSION,
        first._book["LONG"].raw,
        [2000, 1000],
        ["20100/1", "19950/1"],
        started=True,
        done=False,
    )
    first._journal.receive("gateway", SESSION, list_cancel_request("LONG").toString())
    first._journal.close()
    venue = make_venue(journal=journal)
    assert venue._journal is not None
    venue._restore(venue._journal)
    steps = []
    while not venue._inbox.empty():
        item = venue._inbox.get_nowait()
        assert item is not None
        steps.append(item[0])
    assert steps == ["restate", "reclose", "K", "restored"]
    assert venue._restoring  # no auction before the last step


def _symbols(refs: dict[str, Any]) -> dict[str, Any]:
    """A large book's references as the venue's symbols (its limits are on a 0.005 tick)."""
    return {s: {"bid": str(r.bid), "offer": str(r.offer), "tick": "0.005"} for s, r in refs.items()}


def _rest(venue: Venue, book: list[Any]) -> None:
    """Put a large book's bundles in the venue's book, as if each had been received."""
    for participant in book:
        bundle = participant.bundle
        ids = tuple(f"{bundle.bundle_id}-{k}" for k in range(len(bundle.legs)))
        venue._book[bundle.bundle_id] = Resting(
            SESSION, bundle, ids, [0] * len(ids), [Fraction(0)] * len(ids)
        )


def test_after_auctions_out_of_time_the_next_ones_clear_in_smaller_batches(
    make_venue, monkeypatch, registry
):
    """gateway/venue/batching.py in the venue. 200 five-leg bundles need ~0.15 s for a
    first fill; with a 1 ms first-fill window each auction runs out of time, and the
    venue halves the batch size it hands the next: the book was one batch of the
    configured 1,000, then 100, then 50 (the smallest). Then, with a normal window,
    GROW_AFTER auctions that fill double it back."""
    book, _, refs = large_book(registry, 200, seed=5)
    symbols = _symbols(refs)
    symbols["AAAA"] = {"bid": "9.95", "offer": "10.05"}  # for the pairs below
    symbols["BBBB"] = {"bid": "19.95", "offer": "20.05"}
    venue = make_venue(
        symbols=symbols,
        auction={"time_limit_ms": 1, "first_fill_limit_ms": 1, "batch_bundles": 1000},
    )
    _rest(venue, book)
    sizes: list[int] = []

    def clear_and_note(*args: Any, **kwargs: Any) -> AuctionResult:
        sizes.append(args[3].batch_bundles)
        return clear(*args, **kwargs)

    monkeypatch.setattr(app, "clear", clear_and_note)
    for _ in range(3):
        # no_solution, or feasible when the venue's own orders crossed one another
        assert venue._auction().bundles_filled == 0
    assert sizes == [1000, 100, 50]
    assert venue.batch_bundles == 50

    venue._book.clear()
    venue.config = venue.config.model_copy(update={"auction": AuctionConfig()})
    for k in range(GROW_AFTER):
        venue._on_bundle(_pair(f"L{k}", "long"), SESSION)
        venue._on_bundle(_pair(f"S{k}", "short"), SESSION)
        assert venue._auction().bundles_filled == 2
    assert sizes[3:] == [50] * GROW_AFTER
    assert venue.batch_bundles == 100


def test_a_bundle_whose_rest_cannot_fill_is_closed_after_its_fill(make_venue, monkeypatch):
    """AAAA = 2 · BBBB with 1,500 BBBB against a mirror of 2,000 / 1,000: after the fill
    the 500 BBBB left cannot fill without AAAA, so the bundle is done (ExecType 3 on
    the open leg). The solver thread works that out with the pre-solver
    (``outlook``) before the state thread reports the fill."""
    venue = make_venue(liquidity={"touch_lots": 0, "flow_orders": 0})
    venue._on_bundle(_pair("LONG", "long", bbbb_qty=1500), SESSION)
    venue._on_bundle(_pair("SHORT", "short"), SESSION)
    running = venue._open_auction()
    venue._solve(running)
    assert running.outlook == {"LONG": ((0, 500), False), "SHORT": ((0, 0), False)}

    def asked_again(*_: Any) -> bool:
        raise AssertionError("the state thread ran the pre-solver")

    monkeypatch.setattr(venue, "_can_fill_more", asked_again)
    summary = venue._close_auction(running)
    assert summary.bundles_filled == 2
    assert not venue._book
    done = {list_id: entry[0] for list_id, entry in venue._finished.items()}
    assert (done["LONG"].closed, done["LONG"].close_text) == (
        "3",
        "remaining quantities cannot fill within the bundle's constraints",
    )
    assert (done["LONG"].filled, done["SHORT"].closed, done["SHORT"].close_text) == (
        [2000, 1000],
        None,
        "filled",
    )


def test_auctions_out_of_time_are_warnings_and_ten_in_a_row_an_error(make_venue, registry):
    """Each auction that ends without a fill in time is a warning with its count in a
    row; the error naming the newest bundles comes at READY_FAILURES in a row, when
    /readyz fails (a single slow auction was an error before)."""
    book, _, refs = large_book(registry, 200, seed=5)
    symbols = _symbols(refs)
    venue = make_venue(
        symbols=symbols,
        auction={"time_limit_ms": 1, "first_fill_limit_ms": 1},
        liquidity={"touch_lots": 0, "flow_orders": 0},  # no contra to cross by itself
    )
    _rest(venue, book)
    with capture_logs() as logs:
        assert [venue._auction().status for _ in range(2)] == ["no_solution"] * 2
    warnings = [e for e in logs if e["event"] == "auction.no_fill"]
    assert [(e["log_level"], e["in_a_row"]) for e in warnings] == [("warning", 1), ("warning", 2)]
    assert not [e for e in logs if e["log_level"] == "error"]

    venue.stats.failing_in_a_row = READY_FAILURES - 1  # as if seven more had failed
    with capture_logs() as logs:
        assert venue._auction().status == "no_solution"
    errors = [e for e in logs if e["log_level"] == "error"]
    assert [(e["event"], e["in_a_row"]) for e in errors] == [
        ("auction.keeps_failing", READY_FAILURES)
    ]
    assert (
        venue.readiness()["auctions_clearing"]
        == f"{READY_FAILURES} auctions in a row ended without a solution"
    )


def test_a_repeated_bundle_is_answered_with_its_state_now(make_venue):
    """The gateway forwards a bundle again after a crash: partly filled, the answer says
    executing with each leg's quantities; cancelled since, all done with the legs
    closed (LeavesQty 0, OrdStatus 4), as the cancel reported them."""
    venue = make_venue(liquidity={"touch_lots": 0, "flow_orders": 0})
    venue._on_bundle(_pair("LONG", "long"), SESSION)
    venue._on_bundle(_pair("SHORT", "short", bbbb_qty=500), SESSION)
    assert venue._auction().bundles_filled == 2

    def answer() -> tuple[str, str, str, list[tuple[int, int, str]]]:
        message = venue._repeat_answer("LONG", venue._lookup("LONG"))
        legs = decode_order_reports(message)
        return (
            message.getField(Tag.LIST_STATUS_TYPE),
            message.getField(Tag.LIST_ORDER_STATUS),
            message.getField(Tag.LIST_STATUS_TEXT),
            [(o.cum_qty, o.leaves_qty, o.ord_status) for o in legs],
        )

    assert answer() == (
        "4",
        "3",
        "already received: executing",
        [(1000, 1000, "1"), (500, 500, "1")],
    )
    venue._on_cancel(list_cancel_request("LONG"), SESSION)
    assert answer() == (
        "5",
        "6",
        "already received: done",
        [(1000, 0, "4"), (500, 0, "4")],
    )


def test_a_list_status_request_is_answered_with_the_lists_state_or_unknown_id(make_venue):
    """The gateway asks about each open bundle at every logon: a list the venue holds is
    answered with its ListStatus as it stands (the answer to a repeat's report: each
    leg's CumQty, LeavesQty, OrdStatus); one it does not hold for that session, with a
    BusinessMessageReject 380 = 1 (unknown ID) naming it, so the gateway can close it."""
    venue = make_venue(liquidity={"touch_lots": 0, "flow_orders": 0})
    assert venue._dispatch.supports("M")
    venue._on_bundle(_pair("LONG", "long"), SESSION)
    venue._on_bundle(_pair("SHORT", "short", bbbb_qty=500), SESSION)
    assert venue._auction().bundles_filled == 2

    def answer(list_id: str, session: tuple[str, str, str] = SESSION) -> tuple[Any, ...]:
        message = venue._status_answer(list_id, session)
        kind = message.getHeader().getField(Tag.MSG_TYPE)
        if kind == "j":
            return (
                kind,
                message.getField(Tag.REF_MSG_TYPE),
                message.getField(Tag.BUSINESS_REJECT_REASON),
                message.getField(Tag.BUSINESS_REJECT_REF_ID),
                message.getField(Tag.TEXT),
            )
        return (
            kind,
            message.getField(Tag.LIST_ID),
            message.getField(Tag.LIST_STATUS_TYPE),
            message.getField(Tag.LIST_ORDER_STATUS),
            message.getField(Tag.LIST_STATUS_TEXT),
            [(o.cum_qty, o.leaves_qty, o.ord_status) for o in decode_order_reports(message)],
        )

    assert answer("LONG") == (
        "N",
        "LONG",
        "4",
        "3",
        "current state: executing",
        [(1000, 1000, "1"), (500, 500, "1")],
    )
    assert answer("SHORT") == (  # done: its BBBB filled, and its AAAA alone cannot fill
        "N",
        "SHORT",
        "5",
        "6",
        "remaining quantities cannot fill within the bundle's constraints",
        [(1000, 0, "3"), (500, 0, "2")],
    )
    venue._on_cancel(list_cancel_request("LONG"), SESSION)
    assert answer("LONG")[2:] == (
        "5",
        "6",
        "cancelled on request",
        [(1000, 0, "4"), (500, 0, "4")],
    )
    assert answer("GONE") == ("j", "M", "1", "GONE", "unknown list 'GONE'")
    other = ("FIX.4.4", "VENUE", "OTHER")  # another gateway's session: not its list
    assert answer("LONG", other) == ("j", "M", "1", "LONG", "unknown list 'LONG'")
