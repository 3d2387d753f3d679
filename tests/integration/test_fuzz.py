"""Hostile input over real sessions: >= 10,000 malformed or adversarial messages.

The gateway and the venue run as real processes. A seeded mutation fuzzer
(reproducible: the seed is in the test) sends

* 9,000 application messages with valid framing and sequence numbers: required
  tags dropped, wrong types, huge and non-finite numbers, huge groups, unicode,
  unknown and duplicate tags, group count mismatches, duplicate ids, unknown
  bidder types and message types; each must get exactly one answer that says
  why (session Reject, BusinessMessageReject, or the ListStatus decision);
* 1,000 broken frames on their own connections: bad checksums, wrong body
  lengths, truncated messages, binary garbage, wrong CompIDs; the engine may
  drop them or the connection, but the process must stay up;

then checks the process is alive, its memory stayed bounded, and a normal
payload is still accepted.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.integration.rawfix import RawFixClient

pytestmark = pytest.mark.integration

# BIDGW_FUZZ_SCALE shrinks the run while debugging (1.0 = the full 10,000 messages).
_SCALE = float(__import__("os").environ.get("BIDGW_FUZZ_SCALE", "1"))
APP_MESSAGES = int(9_000 * _SCALE)
BROKEN_FRAMES = int(1_000 * _SCALE) // 10 * 10
SEED = 20261121
WINDOW = 64


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@pytest.fixture(scope="module")
def processes(tmp_path_factory) -> Iterator[dict]:
    from gateway.fix.engine import free_port

    tmp = tmp_path_factory.mktemp("fuzz")
    client_port, venue_port = free_port(), free_port()
    (tmp / "venue.yaml").write_text(
        f"port: {venue_port}\nstore: memory\nstore_dir: {tmp}/vs\n"
        "symbols: {AAAA: {bid: '9.95', offer: '10.05'}, BBBB: {bid: '19.95', offer: '20.05'},"
        " CCCC: {bid: '4.95', offer: '5.05'}}\nliquidity: {touch_lots: 0, flow_orders: 0}\n"
    )
    (tmp / "gateway.yaml").write_text(
        f"clients: {{port: {client_port}, allowed_comp_ids: [DESK1, DESK2]}}\n"
        f"venue: {{port: {venue_port}, reconnect_secs: 1}}\n"
        f"store: file\nstore_dir: {tmp}/gs\nfix_log_dir: {tmp}/gl\n"
        f"journal: {tmp}/journal.sqlite\n"
    )
    cli = [sys.executable, "-m", "gateway.tools.cli"]
    venue = subprocess.Popen(
        [*cli, "venue", "--config", str(tmp / "venue.yaml"), "--log-level", "warning"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_port(venue_port)
    stderr = (tmp / "gw.stderr").open("wb")
    gateway = subprocess.Popen(
        [
            *cli,
            "run",
            "--config",
            str(tmp / "gateway.yaml"),
            "--log-level",
            "warning",
            "--log-file",
            str(tmp / "gw.log"),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    _wait_port(client_port)
    try:
        yield {"port": client_port, "gateway": gateway, "venue": venue, "tmp": tmp}
    finally:
        for process in (gateway, venue):
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        stderr.close()


def _wait_port(port: int, timeout: float = 20.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)  # another process is binding; deadline-bounded
    raise AssertionError(f"port {port} never listened")


# --- the fuzzer -----------------------------------------------------------------------


def _valid_list(list_id: str, n_orders: int = 3) -> list[tuple[int, str]]:
    fields = [
        (66, list_id),
        (394, "3"),
        (68, str(n_orders)),
        (20001, "single_factor_hedged"),
        (957, "1"),
        (958, "target_hedge_ratio"),
        (959, "1"),
        (960, "2"),
        (73, str(n_orders)),
    ]
    legs = [
        ("AAAA", "1", "2000", "10.00", "4"),
        ("BBBB", "2", "1000", "20.00", "-12"),
        ("CCCC", "1", "1000", "5.00", "-3"),
    ]
    for i in range(n_orders):
        symbol, side, qty, price, coeff = legs[i % 3]
        fields += [
            (11, f"{list_id}-{i}"),
            (67, str(i + 1)),
            (55, symbol if i < 3 else f"S{i}"),
            (54, side),
            (38, qty),
            (40, "2"),
            (44, price),
            (957, "1"),
            (958, "hedge_qty_coeff"),
            (959, "6"),
            (960, coeff),
        ]
    return fields


NASTY_VALUES = [
    "",
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "1e308",
    "-1e-300",
    "1E+400",
    "99999999999999999999999999999999999999",
    "-0",
    "0",
    "-1",
    "0x10",
    "1,5",
    " 10",
    "10 ",
    "ÄÖÜ€",
    "日本語",
    "\u202e",
    "💥",
    "a" * 5000,
    "1.2.3",
    "+5",
    "9" * 300,
    "true",
    "Y",
    "N",
    "null",
    "<script>",
    "'; DROP TABLE",
    "%s%n",
]


def mutate(rng: random.Random, list_id: str) -> tuple[str, list[tuple[int, str]]]:
    kind = rng.randrange(12)
    fields = _valid_list(list_id)
    if kind == 0:  # drop a field
        fields.pop(rng.randrange(len(fields)))
    elif kind == 1:  # a nasty value in a random field
        i = rng.randrange(len(fields))
        fields[i] = (fields[i][0], rng.choice(NASTY_VALUES))
    elif kind == 2:  # several nasty values
        for _ in range(rng.randint(2, 6)):
            i = rng.randrange(len(fields))
            fields[i] = (fields[i][0], rng.choice(NASTY_VALUES))
    elif kind == 3:  # a huge group
        fields = _valid_list(list_id, n_orders=rng.choice([60, 200, 1000]))
    elif kind == 4:  # group count mismatch
        i = next(k for k, (t, _) in enumerate(fields) if t == 73)
        fields[i] = (73, str(rng.choice([0, 1, 2, 4, 1000])))
    elif kind == 5:  # unknown or duplicated tags
        tag = rng.choice([5000, 9999, 20999, 66, 55, 957, 1])
        fields.insert(rng.randrange(len(fields) + 1), (tag, rng.choice(NASTY_VALUES) or "x"))
    elif kind == 6:  # shuffled order
        head, rest = fields[:1], fields[1:]
        rng.shuffle(rest)
        fields = head + rest
    elif kind == 7:  # unknown bidder type or odd parameter types
        fields = [(t, "martingale" if t == 20001 else ("99" if t == 959 else v)) for t, v in fields]
    elif kind == 8:  # a huge parameter group
        count = rng.choice([100, 3000])
        extra: list[tuple[int, str]] = [
            (957, str(count + 1)),
            (958, "target_hedge_ratio"),
            (959, "1"),
            (960, "2"),
        ]
        for k in range(count):
            extra += [(958, f"p{k}"), (959, "14"), (960, "x" * rng.randint(1, 50))]
        i = next(k for k, (t, _) in enumerate(fields) if t == 957)
        fields = fields[:i] + extra + fields[i + 4 :]
    elif kind == 9:  # another message type, with list-like fields
        return rng.choice(["D", "F", "G", "H", "K", "j", "U1", "AB", "N", "8"]), fields[:6]
    elif kind == 10:  # a cancel of a list that does not exist
        return "K", [(66, list_id), (60, "20260101-00:00:00")]
    # kind 11: valid
    return "E", fields


def _is_answer(message) -> tuple[str, str] | None:
    """(key kind, key) for a message that answers one of ours, else None."""
    kind = message.get(35)
    if kind in (b"3", b"j"):
        ref = message.get(45)
        return ("seq", ref.decode()) if ref else ("any", "")
    if kind == b"N" and message.get(431) in (b"2", b"7"):
        return ("list", message.get(66).decode(errors="replace"))
    return None


def test_hostile_input_is_rejected_and_the_gateway_survives(processes, request):
    gateway = processes["gateway"]
    rng = random.Random(SEED)
    client = RawFixClient(processes["port"], "DESK1")
    request.addfinalizer(client.close)
    assert client.logon().get(35) == b"A"
    rss_start = _rss_kb(gateway.pid)
    outstanding: dict[str, str] = {}  # seq -> list id ("" if none)
    sent: dict[str, tuple[str, list[tuple[int, str]]]] = {}
    answered = unanswered = 0
    reasons = 0

    def drain(until: int, timeout: float) -> None:
        nonlocal answered, reasons
        deadline = time.monotonic() + timeout
        while len(outstanding) > until and time.monotonic() < deadline:
            message = client.receive(
                lambda m: _is_answer(m) is not None, timeout=max(0.01, deadline - time.monotonic())
            )
            if message is None:
                break
            key_kind, key = _is_answer(message)  # type: ignore[misc]
            if key_kind == "seq" and key in outstanding:
                del outstanding[key]
            elif key_kind == "list":
                seq = next((s for s, lid in outstanding.items() if lid == key), None)
                if seq is None:
                    continue
                del outstanding[seq]
            else:
                continue
            answered += 1
            reasons += bool(message.get(58) or message.get(444))

    for n in range(APP_MESSAGES):
        list_id = f"F{n}"
        msg_type, fields = mutate(rng, list_id)
        # Answers come keyed by the ListID actually sent (a mutation may have changed it).
        outstanding[str(client.seq)] = next((v for t, v in fields if t == 66), list_id)
        sent[str(client.seq)] = (msg_type, fields[:12])
        client.send(msg_type, fields)
        if len(outstanding) >= WINDOW:
            drain(WINDOW // 2, 10)
    drain(0, 20)
    unanswered = len(outstanding)
    assert gateway.poll() is None, "the gateway process died"
    rss_end = _rss_kb(gateway.pid)
    assert unanswered == 0, (
        f"{unanswered} messages got no answer, e.g. "
        f"{[(seq, sent[seq]) for seq in list(outstanding)[:3]]}"
    )
    assert answered == APP_MESSAGES
    assert reasons == APP_MESSAGES, "every answer must say why"
    assert rss_end - rss_start < 200_000, f"memory grew by {rss_end - rss_start} kB"
    client.close()

    frames = 0
    for n in range(BROKEN_FRAMES // 10):
        raw = RawFixClient(processes["port"], "DESK2")
        try:
            raw.logon()
            for k in range(10):
                raw.send_bytes(_broken_frame(rng, raw, n * 10 + k), count_seq=False)
                frames += 1
        finally:
            raw.close()
        assert gateway.poll() is None, f"the gateway died after broken frame batch {n}"
    assert frames == BROKEN_FRAMES

    # A normal payload afterwards is still accepted (DESK1 has reached its open-bundle
    # limit with the valid lists the fuzzer sent: they rest at a venue with no liquidity).
    good = RawFixClient(processes["port"], "DESK2")
    try:
        assert good.logon().get(35) == b"A"
        good.send("E", _valid_list("AFTER-FUZZ"))
        decision = good.receive(lambda m: m.get(35) == b"N" and m.get(66) == b"AFTER-FUZZ")
        assert decision is not None
        assert decision.get(431) == b"2", decision.get(444)
    finally:
        good.close()
    print(
        f"\nfuzz: {APP_MESSAGES} application messages answered with a reason, "
        f"{BROKEN_FRAMES} broken frames survived; gateway RSS {rss_start} -> {rss_end} kB"
    )


def _broken_frame(rng: random.Random, raw: RawFixClient, n: int) -> bytes:
    kind = n % 5
    good = raw.message("E", _valid_list(f"B{n}")).encode()
    if kind == 0:  # wrong checksum
        return good[:-4] + b"000\x01"
    if kind == 1:  # wrong body length
        return good.replace(b"\x019=", b"\x019=9", 1)
    if kind == 2:  # truncated
        return good[: rng.randrange(5, len(good) - 1)]
    if kind == 3:  # binary garbage
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
    # wrong CompIDs
    return good.replace(b"49=DESK2", b"49=MALLORY", 1)
