"""``bidgw tls-proxy``'s set-up errors name the option and the file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trustme

from gateway.tools.tlsproxy import TlsProxyConfig


def config(**paths: Path) -> TlsProxyConfig:
    return TlsProxyConfig(
        mode="terminate",
        listen_host="127.0.0.1",
        listen_port=1,
        target_host="127.0.0.1",
        target_port=2,
        **paths,
    )


def test_a_missing_file_is_named_with_its_option(tmp_path):
    missing = tmp_path / "server.pem"
    with pytest.raises(ValueError, match=f"^--cert {re.escape(str(missing))}: no such file$"):
        config(cert=missing).ssl_context()
    cert = tmp_path / "cert.pem"
    trustme.CA().issue_cert("gw.example").cert_chain_pems[0].write_to_path(str(cert))
    ca = tmp_path / "ca.pem"
    with pytest.raises(ValueError, match=f"^--client-ca {re.escape(str(ca))}: no such file$"):
        config(cert=cert, client_ca=ca).ssl_context()


def test_a_file_that_is_not_what_it_should_be_is_named(tmp_path):
    garbage = tmp_path / "cert.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(ValueError, match=f"^--cert/--key {re.escape(str(garbage))}: "):
        config(cert=garbage).ssl_context()
    issued = trustme.CA().issue_cert("gw.example")
    cert, key = tmp_path / "good.pem", tmp_path / "other-key.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    trustme.CA().issue_cert("x.example").private_key_pem.write_to_path(str(key))
    with pytest.raises(ValueError, match=re.escape(f"--cert/--key {cert}, {key}: ")):
        config(cert=cert, key=key).ssl_context()
