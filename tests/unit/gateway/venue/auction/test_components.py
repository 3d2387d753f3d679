"""Independent parts of an auction (gateway/venue/auction/components.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.venue.auction.components import components


def test_items_sharing_a_symbol_through_others_are_one_part():
    items = [["A", "B"], ["C"], ["B", "D"], ["D", "E"], ["F", "C"], [], ["G"]]
    assert components(items) == [[0, 2, 3], [1, 4], [5], [6]]


def test_no_items_no_parts():
    assert components([]) == []


@given(st.lists(st.lists(st.sampled_from("ABCDEFGHIJ"), max_size=3), max_size=12))
def test_parts_partition_the_items_and_share_no_symbol(items):
    parts = components(items)
    assert sorted(i for part in parts for i in part) == list(range(len(items)))
    symbols = [{s for i in part for s in items[i]} for part in parts]
    for a in range(len(parts)):
        for b in range(a + 1, len(parts)):
            assert not symbols[a] & symbols[b]
    # Each part is connected: growing from its first item reaches all of it.
    for part in parts:
        reached, frontier = {part[0]}, set(items[part[0]])
        grew = True
        while grew:
            grew = False
            for i in part:
                if i not in reached and frontier & set(items[i]):
                    reached.add(i)
                    frontier |= set(items[i])
                    grew = True
        assert reached == set(part)
