"""The gateway over real QuickFIX sessions on loopback (issue: FIX sessions)."""

from __future__ import annotations

import contextlib
import queue
import socket
import sqlite3
from decimal import Decimal
from typing import Any

import pytest

from fixspec import Tag
from gateway.core import store
from gateway.core.bundle import Sense
from gateway.core.errors import ConfigError
from gateway.core.store import OwnerLock
from gateway.fix.engine import connections_to, msg_type
from gateway.router.service import Gateway
from gateway.tools.client import parse_report, submit
from tests.conftest import seed_hedge
from tests.integration.conftest import (
    DEADLINE,
    Counterparty,
    gateway_config,
    make_client,
    running,
    wait_until,
)
from tests.integration.rawfix import RawFixClient

pytestmark = pytest.mark.integration


def beta_payload() -> dict[str, Any]:
    return {
        "strategy": "beta_neutral",
        "bidder_data": {
            "beta_tol": 20,
            "positions": [
                {
                    "symbol": "AAAA",
                    "side": "Buy",
                    "price": "101.25",
                    "beta_coeff": "1.10",
                    "qty": 5000,
                },
                {
                    "symbol": "BBBB",
                    "side": "Sell",
                    "price": "48.10",
                    "beta_coeff": "0.85",
                    "qty": 8000,
                    "lot_size": 50,
                },
                {
                    "symbol": "CCCC",
                    "side": "Sell",
                    "price": "22.40",
                    "beta_coeff": "1.30",
                    "qty": 6000,
                },
            ],
        },
    }


def assert_nothing_forwarded(counterparty) -> None:
    with pytest.raises(queue.Empty):
        counterparty.received.get(timeout=0.3)


def test_hedge_payload_reaches_counterparty_with_constraints_intact(client, counterparty):
    result = submit(client, seed_hedge(), list_id="H-1", wait_done=False, timeout=DEADLINE)
    assert result.status == "accepted", result.reason
    ack = result.reports[0]
    assert ack["list_id"] == "H-1"
    assert [o["cl_ord_id"] for o in ack["orders"]] == ["H-1-1", "H-1-2", "H-1-3"]
    assert ack["bundle_id"]
    received = counterparty.next_bundle()
    assert received.bundle.bundle_id == ack["bundle_id"]
    assert received.bundle.symbols == ("AAAA", "BBBB", "CCCC")
    assert [leg.max_qty for leg in received.bundle.legs] == [2000, 1000, 1000]
    (constraint,) = received.bundle.constraints
    assert constraint.sense is Sense.EQ
    assert constraint.coefficients == (Decimal(-4), Decimal(36), Decimal(9))
    assert received.bundle.metadata["strategy"] == "single_factor_hedged"


def test_beta_payload_reaches_counterparty_with_constraints_intact(client, counterparty, registry):
    result = submit(client, beta_payload(), list_id="B-1", wait_done=False, timeout=DEADLINE)
    assert result.status == "accepted", result.reason
    received = counterparty.next_bundle()
    expected = registry.build(__import__("gateway").parse_envelope(beta_payload()))
    assert received.bundle.constraints == expected.constraints
    assert [leg.lot_size for leg in received.bundle.legs] == [100, 50, 100]
    assert [leg.limit_price for leg in received.bundle.legs] == [
        Decimal("101.25"),
        Decimal("48.1"),
        Decimal("22.4"),
    ]


def test_infeasible_payload_is_rejected_with_reason_and_not_forwarded(client, counterparty):
    result = submit(client, seed_hedge(500), list_id="INF-1", timeout=DEADLINE)
    assert result.status == "rejected"
    assert "AAAA 900 above its limit 500" in (result.reason or "")
    report = result.reports[0]
    assert report["list_order_status"] == 7
    assert all(o["ord_status"] == "8" for o in report["orders"])
    assert_nothing_forwarded(counterparty)


def test_fills_and_cancel_are_relayed_with_client_ids(client, counterparty):
    result = submit(client, seed_hedge(), list_id="F-1", wait_done=False, timeout=DEADLINE)
    received = counterparty.next_bundle()
    bundle_id = received.bundle.bundle_id
    counterparty.fill(bundle_id, 0, 900, "9.95")
    counterparty.fill(bundle_id, 1, 100, "20.05")

    def execution_report(message):
        return msg_type(message) == "8"

    reports = [parse_report(client.wait_for(execution_report, DEADLINE)) for _ in range(2)]
    assert [r["cl_ord_id"] for r in reports] == ["F-1-1", "F-1-2"]
    assert all(r["list_id"] == "F-1" and r["bundle_id"] == bundle_id for r in reports)
    assert [(r["last_qty"], r["last_px"]) for r in reports] == [(900, "9.95"), (100, "20.05")]
    client.send(__import__("gateway.fix.messages", fromlist=["x"]).list_cancel_request("F-1"))
    assert counterparty.cancels.get(timeout=DEADLINE) == bundle_id
    done = client.wait_for(
        lambda m: (
            msg_type(m) == "N"
            and m.getField(Tag.LIST_ID) == "F-1"
            and m.getField(Tag.LIST_ORDER_STATUS) == "6"
        ),
        DEADLINE,
    )
    assert done is not None
    assert result.status == "accepted"


def test_duplicate_list_id_and_cl_ord_id_are_rejected_not_forwarded(client, counterparty):
    assert submit(client, seed_hedge(), list_id="D-1", wait_done=False).status == "accepted"
    counterparty.next_bundle()
    again = submit(client, seed_hedge(), list_id="D-1", wait_done=False, timeout=DEADLINE)
    assert again.status == "rejected"
    assert "duplicate ListID 'D-1'" in (again.reason or "")
    # A BusinessMessageReject, not a ListStatus that would read as D-1's own state.
    assert again.reports[0]["type"] == "business_reject"
    # New ListID, but reusing a ClOrdID of D-1.
    from gateway.fix.client_codec import encode_new_order_list

    client.send(encode_new_order_list(seed_hedge(), "D-2", ["D-1-1", "x2", "x3"]))
    reply = client.wait_for(
        lambda m: msg_type(m) == "N" and m.getField(Tag.LIST_ID) == "D-2", DEADLINE
    )
    assert reply is not None
    assert "duplicate ClOrdID 'D-1-1'" in parse_report(reply)["text"]
    assert_nothing_forwarded(counterparty)


def test_a_stopped_acceptor_closes_a_connection_it_had_not_answered(ports, tmp_path):
    """A peer that connected while the acceptor was stopping (the gateway reconnecting
    to a venue being restarted), its Logon not yet read, has its connection closed at
    once. It was left open and silent: the gateway waited for its LogonTimeout (10 s)
    before it tried the restarted venue (a flaky test_venue restart test found it)."""
    party = Counterparty(ports["venue"], tmp_path)
    party.connector.start()
    port = frozenset({ports["venue"]})
    peer = socket.create_connection(("127.0.0.1", ports["venue"]), timeout=DEADLINE)
    try:
        # Accepted by the engine (its end is a descriptor of this process), no Logon.
        assert wait_until(lambda: len(connections_to(port)) == 1)
        party.connector.stop()
        assert connections_to(port) == []
        with contextlib.suppress(ConnectionResetError):  # closed with data unread
            assert peer.recv(1) == b""  # closed, not silent until the peer's timeout
    finally:
        peer.close()


def test_counterparty_down_rejects_new_bundles_with_reason(ports, tmp_path, counterparty):
    gw = Gateway(gateway_config(ports, tmp_path))
    gw.start()
    desk = make_client(ports, tmp_path)
    try:
        assert gw.venue_logged_on.wait(DEADLINE)
        assert desk.start(DEADLINE)
        counterparty.connector.stop()
        assert _wait_cleared(gw.venue_logged_on)
        result = submit(desk, seed_hedge(), list_id="DOWN-1", timeout=DEADLINE)
        assert result.status == "rejected"
        assert "counterparty session is not logged on" in (result.reason or "")
        assert desk.logged_on.is_set()
        # The counterparty comes back: the gateway reconnects and forwards again.
        again = Counterparty(ports["venue"], tmp_path / "again")
        again.connector.start()
        try:
            assert gw.venue_logged_on.wait(DEADLINE)
            accepted = submit(desk, seed_hedge(), list_id="DOWN-2", wait_done=False)
            assert accepted.status == "accepted", accepted.reason
            assert again.next_bundle().bundle.symbols == ("AAAA", "BBBB", "CCCC")
        finally:
            again.connector.stop()
    finally:
        desk.stop()
        gw.stop()


def _wait_cleared(event, timeout: float = DEADLINE) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while event.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)
    return not event.is_set()


# --- malformed input over a raw socket --------------------------------------------


def _orders(*legs: tuple[str, str, str, str, str, list[tuple[int, str]]]):
    fields: list[tuple[int, str]] = [(73, str(len(legs)))]
    for index, (cl_ord_id, symbol, side, qty, price, params) in enumerate(legs, start=1):
        fields += [
            (11, cl_ord_id),
            (67, str(index)),
            (55, symbol),
            (54, side),
            (38, qty),
            (40, "2"),
            (44, price),
        ]
        if params:
            fields.append((957, str(len(params) // 3)))
            fields += params
    return fields


def _hedge_list(
    list_id: str, prefix: str, *, bidder: str = "single_factor_hedged", coeff_a: str = "4"
) -> list[tuple[int, str]]:
    return [
        (66, list_id),
        (394, "3"),
        (68, "3"),
        (20001, bidder),
        (20002, "100"),
        (957, "1"),
        (958, "target_hedge_ratio"),
        (959, "1"),
        (960, "2"),
        *_orders(
            (
                f"{prefix}1",
                "AAAA",
                "1",
                "2000",
                "10.00",
                [(958, "hedge_qty_coeff"), (959, "6"), (960, coeff_a)],
            ),
            (
                f"{prefix}2",
                "BBBB",
                "2",
                "1000",
                "20.00",
                [(958, "hedge_qty_coeff"), (959, "6"), (960, "-12")],
            ),
            (
                f"{prefix}3",
                "CCCC",
                "1",
                "1000",
                "5.00",
                [(958, "hedge_qty_coeff"), (959, "6"), (960, "-3")],
            ),
        ),
    ]


@pytest.fixture
def raw(ports, gateway):
    client = RawFixClient(ports["clients"], "DESK2")
    try:
        assert client.logon().get(35) == b"A"
        yield client
    finally:
        client.close()


def test_independent_encoder_payload_is_accepted(raw, counterparty):
    """A NewOrderList built by simplefix from fixspec/README.md alone."""
    raw.send("E", _hedge_list("RAW-1", "R1-"))
    reply = raw.receive(lambda m: m.get(35) == b"N")
    assert reply is not None
    assert reply.get(66) == b"RAW-1"
    assert reply.get(431) == b"2", reply.get(444)
    bundle = counterparty.next_bundle().bundle
    assert bundle.constraints[0].coefficients == (Decimal(-4), Decimal(36), Decimal(9))


@pytest.mark.parametrize(
    ("name", "body", "expect"),
    [
        (
            "missing required tag (BidType 394)",
            lambda: [(f, v) for f, v in _hedge_list("M-1", "M1-") if f != 394],
            {35: b"3", 373: b"1", 371: b"394"},
        ),
        (
            "wrong type (TotNoOrders 'three')",
            lambda: [(f, "three" if f == 68 else v) for f, v in _hedge_list("M-2", "M2-")],
            {35: b"3", 373: b"6", 371: b"68"},
        ),
        # QuickFIX does not check the format of fields inside repeating groups: the
        # gateway's decoder does, and names the order and the field.
        (
            "wrong type inside the orders group (OrderQty 'lots')",
            lambda: [(f, "lots" if f == 38 else v) for f, v in _hedge_list("M-6", "M6-")],
            {35: b"N", 431: b"7"},
        ),
        (
            "group count mismatch (NoOrders 4, three orders)",
            lambda: [(f, "4" if f == 73 else v) for f, v in _hedge_list("M-3", "M3-")],
            {35: b"3", 373: b"16"},
        ),
        (
            "unknown bidder type",
            lambda: _hedge_list("M-4", "M4-", bidder="martingale"),
            {35: b"N", 431: b"7", 1386: b"11"},
        ),
        (
            "garbage in a per-leg value",
            lambda: _hedge_list("M-5", "M5-", coeff_a="four"),
            {35: b"N", 431: b"7"},
        ),
        (
            "unsupported message type (NewOrderSingle)",
            lambda: [
                (11, "S-1"),
                (55, "AAAA"),
                (54, "1"),
                (60, "20260101-00:00:00"),
                (38, "100"),
                (40, "2"),
                (44, "10"),
            ],
            {35: b"j", 380: b"3"},
        ),
    ],
)
def test_malformed_message_gets_reject_and_session_stays_up(raw, counterparty, name, body, expect):
    msg_type_sent = "D" if "NewOrderSingle" in name else "E"
    raw.send(msg_type_sent, body())
    reply = raw.receive(lambda m: m.get(35) in (b"3", b"j", b"N"))
    assert reply is not None, f"no reject for {name}"
    for tag, value in expect.items():
        assert reply.get(tag) == value, (name, tag, reply)
    reason = reply.get(58) or reply.get(444)
    assert reason, f"reject for {name} carries no reason"
    if name == "garbage in a per-leg value":
        assert b"hedge_qty_coeff" in reason
    if "OrderQty" in name:
        assert b"NoOrders[1].OrderQty(38)" in reason
    assert_nothing_forwarded(counterparty)
    # The session is still up: a good payload on the same connection is accepted.
    raw.send("E", _hedge_list(f"OK-{expect[35].decode()}-{len(name)}", f"ok{len(name)}-"))
    ok = raw.receive(lambda m: m.get(35) == b"N")
    assert ok is not None
    assert ok.get(431) == b"2", ok.get(444)


def test_unknown_comp_id_cannot_log_on(ports, gateway):
    stranger = RawFixClient(ports["clients"], "MALLORY")
    try:
        stranger.send("A", [(98, "0"), (108, "30"), (141, "Y")])
        assert stranger.receive(lambda m: m.get(35) == b"A", timeout=1.0) is None
    finally:
        stranger.close()


def test_portfolio_hedge_travels_over_fix_and_maps_legs_by_symbol(client, counterparty):
    """mean_reversion_hedge over the generic fields: the history as a reference, the
    vector as per-order parameters; GBP needs no trade, so the bundle has two legs and
    every report names the client's ClOrdID of the same instrument."""
    payload = {
        "strategy": "mean_reversion_hedge",
        "bidder_data": {
            "price_history": "config/samples/fx_prices.csv",
            "vectors": "given",
            "positions": [
                {"symbol": "EUR", "side": "Sell", "qty": 400_000, "price": "0.7970", "beta_1": 1},
                {"symbol": "GBP", "side": "Buy", "qty": 0, "price": "1.0800", "beta_1": 0},
                {"symbol": "CHF", "side": "Buy", "qty": 400_000, "price": "0.7455", "beta_1": -1},
            ],
        },
    }
    result = submit(client, payload, list_id="MR-1", wait_done=False, timeout=DEADLINE)
    assert result.status == "accepted", result.reason
    statuses = {o["cl_ord_id"]: o["ord_status"] for o in result.reports[0]["orders"]}
    assert statuses == {"MR-1-1": "0", "MR-1-3": "0", "MR-1-2": "4"}
    received = counterparty.next_bundle()
    assert [(leg.symbol, leg.side.value, leg.max_qty) for leg in received.bundle.legs] == [
        ("EUR", "buy", 400_000),
        ("CHF", "sell", 400_000),
    ]
    counterparty.fill(received.bundle.bundle_id, 1, 100_000, "0.7460")
    report = parse_report(client.wait_for(lambda m: msg_type(m) == "8", DEADLINE))
    assert (report["cl_ord_id"], report["symbol"]) == ("MR-1-3", "CHF")


def test_sequence_gap_is_recovered_and_a_possdup_resend_is_not_forwarded_twice(raw, counterparty):
    """The client skips MsgSeqNum 3-4: the gateway asks for them (ResendRequest), holds
    message 5, and processes it once the client gap-fills. A later PossDup resend of
    the same list is answered with the same decision and never forwarded again."""
    raw.send("E", _hedge_list("GAP-1", "G1-"))
    assert raw.receive(lambda m: m.get(35) == b"N" and m.get(66) == b"GAP-1") is not None
    assert counterparty.next_bundle() is not None
    raw.seq += 2  # skip two sequence numbers
    raw.send("E", _hedge_list("GAP-2", "G2-"))
    resend = raw.receive(lambda m: m.get(35) == b"2")
    assert resend is not None
    begin = int(resend.get(7))
    assert begin == raw.seq - 3
    # Gap-fill the two skipped numbers: a SequenceReset carrying the first of them.
    saved, raw.seq = raw.seq, begin
    fill = raw.message("4", [(123, "Y"), (36, str(saved - 1))])
    fill.append_pair(43, "Y", header=True)
    fill.append_pair(122, "20260101-00:00:00.000", header=True)
    raw.send_bytes(fill.encode(), count_seq=False)
    raw.seq = saved
    decision = raw.receive(lambda m: m.get(35) == b"N" and m.get(66) == b"GAP-2")
    assert decision is not None
    assert decision.get(431) == b"2", decision.get(444)
    assert counterparty.next_bundle().bundle.symbols == ("AAAA", "BBBB", "CCCC")
    # The client's engine resends GAP-2 as a possible duplicate: same answer, no forward.
    again = raw.message("E", _hedge_list("GAP-2", "G2-"))
    again.append_pair(43, "Y", header=True)
    again.append_pair(122, "20260101-00:00:00.000", header=True)
    raw.send_bytes(again.encode())
    repeat = raw.receive(
        lambda m: m.get(35) == b"N" and m.get(66) == b"GAP-2" and m.get(431) in (b"2", b"7")
    )  # a decision, not a venue relay
    assert repeat is not None
    assert repeat.get(431) == b"2"
    assert_nothing_forwarded(counterparty)


def test_a_list_refused_while_the_journal_is_locked_is_not_kept_and_fills_still_reach_the_desk(
    ports, tmp_path, counterparty, monkeypatch
):
    # Another process holding the journal's write lock, as `bidgw journal compact`'s
    # VACUUM does, past the busy timeout (shortened here from 5 s).
    monkeypatch.setattr(store, "BUSY_TIMEOUT_SECS", 0.3)
    with running(Gateway(gateway_config(ports, tmp_path))) as gw:
        desk = make_client(ports, tmp_path)
        assert desk.start(DEADLINE)
        try:
            assert submit(desk, seed_hedge(), list_id="J-1", wait_done=False).status == "accepted"
            bundle_id = counterparty.next_bundle().bundle.bundle_id
            # J-1's own journal writes done: the counterparty's ack relayed, the row acked.
            assert desk.wait_for(
                lambda m: msg_type(m) == "N" and m.getField(Tag.LIST_ORDER_STATUS) == "1",
                DEADLINE,
            )
            assert wait_until(
                lambda: any(row[2] == "J-1" and row[4] for row in gw.journal.all_bundles())
            )
            holder = sqlite3.connect(gw.config.journal, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
            try:
                refused = submit(desk, seed_hedge(), list_id="J-2", timeout=DEADLINE)
                counterparty.fill(bundle_id, 0, 900, "9.95")
                fill = desk.wait_for(lambda m: msg_type(m) == "8", DEADLINE)
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            assert refused.status == "rejected"
            assert "the gateway's journal is unavailable" in (refused.reason or "")
            assert "send it again" in (refused.reason or "")
            assert_nothing_forwarded(counterparty)
            # The counterparty's fill came while the journal was locked: relayed all the same.
            assert fill is not None
            assert parse_report(fill)["cl_ord_id"] == "J-1-1"
            assert parse_report(fill)["last_qty"] == 900
            assert desk.wait_for(lambda m: msg_type(m) == "j", 0.3) is None
            # Nothing of J-2 was kept: sent again, it is a new list.
            again = submit(desk, seed_hedge(), list_id="J-2", wait_done=False)
            assert again.status == "accepted", again.reason
        finally:
            desk.stop()


def test_a_gateway_whose_journal_another_process_owns_is_refused_at_start(
    ports, tmp_path, counterparty
):
    config = gateway_config(ports, tmp_path)
    other = OwnerLock(config.journal)  # what another bidgw run on this journal holds
    other.acquire()
    gw = Gateway(config)
    try:
        with pytest.raises(ConfigError, match=r"is in use by another process \(pid \d+\)"):
            gw.start()
        with socket.socket() as probe:  # it started nothing
            assert probe.connect_ex(("127.0.0.1", ports["clients"])) != 0
        assert not counterparty.logged_on.is_set()
    finally:
        gw.stop()
        other.release()
    with running(Gateway(config)) as again:  # free, the same config starts
        assert again.venue_up


def test_a_gateway_that_fails_to_start_releases_its_journal(ports, tmp_path, counterparty):
    """A start that fails after taking the journal's lock (here: the client port is
    taken) stops what it started and releases the lock, so the same config starts
    as soon as the port is free, in the same process, without a stop() between."""
    config = gateway_config(ports, tmp_path)
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("0.0.0.0", ports["clients"]))
        squatter.listen()
        with pytest.raises(OSError, match="Address already in use"):
            Gateway(config).start()
        lock = OwnerLock(config.journal)
        lock.acquire()  # raises ConfigError while a failed start still holds it
        lock.release()
    with running(Gateway(config)) as again:
        assert again.venue_up


def test_a_restarted_gateway_shows_its_open_bundles_strategy_and_legs(
    ports, tmp_path, counterparty
):
    config = gateway_config(ports, tmp_path)
    with running(Gateway(config)) as gw:
        desk = make_client(ports, tmp_path)
        assert desk.start(DEADLINE)
        try:
            result = submit(desk, seed_hedge(), list_id="RS-1", wait_done=False)
            assert result.status == "accepted", result.reason
            counterparty.next_bundle()
            before = gw.state().bundles
        finally:
            desk.stop()
    with running(Gateway(config)) as again:
        (bundle,) = again.state().bundles
    assert bundle.bundle_id == result.bundle_id
    assert bundle.strategy == before[0].strategy == "single_factor_hedged"
    legs = [(leg.cl_ord_id, leg.symbol, leg.side) for leg in bundle.legs]
    assert legs == [(leg.cl_ord_id, leg.symbol, leg.side) for leg in before[0].legs]
    assert legs == [
        ("RS-1-1", "AAAA", "buy"),
        ("RS-1-2", "BBBB", "sell"),
        ("RS-1-3", "CCCC", "buy"),
    ]
