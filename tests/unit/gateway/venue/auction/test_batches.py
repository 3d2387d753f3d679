"""Large auctions in batches (gateway/venue/auction/batches.py): each batch clears
with what the earlier ones left, the union is verified as one fill, and its gap is
stated against a bound of the whole auction. (Self-trade prevention and price
constraints across batches: test_self_trade.py, test_price_constraints.py.)"""

from __future__ import annotations

from gateway.venue.auction import AuctionConfig, clear, verify
from tests.unit.gateway.venue.auction.test_clearing import BOOK_REFS, TOUCH, pair
from tests.unit.gateway.venue.auction.test_self_trade import owned
from tests.unit.gateway.venue.auction.test_solvers import large_book


def test_a_large_auction_clears_in_batches_with_a_stated_gap():
    """Three independent-looking pairs on the same symbols, in batches of two bundles:
    each batch trades its own pair; the whole is verified, and its gap stated
    against a bound of the whole auction."""
    book = [
        p
        for k in range(3)
        for p in (owned(pair(f"L{k}", "long"), f"a{k}"), owned(pair(f"S{k}", "short"), f"b{k}"))
    ]
    config = AuctionConfig(batch_bundles=2, time_limit_ms=5000)
    result = clear(book, TOUCH, BOOK_REFS, config, seed=3)
    assert result.status == "feasible", result.detail
    assert result.detail.startswith("6 bundles in ")  # batches of 2, then larger if fast
    assert "batches of 2" in result.detail
    assert verify(result, book, TOUCH, BOOK_REFS) == []
    assert set(result.bundle_fills) == {p.bundle.bundle_id for p in book}
    assert result.gap is not None
    assert 0 <= result.gap < 0.01
    whole = clear(book, TOUCH, BOOK_REFS, AuctionConfig(time_limit_ms=5000), seed=3)
    assert result.improvement <= whole.improvement
    again = clear(book, TOUCH, BOOK_REFS, config, seed=3)
    assert (again.bundle_fills, again.contra_fills, again.prices) == (
        result.bundle_fills,
        result.contra_fills,
        result.prices,
    )


def test_a_batched_auction_with_nothing_to_trade_is_no_trade():
    book = [pair(f"L{k}", "long") for k in range(3)]  # nobody buys BBBB
    result = clear(book, TOUCH, BOOK_REFS, AuctionConfig(batch_bundles=1), seed=3)
    assert result.status == "no_trade", result.detail


def test_a_batched_auction_with_no_fill_at_its_time_limit_goes_on_to_a_first_fill(registry):
    """At a 1 ms limit no batch of 100 bundles finds a fill; with first_fill_limit_ms
    the first batch goes on to its first fill, and once something has filled the
    auction keeps to its (long passed) time limit: the second batch is not tried."""
    book, contra, refs = large_book(registry, 200, seed=5)
    hard = AuctionConfig(time_limit_ms=1, first_fill_limit_ms=1, batch_bundles=100)
    # (Here no batch even starts: admission alone takes longer than 1 ms.)
    timed_out = clear(book, contra, refs, hard)
    assert not timed_out.bundle_fills
    assert timed_out.status == "no_solution", timed_out.detail  # not a proof: no no_trade
    config = AuctionConfig(time_limit_ms=1, first_fill_limit_ms=5000, batch_bundles=100)
    result = clear(book, contra, refs, config)
    assert result.status == "feasible", result.detail
    assert result.detail == (
        "200 bundles in 1 batches of 100; 100 not reached in time; no time left to bound the gap"
    )
    assert result.gap is None
    assert result.bundle_fills
    assert verify(result, book, contra, refs) == []
