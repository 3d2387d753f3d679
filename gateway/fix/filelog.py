"""QuickFIX's FIX logs, kept to a bounded size on disk.

QuickFIX's ``FileLog`` appends every message and session event of a session to
``<session>.messages.current.log`` and ``<session>.event.current.log`` and never
trims them: not at the session day's reset (that resets the message store
only), not ever. A gateway running for weeks fills its disk.

:class:`FixLogRotation` watches every ``*.current.log`` under a log directory
from its own thread and, once one is larger than ``max_bytes``, *copies then
truncates* it, as logrotate's ``copytruncate`` does: the file is copied to
``<name>.1`` (older copies move to ``.2`` … ``.<backups>``, the oldest is
removed), then truncated to zero in place. QuickFIX keeps the file open and
writes with ``O_APPEND`` (``std::ios::app``), so its next line lands at the start
of the emptied file: no reopen, no signal. A line QuickFIX writes between the
end of the copy and the truncation is lost from the log (the copy is repeated
until the size stops changing, which leaves a window of one system call); the
message store, which the resend uses, and bidgw's journal are never touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from pathlib import Path

import structlog

from gateway.core.config import FixFilesConfig

__all__ = ["FixLogRotation", "rotate"]

log = structlog.get_logger("bidgw.fix")

#: QuickFIX FileLog's names end so (the rotated copies do not).
_CURRENT = ".current.log"
_COPY_PASSES = 4  # copies of what was appended meanwhile before the truncation


def rotate(path: Path, backups: int) -> int:
    """Copy ``path`` to ``path.1`` (shifting older copies, keeping ``backups``) and
    truncate it in place; the bytes copied. With ``backups`` 0 it is only truncated."""
    if backups > 0:
        oldest = path.with_name(f"{path.name}.{backups}")
        oldest.unlink(missing_ok=True)
        for index in range(backups - 1, 0, -1):
            older = path.with_name(f"{path.name}.{index}")
            if older.exists():
                older.rename(path.with_name(f"{path.name}.{index + 1}"))
    copied = 0
    if backups > 0:
        with path.open("rb") as source, path.with_name(f"{path.name}.1").open("wb") as target:
            for _ in range(_COPY_PASSES):
                chunk = os.fstat(source.fileno()).st_size - copied
                if chunk <= 0:
                    break
                shutil.copyfileobj(source, target, chunk)
                copied += chunk
    os.truncate(path, 0)
    return copied


class FixLogRotation:
    """Rotate every FileLog under ``log_dir`` larger than ``max_bytes``, every
    ``every_secs`` on a daemon thread (see the module docstring)."""

    def __init__(
        self, log_dir: Path, *, max_bytes: int, backups: int, every_secs: float = 10.0
    ) -> None:
        self.log_dir = log_dir
        self.max_bytes = max_bytes
        self.backups = backups
        self.every_secs = every_secs
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_config(cls, log_dir: Path, config: FixFilesConfig) -> FixLogRotation:
        """The rotation ``config`` (the ``fix:`` key) asks for, over ``log_dir``."""
        return cls(log_dir, max_bytes=config.log_max_mb * 2**20, backups=config.log_backups)

    def check(self) -> list[Path]:
        """One pass: rotate the files over the limit; the files rotated."""
        rotated = []
        for path in sorted(self.log_dir.rglob(f"*{_CURRENT}")):
            try:
                size = path.stat().st_size
                if size <= self.max_bytes:
                    continue
                rotate(path, self.backups)
            except OSError as exc:  # a full disk or a file removed meanwhile: next pass
                log.warning(
                    "fix.log_rotation_failed",
                    path=str(path),
                    error=f"{type(exc).__name__}: {exc}",
                )
                continue
            log.info("fix.log_rotated", path=str(path), bytes=size, backups=self.backups)
            rotated.append(path)
        return rotated

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fix-log-rotation", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._halt.wait(self.every_secs):
            try:
                self.check()
            except Exception as exc:  # never end the thread: the next pass may succeed
                with contextlib.suppress(Exception):
                    log.error("fix.log_rotation_failed", error=f"{type(exc).__name__}: {exc}")

    def stop(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
