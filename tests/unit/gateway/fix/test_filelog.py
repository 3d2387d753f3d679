"""FIX log rotation: copy aside, then empty in place, while a writer keeps appending."""

from __future__ import annotations

from pathlib import Path

from gateway.core.config import FixFilesConfig
from gateway.fix.filelog import FixLogRotation, rotate


def test_rotate_copies_shifts_the_backups_and_empties_the_file(tmp_path: Path) -> None:
    log = tmp_path / "FIX.4.4-BIDGW-DESK1.messages.current.log"
    for day in ("one", "two", "three"):
        log.write_text(f"{day}\n" * 3)
        rotate(log, backups=2)
        assert log.read_bytes() == b""
    assert (tmp_path / f"{log.name}.1").read_text() == "three\n" * 3
    assert (tmp_path / f"{log.name}.2").read_text() == "two\n" * 3
    assert not (tmp_path / f"{log.name}.3").exists()  # "one" is gone: two kept


def test_without_backups_the_file_is_only_emptied(tmp_path: Path) -> None:
    log = tmp_path / "GLOBAL.event.current.log"
    log.write_text("event\n")
    assert rotate(log, backups=0) == 0
    assert log.read_bytes() == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == [log.name]


def test_an_appending_writer_goes_on_at_the_start_of_the_emptied_file(tmp_path: Path) -> None:
    """QuickFIX keeps its log open with O_APPEND (std::ios::app): after the truncation
    its next line is the file's first, with no gap of zeros where the old end was."""
    log = tmp_path / "FIX.4.4-VENUE-BIDGW.messages.current.log"
    with log.open("a") as writer:
        writer.write("before\n")
        writer.flush()
        assert rotate(log, backups=1) == len("before\n")
        writer.write("after\n")
        writer.flush()
    assert log.read_text() == "after\n"
    assert (tmp_path / f"{log.name}.1").read_text() == "before\n"


def test_a_pass_rotates_only_the_current_logs_over_the_limit(tmp_path: Path) -> None:
    (tmp_path / "clients").mkdir()
    big = tmp_path / "clients" / "FIX.4.4-BIDGW-DESK1.messages.current.log"
    small = tmp_path / "clients" / "FIX.4.4-BIDGW-DESK1.event.current.log"
    other = tmp_path / "clients" / "notes.log"
    big.write_bytes(b"x" * 2048)
    small.write_bytes(b"x" * 10)
    other.write_bytes(b"x" * 4096)
    rotation = FixLogRotation(tmp_path, max_bytes=1024, backups=1)
    assert rotation.check() == [big]
    assert big.stat().st_size == 0
    assert (small.stat().st_size, other.stat().st_size) == (10, 4096)
    assert rotation.check() == []  # nothing over the limit any more


def test_the_fix_config_sets_the_limit_in_mib_and_the_copies_kept(tmp_path: Path) -> None:
    rotation = FixLogRotation.for_config(tmp_path, FixFilesConfig(log_max_mb=3, log_backups=2))
    assert (rotation.log_dir, rotation.max_bytes, rotation.backups) == (tmp_path, 3 * 2**20, 2)
