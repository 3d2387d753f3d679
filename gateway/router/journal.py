"""The gateway's durable journal (SQLite, WAL).

What is written, and when:

* ``inbox`` — every application message from a client or the counterparty,
  inside ``fromApp`` and before the engine advances its sequence number, so a
  crash cannot lose a message the engine already counted as received. A row is
  marked done once the worker has handled it.
* ``decisions`` and ``client_orders`` — every accept/reject, with the client's
  ids: duplicate detection survives restarts and reaches back further than the
  decision core keeps in memory.
* ``bundles`` — every accepted bundle: the id mapping, the raw NewOrderList
  sent downstream, and flags ``forwarded``, ``acked``, ``done``. The row is
  written before the bundle is forwarded, ``forwarded`` after the engine has
  persisted the outgoing message (it then reaches the counterparty through
  QuickFIX's resend if the connection drops), ``acked`` after the acceptance
  was handed to the client's session; ``orders``, each leg's state as last
  relayed (what a resend of the list is answered with), after each report.

On restart the gateway rebuilds its state from these tables, forwards bundles
not marked forwarded (the venue answers a repeated BundleID idempotently),
sends acceptances not marked acked, and handles inbox rows not marked done.

:meth:`Journal.compact` deletes, past a retention window, handled inbox rows,
finished bundles and the decisions of lists with no open bundle; the gateway
runs it periodically and ``bidgw journal compact`` runs it by hand.

``synchronous=NORMAL`` in WAL mode survives a killed process (the fault this
is built for); ``durable: full`` in the config adds an fsync per commit for
power loss.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.core.reports import OrderReport
from gateway.core.store import Database, JournalMessage, session_from_text
from gateway.router.records import Decision, SessionKey

__all__ = [
    "Journal",
    "JournalBundle",
    "JournalDecision",
    "JournalMessage",
]

# After the columns an older journal lacks are added (Journal.__init__).
_INDEXES = """
CREATE INDEX IF NOT EXISTS decisions_age ON decisions(decided_at);
CREATE INDEX IF NOT EXISTS bundles_finished ON bundles(done_at) WHERE done = 1;
"""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    session TEXT NOT NULL, list_id TEXT NOT NULL, accepted INTEGER NOT NULL,
    text TEXT NOT NULL, cl_ord_ids TEXT NOT NULL, bundle_id TEXT, reject_reason INTEGER,
    decided_at REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (session, list_id));
CREATE TABLE IF NOT EXISTS bundles (
    bundle_id TEXT PRIMARY KEY, session TEXT NOT NULL, list_id TEXT NOT NULL,
    leg_cl_ord_ids TEXT NOT NULL, venue_ids TEXT NOT NULL, legs_qty TEXT NOT NULL,
    venue_raw TEXT NOT NULL, ack_text TEXT NOT NULL,
    forwarded INTEGER NOT NULL DEFAULT 0, acked INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0, done_at REAL);
CREATE TABLE IF NOT EXISTS controls (
    name TEXT PRIMARY KEY, value TEXT NOT NULL, saved_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS client_orders (
    session TEXT NOT NULL, cl_ord_id TEXT NOT NULL, list_id TEXT NOT NULL,
    PRIMARY KEY (session, cl_ord_id));
"""


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
    orders: tuple[OrderReport, ...] = ()  # each leg's last relayed state, if any


def _orders_text(orders: Iterable[OrderReport]) -> str:
    return json.dumps(
        [
            [o.cl_ord_id, o.cum_qty, o.leaves_qty, o.cxl_qty, str(o.avg_px), o.ord_status]
            for o in orders
        ]
    )


def _orders(text: str | None) -> tuple[OrderReport, ...]:
    if not text:
        return ()
    return tuple(
        OrderReport(str(c), int(cum), int(leaves), int(cxl), Decimal(str(avg)), str(status))
        for c, cum, leaves, cxl, avg, status in json.loads(text)
    )


class Journal(Database):
    """The gateway's journal (see the module docstring). Also the decision core's
    :class:`~gateway.router.book.History`: decisions that left memory are found here."""

    def __init__(self, path: Path, *, full_sync: bool = False) -> None:
        super().__init__(path, _SCHEMA, full_sync=full_sync)
        if self.add_columns("decisions", {"decided_at": "REAL NOT NULL DEFAULT 0"}):
            # A journal from before client_orders existed: index its ClOrdIDs now.
            self._run(
                "INSERT OR IGNORE INTO client_orders SELECT d.session, j.value, d.list_id"
                " FROM decisions d, json_each(d.cl_ord_ids) j"
            )
        self.add_columns("bundles", {"done_at": "REAL", "orders": "TEXT"})
        self._db.executescript(_INDEXES)

    # decisions and bundles ---------------------------------------------------------
    def _write_decision(self, decision: JournalDecision) -> None:
        """Inside the caller's lock and transaction."""
        session = json.dumps(decision.session)
        self._db.execute(
            "INSERT OR REPLACE INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session,
                decision.list_id,
                int(decision.accepted),
                decision.text,
                json.dumps(decision.cl_ord_ids),
                decision.bundle_id,
                decision.reject_reason,
                time.time(),
            ),
        )
        self._db.executemany(
            "INSERT OR IGNORE INTO client_orders VALUES (?, ?, ?)",
            [(session, cl_ord_id, decision.list_id) for cl_ord_id in decision.cl_ord_ids],
        )

    def decide(self, decision: JournalDecision) -> None:
        with self._transaction():
            self._write_decision(decision)

    def accept(self, bundle: JournalBundle, decision: JournalDecision) -> None:
        """The bundle and its acceptance, in one transaction, before forwarding."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO bundles(bundle_id, session, list_id, leg_cl_ord_ids,"
                " venue_ids, legs_qty, venue_raw, ack_text, forwarded, acked, done, done_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, NULL)",
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
            self._write_decision(decision)

    def mark(self, bundle_id: str, flag: str) -> None:
        if flag == "done":
            self._run(
                "UPDATE bundles SET done = 1, done_at = ? WHERE bundle_id = ?",
                (time.time(), bundle_id),
            )
            return
        if flag not in ("forwarded", "acked"):
            raise ValueError(flag)
        self._run(f"UPDATE bundles SET {flag} = 1 WHERE bundle_id = ?", (bundle_id,))

    # controls: the kill switches and the last instrument list survive a restart ----------
    def save_control(self, name: str, value: str) -> None:
        """Keep ``value`` under ``name`` (``killed``, ``instruments``), replacing it."""
        self._run(
            "INSERT OR REPLACE INTO controls (name, value, saved_at) VALUES (?, ?, ?)",
            (name, value, time.time()),
        )

    def control(self, name: str) -> str | None:
        row = self._run("SELECT value FROM controls WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def save_orders(self, bundle_id: str, orders: Iterable[OrderReport]) -> None:
        """Each leg's state after a relayed report (in the client's ClOrdIDs)."""
        self._run(
            "UPDATE bundles SET orders = ? WHERE bundle_id = ?", (_orders_text(orders), bundle_id)
        )

    # history: duplicate detection beyond what is in memory ---------------------------
    def past_orders(self, session: SessionKey, list_id: str) -> tuple[OrderReport, ...] | None:
        """The legs' last relayed state of the bundle accepted for ``list_id`` (as accepted
        when no report came yet); None when the journal no longer has the bundle."""
        row = self._run(
            "SELECT orders, leg_cl_ord_ids, legs_qty FROM bundles"
            " WHERE session = ? AND list_id = ?",
            (json.dumps(session), list_id),
        ).fetchone()
        if row is None:
            return None
        return _orders(row[0]) or tuple(
            OrderReport(str(c), leaves_qty=int(q))
            for c, q in zip(json.loads(row[1]), json.loads(row[2]), strict=True)
        )

    def past_decision(self, session: SessionKey, list_id: str) -> Decision | None:
        row = self._run(
            "SELECT accepted, text, cl_ord_ids, bundle_id, reject_reason FROM decisions"
            " WHERE session = ? AND list_id = ?",
            (json.dumps(session), list_id),
        ).fetchone()
        if row is None:
            return None
        return Decision(bool(row[0]), str(row[1]), tuple(json.loads(row[2])), row[3], row[4])

    def used_cl_ord_id(self, session: SessionKey, cl_ord_ids: Iterable[str]) -> str | None:
        ids = list(cl_ord_ids)
        if not ids:
            return None
        marks = ",".join("?" * len(ids))
        rows = self._run(
            f"SELECT cl_ord_id FROM client_orders WHERE session = ? AND cl_ord_id IN ({marks})",
            (json.dumps(session), *ids),
        ).fetchall()
        used = {str(r[0]) for r in rows}
        return next((c for c in ids if c in used), None)

    # retention ---------------------------------------------------------------------
    def compact(self, retention_secs: float, *, now: float | None = None) -> dict[str, int]:
        """Delete what is older than ``retention_secs`` and no longer needed, in batches
        (``fromApp`` journals between them): handled inbox rows, finished bundles, and
        the decisions (with their ClOrdIDs) of lists whose bundle row is gone or that
        never had one. A decision stays while an unhandled inbox row at least as old
        exists (a replay after long downtime must still find it). Duplicate ListIDs
        and ClOrdIDs are thus detected for at least ``retention_secs`` after the
        decision, and for as long as the bundle's row stays."""
        cutoff = (time.time() if now is None else now) - retention_secs
        counts = {"inbox": self.compact_inbox(cutoff)}
        counts["bundles"] = self._in_batches(
            "SELECT rowid FROM bundles WHERE done = 1 AND COALESCE(done_at, 0) < ? LIMIT ?",
            (cutoff,),
            lambda rows: self._db.executemany(
                "DELETE FROM bundles WHERE rowid = ?", [(row[0],) for row in rows]
            ),
        )
        oldest_open = self._run("SELECT MIN(at) FROM inbox WHERE done = 0").fetchone()[0]
        decided_before = cutoff if oldest_open is None else min(cutoff, float(oldest_open))
        removed_orders = 0

        def delete_decisions(rows: list[tuple[int, str, str, str]]) -> None:
            nonlocal removed_orders
            self._db.executemany(
                "DELETE FROM decisions WHERE rowid = ?", [(row[0],) for row in rows]
            )
            orders = [(s, c, lid) for _, s, lid, ids in rows for c in json.loads(ids)]
            cursor = self._db.executemany(
                "DELETE FROM client_orders WHERE session = ? AND cl_ord_id = ? AND list_id = ?",
                orders,
            )
            removed_orders += cursor.rowcount

        counts["decisions"] = self._in_batches(
            "SELECT rowid, session, list_id, cl_ord_ids FROM decisions WHERE decided_at < ?"
            " AND NOT EXISTS (SELECT 1 FROM bundles b WHERE b.session = decisions.session"
            " AND b.list_id = decisions.list_id) LIMIT ?",
            (decided_before,),
            delete_decisions,
        )
        counts["client_orders"] = removed_orders
        return counts

    def _in_batches(
        self,
        select: str,
        params: tuple[object, ...],
        delete: Callable[[list[Any]], object],
        batch: int = 500,
    ) -> int:
        """Select up to ``batch`` rows and delete them in one transaction, until none
        are left; the lock is released between batches."""
        total = 0
        while True:
            with self._transaction() as db:
                rows = db.execute(select, (*params, batch)).fetchall()
                delete(rows)
            if not rows:
                return total
            total += len(rows)

    def open_bundles(self) -> list[JournalBundle]:
        rows = self._run(
            "SELECT bundle_id, session, list_id, leg_cl_ord_ids, venue_ids, "
            "legs_qty, venue_raw, ack_text, forwarded, acked, orders FROM bundles "
            "WHERE done = 0"
        ).fetchall()
        return [
            JournalBundle(
                str(r[0]),
                session_from_text(r[1]),
                str(r[2]),
                tuple(json.loads(r[3])),
                tuple(json.loads(r[4])),
                tuple(json.loads(r[5])),
                str(r[6]),
                str(r[7]),
                bool(r[8]),
                bool(r[9]),
                _orders(r[10]),
            )
            for r in rows
        ]

    def all_bundles(self) -> list[tuple[str, str, str, bool, bool, bool]]:
        """(bundle_id, client, list_id, forwarded, acked, done) for ``bidgw journal``."""
        rows = self._run(
            "SELECT bundle_id, session, list_id, forwarded, acked, done FROM bundles ORDER BY rowid"
        ).fetchall()
        return [
            (str(r[0]), session_from_text(r[1])[2], str(r[2]), bool(r[3]), bool(r[4]), bool(r[5]))
            for r in rows
        ]
