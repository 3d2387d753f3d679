"""Faults on the wire: the gateway ↔ venue connection drops during a stream.

Real processes (``bidgw venue``, ``bidgw run``, both with FileStores), a FIX
client with a FileStore, and a plain TCP proxy between gateway and venue that
the test controls. While 300 bundles stream in, the proxy drops every
connection three times; the gateway reconnects and QuickFIX's resend fills
the gaps. Afterwards every bundle the client was told "accepted" must have
exactly one BundleID, reach the venue exactly once, end done exactly once
there, and the client must have learnt its terminal state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from fixspec import Tag
from gateway.client import FixClient, parse_report
from gateway.config import ClientConfig
from gateway.fixcore import free_port, msg_type
from gateway.wire import encode_new_order_list
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

BUNDLES = 300
DROPS = 3


class DroppingProxy:
    """Plain TCP proxy on its own event loop; ``drop()`` cuts every live connection."""

    def __init__(self, listen_port: int, target_port: int) -> None:
        self.listen_port, self.target_port = listen_port, target_port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.writers: set[asyncio.StreamWriter] = set()
        self.connections = 0

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(10)

    async def _listen(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.listen_port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(
            pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True
        )

    def drop(self) -> None:
        def cut() -> None:
            for writer in list(self.writers):
                transport = writer.transport
                transport.abort()  # RST: bytes in flight are lost
            self.writers.clear()

        self.loop.call_soon_threadsafe(cut)

    def stop(self) -> None:
        self.drop()
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def _wait_port(port: int) -> None:
    import socket

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)  # another process is binding; deadline-bounded
    raise AssertionError(f"port {port} never listened")


def _pair(n: int) -> dict:
    """Buy AAAA at the offer, sell BBBB at the bid, AAAA = 2 · BBBB: fills at the touch."""
    return {
        "strategy": "single_factor_hedged",
        "bidder_data": {
            "target_hedge_ratio": 3,
            "positions": [
                {
                    "symbol": "AAAA",
                    "side": "Buy",
                    "hedge_qty_coeff": 1,
                    "qty": 200,
                    "price": "10.05",
                },
                {
                    "symbol": "BBBB",
                    "side": "Sell",
                    "hedge_qty_coeff": -1,
                    "qty": 100,
                    "price": "19.95",
                },
            ],
        },
    }


def test_connection_drops_lose_nothing_and_duplicate_nothing(tmp_path: Path):
    venue_port, proxy_port, client_port = free_port(), free_port(), free_port()
    (tmp_path / "venue.yaml").write_text(
        f"port: {venue_port}\nauction_interval_ms: 50\nstore: file\n"
        f"store_dir: {tmp_path}/vs\nfix_log_dir: {tmp_path}/vl\n"
        "symbols: {AAAA: {bid: '9.95', offer: '10.05'}, BBBB: {bid: '19.95', offer: '20.05'}}\n"
        "liquidity: {touch_lots: 200, flow_orders: 0}\n"
    )
    (tmp_path / "gateway.yaml").write_text(
        f"clients: {{port: {client_port}, allowed_comp_ids: [DESK1]}}\n"
        f"venue: {{port: {proxy_port}, reconnect_secs: 1, heartbeat_secs: 5}}\n"
        f"store: file\nstore_dir: {tmp_path}/gs\nfix_log_dir: {tmp_path}/gl\n"
        f"journal: {tmp_path}/journal.sqlite\n"
    )
    cli = [sys.executable, "-m", "gateway.cli"]
    venue = subprocess.Popen(
        [
            *cli,
            "venue",
            "--config",
            str(tmp_path / "venue.yaml"),
            "--log-file",
            str(tmp_path / "venue.log"),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proxy = DroppingProxy(proxy_port, venue_port)
    gateway = None
    client = None
    try:
        _wait_port(venue_port)
        proxy.start()
        gateway = subprocess.Popen(
            [
                *cli,
                "run",
                "--config",
                str(tmp_path / "gateway.yaml"),
                "--log-file",
                str(tmp_path / "gateway.log"),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(client_port)
        client = FixClient(
            ClientConfig(
                port=client_port,
                sender_comp_id="DESK1",
                reset_on_logon=False,
                store="file",
                store_dir=tmp_path / "cs",
                fix_log_dir=tmp_path / "cl",
            )
        )
        assert client.start(20)
        _wait_venue_logon(tmp_path / "gateway.log", 1)
        drop_at = {BUNDLES * (k + 1) // (DROPS + 1) for k in range(DROPS)}
        for n in range(BUNDLES):
            list_id = f"S{n}"
            client.send(encode_new_order_list(_pair(n), list_id, [f"{list_id}-1", f"{list_id}-2"]))
            if n in drop_at:
                proxy.drop()
            time.sleep(0.02)  # a paced stream (50 bundles/s): drops ~1.5 s apart, reconnects 1 s
        decisions, terminal, bundle_ids = _collect(client, deadline=time.monotonic() + 60)
    finally:
        if client is not None:
            client.stop()
        for process in (gateway, venue):
            if process is not None:
                process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(15)
        proxy.stop()
    accepted = {lid for lid, status in decisions.items() if status == "accepted"}
    rejected = {lid for lid, status in decisions.items() if status == "rejected"}
    assert len(decisions) == BUNDLES, f"{BUNDLES - len(decisions)} lists got no decision"
    assert proxy.connections >= DROPS + 1, "the proxy never saw the reconnections"
    assert accepted, "nothing was accepted"
    # Exactly one BundleID per accepted list; each reached the venue once and finished once.
    assert all(len(bundle_ids[lid]) == 1 for lid in accepted)
    venue_events = [
        json.loads(line)
        for line in (tmp_path / "venue.log").read_text().splitlines()
        if line.startswith("{")
    ]
    resting = Counter(e["list_id"] for e in venue_events if e["event"] == "venue.bundle_resting")
    done = Counter(e["list_id"] for e in venue_events if e["event"] == "venue.bundle_done")
    expected = {next(iter(bundle_ids[lid])) for lid in accepted}
    assert set(resting) == expected, "the venue's bundles differ from those accepted"
    assert max(resting.values()) == 1, f"forwarded twice: {resting.most_common(3)}"
    assert set(done) == expected
    assert max(done.values()) == 1
    # And the client learnt every accepted bundle's terminal state.
    assert accepted <= terminal, f"{len(accepted - terminal)} accepted lists never finished"
    print(
        f"\nfaults: {BUNDLES} sent, {len(accepted)} accepted, {len(rejected)} rejected "
        f"(counterparty down), {len(done)} done at the venue, {len(terminal & accepted)} "
        f"terminal at the client, {proxy.connections} venue connections"
    )


def _wait_venue_logon(log: Path, count: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if log.exists() and log.read_text().count('"venue.logon"') >= count:
            return
        time.sleep(0.05)  # another process writes the log; deadline-bounded
    raise AssertionError("the gateway never logged on to the venue")


def _collect(client: FixClient, deadline: float) -> tuple[dict, set, dict]:
    decisions: dict[str, str] = {}
    terminal: set[str] = set()
    bundle_ids: dict[str, set[str]] = {}
    while time.monotonic() < deadline:
        message = client.wait_for(lambda m: msg_type(m) in ("N", "8"), 1.0, keep_others=False)
        if message is None:
            if len(decisions) == BUNDLES and all(
                lid in terminal for lid, s in decisions.items() if s == "accepted"
            ):
                break
            continue
        if msg_type(message) != "N":
            continue
        report = parse_report(message)
        list_id, status = report["list_id"], report["list_order_status"]
        if status == 2:
            decisions.setdefault(list_id, "accepted")
            bundle_ids.setdefault(list_id, set()).add(message.getField(Tag.BUNDLE_ID))
        elif status == 7 and list_id not in decisions:
            decisions[list_id] = "rejected"
        elif status == 6:
            terminal.add(list_id)
    return decisions, terminal, bundle_ids


KILLS = 5
STREAM = 1000


def test_gateway_killed_and_restarted_loses_nothing_and_duplicates_nothing(tmp_path: Path):
    """kill -9 the gateway five times during a 1,000-bundle stream; restart it each time
    on the same stores and journal. Every list gets a decision, every accepted bundle
    has one BundleID, rests once and finishes once at the venue, and the client learns
    its terminal state."""
    venue_port, client_port = free_port(), free_port()
    (tmp_path / "venue.yaml").write_text(
        f"port: {venue_port}\nauction_interval_ms: 50\nstore: file\n"
        f"store_dir: {tmp_path}/vs\nfix_log_dir: {tmp_path}/vl\n"
        "symbols: {AAAA: {bid: '9.95', offer: '10.05'}, BBBB: {bid: '19.95', offer: '20.05'}}\n"
        "liquidity: {touch_lots: 200, flow_orders: 0}\n"
    )
    (tmp_path / "gateway.yaml").write_text(
        f"clients: {{port: {client_port}, allowed_comp_ids: [DESK1]}}\n"
        f"venue: {{port: {venue_port}, reconnect_secs: 1, heartbeat_secs: 5}}\n"
        f"store: file\nstore_dir: {tmp_path}/gs\nfix_log_dir: {tmp_path}/gl\n"
        f"journal: {tmp_path}/journal.sqlite\n"
    )
    cli = [sys.executable, "-m", "gateway.cli"]
    venue = subprocess.Popen(
        [
            *cli,
            "venue",
            "--config",
            str(tmp_path / "venue.yaml"),
            "--log-file",
            str(tmp_path / "venue.log"),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    stderr = (tmp_path / "gateway.stderr").open("ab")

    def start_gateway() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                *cli,
                "run",
                "--config",
                str(tmp_path / "gateway.yaml"),
                "--log-file",
                str(tmp_path / "gateway.log"),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )

    gateway = None
    client = None
    kills = 0
    try:
        _wait_port(venue_port)
        gateway = start_gateway()
        _wait_port(client_port)
        client = FixClient(
            ClientConfig(
                port=client_port,
                sender_comp_id="DESK1",
                reset_on_logon=False,
                store="file",
                store_dir=tmp_path / "cs",
                fix_log_dir=tmp_path / "cl",
            )
        )
        assert client.start(20)
        _wait_venue_logon(tmp_path / "gateway.log", 1)
        kill_at = {STREAM * (k + 1) // (KILLS + 1) for k in range(KILLS)}
        for n in range(STREAM):
            list_id = f"K{n}"
            client.send(encode_new_order_list(_pair(n), list_id, [f"{list_id}-1", f"{list_id}-2"]))
            if n in kill_at:
                gateway.kill()  # SIGKILL: no logout, no flush beyond what is on disk
                gateway.wait(10)
                kills += 1
                gateway = start_gateway()
                _wait_port(client_port)
            time.sleep(0.02)  # a paced stream (50 bundles/s), not a wait for a condition
        decisions, terminal, bundle_ids = _collect_n(client, STREAM, time.monotonic() + 90)
    finally:
        if client is not None:
            client.stop()
        for process in (gateway, venue):
            if process is not None:
                process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(15)
        stderr.close()
    accepted = {lid for lid, status in decisions.items() if status == "accepted"}
    assert kills == KILLS
    assert len(decisions) == STREAM, f"{STREAM - len(decisions)} lists got no decision"
    assert accepted, "nothing was accepted"
    assert all(len(bundle_ids[lid]) == 1 for lid in accepted), "a list got two BundleIDs"
    venue_events = [
        json.loads(line)
        for line in (tmp_path / "venue.log").read_text().splitlines()
        if line.startswith("{")
    ]
    resting = Counter(e["list_id"] for e in venue_events if e["event"] == "venue.bundle_resting")
    done = Counter(e["list_id"] for e in venue_events if e["event"] == "venue.bundle_done")
    expected = {next(iter(bundle_ids[lid])) for lid in accepted}
    assert set(resting) == expected, (
        f"venue has {len(set(resting) - expected)} unknown and misses "
        f"{len(expected - set(resting))} accepted bundles"
    )
    assert max(resting.values()) == 1, f"forwarded twice: {resting.most_common(3)}"
    assert set(done) == expected
    assert max(done.values()) == 1
    assert accepted <= terminal, f"{len(accepted - terminal)} accepted lists never finished"
    print(
        f"\nkill -9 x{kills}: {STREAM} sent, {len(accepted)} accepted, "
        f"{STREAM - len(accepted)} rejected, {len(done)} done once at the venue, "
        f"{len(terminal & accepted)} terminal at the client, "
        f"{sum(1 for e in venue_events if e['event'] == 'venue.bundle_repeated')} repeats "
        "answered idempotently by the venue"
    )


def _collect_n(client: FixClient, count: int, deadline: float) -> tuple[dict, set, dict]:
    decisions: dict[str, str] = {}
    terminal: set[str] = set()
    bundle_ids: dict[str, set[str]] = {}
    while time.monotonic() < deadline:
        message = client.wait_for(lambda m: msg_type(m) == "N", 1.0, keep_others=False)
        if message is None:
            if len(decisions) == count and all(
                lid in terminal for lid, s in decisions.items() if s == "accepted"
            ):
                break
            continue
        report = parse_report(message)
        list_id, status = report["list_id"], report["list_order_status"]
        if status == 2:
            decisions[list_id] = "accepted"
            bundle_ids.setdefault(list_id, set()).add(message.getField(Tag.BUNDLE_ID))
        elif status == 7:
            decisions.setdefault(list_id, "rejected")
        elif status == 6:
            terminal.add(list_id)
    return decisions, terminal, bundle_ids
