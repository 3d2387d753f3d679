"""The venue's journal: lookups of bundles that left memory, and compaction (real SQLite)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from gateway.venue.journal import VenueJournal

GW = ("FIX.4.4", "VENUE", "BIDGW")
GW2 = ("FIX.4.4", "VENUE", "BIDGW2")
SOH = "\x01"


def _raw(list_id: str, cl_ord_ids: tuple[str, ...]) -> str:
    orders = "".join(f"11={c}{SOH}67={i}{SOH}55=AAAA{SOH}" for i, c in enumerate(cl_ord_ids, 1))
    return f"8=FIX.4.4{SOH}35=E{SOH}66={list_id}{SOH}73={len(cl_ord_ids)}{SOH}{orders}"


def _accept(journal: VenueJournal, list_id: str, *ids: str, session=GW) -> None:
    journal.save(
        list_id,
        session,
        _raw(list_id, ids),
        [0] * len(ids),
        ["0/1"] * len(ids),
        started=False,
        done=False,
        ids=(list_id, *ids),
    )


def _finish(journal: VenueJournal, list_id: str, legs: int, *, reported: bool = True) -> None:
    journal.save(
        list_id,
        GW,
        "",  # the raw message is written once, at acceptance
        [100] * legs,
        ["1000/1"] * legs,
        started=True,
        done=True,
        closed="4",
        close_text="cancelled on request",
    )
    if reported:
        journal.reported(list_id)


def test_a_finished_bundle_is_found_with_its_last_state(tmp_path: Path) -> None:
    journal = VenueJournal(tmp_path / "v.sqlite")
    _accept(journal, "L1", "L1-1", "L1-2")
    _finish(journal, "L1", 2)
    row = journal.find("L1")
    assert row is not None
    assert (row.session, row.filled, row.notional, row.started, row.done) == (
        GW,
        (100, 100),
        ("1000/1", "1000/1"),
        True,
        True,
    )
    assert (row.closed, row.close_text, row.reported) == ("4", "cancelled on request", True)
    assert row.raw == _raw("L1", ("L1-1", "L1-2"))  # not overwritten by later saves
    assert journal.find("L2") is None


def test_used_ids_are_per_client_and_reported_in_the_order_asked(tmp_path: Path) -> None:
    journal = VenueJournal(tmp_path / "v.sqlite")
    _accept(journal, "L1", "A", "B")
    assert journal.used_id("BIDGW", ("X", "B", "A")) == "B"
    assert journal.used_id("BIDGW", ("L1",)) == "L1"  # a ListID counts as used too
    assert journal.used_id("BIDGW", ("X", "Y")) is None
    assert journal.used_id("BIDGW2", ("A", "B", "L1")) is None
    assert journal.used_id("BIDGW", ()) is None


def test_only_open_or_unreported_rows_are_restored(tmp_path: Path) -> None:
    journal = VenueJournal(tmp_path / "v.sqlite")
    for list_id in ("OPEN", "DONE", "CUT"):
        _accept(journal, list_id, f"{list_id}-1")
    _finish(journal, "DONE", 1)
    _finish(journal, "CUT", 1, reported=False)  # killed before its last report left
    assert [row.list_id for row in journal.restorable()] == ["OPEN", "CUT"]
    assert [row.list_id for row in journal.book()] == ["OPEN", "DONE", "CUT"]


def test_compaction_removes_old_finished_rows_with_their_ids(tmp_path: Path) -> None:
    journal = VenueJournal(tmp_path / "v.sqlite")
    for list_id in ("OPEN", "DONE", "CUT"):
        _accept(journal, list_id, f"{list_id}-1", f"{list_id}-2")
    _finish(journal, "DONE", 2)
    _finish(journal, "CUT", 2, reported=False)
    message = journal.receive("gateway", GW, "raw")
    journal.handled(message)
    assert journal.compact(3600) == {"inbox": 0, "book": 0, "book_ids": 0}
    assert journal.compact(0, now=10**12) == {"inbox": 1, "book": 1, "book_ids": 3}
    assert journal.find("DONE") is None
    assert journal.used_id("BIDGW", ("DONE", "DONE-1", "DONE-2")) is None
    # Open bundles and rows whose last report may not have left always stay.
    assert [row.list_id for row in journal.book()] == ["OPEN", "CUT"]
    assert journal.used_id("BIDGW", ("CUT-2", "OPEN-1")) == "CUT-2"


def test_a_journal_from_before_the_id_table_gets_its_ids(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE book (list_id TEXT PRIMARY KEY, session TEXT NOT NULL,"
            " raw TEXT NOT NULL, filled TEXT NOT NULL, notional TEXT NOT NULL,"
            " started INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0,"
            " closed TEXT, close_text TEXT NOT NULL DEFAULT '',"
            " reported INTEGER NOT NULL DEFAULT 0)"
        )
        db.execute(
            "INSERT INTO book(list_id, session, raw, filled, notional) VALUES (?, ?, ?, ?, ?)",
            (
                "OLD",
                json.dumps(GW2),
                _raw("OLD", ("OLD-1", "X-11")) + f"111=7{SOH}",
                "[0, 0]",
                '["0", "0"]',
            ),
        )
    db.close()
    journal = VenueJournal(path)
    assert journal.used_id("BIDGW2", ("X-11",)) == "X-11"
    assert journal.used_id("BIDGW2", ("OLD",)) == "OLD"
    assert journal.used_id("BIDGW2", ("7", "X-11")) == "X-11"  # 111=7 is not a ClOrdID
    journal.close()
    # Opened again, nothing is added twice.
    again = VenueJournal(path)
    assert again.used_id("BIDGW2", ("OLD-1",)) == "OLD-1"
    again.close()
