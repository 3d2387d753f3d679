"""Client → gateway → simulated venue → fills back, over real sessions; the demo."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from fixspec import Tag
from gateway.fix.engine import msg_type
from gateway.fix.messages import list_cancel_request
from gateway.router.service import Gateway
from gateway.tools.client import parse_report, submit
from gateway.venue.app import Venue
from gateway.venue.config import VenueAppConfig
from tests.conftest import ROOT
from tests.integration.conftest import DEADLINE, gateway_config, make_client

pytestmark = pytest.mark.integration


def venue_config(ports: dict[str, int], tmp_path: Path, **extra: Any) -> VenueAppConfig:
    """The real venue, with no synthetic liquidity: bundles trade only with each other."""
    return VenueAppConfig.model_validate(
        {
            "port": ports["venue"],
            "auction_interval_ms": 50,
            "store": "memory",
            "store_dir": tmp_path / "venue-store",
            "symbols": {
                "AAAA": {"bid": "9.95", "offer": "10.05"},
                "BBBB": {"bid": "19.95", "offer": "20.05"},
            },
            "liquidity": {"touch_lots": 0, "flow_orders": 0},
            **extra,
        }
    )


@pytest.fixture
def venue(ports, tmp_path) -> Iterator[Venue]:
    party = Venue(venue_config(ports, tmp_path))
    party.start()
    try:
        yield party
    finally:
        party.stop()


@pytest.fixture
def stack(ports, tmp_path, venue) -> Iterator[tuple[Gateway, Any]]:
    gw = Gateway(gateway_config(ports, tmp_path))
    gw.start()
    desk = make_client(ports, tmp_path)
    try:
        assert gw.venue_logged_on.wait(DEADLINE)
        assert desk.start(DEADLINE)
        yield gw, desk
    finally:
        desk.stop()
        gw.stop()


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


def test_bundle_rests_then_fills_against_a_later_bundle_with_client_ids(stack, venue):
    _, desk = stack
    first = submit(desk, pair("long"), list_id="LONG-1", wait_done=False)
    assert first.status == "accepted", first.reason
    # It rests: with no liquidity, several auctions pass without a fill.
    start = venue.stats.auctions
    assert venue.wait_auctions(start + 3, DEADLINE)
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


def test_cancel_stops_further_fills(stack, venue):
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
    start = venue.stats.auctions
    assert venue.wait_auctions(start + 4, DEADLINE)
    assert desk.wait_for(lambda m: msg_type(m) == "8", 0.05) is None


def test_venue_restarted_on_its_journal_keeps_its_book_and_resends_cut_off_state(ports, tmp_path):
    """A resting bundle survives a venue restart: the new venue reports its state and
    later fills it against a mirror bundle."""
    config = venue_config(ports, tmp_path, store="file", journal=tmp_path / "venue.sqlite")
    first = Venue(config)
    first.start()
    gw = Gateway(gateway_config(ports, tmp_path))
    gw.start()
    desk = make_client(ports, tmp_path)
    second: Venue | None = None
    try:
        assert gw.venue_logged_on.wait(DEADLINE)
        assert desk.start(DEADLINE)
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
    finally:
        desk.stop()
        gw.stop()
        (second or first).stop()


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
    assert any(
        json.loads(line)["event"] == "auction.cleared"
        for line in (run_dir / "venue.log").read_text().splitlines()
    )
