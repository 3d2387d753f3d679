"""How many lists the gateway accepts that the counterparty then rejects (issue 12).

Runs the bundled configs (config/gateway.yaml, config/venue.yaml) in this
process on free ports with temporary stores, sends three sets of payloads
through a desk session and counts, per set, the lists the gateway accepted and
how many of those the venue rejected afterwards (a ListStatus 429=5 / 431=7
after the acceptance: the worst answer a desk can get):

* ``samples`` — config/samples/*.yaml, the pre-solver's sample payloads;
* ``demo stream`` — the random stream ``bidgw demo`` sends (its seed 11);
* ``desk mistakes`` — the seed hedge with one thing a desk gets wrong: a symbol
  the venue does not list, a lot size that is not the venue's, a price off the
  tick, a fat-fingered price, and the seed hedge and beta payloads the test suite
  uses.

Usage: ``python -m bench.venue_rejects`` from the repository root. To measure a
checkout without the gateway's reference-data checks, copy this file into its
bench/ and run the same command there.
"""

from __future__ import annotations

import copy
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fixspec import Tag
from gateway.core.yamlio import load_yaml
from gateway.fix.engine import free_port, msg_type
from gateway.router.config import load_config
from gateway.router.service import Gateway
from gateway.tools.client import ClientConfig, FixClient, submit
from gateway.tools.demo import DemoOptions, _payloads
from gateway.venue.app import Venue
from gateway.venue.config import load_venue_config
from tests.integration.test_gateway import beta_payload

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config"


def seed_hedge() -> dict[str, Any]:
    """The seed's hedge_data sample (the test suite's ``seed_hedge`` is the same)."""
    sample: dict[str, Any] = load_yaml(CONFIG / "samples" / "hedge_seed.yaml")
    return sample


def mistakes() -> list[tuple[str, dict[str, Any]]]:
    def changed(index: int, **fields: Any) -> dict[str, Any]:
        payload = copy.deepcopy(seed_hedge())
        payload["bidder_data"]["positions"][index].update(fields)
        return payload

    odd_lot = seed_hedge()
    odd_lot["lot_size"] = 50
    return [
        ("seed hedge", seed_hedge()),
        ("beta (test suite)", beta_payload()),  # tests/integration/test_gateway.py
        ("symbol not listed", changed(2, symbol="ZZZZ")),
        ("lot 50 on AAAA", odd_lot),
        ("price off the tick", changed(0, price="10.005")),
        ("fat finger +15%", changed(0, price="11.50")),
    ]


@contextmanager
def stack(tmp: Path) -> Iterator[FixClient]:
    venue_port, client_port = free_port(), free_port()
    venue_config = load_venue_config(CONFIG / "venue.yaml").model_copy(
        update={
            "port": venue_port,
            "store": "memory",
            "store_dir": tmp / "venue-store",
            "fix_log_dir": None,
            "journal": None,
        }
    )
    base = load_config(CONFIG / "gateway.yaml")
    assert base.clients is not None
    assert base.venue is not None
    config = base.model_copy(
        update={
            "clients": base.clients.model_copy(update={"port": client_port}),
            "venue": base.venue.model_copy(update={"port": venue_port}),
            "store": "memory",
            "store_dir": tmp / "gw-store",
            "fix_log_dir": tmp / "gw-log",
            "journal": tmp / "journal.sqlite",
        }
    )
    venue = Venue(venue_config)
    venue.start()
    gateway = Gateway(config)
    gateway.start()
    client = FixClient(
        ClientConfig(
            port=client_port,
            sender_comp_id="DESK1",
            store_dir=tmp / "c-store",
            fix_log_dir=tmp / "c-log",
        )
    )
    try:
        if not gateway.venue_logged_on.wait(20):
            raise SystemExit("the gateway did not log on to the venue")
        ready = getattr(gateway, "instruments_ready", None)
        if ready is not None and not ready.wait(20):
            raise SystemExit("the venue sent no instruments")
        if not client.start(20):
            raise SystemExit("the desk could not log on")
        yield client
    finally:
        client.stop()
        gateway.stop()
        venue.stop()


def run_set(
    client: FixClient, name: str, payloads: list[tuple[str, dict[str, Any]]]
) -> dict[str, Any]:
    accepted: dict[str, str] = {}
    denied: dict[str, str] = {}
    for index, (source, payload) in enumerate(payloads):
        list_id = f"{name[:4].upper()}-{index}"
        result = submit(client, payload, list_id=list_id, wait_done=False, timeout=10)
        if result.status == "accepted":
            accepted[list_id] = source
        else:
            denied[source] = result.reason or result.status
    venue_rejected: dict[str, str] = {}
    deadline = time.monotonic() + 3.0  # the venue answers a bundle when it arrives
    while time.monotonic() < deadline:
        message = client.wait_for(
            lambda m: msg_type(m) == "N" and m.getField(Tag.LIST_ORDER_STATUS) == "7",
            deadline - time.monotonic(),
        )
        if message is None:
            break
        list_id = message.getField(Tag.LIST_ID)
        if list_id in accepted:
            venue_rejected[list_id] = message.getField(Tag.LIST_STATUS_TEXT)
    return {
        "set": name,
        "sent": len(payloads),
        "accepted": len(accepted),
        "denied": denied,
        "venue_rejected": venue_rejected,
        "sources": accepted,
    }


def main() -> None:
    samples = [(path.name, load_yaml(path)) for path in sorted((CONFIG / "samples").glob("*.yaml"))]
    venue_yaml = load_yaml(CONFIG / "venue.yaml")
    stream = _payloads(DemoOptions(config_dir=CONFIG, out_dir=Path(".")), venue_yaml)
    stream = [item for item in stream if item[0].startswith("random")]
    with tempfile.TemporaryDirectory() as tmp, stack(Path(tmp)) as client:
        results = [
            run_set(client, "samples", samples),
            run_set(client, "demo stream", stream),
            run_set(client, "desk mistakes", mistakes()),
        ]
    print(f"{'set':<16}{'sent':>6}{'accepted':>10}{'denied':>8}{'then rejected by the venue':>28}")
    for row in results:
        print(
            f"{row['set']:<16}{row['sent']:>6}{row['accepted']:>10}{len(row['denied']):>8}"
            f"{len(row['venue_rejected']):>28}"
        )
    for row in results:
        for list_id, text in row["venue_rejected"].items():
            print(
                f"  rejected by the venue after the acceptance: {row['sources'][list_id]}: {text}"
            )
        for source, text in row["denied"].items():
            print(f"  denied by the gateway: {source}: {text[:150]}")


if __name__ == "__main__":
    main()
