"""A web app served by uvicorn on a daemon thread of its own: the gateway's operator
surface (:mod:`gateway.ops.server`) and the venue's metrics (:mod:`gateway.ops.venue`).

``start()`` binds the socket in the caller's thread (so a taken port raises there,
``OSError``) and returns once uvicorn serves; ``stop()`` asks it to end and joins
the thread. The thread catches everything: a failing server is logged and never
takes its process down.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

import structlog
import uvicorn

__all__ = ["START_TIMEOUT", "HttpThread"]

log = structlog.get_logger("bidgw.ops")

#: Seconds ``start()`` waits for uvicorn to serve, and ``stop()`` for its thread to end.
START_TIMEOUT = 10.0


class HttpThread:
    """``app`` (an ASGI app) on ``host:port`` (0: a free port), on thread ``name``."""

    def __init__(self, app: Any, host: str, port: int, *, name: str) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.name = name
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            raise OSError(
                exc.errno, f"{self.name} cannot listen on {self.host}:{self.port}: {exc.strerror}"
            ) from None
        self._socket = sock
        self.port = int(sock.getsockname()[1])
        server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                log_config=None,
                access_log=False,
                lifespan="off",
                loop="asyncio",
                http="h11",
                timeout_graceful_shutdown=2,
            )
        )
        self._server = server
        thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start on {self.url}")
            thread.join(0.01)

    def _serve(self) -> None:
        assert self._server is not None
        assert self._socket is not None
        try:
            self._server.run(sockets=[self._socket])
        except BaseException as exc:  # the web server never takes its process down
            log.error("ops.server_failed", thread=self.name, error=f"{type(exc).__name__}: {exc}")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(START_TIMEOUT)
        if self._socket is not None:
            self._socket.close()


class Collected:
    """An app on an :class:`HttpThread` whose metrics ``collector`` is in ``registry``
    exactly while it is served (the gateway's and the venue's ops servers)."""

    def __init__(self, http: HttpThread, registry: Any, collector: Any) -> None:
        self._http = http
        self._registry = registry
        self._collector = collector

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def url(self) -> str:
        return self._http.url

    def start(self) -> None:
        """Register the collector, then serve; unregistered again if serving fails."""
        self._registry.register(self._collector)
        try:
            self._http.start()
        except BaseException:
            self._registry.unregister(self._collector)
            raise

    def stop(self) -> None:
        self._http.stop()
        with contextlib.suppress(KeyError):  # never registered, or start() failed
            self._registry.unregister(self._collector)
