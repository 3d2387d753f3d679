"""Self-trade prevention in the auction (issue 12, item 5): on a symbol with it on,
the bundles of one owner fill on one side only, in both formulations and in
large auctions cleared in batches; :func:`verify` checks it exactly."""

from __future__ import annotations

import dataclasses
from typing import Literal

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from gateway.venue.auction import (
    AuctionConfig,
    AuctionResult,
    Participant,
    SymbolRef,
    clear,
    verify,
)
from tests.unit.gateway.venue.auction.test_clearing import (
    BOOK_REFS,
    TOUCH,
    check,
    normal_fills,
    pair,
)

FORMULATIONS: list[Literal["ladder", "big_m"]] = ["ladder", "big_m"]


def owned(participant: Participant, owner: str) -> Participant:
    return dataclasses.replace(participant, owner=owner)


def refs_with(**switches: bool) -> dict[str, SymbolRef]:
    """BOOK_REFS with self-trade prevention switched per symbol (default on)."""
    return {
        symbol: dataclasses.replace(ref, self_trade_prevention=switches.get(symbol, True))
        for symbol, ref in BOOK_REFS.items()
    }


def run(
    book: list[Participant],
    refs: dict[str, SymbolRef],
    formulation: Literal["ladder", "big_m"],
) -> AuctionResult:
    config = AuctionConfig(formulation=formulation, time_limit_ms=5000, gap=0.0)
    result = clear(book, TOUCH, refs, config, seed=3)
    assert result.status in ("optimal", "feasible", "no_trade"), result.detail
    assert verify(result, book, TOUCH, refs) == []
    return result


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_one_owners_crossing_bundles_do_not_both_fill(formulation):
    """LONG buys AAAA and sells BBBB, SHORT the reverse: they only trade with each
    other (nothing else buys BBBB). Of one owner, they would fill on both sides of
    both symbols, so neither fills."""
    book = [owned(pair("LONG", "long"), "desk-1"), owned(pair("SHORT", "short"), "desk-1")]
    result = run(book, refs_with(), formulation)
    assert result.bundle_fills == {}


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_the_same_pair_of_two_owners_fills(formulation):
    book = [owned(pair("LONG", "long"), "desk-1"), owned(pair("SHORT", "short"), "desk-2")]
    normal_fills(run(book, refs_with(), formulation))


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_with_the_switch_off_the_same_owners_pair_fills(formulation):
    book = [owned(pair("LONG", "long"), "desk-1"), owned(pair("SHORT", "short"), "desk-1")]
    normal_fills(run(book, refs_with(AAAA=False, BBBB=False), formulation))


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_the_switch_on_one_symbol_is_enough_to_prevent_it(formulation):
    book = [owned(pair("LONG", "long"), "desk-1"), owned(pair("SHORT", "short"), "desk-1")]
    result = run(book, refs_with(AAAA=False), formulation)
    assert result.bundle_fills == {}


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_an_unknown_owner_is_never_prevented(formulation):
    book = [pair("LONG", "long"), pair("SHORT", "short")]  # owner "" (not set)
    normal_fills(run(book, refs_with(), formulation))


def test_verify_finds_a_self_trade():
    """The two-owner fill, re-read as one owner's: verify names both bundles."""
    refs = refs_with()
    apart = [owned(pair("LONG", "long"), "desk-1"), owned(pair("SHORT", "short"), "desk-2")]
    result = clear(apart, TOUCH, refs, seed=3)
    normal_fills(result)
    together = [owned(p, "desk-1") for p in apart]
    problems = verify(result, together, TOUCH, refs)
    assert len(problems) == 4  # each bundle, on AAAA and on BBBB
    assert all("owner 'desk-1' both buys" in p for p in problems)
    assert problems[0] == (
        "LONG: owner 'desk-1' both buys (LONG) and sells (SHORT) AAAA with self-trade prevention on"
    )
    assert verify(result, together, TOUCH, refs_with(AAAA=False, BBBB=False)) == []


def test_a_bundle_of_a_prevented_owner_still_trades_with_others():
    """desk-1's LONG and SHORT cannot both fill, but desk-2's SHORT can take LONG's
    other side: one of desk-1's bundles fills, with desk-2's."""
    book = [
        owned(pair("LONG", "long"), "desk-1"),
        owned(pair("SHORT", "short"), "desk-1"),
        owned(pair("OTHER", "short"), "desk-2"),
    ]
    result = run(book, refs_with(), "ladder")
    assert result.bundle_fills["LONG"] == (2000, 1000)
    assert result.bundle_fills["OTHER"] == (2000, 1000)
    assert "SHORT" not in result.bundle_fills


# --- large auctions in batches (the batches themselves: test_batches.py) -------------


def test_self_trade_prevention_holds_across_batches():
    """desk-1 buys AAAA in the first batch (L0 with S0); in the second its S1 would
    sell AAAA to desk-3's L1: S1 cannot, so neither of the second pair fills."""
    book = [
        owned(pair("L0", "long"), "desk-1"),
        owned(pair("S0", "short"), "desk-2"),
        owned(pair("L1", "long"), "desk-3"),
        owned(pair("S1", "short"), "desk-1"),
    ]
    config = AuctionConfig(batch_bundles=2, time_limit_ms=5000)
    result = clear(book, TOUCH, BOOK_REFS, config, seed=3)
    assert verify(result, book, TOUCH, BOOK_REFS) == []
    assert set(result.bundle_fills) == {"L0", "S0"}


# --- by property -------------------------------------------------------------------------

ROLES = st.tuples(
    st.sampled_from(["long", "short"]),
    st.sampled_from(["", "A", "B"]),  # "": unknown owner
    st.integers(1, 20),  # AAAA lots; BBBB half of it, rounded up
)


@settings(max_examples=40)
@given(
    roles=st.lists(ROLES, min_size=3, max_size=6),
    switches=st.fixed_dictionaries({"AAAA": st.booleans(), "BBBB": st.booleans()}),
)
def test_no_owner_ever_fills_both_sides_of_a_prevented_symbol(roles, switches):
    """Books of crossing pairs with random owners and switches: every fill passes the
    independent checker (test_auction.check, which checks self-trades on its own),
    and both formulations prove the same optimum."""
    book = []
    for number, (direction, owner, lots) in enumerate(roles):
        qty = (100 * lots, 100 * -(-lots // 2))
        book.append(owned(pair(f"P{number}", direction, qty=qty), owner))
    refs = refs_with(**switches)
    results = [run(book, refs, formulation) for formulation in FORMULATIONS]
    for result in results:
        check(result, book, TOUCH, refs)
    assert results[0].improvement == results[1].improvement
    event(f"bundles filled: {len(results[0].bundle_fills)}")
