"""The venue's batch size (gateway/venue/batching.py): halved after an auction that
found no fill in its time, down to the auction's smallest batch; doubled back,
up to the configured size, once GROW_AFTER auctions have filled since."""

from __future__ import annotations

from gateway.venue.auction import MIN_BATCH, AuctionResult
from gateway.venue.batching import GROW_AFTER, BatchSize

TIMED_OUT = AuctionResult("no_solution", detail="1113 bundles in 0 batches of ")
FILLED = AuctionResult("feasible", bundle_fills={"B1": (100, 200)})
NOTHING_TO_TRADE = AuctionResult("no_trade")


def test_it_starts_at_the_configured_size():
    assert BatchSize(1000).current == 1000


def test_an_auction_without_a_fill_in_time_halves_what_it_cleared_in_one_batch():
    size = BatchSize(1000)
    assert size.after(TIMED_OUT, 5000) == 500
    assert size.after(TIMED_OUT, 5000) == 250
    # A book smaller than the batch was cleared in one: half of the book.
    assert BatchSize(1000).after(TIMED_OUT, 300) == 150


def test_it_never_goes_below_the_smallest_batch():
    size = BatchSize(1000)
    for _ in range(10):
        size.after(TIMED_OUT, 5000)
    assert size.current == MIN_BATCH
    assert size.after(TIMED_OUT, 5000) is None
    # A book the smallest batch holds is never split.
    assert BatchSize(1000).after(TIMED_OUT, MIN_BATCH) is None
    assert BatchSize(1000).after(TIMED_OUT, MIN_BATCH + 2) == MIN_BATCH


def test_it_doubles_back_once_enough_auctions_have_filled():
    size = BatchSize(1000)
    size.after(TIMED_OUT, 5000)
    size.after(TIMED_OUT, 5000)
    assert size.current == 250
    for _ in range(GROW_AFTER - 1):
        assert size.after(FILLED, 4000) is None
        assert size.after(NOTHING_TO_TRADE, 4000) is None  # neither counts nor resets
    assert size.after(FILLED, 4000) == 500
    for _ in range(GROW_AFTER - 1):
        size.after(FILLED, 4000)
    assert size.after(FILLED, 4000) == 1000
    for _ in range(2 * GROW_AFTER):
        assert size.after(FILLED, 4000) is None  # never past the configured size
    assert size.current == 1000


def test_an_auction_without_a_fill_in_time_starts_the_count_again():
    size = BatchSize(1000)
    size.after(TIMED_OUT, 5000)
    for _ in range(GROW_AFTER - 1):
        size.after(FILLED, 4000)
    size.after(TIMED_OUT, 5000)
    assert size.current == 250
    for _ in range(GROW_AFTER - 1):
        assert size.after(FILLED, 4000) is None
    assert size.after(FILLED, 4000) == 500
