"""The operator surface's web server: Starlette on uvicorn, on a thread of its own.

Routes (``docs/architecture.md``, README "Operator surface"):

* ``GET /metrics`` — Prometheus text: the counters of :mod:`gateway.ops.metrics`
  plus gauges read at scrape time (sessions, sequence numbers, open bundles per
  desk, queue depth, journal size, front-door events);
* ``GET /healthz`` — the process answers; ``GET /readyz`` — 200 when the
  counterparty session is logged on, the journal is writable, strategies and the
  instrument list are loaded and the state owner answers, else 503 naming what
  fails;
* ``GET /`` — the live page; ``GET /events`` — its server-sent events;
  ``GET /api/state`` — the same data as JSON;
* ``POST /api/sessions/{desk}/logout`` (the desk is logged out and its logons
  refused until ``POST /api/sessions/{desk}/enable``), ``POST
  /api/desks/{desk}/halt`` and ``.../resume`` (its new lists are denied
  meanwhile), ``POST /api/desks/{desk}/kill`` and ``.../release`` (the kill
  switch: its open bundles are cancelled at the counterparty and its new lists
  denied until released; journaled; ``*`` is every desk), ``POST
  /api/bundles/{bundle}/cancel`` — admin actions, each
  needing ``Authorization: Bearer <token>`` (ops.admin_token_sha256), each
  answered with JSON ``{ok, action, target, message}`` and logged.

The server never reads the book: the state comes from ``Gateway.state``, made
on the state owner; sessions from QuickFIX's own (locked) accessors. Every
handler turns a failure into an answer; the server's thread catches
everything, so it cannot take the gateway down.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING

import anyio
import quickfix as fix
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from gateway.core.store import bytes_on_disk
from gateway.fix.frontdoor import FRONT_DOOR_EVENTS
from gateway.ops.http import Collected, HttpThread
from gateway.ops.page import SessionView, live_fragment, page
from gateway.ops.snapshot import StateView
from gateway.router.controls import ALL_DESKS

if TYPE_CHECKING:  # the gateway imports this module
    from gateway.router.config import OpsConfig
    from gateway.router.service import Gateway

__all__ = ["FRONT_DOOR_EVENTS", "OpsServer"]

log = structlog.get_logger("bidgw.ops")

_STATE_TIMEOUT = 2.0  # seconds the web thread waits for the state owner


class OpsServer(Collected):
    """``start()`` binds ``config.host:config.port`` (raising if it cannot) and serves on
    the ``bidgw-ops`` thread; ``stop()`` ends the live streams and the server."""

    def __init__(self, gateway: Gateway, config: OpsConfig) -> None:
        self.gateway = gateway
        self.config = config
        self.app = Starlette(
            routes=[
                Route("/", self._page),
                Route("/events", self._events),
                Route("/api/state", self._state),
                Route("/metrics", self._metrics),
                Route("/healthz", self._healthz),
                Route("/readyz", self._readyz),
                Route("/api/sessions/{desk}/logout", self._logout, methods=["POST"]),
                Route("/api/sessions/{desk}/enable", self._enable, methods=["POST"]),
                Route("/api/desks/{desk}/halt", self._halt, methods=["POST"]),
                Route("/api/desks/{desk}/resume", self._resume, methods=["POST"]),
                Route("/api/desks/{desk}/kill", self._kill, methods=["POST"]),
                Route("/api/desks/{desk}/release", self._release, methods=["POST"]),
                Route("/api/bundles/{bundle}/cancel", self._cancel, methods=["POST"]),
            ],
            # Host checked first: a page elsewhere that rebinds its own name to this
            # machine gets 400, never the state (DNS rebinding).
            middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=config.allowed_hosts)],
        )
        self._closing = threading.Event()
        self._streams = 0  # live pages connected (touched on the server's loop only)
        super().__init__(
            HttpThread(self.app, config.host, config.port, name="bidgw-ops"),
            gateway.metrics.registry,
            _LiveCollector(self),
        )

    # lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        super().start()
        log.info("ops.started", url=self.url, admin=self.config.admin_token_sha256 is not None)

    def stop(self) -> None:
        self._closing.set()
        super().stop()

    # what the pages read (worker threads) ---------------------------------------------------
    def sessions(self) -> list[SessionView]:
        """Every FIX session of the gateway, from QuickFIX's own accessors."""
        gateway = self.gateway
        keys = [(gateway.desk_key(comp_id), "desk") for comp_id in gateway.clients.allowed_comp_ids]
        keys.append((gateway.venue_session, "counterparty"))
        views = []
        for key, side in keys:
            session = fix.Session.lookupSession(fix.SessionID(*key))
            if session is None:
                views.append(SessionView(key[2], side, False, None, None, False))
                continue
            views.append(
                SessionView(
                    key[2],
                    side,
                    bool(session.isLoggedOn()),
                    int(session.getExpectedTargetNum()),
                    int(session.getExpectedSenderNum()),
                    bool(session.isEnabled()),
                )
            )
        return views

    def state(self) -> tuple[StateView | None, str | None]:
        try:
            return self.gateway.state(_STATE_TIMEOUT), None
        except TimeoutError:
            return None, f"the state owner did not answer within {_STATE_TIMEOUT:g} s"

    def latency_buckets(self) -> list[tuple[str, int]]:
        """The decision histogram as (upper bound, count in that bucket) pairs."""
        cumulative: list[tuple[str, float]] = []
        for metric in self.gateway.metrics.decision_seconds.collect():
            for sample in metric.samples:
                if sample.name.endswith("_bucket"):
                    cumulative.append((sample.labels["le"], sample.value))
        pairs: list[tuple[str, int]] = []
        previous = 0.0
        for bound, total in cumulative:
            label = "more" if bound == "+Inf" else _seconds_label(float(bound))
            pairs.append((label, int(total - previous)))
            previous = total
        return pairs

    def live(self) -> str:
        state, problem = self.state()
        return live_fragment(
            self.sessions(), state, latency=self.latency_buckets(), problem=problem
        )

    def readiness(self) -> dict[str, str | None]:
        """Each readiness check: None when it passes, else what fails."""
        gateway = self.gateway
        checks: dict[str, str | None] = {
            "venue_session": None
            if gateway.venue_up
            else "the counterparty session is not logged on",
            "journal": _journal_problem(gateway),
            "strategies": None if gateway.registry.names else "no strategy is loaded",
            "instruments": None
            if gateway.controls.instruments is not None
            else "no instrument list: the counterparty has not sent one and no file is set",
        }
        try:
            gateway.on_state_owner(lambda: None, _STATE_TIMEOUT)
            checks["state_owner"] = None
        except TimeoutError:
            checks["state_owner"] = f"the state owner did not answer within {_STATE_TIMEOUT:g} s"
        return checks

    # routes --------------------------------------------------------------------------------
    async def _page(self, request: Request) -> Response:
        live = await anyio.to_thread.run_sync(self.live)
        return HTMLResponse(
            page(
                live,
                title=f"bidgw · {self.gateway.clients.sender_comp_id}",
                admin_enabled=self.config.admin_token_sha256 is not None,
            )
        )

    async def _events(self, request: Request) -> Response:
        if self._streams >= self.config.max_streams:
            return PlainTextResponse(
                f"{self.config.max_streams} live pages are open already", status_code=503
            )
        interval = self.config.refresh_ms / 1000

        async def stream() -> AsyncIterator[str]:
            self._streams += 1
            try:
                last = None
                while not self._closing.is_set():
                    fragment = await anyio.to_thread.run_sync(self.live)
                    if fragment != last:
                        last = fragment
                        lines = "".join(f"data: {line}\n" for line in fragment.splitlines())
                        yield f"event: state\n{lines}\n"
                    else:
                        yield ": unchanged\n\n"
                    await anyio.sleep(interval)
            finally:
                self._streams -= 1

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def _state(self, request: Request) -> Response:
        state, problem = await anyio.to_thread.run_sync(self.state)
        sessions = await anyio.to_thread.run_sync(self.sessions)
        body = {
            "sessions": [
                {
                    "name": s.name,
                    "side": s.side,
                    "logged_on": s.logged_on,
                    "last_seq_in": s.last_in,
                    "last_seq_out": s.last_out,
                    "enabled": s.enabled,
                }
                for s in sessions
            ],
            "state": None if state is None else state.to_json(),
            "problem": problem,
        }
        return JSONResponse(body, status_code=200 if state is not None else 503)

    async def _metrics(self, request: Request) -> Response:
        body = await anyio.to_thread.run_sync(generate_latest, self.gateway.metrics.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def _healthz(self, request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def _readyz(self, request: Request) -> Response:
        checks = await anyio.to_thread.run_sync(self.readiness)
        failing = {name: why for name, why in checks.items() if why is not None}
        return JSONResponse(
            {"ready": not failing, "failing": failing, "checks": sorted(checks)},
            status_code=503 if failing else 200,
        )

    async def _logout(self, request: Request) -> Response:
        desk = request.path_params["desk"]
        return await self._admin(request, "logout", desk, lambda: self._do_logout(desk))

    async def _enable(self, request: Request) -> Response:
        desk = request.path_params["desk"]
        return await self._admin(request, "enable", desk, lambda: self._do_enable(desk))

    async def _halt(self, request: Request) -> Response:
        desk = request.path_params["desk"]
        return await self._admin(request, "halt", desk, lambda: self._do_halt(desk, True))

    async def _resume(self, request: Request) -> Response:
        desk = request.path_params["desk"]
        return await self._admin(request, "resume", desk, lambda: self._do_halt(desk, False))

    async def _kill(self, request: Request) -> Response:
        desk = request.path_params["desk"]
        return await self._admin(request, "kill", desk, lambda: self._do_kill(desk, False))

    async def _release(self, request: Request) -> Response:
        desk = request.path_params["desk"]
        return await self._admin(request, "release", desk, lambda: self._do_kill(desk, True))

    async def _cancel(self, request: Request) -> Response:
        bundle = request.path_params["bundle"]
        return await self._admin(request, "cancel", bundle, lambda: self._do_cancel(bundle))

    # admin actions (worker threads) ----------------------------------------------------------
    def _refusal(self, request: Request) -> tuple[int, str] | None:
        expected = self.config.admin_token_sha256
        if expected is None:
            return 403, "admin actions are off: set ops.admin_token_sha256 in the gateway config"
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return 401, "this action needs the admin token (Authorization: Bearer <token>)"
        presented = hashlib.sha256(token.strip().encode()).hexdigest()
        if not hmac.compare_digest(presented, expected):
            return 401, "wrong admin token"
        return None

    async def _admin(
        self, request: Request, action: str, target: str, run: Callable[[], tuple[int, str]]
    ) -> Response:
        peer = request.client.host if request.client is not None else "?"
        refused = self._refusal(request)
        if refused is not None:
            status, message = refused
            outcome = "refused"
        else:
            try:
                status, message = await anyio.to_thread.run_sync(run)
            except TimeoutError:
                status = 503
                message = f"the state owner did not answer within {_STATE_TIMEOUT:g} s"
            except Exception as exc:  # an answer, never a crash
                status, message = 500, f"failed: {type(exc).__name__}: {exc}"
            outcome = "done" if status < 400 else "failed"
        self.gateway.metrics.admin_actions.labels(action, outcome).inc()
        emit = log.warning if outcome == "done" else log.error
        emit(
            "ops.admin_action",
            action=action,
            target=target,
            peer=peer,
            outcome=outcome,
            status=status,
            message=message,
        )
        return JSONResponse(
            {"ok": status < 400, "action": action, "target": target, "message": message},
            status_code=status,
        )

    def _unknown_desk(self, desk: str) -> tuple[int, str] | None:
        if desk not in self.gateway.clients.allowed_comp_ids:
            return 404, f"no desk session {desk!r}"
        return None

    def _do_logout(self, desk: str) -> tuple[int, str]:
        unknown = self._unknown_desk(desk)
        if unknown is not None:
            return unknown
        session = self.gateway.desk_session(desk)
        if session is None:
            return 404, f"no desk session {desk!r}"
        if not session.isLoggedOn():
            # Blocked all the same: QuickFIX refuses a disabled session's next Logon.
            if not session.isEnabled():
                return 200, f"{desk} is not logged on and its logons are refused already"
            session.logout("logged out by the operator")
            return 200, (
                f"{desk} is not logged on; its logons are refused until the session is enabled"
            )
        session.logout("logged out by the operator")  # QuickFIX disables the session too
        return 200, f"{desk} logged out: its logons are refused until the session is enabled"

    def _do_enable(self, desk: str) -> tuple[int, str]:
        unknown = self._unknown_desk(desk)
        if unknown is not None:
            return unknown
        session = self.gateway.desk_session(desk)
        if session is None:
            return 404, f"no desk session {desk!r}"
        if session.isEnabled():
            return 200, f"{desk} was enabled already"
        session.logon()  # on an acceptor: allow the desk's next Logon
        return 200, f"{desk} enabled: the desk may log on again"

    def _do_halt(self, desk: str, halt: bool) -> tuple[int, str]:
        unknown = self._unknown_desk(desk)
        if unknown is not None:
            return unknown
        halted = self.gateway.halted
        change = halted.add if halt else halted.discard
        self.gateway.on_state_owner(lambda: change(desk), _STATE_TIMEOUT)
        if halt:
            return 200, f"{desk} halted: its new lists are refused until it is resumed"
        return 200, f"{desk} resumed: its new lists are decided again"

    def _do_kill(self, desk: str, release: bool) -> tuple[int, str]:
        if desk != ALL_DESKS:
            unknown = self._unknown_desk(desk)
            if unknown is not None:
                return unknown
        message = self.gateway.on_state_owner(
            lambda: self.gateway.kill(desk, release=release), _STATE_TIMEOUT
        )
        return 200, message

    def _do_cancel(self, bundle: str) -> tuple[int, str]:
        outcome = self.gateway.on_state_owner(
            lambda: self.gateway.operator_cancel(bundle), _STATE_TIMEOUT
        )
        if outcome == "sent":
            return 202, f"cancel of {bundle} sent to the counterparty; its answer goes to the desk"
        if outcome == "queued":
            return 202, (
                f"the counterparty session is not logged on: the cancel of {bundle} is sent "
                "when it logs on; its answer goes to the desk"
            )
        return 404, f"no open bundle {bundle}"


class _LiveCollector(Collector):
    """Gauges read when /metrics is scraped, never pushed by the state owner."""

    def __init__(self, server: OpsServer) -> None:
        self.server = server

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        server = self.server
        gateway = server.gateway
        logged_on = GaugeMetricFamily(
            "bidgw_session_logged_on",
            "1 when the FIX session is logged on",
            labels=["peer", "side"],
        )
        last_in = GaugeMetricFamily(
            "bidgw_session_last_seq_in",
            "MsgSeqNum of the last message received on the session",
            labels=["peer", "side"],
        )
        last_out = GaugeMetricFamily(
            "bidgw_session_last_seq_out",
            "MsgSeqNum of the last message sent on the session",
            labels=["peer", "side"],
        )
        desks_on = 0
        for view in server.sessions():
            labels = [view.name, view.side]
            logged_on.add_metric(labels, 1.0 if view.logged_on else 0.0)
            desks_on += int(view.logged_on and view.side == "desk")
            if view.last_in is not None:
                last_in.add_metric(labels, float(view.last_in))
            if view.last_out is not None:
                last_out.add_metric(labels, float(view.last_out))
        yield from (logged_on, last_in, last_out)
        yield GaugeMetricFamily(
            "bidgw_desk_sessions_logged_on", "Desk sessions logged on", value=desks_on
        )
        yield GaugeMetricFamily(
            "bidgw_queue_depth", "Records waiting for the state owner", value=gateway.queue_depth
        )
        yield GaugeMetricFamily(
            "bidgw_journal_bytes",
            "Size of the journal on disk: database and write-ahead log",
            value=_journal_bytes(gateway),
        )
        events = CounterMetricFamily(
            "bidgw_frontdoor_events",
            "Front-door connection events: accepted, logon, and each kind of refusal",
            labels=["event"],
        )
        for event in FRONT_DOOR_EVENTS:
            events.add_metric([event], float(gateway.front_door.tally[event]))
        yield events
        state, _ = server.state()
        yield GaugeMetricFamily(
            "bidgw_ops_state_available",
            "1 when the state owner answered this scrape (the gauges below are present)",
            value=0 if state is None else 1,
        )
        if state is None:
            return
        open_bundles = GaugeMetricFamily(
            "bidgw_open_bundles", "Bundles accepted and not done, per desk", labels=["client"]
        )
        halted = GaugeMetricFamily(
            "bidgw_desk_halted", "1 when an operator halted the desk", labels=["client"]
        )
        for desk in gateway.clients.allowed_comp_ids:
            open_bundles.add_metric([desk], float(state.open_by_client.get(desk, 0)))
            halted.add_metric([desk], 1.0 if desk in state.halted else 0.0)
        killed = GaugeMetricFamily(
            "bidgw_desk_killed",
            "1 when the desk's kill switch (or the one for every desk) is thrown",
            labels=["client"],
        )
        for desk in gateway.clients.allowed_comp_ids:
            killed.add_metric([desk], 1.0 if {desk, "*"} & state.killed else 0.0)
        yield from (open_bundles, halted, killed)
        yield GaugeMetricFamily(
            "bidgw_lists_in_flight", "Lists being built and pre-solved", value=state.in_flight
        )


def _journal_bytes(gateway: Gateway) -> float:
    path = gateway.config.journal
    return 0.0 if path is None else float(bytes_on_disk(path))


def _journal_problem(gateway: Gateway) -> str | None:
    path = gateway.config.journal
    if path is None:
        return None  # no journal configured: nothing to write
    if not path.exists():
        return f"the journal {path} is missing"
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        return f"the journal {path} is not writable"
    return None


def _seconds_label(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:g} µs"
    if seconds < 1:
        return f"{seconds * 1e3:g} ms"
    return f"{seconds:g} s"
