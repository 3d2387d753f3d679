"""SQLite in WAL mode with the inbox both journals share (the gateway's and the
simulated counterparty's): messages written in ``fromApp`` before the engine
advances its sequence number, marked handled once processed.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from gateway.core.errors import ConfigError

__all__ = ["Database", "JournalMessage", "OwnerLock", "bytes_on_disk", "session_from_text"]

_INBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL, session TEXT NOT NULL, raw TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0, at REAL NOT NULL DEFAULT 0,
    replays INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS inbox_open ON inbox(done) WHERE done = 0;
"""


def session_from_text(text: str) -> tuple[str, str, str]:
    begin, sender, target = json.loads(text)
    return (str(begin), str(sender), str(target))


@dataclass(frozen=True, slots=True)
class JournalMessage:
    """An inbox row. ``replays`` counts the restarts that began handling it again
    (:meth:`Database.replaying`) without finishing it."""

    id: int
    source: str
    session: tuple[str, str, str]
    raw: str
    replays: int = 0


def bytes_on_disk(path: Path) -> int:
    """A journal's size on disk: the database and its write-ahead log (0 for a file
    that is not there)."""
    total = 0
    for suffix in ("", "-wal"):
        try:
            total += path.with_name(path.name + suffix).stat().st_size
        except OSError:
            continue
    return total


class OwnerLock:
    """The one running process that owns a journal: an exclusive ``flock`` on
    ``<journal>.lock`` (holding the owner's pid), from :meth:`acquire` until
    :meth:`release` or the process's end (the kernel drops it, even after kill -9).
    Readers (``bidgw journal``) take no lock."""

    def __init__(self, journal: Path) -> None:
        self.journal = journal
        self.path = journal.with_name(journal.name + ".lock")
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Own the journal, or raise :class:`ConfigError` naming the process that does."""
        if self._file is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = self.path.open("a+")
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip()
            file.close()
            raise ConfigError(
                f"journal {self.journal} is in use by another process"
                + (f" (pid {holder})" if holder else "")
                + ": each gateway or venue needs its own journal, store_dir and fix_log_dir"
            ) from None
        file.truncate(0)
        file.write(f"{os.getpid()}\n")
        file.flush()
        self._file = file

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


#: How long a write waits for another process's lock on the journal (``bidgw journal
#: compact``'s VACUUM holds one while it rewrites the file: 1.2 s for 173 MB here)
#: before it fails with ``sqlite3.OperationalError``; a message journaled in ``fromApp``
#: is then refused on the wire (gateway.router.sessions, gateway.venue.app).
BUSY_TIMEOUT_SECS = 5.0


class Database:
    """A small thread-safe wrapper around one SQLite connection in WAL mode, with the
    inbox both journals share: messages written in ``fromApp``, marked handled later."""

    def __init__(self, path: Path, schema: str, *, full_sync: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            str(path), timeout=BUSY_TIMEOUT_SECS, check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if full_sync else 'NORMAL'}")
        self._db.executescript(_INBOX_SCHEMA + schema)
        self.add_columns(
            "inbox", {"at": "REAL NOT NULL DEFAULT 0", "replays": "INTEGER NOT NULL DEFAULT 0"}
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS inbox_handled ON inbox(at) WHERE done = 1")

    def add_columns(self, table: str, columns: dict[str, str]) -> bool:
        """Bring a journal written by an older version up to this schema; True when a
        column had to be added."""
        have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
        missing = [name for name in columns if name not in have]
        for name in missing:
            self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {columns[name]}")
        return bool(missing)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _run(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, params)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection, alone and inside one transaction (rolled back on error)."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # inbox -----------------------------------------------------------------------
    def receive(self, source: str, session: tuple[str, str, str], raw: str) -> int:
        cursor = self._run(
            "INSERT INTO inbox(source, session, raw, at) VALUES (?, ?, ?, ?)",
            (source, json.dumps(session), raw, time.time()),
        )
        return int(cursor.lastrowid or 0)

    def handled(self, message_id: int) -> None:
        self._run("UPDATE inbox SET done = 1 WHERE id = ?", (message_id,))

    def replaying(self, message_id: int) -> None:
        """A restart is about to handle this unfinished row again: count it first, so
        a row whose handling ends the process every time is known as such."""
        self._run("UPDATE inbox SET replays = replays + 1 WHERE id = ?", (message_id,))

    def pending(self) -> Iterator[JournalMessage]:
        rows = self._run(
            "SELECT id, source, session, raw, replays FROM inbox WHERE done = 0 ORDER BY id"
        ).fetchall()
        for row in rows:
            yield JournalMessage(
                int(row[0]), str(row[1]), session_from_text(row[2]), str(row[3]), int(row[4])
            )

    def compact_inbox(self, cutoff: float) -> int:
        """Delete handled inbox rows received before ``cutoff`` (epoch seconds)."""
        return self._run("DELETE FROM inbox WHERE done = 1 AND at < ?", (cutoff,)).rowcount

    def checkpoint(self, *, vacuum: bool = False) -> None:
        """Fold the WAL back into the file (and, offline, give freed pages back)."""
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            if vacuum:
                self._db.execute("VACUUM")
