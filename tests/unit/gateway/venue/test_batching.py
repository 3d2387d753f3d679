"""The venue's batch size (gateway/venue/batching.py): halved after an auction that
ran out of time without a fill, down to the auction's smallest batch; doubled back,
up to the configured size, once GROW_AFTER auctions have filled since."""

from __future__ import annotations

from gateway.venue.auction import MIN_BATCH, AuctionConfig, AuctionResult
from gateway.venue.batching import GROW_AFTER, BatchSize, ran_out_of_time

TIMED_OUT = {"timed_out": True, "filled": False}
FILLED = {"timed_out": False, "filled": True}
NOTHING_FILLED = {"timed_out": False, "filled": False}


def test_it_starts_at_the_configured_size():
    assert BatchSize(1000).current == 1000


def test_an_auction_out_of_time_halves_what_it_cleared_in_one_batch():
    size = BatchSize(1000)
    assert size.after(**TIMED_OUT, bundles=5000) == 500
    assert size.after(**TIMED_OUT, bundles=5000) == 250
    # A book smaller than the batch was cleared in one: half of the book.
    assert BatchSize(1000).after(**TIMED_OUT, bundles=300) == 150


def test_it_never_goes_below_the_smallest_batch():
    size = BatchSize(1000)
    for _ in range(10):
        size.after(**TIMED_OUT, bundles=5000)
    assert size.current == MIN_BATCH
    assert size.after(**TIMED_OUT, bundles=5000) is None
    # A book the smallest batch holds is never split.
    assert BatchSize(1000).after(**TIMED_OUT, bundles=MIN_BATCH) is None
    assert BatchSize(1000).after(**TIMED_OUT, bundles=MIN_BATCH + 2) == MIN_BATCH


def test_it_doubles_back_once_enough_auctions_have_filled():
    size = BatchSize(1000)
    size.after(**TIMED_OUT, bundles=5000)
    size.after(**TIMED_OUT, bundles=5000)
    assert size.current == 250
    for _ in range(GROW_AFTER - 1):
        assert size.after(**FILLED, bundles=4000) is None
        assert size.after(**NOTHING_FILLED, bundles=4000) is None  # neither counts nor resets
    assert size.after(**FILLED, bundles=4000) == 500
    for _ in range(GROW_AFTER - 1):
        size.after(**FILLED, bundles=4000)
    assert size.after(**FILLED, bundles=4000) == 1000
    for _ in range(2 * GROW_AFTER):
        assert size.after(**FILLED, bundles=4000) is None  # never past the configured size
    assert size.current == 1000


def test_an_auction_out_of_time_starts_the_count_again():
    size = BatchSize(1000)
    size.after(**TIMED_OUT, bundles=5000)
    for _ in range(GROW_AFTER - 1):
        size.after(**FILLED, bundles=4000)
    size.after(**TIMED_OUT, bundles=5000)
    assert size.current == 250
    for _ in range(GROW_AFTER - 1):
        assert size.after(**FILLED, bundles=4000) is None
    assert size.after(**FILLED, bundles=4000) == 500


def test_only_a_ladder_auction_that_used_its_first_fill_window_ran_out_of_time():
    config = AuctionConfig()  # an 80 ms limit, a 500 ms first-fill window
    assert ran_out_of_time(AuctionResult("no_solution", solve_ms=512.0), config)
    # A solver error, or a refusal, ends sooner.
    assert not ran_out_of_time(AuctionResult("no_solution", solve_ms=3.0), config)
    assert not ran_out_of_time(AuctionResult("no_trade", solve_ms=600.0), config)
    assert not ran_out_of_time(AuctionResult("optimal", solve_ms=600.0), config)
    filled = AuctionResult("feasible", bundle_fills={"B1": (100, 200)}, solve_ms=600.0)
    assert not ran_out_of_time(filled, config)
    # Only the venue's own orders traded, among themselves: the bundles ran out of time.
    contra_only = AuctionResult("feasible", contra_fills={"AAAA-f0": 300}, solve_ms=600.0)
    assert ran_out_of_time(contra_only, config)
    # big_m never clears in batches.
    big_m = AuctionConfig(formulation="big_m")
    assert not ran_out_of_time(AuctionResult("no_solution", solve_ms=600.0), big_m)
    # Without the callback the window is the time limit (CBC).
    cbc = AuctionConfig(solver="cbc")
    assert ran_out_of_time(AuctionResult("no_solution", solve_ms=81.0), cbc)
