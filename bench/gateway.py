"""Gateway latency and throughput next to a raw QuickFIX echo, in the same run.

Processes (all on 127.0.0.1, real QuickFIX sessions):

* baseline: this process's initiator → an echo acceptor process that answers
  each NewOrderSingle with an ExecutionReport (one raw round trip = two hops);
* gateway: this process's client → ``bidgw run`` (subprocess) → a counterparty
  process that acknowledges each bundle at once; the client times from
  sending the NewOrderList to receiving the gateway's accept/reject decision.

Prints p50/p99 round trips (sequential, one message in flight) and a burst's
throughput (all sent, then all answers awaited), for 3-leg and 10-leg hedge
payloads, then where a sequential round trip's time goes inside the gateway: the
median of each stage the gateway logs with every accepted bundle (``stages_us``
of ``bundle.accepted``: engine thread incl. the inbox journal write, queue
waits, dedup, pool wait, decode, strategy build, pre-solve, decision, encode,
journal, sends); what is left of the round trip is the two network hops and
the client. The journal is on and the gateway logs at ``info`` (its production
default). Run: ``.venv/bin/python bench/gateway.py [--count 1000] [--log-level warning]``.
"""

# ruff: noqa: E402 - the sys.path fix below must run before the gateway imports

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would
# shadow the ``gateway`` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import itertools
import json
import statistics
import subprocess
import tempfile
import time
from decimal import Decimal
from typing import Any

import quickfix as fix

from fixspec import Tag
from gateway.core.instruments import Instrument
from gateway.fix.client_codec import encode_new_order_list
from gateway.fix.engine import Connector, SafeApplication, free_port, msg_type, session_settings
from gateway.fix.messages import (
    ListOrderStatus,
    ListStatusType,
    OrderReport,
    list_status,
    new_message,
)
from gateway.fix.venue_codec import decode_bundle, encode_security_list
from gateway.tools.client import ClientConfig, FixClient

ROOT = Path(__file__).resolve().parent.parent


class Echo(SafeApplication):
    """Answers every NewOrderSingle with an ExecutionReport."""

    name = "echo"

    def __init__(self) -> None:
        super().__init__()
        self.exec_ids = itertools.count(1)

    def from_app(self, message: Any, session_id: Any) -> None:
        report = new_message("8")
        for tag, value in (
            (Tag.ORDER_ID, "O1"),
            (Tag.EXEC_ID, str(next(self.exec_ids))),
            (Tag.CL_ORD_ID, message.getField(Tag.CL_ORD_ID)),
            (Tag.EXEC_TYPE, "0"),
            (Tag.ORD_STATUS, "0"),
            (Tag.SYMBOL, "AAAA"),
            (Tag.SIDE, "1"),
            (Tag.LEAVES_QTY, "100"),
            (Tag.CUM_QTY, "0"),
            (Tag.AVG_PX, "0"),
        ):
            report.setField(tag, value)
        fix.Session.sendToTarget(report, session_id)


class AckVenue(SafeApplication):
    """Acknowledges every bundle at once (a stand-in counterparty for timing)."""

    name = "ack-venue"

    def from_app(self, message: Any, session_id: Any) -> None:
        if msg_type(message) == "x":  # the instruments every list is checked against
            fix.Session.sendToTarget(
                encode_security_list(message.getField(Tag.SECURITY_REQ_ID), "SL1", INSTRUMENTS),
                session_id,
            )
            return
        if msg_type(message) != "E":
            return
        bundle, ids = decode_bundle(message)
        fix.Session.sendToTarget(
            list_status(
                list_id=bundle.bundle_id,
                status_type=ListStatusType.ACK,
                order_status=ListOrderStatus.IN_BIDDING_PROCESS,
                orders=[OrderReport(c) for c in ids],
            ),
            session_id,
        )


def serve(kind: str, port: int, sender: str, target: str) -> None:
    """Child process: run an acceptor until stdin closes."""
    app: SafeApplication = Echo() if kind == "echo" else AckVenue()
    with tempfile.TemporaryDirectory() as tmp:
        settings = session_settings(
            {
                "ConnectionType": "acceptor",
                "SocketAcceptPort": port,
                "FileStorePath": Path(tmp) / "s",
                "FileLogPath": Path(tmp) / "l",
            },
            [(sender, target)],
        )
        connector = Connector("acceptor", app, settings, store="memory", log_dir=None)
        connector.start()
        print("ready", flush=True)
        sys.stdin.read()
        connector.stop()


def spawn(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


#: The symbols hedge_payload trades, with a reference market around its prices (so the
#: gateway's pre-trade checks, price collar included, run on every list).
INSTRUMENTS = [
    Instrument(
        symbol,
        100,
        Decimal("0.01"),
        Decimal(price) - Decimal("0.05"),
        Decimal(price) + Decimal("0.05"),
    )
    for symbol, price in [("AAAA", "10.00"), *((f"H{i:03d}", f"{5 + i}.00") for i in range(1, 100))]
]


def hedge_payload(legs: int) -> dict[str, Any]:
    positions = [
        {"symbol": "AAAA", "side": "Buy", "hedge_qty_coeff": 4, "qty": 2000, "price": "10.00"}
    ]
    for i in range(1, legs):
        positions.append(
            {
                "symbol": f"H{i:03d}",
                "side": "Sell" if i % 2 else "Buy",
                "hedge_qty_coeff": -(3 + i % 9),
                "qty": 1000 + 100 * i,
                "price": f"{5 + i}.00",
            }
        )
    return {
        "strategy": "single_factor_hedged",
        "lot_size": 100,
        "bidder_data": {"target_hedge_ratio": 2, "positions": positions},
    }


def echo_round_trips(port: int, count: int) -> tuple[list[float], float]:
    client = FixClient(ClientConfig(port=port, sender_comp_id="BENCH", target_comp_id="ECHO"))
    assert client.start(10), "echo logon failed"
    try:

        def order(index: int) -> Any:
            message = new_message("D")
            for tag, value in (
                (Tag.CL_ORD_ID, f"C{index}"),
                (Tag.SYMBOL, "AAAA"),
                (Tag.SIDE, "1"),
                (Tag.TRANSACT_TIME, "20260101-00:00:00"),
                (Tag.ORDER_QTY, "100"),
                (Tag.ORD_TYPE, "2"),
                (Tag.PRICE, "10"),
            ):
                message.setField(tag, value)
            return message

        samples = []
        for index in range(count):
            started = time.perf_counter()
            client.send(order(index))
            assert client.inbox.get(timeout=10) is not None
            samples.append((time.perf_counter() - started) * 1e6)
        started = time.perf_counter()
        for index in range(count):
            client.send(order(count + index))
        for _ in range(count):
            client.inbox.get(timeout=30)
        rate = count / (time.perf_counter() - started)
        return samples, rate
    finally:
        client.stop()


def gateway_round_trips(port: int, count: int, legs: int, tag: str) -> tuple[list[float], float]:
    client = FixClient(ClientConfig(port=port, sender_comp_id="DESK1"))
    assert client.start(10), "gateway logon failed"
    payload = hedge_payload(legs)
    positions = len(payload["bidder_data"]["positions"])
    try:

        def send(list_id: str) -> None:
            ids = [f"{list_id}-{i}" for i in range(positions)]
            client.send(encode_new_order_list(payload, list_id, ids))

        def decision(message: Any) -> bool:
            return msg_type(message) == "N" and int(message.getField(Tag.LIST_ORDER_STATUS)) in (
                ListOrderStatus.RECEIVED_FOR_EXECUTION,
                ListOrderStatus.REJECT,
            )

        deadline = time.monotonic() + 20
        for attempt in itertools.count():  # until the gateway has the venue's instruments
            send(f"{tag}W{attempt}")
            answer = client.wait_for(decision, 10, keep_others=False)
            if answer is not None and answer.getField(Tag.LIST_ORDER_STATUS) == "2":
                break
            if time.monotonic() > deadline:
                raise SystemExit("the gateway does not accept the benchmark's lists")
            time.sleep(0.1)
        samples = []
        for index in range(count):
            started = time.perf_counter()
            send(f"{tag}S{index}")
            answer = client.wait_for(decision, 10, keep_others=False)
            assert answer is not None, "no decision"
            assert answer.getField(Tag.LIST_ORDER_STATUS) == "2", answer.getField(444)
            samples.append((time.perf_counter() - started) * 1e6)
        started = time.perf_counter()
        for index in range(count):
            send(f"{tag}B{index}")
        for _ in range(count):
            assert client.wait_for(decision, 60, keep_others=False) is not None
        rate = count / (time.perf_counter() - started)
        return samples, rate
    finally:
        client.stop()


def print_stages(log_file: Path, medians: dict[int, float]) -> None:
    """Median µs per stage of the sequential (S) runs, from the gateway's log."""
    per_legs: dict[int, dict[str, list[float]]] = {}
    if log_file.exists():
        for line in log_file.read_text().splitlines():
            if '"bundle.accepted"' not in line:
                continue
            event = json.loads(line)
            if "S" not in event["list_id"]:
                continue
            legs = int(event["list_id"][1:].split("S")[0])
            for name, value in event.get("stages_us", {}).items():
                per_legs.setdefault(legs, {}).setdefault(name, []).append(float(value))
    if not per_legs:
        print("  (no stage breakdown: the gateway logs bundle.accepted at info level)")
        return
    print("where a sequential round trip goes, median µs per stage inside the gateway:")
    names = list(next(iter(per_legs.values())))
    print(f"  {'stage':<18}" + "".join(f"{legs:>8}-leg" for legs in per_legs))
    for name in names:
        row = "".join(
            f"{statistics.median(per_legs[legs].get(name, [0])):12.0f}" for legs in per_legs
        )
        print(f"  {name.removesuffix('_us'):<18}{row}")
    inside = {
        legs: sum(statistics.median(v) for v in per.values()) for legs, per in per_legs.items()
    }
    print(f"  {'sum of stages':<18}" + "".join(f"{inside[legs]:12.0f}" for legs in per_legs))
    print(
        f"  {'network + client':<18}"
        + "".join(f"{medians[legs] - inside[legs]:12.0f}" for legs in per_legs)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="messages per measurement")
    parser.add_argument(
        "--log-level", default="info", help="the gateway's log level (default info, as deployed)"
    )
    parser.add_argument(
        "--serve", nargs=4, metavar=("KIND", "PORT", "SENDER", "TARGET"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        kind, port, sender, target = args.serve
        serve(kind, int(port), sender, target)
        return
    me = str(Path(__file__).resolve())
    echo_port, client_port, venue_port = free_port(), free_port(), free_port()
    children = [
        spawn([me, "--serve", "echo", str(echo_port), "ECHO", "BENCH"]),
        spawn([me, "--serve", "venue", str(venue_port), "VENUE", "BIDGW"]),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "gateway.yaml"
        log_file = Path(tmp) / "gateway.log"
        config.write_text(
            f"clients: {{port: {client_port}, allowed_comp_ids: [DESK1],\n"
            "  limits: {max_messages_per_second: 1000000, max_open_bundles: 1000000}}\n"
            f"venue: {{port: {venue_port}, reconnect_secs: 1}}\n"
            f"store: memory\nstore_dir: {tmp}/store\nfix_log_dir: {tmp}/log\n"
            f"journal: {tmp}/journal.sqlite\n"
        )
        try:
            for child in children:
                assert child.stdout is not None
                assert child.stdout.readline().strip() == "ready"
            gateway = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "bidgw"),
                    "run",
                    "--config",
                    str(config),
                    "--log-level",
                    args.log_level,
                    "--log-file",
                    str(log_file),
                ],
                cwd=ROOT,
                text=True,
            )
            children.append(gateway)
            echo, echo_rate = echo_round_trips(echo_port, args.count)
            print(f"round trips over {args.count} messages, µs (p50 / p99); burst throughput")
            print(
                f"  raw quickfix echo (NewOrderSingle -> ExecutionReport): "
                f"{statistics.median(echo):8.0f} / {percentile(echo, 0.99):8.0f}   "
                f"{echo_rate:8.0f} msg/s"
            )
            medians: dict[int, float] = {}
            for legs in (3, 10):
                samples, rate = gateway_round_trips(client_port, args.count, legs, f"L{legs}")
                medians[legs] = statistics.median(samples)
                print(
                    f"  gateway {legs:>2}-leg payload -> accept decision:         "
                    f"{medians[legs]:8.0f} / {percentile(samples, 0.99):8.0f}   "
                    f"{rate:8.0f} bundles/s   ({medians[legs] / statistics.median(echo):.1f}x echo)"
                )
            print("  (the gateway's p50 includes one pre-solve; see bench/presolve.py)")
            print_stages(log_file, medians)
        finally:
            for child in children:
                if child.stdin is not None:
                    child.stdin.close()
                else:
                    child.terminate()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()


if __name__ == "__main__":
    main()
