"""How fast the simulated venue acknowledges a bundle while it clears a large book.

For each book size in ``--sizes`` (0, the idle venue, is the baseline of the same
run): starts ``bidgw venue`` as its own process (its default auction settings,
100 symbols, the book of bench/auction.py: 5-leg hedged and beta-neutral bundles),
logs on in the gateway's place, sends the book's bundles and waits for their
acknowledgements, then sends ``--probes`` more bundles ``--gap-ms`` apart and
times each from sending to the venue's ListStatus acknowledging it. The venue
solves each auction on its solver thread and acknowledges meanwhile, so the
probes should not wait for the auctions; they do wait, on the same session, for
the reports of any fills sent before their acknowledgement.

Prints, per size: the probes' acknowledgement latency (median, p90, max), and
the auctions the venue logged while the probes ran (how many, their median solve
time, bundles filled). Run: ``.venv/bin/python bench/venue_acks.py [--sizes 0,1000]``.
"""

# ruff: noqa: E402 - the sys.path fix below must run before the gateway imports

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path and bench/gateway.py would
# shadow the ``gateway`` package; the repository's root holds ``bench`` itself.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import json
import random
import statistics
import subprocess
import tempfile
import time
from datetime import datetime
from typing import Any

import yaml

from bench.auction import bundles, market
from fixspec import Tag
from gateway.fix.engine import free_port, msg_type
from gateway.fix.venue_codec import encode_bundle
from gateway.tools.client import ClientConfig, FixClient
from gateway.venue.auction import Participant, SymbolRef

ROOT = _HERE.parent
DEADLINE = 60.0


def venue_yaml(folder: Path, port: int, refs: dict[str, SymbolRef]) -> Path:
    """The venue's config: its defaults, these symbols (limits may sit at the mid)."""
    config = {
        "port": port,
        "store": "memory",
        "store_dir": str(folder / "store"),
        "symbols": {
            symbol: {"bid": str(ref.bid), "offer": str(ref.offer), "tick": "0.005"}
            for symbol, ref in refs.items()
        },
    }
    path = folder / "venue.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def acknowledged(list_id: str) -> Any:
    """The venue's first answer to ``list_id``: its ListStatus."""
    return lambda m: msg_type(m) == "N" and m.getField(Tag.LIST_ID) == list_id


def send(client: FixClient, participant: Participant) -> str:
    bundle = participant.bundle
    ids = [f"{bundle.bundle_id}-{k}" for k in range(len(bundle.legs))]
    client.send(encode_bundle(bundle, bundle.bundle_id, ids))
    return bundle.bundle_id


def auctions_logged(log_file: Path, since: float, until: float) -> list[dict[str, Any]]:
    """The venue's auction lines (cleared or without a fill) logged between two times."""
    rows = []
    for line in log_file.read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry.get("event") not in ("auction.cleared", "auction.no_fill"):
            continue
        stamp = datetime.fromisoformat(entry["timestamp"]).timestamp()
        if since <= stamp <= until:
            rows.append(entry)
    return rows


def run(size: int, probes: int, gap_s: float, refs: dict[str, SymbolRef]) -> str:
    book = bundles(size + probes, refs, random.Random(size))
    resting, probing = book[:size], book[size:]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        port = free_port()
        log_file = folder / "venue.log"
        config = venue_yaml(folder, port, refs)
        command = ["venue", "--config", str(config), "--log-file", str(log_file)]
        venue = subprocess.Popen([sys.executable, "-m", "gateway.tools.cli", *command], cwd=ROOT)
        client = FixClient(
            ClientConfig(
                port=port,
                sender_comp_id="BIDGW",
                target_comp_id="VENUE",
                reset_on_logon=True,
                store_dir=folder / "client-store",
                fix_log_dir=folder / "client-log",
            )
        )
        try:
            if not client.start(DEADLINE):
                raise SystemExit("no logon to the venue")
            for participant in resting:
                send(client, participant)
            for participant in resting:
                if client.wait_for(acknowledged(participant.bundle.bundle_id), DEADLINE) is None:
                    raise SystemExit(f"no acknowledgement of {participant.bundle.bundle_id}")
            latencies = []
            started = time.time()
            for participant in probing:
                sent = time.perf_counter()
                list_id = send(client, participant)
                if client.wait_for(acknowledged(list_id), DEADLINE) is None:
                    raise SystemExit(f"no acknowledgement of probe {list_id}")
                latencies.append((time.perf_counter() - sent) * 1000)
                time.sleep(gap_s)
            ended = time.time()
        finally:
            client.stop()
            venue.terminate()
            venue.wait(DEADLINE)
        auctions = auctions_logged(log_file, started, ended)
    latencies.sort()
    solve = [float(a["solve_ms"]) for a in auctions if "solve_ms" in a]
    filled = sum(int(a.get("bundles_filled", 0)) for a in auctions)
    return (
        f"{size:>6} {statistics.median(latencies):>9.1f} "
        f"{latencies[int(0.9 * (len(latencies) - 1))]:>8.1f} {latencies[-1]:>8.1f} "
        f"{len(auctions):>9} {statistics.median(solve) if solve else float('nan'):>12.0f} "
        f"{filled:>7}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0,200,1000", help="resting bundles; 0 = idle")
    parser.add_argument("--probes", type=int, default=40, help="bundles timed per size")
    parser.add_argument("--gap-ms", type=float, default=37.0, help="between two probes")
    args = parser.parse_args()
    refs = market(100, random.Random(1))
    print(f"{args.probes} probes {args.gap_ms:g} ms apart; acknowledgement latency in ms")
    print("  book    median      p90      max  auctions  median solve  filled")
    for size in (int(s) for s in args.sizes.split(",")):
        print(run(size, args.probes, args.gap_ms / 1000, refs), flush=True)


if __name__ == "__main__":
    main()
