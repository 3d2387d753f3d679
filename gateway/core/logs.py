"""structlog, configured once per process.

JSON lines when the output is not a terminal, the console renderer when it is.
``session_id``, ``list_id`` and ``cl_ord_id`` are bound through contextvars
(:func:`bound`), and the gateway writes one canonical line per bundle decision
(``bundle.accepted`` / ``bundle.rejected``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import structlog

__all__ = ["bound", "configure"]

_configured_stream: list[TextIO] = []


def configure(*, level: str = "info", json: bool | None = None, file: Path | None = None) -> None:
    """Set up structlog for this process (idempotent; the last call wins).

    Args:
        level: minimum level name.
        json: force JSON (True) or console (False); default: JSON unless stderr
            is a terminal.
        file: write to this file (appending) instead of stderr; always JSON.
    """
    stream: TextIO
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        stream = file.open("a", encoding="utf-8", buffering=1)
        json = True
    else:
        stream = sys.stderr
    for old in _configured_stream:
        if old is not sys.stderr:
            old.close()
    _configured_stream[:] = [stream]
    if json is None:
        json = not stream.isatty()
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )


@contextmanager
def bound(**values: Any) -> Iterator[None]:
    """Bind context values (``session_id=``, ``list_id=``...) for a block."""
    tokens = structlog.contextvars.bind_contextvars(**values)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
