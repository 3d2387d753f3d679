"""A bundle's exclusion count survives a venue restart (real SQLite)."""

from __future__ import annotations

from pathlib import Path

from gateway.venue.journal import VenueJournal

GW = ("FIX.4.4", "VENUE", "BIDGW")


def test_the_exclusion_count_is_kept_across_a_reopen_and_a_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "venue.sqlite"
    journal = VenueJournal(path)
    journal.save("L1", GW, "raw", [0], ["0/1"], started=False, done=False, ids=("L1",))
    assert journal.restorable()[0].exclusions == 0
    journal.excluded("L1", 2)
    journal.save("L1", GW, "raw", [100], ["1000/1"], started=True, done=False)  # a fill
    journal.close()
    reopened = VenueJournal(path)
    (row,) = reopened.restorable()
    assert (row.list_id, row.exclusions, row.filled) == ("L1", 2, (100,))
    reopened.close()
