"""``bidgw tls-proxy``: TLS in front of (or behind) a plain QuickFIX session.

The quickfix package on PyPI is built without SSL, so bidgw's FIX sessions are
plain TCP. This proxy adds TLS for the hop that crosses the network, with
Python's own ``ssl`` module (no external tool):

* ``terminate`` (in front of an acceptor): listens with TLS, forwards each
  connection in plain TCP to the acceptor on this host. Optional mutual TLS:
  ``--client-ca`` makes clients present a certificate signed by that CA.
* ``originate`` (behind an initiator): listens in plain TCP on 127.0.0.1 for
  the local initiator and connects to the remote side with TLS, verifying its
  certificate against ``--ca`` (and presenting ``--cert``/``--key`` for mutual TLS).

What is encrypted: the bytes between the two proxies (or between a desk's own
TLS-capable FIX engine and the terminating proxy). What is not: the hop
between a proxy and the QuickFIX process on the same host, so run the proxy
beside the process it serves and keep that hop on 127.0.0.1. The gateway then
sees every client as coming from 127.0.0.1; restrict who may connect with the
proxy's TLS (mutual TLS) rather than ``allowed_remote_addresses``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import structlog

from gateway.fix.frontdoor import LoopThread

__all__ = ["TlsProxy", "TlsProxyConfig"]

log = structlog.get_logger("bidgw.tls")

_CHUNK = 65536
_HANDSHAKE_SECS = 10.0  # a client that has not finished its TLS handshake by then is dropped


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsProxyConfig:
    """One proxy: where it listens, where it forwards, and its certificates."""

    mode: Literal["terminate", "originate"]
    listen_host: str
    listen_port: int
    target_host: str
    target_port: int
    cert: Path | None = None  # terminate: the server certificate (PEM); originate: mTLS
    key: Path | None = None
    ca: Path | None = None  # originate: CA that signed the server's certificate
    client_ca: Path | None = None  # terminate: require client certificates from this CA
    server_name: str | None = None  # originate: name expected in the server's certificate

    def ssl_context(self) -> ssl.SSLContext:
        """The context for the TLS side; ValueError naming the option and the file
        when a file is missing or does not hold what it should."""
        for option, path in (
            ("--cert", self.cert),
            ("--key", self.key),
            ("--ca", self.ca),
            ("--client-ca", self.client_ca),
        ):
            if path is not None and not path.is_file():
                raise ValueError(f"{option} {path}: no such file")
        if self.mode == "terminate":
            if self.cert is None:
                raise ValueError("terminate mode needs --cert (and --key)")
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            _load(context.load_cert_chain, "--cert/--key", self.cert, self.key)
            if self.client_ca is not None:
                context.verify_mode = ssl.CERT_REQUIRED
                _load(context.load_verify_locations, "--client-ca", self.client_ca)
        else:
            # With --ca, that CA alone is trusted (not the system's roots as well).
            try:
                context = ssl.create_default_context(
                    ssl.Purpose.SERVER_AUTH, cafile=str(self.ca) if self.ca else None
                )
            except (ssl.SSLError, OSError) as exc:
                raise ValueError(f"--ca {self.ca}: {exc}") from None
            if self.cert is not None:
                _load(context.load_cert_chain, "--cert/--key", self.cert, self.key)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context


def _load(method: Callable[..., None], option: str, *paths: Path | None) -> None:
    """``method(*paths)``, its failure (a PEM that is not one, a key that does not match
    the certificate) as a ValueError naming the option and the files."""
    try:
        method(*paths)
    except (ssl.SSLError, OSError) as exc:
        files = ", ".join(str(path) for path in paths if path is not None)
        raise ValueError(f"{option} {files}: {exc}") from None


class TlsProxy:
    """Runs the proxy on its own event-loop thread (a :class:`LoopThread`, as the
    gateway's front door does); ``start()`` returns once listening."""

    def __init__(self, config: TlsProxyConfig) -> None:
        self.config = config
        self._context = config.ssl_context()
        self._thread = LoopThread("tls-proxy")
        self._server: asyncio.base_events.Server | None = None
        self.connections = 0
        self.handshake_failures = 0

    def start(self) -> None:
        self._thread.start()
        self._thread.run(self._listen())
        log.info(
            "tls.started",
            mode=self.config.mode,
            listen=f"{self.config.listen_host}:{self.config.listen_port}",
            target=f"{self.config.target_host}:{self.config.target_port}",
        )

    def stop(self) -> None:
        """Stop listening, cancel the connections' tasks, end the thread."""

        async def close() -> None:
            if self._server is not None:
                self._server.close()

        if self._thread.running:
            with contextlib.suppress(Exception):
                self._thread.run(close())
        self._thread.stop()

    async def _listen(self) -> None:
        # TLS is started per connection (:meth:`_handshake`), so a refused handshake is
        # logged; asyncio's own server-side TLS reports it only in debug mode.
        self._server = await asyncio.start_server(
            self._handle, self.config.listen_host, self.config.listen_port
        )

    async def _handshake(self, writer: asyncio.StreamWriter, peer: object) -> bool:
        """Terminate mode: the TLS handshake with the client, or a logged refusal."""
        try:
            await writer.start_tls(self._context, ssl_handshake_timeout=_HANDSHAKE_SECS)
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            log.warning(
                "tls.handshake_refused", peer=str(peer), error=str(exc) or type(exc).__name__
            )
            self.handshake_failures += 1  # after the log line: tests wait on the count
            with contextlib.suppress(Exception):
                writer.close()
            return False
        return True

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        peer = writer.get_extra_info("peername")
        if self.config.mode == "terminate" and not await self._handshake(writer, peer):
            return
        try:
            if self.config.mode == "terminate":
                upstream = await asyncio.open_connection(
                    self.config.target_host, self.config.target_port
                )
            else:
                upstream = await asyncio.open_connection(
                    self.config.target_host,
                    self.config.target_port,
                    ssl=self._context,
                    server_hostname=self.config.server_name or self.config.target_host,
                )
        except (OSError, ssl.SSLError) as exc:
            self.handshake_failures += isinstance(exc, ssl.SSLError)
            log.warning("tls.upstream_failed", peer=str(peer), error=str(exc))
            writer.close()
            return
        up_reader, up_writer = upstream
        await asyncio.gather(
            _pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True
        )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
        pass  # the other side went away; close ours below
    finally:
        with contextlib.suppress(Exception):
            writer.close()
