"""The gateway's durable journal (SQLite, WAL).

What is written, and when:

* ``inbox`` — every application message from a client or the counterparty,
  inside ``fromApp`` and before the engine advances its sequence number, so a
  crash cannot lose a message the engine already counted as received. A row is
  marked done once the worker has handled it.
* ``decisions`` — every accept/reject, with the client's ids (duplicate
  detection survives restarts).
* ``bundles`` — every accepted bundle: the id mapping, the raw NewOrderList
  sent downstream, and flags ``forwarded``, ``acked``, ``done``. The row is
  written before the bundle is forwarded, ``forwarded`` after the engine has
  persisted the outgoing message (it then reaches the counterparty through
  QuickFIX's resend if the connection drops), ``acked`` after the acceptance
  was handed to the client's session.

On restart the gateway rebuilds its state from these tables, forwards bundles
not marked forwarded (the venue answers a repeated BundleID idempotently),
sends acceptances not marked acked, and handles inbox rows not marked done.

``synchronous=NORMAL`` in WAL mode survives a killed process (the fault this
is built for); ``durable: full`` in the config adds an fsync per commit for
power loss.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Journal",
    "JournalBundle",
    "JournalDecision",
    "JournalMessage",
    "VenueJournal",
    "VenueRow",
]

_INBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL, session TEXT NOT NULL, raw TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS inbox_open ON inbox(done) WHERE done = 0;
"""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    session TEXT NOT NULL, list_id TEXT NOT NULL, accepted INTEGER NOT NULL,
    text TEXT NOT NULL, cl_ord_ids TEXT NOT NULL, bundle_id TEXT, reject_reason INTEGER,
    PRIMARY KEY (session, list_id));
CREATE TABLE IF NOT EXISTS bundles (
    bundle_id TEXT PRIMARY KEY, session TEXT NOT NULL, list_id TEXT NOT NULL,
    leg_cl_ord_ids TEXT NOT NULL, venue_ids TEXT NOT NULL, legs_qty TEXT NOT NULL,
    venue_raw TEXT NOT NULL, ack_text TEXT NOT NULL,
    forwarded INTEGER NOT NULL DEFAULT 0, acked INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0);
"""


@dataclass(frozen=True, slots=True)
class JournalMessage:
    id: int
    source: str
    session: tuple[str, str, str]
    raw: str


@dataclass(frozen=True, slots=True)
class JournalDecision:
    session: tuple[str, str, str]
    list_id: str
    accepted: bool
    text: str
    cl_ord_ids: tuple[str, ...]
    bundle_id: str | None
    reject_reason: int | None


@dataclass(frozen=True, slots=True)
class JournalBundle:
    bundle_id: str
    session: tuple[str, str, str]
    list_id: str
    leg_cl_ord_ids: tuple[str, ...]
    venue_ids: tuple[str, ...]
    legs_qty: tuple[int, ...]
    venue_raw: str
    ack_text: str
    forwarded: bool
    acked: bool


def _session(text: str) -> tuple[str, str, str]:
    begin, sender, target = json.loads(text)
    return (str(begin), str(sender), str(target))


class _Database:
    """A small thread-safe wrapper around one SQLite connection in WAL mode, with the
    inbox both journals share: messages written in ``fromApp``, marked handled later."""

    def __init__(self, path: Path, schema: str, *, full_sync: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if full_sync else 'NORMAL'}")
        self._db.executescript(_INBOX_SCHEMA + schema)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _run(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, params)

    # inbox -----------------------------------------------------------------------
    def receive(self, source: str, session: tuple[str, str, str], raw: str) -> int:
        cursor = self._run(
            "INSERT INTO inbox(source, session, raw) VALUES (?, ?, ?)",
            (source, json.dumps(session), raw),
        )
        return int(cursor.lastrowid or 0)

    def handled(self, message_id: int) -> None:
        self._run("UPDATE inbox SET done = 1 WHERE id = ?", (message_id,))

    def pending(self) -> Iterator[JournalMessage]:
        rows = self._run(
            "SELECT id, source, session, raw FROM inbox WHERE done = 0 ORDER BY id"
        ).fetchall()
        for row in rows:
            yield JournalMessage(int(row[0]), str(row[1]), _session(row[2]), str(row[3]))


class Journal(_Database):
    """The gateway's journal (see the module docstring)."""

    def __init__(self, path: Path, *, full_sync: bool = False) -> None:
        super().__init__(path, _SCHEMA, full_sync=full_sync)

    # decisions and bundles ---------------------------------------------------------
    def decide(self, decision: JournalDecision) -> None:
        self._run(
            "INSERT OR REPLACE INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                json.dumps(decision.session),
                decision.list_id,
                int(decision.accepted),
                decision.text,
                json.dumps(decision.cl_ord_ids),
                decision.bundle_id,
                decision.reject_reason,
            ),
        )

    def accept(self, bundle: JournalBundle, decision: JournalDecision) -> None:
        """The bundle and its acceptance, in one transaction, before forwarding."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO bundles VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0)",
                    (
                        bundle.bundle_id,
                        json.dumps(bundle.session),
                        bundle.list_id,
                        json.dumps(bundle.leg_cl_ord_ids),
                        json.dumps(bundle.venue_ids),
                        json.dumps(bundle.legs_qty),
                        bundle.venue_raw,
                        bundle.ack_text,
                    ),
                )
                self._db.execute(
                    "INSERT OR REPLACE INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        json.dumps(decision.session),
                        decision.list_id,
                        1,
                        decision.text,
                        json.dumps(decision.cl_ord_ids),
                        decision.bundle_id,
                        None,
                    ),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def mark(self, bundle_id: str, flag: str) -> None:
        if flag not in ("forwarded", "acked", "done"):
            raise ValueError(flag)
        self._run(f"UPDATE bundles SET {flag} = 1 WHERE bundle_id = ?", (bundle_id,))

    def decisions(self) -> list[JournalDecision]:
        rows = self._run("SELECT * FROM decisions").fetchall()
        return [
            JournalDecision(
                _session(r[0]),
                str(r[1]),
                bool(r[2]),
                str(r[3]),
                tuple(json.loads(r[4])),
                r[5],
                r[6],
            )
            for r in rows
        ]

    def open_bundles(self) -> list[JournalBundle]:
        rows = self._run(
            "SELECT bundle_id, session, list_id, leg_cl_ord_ids, venue_ids, "
            "legs_qty, venue_raw, ack_text, forwarded, acked FROM bundles "
            "WHERE done = 0"
        ).fetchall()
        return [
            JournalBundle(
                str(r[0]),
                _session(r[1]),
                str(r[2]),
                tuple(json.loads(r[3])),
                tuple(json.loads(r[4])),
                tuple(json.loads(r[5])),
                str(r[6]),
                str(r[7]),
                bool(r[8]),
                bool(r[9]),
            )
            for r in rows
        ]

    def all_bundles(self) -> list[tuple[str, str, str, bool, bool, bool]]:
        """(bundle_id, client, list_id, forwarded, acked, done) for ``bidgw journal``."""
        rows = self._run(
            "SELECT bundle_id, session, list_id, forwarded, acked, done FROM bundles ORDER BY rowid"
        ).fetchall()
        return [
            (str(r[0]), _session(r[1])[2], str(r[2]), bool(r[3]), bool(r[4]), bool(r[5]))
            for r in rows
        ]


_VENUE_SCHEMA = """
CREATE TABLE IF NOT EXISTS book (
    list_id TEXT PRIMARY KEY, session TEXT NOT NULL, raw TEXT NOT NULL,
    filled TEXT NOT NULL, notional TEXT NOT NULL,
    started INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0,
    closed TEXT, close_text TEXT NOT NULL DEFAULT '',
    reported INTEGER NOT NULL DEFAULT 0);
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


class VenueJournal(_Database):
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
            " close_text, reported) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)"
            " ON CONFLICT(list_id) DO UPDATE SET"
            " filled = excluded.filled, notional = excluded.notional,"
            " started = excluded.started, done = excluded.done, closed = excluded.closed,"
            " close_text = excluded.close_text, reported = 0",
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
                _session(session),
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
