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
from tests.integration.conftest import DEADLINE, gateway_config, make_client, running

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
    with running(Gateway(config)) as gw:
        yield gw


def _queue_hard(client: Any, gateway: Gateway, prefix: str, count: int) -> None:
    """Send ``count`` hard lists and wait until the pool holds every one of them."""
    for index in range(count):
        client.send(_hard(f"{prefix}{index}"))
    pool = gateway._pool
    assert pool is not None
    deadline = time.monotonic() + DEADLINE
    while pool.pending() < count and time.monotonic() < deadline:
        time.sleep(0.005)  # polling the pool with a deadline
    assert pool.pending() == count


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
        # All of DESK1's lists are with the pool (two solving, the rest queued).
        _queue_hard(flooder, slow_gateway, "H", FLOOD)

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


CAPPED = 8  # hard lists each desk sends at once


@pytest.fixture
def capped_gateway(ports, tmp_path, counterparty) -> Iterator[Gateway]:
    """DESK1 may use a tenth of a worker-second per second; DESK2 both workers all the
    time (with the default, one worker-second per second, DESK2 on both workers would
    overdraw its own share, and two desks over their shares take turns)."""
    config = gateway_config(
        ports,
        tmp_path,
        clients={
            "client_limits": {
                "DESK1": {"max_solver_seconds_per_second": "0.1"},
                "DESK2": {"max_solver_seconds_per_second": "100"},
            }
        },
        presolve=PresolveConfig(time_limit_ms=SOLVE_MS),
        presolve_workers=2,
    )
    with running(Gateway(config)) as gw:
        yield gw


def test_a_desk_over_its_solver_time_share_waits_behind_the_others(ports, tmp_path, capped_gateway):
    """Both desks send eight hard lists at once, DESK1 first. Its first solves (0.4 s
    or more each) overdraw its 0.1 s/s share by seconds, so while DESK2 has lists
    waiting both workers serve DESK2; round-robin alone would alternate. Once only
    DESK1 waits, its lists run: the cap never idles a worker, and every list is
    decided."""
    capped = make_client(ports, tmp_path, "DESK1")
    other = make_client(ports, tmp_path, "DESK2")
    try:
        assert capped.start(DEADLINE)
        assert other.start(DEADLINE)
        _queue_hard(capped, capped_gateway, "C", CAPPED)  # all before DESK2's arrive
        for index in range(CAPPED):
            other.send(_hard(f"O{index}"))
        for _ in range(CAPPED):
            assert other.wait_for(_decision, DEADLINE + CAPPED * SOLVE_MS / 1000) is not None
        capped_decided = sum(1 for message in _drain(capped) if _decision(message))
        # The solve running when DESK2 arrived, and at most one more a worker took in the
        # same instant; round-robin without the cap decides about half of DESK1's lists.
        assert capped_decided <= 2, capped_decided
        for _ in range(CAPPED - capped_decided):
            assert capped.wait_for(_decision, DEADLINE + CAPPED * SOLVE_MS / 1000) is not None
    finally:
        other.stop()
        capped.stop()
