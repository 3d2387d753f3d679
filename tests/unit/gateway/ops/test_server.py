"""The ops app through Starlette's TestClient: what needs no running gateway — health,
the token checks, refusals. Routes that read the gateway run against a real one
over real sessions in tests/integration/test_ops.py. (A Gateway is not built
here: its connectors register their FIX sessions process-wide when built.)"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway.ops.metrics import GatewayMetrics
from gateway.ops.server import OpsServer
from gateway.router.config import ClientsConfig, OpsConfig

TOKEN = "unit-token"


def gateway_parts() -> Any:
    """What these routes read of a gateway: its desks and its counters."""
    return SimpleNamespace(
        clients=ClientsConfig(port=9999, allowed_comp_ids=["DESK1"]), metrics=GatewayMetrics()
    )


@pytest.fixture
def app() -> Iterator[TestClient]:
    ops = OpsConfig(enabled=True, admin_token_sha256=hashlib.sha256(TOKEN.encode()).hexdigest())
    server = OpsServer(gateway_parts(), ops)  # built, not started: no socket, no thread
    with TestClient(server.app, base_url="http://127.0.0.1") as client:
        yield client


def test_the_surface_is_off_by_default_and_binds_loopback() -> None:
    assert OpsConfig().enabled is False
    assert OpsConfig().host == "127.0.0.1"


def test_healthz_answers_without_the_state_owner(app) -> None:
    answer = app.get("/healthz")
    assert (answer.status_code, answer.json()) == (200, {"ok": True})


def test_admin_actions_need_a_bearer_token(app) -> None:
    missing = app.post("/api/desks/DESK1/halt")
    assert missing.status_code == 401
    assert "Authorization: Bearer" in missing.json()["message"]
    wrong = app.post("/api/desks/DESK1/halt", headers={"Authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.json()["ok"]) == (401, False)
    basic = app.post("/api/desks/DESK1/halt", headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 401


def test_an_unknown_desk_is_named_in_the_answer(app) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for path in ("/api/desks/NOBODY/halt", "/api/sessions/NOBODY/logout"):
        answer = app.post(path, headers=auth)
        assert answer.status_code == 404
        assert answer.json()["message"] == "no desk session 'NOBODY'"


def test_state_changing_routes_refuse_get(app) -> None:
    assert app.get("/api/desks/DESK1/halt").status_code == 405


def test_no_token_configured_refuses_every_admin_action() -> None:
    server = OpsServer(gateway_parts(), OpsConfig(enabled=True))
    with TestClient(server.app, base_url="http://127.0.0.1") as client:
        answer = client.post("/api/desks/DESK1/halt", headers={"Authorization": "Bearer x"})
    assert answer.status_code == 403
    assert "ops.admin_token_sha256" in answer.json()["message"]


def test_a_request_for_another_host_name_is_refused(app) -> None:
    """DNS rebinding: a page at evil.example whose name now points here is refused."""
    assert app.get("/healthz", headers={"Host": "evil.example"}).status_code == 400
    assert app.get("/api/state", headers={"Host": "evil.example:8780"}).status_code == 400
    assert app.get("/healthz", headers={"Host": "localhost:8780"}).status_code == 200
