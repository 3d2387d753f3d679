"""One client's hard bundles delay only that client: builds and pre-solves are served
round-robin across clients (gateway.router.pool), over real sessions."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from typing import Any

import pytest

from fixspec import Tag
from gateway.fix.client_codec import encode_new_order_list
from gateway.fix.engine import msg_type
from gateway.router.service import Gateway
from gateway.solver.presolve import PresolveConfig
from tests.conftest import seed_hedge
from tests.integration.conftest import DEADLINE, gateway_config, make_client

pytestmark = pytest.mark.integration

FLOOD = 12
SOLVE_MS = 400


def _hard(list_id: str) -> Any:
    """Infeasible, and its explanation runs to the pre-solve time limit (0.4 s, and
    HiGHS overshoots it). Three legs: one hedge equality between two legs has a
    closed-form explanation and costs milliseconds."""
    envelope = {
        "strategy": "single_factor_hedged",
        "lot_size": 100,
        "bidder_data": {
            "target_hedge_ratio": 2,
            "positions": [
                {
                    "symbol": "AAAA",
                    "side": "Buy",
                    "hedge_qty_coeff": 100003,
                    "qty": 100000,
                    "price": "10.00",
                },
                {
                    "symbol": "BBBB",
                    "side": "Sell",
                    "hedge_qty_coeff": -100021,
                    "qty": 100000,
                    "price": "20.00",
                },
                {
                    "symbol": "CCCC",
                    "side": "Sell",
                    "hedge_qty_coeff": -100019,
                    "qty": 100000,
                    "price": "20.00",
                },
            ],
        },
    }
    ids = [f"{list_id}-{n}" for n in (1, 2, 3)]
    return encode_new_order_list(envelope, list_id, ids)


@pytest.fixture
def slow_gateway(ports, tmp_path, counterparty) -> Iterator[Gateway]:
    config = gateway_config(
        ports, tmp_path, presolve=PresolveConfig(time_limit_ms=SOLVE_MS), presolve_workers=2
    )
    gw = Gateway(config)
    gw.start()
    try:
        assert gw.venue_logged_on.wait(DEADLINE)
        assert gw.instruments_ready.wait(DEADLINE)
        yield gw
    finally:
        gw.stop()


def _decision(message: Any) -> bool:
    return msg_type(message) == "N" and message.getField(Tag.LIST_ORDER_STATUS) in ("2", "7")


def test_a_flood_of_hard_bundles_does_not_queue_another_clients_simple_bundle(
    ports, tmp_path, slow_gateway
):
    flooder = make_client(ports, tmp_path, "DESK1")
    other = make_client(ports, tmp_path, "DESK2")
    try:
        assert flooder.start(DEADLINE)
        assert other.start(DEADLINE)
        for index in range(FLOOD):
            flooder.send(_hard(f"H{index}"))
        # All of DESK1's lists are with the pool (two solving, the rest queued).
        pool = slow_gateway._pool
        assert pool is not None
        deadline = time.monotonic() + DEADLINE
        while pool.pending() < FLOOD and time.monotonic() < deadline:
            time.sleep(0.005)
        assert pool.pending() == FLOOD

        started = time.monotonic()
        other.send(encode_new_order_list(seed_hedge(), "S1", ["S1-1", "S1-2", "S1-3"]))
        answer = other.wait_for(_decision, DEADLINE + FLOOD * SOLVE_MS / 1000)
        waited = time.monotonic() - started
        assert answer is not None, "DESK2's list was never decided"
        assert answer.getField(Tag.LIST_ORDER_STATUS) == "2", answer.getField(444)
        # Served in turn: only the solves already running (two) and the one a freed worker
        # took in the same instant may finish first; a first-come-first-served pool would
        # decide all twelve of DESK1's lists first.
        flood_decided = sum(1 for message in _drain(flooder) if _decision(message))
        assert flood_decided <= 3, (flood_decided, waited)
        # The flood itself is decided too, every list with its reason.
        rest = FLOOD - flood_decided
        for _ in range(rest):
            reply = flooder.wait_for(_decision, DEADLINE)
            assert reply is not None
            assert reply.getField(Tag.LIST_ORDER_STATUS) == "7"
            assert "pre-solve" in reply.getField(444)
    finally:
        other.stop()
        flooder.stop()


def _drain(client: Any) -> list[Any]:
    """Every message the client has received so far, without waiting."""
    received = []
    while True:
        try:
            received.append(client.inbox.get_nowait())
        except queue.Empty:
            return received
