"""A FIX client that is *not* QuickFIX: raw TCP plus simplefix.

It encodes and parses messages independently of the gateway's code, so it
proves that ``fixspec/README.md`` is enough for a third party, and it sends
exactly the bytes a test wants (malformed messages included).
"""

from __future__ import annotations

import contextlib
import socket
import time
from datetime import UTC, datetime

import simplefix


class RawFixClient:
    def __init__(
        self, port: int, sender: str, target: str = "BIDGW", *, rcvbuf: int | None = None
    ) -> None:
        """``rcvbuf`` sets SO_RCVBUF before connecting (a small one makes a client that
        stops reading back up the gateway quickly)."""
        self.sender = sender
        self.target = target
        if rcvbuf is None:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(5)
            self.sock.connect(("127.0.0.1", port))
        self.parser = simplefix.FixParser()
        self.seq = 1

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def message(self, msg_type: str, body: list[tuple[int, str]]) -> simplefix.FixMessage:
        message = simplefix.FixMessage()
        message.append_pair(8, "FIX.4.4", header=True)
        message.append_pair(35, msg_type, header=True)
        message.append_pair(49, self.sender, header=True)
        message.append_pair(56, self.target, header=True)
        message.append_pair(34, str(self.seq), header=True)
        message.append_pair(52, datetime.now(UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3], header=True)
        for tag, value in body:
            message.append_pair(tag, value)
        return message

    def send(self, msg_type: str, body: list[tuple[int, str]]) -> None:
        self.send_bytes(self.message(msg_type, body).encode())

    def send_bytes(self, data: bytes, *, count_seq: bool = True) -> None:
        self.sock.sendall(data)
        if count_seq:
            self.seq += 1

    def logon(
        self, extra: list[tuple[int, str]] | None = None, *, reset: bool = True
    ) -> simplefix.FixMessage:
        """Log on (with ResetSeqNumFlag 141=Y unless ``reset`` is false) and return the
        answer: a Logon, or the Logout that refused it."""
        reset_flag = [(141, "Y")] if reset else []
        self.send("A", [(98, "0"), (108, "30"), *reset_flag, *(extra or [])])
        reply = self.receive(lambda m: m.get(35) in (b"A", b"5"))
        assert reply is not None, "no logon reply"
        return reply

    def receive(self, predicate=lambda m: True, timeout: float = 5.0):
        """The next message matching ``predicate`` (others are dropped), or None."""
        deadline = time.monotonic() + timeout
        while True:
            message = self.parser.get_message()
            while message is not None:
                if predicate(message):
                    return message
                message = self.parser.get_message()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return None
            if not data:
                return None
            self.parser.append_buffer(data)

    def test_request(self, test_req_id: str, timeout: float = 5.0):
        """Send a TestRequest; the Heartbeat that answers it, or None."""
        self.send("1", [(112, test_req_id)])
        return self.receive(
            lambda m: m.get(35) == b"0" and m.get(112) == test_req_id.encode(), timeout
        )

    def closed(self, timeout: float) -> bool:
        """True once the gateway has closed the connection (EOF or reset), False if it
        is still open after ``timeout``; whatever arrives meanwhile is parsed."""
        return wait_closed(self.sock, timeout, self.parser)


def wait_closed(
    sock: socket.socket, timeout: float, parser: simplefix.FixParser | None = None
) -> bool:
    """True once the peer has closed ``sock`` (EOF or reset) within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        sock.settimeout(remaining)
        try:
            data = sock.recv(65536)
        except TimeoutError:
            return False
        except OSError:  # ECONNRESET: closed with data unread
            return True
        if not data:
            return True
        if parser is not None:
            parser.append_buffer(data)
