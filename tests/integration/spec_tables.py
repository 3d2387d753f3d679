"""fixspec/README.md read as data: each message section's field table, and the values
its Meaning column documents for enumerated fields.

The conformance test (test_conformance.py) holds every message the gateway sends
against these tables; tests/unit/test_fixspec.py holds the tables against the XML.
Nothing here knows the gateway's code: it reads the page a FIX engineer reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tests.conftest import ROOT

README = (ROOT / "fixspec" / "README.md").read_text()

#: Fields whose Meaning cell lists values as ``<value> <meaning>, <value> <meaning>, ...``.
ENUMERATED = frozenset({39, 54, 150, 373, 378, 380, 429, 431, 1386})

#: Standard header and trailer fields (FIX 4.4 StandardHeader/Trailer) a message may
#: carry besides its body; the spec's tables list bodies only.
HEADER_TRAILER = frozenset({8, 9, 10, 34, 35, 43, 49, 52, 56, 97, 122})


@dataclass(frozen=True)
class Row:
    tag: int
    name: str  # without the ↳ marks
    depth: int
    type: str
    required: str
    meaning: str


@dataclass
class Section:
    title: str
    msg_type: str
    direction: str
    rows: list[Row] = field(default_factory=list)

    @property
    def tags(self) -> set[int]:
        return {row.tag for row in self.rows}

    def values(self, tag: int) -> set[str]:
        """The values the Meaning cells of ``tag`` document (empty if not enumerated)."""
        found: set[str] = set()
        for row in self.rows:
            if row.tag == tag and tag in ENUMERATED:
                found |= enumerated_values(row.meaning)
        return found


def _split_top_level(text: str, separator: str = ", ") -> list[str]:
    """``text`` split at ``separator`` outside parentheses."""
    parts, depth, start, index = [], 0, 0, 0
    while index < len(text):
        char = text[index]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and text.startswith(separator, index):
            parts.append(text[start:index])
            start = index + len(separator)
            index = start
            continue
        index += 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


def enumerated_values(meaning: str) -> set[str]:
    """``1 ack (...), 2 response, 4 execution started`` -> {"1", "2", "4"}."""
    values = set()
    for item in _split_top_level(meaning):
        token = item.split()[0]
        if re.fullmatch(r"[0-9]{1,3}|[A-Z]", token):
            values.add(token)
    return values


def sections() -> list[Section]:
    """Every ``### Name (35=X) — direction`` section with its field table."""
    found = []
    for part in README.split("\n### ")[1:]:
        chunk = part.split("\n## ", 1)[0]
        title = chunk.splitlines()[0]
        match = re.search(r"\(35=(\w+)\)\s+—\s+(.*?):?(?:\s|$)", title)
        assert match is not None, title
        direction = title.split("—", 1)[1].split(":", 1)[0].strip()
        section = Section(title, match.group(1), direction)
        for line in chunk.splitlines():
            if not re.match(r"^\| \d+ \|", line):
                continue
            tag, cell, kind, req, meaning = (
                c.strip() for c in line.strip().strip("|").split("|", 4)
            )
            section.rows.append(
                Row(int(tag), cell.replace("↳", "").strip(), cell.count("↳"), kind, req, meaning)
            )
        found.append(section)
    return found


def received_by_client(msg_type: str) -> Section:
    """The section of a message the gateway sends to a client."""
    for section in sections():
        if section.msg_type == msg_type and section.direction.endswith("→ client"):
            return section
    raise KeyError(f"fixspec/README.md has no gateway → client section for 35={msg_type}")
