"""The simulated counterparty's journal: its inbox and its book (SQLite, WAL)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.core.store import Database, session_from_text

__all__ = ["VenueJournal", "VenueRow"]

_VENUE_SCHEMA = """
CREATE TABLE IF NOT EXISTS book (
    list_id TEXT PRIMARY KEY, session TEXT NOT NULL, raw TEXT NOT NULL,
    filled TEXT NOT NULL, notional TEXT NOT NULL,
    started INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0,
    closed TEXT, close_text TEXT NOT NULL DEFAULT '',
    reported INTEGER NOT NULL DEFAULT 0, done_at REAL);
CREATE INDEX IF NOT EXISTS book_unreported ON book(reported) WHERE reported = 0;
"""


@dataclass(frozen=True, slots=True)
class VenueRow:
    """One bundle the simulated counterparty accepted, as last written."""

    list_id: str
    session: tuple[str, str, str]
    raw: str
    filled: tuple[int, ...]
    notional: tuple[str, ...]  # Fractions as "p/q" text
    started: bool
    done: bool
    closed: str | None  # ExecType that closed the open legs (4, 3, C), if any
    close_text: str
    reported: bool


class VenueJournal(Database):
    """The simulated counterparty's journal: its inbox and its book.

    ``inbox`` rows are written in ``fromApp`` before the engine advances its
    sequence number; ``book`` rows are written when a bundle is accepted and
    rewritten (``reported = 0``) before each fill or close is sent, then marked
    ``reported`` once the engine has persisted those messages. After a restart
    the venue rebuilds its book and, for rows not marked reported, sends the
    gateway a status with the bundle's current quantities.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(path, _VENUE_SCHEMA)
        self.add_columns("book", {"done_at": "REAL"})

    def save(
        self,
        list_id: str,
        session: tuple[str, str, str],
        raw: str,
        filled: Sequence[int],
        notional: Sequence[str],
        *,
        started: bool,
        done: bool,
        closed: str | None = None,
        close_text: str = "",
    ) -> None:
        self._run(
            "INSERT INTO book(list_id, session, raw, filled, notional, started, done, closed,"
            " close_text, reported, done_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)"
            " ON CONFLICT(list_id) DO UPDATE SET"
            " filled = excluded.filled, notional = excluded.notional,"
            " started = excluded.started, done = excluded.done, closed = excluded.closed,"
            " close_text = excluded.close_text, reported = 0,"
            " done_at = excluded.done_at",
            (
                list_id,
                json.dumps(session),
                raw,
                json.dumps(list(filled)),
                json.dumps(list(notional)),
                int(started),
                int(done),
                closed,
                close_text,
                time.time() if done else None,
            ),
        )

    def reported(self, list_id: str) -> None:
        self._run("UPDATE book SET reported = 1 WHERE list_id = ?", (list_id,))

    def book(self) -> list[VenueRow]:
        rows = self._run(
            "SELECT list_id, session, raw, filled, notional, started, done, closed, close_text,"
            " reported FROM book ORDER BY rowid"
        ).fetchall()
        return [
            VenueRow(
                str(list_id),
                session_from_text(session),
                str(raw),
                tuple(int(q) for q in json.loads(filled)),
                tuple(str(n) for n in json.loads(notional)),
                bool(started),
                bool(done),
                None if closed is None else str(closed),
                str(close_text),
                bool(reported),
            )
            for (
                list_id,
                session,
                raw,
                filled,
                notional,
                started,
                done,
                closed,
                close_text,
                reported,
            ) in rows
        ]

    def compact(self, retention_secs: float, *, now: float | None = None) -> dict[str, int]:
        """Delete handled inbox rows and finished, reported book rows older than
        ``retention_secs``; open bundles and unreported rows always stay."""
        cutoff = (time.time() if now is None else now) - retention_secs
        counts = {"inbox": self.compact_inbox(cutoff)}
        counts["book"] = self._run(
            "DELETE FROM book WHERE done = 1 AND reported = 1 AND done_at < ?", (cutoff,)
        ).rowcount
        return counts
