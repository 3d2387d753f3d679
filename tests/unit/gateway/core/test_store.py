"""The journal's owner lock (real flock on a real file)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gateway.core.errors import ConfigError
from gateway.core.store import OwnerLock


def test_a_second_owner_is_refused_with_the_first_ones_pid_until_it_releases(tmp_path: Path):
    journal = tmp_path / "j.sqlite"
    first, second = OwnerLock(journal), OwnerLock(journal)
    first.acquire()
    with pytest.raises(ConfigError, match=rf"in use by another process \(pid {os.getpid()}\)"):
        second.acquire()
    first.release()
    second.acquire()  # free again
    second.release()


def test_the_lock_goes_with_a_killed_process(tmp_path: Path):
    journal = tmp_path / "j.sqlite"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from pathlib import Path
                from gateway.core.store import OwnerLock
                lock = OwnerLock(Path({str(journal)!r}))
                lock.acquire()
                print("held", flush=True)
                time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError, match=rf"\(pid {holder.pid}\)"):
            OwnerLock(journal).acquire()
    finally:
        holder.kill()
        holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()
    lock = OwnerLock(journal)
    lock.acquire()  # SIGKILL released it
    lock.release()
