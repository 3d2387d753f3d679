"""The call auction end to end (gateway/venue/auction/clearing.py, :func:`clear`):
hand-checked case, invariants by property, determinism."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from gateway.core.bundle import Constraint, Leg, OrderBundle, Sense, Side
from gateway.venue.auction import (
    AuctionConfig,
    AuctionResult,
    ContraOrder,
    Participant,
    SymbolRef,
    clear,
    verify,
)
from tests.conftest import envelope, seed_hedge

REFS = {
    "AAAA": SymbolRef(Decimal("9.90"), Decimal("10.10")),
    "BBBB": SymbolRef(Decimal("19.90"), Decimal("20.10")),
    "CCCC": SymbolRef(Decimal("4.90"), Decimal("5.10")),
}


def test_seed_hedge_sample_fills_as_derived_by_hand(registry):
    """The seed sample (buy AAAA ≤ 2000 @ 10, sell BBBB ≤ 1000 @ 20, buy CCCC ≤ 1000 @ 5;
    4·AAAA = 36·BBBB + 9·CCCC) against: a seller of 900 AAAA @ 9.95 and a buyer of
    100 BBBB @ 20.05, nothing in CCCC.

    CCCC cannot trade, so 4a = 36b: a = 9b. BBBB is capped at 100 by its only
    buyer, so b = 100 and a = 900, which the AAAA seller can just supply. The
    only other hedged fill is the empty one, which improves nothing.
    Prices: AAAA must lie in [9.95 (seller), 10.00 (our buy limit)]; the mid 10.00
    is in it. BBBB in [20.00 (our sell limit), 20.05 (buyer)]; the mid 20.00 is
    in it. Improvement: seller (10.00 − 9.95)·900 = 45, buyer (20.05 − 20.00)·100
    = 5, the bundle trades at its limits: total 50.
    """
    bundle = registry.build(envelope(seed_hedge()), bundle_id="SEED")
    contra = [
        ContraOrder("S1", "AAAA", Side.SELL, Decimal("9.95"), 900),
        ContraOrder("B1", "BBBB", Side.BUY, Decimal("20.05"), 100),
    ]
    result = clear([Participant(bundle, (2000, 1000, 1000))], contra, REFS, seed=1)
    assert result.status == "optimal", result.detail
    assert result.bundle_fills == {"SEED": (900, 100, 0)}
    assert result.contra_fills == {"S1": 900, "B1": 100}
    assert result.prices == {"AAAA": Fraction(10), "BBBB": Fraction(20)}
    assert result.improvement == 50


def test_plain_crossing_orders_trade_at_the_mid():
    contra = [
        ContraOrder("B", "AAAA", Side.BUY, Decimal("10.10"), 500),
        ContraOrder("S", "AAAA", Side.SELL, Decimal("9.90"), 300),
    ]
    result = clear([], contra, REFS)
    assert result.contra_fills == {"B": 300, "S": 300}
    assert result.prices == {"AAAA": Fraction(10)}


def test_nothing_to_trade_is_not_an_error():
    contra = [ContraOrder("B", "AAAA", Side.BUY, Decimal("9.80"), 500)]  # below the bid
    assert clear([], contra, REFS).status == "no_trade"


def test_bundle_that_cannot_hedge_in_this_auction_does_not_fill(registry):
    # Liquidity only for AAAA: any AAAA fill needs a hedge, so nothing trades.
    bundle = registry.build(envelope(seed_hedge()), bundle_id="SEED")
    contra = [ContraOrder("S1", "AAAA", Side.SELL, Decimal("9.95"), 900)]
    result = clear([Participant(bundle, (2000, 1000, 1000))], contra, REFS)
    assert result.bundle_fills == {}
    assert result.status == "no_trade"


# --- properties --------------------------------------------------------------------

SYMBOLS = ["AAAA", "BBBB", "CCCC"]
PRICES = {"AAAA": 1000, "BBBB": 2000, "CCCC": 500}  # mid in cents


def _price(symbol: str, offset: int) -> Decimal:
    return Decimal(PRICES[symbol] + offset) / 100


@st.composite
def markets(draw: st.DrawFn) -> dict[str, Any]:
    bundles = []
    for b in range(draw(st.integers(0, 4))):
        symbols = draw(st.lists(st.sampled_from(SYMBOLS), min_size=2, max_size=3, unique=True))
        positions = []
        for k, symbol in enumerate(symbols):
            side = draw(st.sampled_from(["Buy", "Sell"]))
            coeff = draw(st.integers(1, 12)) * (1 if k == 0 else -1)
            positions.append(
                {
                    "symbol": symbol,
                    "side": side,
                    "hedge_qty_coeff": coeff,
                    "qty": 100 * draw(st.integers(1, 20)),
                    "price": str(_price(symbol, draw(st.integers(-15, 15)))),
                }
            )
        if draw(st.booleans()):
            data = {"target_hedge_ratio": draw(st.sampled_from([1, 2, 3])), "positions": positions}
        else:
            data = {"hedge_ratio_min": "-0.5", "hedge_ratio_max": "0.5", "positions": positions}
        owner = draw(st.sampled_from(["", "A", "B"]))  # "": unknown, never prevented
        bundles.append(({"strategy": "single_factor_hedged", "bidder_data": data}, f"X{b}", owner))
    contra = []
    for c in range(draw(st.integers(2, 14))):
        symbol = draw(st.sampled_from(SYMBOLS))
        side = draw(st.sampled_from([Side.BUY, Side.SELL]))
        contra.append(
            ContraOrder(
                f"C{c}",
                symbol,
                side,
                _price(symbol, draw(st.integers(-12, 12))),
                100 * draw(st.integers(1, 20)),
            )
        )
    stp = {s: draw(st.booleans()) for s in SYMBOLS}  # self-trade prevention per symbol
    refs = {s: SymbolRef(_price(s, -10), _price(s, 10), stp[s]) for s in SYMBOLS}
    return {"bundles": bundles, "contra": contra, "seed": draw(st.integers(0, 1000)), "refs": refs}


REFS_PROP = {s: SymbolRef(_price(s, -10), _price(s, 10)) for s in SYMBOLS}


def check(result, participants, contra, refs=REFS_PROP) -> None:
    """Independent of gateway.venue.auction.verify: the rules, in exact arithmetic."""
    net = dict.fromkeys(SYMBOLS, 0)
    # (symbol, owner) -> the sides that owner's bundles filled on a symbol with
    # self-trade prevention: never both
    sides: dict[tuple[str, str], set[Side]] = {}
    for participant in participants:
        bundle = participant.bundle
        fills = result.bundle_fills.get(bundle.bundle_id, (0,) * len(bundle.legs))
        assert bundle.violations(list(fills)) == []  # constraints, lots, limits
        if any(fills):
            # Price constraints bind where the bundle fills: Σ a·p (sense) rhs, exactly.
            for price in bundle.price_constraints:
                lhs = sum(Fraction(a) * result.prices[s] for s, a in price.terms)
                rhs = Fraction(price.rhs)
                assert {"<=": lhs <= rhs, "==": lhs == rhs, ">=": lhs >= rhs}[price.sense.value], (
                    bundle.bundle_id,
                    price.render(),
                    lhs,
                )
        for leg, qty, left in zip(bundle.legs, fills, participant.remaining, strict=True):
            assert qty <= left
            if qty:
                price = result.prices[leg.symbol]
                assert (
                    (price <= leg.limit_price)
                    if leg.side is Side.BUY
                    else (price >= leg.limit_price)
                )
                net[leg.symbol] += qty if leg.side is Side.BUY else -qty
                if participant.owner and refs[leg.symbol].self_trade_prevention:
                    sides.setdefault((leg.symbol, participant.owner), set()).add(leg.side)
    assert all(len(both) == 1 for both in sides.values()), sides
    for order in contra:
        qty = result.contra_fills.get(order.order_id, 0)
        assert 0 <= qty <= order.qty
        assert qty % order.lot_size == 0
        if qty:
            price = result.prices[order.symbol]
            assert (price <= order.limit) if order.side is Side.BUY else (price >= order.limit)
            net[order.symbol] += qty if order.side is Side.BUY else -qty
    assert all(v == 0 for v in net.values()), net
    for symbol, price in result.prices.items():
        assert refs[symbol].bid <= price <= refs[symbol].offer
        # A finite decimal (the venue reports it as LastPx): 2s and 5s in the denominator.
        denominator = price.denominator
        for factor in (2, 5):
            while denominator % factor == 0:
                denominator //= factor
        assert denominator == 1, (symbol, price)


@settings(max_examples=60)
@given(market=markets())
def test_every_auction_fill_satisfies_every_rule_and_is_reproducible(registry, market):
    participants = []
    for raw, bundle_id, owner in market["bundles"]:
        bundle = registry.build(envelope(raw), bundle_id=bundle_id)
        remaining = tuple(leg.max_qty for leg in bundle.legs)
        participants.append(Participant(bundle, remaining, owner))
    refs = market["refs"]
    config = AuctionConfig(time_limit_ms=2000, gap=0.0)
    result = clear(participants, market["contra"], refs, config, seed=market["seed"])
    assert result.status in ("optimal", "feasible", "no_trade"), result.detail
    check(result, participants, market["contra"], refs)
    event(f"bundles filled: {len(result.bundle_fills)}")
    both_sides = {
        (leg.symbol, p.owner, leg.side)
        for p in participants
        for leg in p.bundle.legs
        if p.owner and refs[leg.symbol].self_trade_prevention
    }
    crossing = any((s, o, Side.SELL) in both_sides for s, o, side in both_sides if side is Side.BUY)
    event(f"an owner on both sides of a prevented symbol: {crossing}")
    again = clear(participants, market["contra"], refs, config, seed=market["seed"])
    assert (again.bundle_fills, again.contra_fills, again.prices) == (
        result.bundle_fills,
        result.contra_fills,
        result.prices,
    )
    # The model before issue 15 (continuous prices, big-M) proves the same optimum.
    before = AuctionConfig(time_limit_ms=2000, gap=0.0, formulation="big_m")
    old = clear(participants, market["contra"], refs, before, seed=market["seed"])
    assert old.status in ("optimal", "no_trade"), old.detail
    check(old, participants, market["contra"], refs)
    assert old.improvement == result.improvement


# --- one bundle never fails the auction for all (issue 10, finding 3) -------------------

BOOK_REFS = {
    "AAAA": SymbolRef(Decimal("9.95"), Decimal("10.05")),
    "BBBB": SymbolRef(Decimal("19.95"), Decimal("20.05")),
}
# The venue's synthetic touch liquidity on a 0.0001 grid, as config/venue.yaml has it.
TOUCH = [
    ContraOrder("AAAA-bid", "AAAA", Side.BUY, Decimal("9.9500"), 1000),
    ContraOrder("AAAA-offer", "AAAA", Side.SELL, Decimal("10.0500"), 1000),
    ContraOrder("AAAA-flow", "AAAA", Side.SELL, Decimal("10.0013"), 500),
]


def pair(
    bundle_id: str,
    direction: str,
    *,
    aaaa_limit: str | None = None,
    hedge: tuple[str, str] = ("1", "-2"),
    sense: Sense = Sense.EQ,
    rhs: str = "0",
    qty: tuple[int, int] = (2000, 1000),
) -> Participant:
    """AAAA = 2 · BBBB at the far side of the spread (``long`` buys AAAA); the two
    directions cross each other at any price in the spread."""
    long = direction == "long"
    bundle = OrderBundle(
        bundle_id=bundle_id,
        legs=(
            Leg(
                symbol="AAAA",
                side=Side.BUY if long else Side.SELL,
                limit_price=Decimal(aaaa_limit or ("10.05" if long else "9.95")),
                max_qty=qty[0],
            ),
            Leg(
                symbol="BBBB",
                side=Side.SELL if long else Side.BUY,
                limit_price=Decimal("19.95" if long else "20.05"),
                max_qty=qty[1],
            ),
        ),
        constraints=(
            Constraint(
                name="hedge",
                coefficients=(Decimal(hedge[0]), Decimal(hedge[1])),
                sense=sense,
                rhs=Decimal(rhs),
            ),
        ),
    )
    return Participant(bundle, qty)


NORMAL_BOOK = [pair("LONG", "long"), pair("SHORT", "short")]


def normal_fills(result: AuctionResult) -> None:
    assert result.status in ("optimal", "feasible"), result.detail
    assert result.bundle_fills["LONG"] == (2000, 1000)
    assert result.bundle_fills["SHORT"] == (2000, 1000)


def test_the_normal_book_fills():
    normal_fills(clear(NORMAL_BOOK, TOUCH, BOOK_REFS, seed=3))


def test_a_price_on_a_grid_of_1e_26_is_rejected_alone_and_the_others_fill():
    """The issue's price made the objective's price grid 10^-26 for every order: all
    coefficients ~10^29, past HiGHS's infinite cost (10^20); HiGHS called every
    auction infeasible and no bundle filled (before: status no_solution)."""
    bad = pair("BAD", "long", aaaa_limit="9.95000000000000000000000001")
    result = clear([*NORMAL_BOOK, bad], TOUCH, BOOK_REFS, seed=3)
    normal_fills(result)
    assert "BAD" not in result.bundle_fills
    assert list(result.rejected) == ["BAD"]
    assert result.rejected["BAD"].startswith(
        "limit price of leg 1 (buy AAAA): 9.95000000000000000000000001 on the price grid "
        "1/100000000000000000000000000 counts 99500000000000000000000000100 per lot"
    )
    # The same bundle arriving first changes nothing.
    again = clear([bad, *NORMAL_BOOK], TOUCH, BOOK_REFS, seed=3)
    normal_fills(again)
    assert list(again.rejected) == ["BAD"]


def test_a_price_with_14_decimals_is_rejected_alone():
    """14 decimals: objective coefficients near 10^19, beyond exact doubles."""
    bad = pair("BAD", "long", aaaa_limit="9.95000000000001")
    result = clear([*NORMAL_BOOK, bad], TOUCH, BOOK_REFS, seed=3)
    normal_fills(result)
    assert list(result.rejected) == ["BAD"]


def test_a_coefficient_highs_refuses_is_rejected_alone():
    """3.0000000000000003 against -3 scales to the row 10000000000000001·a -
    10000000000000000·b; HiGHS refuses values of 10^15 and more, drops the row, and
    PuLP then fails reading the solution (before: IndexError out of clear)."""
    bad = pair("BAD", "long", hedge=("3.0000000000000003", "-3"))
    result = clear([*NORMAL_BOOK, bad], TOUCH, BOOK_REFS, seed=3)
    normal_fills(result)
    assert result.rejected == {
        "BAD": "constraint hedge: over lot counts its coefficients scale to integers up to "
        "10000000000000001; at most 1000000000"
    }


def test_a_constraint_the_empty_fill_breaks_is_rejected_alone():
    """AAAA ≥ 2 · BBBB + 100 forces a fill in every auction: with no partner for it
    (no contra orders here; LONG and SHORT cross each other) the whole model was
    infeasible (before: no_solution, nothing filled)."""
    bad = pair("BAD", "long", sense=Sense.GE, rhs="100")
    result = clear([*NORMAL_BOOK, bad], [], BOOK_REFS, seed=3)
    normal_fills(result)
    assert result.rejected == {
        "BAD": "right-hand side of constraint hedge: 0 >= 100 excludes the empty fill, "
        "which every auction the bundle does not trade in needs"
    }


def test_a_bundle_whose_model_raises_is_rejected_alone():
    """A participant whose part of the model cannot be built (here: remaining
    quantities for one leg of two) is rejected; the auction clears the others
    (before: the ValueError left clear and the venue's auction failed)."""
    broken = Participant(pair("BROKEN", "long").bundle, (2000,))
    result = clear([broken, *NORMAL_BOOK], TOUCH, BOOK_REFS, seed=3)
    normal_fills(result)
    assert list(result.rejected) == ["BROKEN"]
    assert result.rejected["BROKEN"].startswith("cannot be modelled: ValueError: zip()")


def test_a_fill_that_fails_exact_verification_leaves_out_only_its_bundle():
    """1.0000001·AAAA = BBBB over at most 20 lots has only the empty fill, but the row
    over lots, 10000001·a − 10000000·b = 0, is within HiGHS's relative tolerance at
    a = b: the solver fills it, the exact check refuses, and before this every bundle
    went unfilled (status unverified). Now that bundle is left out and the auction
    solved again without it. (PARTNER, AAAA = BBBB the other way, is what BAD would
    trade with; it stays unfilled with BAD gone.)"""
    bad = pair("BAD", "long", hedge=("1.0000001", "-1"), qty=(2000, 2000))
    partner = pair("PARTNER", "short", hedge=("1", "-1"), qty=(2000, 2000))
    result = clear([*NORMAL_BOOK, bad, partner], TOUCH, BOOK_REFS, seed=1)
    normal_fills(result)
    assert "BAD" not in result.bundle_fills
    assert result.excluded == {
        "BAD": "the solver's fill failed exact verification: BAD: constraint hedge fails"
    }
    assert result.rejected == {}


# --- independent parts (issue 15) ---------------------------------------------------------


def test_books_that_share_no_symbol_clear_as_separate_parts_with_the_same_fills():
    """LONG/SHORT trade AAAA and BBBB; a copy of them on CCCC and DDDD shares no symbol:
    two parts (plus none for the contra-free symbols), and each fills as it does alone."""
    refs = {
        **BOOK_REFS,
        "CCCC": SymbolRef(Decimal("9.95"), Decimal("10.05")),
        "DDDD": SymbolRef(Decimal("19.95"), Decimal("20.05")),
    }

    def moved(participant: Participant, bundle_id: str) -> Participant:
        legs = tuple(
            dataclasses.replace(leg, symbol={"AAAA": "CCCC", "BBBB": "DDDD"}[leg.symbol])
            for leg in participant.bundle.legs
        )
        bundle = dataclasses.replace(participant.bundle, bundle_id=bundle_id, legs=legs)
        return Participant(bundle, participant.remaining)

    copy = [moved(NORMAL_BOOK[0], "LONG2"), moved(NORMAL_BOOK[1], "SHORT2")]
    together = clear([*NORMAL_BOOK, *copy], TOUCH, refs, seed=3)
    assert together.parts == 2
    assert together.status == "optimal", together.detail
    alone = clear(NORMAL_BOOK, TOUCH, refs, seed=3)
    assert alone.parts == 1
    assert {b: together.bundle_fills[b] for b in ("LONG", "SHORT")} == alone.bundle_fills
    assert together.bundle_fills["LONG2"] == (2000, 1000)
    assert together.bundle_fills["SHORT2"] == (2000, 1000)
    assert together.improvement == 2 * alone.improvement - _touch_share(alone)
    assert verify(together, [*NORMAL_BOOK, *copy], TOUCH, refs) == []


def _touch_share(result: AuctionResult) -> Fraction:
    """The improvement the contra orders (all on AAAA) add to a result."""
    total = Fraction(0)
    for order in TOUCH:
        qty = result.contra_fills.get(order.order_id, 0)
        if qty:
            total += order.side.sign * (Fraction(order.limit) - result.prices[order.symbol]) * qty
    return total


def test_a_time_limit_passed_before_solving_still_gives_a_verified_answer():
    """With a 1 ms limit every part still gets MIN_SOLVE_MS, and a result it cannot
    prove is reported as feasible or empty, never unverified."""
    config = AuctionConfig(time_limit_ms=1, first_fill_limit_ms=1)
    result = clear(NORMAL_BOOK, TOUCH, BOOK_REFS, config, seed=3)
    assert result.status in ("optimal", "feasible", "no_trade", "no_solution"), result.detail
    assert verify(result, NORMAL_BOOK, TOUCH, BOOK_REFS) == []
