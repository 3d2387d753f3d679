"""README.md is the user's contract: its commands must be what CI runs."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    quick_start = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", quick_start)


def test_readme_gives_exactly_two_setup_commands():
    commands = _commands()
    assert len(commands) == 2
    assert all(c.startswith("python3.11 -m venv .venv && ") for c in commands)
    assert "bidgw" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text()
    assert _commands()[1] in ci.splitlines()
