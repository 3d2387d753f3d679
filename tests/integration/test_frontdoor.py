"""The front door (issue 10, findings 4-6) over real sessions on loopback.

A Logon that fails its checks never reaches QuickFIX (so it cannot reset the
session's sequence numbers), connections that do not log on are bounded in
number and time, garbage from one socket does not hold up another session, a
client that stops reading is cut off with its messages kept for the resend,
and a gateway out of file descriptors keeps serving its sessions.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import resource
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import quickfix as fix

from fixspec import Tag
from gateway.core.reports import ListOrderStatus
from gateway.fix.engine import msg_type
from gateway.router.config import ClientLimits
from gateway.router.service import Gateway
from gateway.tools.client import parse_report, submit
from tests.conftest import ROOT, seed_hedge
from tests.integration.conftest import (
    DEADLINE,
    gateway_config,
    make_client,
    running,
    wait_until,
)
from tests.integration.rawfix import RawFixClient, wait_closed

pytestmark = pytest.mark.integration

PASSWORD = "s3cret"
DIGEST = hashlib.sha256(PASSWORD.encode()).hexdigest()
CREDENTIALS = {
    "DESK1": {"username": "desk1", "password_sha256": DIGEST},
    "DESK2": {"username": "desk2", "password_sha256": DIGEST},
}


def running_gateway(ports, tmp_path: Path, **clients: Any) -> Any:
    """A gateway on file stores with its journal; ``clients`` adds ClientsConfig keys."""
    return running(Gateway(gateway_config(ports, tmp_path, clients=clients)))


def gateway_session(comp_id: str) -> Any:
    """The gateway's QuickFIX session with ``comp_id`` (in this process)."""
    return fix.Session.lookupSession(fix.SessionID("FIX.4.4", "BIDGW", comp_id))


def idle_socket(port: int) -> socket.socket:
    """A connection that never sends anything."""
    return socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)


# finding 4: a sequence reset before authentication -------------------------------------------
PERSISTENT = {"username": "desk1", "password": PASSWORD, "reset_on_logon": False, "store": "file"}


def _reports_while_away(ports, tmp_path, counterparty) -> Any:
    """DESK1 (persistent numbers, no reset at logon) trades, logs out, and two fills are
    reported while it is away: the gateway's session for DESK1."""
    desk = make_client(ports, tmp_path, **PERSISTENT)
    assert desk.start(DEADLINE)
    result = submit(desk, seed_hedge(), list_id="AWAY-1", wait_done=False, timeout=DEADLINE)
    assert result.status == "accepted", result.reason
    bundle_id = counterparty.next_bundle().bundle.bundle_id
    counterparty.fill(bundle_id, 0, 1000, "10.00")
    first = desk.wait_for(lambda m: msg_type(m) == "8", DEADLINE)
    assert parse_report(first)["cl_ord_id"] == "AWAY-1-1"
    desk.stop()
    session = gateway_session("DESK1")
    assert wait_until(lambda: not session.isLoggedOn())
    sent_before = session.getExpectedSenderNum()
    counterparty.fill(bundle_id, 1, 500, "20.00")
    counterparty.fill(bundle_id, 2, 400, "5.00")
    assert wait_until(lambda: session.getExpectedSenderNum() == sent_before + 2), (
        "the reports for the absent desk were not stored"
    )
    return session


def _desk_recovers_everything(ports, tmp_path, session) -> None:
    """DESK1 logs on again without any reset, gets both reports sent while it was away,
    is in step with the gateway's numbers, and trades."""
    again = make_client(ports, tmp_path, **PERSISTENT)
    try:
        assert again.start(DEADLINE), "the desk could not log on"
        reports = [again.wait_for(lambda m: msg_type(m) == "8", DEADLINE) for _ in range(2)]
        assert all(r is not None for r in reports), "reports sent while away were lost"
        assert sorted(parse_report(r)["cl_ord_id"] for r in reports) == ["AWAY-1-2", "AWAY-1-3"]
        assert again.session_rejects.empty()
        assert again.logged_on.is_set()
        later = submit(again, seed_hedge(), list_id="AWAY-2", wait_done=False)
        assert later.status == "accepted", later.reason
        # The counterparty's acknowledgement is relayed too: had the desk logged off
        # before it, it would wait for the desk, and the next refusal must not count.
        resting = again.wait_for(
            lambda m: (
                msg_type(m) == "N"
                and m.getField(Tag.LIST_ID) == "AWAY-2"
                and int(m.getField(Tag.LIST_ORDER_STATUS)) == ListOrderStatus.IN_BIDDING_PROCESS
            ),
            DEADLINE,
        )
        assert resting is not None, "the counterparty's acknowledgement was not relayed"
        # In step (once both sides' resends are through: a desk whose own numbers ran
        # ahead during refused logons is asked for a resend too).
        desk_session = fix.Session.lookupSession(again.session_id)
        assert wait_until(
            lambda: desk_session.getExpectedTargetNum() == session.getExpectedSenderNum()
        ), (desk_session.getExpectedTargetNum(), session.getExpectedSenderNum())
    finally:
        again.stop()


def test_a_refused_logon_with_reset_flag_leaves_the_desks_session_alone(
    ports, tmp_path, counterparty
):
    """While DESK1 is away with reports waiting for it, an impostor logs on as DESK1 with
    ResetSeqNumFlag and a wrong password: the connection is closed (no Logout: DESK1
    would count it and skip a report), nothing is reset or used up, and DESK1 logs on
    again and gets every report sent while it was away."""
    with running_gateway(ports, tmp_path, credentials=CREDENTIALS) as gw:
        session = _reports_while_away(ports, tmp_path, counterparty)
        numbers = (session.getExpectedSenderNum(), session.getExpectedTargetNum())
        impostor = RawFixClient(ports["clients"], "DESK1")
        try:
            impostor.send("A", [(98, "0"), (108, "30"), (141, "Y"), (553, "desk1"), (554, "x")])
            assert impostor.closed(DEADLINE)
            assert impostor.receive(timeout=0) is None, "a Logout the desk would count"
        finally:
            impostor.close()
        assert gw.front_door.tally["logon_refused"] == 1
        assert (session.getExpectedSenderNum(), session.getExpectedTargetNum()) == numbers
        _desk_recovers_everything(ports, tmp_path, session)


def test_the_internal_port_takes_no_connection_from_another_address(ports, tmp_path, counterparty):
    """QuickFIX binds the acceptor behind the front door on every interface and would
    act on a ResetSeqNumFlag before refusing a stranger; the gateway's socket filter
    drops every packet to it not from 127.0.0.1. An impostor on another address
    (127.0.0.2 here: any address but the front door's) cannot even connect, so DESK1's
    numbers stay as they were and it gets every report sent while it was away."""
    with running_gateway(ports, tmp_path, credentials=CREDENTIALS) as gw:
        session = _reports_while_away(ports, tmp_path, counterparty)
        numbers = (session.getExpectedSenderNum(), session.getExpectedTargetNum())
        with pytest.raises(TimeoutError):  # the SYN is dropped: no answer, no refusal
            socket.create_connection(
                ("127.0.0.1", gw.internal_port), timeout=2, source_address=("127.0.0.2", 0)
            ).close()
        # The front door's own hop (from 127.0.0.1) still reaches it: DESK1 logs on.
        assert (session.getExpectedSenderNum(), session.getExpectedTargetNum()) == numbers
        _desk_recovers_everything(ports, tmp_path, session)


def test_a_desk_that_mistypes_its_password_logs_on_next_time_without_a_reset(
    ports, tmp_path, counterparty
):
    """A QuickFIX desk mistypes its password twice. With reports waiting for it, the
    connection just closes and the desk's numbers stay as they were; with nothing
    waiting, it gets a Logout with the reason, numbered as it expects. Either way the
    right password then logs it on with no sequence reset on either side, in step, with
    every report."""
    with running_gateway(ports, tmp_path, credentials=CREDENTIALS) as gw:
        session = _reports_while_away(ports, tmp_path, counterparty)
        typo = {**PERSISTENT, "password": "typo"}
        sender_before = session.getExpectedSenderNum()
        wrong = make_client(ports, tmp_path, **typo)
        try:
            wrong.start(0)  # the desk's session exists from here until stop()
            desk = fix.Session.lookupSession(wrong.session_id)
            # Two refusals: the desk has finished with the first before it retries.
            assert wait_until(lambda: gw.front_door.tally["logon_refused"] >= 2)
            # No Logout counted: the desk still expects the first report it missed.
            assert desk.getExpectedTargetNum() == sender_before - 2
            assert not wrong.logged_on.is_set(), "a wrong password logged on"
        finally:
            wrong.stop()
        assert session.getExpectedSenderNum() == sender_before
        _desk_recovers_everything(ports, tmp_path, session)

        # Logged off with everything: the refusal is a Logout the desk counts, in step.
        refused = gw.front_door.tally["logon_refused"]
        wrong = make_client(ports, tmp_path, **typo)
        try:
            wrong.start(0)
            desk = fix.Session.lookupSession(wrong.session_id)
            assert wait_until(lambda: gw.front_door.tally["logon_refused"] >= refused + 2)
            # (The desk may still be reading the last Logout.)
            assert wait_until(
                lambda: desk.getExpectedTargetNum() == session.getExpectedSenderNum()
            ), (desk.getExpectedTargetNum(), session.getExpectedSenderNum())
            assert not wrong.logged_on.is_set(), "a wrong password logged on"
        finally:
            wrong.stop()
        assert "wrong Password" in _last_logout_text(tmp_path)
        again = make_client(ports, tmp_path, **PERSISTENT)
        try:
            assert again.start(DEADLINE), "the desk could not log on after its typo"
            assert again.session_rejects.empty()
            later = submit(again, seed_hedge(), list_id="TYPO-2", wait_done=False)
            assert later.status == "accepted", later.reason
        finally:
            again.stop()


def _last_logout_text(tmp_path: Path) -> str:
    """Text (58) of the last Logout DESK1's engine logged as received."""
    log_file = tmp_path / "DESK1-log" / "FIX.4.4-DESK1-BIDGW.messages.current.log"
    logouts = [
        line
        for line in log_file.read_text().splitlines()
        if "\x0135=5\x01" in line and "49=BIDGW" in line
    ]
    assert logouts, "no Logout from the gateway in the desk's log"
    fields = dict(f.split("=", 1) for f in logouts[-1].split("\x01") if "=" in f)
    return fields.get("58", "")


def test_the_client_port_listens_on_the_configured_address(ports, tmp_path, counterparty):
    """clients.host binds the front door to one address (every interface by default)."""
    with running_gateway(ports, tmp_path, host="127.0.0.1") as gw:
        assert gw.front_door.address == "127.0.0.1"
        desk = RawFixClient(ports["clients"], "DESK1")
        try:
            assert desk.logon().get(35) == b"A"
        finally:
            desk.close()
    with running_gateway(ports, tmp_path) as gw:
        assert gw.front_door.address == "0.0.0.0"


def test_a_non_ascii_username_is_refused_not_let_through(ports, tmp_path, counterparty):
    """The credential check compares bytes: a Username it cannot compare as text is a
    refusal, at the front door and (defence in depth) in the session behind it."""
    with running_gateway(ports, tmp_path, credentials=CREDENTIALS) as gw:
        for port in (ports["clients"], gw.internal_port):
            for username in ("d\u00e9sk1", b"desk1\xff"):
                raw = RawFixClient(port, "DESK1")
                try:
                    reply = raw.logon([(553, username), (554, "nope")])
                    assert reply.get(35) == b"5", (port, username)
                    assert b"logon refused" in (reply.get(58) or b"")
                finally:
                    raw.close()
        assert not gw.client_logons["DESK1"].is_set()


def test_a_peer_outside_the_allowed_addresses_is_closed_at_once(ports, tmp_path, counterparty):
    with running_gateway(ports, tmp_path, allowed_remote_addresses=["192.0.2.1"]) as gw:
        stranger = idle_socket(ports["clients"])
        try:
            assert wait_closed(stranger, DEADLINE)
        finally:
            stranger.close()
        assert gw.front_door.tally["address_refused"] == 1
        assert gw.front_door.tally["accepted"] == 0


# finding 6: connections that never log on ----------------------------------------------------
def test_idle_connections_are_bounded_in_number_and_time(ports, tmp_path, counterparty):
    """At most 4 connections wait for their logon: each one more closes the oldest at
    once; the others are closed after the logon timeout. A desk still logs on while
    they are open, and stays logged on after they are gone."""
    with running_gateway(
        ports, tmp_path, max_unauthenticated_connections=4, logon_timeout_secs=3
    ) as gw:
        door = gw.front_door
        idle: list[socket.socket] = []
        try:
            for n in range(6):
                idle.append(idle_socket(ports["clients"]))
                assert door.tally.wait_for("accepted", n + 1, DEADLINE)
            # The two oldest made room for the last two, long before any timeout.
            assert all(wait_closed(sock, DEADLINE) for sock in idle[:2])
            assert door.tally["evicted"] == 2
            assert door.tally["logon_timeout"] == 0
            assert door.unauthenticated == 4

            desk = make_client(ports, tmp_path)
            try:
                assert desk.start(DEADLINE), "a desk could not log on past idle connections"
                assert door.tally["evicted"] == 3
                assert door.tally["logon_timeout"] == 0
                # The three left are closed by the logon timeout; the desk is not.
                assert all(wait_closed(sock, DEADLINE) for sock in idle[3:])
                assert door.tally["logon_timeout"] == 3
                assert door.unauthenticated == 0
                assert desk.logged_on.is_set()
                result = submit(desk, seed_hedge(), list_id="IDLE-1", wait_done=False)
                assert result.status == "accepted", result.reason
            finally:
                desk.stop()
        finally:
            for sock in idle:
                sock.close()


def test_garbage_from_a_socket_that_never_logs_on_does_not_delay_heartbeats(
    ports, tmp_path, counterparty
):
    """64 MB of garbage (a header announcing a 64 MB message, then filler, then a slow
    trickle) is pushed at the client port while a logged-on desk sends TestRequests:
    each Heartbeat comes back within the deadline."""
    flood_bytes = 64 * 2**20
    with running_gateway(ports, tmp_path) as gw:
        desk = RawFixClient(ports["clients"], "DESK1")
        try:
            assert desk.logon().get(35) == b"A"
            assert desk.test_request("before") is not None
            stop = threading.Event()
            started = threading.Event()
            pushed = [0]
            enough = threading.Event()

            def flood() -> None:
                chunk = b"x" * 2**20
                while not stop.is_set():
                    try:
                        with socket.create_connection(("127.0.0.1", ports["clients"])) as sock:
                            sock.sendall(b"8=FIX.4.4\x019=%d\x0135=A\x01" % flood_bytes)
                            while not stop.is_set():
                                sock.sendall(chunk if pushed[0] < flood_bytes else chunk[:1024])
                                pushed[0] += len(chunk) if pushed[0] < flood_bytes else 1024
                                started.set()
                                if pushed[0] >= flood_bytes:
                                    enough.set()
                                    stop.wait(0.05)  # then a trickle keeps the socket busy
                    except OSError:
                        continue  # closed by the gateway: again, on a new connection

            flooder = threading.Thread(target=flood, daemon=True)
            flooder.start()
            try:
                assert started.wait(DEADLINE)
                answered = 0
                while not enough.is_set() or answered < 3:
                    reply = desk.test_request(f"during-{answered}", timeout=DEADLINE)
                    assert reply is not None, f"no Heartbeat within {DEADLINE} s during the flood"
                    answered += 1
                    if answered > 10_000:
                        break
                assert enough.wait(DEADLINE)
            finally:
                stop.set()
                flooder.join(DEADLINE)
            assert gw.front_door.tally["bad_first_message"] >= 1
            assert desk.test_request("after") is not None
        finally:
            desk.close()


# finding 5: a client that stops reading ------------------------------------------------------
def _big_list(list_id: str, orders: int) -> list[tuple[int, str]]:
    """A NewOrderList over the 100-order limit: refused (a ListStatus echoing 100 orders)."""
    body = [(66, list_id), (394, "3"), (68, str(orders)), (20001, "single_factor_hedged")]
    body.append((73, str(orders)))
    for n in range(1, orders + 1):
        body += [(11, f"{list_id}-{n}"), (67, str(n)), (55, "AAAA"), (54, "1")]
        body += [(38, "100"), (40, "2"), (44, "10")]
    return body


def test_a_message_over_the_size_limit_closes_only_its_connection(ports, tmp_path, counterparty):
    """QuickFIX reads a message whole before parsing it: a logged-on desk announcing
    a 2 MB message is cut off at its header instead of the gateway buffering it, and
    another desk's session goes on."""
    with running_gateway(ports, tmp_path, max_message_bytes=65536) as gw:
        other = RawFixClient(ports["clients"], "DESK2")
        desk = RawFixClient(ports["clients"], "DESK1")
        try:
            assert other.logon().get(35) == b"A"
            assert desk.logon().get(35) == b"A"
            desk.send_bytes(b"8=FIX.4.4\x019=2000000\x0135=D\x01" + b"x" * 4096)
            assert desk.closed(DEADLINE)
            assert gw.front_door.tally["message_too_large"] == 1
            assert other.test_request("still-there") is not None
        finally:
            desk.close()
            other.close()


def test_a_client_that_stops_reading_is_cut_off_and_gets_everything_on_its_return(
    ports, tmp_path, counterparty
):
    """DESK2 sends lists that are all refused, then TestRequests, and never reads the
    answers: beyond 64 KiB waiting for it the front door disconnects it (the other desk
    keeps working), and when it logs on again (no reset) and asks for a resend, it gets
    every answer, in sequence (the Heartbeats as gap fills)."""
    with running_gateway(
        ports,
        tmp_path,
        max_outbound_buffer_bytes=65536,
        limits=ClientLimits(max_messages_per_second=100_000),
    ) as gw:
        other = make_client(ports, tmp_path, "DESK1")
        assert other.start(DEADLINE)
        try:
            slow = RawFixClient(ports["clients"], "DESK2", rcvbuf=4096)
            sent: dict[int, str] = {}  # MsgSeqNum -> ListID
            try:
                assert slow.logon().get(35) == b"A"
                with contextlib.suppress(OSError):  # the front door resets the connection
                    for n in range(100):
                        seq, list_id = slow.seq, f"SLOW-{n}"
                        slow.send("E", _big_list(list_id, 101))
                        sent[seq] = list_id
                    # Then TestRequests whose Heartbeats echo a 64 KiB TestReqID, until cut.
                    for n in range(2000):
                        slow.send("1", [(112, f"{n:06d}" + "x" * 65536)])
                assert slow.closed(DEADLINE), "the slow consumer was never disconnected"
            finally:
                slow.close()
            assert gw.front_door.tally.wait_for("slow_consumer", 1, DEADLINE)
            session = gateway_session("DESK2")
            assert wait_until(lambda: not session.isLoggedOn())

            result = submit(other, seed_hedge(), list_id="OTHER-1", wait_done=False)
            assert result.status == "accepted", result.reason

            # Every list the gateway took in is answered (the answers keep coming while
            # the queue drains); then DESK2 returns and asks for all of it again.
            expected_seq = session.getExpectedTargetNum()
            answered = {list_id for seq, list_id in sent.items() if seq < expected_seq}
            assert len(answered) >= 10
            back = RawFixClient(ports["clients"], "DESK2")
            try:
                back.seq = expected_seq
                logon = back.logon(reset=False)
                assert logon.get(35) == b"A", logon.get(58)
                logon_seq = int(logon.get(34))
                got: dict[int, Any] = {}
                lists: set[str] = set()

                def take(message: Any) -> None:
                    seq = int(message.get(34))
                    if message.get(35) == b"4" and message.get(123) == b"Y":  # gap fill
                        got.update(dict.fromkeys(range(seq, int(message.get(36))), message))
                        return
                    assert seq not in got, f"MsgSeqNum {seq} twice"
                    got[seq] = message
                    if message.get(35) == b"N":
                        lists.add(message.get(66).decode())

                # Asked for in chunks, as an engine with ResendRequestChunkSize does: all
                # at once would be a burst beyond this test's 64 KiB limit.
                for begin in range(2, logon_seq, 8):
                    end = min(begin + 7, logon_seq - 1)
                    back.send("2", [(7, str(begin)), (16, str(end))])
                    while not all(s in got for s in range(begin, end + 1)):
                        message = back.receive(timeout=DEADLINE)
                        assert message is not None, f"no resend of {begin}-{end}"
                        take(message)
                while not answered <= lists:  # answers sent after the return, if any
                    message = back.receive(timeout=DEADLINE)
                    assert message is not None, f"missing {sorted(answered - lists)[:5]}"
                    take(message)
                assert lists <= set(sent.values())
            finally:
                back.close()
            assert gw.front_door.tally["slow_consumer"] == 1
            assert other.logged_on.is_set()
        finally:
            other.stop()


# finding 6: out of file descriptors ---------------------------------------------------------
FD_LIMIT = 160


def _limit_descriptors() -> None:  # runs in the child before exec
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, hard))


def _log_has(path: Path, event: str) -> bool:
    if not path.exists():
        return False
    for line in path.read_text().splitlines():
        with contextlib.suppress(ValueError):
            if json.loads(line).get("event") == event:
                return True
    return False


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_a_gateway_out_of_descriptors_keeps_serving_and_recovers(ports, tmp_path, counterparty):
    """``bidgw run`` with 160 descriptors: hundreds of connections that never log on use
    them all up. A logged-on desk's TestRequests are still answered, and once the
    connections go, a new desk logs on."""
    config = tmp_path / "gateway.yaml"
    log_file = tmp_path / "gateway.log"
    config.write_text(
        f"clients: {{port: {ports['clients']}, allowed_comp_ids: [DESK1, DESK2],\n"
        "  max_unauthenticated_connections: 1000, logon_timeout_secs: 120}\n"
        f"venue: {{port: {ports['venue']}, reconnect_secs: 1, heartbeat_secs: 5}}\n"
        f"store: file\nstore_dir: {tmp_path}/gs\nfix_log_dir: {tmp_path}/gl\n"
        f"journal: {tmp_path}/journal.sqlite\n"
    )
    with (tmp_path / "stderr.log").open("wb") as stderr:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "gateway.tools.cli", "run"),
                *("--config", str(config), "--log-file", str(log_file)),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            preexec_fn=_limit_descriptors,  # noqa: PLW1509 - no threads in this test yet
        )
    idle: list[socket.socket] = []
    desk: RawFixClient | None = None
    try:
        # The front door opens the client port last (after the venue session may be up).
        assert wait_until(lambda: _log_has(log_file, "gateway.started"), 30), "gateway not up"
        assert wait_until(lambda: _log_has(log_file, "venue.logon"), 30), "venue not logged on"
        desk = RawFixClient(ports["clients"], "DESK1")
        assert desk.logon().get(35) == b"A"
        assert desk.test_request("before") is not None
        in_use = len(os.listdir(f"/proc/{process.pid}/fd"))
        for _ in range(FD_LIMIT - in_use + 100):
            idle.append(socket.create_connection(("127.0.0.1", ports["clients"]), DEADLINE))
        descriptors = f"/proc/{process.pid}/fd"
        assert wait_until(lambda: len(os.listdir(descriptors)) >= FD_LIMIT - 1), "not exhausted"
        assert wait_until(lambda: _log_has(log_file, "frontdoor.accept_failed")), "no EMFILE"
        assert wait_until(lambda: _log_has(log_file, "fix.fd_scan_failed")), "no EMFILE in poll"
        for n in range(3):
            reply = desk.test_request(f"exhausted-{n}", timeout=DEADLINE)
            assert reply is not None, "a logged-on desk is not served while descriptors are out"
        for sock in idle:
            sock.close()
        idle.clear()
        assert desk.test_request("released", timeout=DEADLINE) is not None
        newcomer = RawFixClient(ports["clients"], "DESK2")
        try:
            reply = newcomer.logon()
            assert reply.get(35) == b"A", reply.get(58)
            assert newcomer.test_request("new") is not None
        finally:
            newcomer.close()
        assert process.poll() is None, "the gateway died"
    finally:
        for sock in idle:
            sock.close()
        if desk is not None:
            desk.close()
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def test_a_desk_that_reconnects_at_once_is_logged_on_every_time(ports, tmp_path, counterparty):
    """QuickFIX drops a Logon for a session it still holds, without an answer; behind
    the front door it learns of a closed connection a moment later than the desk can
    reconnect. The front door holds the new Logon until QuickFIX has let the old
    session go, and forwards it again if QuickFIX dropped it all the same (seen as
    "no logon reply" in test_fuzz's reconnect loop). Last in the file: after the
    slow-consumer test in one process the drops came more often."""
    with running_gateway(ports, tmp_path):
        for attempt in range(30):
            raw = RawFixClient(ports["clients"], "DESK2")
            try:
                assert raw.logon().get(35) == b"A", f"attempt {attempt}"
            finally:
                raw.close()


def test_a_logon_whose_connection_closed_while_it_waited_never_reaches_the_engine(
    ports, tmp_path, counterparty
):
    """A second connection's Logon (141=Y) waits while DESK1 is logged on elsewhere; it
    closes; then DESK1's connection drops. The waiting Logon must not be forwarded once
    the session is free: QuickFIX would reset DESK1's numbers for a client that is gone."""
    with running_gateway(ports, tmp_path) as gw:
        first = RawFixClient(ports["clients"], "DESK1")
        try:
            assert first.logon(reset=True).get(35) == b"A"
            for n in range(3):
                assert first.test_request(f"T{n}") is not None
            session = gateway_session("DESK1")
            expected = 5  # the Logon and three TestRequests taken
            # (its count moves just after the Heartbeat answering the last one is sent)
            assert wait_until(lambda: session.getExpectedTargetNum() == expected)
            second = RawFixClient(ports["clients"], "DESK1")
            second.send("A", [(98, "0"), (108, "30"), (141, "Y")])
            # QuickFIX drops it unanswered while the session is held; the front door
            # holds it to forward again.
            assert gw.front_door.tally.wait_for("logon_dropped", 1, DEADLINE)
            second.close()
        finally:
            first.close()
        assert gw.front_door.tally.wait_for("logon_abandoned", 1, DEADLINE)
        assert wait_until(lambda: not session.isLoggedOn())
        assert session.getExpectedTargetNum() == expected  # never reset
        assert gw.front_door.tally["logon"] == 1
