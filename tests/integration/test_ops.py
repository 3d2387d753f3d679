"""The operator surface over real sockets against a real gateway with real sessions
(issue 14): /metrics counters move with a bundle accepted, denied and filled;
/readyz follows the counterparty session; admin actions need the token; the live
page in a real headless Chromium shows a bundle and its fills without a reload.
The simulated venue's own /metrics count an auction that fills bundles sent
through a real gateway; ``bidgw status`` reads a running gateway's surface."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from gateway.fix.engine import free_port, msg_type
from gateway.router.config import OpsConfig
from gateway.router.service import HALTED, Gateway
from gateway.tools.cli import main
from gateway.tools.client import FixClient, parse_report, submit
from gateway.venue.app import Venue
from tests.conftest import ROOT, seed_hedge
from tests.integration.conftest import (
    DEADLINE,
    Counterparty,
    gateway_config,
    make_client,
    running,
)
from tests.integration.test_venue import fills_for, pair, venue_config

pytestmark = pytest.mark.integration

TOKEN = "s3cret-ops-token"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def ops_gateway(ports, tmp_path, counterparty) -> Iterator[Gateway]:
    ops = OpsConfig(
        enabled=True,
        port=free_port(),
        admin_token_sha256=hashlib.sha256(TOKEN.encode()).hexdigest(),
        refresh_ms=100,
    )
    with running(Gateway(gateway_config(ports, tmp_path, ops=ops))) as gw:
        assert gw.ops is not None, "the operator surface did not start"
        yield gw


@pytest.fixture
def desk(ports, tmp_path, ops_gateway) -> Iterator[FixClient]:
    client = make_client(ports, tmp_path)
    try:
        assert client.start(DEADLINE), "the desk did not log on to the gateway"
        yield client
    finally:
        client.stop()


@pytest.fixture
def http(ops_gateway) -> Iterator[httpx.Client]:
    assert ops_gateway.ops is not None
    with httpx.Client(base_url=ops_gateway.ops.url, timeout=DEADLINE) as client:
        yield client


def samples(http: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of one /metrics scrape, by name and sorted labels."""
    response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def eventually(check: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
    """Poll ``check`` until it returns something truthy, within ``timeout`` seconds."""
    done = threading.Event()
    deadline = timeout
    step = 0.05
    while deadline > 0:
        result = check()
        if result:
            return result
        done.wait(step)
        deadline -= step
    pytest.fail(f"not within {timeout} s: {what}")


def label(**labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def test_metrics_count_an_accepted_a_denied_and_a_filled_bundle(desk, counterparty, http):
    accepted = submit(desk, seed_hedge(), list_id="M-1", wait_done=False, timeout=DEADLINE)
    assert accepted.status == "accepted", accepted.reason
    denied = submit(desk, seed_hedge(500), list_id="M-2", timeout=DEADLINE)
    assert denied.status == "rejected"
    bundle_id = counterparty.next_bundle().bundle.bundle_id
    counterparty.fill(bundle_id, 0, 900, "9.95")
    assert desk.wait_for(lambda m: msg_type(m) == "8", DEADLINE) is not None

    def filled() -> dict[Any, float] | None:
        found = samples(http)
        return found if found.get(("bidgw_fills_total", label(client="DESK1"))) else None

    found = eventually(filled, "the fill is counted")
    assert found[("bidgw_bundles_received_total", label(client="DESK1"))] == 2
    strategy = label(client="DESK1", strategy="single_factor_hedged")
    assert found[("bidgw_bundles_accepted_total", strategy)] == 1
    denial = label(client="DESK1", reason_code="99", stage="gateway", kind="infeasible")
    assert found[("bidgw_bundles_denied_total", denial)] == 1
    assert found[("bidgw_filled_quantity_total", label(client="DESK1"))] == 900
    assert found[("bidgw_decision_seconds_count", ())] == 2
    assert found[("bidgw_presolve_seconds_count", ())] == 2
    assert found[("bidgw_decision_seconds_bucket", label(le="+Inf"))] == 2
    assert ("bidgw_decision_seconds_bucket", label(le="1e-05")) in found  # µs buckets
    assert found[("bidgw_open_bundles", label(client="DESK1"))] == 1
    assert found[("bidgw_open_bundles", label(client="DESK2"))] == 0
    assert found[("bidgw_session_logged_on", label(peer="DESK1", side="desk"))] == 1
    assert found[("bidgw_session_logged_on", label(peer="DESK2", side="desk"))] == 0
    assert found[("bidgw_session_logged_on", label(peer="VENUE", side="counterparty"))] == 1
    assert found[("bidgw_desk_sessions_logged_on", ())] == 1
    # Logon, two lists; the gateway answered the Logon, two acks/rejects and a fill.
    assert found[("bidgw_session_last_seq_in", label(peer="DESK1", side="desk"))] >= 3
    assert found[("bidgw_session_last_seq_out", label(peer="DESK1", side="desk"))] >= 4
    assert found[("bidgw_frontdoor_events_total", label(event="logon"))] >= 1
    assert found[("bidgw_frontdoor_events_total", label(event="logon_refused"))] == 0
    assert found[("bidgw_journal_bytes", ())] > 0
    assert found[("bidgw_ops_state_available", ())] == 1


def test_the_surface_is_off_unless_enabled(gateway):
    assert gateway.ops is None


def test_health_and_readiness_follow_the_counterparty_session(ops_gateway, counterparty, http):
    assert http.get("/healthz").json() == {"ok": True}
    ready = http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["ready"] is True
    counterparty.connector.stop()

    def not_ready() -> httpx.Response | None:
        answer = http.get("/readyz")
        return answer if answer.status_code == 503 else None

    failing = eventually(not_ready, "/readyz says 503").json()
    assert failing["ready"] is False
    assert failing["failing"] == {"venue_session": "the counterparty session is not logged on"}
    assert http.get("/healthz").status_code == 200


def test_state_api_lists_an_open_bundle_with_each_legs_quantities(desk, counterparty, http):
    result = submit(desk, seed_hedge(), list_id="S-1", wait_done=False, timeout=DEADLINE)
    bundle_id = counterparty.next_bundle().bundle.bundle_id
    counterparty.fill(bundle_id, 0, 900, "9.95")

    def filled_leg() -> dict[str, Any] | None:
        state = http.get("/api/state").json()["state"]
        for bundle in state["bundles"]:
            if bundle["legs"][0]["filled"] == 900:
                return dict(bundle)
        return None

    bundle = eventually(filled_leg, "the fill shows in /api/state")
    assert bundle["bundle_id"] == result.bundle_id
    assert bundle["list_id"] == "S-1"
    assert [(leg["symbol"], leg["side"]) for leg in bundle["legs"]] == [
        ("AAAA", "buy"),
        ("BBBB", "sell"),
        ("CCCC", "buy"),
    ]
    assert bundle["legs"][0]["remaining"] == 1100
    # The fill so far against the strategy's bound: AAAA alone is all primary.
    assert (bundle["measure"], bundle["within"]) == ("hedge ratio +1.0000, target +0.5000", False)
    state = http.get("/api/state").json()
    assert state["state"]["decisions"][0]["list_id"] == "S-1"
    assert {s["name"]: s["logged_on"] for s in state["sessions"]} == {
        "DESK1": True,
        "DESK2": False,
        "VENUE": True,
    }


def test_admin_actions_need_the_token_and_say_what_they_did(desk, counterparty, http):
    assert http.post("/api/desks/DESK1/halt").status_code == 401
    wrong = http.post("/api/desks/DESK1/halt", headers={"Authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.json()["message"]) == (401, "wrong admin token")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert http.post("/api/desks/NOBODY/halt", headers=auth).status_code == 404

    halted = http.post("/api/desks/DESK1/halt", headers=auth)
    assert halted.status_code == 200
    assert halted.json()["message"].startswith("DESK1 halted")
    refused = submit(desk, seed_hedge(), list_id="A-1", timeout=DEADLINE)
    assert (refused.status, refused.reason) == ("rejected", HALTED)
    assert http.post("/api/desks/DESK1/resume", headers=auth).status_code == 200
    again = submit(desk, seed_hedge(), list_id="A-1", wait_done=False, timeout=DEADLINE)
    assert again.status == "accepted", again.reason

    bundle_id = counterparty.next_bundle().bundle.bundle_id
    cancel = http.post(f"/api/bundles/{bundle_id}/cancel", headers=auth)
    assert cancel.status_code == 202, cancel.text
    assert counterparty.cancels.get(timeout=DEADLINE) == bundle_id
    done = desk.wait_for(
        lambda m: msg_type(m) == "N" and parse_report(m)["list_order_status"] == 7 - 1, DEADLINE
    )
    assert done is not None, "the desk got no terminal ListStatus for the operator's cancel"
    assert http.post("/api/bundles/NOPE/cancel", headers=auth).status_code == 404

    out = http.post("/api/sessions/DESK1/logout", headers=auth)
    assert out.status_code == 200, out.text
    eventually(lambda: not desk.logged_on.is_set(), "the desk is logged out")
    state = http.get("/api/state").json()
    assert {s["name"]: s["enabled"] for s in state["sessions"]}["DESK1"] is False
    again = http.post("/api/sessions/DESK1/logout", headers=auth)
    assert (again.status_code, again.json()["message"]) == (
        200,
        "DESK1 is not logged on and its logons are refused already",
    )
    enabled = http.post("/api/sessions/DESK1/enable", headers=auth)
    assert enabled.json()["message"] == "DESK1 enabled: the desk may log on again"
    assert desk.logged_on.wait(DEADLINE), "the desk could not log on again"
    found = samples(http)
    assert found[("bidgw_ops_admin_actions_total", label(action="halt", outcome="refused"))] == 2


def test_an_operators_cancel_while_the_counterparty_is_down_goes_when_it_logs_on(
    ports, tmp_path, desk, counterparty, ops_gateway, http
):
    """As a kill switch's cancels do; it used to be refused (503) and forgotten."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    accepted = submit(desk, seed_hedge(), list_id="Q-1", wait_done=False, timeout=DEADLINE)
    assert accepted.status == "accepted", accepted.reason
    bundle_id = counterparty.next_bundle().bundle.bundle_id
    counterparty.connector.stop()
    eventually(lambda: not ops_gateway.venue_up, "the gateway sees the counterparty gone")
    queued = http.post(f"/api/bundles/{bundle_id}/cancel", headers=auth)
    assert queued.status_code == 202, queued.text
    assert queued.json()["message"].startswith("the counterparty session is not logged on")
    back = Counterparty(ports["venue"], tmp_path)
    back.connector.start()
    try:
        assert back.cancels.get(timeout=DEADLINE) == bundle_id
    finally:
        back.connector.stop()


def test_a_desk_that_is_not_logged_on_can_be_blocked_from_logging_on(
    ports, tmp_path, ops_gateway, http
):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    blocked = http.post("/api/sessions/DESK2/logout", headers=auth)
    assert (blocked.status_code, blocked.json()["message"]) == (
        200,
        "DESK2 is not logged on; its logons are refused until the session is enabled",
    )
    desk2 = make_client(ports, tmp_path, "DESK2")
    try:
        # Waiting for a logon that must not come: bounded by one second.
        assert not desk2.start(1.0), "a blocked desk logged on"
        assert http.post("/api/sessions/DESK2/enable", headers=auth).status_code == 200
        assert desk2.logged_on.wait(DEADLINE), "the enabled desk could not log on"
    finally:
        desk2.stop()


def test_bidgw_admin_kill_cancels_the_desks_bundles_and_release_lets_it_trade_again(
    desk, counterparty, http, ops_gateway, monkeypatch, capsys
):
    accepted = submit(desk, seed_hedge(), list_id="KS-1", wait_done=False, timeout=DEADLINE)
    assert accepted.status == "accepted", accepted.reason
    bundle_id = counterparty.next_bundle().bundle.bundle_id
    assert ops_gateway.ops is not None
    url = ["--url", ops_gateway.ops.url]
    monkeypatch.delenv("BIDGW_ADMIN_TOKEN", raising=False)
    assert main(["admin", "kill", "DESK1", *url]) == 2  # no token: a usage error
    monkeypatch.setenv("BIDGW_ADMIN_TOKEN", "wrong")
    assert main(["admin", "kill", "DESK1", *url]) == 1
    assert "wrong admin token (HTTP 401)" in capsys.readouterr().out
    monkeypatch.setenv("BIDGW_ADMIN_TOKEN", TOKEN)
    assert main(["admin", "kill", "DESK1", *url]) == 0
    assert (
        "DESK1: kill switch thrown; 1 open bundle(s), cancel sent for 1" in capsys.readouterr().out
    )
    assert counterparty.cancels.get(timeout=DEADLINE) == bundle_id
    cancelled = desk.wait_for(
        lambda m: msg_type(m) == "N" and parse_report(m)["list_order_status"] == 6, DEADLINE
    )
    assert cancelled is not None, "the desk got no terminal ListStatus for the kill switch"
    assert http.get("/api/state").json()["state"]["killed"] == ["DESK1"]
    found = samples(http)
    assert found[("bidgw_desk_killed", label(client="DESK1"))] == 1
    refused = submit(desk, seed_hedge(), list_id="KS-2", timeout=DEADLINE)
    assert refused.status == "rejected"
    assert "kill switch: DESK1's lists are refused" in (refused.reason or "")
    assert main(["admin", "kill", "DESK1", "--release", *url]) == 0
    again = submit(desk, seed_hedge(), list_id="KS-2", wait_done=False, timeout=DEADLINE)
    assert again.status == "accepted", again.reason


def test_admin_actions_are_off_without_a_configured_token(ports, tmp_path, counterparty):
    ops = OpsConfig(enabled=True, port=free_port())
    with (
        running(Gateway(gateway_config(ports, tmp_path, ops=ops))) as gw,
        httpx.Client(base_url=gw.ops.url if gw.ops else "", timeout=DEADLINE) as http,
    ):
        answer = http.post("/api/desks/DESK1/halt", headers={"Authorization": "Bearer x"})
        assert answer.status_code == 403
        assert "ops.admin_token_sha256" in answer.json()["message"]
        assert gw.halted == set()


# --- the page in a real browser ---------------------------------------------------------


def _browser_or_explain() -> Any:
    """Playwright's sync API, or a failure (CI) / skip (elsewhere) saying how to get it."""
    how = (
        "the live-page test needs Debian's Chromium at /usr/bin/chromium and the playwright "
        "package: apt-get update && apt-get install -y chromium; pip install -e '.[dev]'"
    )
    missing = not os.path.exists(CHROMIUM)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = True
    if missing:
        if os.environ.get("CI"):
            pytest.fail(how)
        pytest.skip(how)
    return sync_playwright


def test_live_page_shows_a_bundle_and_its_fills_and_halts_and_kills_a_desk_in_chromium(
    desk, counterparty, ops_gateway, tmp_path
):
    sync_playwright = _browser_or_explain()
    assert ops_gateway.ops is not None
    timeout_ms = DEADLINE * 1000
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=CHROMIUM_FLAGS,  # Playwright gives it a new empty profile of its own
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(timeout_ms)
            page.goto(ops_gateway.ops.url)
            page.wait_for_selector("body[data-stream=live]")
            page.wait_for_selector('tr[data-session="DESK1"] td.up')

            result = submit(desk, seed_hedge(), list_id="WEB-1", wait_done=False, timeout=DEADLINE)
            assert result.status == "accepted", result.reason
            row = f'tr[data-list-id="WEB-1"][data-bundle="{result.bundle_id}"]'
            page.wait_for_selector(row)  # arrived live: the page was never reloaded
            counterparty.next_bundle()
            counterparty.fill(str(result.bundle_id), 0, 900, "9.95")
            first_leg = f"{row} table.legs tbody tr:nth-child(1)"
            page.wait_for_function(
                """(selector) => {
                    const leg = document.querySelector(selector);
                    return leg && leg.querySelector("td.filled").textContent === "900"
                        && leg.querySelector("td.remaining").textContent === "1100";
                }""",
                arg=first_leg,
            )
            # Its hedge ratio so far, next to the bound: AAAA alone is all primary.
            page.wait_for_selector(
                f'{row} .measure.outside:text("hedge ratio +1.0000, target +0.5000")'
            )
            page.wait_for_selector('tr[data-decision="WEB-1"].ok')

            halt = 'tr[data-session="DESK1"] button[data-action="/api/desks/DESK1/halt"]'
            page.click(halt)  # no token typed yet: refused
            page.wait_for_function(
                "() => document.getElementById('answer').textContent.startsWith('401')"
            )
            assert ops_gateway.halted == set()
            page.fill("#token", TOKEN)
            page.click(halt)
            page.wait_for_function(
                "() => document.getElementById('answer').textContent"
                ".startsWith('200: DESK1 halted')"
            )
            page.wait_for_selector('tr[data-session="DESK1"] td.halt:text("halted")')
            refused = submit(desk, seed_hedge(), list_id="WEB-2", timeout=DEADLINE)
            assert (refused.status, refused.reason) == ("rejected", HALTED)
            page.wait_for_selector('tr[data-decision="WEB-2"].refused')
            page.screenshot(path=str(tmp_path / "ops-page-open.png"), full_page=True)
            # The kill switch, with the token typed: WEB-1 is cancelled at the counterparty.
            page.click('tr[data-session="DESK1"] button[data-action="/api/desks/DESK1/kill"]')
            page.wait_for_function(
                "() => document.getElementById('answer').textContent"
                ".startsWith('200: DESK1: kill switch thrown; 1 open bundle(s)')"
            )
            assert counterparty.cancels.get(timeout=DEADLINE) == result.bundle_id
            page.wait_for_selector('tr[data-session="DESK1"] td.halt:text("halted, killed")')
            page.wait_for_selector(f"{row}", state="detached")  # cancelled: no longer open
            page.screenshot(path=str(tmp_path / "ops-page.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "ops-page.png").stat().st_size > 0
    assert (tmp_path / "ops-page-open.png").stat().st_size > 0


def test_a_surface_port_taken_stops_the_gateway_from_starting_and_names_it(
    ports, tmp_path, counterparty
):
    """Running on without its surface, the gateway would leave `bidgw status` and
    `bidgw admin` talking to whatever holds the port."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        gw = Gateway(gateway_config(ports, tmp_path, ops=OpsConfig(enabled=True, port=port)))
        try:
            with pytest.raises(OSError, match=f"bidgw-ops cannot listen on 127.0.0.1:{port}"):
                gw.start()
            # Nothing else was started: no client port, no session to the counterparty.
            with socket.socket() as probe:
                assert probe.connect_ex(("127.0.0.1", ports["clients"])) != 0
            assert not counterparty.logged_on.is_set()
        finally:
            gw.stop()


# --- the venue's own /metrics ----------------------------------------------------------


def test_venue_metrics_count_an_auction_that_fills_two_bundles(ports, tmp_path):
    config = venue_config(ports, tmp_path, ops={"enabled": True, "port": free_port()})
    venue = Venue(config)
    venue.start()
    gw = Gateway(gateway_config(ports, tmp_path))
    desk = make_client(ports, tmp_path)
    try:
        assert venue.ops is not None, "the venue's metrics did not start"
        gw.start()
        assert gw.venue_logged_on.wait(DEADLINE), "the gateway did not log on to the venue"
        assert gw.instruments_ready.wait(DEADLINE)
        assert desk.start(DEADLINE), "the desk did not log on to the gateway"
        with httpx.Client(base_url=venue.ops.url, timeout=DEADLINE) as http:
            assert http.get("/healthz").json() == {"ok": True}
            for list_id, direction in (("VM-LONG", "long"), ("VM-SHORT", "short")):
                sent = submit(desk, pair(direction), list_id=list_id, wait_done=False)
                assert sent.status == "accepted", sent.reason
            assert len(fills_for(desk, "VM-LONG", 2)) >= 2
            assert len(fills_for(desk, "VM-SHORT", 2)) >= 2
            ready = http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json() == {
                "ready": True,
                "checks": {"auctions_running": None, "auctions_clearing": None},
            }

            def settled() -> dict[Any, float] | None:
                found = samples(http)
                done = (
                    found.get(("bidgw_venue_filled_quantity_total", label(symbol="AAAA"))) == 4000
                    and found.get(("bidgw_venue_bundles_resting", ())) == 0
                    and found.get(("bidgw_venue_bundles_filled_total", ()), 0) >= 2
                )
                return found if done else None

            found = eventually(settled, "the venue's fills are counted")
    finally:
        desk.stop()
        gw.stop()
        venue.stop()
    assert found[("bidgw_venue_filled_quantity_total", label(symbol="BBBB"))] == 2000
    assert found[("bidgw_venue_fills_total", label(symbol="AAAA"))] >= 2
    assert found[("bidgw_venue_fills_total", label(symbol="BBBB"))] >= 2
    assert found[("bidgw_venue_bundles_received_total", ())] == 2
    assert found[("bidgw_venue_bundles_rejected_total", ())] == 0
    assert found[("bidgw_venue_exclusions_total", ())] == 0
    assert found[("bidgw_venue_auction_rejections_total", ())] == 0
    assert found[("bidgw_venue_session_logged_on", ())] == 1
    assert found[("bidgw_venue_auction_batch_bundles", ())] == 1000  # batch_bundles
    assert found[("bidgw_venue_messages_waiting", ())] == 0  # nothing held back by now
    auctions = {
        dict(labels)["status"]: value
        for (name, labels), value in found.items()
        if name == "bidgw_venue_auctions_total"
    }
    assert auctions.get("optimal", 0) + auctions.get("feasible", 0) >= 1, auctions
    assert found[("bidgw_venue_auction_seconds_count", ())] == sum(
        value for status, value in auctions.items() if status != "failed"
    )
    assert ("bidgw_venue_auction_seconds_bucket", label(le="1e-05")) in found


def test_venue_metrics_are_off_by_default_and_a_taken_port_stops_the_venue_from_starting(
    ports, tmp_path
):
    import socket

    plain = Venue(venue_config(ports, tmp_path))
    plain.start()  # a Venue registers its QuickFIX sessions when built: always stop it
    plain.stop()
    assert plain.ops is None
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        venue = Venue(venue_config(ports, tmp_path, ops={"enabled": True, "port": port}))
        try:
            with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
                venue.start()
            assert venue.stats.auctions == 0
        finally:
            venue.stop()


# --- bidgw status against a running gateway --------------------------------------------


def test_status_prints_sessions_open_bundles_and_readiness(desk, counterparty, ops_gateway, capsys):
    assert ops_gateway.ops is not None
    url = ops_gateway.ops.url
    result = submit(desk, seed_hedge(), list_id="ST-1", wait_done=False, timeout=DEADLINE)
    assert result.status == "accepted", result.reason
    counterparty.next_bundle()

    assert main(["status", "--url", url]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0] == f"{url}  READY"
    assert "DESK1" in text
    assert "VENUE" in text
    assert "open bundles: 1 (DESK1 1)" in text
    assert f"{result.bundle_id}" in text
    assert "ST-1" in text

    assert main(["status", "--url", url, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["ready"] is True
    assert document["failing"] == {}
    assert {s["name"]: s["logged_on"] for s in document["sessions"]} == {
        "DESK1": True,
        "DESK2": False,
        "VENUE": True,
    }
    assert document["state"]["open_by_client"] == {"DESK1": 1}
    assert document["state"]["bundles"][0]["list_id"] == "ST-1"

    counterparty.connector.stop()

    def not_ready() -> bool:
        code = main(["status", "--url", url, "--json"])
        return code == 1

    eventually(not_ready, "bidgw status exits 1 once the counterparty is gone")
    document = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert document["failing"] == {"venue_session": "the counterparty session is not logged on"}


def test_status_reads_the_url_from_the_gateway_config(ops_gateway, tmp_path, capsys):
    assert ops_gateway.ops is not None
    config = tmp_path / "gateway.yaml"
    config.write_text(f"ops:\n  enabled: true\n  port: {ops_gateway.ops.port}\n")
    assert main(["status", "--config", str(config), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["url"] == ops_gateway.ops.url


def test_status_exits_2_when_nothing_answers(capsys):
    url = f"http://127.0.0.1:{free_port()}/"
    assert main(["status", "--url", url, "--timeout", "2"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        f"bidgw status: cannot reach the gateway's ops endpoint at {url}"
    )


# --- bidgw demo shows the page and holds ---------------------------------------------


def test_demo_prints_the_page_url_and_holds_until_sigterm(tmp_path):
    config_dir = tmp_path / "config"
    shutil.copytree(ROOT / "config", config_dir)
    gateway_yaml = config_dir / "gateway.yaml"
    gateway = yaml.safe_load(gateway_yaml.read_text())
    gateway["ops"] = {**gateway.get("ops", {}), "enabled": True, "port": free_port()}
    gateway_yaml.write_text(yaml.safe_dump(gateway))
    venue_yaml = config_dir / "venue.yaml"
    venue = yaml.safe_load(venue_yaml.read_text())
    venue["ops"] = {"enabled": True, "port": free_port()}
    venue_yaml.write_text(yaml.safe_dump(venue))
    command = [sys.executable, "-m", "gateway.tools.cli", "demo", "--config-dir", str(config_dir)]
    command += ["--bundles", "2", "--auctions", "3", "--out", str(tmp_path / "out"), "--hold"]
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        try:
            _hold_and_stop(process, gateway["ops"]["port"], venue["ops"]["port"])
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=DEADLINE)


def _hold_and_stop(process: subprocess.Popen[str], page_port: int, venue_port: int) -> None:
    """Read the demo's output up to its hold, look at what it serves, SIGTERM it."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + 120
    while not any(line.startswith("bidgw demo: holding") for line in seen):
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        assert line is not None, "the demo ended before holding:\n" + "".join(seen)
        seen.append(line)
    page = f"http://127.0.0.1:{page_port}/"
    metrics = f"http://127.0.0.1:{venue_port}/metrics"
    assert f"bidgw demo: operator page at {page}\n" in seen
    assert f"bidgw demo: venue metrics at {metrics}\n" in seen
    assert any(line.startswith("bundles sent") for line in seen)  # the summary came first
    # Holding: the page still serves, the venue still counts.
    assert httpx.get(f"{page}healthz", timeout=DEADLINE).json() == {"ok": True}
    assert "bidgw_venue_auctions_total" in httpx.get(metrics, timeout=DEADLINE).text
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
