"""The call auction: hand-checked case, invariants by property, determinism."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from gateway.core.bundle import Side
from gateway.venue.auction import AuctionConfig, ContraOrder, Participant, SymbolRef, clear
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
        bundles.append(({"strategy": "single_factor_hedged", "bidder_data": data}, f"X{b}"))
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
    return {"bundles": bundles, "contra": contra, "seed": draw(st.integers(0, 1000))}


REFS_PROP = {s: SymbolRef(_price(s, -10), _price(s, 10)) for s in SYMBOLS}


def check(result, participants, contra) -> None:
    """Independent of gateway.venue.auction.verify: the rules, in exact arithmetic."""
    net = dict.fromkeys(SYMBOLS, 0)
    for participant in participants:
        bundle = participant.bundle
        fills = result.bundle_fills.get(bundle.bundle_id, (0,) * len(bundle.legs))
        assert bundle.violations(list(fills)) == []  # constraints, lots, limits
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
        assert REFS_PROP[symbol].bid <= price <= REFS_PROP[symbol].offer


@settings(max_examples=60)
@given(market=markets())
def test_every_auction_fill_satisfies_every_rule_and_is_reproducible(registry, market):
    participants = []
    for raw, bundle_id in market["bundles"]:
        bundle = registry.build(envelope(raw), bundle_id=bundle_id)
        participants.append(Participant(bundle, tuple(leg.max_qty for leg in bundle.legs)))
    config = AuctionConfig(time_limit_ms=2000, gap=0.0)
    result = clear(participants, market["contra"], REFS_PROP, config, seed=market["seed"])
    assert result.status in ("optimal", "feasible", "no_trade"), result.detail
    check(result, participants, market["contra"])
    event(f"bundles filled: {len(result.bundle_fills)}")
    again = clear(participants, market["contra"], REFS_PROP, config, seed=market["seed"])
    assert (again.bundle_fills, again.contra_fills, again.prices) == (
        result.bundle_fills,
        result.contra_fills,
        result.prices,
    )
