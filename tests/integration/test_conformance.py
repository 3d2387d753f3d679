"""Conformance: a desk written from fixspec/README.md alone talks to the gateway.

The frames are simplefix messages typed from the spec's tables (tag numbers as
literals, never the project's codec), over raw TCP, to a real gateway in front
of the real simulated venue (both in this process, real QuickFIX sessions on
loopback). Every message the desk receives is held against the spec as data
(:mod:`tests.integration.spec_tables`): each field it carries must be in the
spec's table for that message, and each value of an enumerated field must be
one the table documents. Each test walks one message or reject path the spec
lists; issue 13's nine points are named where they are checked.

Not covered here: "gateway busy" (needs a queue of 10,000 lists) and the
pre-solve deadline (tests/integration/test_hostile.py drives both kinds of
overload); logon refusals by credentials and address (tests/integration/
test_frontdoor.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import simplefix

from gateway.fix.engine import free_port
from gateway.router.config import AppConfig, ClientLimits, ClientsConfig, VenueConfig
from gateway.router.service import Gateway
from gateway.venue.app import Venue
from gateway.venue.config import VenueAppConfig
from tests.integration.conftest import DEADLINE, Counterparty, running
from tests.integration.rawfix import RawFixClient
from tests.integration.spec_tables import HEADER_TRAILER, received_by_client

pytestmark = pytest.mark.integration

DESKS = [f"C{n:02d}" for n in range(1, 31)]
TARGETED = "TARGETED"  # logs on to the wrong TargetCompID
LIMITED = "LIMITED"  # max_legs 1
SLOW = "SLOW"  # one message per second
Match = Callable[[simplefix.FixMessage], bool]


def _now(offset_secs: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset_secs)).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]


def conformance_issues(message: simplefix.FixMessage) -> list[str]:
    """What in ``message`` the spec does not document (N, 8, j and 3 are specified)."""
    kind = (message.get(35) or b"").decode()
    if kind not in ("N", "8", "j", "3"):
        return []
    section = received_by_client(kind)
    issues = []
    for raw_tag, raw_value in message.pairs:
        tag, value = int(raw_tag), raw_value.decode()
        if tag in HEADER_TRAILER:
            continue
        if tag not in section.tags:
            issues.append(f"35={kind} carries {tag}={value}: not in the spec's table")
            continue
        documented = section.values(tag)
        if documented and value not in documented:
            issues.append(f"35={kind} carries {tag}={value}: the spec documents {documented}")
    return issues


class Desk(RawFixClient):
    """A raw desk that keeps every message it receives and checks each against the spec."""

    def __init__(self, port: int, sender: str) -> None:
        super().__init__(port, sender)
        self.inbox: list[simplefix.FixMessage] = []
        self.issues: list[str] = []
        self.eof = False

    def _read(self, timeout: float) -> None:
        """Parse what arrives within ``timeout`` into the inbox."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return
        if not data:
            self.eof = True
            return
        self.parser.append_buffer(data)
        message = self.parser.get_message()
        while message is not None:
            self.issues += conformance_issues(message)
            self.inbox.append(message)
            message = self.parser.get_message()

    def receive(self, predicate: Match = lambda m: True, timeout: float = DEADLINE) -> Any:
        """The first message received (now or earlier) matching ``predicate``; None."""
        deadline = time.monotonic() + timeout
        while True:
            for index, message in enumerate(self.inbox):
                if predicate(message):
                    return self.inbox.pop(index)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.eof:
                return None
            self._read(remaining)

    def sync(self) -> list[simplefix.FixMessage]:
        """Everything the gateway sent before it answers a TestRequest sent now."""
        test_id = f"sync-{self.seq}"
        self.send("1", [(112, test_id)])
        heartbeat = self.receive(lambda m: m.get(35) == b"0" and m.get(112) == test_id.encode())
        assert heartbeat is not None, "no Heartbeat answered the TestRequest"
        before, self.inbox = self.inbox, []
        return [m for m in before if m.get(35) not in (b"0", b"1")]


def field(message: simplefix.FixMessage, tag: int) -> str | None:
    value = message.get(tag)
    return None if value is None else value.decode()


def entries(message: simplefix.FixMessage, *tags: int) -> list[tuple[str | None, ...]]:
    """The order entries of a ListStatus: the values of ``tags`` per ClOrdID (11)."""
    out, current = [], None
    for raw_tag, raw_value in message.pairs:
        if raw_tag == b"11":
            if current is not None:
                out.append(current)
            current = {11: raw_value.decode()}
        elif current is not None:
            current.setdefault(int(raw_tag), raw_value.decode())
    if current is not None:
        out.append(current)
    return [tuple(entry.get(tag) for tag in tags) for entry in out]


def status_of(list_id: str, list_status_type: str | None = None, order_status: str | None = None):
    def match(m: simplefix.FixMessage) -> bool:
        return (
            m.get(35) == b"N"
            and m.get(66) == list_id.encode()
            and (list_status_type is None or m.get(429) == list_status_type.encode())
            and (order_status is None or m.get(431) == order_status.encode())
        )

    return match


def report_of(cl_ord_id: str, exec_type: str) -> Match:
    return lambda m: (
        m.get(35) == b"8" and m.get(11) == cl_ord_id.encode() and m.get(150) == exec_type.encode()
    )


# --- frames from the spec's NewOrderList table ---------------------------------------


@dataclass(frozen=True)
class Order:
    cl_ord_id: str
    symbol: str
    side: str  # 54: 1 Buy, 2 Sell
    qty: str
    price: str
    coeff: str  # hedge_qty_coeff, 959 = 6 (FLOAT)
    expire: str | None = None


def new_order_list(
    list_id: str,
    orders: list[Order],
    *,
    bidder: str = "single_factor_hedged",
    params: tuple[tuple[str, str, str], ...] = (("target_hedge_ratio", "6", "3"),),
) -> list[tuple[int, str]]:
    body: list[tuple[int, str]] = [(66, list_id), (394, "3"), (68, str(len(orders)))]
    body.append((20001, bidder))
    if params:
        body.append((957, str(len(params))))
        for name, kind, value in params:
            body += [(958, name), (959, kind), (960, value)]
    body.append((73, str(len(orders))))
    for seq, order in enumerate(orders, start=1):
        body += [(11, order.cl_ord_id), (67, str(seq)), (55, order.symbol), (54, order.side)]
        body += [(38, order.qty), (40, "2"), (44, order.price)]
        if order.expire:
            body.append((126, order.expire))
        body += [(957, "1"), (958, "hedge_qty_coeff"), (959, "6"), (960, order.coeff)]
    return body


def pair(
    list_id: str,
    *,
    aaaa: str = "200",
    buy_at: str = "10.05",
    sell_at: str = "19.95",
    expire: str | None = None,
    symbol: str = "BBBB",
) -> list[tuple[int, str]]:
    """Buy AAAA, sell BBBB, AAAA = 2 x BBBB (ratio 3, coefficients 1 and -1); at the
    default prices both cross the venue's touch and fill at once."""
    return new_order_list(
        list_id,
        [
            Order(f"{list_id}-1", "AAAA", "1", aaaa, buy_at, "1", expire),
            Order(f"{list_id}-2", symbol, "2", "100", sell_at, "-1", expire),
        ],
    )


# --- the world: venue, gateway, desks ------------------------------------------------


@dataclass
class World:
    port: int
    tmp: Path
    names: Iterator[str]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("conformance")
    ports = {"clients": free_port(), "venue": free_port()}
    venue = Venue(
        VenueAppConfig.model_validate(
            {
                "port": ports["venue"],
                "auction_interval_ms": 50,
                "store": "memory",
                "store_dir": tmp / "venue-store",
                "journal": tmp / "venue.sqlite",
                "symbols": {
                    "AAAA": {"bid": "9.95", "offer": "10.05"},
                    "BBBB": {"bid": "19.95", "offer": "20.05"},
                },
                "liquidity": {"touch_lots": 200, "flow_orders": 0},
            }
        )
    )
    config = AppConfig(
        clients=ClientsConfig(
            port=ports["clients"],
            allowed_comp_ids=[*DESKS, LIMITED, SLOW, TARGETED],
            client_limits={
                LIMITED: ClientLimits(max_legs=1),
                SLOW: ClientLimits(max_messages_per_second=1),
            },
        ),
        venue=VenueConfig(port=ports["venue"], heartbeat_secs=5, reconnect_secs=1),
        store="memory",
        store_dir=tmp / "gw-store",
        fix_log_dir=tmp / "gw-fixlog",
        journal=tmp / "gw-journal.sqlite",
    )
    venue.start()
    try:
        with running(Gateway(config)):
            yield World(ports["clients"], tmp, iter(DESKS))
    finally:
        venue.stop()


def _logged_on(port: int, comp_id: str) -> Desk:
    desk = Desk(port, comp_id)
    reply = desk.logon()
    assert reply.get(35) == b"A", reply
    return desk


@pytest.fixture
def desk(world: World) -> Iterator[Desk]:
    client = _logged_on(world.port, next(world.names))
    try:
        yield client
        assert client.issues == [], "messages the spec does not document"
    finally:
        client.close()


def decision(desk: Desk, list_id: str) -> simplefix.FixMessage:
    answer = desk.receive(lambda m: status_of(list_id)(m) and m.get(431) in (b"2", b"7"))
    assert answer is not None, f"{list_id} got no decision"
    return answer


def assert_decision_reject(answer: simplefix.FixMessage, reason: str, *cl_ord_ids: str) -> str:
    """The decision reject's shape (429=2, 431=7, no BundleID, every ClOrdID with 39=8)."""
    assert (field(answer, 429), field(answer, 431), field(answer, 1386)) == ("2", "7", reason)
    assert answer.get(20003) is None
    assert entries(answer, 11, 39) == [(c, "8") for c in cl_ord_ids]
    return field(answer, 444) or ""


# --- the tests -----------------------------------------------------------------------


def test_an_accepted_list_trades_and_finishes_as_the_spec_says(desk: Desk):
    """Accepted (1/2) → resting (1/1) → fills (150=F) → executing (4/3) → all done (5/6);
    every ExecutionReport field (38, 44, 60, ...) is in the spec's table (point 4)."""
    desk.send("E", pair("A1"))
    accepted = decision(desk, "A1")
    assert (field(accepted, 429), field(accepted, 431)) == ("1", "2")
    bundle_id = field(accepted, 20003)
    assert bundle_id
    assert entries(accepted, 11, 39, 151, 14) == [
        ("A1-1", "0", "200", "0"),
        ("A1-2", "0", "100", "0"),
    ]
    for leg, qty in (("A1-1", "200"), ("A1-2", "100")):
        trade = desk.receive(report_of(leg, "F"))
        assert trade is not None, f"no fill for {leg}"
        assert (field(trade, 66), field(trade, 20003), field(trade, 32)) == ("A1", bundle_id, qty)
        assert (field(trade, 14), field(trade, 151), field(trade, 39)) == (qty, "0", "2")
        assert field(trade, 38) == ("200" if leg == "A1-1" else "100")
        assert field(trade, 44) == ("10.05" if leg == "A1-1" else "19.95")
        assert field(trade, 60)
    assert desk.receive(status_of("A1", "1", "1")) is not None  # resting in the auction
    assert desk.receive(status_of("A1", "4", "3")) is not None  # executing
    done = desk.receive(status_of("A1", "5", "6"))
    assert done is not None
    assert entries(done, 11, 39, 14, 151) == [("A1-1", "2", "200", "0"), ("A1-2", "2", "100", "0")]


def test_a_resend_is_answered_with_the_current_state_and_a_plain_repeat_is_refused(desk: Desk):
    """Point 7: a PossResend (97) or PossDupFlag (43) resend of a decided list gets the
    decision again with each order's current quantities and 97=Y; a resend under a
    MsgSeqNum already received is dropped by the engine. Point 6: the same ListID
    without a flag gets a BusinessMessageReject, never a ListStatus."""
    desk.send("E", pair("R1"))
    first_seq = desk.seq - 1
    bundle_id = field(decision(desk, "R1"), 20003)
    assert desk.receive(status_of("R1", "5", "6")) is not None  # filled and done
    desk.sync()  # what came before (fills, statuses) is out of the way

    def resent(m: simplefix.FixMessage) -> bool:
        return status_of("R1")(m) and m.get(97) == b"Y"

    resend = desk.message("E", pair("R1"))
    resend.append_pair(97, "Y", header=True)
    desk.send_bytes(resend.encode())
    answer = desk.receive(resent)
    assert answer is not None
    assert (field(answer, 429), field(answer, 431), field(answer, 20003)) == ("1", "2", bundle_id)
    assert field(answer, 97) == "Y"
    assert entries(answer, 11, 14, 151, 39) == [
        ("R1-1", "200", "0", "2"),
        ("R1-2", "100", "0", "2"),
    ]

    retransmitted = desk.message("E", pair("R1"))  # 43=Y at the next MsgSeqNum
    retransmitted.append_pair(43, "Y", header=True)
    retransmitted.append_pair(122, _now(-1), header=True)
    desk.send_bytes(retransmitted.encode())
    again = desk.receive(resent)
    assert again is not None
    assert entries(again, 11, 14) == [("R1-1", "200"), ("R1-2", "100")]
    assert desk.sync() == []  # one answer per resend

    saved, desk.seq = desk.seq, first_seq  # 43=Y under a MsgSeqNum already received
    stale = desk.message("E", pair("R1"))
    stale.append_pair(43, "Y", header=True)
    stale.append_pair(122, _now(-1), header=True)
    desk.send_bytes(stale.encode(), count_seq=False)
    desk.seq = saved
    assert desk.sync() == [], "a retransmission already received was answered"

    desk.send("E", pair("R1"))  # no flag: a duplicate ListID
    refused = desk.receive(lambda m: m.get(35) in (b"j", b"N"))
    assert refused is not None
    assert field(refused, 35) == "j", "a duplicate ListID was answered with a ListStatus"
    assert (field(refused, 380), field(refused, 379), field(refused, 372)) == ("0", "R1", "E")
    assert field(refused, 45) == str(desk.seq - 1)
    assert "duplicate ListID 'R1'" in (field(refused, 58) or "")


def retransmission(
    desk: Desk, body: list[tuple[int, str]], orig_sending_time: str | None
) -> simplefix.FixMessage:
    """``body`` as a NewOrderList at the desk's next MsgSeqNum with PossDupFlag (43) = Y
    and OrigSendingTime (122) as given ("=52": the frame's own SendingTime; None: none)."""
    frame = desk.message("E", body)
    frame.append_pair(43, "Y", header=True)
    if orig_sending_time is not None:
        sending_time = field(frame, 52)
        frame.append_pair(
            122, sending_time if orig_sending_time == "=52" else orig_sending_time, header=True
        )
    return frame


def session_reject(desk: Desk) -> simplefix.FixMessage:
    """The next Reject, ListStatus or BusinessMessageReject (it must be the Reject)."""
    answer = desk.receive(lambda m: m.get(35) in (b"3", b"N", b"j"))
    assert answer is not None, "the retransmission got no answer"
    assert field(answer, 35) == "3", f"the retransmission was acted on: {answer}"
    return answer


def assert_never_received(desk: Desk, list_id: str) -> None:
    """Nothing of ``list_id`` was kept: a cancel of it is refused as unknown, and the same
    ListID and ClOrdIDs sent now, without a flag, are accepted as a new list (once)."""
    desk.send("K", [(60, _now()), (66, list_id)])
    unknown = desk.receive(lambda m: m.get(35) in (b"j", b"N"))
    assert unknown is not None
    assert (field(unknown, 35), field(unknown, 380), field(unknown, 379)) == ("j", "1", list_id)
    assert "unknown ListID" in (field(unknown, 58) or "")
    desk.send("E", pair(list_id))
    accepted = decision(desk, list_id)
    assert (field(accepted, 429), field(accepted, 431)) == ("1", "2")
    assert entries(accepted, 11) == [(f"{list_id}-1",), (f"{list_id}-2",)]
    decided_again = [m for m in desk.sync() if status_of(list_id)(m) and m.get(431) in (b"2", b"7")]
    assert decided_again == [], "a second decision for the ListID"


@pytest.mark.parametrize("gap", [False, True], ids=["at the expected MsgSeqNum", "filling a gap"])
def test_a_retransmission_without_orig_sending_time_gets_a_session_reject_and_is_not_acted_on(
    desk: Desk, gap: bool
):
    """PossDupFlag (43) = Y needs OrigSendingTime (122): QuickFIX 1.16 checks it only
    under a MsgSeqNum lower than expected. Here the message is at the number the
    gateway expects (or fills the gap it asked for): a Reject 373=1, 371=122, the
    list never acted on, its MsgSeqNum consumed (no ResendRequest for it), the
    session up."""
    list_id = f"P{int(gap)}"
    seq = desk.seq
    if gap:  # the next number first: the gateway asks for the one before it
        desk.seq = seq + 1
        desk.send("1", [(112, "after-the-gap")])
        asked = desk.receive(lambda m: m.get(35) == b"2")
        assert asked is not None
        assert field(asked, 7) == str(seq)
        desk.seq = seq
    desk.send_bytes(retransmission(desk, pair(list_id), None).encode())
    reject = session_reject(desk)
    assert (field(reject, 45), field(reject, 371), field(reject, 372)) == (str(seq), "122", "E")
    assert field(reject, 373) == "1"
    assert "OrigSendingTime(122)" in (field(reject, 58) or "")
    if gap:  # the message queued behind it is processed next
        desk.seq = seq + 2
        assert desk.receive(lambda m: m.get(35) == b"0" and m.get(112) == b"after-the-gap")
    assert [m for m in desk.sync() if m.get(35) in (b"N", b"2", b"5")] == []
    assert_never_received(desk, list_id)


def test_a_retransmission_first_sent_after_its_sending_time_gets_a_reject_and_a_logout(
    world: World,
):
    """OrigSendingTime (122) later than SendingTime (52): a Reject 373=10, 371=122, then
    a Logout, as QuickFIX answers the same message under a lower MsgSeqNum. The list
    is not acted on and its MsgSeqNum is consumed: the desk logs on again without a
    reset and finds no gap and no trace of the list."""
    desk = _logged_on(world.port, next(world.names))
    again: Desk | None = None
    try:
        seq = desk.seq
        desk.send_bytes(retransmission(desk, pair("P2"), _now(5)).encode())
        reject = session_reject(desk)
        assert (field(reject, 45), field(reject, 371), field(reject, 372)) == (str(seq), "122", "E")
        assert field(reject, 373) == "10"
        assert "is later than SendingTime(52)" in (field(reject, 58) or "")
        logout = desk.receive(lambda m: m.get(35) in (b"5", b"N"))
        assert logout is not None
        assert field(logout, 35) == "5"
        assert "OrigSendingTime(122)" in (field(logout, 58) or "")
        desk.send("5", [])
        assert desk.closed(DEADLINE), "the session did not end"
        assert desk.issues == []

        again = Desk(world.port, desk.sender)
        again.seq = desk.seq
        assert again.logon(reset=False).get(35) == b"A"
        assert [m for m in again.sync() if m.get(35) in (b"N", b"2", b"3")] == []
        assert_never_received(again, "P2")
        assert again.issues == []
    finally:
        desk.close()
        if again is not None:
            again.close()


def test_a_retransmission_with_orig_sending_time_no_later_than_sending_time_is_processed(
    desk: Desk,
):
    """The check refuses only what the spec forbids: OrigSendingTime (122) equal to
    SendingTime (52) is "no later than" it, and the list is decided as a new one."""
    desk.send_bytes(retransmission(desk, pair("P3"), "=52").encode())
    accepted = decision(desk, "P3")
    assert (field(accepted, 429), field(accepted, 431)) == ("1", "2")
    assert [m for m in desk.inbox if m.get(35) in (b"3", b"5")] == []


def test_a_bundle_whose_rest_cannot_fill_is_closed_done_for_day(desk: Desk):
    """Point 4: ExecType 3 / OrdStatus 3 when the venue ends a bundle with open quantity."""
    desk.send("E", pair("D1", aaaa="300"))  # fills 200 + 100; 100 of AAAA cannot trade alone
    assert field(decision(desk, "D1"), 431) == "2"
    closed = desk.receive(report_of("D1-1", "3"))
    assert closed is not None
    assert (field(closed, 39), field(closed, 14), field(closed, 151)) == ("3", "200", "0")
    done = desk.receive(status_of("D1", "5", "6"))
    assert done is not None
    assert entries(done, 11, 39, 14, 84) == [("D1-1", "3", "200", "100"), ("D1-2", "2", "100", "0")]


def test_a_cancel_closes_the_list_and_a_cancel_of_a_finished_or_unknown_list_is_refused(
    desk: Desk,
):
    desk.send("E", pair("K1", buy_at="9.00", sell_at="21.00"))  # never crosses
    assert field(decision(desk, "K1"), 431) == "2"
    assert desk.receive(status_of("K1", "1", "1")) is not None
    desk.send("K", [(60, _now()), (66, "K1")])
    for leg in ("K1-1", "K1-2"):
        cancelled = desk.receive(report_of(leg, "4"))
        assert cancelled is not None
        assert (field(cancelled, 39), field(cancelled, 151)) == ("4", "0")
    done = desk.receive(status_of("K1", "5", "6"))
    assert done is not None
    assert entries(done, 11, 39, 84) == [("K1-1", "4", "200"), ("K1-2", "4", "100")]
    for list_id, why in (("K1", "already done"), ("NOPE", "unknown ListID")):
        desk.send("K", [(60, _now()), (66, list_id)])
        refused = desk.receive(lambda m: m.get(35) == b"j")
        assert refused is not None
        assert (field(refused, 380), field(refused, 379), field(refused, 372)) == (
            "1",
            list_id,
            "K",
        )
        assert field(refused, 45) == str(desk.seq - 1)
        assert why in (field(refused, 58) or "")


def test_orders_expire_at_their_expire_time(desk: Desk):
    desk.send("E", pair("X1", buy_at="9.00", sell_at="21.00", expire=_now(1.0)))
    assert field(decision(desk, "X1"), 431) == "2"
    expired = desk.receive(report_of("X1-1", "C"))
    assert expired is not None
    assert field(expired, 39) == "C"
    done = desk.receive(status_of("X1", "5", "6"))
    assert done is not None
    assert [e[0] for e in entries(done, 39)] == ["C", "C"]


def test_an_expire_time_already_past_is_a_decision_reject_naming_the_order(desk: Desk):
    desk.send("E", pair("X2", expire=_now(-1.0)))
    refused = decision(desk, "X2")
    assert (field(refused, 429), field(refused, 431), field(refused, 1386)) == ("2", "7", "99")
    assert "NoOrders[1].ExpireTime(126): " in (field(refused, 444) or "")
    assert "is not in the future" in (field(refused, 444) or "")


def test_a_counterparty_reject_after_the_acceptance_is_not_shaped_like_the_decision(desk: Desk):
    """Point 5: the venue refuses what the gateway cannot know from its SecurityList
    (here an order of more than the 100,000 lots its auction model holds) after the
    gateway accepted: 429=5 (all done) with 431=7 and the BundleID, after the decision
    429=1/431=2."""
    desk.send("E", pair("V1", aaaa="10000100"))
    accepted = decision(desk, "V1")
    assert (field(accepted, 429), field(accepted, 431)) == ("1", "2")
    later = desk.receive(status_of("V1", order_status="7"))
    assert later is not None
    assert (field(later, 429), field(later, 1386)) == ("5", "99")
    assert field(later, 20003) == field(accepted, 20003)
    assert "is 100001 lots of 100; at most 100000" in (field(later, 444) or "")


def _orders(list_id: str, count: int) -> list[Order]:
    return [Order(f"{list_id}-{n}", f"S{n:03d}", "1", "100", "10", "1") for n in range(count)]


def first_order_off(
    list_id: str, qty: str = "100", price: str = "10", coeff: str = "1", **kw: Any
) -> list[tuple[int, str]]:
    """AAAA bought / BBBB sold, the first order's quantity, price or coefficient as
    given (``kw``: the list's parameters)."""
    return new_order_list(
        list_id,
        [
            Order(f"{list_id}-1", "AAAA", "1", qty, price, coeff),
            Order(f"{list_id}-2", "BBBB", "2", "100", "20", "-1"),
        ],
        **kw,
    )


@pytest.mark.parametrize(
    ("name", "body", "reason", "text"),
    [
        (
            "unknown bidder type",
            lambda: new_order_list(
                "U1", [Order("U1-1", "AAAA", "1", "100", "10", "1")], bidder="martingale"
            ),
            "11",
            "martingale",
        ),
        (
            "infeasible constraints",
            lambda: new_order_list(
                "U2",
                [
                    Order("U2-1", "AAAA", "1", "100", "10", "4"),
                    Order("U2-2", "BBBB", "2", "100", "20", "-12"),
                ],
                params=(("target_hedge_ratio", "6", "2"),),
            ),
            "99",
            "pre-solve infeasible",
        ),
        (
            "point 2: an exponent in Price",
            lambda: first_order_off("U3", price="1E1"),
            "99",
            "NoOrders[1].Price(44): '1E1' is not a FIX decimal",
        ),
        (
            "point 2: an exponent in a list-level parameter",
            lambda: first_order_off("U4", params=(("target_hedge_ratio", "6", "3E0"),)),
            "99",
            "StrategyParameter[target_hedge_ratio]: '3E0' is not a FIX decimal",
        ),
        (
            "point 2: an exponent in an order's parameter",
            lambda: first_order_off("U5", coeff="1e0"),
            "99",
            "NoOrders[1].StrategyParameter[hedge_qty_coeff]: '1e0'",
        ),
        (
            "point 8: a value that is not its declared type",
            lambda: first_order_off("U6", params=(("target_hedge_ratio", "1", "0.85"),)),
            "99",
            "'0.85' is not an integer (StrategyParameterType 1)",
        ),
        (
            "a payload field the strategy refuses is named by the FIX field it came in",
            lambda: first_order_off("U8", qty="0"),
            "99",
            "NoOrders[1].OrderQty(38) (bidder_data.positions[0].qty): ",
        ),
        (
            "point 3: 101 orders",
            lambda: new_order_list("U7", _orders("U7", 101)),
            "11",
            "101 orders in one list; this gateway accepts at most 100",
        ),
    ],
)
def test_a_list_the_gateway_cannot_accept_gets_the_decision_reject(desk, name, body, reason, text):
    frame = body()
    desk.send("E", frame)
    list_id = frame[0][1]
    ids = [value for tag, value in frame if tag == 11]
    answer = decision(desk, list_id)
    assert text in assert_decision_reject(answer, reason, *ids), name


def test_a_reused_cl_ord_id_is_a_duplicate_order(desk: Desk):
    desk.send("E", pair("C1"))
    assert field(decision(desk, "C1"), 431) == "2"
    frame = new_order_list(
        "C2",
        [
            Order("C1-1", "AAAA", "1", "200", "10.05", "1"),
            Order("C2-2", "BBBB", "2", "100", "19.95", "-1"),
        ],
    )
    desk.send("E", frame)
    text = assert_decision_reject(decision(desk, "C2"), "6", "C1-1", "C2-2")
    assert "duplicate ClOrdID 'C1-1'" in text


@pytest.mark.parametrize(
    ("name", "edit", "expect"),
    [
        ("required tag missing", lambda b: [(t, v) for t, v in b if t != 394], ("1", "394")),
        ("wrong data format", lambda b: [(t, "x" if t == 68 else v) for t, v in b], ("6", "68")),
        ("group count", lambda b: [(t, "3" if t == 73 else v) for t, v in b], ("16", None)),
    ],
)
def test_a_message_breaking_the_dictionary_gets_a_session_reject(desk, name, edit, expect):
    desk.send("E", edit(pair(f"S{len(name)}")))
    reject = desk.receive(lambda m: m.get(35) in (b"3", b"N", b"j"))
    assert reject is not None
    assert field(reject, 35) == "3", name
    assert (field(reject, 373), field(reject, 45)) == (expect[0], str(desk.seq - 1))
    if expect[1] is not None:
        assert field(reject, 371) == expect[1]
    assert field(reject, 58)


def test_an_unsupported_message_type_and_an_oversized_id_get_business_rejects(desk: Desk):
    desk.send(
        "D", [(11, "O1"), (55, "AAAA"), (54, "1"), (60, _now()), (38, "100"), (40, "2"), (44, "10")]
    )
    unsupported = desk.receive(lambda m: m.get(35) == b"j")
    assert unsupported is not None
    assert (field(unsupported, 380), field(unsupported, 372)) == ("3", "D")
    desk.send("E", pair("L" * 65))
    oversized = desk.receive(lambda m: m.get(35) in (b"j", b"N"))
    assert oversized is not None
    assert (field(oversized, 35), field(oversized, 380)) == ("j", "0")
    assert field(oversized, 45) == str(desk.seq - 1)
    assert field(oversized, 58) == "refused: ListID(66) is 65 characters long; at most 64"


def test_a_garbled_frame_is_dropped_and_its_sequence_number_not_consumed(desk: Desk):
    """Point 1: no Reject, no ResendRequest; the same MsgSeqNum is used next."""
    frame = desk.message("E", pair("G1")).encode()
    garbled = frame[: frame.rindex(b"10=")] + b"10=000\x01"
    assert garbled != frame
    desk.send_bytes(garbled, count_seq=False)
    assert desk.sync() == [], "a garbled frame was answered"  # the TestRequest used its seq
    desk.send("E", pair("G1"))  # the sequence goes on without a gap
    assert field(decision(desk, "G1"), 431) == "2"
    assert not [m for m in desk.inbox if m.get(35) in (b"2", b"3")]


def test_client_limits_and_the_message_rate(world: World):
    limited = _logged_on(world.port, LIMITED)
    slow = _logged_on(world.port, SLOW)
    try:
        limited.send("E", pair("M1"))
        text = assert_decision_reject(decision(limited, "M1"), "99", "M1-1", "M1-2")
        assert text.startswith("limit: 2 legs, at most 1")
        for list_id in ("Q1", "Q2"):
            slow.send("E", pair(list_id))
        slow.send("K", [(60, _now()), (66, "Q1")])
        assert field(decision(slow, "Q1"), 431) == "2"
        text = assert_decision_reject(decision(slow, "Q2"), "99", "Q2-1", "Q2-2")
        assert text.startswith("rate limit: at most 1 messages per second")
        refused = slow.receive(lambda m: m.get(35) == b"j")
        assert refused is not None
        assert (field(refused, 380), field(refused, 372)) == ("4", "K")
        assert limited.issues == slow.issues == []
    finally:
        limited.close()
        slow.close()


@pytest.mark.parametrize(
    ("target", "text"),
    [
        ("BIDGW", b"logon refused: SenderCompID MALLORY is not allowed"),
        ("OTHER", b"logon refused: TargetCompID must be BIDGW"),
    ],
)
def test_a_logon_the_gateway_refuses_gets_a_logout_saying_why(world: World, target, text):
    stranger = Desk(world.port, "MALLORY" if target == "BIDGW" else TARGETED)
    stranger.target = target
    try:
        reply = stranger.logon()
        assert (reply.get(35), reply.get(58)) == (b"5", text)
    finally:
        stranger.close()


# --- a counterparty that refuses, or is down ----------------------------------------


@pytest.fixture
def refusing(tmp_path) -> Iterator[tuple[Desk, Counterparty]]:
    ports = {"clients": free_port(), "venue": free_port()}
    # Own CompIDs: the module's gateway and venue hold BIDGW-VENUE and BIDGW-C01...
    party = Counterparty(ports["venue"], tmp_path, gateway_comp_id="BIDGW2")
    party.connector.start()
    config = AppConfig(
        clients=ClientsConfig(port=ports["clients"], allowed_comp_ids=["DESK1"]),
        venue=VenueConfig(
            port=ports["venue"], sender_comp_id="BIDGW2", heartbeat_secs=5, reconnect_secs=1
        ),
        store="memory",
        store_dir=tmp_path / "gw-store",
        fix_log_dir=tmp_path / "gw-fixlog",
        journal=tmp_path / "gw-journal.sqlite",
    )
    try:
        with running(Gateway(config)):
            desk = _logged_on(ports["clients"], "DESK1")
            try:
                yield desk, party
                assert desk.issues == []
            finally:
                desk.close()
    finally:
        party.connector.stop()


def test_a_counterparty_business_reject_arrives_as_a_later_reject(refusing):
    """Point 5, the other way a counterparty says no: its BusinessMessageReject of the
    forwarded bundle reaches the desk as 429=5/431=7 with the BundleID."""
    desk, party = refusing
    party.refuse_with = "not today"
    desk.send("E", pair("B1"))
    accepted = decision(desk, "B1")
    assert (field(accepted, 429), field(accepted, 431)) == ("1", "2")
    later = desk.receive(status_of("B1", order_status="7"))
    assert later is not None
    assert (field(later, 429), field(later, 1386)) == ("5", "99")
    assert field(later, 20003) == field(accepted, 20003)
    assert "counterparty rejected: not today" in (field(later, 444) or "")
    assert [e[0] for e in entries(later, 39)] == ["8", "8"]


def test_with_the_counterparty_down_a_list_is_refused_exchange_closed(refusing):
    desk, party = refusing
    desk.send("E", pair("Z0"))
    assert field(decision(desk, "Z0"), 431) == "2"
    party.connector.stop()
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:  # until the gateway has noticed; deadline-bounded
        desk.send("E", pair(f"Z{desk.seq}"))
        answer = decision(desk, f"Z{desk.seq - 1}")
        if field(answer, 431) == "7":
            break
    text = assert_decision_reject(answer, "2", f"Z{desk.seq - 1}-1", f"Z{desk.seq - 1}-2")
    assert "counterparty session is not logged on" in text
    desk.send("K", [(60, _now()), (66, "Z0")])  # open, but cannot be forwarded
    refused = desk.receive(lambda m: m.get(35) == b"j")
    assert refused is not None
    assert (field(refused, 380), field(refused, 379), field(refused, 372)) == ("4", "Z0", "K")
