"""The gateway journal as the decision core's history, and its compaction (real SQLite)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gateway.router.journal import Journal, JournalBundle, JournalDecision

DESK1 = ("FIX.4.4", "BIDGW", "DESK1")
DESK2 = ("FIX.4.4", "BIDGW", "DESK2")


def _bundle(bundle_id: str, list_id: str) -> JournalBundle:
    return JournalBundle(
        bundle_id,
        DESK1,
        list_id,
        (f"{list_id}-1",),
        (f"{bundle_id}-1",),
        (100,),
        "raw",
        "ok",
        False,
        False,
    )


def _accepted(list_id: str, bundle_id: str) -> JournalDecision:
    return JournalDecision(
        DESK1, list_id, True, "ok", (f"{list_id}-1", f"{list_id}-2"), bundle_id, None
    )


def test_decisions_and_cl_ord_ids_are_found_per_client(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    journal.decide(JournalDecision(DESK1, "L1", False, "no", ("a", "b"), None, 99))
    found = journal.past_decision(DESK1, "L1")
    assert found is not None
    assert (found.accepted, found.text, found.cl_ord_ids, found.reject_reason) == (
        False,
        "no",
        ("a", "b"),
        99,
    )
    assert journal.past_decision(DESK2, "L1") is None
    assert journal.used_cl_ord_id(DESK1, ["x", "b", "a"]) == "b"
    assert journal.used_cl_ord_id(DESK2, ["a"]) is None
    assert journal.used_cl_ord_id(DESK1, []) is None
    journal.close()


def test_compaction_keeps_open_bundles_and_recent_rows(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    journal.accept(_bundle("B1", "L1"), _accepted("L1", "B1"))  # will finish
    journal.accept(_bundle("B2", "L2"), _accepted("L2", "B2"))  # stays open
    journal.mark("B1", "done")
    message = journal.receive("client", DESK1, "8=FIX.4.4|...")
    journal.handled(message)
    journal.receive("client", DESK1, "unhandled")
    # Nothing is old enough yet.
    assert journal.compact(3600) == {"inbox": 0, "bundles": 0, "decisions": 0, "client_orders": 0}
    counts = journal.compact(0, now=10**12)
    assert counts == {"inbox": 1, "bundles": 1, "decisions": 1, "client_orders": 2}
    assert journal.past_decision(DESK1, "L1") is None  # finished and old: gone
    assert journal.past_decision(DESK1, "L2") is not None  # open bundle: kept
    assert [b.bundle_id for b in journal.open_bundles()] == ["B2"]
    assert [m.raw for m in journal.pending()] == ["unhandled"]
    journal.close()


def test_a_journal_from_the_previous_version_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE inbox (id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL,
            session TEXT NOT NULL, raw TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE decisions (session TEXT NOT NULL, list_id TEXT NOT NULL,
            accepted INTEGER NOT NULL, text TEXT NOT NULL, cl_ord_ids TEXT NOT NULL,
            bundle_id TEXT, reject_reason INTEGER, PRIMARY KEY (session, list_id));
        CREATE TABLE bundles (bundle_id TEXT PRIMARY KEY, session TEXT NOT NULL,
            list_id TEXT NOT NULL, leg_cl_ord_ids TEXT NOT NULL, venue_ids TEXT NOT NULL,
            legs_qty TEXT NOT NULL, venue_raw TEXT NOT NULL, ack_text TEXT NOT NULL,
            forwarded INTEGER NOT NULL DEFAULT 0, acked INTEGER NOT NULL DEFAULT 0,
            done INTEGER NOT NULL DEFAULT 0);
        INSERT INTO decisions
            VALUES ('["FIX.4.4", "BIDGW", "DESK1"]', 'OLD', 0, 'no', '["o1"]', NULL, 6);
        """
    )
    db.close()
    journal = Journal(path)
    assert journal.past_decision(DESK1, "OLD") is not None
    assert journal.used_cl_ord_id(DESK1, ["o1"]) == "o1"  # backfilled from the old rows
    journal.accept(_bundle("B1", "L1"), _accepted("L1", "B1"))
    journal.mark("B1", "done")
    assert journal.compact(0, now=10**12)["bundles"] == 1
    journal.close()


def test_an_unfinished_row_counts_its_replays(tmp_path: Path) -> None:
    """Poison stays poison: the count of restarts that began handling a row again
    survives the next restart (the gateway denies a row replayed once already)."""
    path = tmp_path / "journal.sqlite"
    journal = Journal(path)
    row = journal.receive("client", DESK1, "raw")
    assert [m.replays for m in journal.pending()] == [0]
    journal.replaying(row)
    journal.close()
    journal = Journal(path)
    assert [(m.id, m.replays) for m in journal.pending()] == [(row, 1)]
    journal.handled(row)
    assert list(journal.pending()) == []
    journal.close()


def test_a_decision_stays_while_an_older_unhandled_message_may_replay_it(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    journal.receive("client", DESK1, "unhandled, received before the decision")
    journal.decide(JournalDecision(DESK1, "L1", False, "no", ("a",), None, 99))
    journal.compact(0, now=10**12)
    assert journal.past_decision(DESK1, "L1") is not None
    for message in journal.pending():
        journal.handled(message.id)
    journal.compact(0, now=10**12)
    assert journal.past_decision(DESK1, "L1") is None
    assert journal.used_cl_ord_id(DESK1, ["a"]) is None
    journal.close()


def test_a_finished_bundle_keeps_its_decision_until_its_own_row_goes(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    journal.accept(_bundle("B1", "L1"), _accepted("L1", "B1"))
    journal.mark("B1", "done")
    # The bundle stayed open for a day: its decision is old, its end is recent.
    db = sqlite3.connect(tmp_path / "j.sqlite")
    db.execute("UPDATE decisions SET decided_at = 0")
    db.commit()
    db.close()
    counts = journal.compact(3600)
    assert counts["decisions"] == 0
    assert counts["bundles"] == 0
    assert journal.past_decision(DESK1, "L1") is not None
    assert journal.compact(0, now=10**12)["decisions"] == 1  # once the bundle row goes
    journal.close()


def test_each_legs_last_state_is_kept_for_a_resend_and_a_restart(tmp_path: Path) -> None:
    from decimal import Decimal

    from gateway.core.reports import OrderReport

    journal = Journal(tmp_path / "j.sqlite")
    journal.accept(_bundle("B1", "L1"), _accepted("L1", "B1"))
    # No report yet: the legs as accepted.
    assert journal.past_orders(DESK1, "L1") == (OrderReport("L1-1", leaves_qty=100),)
    filled = (OrderReport("L1-1", 100, 0, 0, Decimal("9.95"), "2"),)
    journal.save_orders("B1", filled)
    assert journal.past_orders(DESK1, "L1") == filled
    assert journal.past_orders(DESK2, "L1") is None
    [restored] = journal.open_bundles()
    assert restored.orders == filled
    journal.close()
