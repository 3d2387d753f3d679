"""The simulated counterparty's journal: its inbox and its book (SQLite, WAL)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

# Every id a client used (its ListIDs and ClOrdIDs), so a reused one is found after
# its bundle left the venue's memory. Rows go with their book row at compaction.
_IDS_SCHEMA = """
CREATE TABLE IF NOT EXISTS book_ids (
    comp_id TEXT NOT NULL, id TEXT NOT NULL, list_id TEXT NOT NULL,
    PRIMARY KEY (comp_id, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS book_ids_list ON book_ids(list_id);
"""

_ROW_COLUMNS = (
    "list_id, session, raw, filled, notional, started, done, closed, close_text, reported,"
    " exclusions"
)
_SOH = "\x01"
_SAVE = (
    "INSERT INTO book(list_id, session, raw, filled, notional, started, done, closed,"
    " close_text, reported, done_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)"
    " ON CONFLICT(list_id) DO UPDATE SET"
    " filled = excluded.filled, notional = excluded.notional,"
    " started = excluded.started, done = excluded.done, closed = excluded.closed,"
    " close_text = excluded.close_text, reported = 0,"
    " done_at = excluded.done_at"
)


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
    exclusions: int = 0  # auctions that left it out because its fill failed verification


class VenueJournal(Database):
    """The simulated counterparty's journal: its inbox and its book.

    ``inbox`` rows are written in ``fromApp`` before the engine advances its
    sequence number; ``book`` rows are written when a bundle is accepted and
    rewritten (``reported = 0``) before each fill or close is sent, then marked
    ``reported`` once the engine has persisted those messages. After a restart
    the venue rebuilds its book and, for rows not marked reported, sends the
    gateway a status with the bundle's current quantities. ``book_ids`` holds
    every ListID and ClOrdID a client used, written with the bundle's first book
    row; a bundle that left the venue's memory is found here (:meth:`find`,
    :meth:`used_id`) until :meth:`compact` removes it.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(path, _VENUE_SCHEMA)
        self.add_columns("book", {"done_at": "REAL", "exclusions": "INTEGER NOT NULL DEFAULT 0"})
        had_ids = bool(
            self._run(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'book_ids'"
            ).fetchall()
        )
        self._db.executescript(_IDS_SCHEMA)
        if not had_ids:
            self._backfill_ids()

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
        ids: Iterable[str] = (),
    ) -> None:
        """Write the bundle's book row; ``ids`` (its ListID and ClOrdIDs, given when
        the bundle is accepted) are recorded for the client in the same transaction."""
        row = (
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
        )
        id_rows = [(session[2], used, list_id) for used in ids]
        if not id_rows:  # a rewrite before a fill or close: one statement
            self._run(_SAVE, row)
            return
        with self._transaction() as db:
            db.execute(_SAVE, row)
            db.executemany(
                "INSERT OR REPLACE INTO book_ids(comp_id, id, list_id) VALUES (?, ?, ?)", id_rows
            )

    def excluded(self, list_id: str, times: int) -> None:
        """How many auctions have left the bundle out so far (a restart keeps counting)."""
        self._run("UPDATE book SET exclusions = ? WHERE list_id = ?", (times, list_id))

    def reported(self, list_id: str) -> None:
        self._run("UPDATE book SET reported = 1 WHERE list_id = ?", (list_id,))

    def book(self) -> list[VenueRow]:
        """Every book row, in the order the bundles were accepted."""
        rows = self._run(f"SELECT {_ROW_COLUMNS} FROM book ORDER BY rowid").fetchall()
        return [_row(values) for values in rows]

    def restorable(self) -> list[VenueRow]:
        """The rows a restarted venue holds in memory: open bundles, and finished ones
        whose last report may not have left (in acceptance order)."""
        rows = self._run(
            f"SELECT {_ROW_COLUMNS} FROM book WHERE done = 0 OR reported = 0 ORDER BY rowid"
        ).fetchall()
        return [_row(values) for values in rows]

    def find(self, list_id: str) -> VenueRow | None:
        """The book row of ``list_id``, if the journal still has it."""
        values = self._run(
            f"SELECT {_ROW_COLUMNS} FROM book WHERE list_id = ?", (list_id,)
        ).fetchone()
        return None if values is None else _row(values)

    def used_id(self, comp_id: str, ids: Sequence[str]) -> str | None:
        """The first of ``ids`` the client ``comp_id`` already used (as a ListID or a
        ClOrdID of a bundle the journal still has), if any."""
        if not ids:
            return None
        marks = ", ".join("?" * len(ids))
        used = {
            str(found)
            for (found,) in self._run(
                f"SELECT id FROM book_ids WHERE comp_id = ? AND id IN ({marks})",
                (comp_id, *ids),
            ).fetchall()
        }
        return next((candidate for candidate in ids if candidate in used), None)

    def compact(self, retention_secs: float, *, now: float | None = None) -> dict[str, int]:
        """Delete handled inbox rows and finished, reported book rows (with their ids)
        older than ``retention_secs``; open bundles and unreported rows always stay."""
        cutoff = (time.time() if now is None else now) - retention_secs
        counts = {"inbox": self.compact_inbox(cutoff)}
        old = "SELECT list_id FROM book WHERE done = 1 AND reported = 1 AND done_at < ?"
        with self._transaction() as db:
            ids = db.execute(f"DELETE FROM book_ids WHERE list_id IN ({old})", (cutoff,)).rowcount
            book = db.execute(
                "DELETE FROM book WHERE done = 1 AND reported = 1 AND done_at < ?", (cutoff,)
            ).rowcount
        counts["book"], counts["book_ids"] = book, ids
        return counts

    def _backfill_ids(self) -> None:
        """A journal written before ``book_ids`` existed: record its rows' ids from the
        raw NewOrderLists (ListID 66, and the orders' ClOrdID 11: the only tag 11 in
        a NewOrderList is each order's)."""
        rows = self._run("SELECT list_id, session, raw FROM book").fetchall()
        id_rows = []
        for list_id, session, raw in rows:
            comp_id = session_from_text(session)[2]
            fields = str(raw).split(_SOH)
            ids = [str(list_id)] + [f[3:] for f in fields if f.startswith("11=")]
            id_rows += [(comp_id, used, str(list_id)) for used in ids]
        with self._transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO book_ids(comp_id, id, list_id) VALUES (?, ?, ?)", id_rows
            )


def _row(values: Sequence[Any]) -> VenueRow:
    list_id, session, raw, filled, notional, started, done, closed, close_text, reported = values[
        :10
    ]
    return VenueRow(
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
        int(values[10] or 0),
    )
