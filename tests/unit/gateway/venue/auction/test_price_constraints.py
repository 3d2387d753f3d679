"""Price constraints in the auction (issue 17, item 1): a bundle's constraint on the
clearing prices of its symbols (a pair's spread limit) holds exactly at the auction's
prices whenever the bundle fills, in both formulations, both interfaces and in large
auctions cleared in batches; :func:`verify` checks it exactly."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from gateway.core.bundle import Constraint, Leg, OrderBundle, PriceConstraint, Sense, Side
from gateway.core.plugins import StrategyRegistry
from gateway.venue.auction import (
    MAX_PRICE_ROW,
    AuctionConfig,
    AuctionResult,
    ContraOrder,
    Participant,
    SymbolRef,
    clear,
    model_problem,
    verify,
)
from tests.conftest import envelope
from tests.unit.gateway.venue.auction.test_clearing import PRICES, REFS_PROP, SYMBOLS, _price, check

FORMULATIONS: list[Literal["ladder", "big_m"]] = ["ladder", "big_m"]
INTERFACES: list[Literal["highspy", "pulp"]] = ["highspy", "pulp"]
REFS = {
    "AAAA": SymbolRef(Decimal("9.95"), Decimal("10.05")),
    "BBBB": SymbolRef(Decimal("19.95"), Decimal("20.05")),
    "CCCC": SymbolRef(Decimal("4.95"), Decimal("5.05")),
}


def pairs(
    registry: StrategyRegistry,
    bundle_id: str,
    *,
    b_side: str = "Buy",
    a_limit: str,
    b_limit: str,
    spread: str | None = None,
    spread_k: str = "1",
    a: str = "AAAA",
    b: str = "BBBB",
    qty: int = 1000,
    ratio: tuple[str, str] = ("1", "1"),
) -> Participant:
    """A ``pairs`` bundle built by the strategy: B (``b``) on ``b_side``, A on the other
    side, ``q_B / q_A`` within ``ratio``, and the spread limit ``p_B − k·p_A`` (at most
    ``spread`` when B is bought, at least when sold) if given."""
    a_side = "Sell" if b_side == "Buy" else "Buy"
    data: dict[str, Any] = {
        "ratio_min": ratio[0],
        "ratio_max": ratio[1],
        "positions": [
            {"symbol": a, "side": a_side, "qty": qty, "price": a_limit},
            {"symbol": b, "side": b_side, "qty": qty, "price": b_limit},
        ],
    }
    if spread is not None:
        data.update(spread=spread, spread_k=spread_k)
    raw = {"strategy": "pairs", "lot_size": 100, "bidder_data": data}
    bundle = registry.build(envelope(raw), bundle_id=bundle_id)
    return Participant(bundle, tuple(leg.max_qty for leg in bundle.legs))


def run(
    book: list[Participant],
    contra: list[ContraOrder],
    refs: dict[str, SymbolRef] = REFS,
    *,
    formulation: Literal["ladder", "big_m"] = "ladder",
    interface: Literal["highspy", "pulp"] = "highspy",
    batch_bundles: int = 1000,
) -> AuctionResult:
    config = AuctionConfig(
        formulation=formulation,
        interface=interface,
        time_limit_ms=5000,
        gap=0.0,
        batch_bundles=batch_bundles,
    )
    result = clear(book, contra, refs, config, seed=3)
    assert result.status in ("optimal", "feasible", "no_trade"), result.detail
    assert verify(result, book, contra, refs) == []
    check(result, book, contra, refs)
    return result


# --- the only clearing prices possible -------------------------------------------------

# A buyer of AAAA at 9.98 and a seller of BBBB at 20.02: a pair selling AAAA at 9.98
# and buying BBBB at 20.02 trades with them only at p_A = 9.98 and p_B = 20.02, a
# spread p_B − p_A of 10.04.
FORCED = [
    ContraOrder("CA", "AAAA", Side.BUY, Decimal("9.98"), 1000),
    ContraOrder("CB", "BBBB", Side.SELL, Decimal("20.02"), 1000),
]


@pytest.mark.parametrize("interface", INTERFACES)
@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_a_pair_whose_spread_the_only_prices_break_does_not_fill(registry, formulation, interface):
    """With the spread limit p_B − p_A <= 10.03 the pair cannot fill (10.04 > 10.03);
    the same pair without a spread limit fills all of it at those prices."""
    limited = pairs(registry, "P", a_limit="9.98", b_limit="20.02", spread="10.03")
    result = run([limited], FORCED, formulation=formulation, interface=interface)
    assert result.bundle_fills == {}
    assert result.status == "no_trade"
    free = pairs(registry, "P", a_limit="9.98", b_limit="20.02")
    result = run([free], FORCED, formulation=formulation, interface=interface)
    assert result.bundle_fills == {"P": (1000, 1000)}
    assert result.prices == {"AAAA": Fraction("9.98"), "BBBB": Fraction("20.02")}


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_a_pair_whose_spread_holds_at_the_only_prices_fills(registry, formulation):
    """p_B − p_A <= 10.04 holds at 10.04 exactly (an equality at the edge)."""
    limited = pairs(registry, "P", a_limit="9.98", b_limit="20.02", spread="10.04")
    result = run([limited], FORCED, formulation=formulation)
    assert result.bundle_fills == {"P": (1000, 1000)}
    assert result.prices == {"AAAA": Fraction("9.98"), "BBBB": Fraction("20.02")}


@pytest.mark.parametrize("interface", INTERFACES)
@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_crossing_pairs_with_satisfiable_spreads_fill_at_prices_that_hold_both(
    registry, formulation, interface
):
    """LONG buys BBBB and sells AAAA (p_B − p_A <= 9.97), SHORT the reverse (p_B − p_A
    >= 9.93); all limits at the far side of the spread, so they cross at any prices.
    At the mids the spread is 10.00, which LONG refuses: the auction clears them at
    prices within [9.93, 9.97] of each other, as close to the mids as that allows."""
    long = pairs(registry, "LONG", a_limit="9.95", b_limit="20.05", spread="9.97")
    short = pairs(registry, "SHORT", b_side="Sell", a_limit="10.05", b_limit="19.95", spread="9.93")
    result = run([long, short], [], formulation=formulation, interface=interface)
    assert result.bundle_fills == {"LONG": (1000, 1000), "SHORT": (1000, 1000)}
    spread = result.prices["BBBB"] - result.prices["AAAA"]
    assert Fraction("9.93") <= spread <= Fraction("9.97")
    # Moved toward the mids in turn (AAAA, then BBBB, each as far as the spreads allow
    # with the other fixed): the second reaches its mid or the first already had.
    mids = {s: REFS[s].mid for s in ("AAAA", "BBBB")}
    assert any(result.prices[s] == mids[s] for s in mids), result.prices


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_a_spread_that_holds_at_every_price_leaves_the_others_to_their_prices(
    registry, formulation
):
    """Beside the crossing pairs, WIDE sells BBBB and buys CCCC with a spread limit that
    holds at every price of the references (p_C − p_B <= 100): the model needs no
    price for CCCC, and the prices the spreads of LONG and SHORT need are kept (before:
    CCCC's missing solver price made every price fall back to the mids, LONG's spread
    failed there and the auction dropped both pairs)."""
    long = pairs(registry, "LONG", a_limit="9.95", b_limit="20.05", spread="9.97")
    short = pairs(registry, "SHORT", b_side="Sell", a_limit="10.05", b_limit="19.95", spread="9.93")
    wide = pairs(
        registry, "WIDE", a="BBBB", b="CCCC", a_limit="19.95", b_limit="5.05", spread="100"
    )
    contra = [
        ContraOrder("BB", "BBBB", Side.BUY, Decimal("20.05"), 1000),
        ContraOrder("SC", "CCCC", Side.SELL, Decimal("4.95"), 1000),
    ]
    result = run([long, short, wide], contra, formulation=formulation)
    assert result.excluded == {}
    assert result.bundle_fills == {
        "LONG": (1000, 1000),
        "SHORT": (1000, 1000),
        "WIDE": (1000, 1000),
    }
    assert Fraction("9.93") <= result.prices["BBBB"] - result.prices["AAAA"] <= Fraction("9.97")
    assert result.prices["CCCC"] == 5


def test_the_same_crossing_pairs_fill_at_the_mids_without_spreads(registry):
    long = pairs(registry, "LONG", a_limit="9.95", b_limit="20.05")
    short = pairs(registry, "SHORT", b_side="Sell", a_limit="10.05", b_limit="19.95")
    result = run([long, short], [])
    assert result.prices == {"AAAA": Fraction(10), "BBBB": Fraction(20)}


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_crossing_pairs_whose_spreads_exclude_each_other_do_not_fill(registry, formulation):
    """LONG needs p_B − p_A <= 9.95, SHORT >= 9.96: no prices satisfy both, and they
    only trade with each other."""
    long = pairs(registry, "LONG", a_limit="9.95", b_limit="20.05", spread="9.95")
    short = pairs(registry, "SHORT", b_side="Sell", a_limit="10.05", b_limit="19.95", spread="9.96")
    result = run([long, short], [], formulation=formulation)
    assert result.bundle_fills == {}


def custom(
    bundle_id: str,
    *,
    terms: tuple[tuple[str, str], ...],
    sense: Sense,
    rhs: str,
    remaining: tuple[int, int] = (1000, 1000),
) -> Participant:
    """Buy BBBB at 20.05 and sell AAAA at 9.95 (both through the far side), no
    quantity constraint, one price constraint."""
    bundle = OrderBundle(
        bundle_id=bundle_id,
        legs=(
            Leg(symbol="BBBB", side=Side.BUY, limit_price=Decimal("20.05"), max_qty=1000),
            Leg(symbol="AAAA", side=Side.SELL, limit_price=Decimal("9.95"), max_qty=1000),
        ),
        price_constraints=(
            PriceConstraint(
                name="spread",
                terms=tuple((s, Decimal(a)) for s, a in terms),
                sense=sense,
                rhs=Decimal(rhs),
            ),
        ),
    )
    return Participant(bundle, remaining)


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_a_price_constraint_binds_the_price_of_a_symbol_its_bundle_does_not_trade_here(
    formulation,
):
    """X has nothing left to sell of AAAA, so it can only buy BBBB (from the seller at
    20.00: p_B >= 20.00); its constraint p_B − p_A <= 9.95 then needs p_A >= 10.05.
    AAAA trades only between two contra orders (buy 10.05, sell 10.00), which share no
    order with X: the constraint puts them in X's part, and p_A is 10.05, not the mid."""
    x = custom("X", terms=(("BBBB", "1"), ("AAAA", "-1")), sense=Sense.LE, rhs="9.95")
    x = dataclasses.replace(x, remaining=(1000, 0))
    contra = [
        ContraOrder("SB", "BBBB", Side.SELL, Decimal("20.00"), 500),
        ContraOrder("BA", "AAAA", Side.BUY, Decimal("10.05"), 300),
        ContraOrder("SA", "AAAA", Side.SELL, Decimal("10.00"), 300),
    ]
    result = run([x], contra, formulation=formulation)
    assert result.parts == 1
    assert result.bundle_fills == {"X": (500, 0)}
    assert result.contra_fills == {"SB": 500, "BA": 300, "SA": 300}
    assert result.prices == {"AAAA": Fraction("10.05"), "BBBB": Fraction(20)}


def test_an_earlier_batchs_price_constraint_holds_in_the_later_batches(registry):
    """A book cleared in batches of 1, then 2. P (first batch) buys BBBB from the seller
    at 20.00 and sells AAAA: its spread p_B − p_A <= 9.95 needs p_A >= 10.05. Q (second
    batch) buys AAAA at 9.95 (with a seller there) and earns on CCCC: it would pull p_A
    to 9.95. Q's batch keeps P's spread as a row of its own, so Q does not fill and the
    union verifies (before: Q filled, P's spread failed, and the auction had to drop a
    bundle and start over)."""
    p = pairs(registry, "P", a_limit="9.95", b_limit="20.05", spread="9.95")
    q_bundle = OrderBundle(
        bundle_id="Q",
        legs=(
            Leg(symbol="AAAA", side=Side.BUY, limit_price=Decimal("9.95"), max_qty=1000),
            Leg(symbol="CCCC", side=Side.SELL, limit_price=Decimal("4.95"), max_qty=1000),
        ),
        constraints=(
            Constraint(name="pair", coefficients=(Decimal(1), Decimal(-1)), sense=Sense.EQ),
        ),
    )
    q = Participant(q_bundle, (1000, 1000))
    contra = [
        ContraOrder("SB", "BBBB", Side.SELL, Decimal("20.00"), 1000),
        ContraOrder("BA", "AAAA", Side.BUY, Decimal("10.05"), 1000),
        ContraOrder("SA", "AAAA", Side.SELL, Decimal("9.95"), 2000),
        ContraOrder("BC", "CCCC", Side.BUY, Decimal("5.05"), 1000),
    ]
    result = run([p, q], contra, batch_bundles=1)
    assert result.detail.startswith("2 bundles in 2 batches of 1, 1")
    assert result.excluded == {}
    assert result.bundle_fills == {"P": (1000, 1000)}
    assert result.prices["AAAA"] == Fraction("10.05")
    # Alone, Q fills.
    alone = run([q], contra)
    assert alone.bundle_fills == {"Q": (1000, 1000)}


# --- verify ------------------------------------------------------------------------------


def test_verify_names_a_broken_price_constraint_and_a_missing_price():
    x = custom("X", terms=(("BBBB", "1"), ("AAAA", "-1")), sense=Sense.LE, rhs="9.95")
    contra = [
        ContraOrder("SB", "BBBB", Side.SELL, Decimal("20.00"), 1000),
        ContraOrder("BA", "AAAA", Side.BUY, Decimal("10.05"), 1000),
    ]
    fills = {"X": (1000, 1000)}
    broken = AuctionResult(
        "optimal",
        prices={"AAAA": Fraction(10), "BBBB": Fraction(20)},
        bundle_fills=fills,
        contra_fills={"SB": 1000, "BA": 1000},
    )
    assert verify(broken, [x], contra, REFS) == [
        "X: price constraint spread (p(BBBB) - p(AAAA) <= 9.95) fails: lhs = 10 at the "
        "clearing prices"
    ]
    held = dataclasses.replace(broken, prices={"AAAA": Fraction("10.05"), "BBBB": Fraction(20)})
    assert verify(held, [x], contra, REFS) == []
    x_b_only = custom("X", terms=(("BBBB", "1"), ("AAAA", "-1")), sense=Sense.LE, rhs="9.95")
    missing = AuctionResult(
        "optimal",
        prices={"BBBB": Fraction(20)},
        bundle_fills={"X": (1000, 0)},
        contra_fills={"SB": 1000},
    )
    assert verify(missing, [x_b_only], contra, REFS) == [
        "X: no clearing price for AAAA, which its price constraints name"
    ]


# --- what the model cannot hold ----------------------------------------------------------


def test_price_coefficients_too_large_for_an_exact_row_are_rejected_alone(registry):
    """k = 1.000001: p_B − 1.000001·p_A scales to 1000000·p_B − 1000001·p_A, 2000001 in
    magnitude: HiGHS's tolerances could pass a price one step off. Rejected alone; the
    others clear."""
    bad = pairs(registry, "BAD", a_limit="9.95", b_limit="20.05", spread="10", spread_k="1.000001")
    long = pairs(registry, "LONG", a_limit="9.95", b_limit="20.05")
    short = pairs(registry, "SHORT", b_side="Sell", a_limit="10.05", b_limit="19.95")
    result = run([bad, long, short], [])
    assert result.bundle_fills == {"LONG": (1000, 1000), "SHORT": (1000, 1000)}
    assert result.rejected == {
        "BAD": "price constraint spread: over the clearing prices its coefficients scale "
        "to the coprime integers 1000000, -1000001, 2000001 in magnitude together; "
        f"at most {MAX_PRICE_ROW}"
    }


def test_a_reference_too_wide_on_the_price_grid_is_a_problem_only_with_refs():
    x = custom("X", terms=(("BBBB", "1"), ("AAAA", "-1")), sense=Sense.LE, rhs="9.95")
    assert model_problem(x.bundle, 100) is None
    assert model_problem(x.bundle, 100, REFS) is None
    wide = {**REFS, "AAAA": SymbolRef(Decimal("1"), Decimal("2000"))}  # 199,900 cents
    problem = model_problem(x.bundle, 100, wide)
    assert problem is not None
    assert problem.describe(x.bundle) == (
        "price constraint spread: the reference [1, 2000] of AAAA spans 199900 steps of "
        "the price grid 1/100; at most 100000"
    )
    unknown = {s: r for s, r in REFS.items() if s != "AAAA"}
    problem = model_problem(x.bundle, 100, unknown)
    assert problem is not None
    assert problem.describe(x.bundle) == (
        "price constraint spread: AAAA has no reference market, so no clearing price"
    )


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_a_price_constraint_that_never_holds_in_the_reference_leaves_its_bundle_unfilled(
    formulation,
):
    """p_B − p_A <= 9 holds at no prices within the references (at least 9.90): the
    bundle rests, is neither rejected nor excluded, and does not fill. An equality
    that holds only between grid steps (3·p_A == 30.01) does not fill either."""
    never = custom("N", terms=(("BBBB", "1"), ("AAAA", "-1")), sense=Sense.LE, rhs="9")
    between = custom("E", terms=(("AAAA", "3"),), sense=Sense.EQ, rhs="30.01")
    contra = [
        ContraOrder("SB", "BBBB", Side.SELL, Decimal("19.95"), 1000),
        ContraOrder("BA", "AAAA", Side.BUY, Decimal("10.05"), 1000),
    ]
    for book in ([never], [between]):
        result = run(book, contra, formulation=formulation)
        assert result.bundle_fills == {}
        assert (result.rejected, result.excluded) == ({}, {})
    # 3·p_A == 30.03 (p_A = 10.01) is on the grid: it fills, at that price.
    on_grid = custom("G", terms=(("AAAA", "3"),), sense=Sense.EQ, rhs="30.03")
    result = run([on_grid], contra, formulation=formulation)
    assert result.bundle_fills == {"G": (1000, 1000)}
    assert result.prices["AAAA"] == Fraction("10.01")


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_several_price_constraints_of_one_bundle_hold_together(formulation):
    """A band 9.96 <= p_B − p_A <= 9.97 as two rows, and an equality over two prices
    (p_B + p_A == 30.02): both bundles fill, at prices that hold every row."""
    band = OrderBundle(
        bundle_id="BAND",
        legs=custom("_", terms=(("AAAA", "1"),), sense=Sense.LE, rhs="99").bundle.legs,
        price_constraints=(
            PriceConstraint(
                name="low",
                terms=(("BBBB", Decimal(1)), ("AAAA", Decimal(-1))),
                sense=Sense.GE,
                rhs=Decimal("9.96"),
            ),
            PriceConstraint(
                name="high",
                terms=(("BBBB", Decimal(1)), ("AAAA", Decimal(-1))),
                sense=Sense.LE,
                rhs=Decimal("9.97"),
            ),
        ),
    )
    total = custom("SUM", terms=(("BBBB", "1"), ("AAAA", "1")), sense=Sense.EQ, rhs="30.02")
    contra = [
        ContraOrder("SB", "BBBB", Side.SELL, Decimal("19.95"), 2000),
        ContraOrder("BA", "AAAA", Side.BUY, Decimal("10.05"), 2000),
    ]
    book = [Participant(band, (1000, 1000)), total]
    result = run(book, contra, formulation=formulation)
    assert result.bundle_fills == {"BAND": (1000, 1000), "SUM": (1000, 1000)}
    assert result.prices["BBBB"] + result.prices["AAAA"] == Fraction("30.02")
    assert Fraction("9.96") <= result.prices["BBBB"] - result.prices["AAAA"] <= Fraction("9.97")


# --- properties --------------------------------------------------------------------------


@st.composite
def pair_markets(draw: st.DrawFn) -> dict[str, Any]:
    """Pairs with and without spread limits (spreads near the mids' spread, so they
    bind in some auctions and not in others), hedged bundles, random contra orders
    and owners."""
    bundles = []
    for index in range(draw(st.integers(1, 4))):
        a, b = draw(st.lists(st.sampled_from(SYMBOLS), min_size=2, max_size=2, unique=True))
        b_side = draw(st.sampled_from(["Buy", "Sell"]))
        k = draw(st.sampled_from(["1", "2", "0.5", "1.5", "0.98"]))
        at_mids = Fraction(PRICES[b], 100) - Fraction(k) * Fraction(PRICES[a], 100)
        offset = draw(st.integers(-30, 30))  # beyond ±0.20: rows that always or never hold
        spread = at_mids + Fraction(offset, 100)
        low, high = draw(st.sampled_from([("1", "1"), ("0.5", "2"), ("0", "3")]))
        data: dict[str, Any] = {
            "ratio_min": low,
            "ratio_max": high,
            "positions": [
                {
                    "symbol": symbol,
                    "side": side,
                    "qty": 100 * draw(st.integers(1, 15)),
                    # mostly willing to trade: buys up to 15 cents above the mid
                    "price": str(_price(symbol, sign * draw(st.integers(-5, 15)))),
                }
                for symbol, side, sign in (
                    (a, "Sell" if b_side == "Buy" else "Buy", -1 if b_side == "Buy" else 1),
                    (b, b_side, 1 if b_side == "Buy" else -1),
                )
            ],
        }
        if draw(st.integers(0, 3)):  # most pairs have a spread limit
            text = f"{Decimal(spread.numerator) / Decimal(spread.denominator):f}"
            data.update(spread=text, spread_k=k)
        owner = draw(st.sampled_from(["", "A", "B"]))
        bundles.append(({"strategy": "pairs", "lot_size": 100, "bidder_data": data}, index, owner))
    contra = []
    for c in range(draw(st.integers(2, 12))):
        symbol = draw(st.sampled_from(SYMBOLS))
        contra.append(
            ContraOrder(
                f"C{c}",
                symbol,
                draw(st.sampled_from([Side.BUY, Side.SELL])),
                _price(symbol, draw(st.integers(-12, 12))),
                100 * draw(st.integers(1, 20)),
            )
        )
    stp = {s: draw(st.booleans()) for s in SYMBOLS}
    refs = {s: dataclasses.replace(REFS_PROP[s], self_trade_prevention=stp[s]) for s in SYMBOLS}
    return {"bundles": bundles, "contra": contra, "seed": draw(st.integers(0, 1000)), "refs": refs}


def _book(registry: StrategyRegistry, market: dict[str, Any]) -> list[Participant]:
    book = []
    for raw, index, owner in market["bundles"]:
        bundle = registry.build(envelope(raw), bundle_id=f"P{index}")
        book.append(Participant(bundle, tuple(leg.max_qty for leg in bundle.legs), owner))
    return book


def _without_spreads(book: list[Participant]) -> list[Participant]:
    return [
        dataclasses.replace(p, bundle=dataclasses.replace(p.bundle, price_constraints=()))
        for p in book
    ]


@settings(max_examples=60)
@given(market=pair_markets())
def test_every_fill_of_a_pair_respects_its_spread_at_the_clearing_prices(registry, market):
    """Both formulations at gap 0: every fill passes the independent checker (which
    evaluates each filled bundle's price constraints at the clearing prices), both
    prove the same optimum, and dropping the spread limits never lowers it."""
    book, contra, refs = _book(registry, market), market["contra"], market["refs"]
    improvements = []
    for formulation in FORMULATIONS:
        config = AuctionConfig(formulation=formulation, time_limit_ms=5000, gap=0.0)
        result = clear(book, contra, refs, config, seed=market["seed"])
        assert result.status in ("optimal", "no_trade"), result.detail
        assert (result.rejected, result.excluded) == ({}, {})
        check(result, book, contra, refs)
        assert verify(result, book, contra, refs) == []
        improvements.append(result.improvement)
    assert improvements[0] == improvements[1]
    config = AuctionConfig(time_limit_ms=5000, gap=0.0)
    free = clear(_without_spreads(book), contra, refs, config, seed=market["seed"])
    assert free.improvement >= improvements[0]
    event(f"a spread limit cost improvement: {free.improvement > improvements[0]}")
    filled = [
        p for p in book if p.bundle.price_constraints and p.bundle.bundle_id in result.bundle_fills
    ]
    event(f"pairs with a spread limit filled: {len(filled)}")


@settings(max_examples=30)
@given(market=pair_markets())
def test_batched_auctions_hold_every_filled_pairs_spread(registry, market):
    """The same markets cleared in batches of one bundle, then two (highspy, stopping at
    each batch's first solution): every fill still passes the independent checker."""
    book, contra, refs = _book(registry, market), market["contra"], market["refs"]
    config = AuctionConfig(time_limit_ms=5000, gap=0.0, batch_bundles=1)
    result = clear(book, contra, refs, config, seed=market["seed"])
    assert result.status in ("feasible", "no_trade", "optimal"), result.detail
    assert (result.rejected, result.excluded) == ({}, {})
    check(result, book, contra, refs)
    assert verify(result, book, contra, refs) == []


def test_a_bundle_that_refines_the_grid_past_a_price_constrained_reference_is_left_out():
    """X's spread (on AAAA and BBBB, 0.10 wide) holds on the grid 1/100,000: 10,000 steps.
    A later bundle with limits in 10^-7 would make them 1,000,000 steps, past what the
    price rows hold exactly: it is left out of this auction (it stays in the book), as
    for the objective's bound; X still fills."""
    x = custom("X", terms=(("BBBB", "1"), ("AAAA", "-1")), sense=Sense.LE, rhs="10.00001")
    fine = OrderBundle(
        bundle_id="FINE",
        legs=(Leg(symbol="CCCC", side=Side.BUY, limit_price=Decimal("5.0000001"), max_qty=100),),
    )
    contra = [
        ContraOrder("SB", "BBBB", Side.SELL, Decimal("19.95"), 1000),
        ContraOrder("BA", "AAAA", Side.BUY, Decimal("10.05"), 1000),
    ]
    result = run([x, Participant(fine, (100,))], contra)
    assert result.bundle_fills == {"X": (1000, 1000)}
    assert result.excluded == {
        "FINE": "its price grid 1/10000000 with the auction's 1/100000 makes a reference "
        "that a price constraint names span more than 100000 steps"
    }
