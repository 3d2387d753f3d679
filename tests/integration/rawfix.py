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
    def __init__(self, port: int, sender: str, target: str = "BIDGW") -> None:
        self.sender = sender
        self.target = target
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
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

    def logon(self, extra: list[tuple[int, str]] | None = None) -> simplefix.FixMessage:
        self.send("A", [(98, "0"), (108, "30"), (141, "Y"), *(extra or [])])
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
