"""Client → gateway → simulated venue → fills back, over real sessions; the demo.

The venue alone, with a FIX initiator in the gateway's place: a finished bundle
leaves memory after its grace period, a repeat of it is answered from the
journal and never booked twice, and the journal is compacted while it runs.
Tests follow the auctions through the venue's ``on_auction`` observer.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from fixspec import Tag
from gateway.core import store
from gateway.core.bundle import Constraint, Leg, OrderBundle, Sense, Side
from gateway.core.reports import ListOrderStatus
from gateway.core.store import OwnerLock
from gateway.fix.engine import msg_type
from gateway.fix.messages import decode_order_reports, list_cancel_request
from gateway.fix.venue_codec import (
    decode_security_list,
    encode_bundle,
    security_list_request,
)
from gateway.router.service import Gateway
from gateway.tools.client import ClientConfig, FixClient, parse_report, submit
from gateway.venue import app
from gateway.venue.app import AuctionSummary, Venue, VenueSize
from gateway.venue.config import VenueAppConfig
from tests.conftest import ROOT
from tests.integration.conftest import (
    DEADLINE,
    gateway_config,
    make_client,
    running,
    wait_until,
)

pytestmark = pytest.mark.integration


def venue_config(
    ports: dict[str, int], tmp_path: Path, *, self_trade_prevention: bool = False, **extra: Any
) -> VenueAppConfig:
    """The real venue, with no synthetic liquidity: bundles trade only with each other.
    One desk sends both sides of a trade in these tests, so self-trade prevention is off
    unless asked for (tests/integration/test_risk.py tests it)."""
    stp = {"self_trade_prevention": self_trade_prevention}
    return VenueAppConfig.model_validate(
        {
            "port": ports["venue"],
            "auction_interval_ms": 50,
            "store": "memory",
            "store_dir": tmp_path / "venue-store",
            "symbols": {
                "AAAA": {"bid": "9.95", "offer": "10.05", **stp},
                "BBBB": {"bid": "19.95", "offer": "20.05", **stp},
            },
            "liquidity": {"touch_lots": 0, "flow_orders": 0},
            **extra,
        }
    )


class Auctions:
    """The venue's ``on_auction`` observer: every summary, and waits with a deadline."""

    def __init__(self) -> None:
        self.summaries: list[AuctionSummary] = []
        self._changed = threading.Condition()

    def __call__(self, summary: AuctionSummary) -> None:
        with self._changed:
            self.summaries.append(summary)
            self._changed.notify_all()

    @property
    def count(self) -> int:
        with self._changed:
            return self.summaries[-1].number if self.summaries else 0

    def wait(
        self, predicate: Callable[[AuctionSummary], bool], timeout: float = DEADLINE
    ) -> AuctionSummary | None:
        """The first summary from now on that satisfies ``predicate``, or None."""
        deadline = time.monotonic() + timeout
        with self._changed:
            seen = len(self.summaries)
            while True:
                for summary in self.summaries[seen:]:
                    if predicate(summary):
                        return summary
                seen = len(self.summaries)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(remaining)

    def wait_count(self, count: int, timeout: float = DEADLINE) -> bool:
        """Whether ``count`` auctions in total have run before the deadline."""
        return self.count >= count or self.wait(lambda s: s.number >= count, timeout) is not None


@pytest.fixture
def auctions() -> Auctions:
    return Auctions()


@pytest.fixture
def venue(ports, tmp_path, auctions) -> Iterator[Venue]:
    party = Venue(venue_config(ports, tmp_path), on_auction=auctions)
    party.start()
    try:
        yield party
    finally:
        party.stop()


@contextlib.contextmanager
def gateway_and_desk(ports, tmp_path, **venue: Any) -> Iterator[tuple[Gateway, FixClient]]:
    """A gateway logged on to the venue on ``ports`` (``venue``: VenueConfig keys), and
    DESK1 logged on to it."""
    gw = Gateway(gateway_config(ports, tmp_path, venue=venue))
    gw.start()
    desk = make_client(ports, tmp_path)
    try:
        assert gw.venue_logged_on.wait(DEADLINE)
        assert gw.instruments_ready.wait(DEADLINE)
        assert desk.start(DEADLINE)
        yield gw, desk
    finally:
        desk.stop()
        gw.stop()


@pytest.fixture
def stack(ports, tmp_path, venue) -> Iterator[tuple[Gateway, FixClient]]:
    with gateway_and_desk(ports, tmp_path) as both:
        yield both


def pair(direction: str) -> dict[str, Any]:
    """Hedged AAAA/BBBB: |c| = 1, r = 3 gives -2·AAAA + 4·BBBB = 0, i.e. AAAA = 2·BBBB.

    ``long`` buys AAAA and sells BBBB at the far side of the spread; ``short`` is
    the mirror image. The two cross each other at any price in the spread.
    """
    long = direction == "long"
    return {
        "strategy": "single_factor_hedged",
        "bidder_data": {
            "target_hedge_ratio": 3,
            "positions": [
                {
                    "symbol": "AAAA",
                    "side": "Buy" if long else "Sell",
                    "hedge_qty_coeff": 1,
                    "qty": 2000,
                    "price": "10.05" if long else "9.95",
                },
                {
                    "symbol": "BBBB",
                    "side": "Sell" if long else "Buy",
                    "hedge_qty_coeff": -1,
                    "qty": 1000,
                    "price": "19.95" if long else "20.05",
                },
            ],
        },
    }


@contextlib.contextmanager
def two_desks(ports, tmp_path: Path, venue: Venue) -> Iterator[tuple[FixClient, FixClient]]:
    """``venue`` started, a gateway in front of it, DESK1 and DESK2 logged on to the
    gateway; everything stopped afterwards."""
    venue.start()
    try:
        with running(Gateway(gateway_config(ports, tmp_path))):
            one, two = make_client(ports, tmp_path), make_client(ports, tmp_path, "DESK2")
            assert one.start(DEADLINE)
            assert two.start(DEADLINE)
            try:
                yield one, two
            finally:
                one.stop()
                two.stop()
    finally:
        venue.stop()


def fills_for(client, list_id: str, legs: int, timeout: float = DEADLINE) -> list[dict]:
    """Execution reports for ``list_id`` until every leg is filled (or the timeout)."""
    reports: list[dict] = []
    done: set[str] = set()
    while len(done) < legs:
        message = client.wait_for(
            lambda m: msg_type(m) == "8" and m.getField(Tag.LIST_ID) == list_id, timeout
        )
        if message is None:
            break
        report = parse_report(message)
        reports.append(report)
        if report["ord_status"] == "2":
            done.add(report["cl_ord_id"])
    return reports


def test_bundle_rests_then_fills_against_a_later_bundle_with_client_ids(stack, auctions):
    _, desk = stack
    first = submit(desk, pair("long"), list_id="LONG-1", wait_done=False)
    assert first.status == "accepted", first.reason
    # It rests: with no liquidity, several auctions pass without a fill.
    assert auctions.wait_count(auctions.count + 3)
    assert desk.wait_for(lambda m: msg_type(m) == "8", 0.05) is None
    # Liquidity arrives as the mirror bundle: both fill in one auction.
    second = submit(desk, pair("short"), list_id="SHORT-1", wait_done=False)
    assert second.status == "accepted", second.reason
    long_fills = fills_for(desk, "LONG-1", 2)
    short_fills = fills_for(desk, "SHORT-1", 2)
    assert {r["cl_ord_id"]: r["cum_qty"] for r in long_fills} == {
        "LONG-1-1": 2000,
        "LONG-1-2": 1000,
    }
    assert {r["cl_ord_id"]: r["cum_qty"] for r in short_fills} == {
        "SHORT-1-1": 2000,
        "SHORT-1-2": 1000,
    }
    for report in long_fills + short_fills:
        assert report["bundle_id"]
        assert report["exec_type"] == "F"
    # One uniform price per symbol, within the reference spread.
    prices = {r["symbol"]: Decimal(r["last_px"]) for r in long_fills + short_fills}
    assert Decimal("9.95") <= prices["AAAA"] <= Decimal("10.05")
    assert Decimal("19.95") <= prices["BBBB"] <= Decimal("20.05")
    # And the hedge holds on what was actually filled: AAAA = 2 · BBBB for each bundle.
    for reports in (long_fills, short_fills):
        cum = {r["symbol"]: r["cum_qty"] for r in reports}
        assert cum["AAAA"] == 2 * cum["BBBB"]


def test_cancel_stops_further_fills(stack, auctions):
    _, desk = stack
    assert submit(desk, pair("long"), list_id="CXL-1", wait_done=False).status == "accepted"
    desk.send(list_cancel_request("CXL-1"))
    done = desk.wait_for(
        lambda m: (
            msg_type(m) == "N"
            and m.getField(Tag.LIST_ID) == "CXL-1"
            and m.getField(Tag.LIST_ORDER_STATUS) == "6"
        ),
        DEADLINE,
    )
    assert done is not None
    cancelled = [
        parse_report(desk.wait_for(lambda m: msg_type(m) == "8", DEADLINE)) for _ in range(2)
    ]
    assert {r["exec_type"] for r in cancelled} == {"4"}
    # The mirror bundle arrives, but the cancelled one is gone: nothing to trade with.
    assert submit(desk, pair("short"), list_id="CXL-2", wait_done=False).status == "accepted"
    assert auctions.wait_count(auctions.count + 4)
    assert desk.wait_for(lambda m: msg_type(m) == "8", 0.05) is None


def test_a_venue_that_fails_to_start_releases_its_journal(ports, tmp_path):
    """A start that fails after taking the journal's lock (here: the FIX port is taken)
    stops what it started and releases the lock: the same config starts once the port
    is free, without a stop() between."""
    config = venue_config(ports, tmp_path, store="file", journal=tmp_path / "venue.sqlite")
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("0.0.0.0", ports["venue"]))
        squatter.listen()
        with pytest.raises(Exception, match=str(ports["venue"])):
            Venue(config).start()
        lock = OwnerLock(tmp_path / "venue.sqlite")
        lock.acquire()  # raises ConfigError while a failed start still holds it
        lock.release()
    again = Venue(config)
    again.start()
    try:
        with gateway_and_desk(ports, tmp_path) as (_gw, _desk):
            assert again.logged_on.wait(DEADLINE)
    finally:
        again.stop()


def test_venue_restarted_on_its_journal_keeps_its_book_and_resends_cut_off_state(ports, tmp_path):
    """A resting bundle survives a venue restart: the new venue reports its state and
    later fills it against a mirror bundle."""
    config = venue_config(ports, tmp_path, store="file", journal=tmp_path / "venue.sqlite")
    with _venues(config) as venues:
        first = venues[0]
        with gateway_and_desk(ports, tmp_path) as (_gw, desk):
            assert submit(desk, pair("long"), list_id="R-1", wait_done=False).status == "accepted"
            resting = desk.wait_for(
                lambda m: msg_type(m) == "N" and _text(m).startswith("resting"),
                DEADLINE,
            )
            assert resting is not None
            first.stop()
            # The window a crash can leave: the book row written, its report not yet sent.
            with sqlite3.connect(tmp_path / "venue.sqlite") as db:
                db.execute("UPDATE book SET reported = 0")
            second = Venue(config)
            venues.append(second)
            second.start()
            assert second.logged_on.wait(DEADLINE)
            restored = desk.wait_for(
                lambda m: (
                    msg_type(m) == "N"
                    and m.getField(Tag.LIST_STATUS_TEXT) == "restored after a venue restart"
                ),
                DEADLINE,
            )
            assert restored is not None
            assert parse_report(restored)["list_id"] == "R-1"
            # The restored bundle is in the new venue's book: the mirror bundle trades with it.
            assert submit(desk, pair("short"), list_id="R-2", wait_done=False).status == "accepted"
            fills = fills_for(desk, "R-1", 2)
            assert {r["cl_ord_id"]: r["cum_qty"] for r in fills} == {"R-1-1": 2000, "R-1-2": 1000}


def test_bundles_a_restarted_venue_no_longer_knows_are_closed_by_the_cancels_it_refuses(
    ports, tmp_path
):
    """A venue that lost its book (restarted without its journal) refuses a cancel as
    Unknown ID. A desk's cancel and an operator's each close their bundle, legs
    cancelled, instead of going unanswered and leaving it open at the gateway. (The
    gateway's own ListStatusRequests at the venue's logon would close them first: off
    here, as for a counterparty that does not serve them.)"""
    # FIX sequence numbers kept, no journal: the restart forgets the book, and QuickFIX
    # resends nothing that would book it again.
    config = venue_config(ports, tmp_path, store="file")
    with _venues(config) as venues:
        first = venues[0]
        with gateway_and_desk(ports, tmp_path, reconcile_on_logon=False) as (gw, desk):
            bundle_ids = {}
            for list_id in ("U-1", "U-2"):
                result = submit(desk, pair("long"), list_id=list_id, wait_done=False)
                assert result.status == "accepted", result.reason
                bundle_ids[list_id] = result.bundle_id
            assert wait_until(lambda: first.size().resting == 2)
            first.stop()
            assert wait_until(lambda: not gw.venue_up)
            second = Venue(config)
            venues.append(second)
            second.start()
            assert second.logged_on.wait(DEADLINE)
            assert wait_until(lambda: gw.venue_up)

            def closed(list_id: str) -> dict[str, Any]:
                message = desk.wait_for(
                    lambda m: (
                        msg_type(m) == "N"
                        and m.getField(Tag.LIST_ID) == list_id
                        and m.getField(Tag.LIST_STATUS_TYPE) == "5"
                    ),
                    DEADLINE,
                )
                assert message is not None, f"no answer closing {list_id}"
                return parse_report(message)

            desk.send(list_cancel_request("U-1"))
            by_desk = closed("U-1")
            assert (
                gw.on_state_owner(lambda: gw.operator_cancel(bundle_ids["U-2"]), DEADLINE) == "sent"
            )
            by_operator = closed("U-2")
            for report in (by_desk, by_operator):
                assert report["list_order_status"] == 6
                assert f"no open list {report['bundle_id']}" in report["text"], report["text"]
                legs = [(o["ord_status"], o["leaves_qty"], o["cxl_qty"]) for o in report["orders"]]
                assert legs == [("4", 0, 2000), ("4", 0, 1000)]
            assert gw.state().open_bundles == 0


def _reconciled(gw: Gateway, outcome: str) -> float:
    """``bidgw_reconcile_bundles_total{outcome}``: the gateway's ListStatusRequests at the
    venue's logons ("asked") and their answers by outcome."""
    value = gw.metrics.registry.get_sample_value(
        "bidgw_reconcile_bundles_total", {"outcome": outcome}
    )
    return value or 0.0


@contextlib.contextmanager
def _venues(config: VenueAppConfig) -> Iterator[list[Venue]]:
    """A venue started on ``config``, first of a list that :func:`_restart_venue` adds
    its successors to; the newest is stopped at the end (the others are by then)."""
    venues = [Venue(config)]
    venues[0].start()
    try:
        yield venues
    finally:
        venues[-1].stop()


def _restart_venue(
    gw: Gateway,
    venues: list[Venue],
    config: VenueAppConfig,
    *,
    forget_book: bool = False,
    resend_all: bool = False,
) -> Venue:
    """Stop the running venue, wait for the gateway to see it gone, and start a new one
    on the same config (``forget_book``: its journal deleted in between; its FIX store,
    and so its sequence numbers, kept; ``resend_all``: the number it expects from the
    gateway set back to 1, as in a FIX store restored from the day's start, so it asks
    for every message again)."""
    venues[-1].stop()
    assert wait_until(lambda: not gw.venue_up)
    if forget_book:
        assert config.journal is not None
        for path in config.journal.parent.glob(f"{config.journal.name}*"):
            path.unlink()
    if resend_all:
        (seqnums,) = config.store_dir.glob("*.seqnums")  # "<next sent> : <next expected>"
        sent = seqnums.read_text().split(":")[0].strip()
        seqnums.write_text(f"{sent} : 1")
    second = Venue(config)
    venues.append(second)
    second.start()
    assert second.logged_on.wait(DEADLINE)
    return second


def test_bundles_a_venue_restarted_without_its_journal_no_longer_holds_close_at_its_logon(
    ports, tmp_path
):
    """The venue's journal is deleted while it is stopped: restarted (its FIX sequence
    numbers kept), it holds no bundle. At its logon the gateway asks about the bundle
    that rested there, the venue answers Unknown ID, and the desk gets the list's
    terminal ListStatus saying the counterparty has no such list, unasked. The gateway
    goes on: the next list is accepted and rests at the restarted venue."""
    journal = tmp_path / "venue.sqlite"
    config = venue_config(ports, tmp_path, store="file", journal=journal)
    with _venues(config) as venues:
        first = venues[0]
        with gateway_and_desk(ports, tmp_path) as (gw, desk):
            result = submit(desk, pair("long"), list_id="G-1", wait_done=False)
            assert result.status == "accepted", result.reason
            assert wait_until(lambda: first.size().resting == 1)
            second = _restart_venue(gw, venues, config, forget_book=True)
            closed = desk.wait_for(_status("G-1", "6"), DEADLINE)
            assert closed is not None, "the gateway never closed the list the venue lost"
            report = parse_report(closed)
            assert closed.getField(Tag.LIST_STATUS_TYPE) == "5"
            assert report["bundle_id"] == result.bundle_id
            assert f"the counterparty has no open list {result.bundle_id}" in report["text"]
            assert "unknown list" in report["text"], report["text"]
            legs = [(o["ord_status"], o["leaves_qty"], o["cxl_qty"]) for o in report["orders"]]
            assert legs == [("4", 0, 2000), ("4", 0, 1000)]
            assert wait_until(lambda: _reconciled(gw, "closed") == 1)
            assert _reconciled(gw, "asked") == 1  # one open bundle at two logons
            assert gw.state().open_bundles == 0
            # The gateway is up: a new list is accepted and rests at the new venue.
            after = submit(desk, pair("long"), list_id="G-2", wait_done=False)
            assert after.status == "accepted", after.reason
            assert wait_until(lambda: second.size().resting == 1)


def test_a_venue_that_lost_its_book_is_resent_only_unfilled_open_bundles(ports, tmp_path):
    """The venue restarts without its journal and asks for every message of the day
    again (``resend_all``). QuickFIX resends the NewOrderList of the open bundle that
    never filled (booked again: the gateway holds it open), and gap fills in place of
    the part-filled and the done bundles' (booked again at full quantity, they traded
    a second time: DONE filled twice, before this); the logon's reconciliation then
    closes the part-filled one, which the venue no longer holds."""
    config = venue_config(ports, tmp_path, store="file", journal=tmp_path / "venue.sqlite")
    with _venues(config) as venues, gateway_and_desk(ports, tmp_path) as (gw, desk):
        part = submit(desk, pair("long"), list_id="PART", wait_done=False)
        assert part.status == "accepted", part.reason
        assert desk.wait_for(_status("PART", "1"), DEADLINE) is not None  # resting
        assert submit(desk, _half("short"), list_id="DONE", wait_done=False).status == ("accepted")
        assert desk.wait_for(_status("DONE", "6"), DEADLINE) is not None
        assert desk.wait_for(_status("PART", "3"), DEADLINE) is not None  # half filled
        still = submit(desk, pair("long"), list_id="OPEN", wait_done=False)
        assert still.status == "accepted", still.reason
        assert desk.wait_for(_status("OPEN", "1"), DEADLINE) is not None
        bundle_ids = {r.list_id: r.bundle_id for r in gw.book.by_bundle.values()}
        _drop_received(desk)
        second = _restart_venue(gw, venues, config, forget_book=True, resend_all=True)
        closed = desk.wait_for(_status("PART", "6"), DEADLINE)
        assert closed is not None
        assert "the counterparty has no open list" in _text(closed)
        assert wait_until(lambda: set(second._book) == {bundle_ids["OPEN"]})
        assert bundle_ids["DONE"] not in second._finished
        # Nothing of PART or DONE trades again, with OPEN or with each other.
        assert desk.wait_for(lambda m: msg_type(m) == "8", 0.5) is None


def _half(direction: str) -> dict[str, Any]:
    """:func:`pair` at half its quantities: AAAA 1000, BBBB 500."""
    payload = pair(direction)
    for position in payload["bidder_data"]["positions"]:
        position["qty"] //= 2
    return payload


def _executions(desk: FixClient, list_id: str, count: int) -> list[dict[str, Any]]:
    """The next ``count`` ExecutionReports for ``list_id``, in arrival order."""
    reports = []
    for _ in range(count):
        message = desk.wait_for(
            lambda m: msg_type(m) == "8" and m.getField(Tag.LIST_ID) == list_id, DEADLINE
        )
        assert message is not None, f"{len(reports)} of {count} reports for {list_id}"
        reports.append(parse_report(message))
    return reports


def test_a_venue_restarted_on_its_book_answers_the_logons_status_request_and_nothing_doubles(
    ports, tmp_path
):
    """A bundle part filled rests at a venue restarted on its journal. At its logon
    the gateway asks about it: the venue's ListStatus (its legs' quantities now) is
    relayed, the bundle stays open, and its later fill completes it: every quantity is
    counted once, at the desk and in the gateway's metrics."""
    journal = tmp_path / "venue.sqlite"
    config = venue_config(ports, tmp_path, store="file", journal=journal)
    with _venues(config) as venues, gateway_and_desk(ports, tmp_path) as (gw, desk):
        assert submit(desk, pair("long"), list_id="K-1", wait_done=False).status == ("accepted")
        assert submit(desk, _half("short"), list_id="K-2", wait_done=False).status == ("accepted")
        reports = _executions(desk, "K-1", 2) + _executions(desk, "K-2", 2)
        assert [r["cum_qty"] for r in reports] == [1000, 500, 1000, 500]
        assert desk.wait_for(_status("K-2", DONE), DEADLINE) is not None
        asked_before = _reconciled(gw, "asked")
        _restart_venue(gw, venues, config)
        answer = desk.wait_for(
            lambda m: (
                msg_type(m) == "N"
                and m.getField(Tag.LIST_ID) == "K-1"
                and m.getField(Tag.LIST_STATUS_TEXT) == "current state: executing"
            ),
            DEADLINE,
        )
        assert answer is not None, "the venue's answer about K-1 was not relayed"
        state = parse_report(answer)
        assert state["list_order_status"] == 3  # executing: still open
        legs = [(o["cum_qty"], o["leaves_qty"], o["ord_status"]) for o in state["orders"]]
        assert legs == [(1000, 1000, "1"), (500, 500, "1")]
        assert wait_until(lambda: _reconciled(gw, "held") == 1)
        assert _reconciled(gw, "asked") - asked_before == 1  # K-2 is done: not asked
        assert gw.state().open_bundles == 1
        # The rest fills against a new mirror bundle, once.
        assert submit(desk, _half("short"), list_id="K-3", wait_done=False).status == ("accepted")
        rest = _executions(desk, "K-1", 2)
        assert [(r["last_qty"], r["cum_qty"], r["ord_status"]) for r in rest] == [
            (1000, 2000, "2"),
            (500, 1000, "2"),
        ]
        done = _status("K-1", DONE)
        assert desk.wait_for(done, DEADLINE) is not None
        assert _executions(desk, "K-3", 2)
        assert desk.wait_for(done, 0.3) is None, "a second terminal status for K-1"

        def filled() -> float:
            total = gw.metrics.registry.get_sample_value(
                "bidgw_filled_quantity_total", {"client": "DESK1"}
            )
            return total or 0.0

        assert wait_until(lambda: filled() >= 6000)
        assert filled() == 3000 + 1500 + 1500  # K-1 whole, K-2 and K-3 whole
        assert gw.state().open_bundles == 0


def _text(message: Any) -> str:
    return str(parse_report(message)["text"] or "")


def test_demo_runs_and_every_fill_respects_its_bound(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.tools.cli",
            "demo",
            "--bundles",
            "12",
            "--auctions",
            "20",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.splitlines()
    totals = next(line for line in summary if line.startswith("bundles sent"))
    assert "bound violations 0" in totals
    filled = int(totals.split("filled ")[1].split(";")[0])
    assert filled >= 5, totals
    assert any("ok" in line and "|" in line for line in summary)
    assert not any("VIOLATED" in line for line in summary)
    # Logs went to the run folder, not the terminal.
    run_dir = next(tmp_path.iterdir())
    assert (run_dir / "venue.log").exists()
    records = [json.loads(line) for line in (run_dir / "venue.log").read_text().splitlines()]
    cleared = [r for r in records if r["event"] == "auction.cleared"]
    assert cleared
    assert all("gap" in r for r in cleared)  # to the solver's bound, for the operator


# The venue alone, a FIX initiator in the gateway's place -------------------------------


def _bundle(list_id: str, direction: str) -> OrderBundle:
    """The compiled form of :func:`pair`: AAAA = 2 · BBBB, at the far side of the spread."""
    long = direction == "long"
    return OrderBundle(
        bundle_id=list_id,
        legs=(
            Leg(
                symbol="AAAA",
                side=Side.BUY if long else Side.SELL,
                limit_price=Decimal("10.05" if long else "9.95"),
                max_qty=2000,
            ),
            Leg(
                symbol="BBBB",
                side=Side.SELL if long else Side.BUY,
                limit_price=Decimal("19.95" if long else "20.05"),
                max_qty=1000,
            ),
        ),
        constraints=(
            Constraint(name="hedge", coefficients=(Decimal(1), Decimal(-2)), sense=Sense.EQ),
        ),
        metadata={"strategy": "single_factor_hedged"},
    )


def _order_list(list_id: str, direction: str, cl_ord_ids: list[str] | None = None) -> Any:
    ids = cl_ord_ids or [f"{list_id}-1", f"{list_id}-2"]
    return encode_bundle(_bundle(list_id, direction), list_id, ids)


def _status(list_id: str, order_status: str | None = None) -> Callable[[Any], bool]:
    """A ListStatus for ``list_id`` (with that ListOrderStatus, if given)."""
    return lambda m: (
        msg_type(m) == "N"
        and m.getField(Tag.LIST_ID) == list_id
        and (order_status is None or m.getField(Tag.LIST_ORDER_STATUS) == order_status)
    )


def _drop_received(client: FixClient) -> None:
    """Forget every message the client has received so far."""
    while client.wait_for(lambda m: True, 0) is not None:
        pass
    with contextlib.suppress(queue.Empty):
        while True:
            client.inbox.get_nowait()


@contextlib.contextmanager
def _venue_alone(
    ports: dict[str, int], tmp_path: Path, *, reset_on_logon: bool = True, **extra: Any
) -> Iterator[tuple[Venue, Auctions, FixClient]]:
    """The venue, its auction observer, and a FIX initiator logged on as the gateway
    (``reset_on_logon=False`` keeps sequence numbers across the logon, so nothing the
    venue sent before it is lost)."""
    watch = Auctions()
    party = Venue(venue_config(ports, tmp_path, **extra), on_auction=watch)
    party.start()
    gateway = FixClient(
        ClientConfig(
            port=ports["venue"],
            sender_comp_id="BIDGW",
            target_comp_id="VENUE",
            reset_on_logon=reset_on_logon,
            store_dir=tmp_path / "as-gateway-store",
            fix_log_dir=tmp_path / "as-gateway-log",
        )
    )
    try:
        assert gateway.start(DEADLINE), "no logon to the venue"
        yield party, watch, gateway
    finally:
        gateway.stop()
        party.stop()


EMPTY = VenueSize(resting=0, finished=0, seen_ids=0)


def test_finished_bundles_and_their_ids_leave_memory_after_the_grace_period(ports, tmp_path):
    with _venue_alone(ports, tmp_path, retain_done_secs="0.2") as (venue, auctions, gw):
        assert venue.size() == EMPTY
        lists = [f"M-{n}" for n in range(20)]
        for n, list_id in enumerate(lists):
            assert gw.send(_order_list(list_id, "short" if n % 2 else "long"))
        for list_id in lists:
            assert gw.wait_for(_status(list_id, "6"), DEADLINE) is not None, list_id
        back = auctions.wait(lambda s: s.size == EMPTY)
        assert back is not None, auctions.summaries[-1]
        # They were held after finishing, ids included, then let go.
        assert max(s.size.finished for s in auctions.summaries) > 0
        assert max(s.size.seen_ids for s in auctions.summaries) > 0
        assert venue.size() == EMPTY
        assert (venue.stats.bundles_received, venue.stats.bundles_rejected) == (20, 0)


def test_a_repeat_of_a_bundle_that_left_memory_is_answered_from_the_journal(ports, tmp_path):
    """The gateway forwards a bundle again after a crash: the venue answers with the
    bundle's final state, even once it left memory, and books nothing."""
    journal = tmp_path / "venue.sqlite"
    config = {"retain_done_secs": "0.2", "journal": journal}
    with _venue_alone(ports, tmp_path, **config) as (venue, auctions, gw):
        assert gw.send(_order_list("J-1", "long"))
        assert gw.send(_order_list("J-2", "short"))
        first = gw.wait_for(_status("J-1", "6"), DEADLINE)
        assert first is not None
        assert gw.wait_for(_status("J-2", "6"), DEADLINE) is not None
        assert auctions.wait(lambda s: s.size == EMPTY) is not None, "J-1 never left memory"
        _drop_received(gw)  # every report of J-1 and J-2 came before their last status

        assert gw.send(_order_list("J-1", "long"))
        again = gw.wait_for(_status("J-1"), DEADLINE)
        assert again is not None
        assert again.getField(Tag.LIST_STATUS_TYPE) == "5"  # all done
        assert again.getField(Tag.LIST_ORDER_STATUS) == "6"
        assert again.getField(Tag.LIST_STATUS_TEXT) == "already received: done"
        orders = decode_order_reports(again)
        assert [(o.cl_ord_id, o.cum_qty, o.leaves_qty, o.ord_status) for o in orders] == [
            ("J-1-1", 2000, 0, "2"),
            ("J-1-2", 1000, 0, "2"),
        ]
        assert [o.avg_px for o in orders] == [o.avg_px for o in decode_order_reports(first)]
        # Not booked again: auctions pass, nothing rests, nothing more is reported.
        assert auctions.wait_count(auctions.count + 3)
        assert venue.size() == EMPTY
        assert gw.wait_for(lambda m: m.getField(Tag.LIST_ID) == "J-1", 0.05) is None
        # A ClOrdID of the forgotten bundle is still taken.
        assert gw.send(_order_list("J-3", "long", ["J-1-1", "J-3-2"]))
        refused = gw.wait_for(_status("J-3", "7"), DEADLINE)
        assert refused is not None
        assert refused.getField(Tag.LIST_STATUS_TEXT) == "duplicate id 'J-1-1'"
        assert (venue.stats.bundles_received, venue.stats.bundles_rejected) == (4, 1)
    with contextlib.closing(sqlite3.connect(journal)) as db:
        rows = db.execute("SELECT list_id, filled, done FROM book ORDER BY rowid").fetchall()
    assert rows == [("J-1", "[2000, 1000]", 1), ("J-2", "[2000, 1000]", 1)]


def _journal_rows(path: Path) -> dict[str, Any]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return {
            "book": [r[0] for r in db.execute("SELECT list_id FROM book ORDER BY list_id")],
            "book_ids": [r[0] for r in db.execute("SELECT id FROM book_ids ORDER BY id")],
            "inbox": db.execute("SELECT count(*) FROM inbox").fetchone()[0],
        }


RESTING, DONE = str(ListOrderStatus.IN_BIDDING_PROCESS), str(ListOrderStatus.ALL_DONE)


def _held_auctions(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """The venue's solve of an auction with two bundles or more waits (bounded) until
    the test lets it go, then runs the real solver: (entered, release)."""
    entered, release = threading.Event(), threading.Event()
    real = app.clear

    def held(participants: Any, *args: Any, **kwargs: Any) -> Any:
        if len(participants) >= 2:
            entered.set()
            release.wait(DEADLINE)
        return real(participants, *args, **kwargs)

    monkeypatch.setattr(app, "clear", held)
    return entered, release


def _in_order(client: FixClient, last: Callable[[Any], bool]) -> list[Any]:
    """Every message the client receives, in arrival order, up to ``last`` (included)."""
    seen: list[Any] = []
    while (message := client.wait_for(lambda m: True, DEADLINE)) is not None:
        seen.append(message)
        if last(message):
            return seen
    raise AssertionError(f"not received in time; got {[msg_type(m) for m in seen]}")


def test_the_venue_answers_while_an_auction_is_solved(ports, tmp_path, monkeypatch):
    """The solve runs on the venue's solver thread: while it runs (held here, then the
    real solve), a new bundle is acknowledged and a SecurityListRequest answered. A
    cancel of a bundle in that auction waits for the auction's reports: the bundle
    filled, so the cancel's answer, after the fills, is that the list is finished."""
    entered, release = _held_auctions(monkeypatch)
    with _venue_alone(ports, tmp_path) as (venue, auctions, gw):
        gw.send(_order_list("LONG", "long"))
        gw.send(_order_list("SHORT", "short"))
        assert entered.wait(DEADLINE), "no auction with both bundles"
        gw.send(list_cancel_request("LONG"))
        gw.send(_order_list("NEW", "long"))
        gw.send(security_list_request("REQ-1"))
        during = _in_order(gw, lambda m: msg_type(m) == "y")
        assert any(map(_status("NEW", RESTING), during)), "NEW not acknowledged"
        assert not [m for m in during if msg_type(m) in ("8", "j")], "LONG's cancel answered"
        assert venue.messages_waiting == 1  # the cancel (the /metrics gauge reads it)

        release.set()
        after = _in_order(gw, lambda m: msg_type(m) == "j")
        assert "unknown or finished list 'LONG'" in _text(after[-1])
        assert venue.messages_waiting == 0
        filled = [parse_report(m) for m in after if msg_type(m) == "8"]
        assert {r["cl_ord_id"]: r["cum_qty"] for r in filled if r["list_id"] == "LONG"} == {
            "LONG-1": 2000,
            "LONG-2": 1000,
        }
        assert any(map(_status("LONG", DONE), after[:-1])), "LONG not done before the answer"
        # NEW joins the next auction; it rests (SHORT, its contra, filled with LONG).
        assert "NEW" in venue._book
        assert auctions.wait_count(auctions.count + 2)
        assert venue.stats.fills == 2


def test_a_reload_during_an_auction_applies_to_what_arrives_after_it(ports, tmp_path, monkeypatch):
    """A reload (SIGHUP) during an auction's solve waits for the auction's reports; a
    bundle and a SecurityListRequest that arrive after it wait behind it, so they see
    the new symbols: the bundle on the dropped BBBB is refused, the list has CCCC."""
    entered, release = _held_auctions(monkeypatch)
    with _venue_alone(ports, tmp_path) as (venue, _, gw):
        gw.send(_order_list("LONG", "long"))
        gw.send(_order_list("SHORT", "short"))
        assert entered.wait(DEADLINE), "no auction with both bundles"
        config = venue_config(ports, tmp_path)
        symbols = dict(config.symbols)
        symbols["CCCC"] = symbols.pop("BBBB")
        venue.reload(config.model_copy(update={"symbols": symbols}))
        assert wait_until(lambda: any(item[0] == "reload" for item in venue._waiting))
        gw.send(_order_list("NEW", "long"))  # AAAA and BBBB
        gw.send(security_list_request("REQ-1"))
        release.set()
        seen = _in_order(gw, lambda m: msg_type(m) == "y")
        refused = [m for m in seen if _status("NEW", str(ListOrderStatus.REJECT))(m)]
        assert refused, [msg_type(m) for m in seen]
        assert "BBBB" in _text(refused[0])
        assert any(map(_status("LONG", DONE), seen)), "the auction's reports came first"
        listed = decode_security_list(seen[-1]).instruments
        assert {i.symbol for i in listed} == {"AAAA", "CCCC"}


def test_a_bundle_arriving_while_fills_are_reported_is_answered_between_them(
    ports, tmp_path, monkeypatch
):
    """An auction that filled many bundles sends thousands of reports; a new bundle
    that arrives meanwhile is acknowledged between two bundles' reports, not after all
    of them. Here the venue's reports pause after the first bundle's until the new
    bundle has arrived."""
    arrived = threading.Event()
    with _venue_alone(ports, tmp_path) as (venue, _, gw):
        report_fills = venue._report_fills

        def paused(*args: Any) -> None:
            report_fills(*args)
            arrived.wait(DEADLINE)

        monkeypatch.setattr(venue, "_report_fills", paused)
        gw.send(_order_list("LONG", "long"))
        gw.send(_order_list("SHORT", "short"))
        first = _in_order(gw, lambda m: msg_type(m) == "8")  # the first fill is going out
        gw.send(_order_list("NEW", "long"))
        assert wait_until(lambda: venue._inbox.qsize() > 0)
        arrived.set()
        rest = _in_order(gw, _status("NEW", RESTING))
        # Only the first bundle's reports had gone out; the second's follow the answer.
        (first_filled,) = {m.getField(Tag.LIST_ID) for m in first + rest if msg_type(m) == "8"}
        (second,) = {"LONG", "SHORT"} - {first_filled}
        assert _in_order(gw, _status(second, DONE))


def test_a_venue_stopped_during_an_auction_reports_its_fills_first(ports, tmp_path, monkeypatch):
    """stop() while an auction is being solved waits for it: its fills go out before
    the session closes."""
    entered, release = _held_auctions(monkeypatch)
    with _venue_alone(ports, tmp_path) as (venue, _, gw):
        gw.send(_order_list("LONG", "long"))
        gw.send(_order_list("SHORT", "short"))
        assert entered.wait(DEADLINE), "no auction with both bundles"
        stopping = threading.Thread(target=venue.stop)
        stopping.start()
        assert wait_until(venue._stop.is_set)
        release.set()
        stopping.join(DEADLINE)
        assert not stopping.is_alive()
        assert venue.stats.fills == 2
        assert len(fills_for(gw, "LONG", 2)) == 2
        assert len(fills_for(gw, "SHORT", 2)) == 2


def test_the_venue_compacts_its_journal_while_it_runs(ports, tmp_path):
    journal = tmp_path / "venue.sqlite"
    config = {
        "journal": journal,
        "journal_retention_hours": "0.00001",  # 36 ms
        "journal_compact_every_secs": "0.2",
    }
    with _venue_alone(ports, tmp_path, **config) as (_, auctions, gw):
        assert gw.send(_order_list("C-1", "long"))
        assert gw.send(_order_list("C-2", "short"))
        assert gw.wait_for(_status("C-1", "6"), DEADLINE) is not None
        assert gw.wait_for(_status("C-2", "6"), DEADLINE) is not None
        assert gw.send(_order_list("C-3", "long"))  # nothing to trade with: it rests
        assert gw.wait_for(_status("C-3", "1"), DEADLINE) is not None
        # Old finished rows, their ids and handled messages go; the open bundle stays.
        expected = {"book": ["C-3"], "book_ids": ["C-3", "C-3-1", "C-3-2"], "inbox": 0}
        deadline = time.monotonic() + DEADLINE
        while (rows := _journal_rows(journal)) != expected:
            assert time.monotonic() < deadline, rows
            assert auctions.wait_count(auctions.count + 1)


def test_a_message_arriving_while_the_journal_is_locked_is_refused_and_not_kept(
    ports, tmp_path, monkeypatch
):
    # Another process holding the journal's write lock, as `bidgw journal compact`'s
    # VACUUM does, past the busy timeout (shortened here from 5 s).
    monkeypatch.setattr(store, "BUSY_TIMEOUT_SECS", 0.3)
    journal = tmp_path / "venue.sqlite"
    with _venue_alone(ports, tmp_path, journal=journal) as (venue, _, gw):
        assert gw.send(_order_list("L-0", "long"))
        assert gw.wait_for(_status("L-0", "1"), DEADLINE) is not None
        holder = sqlite3.connect(journal, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            assert gw.send(_order_list("L-1", "long"))
            refused = gw.wait_for(_status("L-1"), DEADLINE)
            assert gw.send(list_cancel_request("L-0"))
            cancel_refused = gw.wait_for(lambda m: msg_type(m) == "j", DEADLINE)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert refused is not None
        assert refused.getField(Tag.LIST_ORDER_STATUS) == "7"  # reject
        assert "the venue's journal is unavailable" in _text(refused)
        assert cancel_refused is not None
        assert cancel_refused.getField(Tag.REF_MSG_TYPE) == "K"
        assert cancel_refused.getField(Tag.BUSINESS_REJECT_REF_ID) == "L-0"
        assert "send it again" in cancel_refused.getField(Tag.TEXT)
        assert venue.size().resting == 1  # L-0 still rests, L-1 was not booked
        # Sent again, both are taken.
        assert gw.send(_order_list("L-1", "long"))
        assert gw.wait_for(_status("L-1", "1"), DEADLINE) is not None
        assert gw.send(list_cancel_request("L-0"))
        assert gw.wait_for(_status("L-0", "6"), DEADLINE) is not None


def test_a_message_whose_handling_fails_is_refused_and_the_venue_goes_on(
    ports, tmp_path, monkeypatch
):
    real_decode = app.decode_bundle

    def decode(message: Any) -> Any:
        if message.getField(Tag.LIST_ID) == "BUG-1":
            raise RuntimeError("a defect in decoding")
        return real_decode(message)

    monkeypatch.setattr(app, "decode_bundle", decode)
    with _venue_alone(ports, tmp_path) as (venue, _, gw):
        assert gw.send(_order_list("BUG-1", "long"))
        refused = gw.wait_for(_status("BUG-1"), DEADLINE)
        assert refused is not None
        assert refused.getField(Tag.LIST_ORDER_STATUS) == "7"
        assert "internal error processing this message: RuntimeError" in _text(refused)
        assert gw.send(_order_list("OK-1", "long"))
        assert gw.wait_for(_status("OK-1", "1"), DEADLINE) is not None
        assert venue.size().resting == 1
