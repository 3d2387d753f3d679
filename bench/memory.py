"""Memory and journal size of a running gateway and venue, after 1,000 and after N bundles.

Processes (all on 127.0.0.1, real QuickFIX sessions, file stores, journals on):
``bidgw venue`` and ``bidgw run`` as subprocesses, and this process's FIX client.
The client keeps a window of lists in flight: it sends a 2-leg hedged list,
cancels it as soon as it is accepted, and counts it finished at its terminal
ListStatus (cancelled, or filled if an auction got there first). Retention is
short so the run shows its steady state: finished bundles leave memory after
``--retain-secs`` and journal rows older than ``--journal-retention-secs`` are
compacted every 5 s, in both processes.

Prints, at each checkpoint: bundles finished, RSS of the gateway and the venue
(from /proc), the gateway's Python heap (tracemalloc) and the entries of its
book (from its ``gateway.state`` log line), and the size of each journal
(database + WAL), the size of the FIX stores and logs (QuickFIX's: the stores are
emptied when the session day ends, the logs rotated past ``fix.log_max_mb``) and
the messages those stores hold. Flat means the figures at N are
within noise of the figures at 1,000. Then, per bundle between the two
checkpoints, each process's RSS growth beside the growth of QuickFIX's FileStore
index (every stored message costs one map node, :data:`FILESTORE_INDEX_BYTES`,
until the FIX session day ends, ``fix.day_start``, and the store is reset) and the
rest.

With ``--day-ends-after SECS`` the FIX session day (``fix.day_start``) ends SECS
after the start: bundles run until 20 s before it, the sessions reset, and as many
bundles run in the new day. The growth printed is then from the end of the first
day to the end of the second: what a day leaves behind.

Run: ``.venv/bin/python -m bench.memory [--bundles 50000] [--window 100]
[--day-ends-after 300]``.
"""

# ruff: noqa: E402 - the sys.path fix below must run before the gateway imports

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fixspec import Tag
from gateway.core.config import FixFilesConfig
from gateway.fix.client_codec import encode_new_order_list
from gateway.fix.engine import free_port, msg_type
from gateway.fix.messages import list_cancel_request
from gateway.tools.client import ClientConfig, FixClient

ROOT = Path(__file__).resolve().parent.parent
PAYLOAD = {
    "strategy": "single_factor_hedged",
    "lot_size": 100,
    "bidder_data": {
        "target_hedge_ratio": 2,
        "positions": [
            {"symbol": "AAAA", "side": "Buy", "hedge_qty_coeff": 4, "qty": 1800, "price": "10.00"},
            {
                "symbol": "BBBB",
                "side": "Sell",
                "hedge_qty_coeff": -12,
                "qty": 200,
                "price": "20.00",
            },
        ],
    },
}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1e6
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6
    return 0.0


def journal_mb(path: Path) -> float:
    return size_mb(path) + size_mb(path.with_name(path.name + "-wal"))


#: Bytes of memory one stored message costs QuickFIX's FileStore: it indexes every
#: message it stores (sequence number → offset and size in the body file) in a
#: ``std::map<int, std::pair<long, size_t>>``, one 56-byte tree node (a 64-byte heap
#: chunk) each, kept until the store is reset (the session day's end, 00:00 UTC).
FILESTORE_INDEX_BYTES = 64


def stored_messages(store: Path) -> int:
    """Messages QuickFIX's FileStores under ``store`` hold (entries of their
    ``.header`` files, ``seq,offset,size`` each), the size of their in-memory index."""
    return sum(len(h.read_text().split()) for h in store.rglob("*.header"))


def write_configs(
    tmp: Path,
    client_port: int,
    venue_port: int,
    args: argparse.Namespace,
    day: FixFilesConfig | None,
) -> None:
    hours = args.journal_retention_secs / 3600
    fix = f"fix: {{day_start: '{day.day_start}'}}\n" if day is not None else ""
    (tmp / "venue.yaml").write_text(
        f"port: {venue_port}\n"
        "symbols:\n"
        # One desk sends both sides: self-trade prevention would keep them apart.
        "  AAAA: {bid: '9.95', offer: '10.05', lot_size: 100, self_trade_prevention: false}\n"
        "  BBBB: {bid: '19.95', offer: '20.05', lot_size: 100, self_trade_prevention: false}\n"
        "liquidity: {touch_lots: 0, flow_orders: 0}\n"
        f"store_dir: {tmp}/venue-store\nfix_log_dir: {tmp}/venue-log\n"
        f"journal: {tmp}/venue.sqlite\n{fix}"
        f"retain_done_secs: {args.retain_secs}\n"
        f"journal_retention_hours: {hours}\njournal_compact_every_secs: 5\n"
    )
    (tmp / "gateway.yaml").write_text(
        f"clients: {{port: {client_port}, allowed_comp_ids: [DESK1],\n"
        "  limits: {max_messages_per_second: 1000000, max_open_bundles: 1000000}}\n"
        f"venue: {{port: {venue_port}, reconnect_secs: 1}}\n"
        f"store_dir: {tmp}/gateway-store\nfix_log_dir: {tmp}/gateway-log\n"
        f"journal: {tmp}/gateway.sqlite\n{fix}"
        f"retain_done_secs: {args.retain_secs}\n"
        f"journal_retention_hours: {hours}\njournal_compact_every_secs: 5\n"
    )


def spawn(command: str, config: Path, log: Path) -> subprocess.Popen[str]:
    """``bidgw run`` runs with tracemalloc (BIDGW_TRACEMALLOC) so its gateway.state lines
    carry the Python heap: RSS minus that is QuickFIX's, the allocator's and the
    imported modules'."""
    bidgw = str(Path(sys.executable).parent / "bidgw")
    level = "info" if command == "run" else "warning"
    return subprocess.Popen(
        [bidgw, command, "--config", str(config), "--log-level", level, "--log-file", str(log)],
        cwd=ROOT,
        text=True,
        env={**os.environ, "BIDGW_TRACEMALLOC": "1"} if command == "run" else None,
    )


def gateway_state(log: Path) -> dict[str, Any]:
    """The gateway's last ``gateway.state`` line (it logs one every 10 s)."""
    state: dict[str, Any] = {}
    for line in log.read_text().splitlines():
        if '"gateway.state"' in line:
            state = json.loads(line)
    return state


def run(
    client: FixClient,
    total: int,
    window: int,
    report: Callable[[int], None],
    *,
    prefix: str = "M",
    until: float | None = None,
) -> int:
    """Keep ``window`` lists in flight until ``total`` have finished, or until the
    monotonic clock reaches ``until`` (then no new list is sent and the open ones are
    finished); the number finished."""
    sent = finished = 0
    open_lists: set[str] = set()
    while finished < total and (open_lists or until is None or time.monotonic() < until):
        while (
            sent < total
            and len(open_lists) < window
            and (until is None or time.monotonic() < until)
        ):
            list_id = f"{prefix}{sent}"
            client.send(encode_new_order_list(PAYLOAD, list_id, [f"{list_id}-1", f"{list_id}-2"]))
            open_lists.add(list_id)
            sent += 1
        message = client.wait_for(lambda m: msg_type(m) == "N", 30, keep_others=False)
        if message is None:
            raise SystemExit(f"no ListStatus for 30 s ({len(open_lists)} lists open)")
        list_id = message.getField(Tag.LIST_ID)
        status = message.getField(Tag.LIST_ORDER_STATUS)
        if status == "2":
            client.send(list_cancel_request(list_id))
        elif status in ("6", "7") and list_id in open_lists:
            open_lists.discard(list_id)
            finished += 1
            report(finished)
    return finished


@dataclass(frozen=True)
class Checkpoint:
    finished: int
    gw_rss_mb: float
    venue_rss_mb: float
    gw_stored: int
    venue_stored: int


def print_growth(first: Checkpoint, last: Checkpoint, bundles: int) -> None:
    """Per bundle between two checkpoints ``bundles`` apart: RSS growth beside what
    QuickFIX's FileStore index grows by (:data:`FILESTORE_INDEX_BYTES` per stored
    message)."""
    for name, rss, stored in (
        ("gateway", last.gw_rss_mb - first.gw_rss_mb, last.gw_stored - first.gw_stored),
        ("venue", last.venue_rss_mb - first.venue_rss_mb, last.venue_stored - first.venue_stored),
    ):
        grown = rss * 2**20 / bundles
        messages = stored / bundles
        index = messages * FILESTORE_INDEX_BYTES
        print(
            f"{name}: RSS {grown:+.0f} B per bundle; FileStore index {index:+.0f} B "
            f"({messages:+.1f} stored messages × {FILESTORE_INDEX_BYTES} B); "
            f"the rest {grown - index:+.0f} B"
        )


def day_start_in(seconds: float) -> str:
    """The UTC time of day ``seconds`` from now, rounded up to a whole second."""
    ends = datetime.now(UTC) + timedelta(seconds=seconds)
    return (ends + timedelta(microseconds=10**6 - ends.microsecond)).strftime("%H:%M:%S")


def main() -> None:  # noqa: PLR0915 - one run, told in order
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=int, default=50_000)
    parser.add_argument("--window", type=int, default=100, help="lists in flight")
    parser.add_argument("--retain-secs", type=float, default=2.0)
    parser.add_argument("--journal-retention-secs", type=float, default=10.0)
    parser.add_argument(
        "--day-ends-after",
        type=float,
        metavar="SECS",
        help="end the FIX session day this many seconds after the start (fix.day_start): "
        "bundles until 20 s before it (at most --bundles), the day's reset, then as many "
        "bundles again; the growth printed is from the first day's end to the second's",
    )
    args = parser.parse_args()
    day = FixFilesConfig(day_start=day_start_in(args.day_ends_after or 0))
    checkpoints = {min(1000, args.bundles), args.bundles}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        client_port, venue_port = free_port(), free_port()
        write_configs(tmp, client_port, venue_port, args, day if args.day_ends_after else None)
        venue = spawn("venue", tmp / "venue.yaml", tmp / "venue.log")
        gateway = spawn("run", tmp / "gateway.yaml", tmp / "gateway.log")
        client = FixClient(
            ClientConfig(
                port=client_port,
                sender_comp_id="DESK1",
                fix=day if args.day_ends_after else FixFilesConfig(),
            )
        )
        started = time.monotonic()

        def measure(finished: int) -> Checkpoint:
            # Let retention, a compaction pass and a gateway.state line come first.
            time.sleep(max(args.retain_secs + 6, 11))
            stores = sum(
                size_mb(tmp / d)
                for d in ("gateway-store", "gateway-log", "venue-store", "venue-log")
            )
            state = gateway_state(tmp / "gateway.log")
            heap = state.get("python_heap_bytes")
            entries = sum(
                int(state.get(k, 0)) for k in ("bundles", "venue_orders", "decisions", "cl_ord_ids")
            )
            point = Checkpoint(
                finished,
                rss_mb(gateway.pid),
                rss_mb(venue.pid),
                stored_messages(tmp / "gateway-store"),
                stored_messages(tmp / "venue-store"),
            )
            print(
                f"{finished:>9} {time.monotonic() - started:>6.0f} {point.gw_rss_mb:>10.1f} "
                f"{(heap or 0) / 1e6:>18.1f} {entries:>16} {point.venue_rss_mb:>13.1f} "
                f"{journal_mb(tmp / 'gateway.sqlite'):>14.2f} "
                f"{journal_mb(tmp / 'venue.sqlite'):>17.2f} {stores:>19.1f} "
                f"{point.gw_stored:>15} {point.venue_stored:>18}",
                flush=True,
            )
            return point

        seen: list[Checkpoint] = []

        def report(finished: int) -> None:
            if finished in checkpoints:
                seen.append(measure(finished))

        try:
            if not client.start(30):
                raise SystemExit("the client could not log on to the gateway")
            print(
                f"{'finished':>9} {'s':>6} {'gw RSS MB':>10} {'gw Python heap MB':>18} "
                f"{'gw book entries':>16} {'venue RSS MB':>13} {'gw journal MB':>14} "
                f"{'venue journal MB':>17} {'FIX stores+logs MB':>19} "
                f"{'gw stored msgs':>15} {'venue stored msgs':>18}",
                flush=True,
            )
            if not args.day_ends_after:
                run(client, args.bundles, args.window, report)
                if len(seen) == 2:
                    print_growth(seen[0], seen[1], seen[1].finished - seen[0].finished)
                return
            checkpoints.discard(args.bundles)
            day_ends = started + args.day_ends_after
            # Stop early enough for the checkpoint's wait (retention, a state line).
            first = run(client, args.bundles, args.window, report, until=day_ends - 20)
            end_of_day = measure(first)
            print(f"-- the FIX session day ends at {day.day_start} UTC", flush=True)
            time.sleep(max(0.0, day_ends + 3 - time.monotonic()))  # rounded up by < 1 s
            if not client.logged_on.wait(30):
                raise SystemExit("the client did not log on into the new day")
            run(client, first, args.window, lambda _: None, prefix="N")
            next_day = measure(first)
            print(f"from the end of day 1 to the end of day 2 ({first} bundles each):")
            print_growth(end_of_day, next_day, first)
        finally:
            client.stop()
            for process in (gateway, venue):
                process.terminate()
            for process in (gateway, venue):
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()


if __name__ == "__main__":
    main()
