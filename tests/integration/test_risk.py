"""Reference data and pre-trade controls over real sessions (issue 12).

The gateway asks its counterparty for the instruments (SecurityListRequest) and
denies, before anything is forwarded, what the counterparty would refuse and
what the gateway's risk limits forbid; the kill switch cancels a desk's open
bundles and survives a restart; a desk's open bundles are cancelled when its
session drops. The counterparty here is the test acceptor of conftest.py (it
answers SecurityListRequest with a list each test sets); the self-trade test
runs against the real simulated venue.
"""

from __future__ import annotations

import copy
import queue
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from fixspec import Tag
from gateway.core.instruments import Instrument
from gateway.fix.engine import msg_type
from gateway.router.config import ClientLimits, RiskConfig
from gateway.router.service import Gateway
from gateway.tools.client import FixClient, submit
from gateway.venue.app import Venue
from tests.conftest import seed_hedge
from tests.integration.conftest import (
    DEADLINE,
    gateway_config,
    make_client,
    running,
    wait_until,
)
from tests.integration.test_venue import fills_for, pair, two_desks, venue_config

pytestmark = pytest.mark.integration

#: The seed hedge's symbols as a counterparty with reference markets lists them.
LISTED = [
    Instrument("AAAA", 100, Decimal("0.01"), Decimal("9.95"), Decimal("10.05")),
    Instrument("BBBB", 100, Decimal("0.01"), Decimal("19.95"), Decimal("20.05")),
    Instrument("CCCC", 50, Decimal("0.01"), Decimal("4.95"), Decimal("5.05")),
    Instrument("DDDD", 100, Decimal("0.01"), Decimal("4.95"), Decimal("5.05")),
]


def _no_bundle(counterparty: Any) -> None:
    with pytest.raises(queue.Empty):
        counterparty.received.get(timeout=0.3)


@pytest.fixture
def listed(counterparty: Any) -> Any:
    counterparty.instruments = list(LISTED)
    return counterparty


@pytest.fixture
def desk(ports: dict[str, int], tmp_path: Any, listed: Any) -> Iterator[FixClient]:
    risk = RiskConfig(restricted_symbols=["DDDD"], max_order_qty={"BBBB": 5000})
    limits = ClientLimits(max_open_qty={"AAAA": 3000})
    config = gateway_config(ports, tmp_path, clients={"limits": limits}, risk=risk)
    with running(Gateway(config)):
        client = make_client(ports, tmp_path)
        assert client.start(DEADLINE)
        try:
            yield client
        finally:
            client.stop()


def _hedge(**changes: Any) -> dict[str, Any]:
    """The seed hedge with position fields changed: ``{index: {field: value}}``."""
    payload = copy.deepcopy(seed_hedge())
    for index, fields in changes.get("positions", {}).items():
        payload["bidder_data"]["positions"][index].update(fields)
    return payload


@pytest.mark.parametrize(
    ("positions", "reason"),
    [
        ({2: {"symbol": "ZZZZ"}}, "leg 3 (buy ZZZZ): unknown symbol ZZZZ"),
        ({2: {"symbol": "DDDD"}}, "DDDD is on the gateway's restricted list"),
        ({0: {"price": "10.005"}}, "limit price 10.005 is not a multiple of the tick 0.01"),
        (
            {0: {"price": "11.50"}},
            "price collar: limit price 11.5 is 15.00% above the reference price 10 for AAAA",
        ),
        (
            {1: {"price": "17.00"}},
            "price collar: limit price 17 is 15.00% below the reference price 20 for BBBB",
        ),
        ({1: {"qty": 6000}}, "quantity 6000 above the limit 5000 for BBBB"),
    ],
)
def test_a_list_the_counterparty_or_the_risk_limits_refuse_is_denied_before_it_is_forwarded(
    desk: FixClient, listed: Any, positions: dict[int, dict[str, Any]], reason: str
) -> None:
    result = submit(desk, _hedge(positions=positions), list_id="R-1", timeout=DEADLINE)
    assert result.status == "rejected"
    assert reason in (result.reason or ""), result.reason
    _no_bundle(listed)


def test_a_lot_size_off_the_counterpartys_round_lot_is_denied(desk: FixClient, listed: Any) -> None:
    payload = _hedge()
    payload["lot_size"] = 50  # AAAA trades in 100s there
    result = submit(desk, payload, list_id="LOT-1", timeout=DEADLINE)
    assert result.status == "rejected"
    assert "lot size 50 is not a multiple of the counterparty's round lot 100 for AAAA" in (
        result.reason or ""
    ), result.reason
    _no_bundle(listed)


def test_the_clients_open_quantity_per_symbol_is_limited(desk: FixClient, listed: Any) -> None:
    first = submit(desk, _hedge(), list_id="OQ-1", wait_done=False, timeout=DEADLINE)
    assert first.status == "accepted", first.reason
    assert listed.next_bundle() is not None
    second = submit(desk, _hedge(), list_id="OQ-2", timeout=DEADLINE)
    assert second.status == "rejected"
    assert (
        "open quantity on AAAA would be 4000 (2000 open + 2000 in this bundle), at most 3000"
        in (second.reason or "")
    ), second.reason
    _no_bundle(listed)


def test_the_checks_follow_the_counterpartys_instrument_list(desk: FixClient, listed: Any) -> None:
    accepted = submit(desk, _hedge(), list_id="IL-1", wait_done=False, timeout=DEADLINE)
    assert accepted.status == "accepted", accepted.reason
    listed.next_bundle()
    request_id = listed.instrument_requests.get(timeout=DEADLINE)
    # The counterparty stops listing CCCC and sends its list again (as after a reload).
    listed.instruments = [i for i in LISTED if i.symbol != "CCCC"]
    listed.send_instruments(request_id)
    deadline_reason = "leg 3 (buy CCCC): unknown symbol CCCC"
    for attempt in range(50):  # the update races the next list: each try is a real decision
        result = submit(desk, _hedge(), list_id=f"IL-2-{attempt}", timeout=DEADLINE)
        if result.status == "rejected" and deadline_reason in (result.reason or ""):
            break
    else:
        pytest.fail("the gateway kept accepting CCCC after the counterparty delisted it")
    _no_bundle(listed)


def test_without_reference_data_from_the_counterparty_the_static_file_is_used(
    ports: dict[str, int], tmp_path: Any, counterparty: Any
) -> None:
    counterparty.instruments = None  # answers SecurityListRequest with a reject
    instruments = tmp_path / "instruments.yaml"
    instruments.write_text(
        "symbols:\n  AAAA: {lot_size: 100}\n  BBBB: {lot_size: 100}\n", encoding="utf-8"
    )
    config = gateway_config(ports, tmp_path, instruments={"file": instruments})
    with running(Gateway(config)):
        client = make_client(ports, tmp_path)
        assert client.start(DEADLINE)
        try:
            assert counterparty.instrument_requests.get(timeout=DEADLINE)
            result = submit(client, seed_hedge(), list_id="F-1", timeout=DEADLINE)
        finally:
            client.stop()
    assert result.status == "rejected"
    assert "unknown symbol CCCC" in (result.reason or "")
    assert "instruments from the file" in (result.reason or "")


def _cancel_status(client: FixClient, list_id: str) -> Any:
    return client.wait_for(
        lambda m: (
            msg_type(m) == "N"
            and m.getField(Tag.LIST_ID) == list_id
            and m.getField(Tag.LIST_ORDER_STATUS) == "6"
        ),
        DEADLINE,
    )


def test_the_kill_switch_cancels_open_bundles_and_blocks_new_lists_across_a_restart(
    ports: dict[str, int], tmp_path: Any, listed: Any
) -> None:
    config = gateway_config(ports, tmp_path)
    with running(Gateway(config)) as gw:
        client = make_client(ports, tmp_path)
        other = make_client(ports, tmp_path, "DESK2")
        assert client.start(DEADLINE)
        assert other.start(DEADLINE)
        try:
            accepted = submit(client, seed_hedge(), list_id="K-1", wait_done=False)
            assert accepted.status == "accepted", accepted.reason
            bundle_id = listed.next_bundle().bundle.bundle_id
            answer = gw.on_state_owner(lambda: gw.kill("DESK1"), DEADLINE)
            assert "kill switch thrown; 1 open bundle(s), cancel sent for 1" in answer
            assert listed.cancels.get(timeout=DEADLINE) == bundle_id
            assert _cancel_status(client, "K-1") is not None  # the desk receives the cancel
            refused = submit(client, seed_hedge(), list_id="K-2", timeout=DEADLINE)
            assert refused.status == "rejected"
            assert "kill switch: DESK1's lists are refused" in (refused.reason or "")
            fine = submit(other, seed_hedge(), list_id="K-3", wait_done=False)
            assert fine.status == "accepted", fine.reason  # another desk is not affected
        finally:
            client.stop()
            other.stop()
    with running(Gateway(config)) as gw:  # the same journal: the switch is still thrown
        client = make_client(ports, tmp_path)
        assert client.start(DEADLINE)
        try:
            refused = submit(client, seed_hedge(), list_id="K-4", timeout=DEADLINE)
            assert refused.status == "rejected"
            assert "kill switch" in (refused.reason or "")
            answer = gw.on_state_owner(lambda: gw.kill("DESK1", release=True), DEADLINE)
            assert "released" in answer
            again = submit(client, seed_hedge(), list_id="K-4", wait_done=False)
            assert again.status == "accepted", again.reason  # not remembered: resendable
        finally:
            client.stop()


def _open_bundle(client: FixClient, counterparty: Any, list_id: str) -> str:
    accepted = submit(client, seed_hedge(), list_id=list_id, wait_done=False, timeout=DEADLINE)
    assert accepted.status == "accepted", accepted.reason
    return counterparty.next_bundle().bundle.bundle_id


@pytest.mark.parametrize("mode", ["auto", "on"])
def test_open_bundles_are_cancelled_when_the_desk_disconnects(
    ports: dict[str, int], tmp_path: Any, listed: Any, mode: str
) -> None:
    limits = ClientLimits(cancel_on_disconnect=mode, cancel_on_disconnect_grace_secs=Decimal(0))
    with running(Gateway(gateway_config(ports, tmp_path, clients={"limits": limits}))) as gw:
        client = make_client(ports, tmp_path)  # logs on with ResetSeqNumFlag: auto is on
        assert client.start(DEADLINE)
        bundle_id = _open_bundle(client, listed, "D-1")
        client.stop()
        assert listed.cancels.get(timeout=DEADLINE) == bundle_id
        # The counterparty's cancelled status must reach the gateway while the desk is
        # away (stored for it, then reset away by the new logon): had the desk come back
        # first, it would get that status live, not restated.
        assert wait_until(
            lambda: gw.on_state_owner(lambda: gw.book.by_bundle[bundle_id].done, DEADLINE)
        ), "the counterparty's cancel was not relayed"
        back = make_client(ports, tmp_path)
        assert back.start(DEADLINE)
        try:  # the reset logon discarded the stored reports: the final state is restated
            final = _cancel_status(back, "D-1")
            assert final is not None
            assert final.getHeader().getField(Tag.POSS_RESEND) == "Y"
        finally:
            back.stop()


def test_a_desk_that_keeps_its_sequence_numbers_is_not_cancelled_by_default(
    ports: dict[str, int], tmp_path: Any, listed: Any
) -> None:
    limits = ClientLimits(cancel_on_disconnect_grace_secs=Decimal(0))
    with running(Gateway(gateway_config(ports, tmp_path, clients={"limits": limits}))):
        client = make_client(ports, tmp_path, reset_on_logon=False, store="file")
        assert client.start(DEADLINE)
        _open_bundle(client, listed, "N-1")
        client.stop()
        with pytest.raises(queue.Empty):
            listed.cancels.get(timeout=1.0)  # grace 0: a cancel would have been sent by now


def test_a_desk_back_within_the_grace_period_keeps_its_bundles(
    ports: dict[str, int], tmp_path: Any, listed: Any
) -> None:
    limits = ClientLimits(cancel_on_disconnect="on", cancel_on_disconnect_grace_secs=Decimal(3))
    with running(Gateway(gateway_config(ports, tmp_path, clients={"limits": limits}))):
        client = make_client(ports, tmp_path)
        assert client.start(DEADLINE)
        _open_bundle(client, listed, "G-1")
        client.stop()
        back = make_client(ports, tmp_path)
        assert back.start(DEADLINE)
        try:
            with pytest.raises(queue.Empty):
                listed.cancels.get(timeout=4.0)  # past the grace period: nothing cancelled
        finally:
            back.stop()


# --- against the real simulated venue ---------------------------------------------------


def _eventually(check: Any, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out: {what}")
        time.sleep(0.02)  # another thread updates it; deadline-bounded


def test_the_venue_sends_its_symbols_and_an_update_after_a_reload(
    ports: dict[str, int], tmp_path: Any
) -> None:
    config = venue_config(ports, tmp_path)
    venue = Venue(config)
    venue.start()
    try:
        with running(Gateway(gateway_config(ports, tmp_path))) as gw:
            listed = gw.controls.instruments
            assert listed is not None
            assert listed.source == "venue"
            assert listed.instruments["AAAA"] == Instrument(
                "AAAA", 100, Decimal("0.01"), Decimal("9.95"), Decimal("10.05")
            )
            assert set(listed.instruments) == {"AAAA", "BBBB"}
            desk = make_client(ports, tmp_path)
            assert desk.start(DEADLINE)
            try:
                resting = submit(desk, pair("long"), list_id="RL-1", wait_done=False)
                assert resting.status == "accepted", resting.reason
                _eventually(lambda: venue.stats.bundles_received == 1, "the venue has RL-1")
                refused = submit(desk, _hedge(), list_id="RL-2", timeout=DEADLINE)
                assert "unknown symbol CCCC" in (refused.reason or ""), refused.reason
                # The venue lists CCCC (lot 50) instead of BBBB and tells the gateway.
                symbols = {
                    "AAAA": config.symbols["AAAA"],
                    "CCCC": {"bid": "4.95", "offer": "5.05", "lot_size": 50},
                }
                venue.reload(config.model_validate({**config.model_dump(), "symbols": symbols}))
                _eventually(
                    lambda: "CCCC" in gw.controls.instruments.instruments,  # type: ignore[union-attr]
                    "the gateway took the venue's new list",
                )
                cancelled = desk.wait_for(
                    lambda m: (
                        msg_type(m) == "N"
                        and m.getField(Tag.LIST_ID) == "RL-1"
                        and m.getField(Tag.LIST_ORDER_STATUS) == "6"
                    ),
                    DEADLINE,
                )
                assert cancelled is not None, "the resting BBBB bundle was not closed"
                assert "no longer listed" in cancelled.getField(Tag.LIST_STATUS_TEXT)
                gone = submit(desk, pair("long"), list_id="RL-3", timeout=DEADLINE)
                assert "unknown symbol BBBB" in (gone.reason or ""), gone.reason
                assert venue.stats.bundles_received == 1  # RL-2 and RL-3: denied at the gateway
            finally:
                desk.stop()
    finally:
        venue.stop()


def test_one_desks_bundles_do_not_trade_with_each_other_while_two_desks_do(
    ports: dict[str, int], tmp_path: Any
) -> None:
    """Self-trade prevention: the gateway names the desk (PartyID, role 3) and the venue
    keeps one desk to one side of a symbol per auction; its synthetic liquidity is off,
    so the long and short pair can only trade with each other."""
    venue = Venue(venue_config(ports, tmp_path, self_trade_prevention=True))
    with two_desks(ports, tmp_path, venue) as (one, two):
        for list_id, direction in (("SELF-L", "long"), ("SELF-S", "short")):
            sent = submit(one, pair(direction), list_id=list_id, wait_done=False)
            assert sent.status == "accepted", sent.reason
        # Several auctions with both resting: no fill between one desk's bundles.
        start = venue.stats.auctions
        _eventually(lambda: venue.stats.auctions >= start + 5, "five auctions")
        assert one.wait_for(lambda m: msg_type(m) == "8", 0.05) is None
        # The same short bundle from another desk crosses the resting long one.
        sent = submit(two, pair("short"), list_id="OTHER-S", wait_done=False)
        assert sent.status == "accepted", sent.reason
        assert len(fills_for(two, "OTHER-S", 2)) >= 2
        assert len(fills_for(one, "SELF-L", 2)) >= 2
        assert (
            one.wait_for(lambda m: msg_type(m) == "8" and m.getField(Tag.LIST_ID) == "SELF-S", 0.2)
            is None
        )  # DESK1's short still rests: never crossed its own long
