"""fixspec: the dictionary loads in QuickFIX, and README.md matches the XML."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
import quickfix as fix

from fixspec import DICTIONARY
from fixspec.build import FIELDS, base_dictionary, build
from tests.conftest import ROOT

README = (ROOT / "fixspec" / "README.md").read_text()
XML = ET.parse(DICTIONARY).getroot()
FIELD_DEFS = {int(f.get("number", "0")): f for f in XML.find("fields") or []}


def test_committed_dictionary_is_what_the_builder_produces():
    assert DICTIONARY.read_text() == build(base_dictionary()), (
        "run `python -m fixspec.build` and commit fixspec/FIX44-bidgw.xml"
    )


def test_dictionary_loads_in_quickfix():
    dictionary = fix.DataDictionary(str(DICTIONARY))
    assert dictionary.getVersion() == "FIX.4.4"


def _components() -> dict[str, ET.Element]:
    return {c.get("name", ""): c for c in XML.find("components") or []}


def _required(
    element: ET.Element,
    components: dict[str, ET.Element],
    out: dict[tuple[int, str], str],
    depth: int = 0,
) -> None:
    """(depth, field name) -> Y/N for everything reachable from ``element``."""
    for child in element:
        name = child.get("name", "")
        if child.tag == "component":
            _required(components[name], components, out, depth)
        elif child.tag in ("field", "group"):
            out.setdefault((depth, name), child.get("required", "N"))
            if child.tag == "group":
                _required(child, components, out, depth + 1)


def _sections() -> list[tuple[str, list[list[str]]]]:
    sections = []
    for part in README.split("\n### ")[1:]:
        chunk = part.split("\n## ", 1)[0]
        title = chunk.splitlines()[0]
        rows = [
            [cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in chunk.splitlines()
            if re.match(r"^\| \d+ \|", line)
        ]
        sections.append((title, rows))
    return sections


@pytest.mark.parametrize(("title", "rows"), _sections(), ids=[t for t, _ in _sections()])
def test_message_tables_match_the_dictionary(title, rows):
    msg_type = re.search(r"\(35=(\w+)\)", title).group(1)
    message = XML.find(f"messages/message[@msgtype='{msg_type}']")
    assert message is not None, title
    required: dict[tuple[int, str], str] = {}
    _required(message, _components(), required)
    assert rows, f"no field table under {title}"
    for tag, cell, kind, req, *_ in rows:
        depth = cell.count("↳")
        name = cell.replace("↳", "").strip()
        definition = FIELD_DEFS[int(tag)]
        assert definition.get("name") == name, (title, tag)
        assert definition.get("type") == kind, (title, name)
        assert (depth, name) in required, f"{name} is not in {title} at depth {depth}"
        assert required[(depth, name)] == req, (title, name)


def test_added_fields_table_lists_every_addition():
    table = README.split("## Fields added to FIX 4.4", 1)[1]
    rows = {
        int(m.group(1)): (m.group(2), m.group(3))
        for m in re.finditer(r"^\| (\d+) \| (\w+) \| (\w+) \|", table, re.MULTILINE)
    }
    assert rows == {f.number: (f.name, f.type) for f in FIELDS}


EXAMPLES = re.findall(r"```\n(8=FIX\.4\.4\|.*?)\n```", README)


@pytest.mark.parametrize("example", EXAMPLES)
def test_examples_are_valid_messages(example):
    dictionary = fix.DataDictionary(str(DICTIONARY))
    raw = example.replace("|", "\x01")
    message = fix.Message(raw, dictionary, True)  # checks BodyLength and CheckSum
    assert message.toString() == raw
    dictionary.validate(message) if hasattr(dictionary, "validate") else None


def test_every_message_section_has_an_example():
    for title, _ in _sections():
        chunk = README.split("### " + title, 1)[1].split("\n### ", 1)[0]
        assert "```\n8=FIX.4.4|" in chunk, f"no example for {title}"


def _enum(name: str) -> set[str]:
    definition = next(f for f in FIELD_DEFS.values() if f.get("name") == name)
    return {v.get("enum", "") for v in definition}


def test_every_documented_value_is_a_value_of_the_field_in_the_dictionary():
    """The values a Meaning cell lists (``1 ack, 2 response, ...``) exist in the XML."""
    from tests.integration.spec_tables import sections

    checked = 0
    for section in sections():
        for row in section.rows:
            values = section.values(row.tag)
            if not values:
                continue
            assert values <= _enum(row.name), (section.title, row.name, values - _enum(row.name))
            checked += 1
    assert checked >= 8  # 429, 431, 39 (twice), 150, 378, 380, 373, 1386, 54


def _members(element: ET.Element, components: dict[str, ET.Element]) -> list[ET.Element]:
    """The fields and groups of ``element``, components expanded, in dictionary order."""
    out: list[ET.Element] = []
    for child in element:
        if child.tag == "component":
            out += _members(components[child.get("name", "")], components)
        else:
            out.append(child)
    return out


@pytest.mark.parametrize(("title", "rows"), _sections(), ids=[t for t, _ in _sections()])
def test_group_members_are_listed_in_the_dictionarys_order(title, rows):
    """Inside a repeating group the wire order is the dictionary's: a table listing a
    group's fields must list them in that order (ConstraintText after the terms)."""
    msg_type = re.search(r"\(35=(\w+)\)", title).group(1)
    components = _components()
    message = XML.find(f"messages/message[@msgtype='{msg_type}']")
    assert message is not None
    # Open groups: (depth of their members, the group, the members listed so far).
    open_groups: list[tuple[int, ET.Element, list[str]]] = []
    for _tag, cell, *_ in rows:
        depth = cell.count("↳")
        name = cell.replace("↳", "").strip()
        while open_groups and open_groups[-1][0] > depth:
            open_groups.pop()
        parent = open_groups[-1][1] if depth else message
        if depth:
            order = [m.get("name") for m in _members(parent, components)]
            listed = open_groups[-1][2]
            listed.append(name)
            positions = [order.index(n) for n in listed]
            assert positions == sorted(positions), f"{title}: {listed}, dictionary: {order}"
        for member in _members(parent, components):
            if member.tag == "group" and member.get("name") == name:
                open_groups.append((depth + 1, member, []))
