"""TLS for the network hop: bidgw tls-proxy on both sides of a real session."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
import trustme

from gateway.fix.engine import free_port
from gateway.tools.client import ClientConfig, FixClient, submit
from gateway.tools.tlsproxy import TlsProxy, TlsProxyConfig
from tests.conftest import seed_hedge
from tests.integration.conftest import DEADLINE, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def pki(tmp_path):
    ca = trustme.CA()
    server = ca.issue_cert("gateway.example")
    client = ca.issue_cert("desk1.example")
    paths = {}
    for name, blob in (
        ("ca", ca.cert_pem),
        ("server_cert", server.cert_chain_pems[0]),
        ("server_key", server.private_key_pem),
        ("client_cert", client.cert_chain_pems[0]),
        ("client_key", client.private_key_pem),
    ):
        path = tmp_path / f"{name}.pem"
        blob.write_to_path(str(path))
        paths[name] = path
    other = trustme.CA()
    other.cert_pem.write_to_path(str(tmp_path / "other_ca.pem"))
    paths["other_ca"] = tmp_path / "other_ca.pem"
    return paths


@pytest.fixture
def tls_proxy(ports, pki, gateway) -> Iterator[TlsProxy]:
    """A terminating proxy (mutual TLS) in front of the gateway's client acceptor."""
    port = free_port()
    proxy = TlsProxy(
        TlsProxyConfig(
            mode="terminate",
            listen_host="127.0.0.1",
            listen_port=port,
            target_host="127.0.0.1",
            target_port=ports["clients"],
            cert=pki["server_cert"],
            key=pki["server_key"],
            client_ca=pki["ca"],
        )
    )
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def tls_port(tls_proxy) -> int:
    return tls_proxy.config.listen_port


def test_a_client_trades_through_tls_with_mutual_authentication(tls_port, pki, tmp_path):
    local = free_port()
    origin = TlsProxy(
        TlsProxyConfig(
            mode="originate",
            listen_host="127.0.0.1",
            listen_port=local,
            target_host="127.0.0.1",
            target_port=tls_port,
            ca=pki["ca"],
            cert=pki["client_cert"],
            key=pki["client_key"],
            server_name="gateway.example",
        )
    )
    origin.start()
    desk = FixClient(
        ClientConfig(
            port=local,
            sender_comp_id="DESK1",
            store_dir=tmp_path / "c",
            fix_log_dir=tmp_path / "cl",
        )
    )
    try:
        assert desk.start(DEADLINE)
        result = submit(desk, seed_hedge(), list_id="TLS-1", wait_done=False)
        assert result.status == "accepted", result.reason
    finally:
        desk.stop()
        origin.stop()


LOGON = (
    b"8=FIX.4.4\x019=63\x0135=A\x0134=1\x0149=DESK1\x0152=20260101-00:00:00"
    b"\x0156=BIDGW\x0198=0\x01108=30\x0110=000\x01"
)


def _tls_exchange(port: int, context: ssl.SSLContext) -> bytes:
    """Send a Logon over TLS and return whatever comes back (b"" if closed)."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="gateway.example") as tls,
    ):
        tls.sendall(LOGON)
        return tls.recv(100)


def test_plain_tcp_and_untrusted_peers_are_refused_and_each_refusal_is_logged(
    tls_proxy, tls_port, pki
):
    with structlog.testing.capture_logs() as logged:
        _refuse_three(tls_port, pki)
        # The proxy logs each refused handshake with its peer and reason (asyncio's own
        # server-side TLS says nothing outside debug mode), on its own thread.
        assert wait_until(lambda: tls_proxy.handshake_failures == 3)
    refused = [entry for entry in logged if entry["event"] == "tls.handshake_refused"]
    assert len(refused) == 3, refused
    assert tls_proxy.handshake_failures == 3
    assert all(entry["peer"].startswith("('127.0.0.1'") for entry in refused)
    reasons = " | ".join(entry["error"] for entry in refused)
    assert "WRONG_VERSION_NUMBER" in reasons.upper(), reasons
    assert "CERTIFICATE" in reasons.upper(), reasons


def _refuse_three(port: int, pki: dict[str, Path]) -> None:
    """Three clients the proxy must refuse."""
    # Plain FIX bytes to the TLS port: no FIX session, the connection just closes.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(LOGON)
        assert not raw.recv(100).startswith(b"8=FIX")
    # A client that does not trust the gateway's CA refuses the server certificate.
    distrust = ssl.create_default_context(cafile=str(pki["other_ca"]))
    with pytest.raises(ssl.SSLCertVerificationError):
        _tls_exchange(port, distrust)
    # A client without a certificate is refused by the gateway side (mutual TLS): with
    # TLS 1.3 the refusal may arrive as an alert or as the connection closing.
    anonymous = ssl.create_default_context(cafile=str(pki["ca"]))
    try:
        reply = _tls_exchange(port, anonymous)
    except (ssl.SSLError, ConnectionResetError):
        reply = b""
    assert reply == b""
