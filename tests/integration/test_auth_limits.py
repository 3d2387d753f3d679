"""Logon credentials and per-client limits, over real sessions."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator

import pytest
import yaml

from gateway.router.config import AppConfig, ClientLimits, ClientsConfig, VenueConfig
from gateway.router.service import Gateway
from gateway.tools.client import ClientConfig, FixClient, submit
from tests.conftest import ROOT, seed_hedge
from tests.integration.conftest import DEADLINE
from tests.integration.rawfix import RawFixClient

pytestmark = pytest.mark.integration

DIGEST = hashlib.sha256(b"s3cret").hexdigest()


@pytest.fixture
def secured(ports, tmp_path, counterparty) -> Iterator[Gateway]:
    clients = ClientsConfig(
        port=ports["clients"],
        allowed_comp_ids=["DESK1", "DESK2"],
        credentials={
            "DESK1": {"username": "desk1", "password_sha256": DIGEST},
            "DESK2": {"username": "desk2", "password_sha256": DIGEST},
        },
        limits=ClientLimits(max_messages_per_second=1000),
        client_limits={
            "DESK2": ClientLimits(
                max_legs=2, max_open_bundles=1, max_notional="30000", max_messages_per_second=5
            )
        },
    )
    gw = Gateway(
        AppConfig(
            clients=clients,
            store_dir=tmp_path / "s",
            fix_log_dir=tmp_path / "l",
            journal=tmp_path / "journal.sqlite",
            venue=VenueConfig(port=ports["venue"], reconnect_secs=1),
        )
    )
    gw.start()
    try:
        assert gw.venue_logged_on.wait(DEADLINE)
        assert gw.instruments_ready.wait(DEADLINE)
        yield gw
    finally:
        gw.stop()


def client(ports, tmp_path, comp_id: str, username: str | None, password: str | None):
    return FixClient(
        ClientConfig(
            port=ports["clients"],
            sender_comp_id=comp_id,
            username=username,
            password=password,
            store_dir=tmp_path / comp_id,
            fix_log_dir=tmp_path / "cl",
        )
    )


def test_valid_credentials_log_on_and_trade(ports, tmp_path, secured):
    desk = client(ports, tmp_path, "DESK1", "desk1", "s3cret")
    try:
        assert desk.start(DEADLINE)
        assert submit(desk, seed_hedge(), list_id="AUTH-1", wait_done=False).status == "accepted"
    finally:
        desk.stop()


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("desk1", "wrong"),
        ("someone", "s3cret"),
        (None, None),
        ("desk2", "s3cret"),
    ],
)
def test_bad_credentials_are_refused_with_a_reason(ports, secured, username, password):
    raw = RawFixClient(ports["clients"], "DESK1")
    try:
        extra = [(553, username), (554, password)] if username else []
        reply = raw.logon(extra)
        assert reply.get(35) == b"5"  # Logout, not Logon
        assert b"logon refused" in (reply.get(58) or b"")
    finally:
        raw.close()
    assert not secured.client_logons["DESK1"].is_set()


CLI = (sys.executable, "-m", "gateway.tools.cli")


def _submit_cli(tmp_path, ports, password: str, *flags: str) -> subprocess.CompletedProcess[str]:
    """``bidgw submit`` of the seed hedge as DESK1, as its own process."""
    config = tmp_path / "client.yaml"
    config.write_text(
        f"port: {ports['clients']}\nsender_comp_id: DESK1\nusername: desk1\n"
        f"password: {password}\nstore_dir: {tmp_path / 'submit-store'}\n"
        f"fix_log_dir: {tmp_path / 'submit-log'}\n"
    )
    payload = tmp_path / "payload.yaml"
    payload.write_text(yaml.safe_dump(seed_hedge()))
    return subprocess.run(
        [*CLI, "submit", str(payload), "--config", str(config), *flags],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_submit_warns_that_a_bundle_it_leaves_open_is_cancelled_on_disconnect(
    ports, tmp_path, secured, counterparty
):
    done = _submit_cli(tmp_path, ports, "s3cret", "--no-wait")
    assert done.returncode == 0, done.stderr
    assert "still working at the counterparty" in done.stdout
    assert "cancels the desk's open bundles when it disconnects" in done.stdout


def test_the_client_reports_why_its_logon_was_refused(ports, tmp_path, secured):
    desk = client(ports, tmp_path, "DESK1", "desk1", "wrong")
    try:
        assert not desk.start(2.0)
        assert (desk.logout_text or "").startswith("logon refused")
    finally:
        desk.stop()
    done = _submit_cli(tmp_path, ports, "wrong", "--timeout", "3")
    assert done.returncode == 2, done.stderr
    assert "it answered 'logon refused: unknown Username or wrong Password'" in done.stderr


def test_limits_reject_with_reasons(ports, tmp_path, secured, counterparty):
    desk = client(ports, tmp_path, "DESK2", "desk2", "s3cret")
    try:
        assert desk.start(DEADLINE)
        three_legs = submit(desk, seed_hedge(), list_id="LIM-1", timeout=DEADLINE)
        assert three_legs.status == "rejected"
        assert "limit: 3 legs, at most 2" in (three_legs.reason or "")
        pair = {
            "strategy": "single_factor_hedged",
            "bidder_data": {
                "target_hedge_ratio": 3,
                "positions": [
                    {
                        "symbol": "AAAA",
                        "side": "Buy",
                        "hedge_qty_coeff": 1,
                        "qty": 2000,
                        "price": "10.00",
                    },
                    {
                        "symbol": "BBBB",
                        "side": "Sell",
                        "hedge_qty_coeff": -1,
                        "qty": 1000,
                        "price": "20.00",
                    },
                ],
            },
        }
        big = submit(desk, pair, list_id="LIM-2", timeout=DEADLINE)  # 20,000 + 20,000
        assert big.status == "rejected"
        assert "limit: notional 40000" in (big.reason or "")
        small = {
            **pair,
            "bidder_data": {
                **pair["bidder_data"],
                "positions": [
                    {**p, "qty": p["qty"] // 2} for p in pair["bidder_data"]["positions"]
                ],
            },
        }
        assert submit(desk, small, list_id="LIM-3", wait_done=False).status == "accepted"
        second = submit(desk, small, list_id="LIM-4", timeout=DEADLINE)
        assert second.status == "rejected"
        assert "1 bundles already open, at most 1" in (second.reason or "")
    finally:
        desk.stop()


def test_message_rate_limit_rejects_the_excess(ports, tmp_path, secured):
    from gateway.fix.engine import msg_type
    from gateway.fix.messages import list_cancel_request

    desk = client(ports, tmp_path, "DESK2", "desk2", "s3cret")
    try:
        assert desk.start(DEADLINE)
        for n in range(20):
            desk.send(list_cancel_request(f"NOPE-{n}"))
        texts = []
        for _ in range(20):
            message = desk.wait_for(lambda m: msg_type(m) == "j", DEADLINE)
            assert message is not None
            texts.append(message.getField(58))
        limited = [t for t in texts if "rate limit" in t]
        assert 10 <= len(limited) <= 16  # 5/s with a 5-message burst, sent at once
        assert desk.logged_on.is_set()
    finally:
        desk.stop()
