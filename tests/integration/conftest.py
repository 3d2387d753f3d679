"""Real QuickFIX sessions on 127.0.0.1: a test counterparty, the gateway, clients.

Readiness is awaited on events set in onLogon, with deadlines; initiators
stop before acceptors.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import quickfix as fix

from fixspec import Tag
from gateway.core.bundle import OrderBundle
from gateway.core.instruments import Instrument
from gateway.fix.engine import (
    Connector,
    SafeApplication,
    copy_message,
    free_port,
    msg_type,
    session_settings,
)
from gateway.fix.messages import (
    ListOrderStatus,
    ListStatusType,
    OrderReport,
    list_status,
    new_message,
)
from gateway.fix.venue_codec import decode_bundle, encode_security_list
from gateway.router.config import AppConfig, ClientsConfig, VenueConfig
from gateway.router.service import Gateway
from gateway.tools.client import ClientConfig, FixClient

DEADLINE = 10.0  # seconds; every wait in these tests is bounded by it

pytestmark = pytest.mark.integration


#: The test counterparty's instruments: the demo venue's symbols, traded in any lot
#: on a fine grid, without a reference market (so no price collar applies).
TEST_INSTRUMENTS = tuple(
    Instrument(symbol, 1, Decimal("0.000001"))
    for symbol in (*(c * 4 for c in "ABCDEFGH"), "EUR", "JPY", "CHF", "GBP")
)


@dataclass
class Received:
    bundle: OrderBundle
    cl_ord_ids: tuple[str, ...]
    raw: Any


class Counterparty(SafeApplication):
    """A minimal counterparty acceptor: acknowledges every bundle it receives.

    Tests can make it send fills, finish a bundle, or refuse bundles. It is
    test code only; the real simulated venue is ``bidgw venue``.
    """

    name = "test-counterparty"

    def __init__(
        self,
        port: int,
        store_dir: Path,
        gateway_comp_id: str = "BIDGW",
        schedule: dict[str, str] | None = None,
    ) -> None:
        """``gateway_comp_id``: the gateway's CompID on this session (another one lets a
        second gateway run in a process that already has a BIDGW-VENUE session);
        ``schedule``: QuickFIX StartTime/EndTime (``FixFilesConfig.schedule()``)."""
        super().__init__()
        self.session_id = fix.SessionID("FIX.4.4", "VENUE", gateway_comp_id)
        self.received: queue.Queue[Received] = queue.Queue()
        self.cancels: queue.Queue[str] = queue.Queue()
        self.bundles: dict[str, Received] = {}
        self.logged_on = threading.Event()
        self.refuse_with: str | None = None
        #: What it answers a SecurityListRequest with; None: a BusinessMessageReject
        #: (a counterparty that does not serve reference data).
        self.instruments: list[Instrument] | None = list(TEST_INSTRUMENTS)
        self.instrument_requests: queue.Queue[str] = queue.Queue()
        self._exec_ids = itertools.count(1)
        settings = session_settings(
            {
                "ConnectionType": "acceptor",
                "SocketAcceptPort": port,
                "FileStorePath": store_dir / "venue-store",
                "FileLogPath": store_dir / "venue-log",
                **(schedule or {}),
            },
            [("VENUE", gateway_comp_id)],
        )
        self.connector = Connector("acceptor", self, settings, store="memory", log_dir=None)

    def on_logon(self, session_id: Any) -> None:
        self.logged_on.set()

    def on_logout(self, session_id: Any) -> None:
        self.logged_on.clear()

    def from_app(self, message: Any, session_id: Any) -> None:
        kind = msg_type(message)
        if kind == "x":
            self._answer_instruments(message.getField(Tag.SECURITY_REQ_ID))
        elif kind == "E":
            if self.refuse_with is not None:
                reject = new_message("j")
                reject.setField(Tag.REF_MSG_TYPE, "E")
                reject.setField(Tag.BUSINESS_REJECT_REASON, "0")
                reject.setField(Tag.REF_SEQ_NUM, message.getHeader().getField(Tag.MSG_SEQ_NUM))
                reject.setField(Tag.TEXT, self.refuse_with)
                fix.Session.sendToTarget(reject, self.session_id)
                return
            bundle, ids = decode_bundle(message)
            item = Received(bundle, ids, copy_message(message))
            self.bundles[bundle.bundle_id] = item
            fix.Session.sendToTarget(
                list_status(
                    list_id=bundle.bundle_id,
                    status_type=ListStatusType.ACK,
                    order_status=ListOrderStatus.IN_BIDDING_PROCESS,
                    text="resting",
                    orders=[
                        OrderReport(c, leaves_qty=leg.max_qty)
                        for c, leg in zip(ids, bundle.legs, strict=True)
                    ],
                ),
                self.session_id,
            )
            self.received.put(item)
        elif kind == "K":
            list_id = message.getField(Tag.LIST_ID)
            self.cancels.put(list_id)
            item = self.bundles.get(list_id)
            if item is not None:
                fix.Session.sendToTarget(
                    list_status(
                        list_id=list_id,
                        status_type=ListStatusType.ALL_DONE,
                        order_status=ListOrderStatus.ALL_DONE,
                        text="cancelled",
                        orders=[
                            OrderReport(c, ord_status="4", cxl_qty=leg.max_qty)
                            for c, leg in zip(item.cl_ord_ids, item.bundle.legs, strict=True)
                        ],
                    ),
                    self.session_id,
                )

    def _answer_instruments(self, req_id: str) -> None:
        if self.instruments is None:
            reject = new_message("j")
            reject.setField(Tag.REF_MSG_TYPE, "x")
            reject.setField(Tag.BUSINESS_REJECT_REASON, "3")  # unsupported message type
            reject.setField(Tag.BUSINESS_REJECT_REF_ID, req_id)
            reject.setField(Tag.TEXT, "SecurityListRequest is not supported")
            fix.Session.sendToTarget(reject, self.session_id)
        else:
            fix.Session.sendToTarget(
                encode_security_list(req_id, f"T{req_id}", self.instruments), self.session_id
            )
        self.instrument_requests.put(req_id)

    def send_instruments(self, req_id: str) -> None:
        """An unsolicited update of the list (as after a change at the counterparty)."""
        self._answer_instruments(req_id)

    def fill(self, bundle_id: str, leg: int, qty: int, price: str) -> None:
        item = self.bundles[bundle_id]
        order = item.bundle.legs[leg]
        report = new_message("8")
        for tag, value in (
            (Tag.ORDER_ID, f"V-{item.cl_ord_ids[leg]}"),
            (Tag.EXEC_ID, f"X{next(self._exec_ids)}"),
            (Tag.CL_ORD_ID, item.cl_ord_ids[leg]),
            (Tag.LIST_ID, bundle_id),
            (Tag.EXEC_TYPE, "F"),
            (Tag.ORD_STATUS, "2" if qty == order.max_qty else "1"),
            (Tag.SYMBOL, order.symbol),
            (Tag.SIDE, "1" if order.side.value == "buy" else "2"),
            (Tag.ORDER_QTY, str(order.max_qty)),
            (Tag.LAST_QTY, str(qty)),
            (Tag.LAST_PX, price),
            (Tag.CUM_QTY, str(qty)),
            (Tag.LEAVES_QTY, str(order.max_qty - qty)),
            (Tag.AVG_PX, price),
        ):
            report.setField(tag, value)
        fix.Session.sendToTarget(report, self.session_id)

    def next_bundle(self, timeout: float = DEADLINE) -> Received:
        return self.received.get(timeout=timeout)


def wait_until(predicate: Callable[[], bool], timeout: float = DEADLINE) -> bool:
    """Poll state another thread changes, bounded by ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)  # polling engine state with a deadline
    return True


@pytest.fixture
def ports() -> dict[str, int]:
    return {"clients": free_port(), "venue": free_port()}


@pytest.fixture
def counterparty(ports, tmp_path) -> Iterator[Counterparty]:
    party = Counterparty(ports["venue"], tmp_path)
    party.connector.start()
    try:
        yield party
    finally:
        party.connector.stop()


def gateway_config(
    ports: dict[str, int],
    tmp_path: Path,
    *,
    clients: dict[str, Any] | None = None,
    venue: dict[str, Any] | None = None,
    **extra: Any,
) -> AppConfig:
    """The test gateway's config; ``clients`` and ``venue`` add ClientsConfig and
    VenueConfig keys, ``extra`` AppConfig's."""
    return AppConfig(
        clients=ClientsConfig(
            port=ports["clients"], allowed_comp_ids=["DESK1", "DESK2"], **(clients or {})
        ),
        venue=VenueConfig(port=ports["venue"], heartbeat_secs=5, reconnect_secs=1, **(venue or {})),
        store_dir=tmp_path / "gw-store",
        fix_log_dir=tmp_path / "gw-fixlog",
        journal=tmp_path / "gw-journal.sqlite",
        **extra,
    )


@contextlib.contextmanager
def running(gw: Gateway) -> Iterator[Gateway]:
    """``gw`` started and logged on to the counterparty; stopped afterwards."""
    gw.start()
    try:
        assert gw.venue_logged_on.wait(DEADLINE), "gateway did not log on to the counterparty"
        assert gw.instruments_ready.wait(DEADLINE), "the counterparty sent no instruments"
        yield gw
    finally:
        gw.stop()


@pytest.fixture
def gateway(ports, tmp_path, counterparty) -> Iterator[Gateway]:
    with running(Gateway(gateway_config(ports, tmp_path))) as gw:
        yield gw


def make_client(
    ports: dict[str, int], tmp_path: Path, comp_id: str = "DESK1", **extra: Any
) -> FixClient:
    """A desk's client with its own stores; ``extra`` adds ClientConfig keys."""
    return FixClient(
        ClientConfig(
            port=ports["clients"],
            sender_comp_id=comp_id,
            store_dir=tmp_path / f"{comp_id}-store",
            fix_log_dir=tmp_path / f"{comp_id}-log",
            **extra,
        )
    )


@pytest.fixture
def client(ports, tmp_path, gateway) -> Iterator[FixClient]:
    desk = make_client(ports, tmp_path)
    try:
        assert desk.start(DEADLINE), "client did not log on to the gateway"
        yield desk
    finally:
        desk.stop()


def px(value: str) -> Decimal:
    return Decimal(value)
