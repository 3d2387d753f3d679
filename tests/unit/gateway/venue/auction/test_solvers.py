"""How a model reaches HiGHS (gateway/venue/auction/solvers.py): through highspy or
as a PuLP problem, the same model and the same answer; and when HiGHS stops (the
time limit, and the first fill after it)."""

from __future__ import annotations

import random
import time
from decimal import Decimal
from typing import Any

import gateway.venue.auction.clearing as clearing
import gateway.venue.auction.solvers as solvers
from gateway.core.bundle import Side
from gateway.core.plugins import BidderPayload, StrategyRegistry
from gateway.venue.auction import (
    AuctionConfig,
    ContraOrder,
    Participant,
    SymbolRef,
    clear,
    verify,
)
from tests.unit.gateway.venue.auction.test_clearing import BOOK_REFS, TOUCH, pair
from tests.unit.gateway.venue.auction.test_self_trade import owned


def test_both_interfaces_give_the_same_auction():
    book = [owned(pair("LONG", "long"), "desk-1"), owned(pair("SHORT", "short"), "desk-2")]
    results = [
        clear(book, TOUCH, BOOK_REFS, AuctionConfig(interface=interface), seed=3)
        for interface in ("highspy", "pulp")
    ]
    assert results[0].bundle_fills == results[1].bundle_fills
    assert results[0].contra_fills == results[1].contra_fills
    assert results[0].prices == results[1].prices


def large_book(
    registry: StrategyRegistry, bundles: int, seed: int
) -> tuple[list[Participant], list[ContraOrder], dict[str, SymbolRef]]:
    """A book like bench/auction.py's: 40 symbols, ``bundles`` five-leg beta-neutral
    bundles (limits at the far side or the mid), and thin contra liquidity at the
    touch. On 200 bundles HiGHS needs ~0.15 s to find its first fill worth more than
    nothing (2 shared cores)."""
    rng = random.Random(seed)
    refs = {}
    for index in range(40):
        mid = Decimal(rng.randint(1000, 20000)) / 100
        half = Decimal(rng.randint(1, 10)) / 100
        refs[f"S{index:02d}"] = SymbolRef(mid - half, mid + half)
    contra = [
        ContraOrder(f"{s}-{side.name}", s, side, ref.bid if side is Side.BUY else ref.offer, 1000)
        for s, ref in refs.items()
        for side in (Side.BUY, Side.SELL)
    ]
    book = []
    for index in range(bundles):
        positions = []
        for k, symbol in enumerate(rng.sample(sorted(refs), 5)):
            ref, side = refs[symbol], ("Buy" if k % 2 == 0 else "Sell")
            far = ref.offer if side == "Buy" else ref.bid
            positions.append(
                {
                    "symbol": symbol,
                    "side": side,
                    "price": str(rng.choice([far, (ref.bid + ref.offer) / 2])),
                    "qty": 100 * rng.randint(10, 60),
                    "beta_coeff": str(Decimal(rng.randint(50, 150)) / 100),
                }
            )
        payload = {
            "strategy": "beta_neutral",
            "bidder_data": {"beta_tol": 20, "positions": positions},
        }
        bundle = registry.build(BidderPayload.model_validate(payload), bundle_id=f"B{index}")
        book.append(Participant(bundle, tuple(leg.max_qty for leg in bundle.legs)))
    return book, contra, refs


def test_a_small_part_whose_lp_optimum_is_whole_is_not_given_to_the_mip(monkeypatch):
    """Two pairs that cross: the LP relaxation's optimum is whole, so it is the answer
    (solvers.LP_FIRST_MAX_COLUMNS); the MIP gives the same auction."""
    book = [pair("LONG", "long"), pair("SHORT", "short")]
    runs = _note_relaxations(monkeypatch)
    lp_first = clear(book, TOUCH, BOOK_REFS, AuctionConfig(), seed=3)
    assert runs
    assert all(run is not None and run.status == "optimal" for run in runs)
    tried = len(runs)
    monkeypatch.setattr(solvers, "LP_FIRST_MAX_COLUMNS", 0)
    mip = clear(book, TOUCH, BOOK_REFS, AuctionConfig(), seed=3)
    assert len(runs) == tried  # no relaxation tried: the MIP alone
    assert lp_first.status == mip.status == "optimal"
    assert (lp_first.bundle_fills, lp_first.contra_fills, lp_first.prices) == (
        mip.bundle_fills,
        mip.contra_fills,
        mip.prices,
    )
    assert lp_first.improvement == mip.improvement > 0


def test_a_fractional_lp_optimum_goes_on_to_the_mip(monkeypatch):
    """AAAA = 2 · BBBB against 3 lots of AAAA for sale: the LP buys 3 and sells 1.5, the
    MIP 2 and 1."""
    contra = [
        ContraOrder("AAAA-flow", "AAAA", Side.SELL, Decimal("10.00"), 300),
        ContraOrder("BBBB-flow", "BBBB", Side.BUY, Decimal("20.00"), 1000),
    ]
    runs = _note_relaxations(monkeypatch)
    result = clear([pair("LONG", "long")], contra, BOOK_REFS, AuctionConfig(), seed=3)
    assert runs == [None]
    assert result.status == "optimal"
    assert result.bundle_fills == {"LONG": (200, 100)}
    assert result.contra_fills == {"AAAA-flow": 200, "BBBB-flow": 100}


def _note_relaxations(monkeypatch: Any) -> list[Any]:
    """What each LP-first relaxation returned, in order (the real one runs)."""
    runs: list[Any] = []
    real = solvers._whole_relaxation

    def note(h: Any, model: Any) -> Any:
        run = real(h, model)
        runs.append(run)
        return run

    monkeypatch.setattr(solvers, "_whole_relaxation", note)
    return runs


def test_an_auction_with_no_fill_at_its_time_limit_goes_on_to_its_first_fill(registry):
    """At a 1 ms limit HiGHS holds no fill of a 200-bundle book (it needs ~0.15 s): with
    first_fill_limit_ms equal to it nothing fills, as before the setting existed; with
    5 s the auction stops at HiGHS's first fill, verified, well before those 5 s."""
    book, contra, refs = large_book(registry, 200, seed=5)
    hard = clear(book, contra, refs, AuctionConfig(time_limit_ms=1, first_fill_limit_ms=1))
    assert not hard.bundle_fills, hard.status
    assert hard.status == "no_solution", hard.status  # not proven: never no_trade
    config = AuctionConfig(time_limit_ms=1, first_fill_limit_ms=5000)
    result = clear(book, contra, refs, config)
    assert result.status == "feasible", result.detail
    assert result.bundle_fills
    assert result.improvement > 0
    assert verify(result, book, contra, refs) == []
    assert result.solve_ms < 4000  # it stopped at a fill, not at the limit


def test_the_first_fill_window_counts_from_the_end_of_admission(registry, monkeypatch):
    """A book so large that checking its bundles takes longer than the first-fill window
    (5,000 bundles: ~0.3 s against 0.5 s) still gets the whole window to solve in.
    Here admission is made to take 1 s, against a 0.8 s window; counted from the
    start of the auction, the window was over before the solve began."""
    book, contra, refs = large_book(registry, 200, seed=5)
    real_admit = clearing.admit

    def slow_admit(*args: Any, **kwargs: Any) -> Any:
        admitted = real_admit(*args, **kwargs)
        time.sleep(1.0)
        return admitted

    monkeypatch.setattr(clearing, "admit", slow_admit)
    result = clear(book, contra, refs, AuctionConfig(time_limit_ms=1, first_fill_limit_ms=800))
    assert result.status == "feasible", result.detail
    assert result.bundle_fills
    assert verify(result, book, contra, refs) == []


def test_a_solve_that_holds_a_fill_at_its_time_limit_is_not_cut_short(registry):
    """The first-fill limit only matters while HiGHS holds no fill: a 30-bundle book
    solved to its gap within the time limit gets the same answer with it. (Stopping
    every solve at its first fill instead gives a 3%-off fill here.)"""
    book, contra, refs = large_book(registry, 30, seed=5)
    hard, longer = (
        clear(book, contra, refs, AuctionConfig(time_limit_ms=3000, first_fill_limit_ms=ms))
        for ms in (3000, 6000)
    )
    assert hard.status == longer.status == "optimal"
    assert hard.improvement == longer.improvement
    assert hard.bundle_fills == longer.bundle_fills


def test_the_first_fill_limit_never_shortens_the_time_limit_and_needs_the_callback():
    assert AuctionConfig().first_fill_limit_s == 0.5
    assert AuctionConfig(time_limit_ms=2000).first_fill_limit_s == 2.0
    assert AuctionConfig(time_limit_ms=80, first_fill_limit_ms=80).first_fill_limit_s == 0.08
    # Through PuLP (CBC, or the pulp interface) and with big_m there is no callback.
    assert AuctionConfig(solver="cbc").first_fill_limit_s == 0.08
    assert AuctionConfig(interface="pulp").first_fill_limit_s == 0.08
    assert AuctionConfig(formulation="big_m").first_fill_limit_s == 0.08
