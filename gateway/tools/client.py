"""A FIX initiator client for the gateway: ``bidgw submit`` and the tests use it.

:class:`FixClient` logs on, sends messages, and hands every application
message it receives to :meth:`FixClient.wait_for` through a queue (copies, so
the engine's borrowed messages never leave its thread). :func:`submit` sends
one payload envelope and collects the gateway's answer and the reports that
follow until the bundle is done or the deadline passes.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import quickfix as fix
from pydantic import Field

from fixspec import Tag
from gateway.core.config import CompID, FixFilesConfig, Port, load_model
from gateway.core.fields import FrozenModel, PositiveInt
from gateway.fix.client_codec import encode_new_order_list
from gateway.fix.engine import Connector, SafeApplication, copy_message, msg_type, session_settings
from gateway.fix.messages import ListOrderStatus, list_cancel_request

__all__ = [
    "ClientConfig",
    "FixClient",
    "SubmitResult",
    "load_client_config",
    "parse_report",
    "submit",
]

_TERMINAL_ORD_STATUS = {"2", "3", "4", "8", "C"}


class FixClient(SafeApplication):
    """One client session to the gateway."""

    name = "client"

    def __init__(self, config: ClientConfig) -> None:
        super().__init__()
        self.config = config
        self.session_id = fix.SessionID("FIX.4.4", config.sender_comp_id, config.target_comp_id)
        self.logged_on = threading.Event()
        self.inbox: queue.Queue[Any] = queue.Queue()
        settings = session_settings(
            {
                "ConnectionType": "initiator",
                "SocketConnectHost": config.host,
                "SocketConnectPort": config.port,
                "HeartBtInt": config.heartbeat_secs,
                "ReconnectInterval": 1,
                "ResetOnLogon": config.reset_on_logon,
                "FileStorePath": config.store_dir,
                "FileLogPath": config.fix_log_dir,
                **config.fix.schedule(),
            },
            [(config.sender_comp_id, config.target_comp_id)],
        )
        self._connector = Connector(
            "initiator",
            self,
            settings,
            store=config.store,
            log_dir=config.fix_log_dir if config.store == "file" else None,
        )
        self.session_rejects: queue.Queue[Any] = queue.Queue()
        self._pending: list[Any] = []  # received, not yet matched by wait_for

    def on_logon(self, session_id: Any) -> None:
        self.logged_on.set()

    def on_logout(self, session_id: Any) -> None:
        self.logged_on.clear()

    def to_admin(self, message: Any, session_id: Any) -> None:
        if msg_type(message) == "A" and self.config.username is not None:
            message.setField(Tag.USERNAME, self.config.username)
            message.setField(Tag.PASSWORD, self.config.password or "")

    @property
    def logout_text(self) -> str | None:
        """Text (58) of the Logout with which the gateway ended the session (why it
        refused a logon, say); None when it sent none, or the client logged out first."""
        return self.logout_received(self.session_id)

    def from_admin(self, message: Any, session_id: Any) -> None:
        if msg_type(message) == "3":
            self.session_rejects.put(copy_message(message))
            self.inbox.put(copy_message(message))

    def from_app(self, message: Any, session_id: Any) -> None:
        self.inbox.put(copy_message(message))

    def start(self, logon_timeout: float = 10.0) -> bool:
        """Connect and wait for the logon; False if it did not happen in time."""
        self._connector.start()
        return self.logged_on.wait(logon_timeout)

    def stop(self) -> None:
        self._connector.stop()

    def send(self, message: Any) -> bool:
        return bool(fix.Session.sendToTarget(message, self.session_id))

    def wait_for(
        self, predicate: Callable[[Any], bool], timeout: float, *, keep_others: bool = True
    ) -> Any | None:
        """The oldest received message matching ``predicate``, waiting up to ``timeout``.

        Messages that do not match stay pending for later calls (in arrival
        order) unless ``keep_others`` is false, when they are dropped.
        """
        for index, message in enumerate(self._pending):
            if predicate(message):
                del self._pending[index]
                return message
        if not keep_others:
            self._pending.clear()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                message = self.inbox.get(timeout=remaining)
            except queue.Empty:
                return None
            if predicate(message):
                return message
            if keep_others:
                self._pending.append(message)


def _field(fields: Any, tag: int) -> str | None:
    return fields.getField(tag) if fields.isSetField(tag) else None


def parse_report(message: Any) -> dict[str, Any]:
    """A received ListStatus, ExecutionReport or reject as a plain dict."""
    kind = msg_type(message)
    if kind == "N":
        orders = []
        group = fix.Group(Tag.NO_ORDERS, Tag.CL_ORD_ID)
        for index in range(1, message.groupCount(Tag.NO_ORDERS) + 1):
            message.getGroup(index, group)
            orders.append(
                {
                    "cl_ord_id": group.getField(Tag.CL_ORD_ID),
                    "ord_status": group.getField(Tag.ORD_STATUS),
                    "cum_qty": int(float(group.getField(Tag.CUM_QTY))),
                    "leaves_qty": int(float(group.getField(Tag.LEAVES_QTY))),
                    "cxl_qty": int(float(_field(group, Tag.CXL_QTY) or 0)),
                }
            )
        reject = _field(message, Tag.LIST_REJECT_REASON)
        return {
            "type": "list_status",
            "list_id": message.getField(Tag.LIST_ID),
            "list_status_type": int(message.getField(Tag.LIST_STATUS_TYPE)),
            "list_order_status": int(message.getField(Tag.LIST_ORDER_STATUS)),
            "text": _field(message, Tag.LIST_STATUS_TEXT),
            "bundle_id": _field(message, Tag.BUNDLE_ID),
            "list_reject_reason": int(reject) if reject else None,
            "orders": orders,
        }
    if kind == "8":
        return {
            "type": "execution_report",
            "cl_ord_id": message.getField(Tag.CL_ORD_ID),
            "list_id": _field(message, Tag.LIST_ID),
            "bundle_id": _field(message, Tag.BUNDLE_ID),
            "exec_id": message.getField(Tag.EXEC_ID),
            "exec_type": message.getField(Tag.EXEC_TYPE),
            "ord_status": message.getField(Tag.ORD_STATUS),
            "symbol": message.getField(Tag.SYMBOL),
            "side": "buy" if message.getField(Tag.SIDE) == "1" else "sell",
            "last_qty": int(float(_field(message, Tag.LAST_QTY) or 0)),
            "last_px": _field(message, Tag.LAST_PX),
            "cum_qty": int(float(message.getField(Tag.CUM_QTY))),
            "leaves_qty": int(float(message.getField(Tag.LEAVES_QTY))),
            "text": _field(message, Tag.TEXT),
        }
    if kind in ("j", "3"):
        return {
            "type": "business_reject" if kind == "j" else "session_reject",
            "ref_msg_type": _field(message, Tag.REF_MSG_TYPE),
            "ref_seq_num": _field(message, Tag.REF_SEQ_NUM),
            "text": _field(message, Tag.TEXT),
        }
    return {"type": kind}


@dataclass(slots=True)
class SubmitResult:
    """What ``bidgw submit`` learned about one payload."""

    list_id: str
    status: str  # "accepted" | "rejected" | "no answer"
    reason: str | None = None
    bundle_id: str | None = None
    done: bool = False
    reports: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "list_id": self.list_id,
            "status": self.status,
            "reason": self.reason,
            "bundle_id": self.bundle_id,
            "done": self.done,
            "reports": self.reports,
        }


def new_list_id(prefix: str = "L") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def submit(
    client: FixClient,
    envelope: Mapping[str, Any],
    *,
    list_id: str | None = None,
    timeout: float = 10.0,
    wait_done: bool = True,
    cancel_after: float | None = None,
) -> SubmitResult:
    """Send one payload and collect the answer, then reports until done or timeout."""
    list_id = list_id or str(envelope.get("id") or new_list_id())
    positions = (envelope.get("bidder_data") or {}).get("positions") or []
    cl_ord_ids = [f"{list_id}-{i + 1}" for i in range(len(positions))]
    mine = set(cl_ord_ids)
    client.send(encode_new_order_list(envelope, list_id, cl_ord_ids))
    deadline = time.monotonic() + timeout
    result = SubmitResult(list_id=list_id, status="no answer")

    def about_us(message: Any) -> bool:
        kind = msg_type(message)
        if kind == "N":
            return bool(message.getField(Tag.LIST_ID) == list_id)
        if kind == "8":
            return message.getField(Tag.CL_ORD_ID) in mine
        return kind in ("j", "3")

    def decision(message: Any) -> bool:
        """The gateway's answer: accepted (received for execution) or rejected."""
        if msg_type(message) == "N":
            return bool(
                message.getField(Tag.LIST_ID) == list_id
                and int(message.getField(Tag.LIST_ORDER_STATUS))
                in (ListOrderStatus.RECEIVED_FOR_EXECUTION, ListOrderStatus.REJECT)
            )
        return about_us(message)

    answer = client.wait_for(decision, max(0.0, deadline - time.monotonic()))
    if answer is None:
        return result
    first = parse_report(answer)
    result.reports.append(first)
    if first["type"] != "list_status" or first["list_order_status"] == ListOrderStatus.REJECT:
        result.status = "rejected"
        result.reason = first.get("text")
        result.done = True
        return result
    result.status = "accepted"
    result.bundle_id = first.get("bundle_id")
    result.reason = first.get("text")
    if not wait_done:
        return result
    terminal: dict[str, bool] = dict.fromkeys(cl_ord_ids, False)
    cancel_at = time.monotonic() + cancel_after if cancel_after is not None else None
    while time.monotonic() < deadline and not result.done:
        if cancel_at is not None and time.monotonic() >= cancel_at:
            client.send(list_cancel_request(list_id))
            cancel_at = None
        wait = min(deadline - time.monotonic(), 0.5)  # and look at the session meanwhile
        if cancel_at is not None:
            wait = min(wait, max(0.0, cancel_at - time.monotonic()))
        message = client.wait_for(about_us, wait)
        if message is None:
            if not client.logged_on.is_set():
                break  # the session ended: nothing more comes on it (the caller says so)
            continue
        report = parse_report(message)
        result.reports.append(report)
        if report["type"] == "execution_report":
            terminal[report["cl_ord_id"]] = report["ord_status"] in _TERMINAL_ORD_STATUS
        elif report["type"] == "list_status" and report["list_order_status"] in (
            ListOrderStatus.ALL_DONE,
            ListOrderStatus.REJECT,
        ):
            result.done = True
        if all(terminal.values()):
            result.done = True
    return result


class ClientConfig(FrozenModel):
    """``bidgw submit``'s session to the gateway (config/client.yaml).

    Attributes:
        host / port: where the gateway's client acceptor listens.
        sender_comp_id: this client's CompID (must be allowed by the gateway).
        target_comp_id: the gateway's CompID (default BIDGW).
        heartbeat_secs: HeartBtInt (default 30).
        reset_on_logon: send ResetSeqNumFlag at logon (default true: a one-shot
            command line client has no messages to recover).
        store: ``file`` or ``memory`` (default memory for this one-shot client).
        store_dir / fix_log_dir: QuickFIX store and logs (defaults under var/client).
        fix: the FIX session day (must match the gateway's ``fix.day_start``).
        username / password: sent as Username (553) / Password (554) in the Logon
            when the gateway requires credentials.
    """

    host: str = "127.0.0.1"
    port: Port
    sender_comp_id: CompID
    target_comp_id: CompID = "BIDGW"
    heartbeat_secs: PositiveInt = 30
    reset_on_logon: bool = True
    store: Literal["file", "memory"] = "memory"
    store_dir: Path = Path("var/client/store")
    fix_log_dir: Path = Path("var/client/fixlog")
    fix: FixFilesConfig = Field(default_factory=FixFilesConfig)
    username: str | None = None
    password: str | None = None


def load_client_config(path: Path) -> ClientConfig:
    """Read and validate a client config file."""
    return load_model(path, ClientConfig)
