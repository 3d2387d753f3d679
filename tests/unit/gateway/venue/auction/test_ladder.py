"""The price ladder (gateway/venue/auction/ladder.py) allows exactly the fills some
price allows."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.bundle import Side
from gateway.venue.auction.ladder import Link, PriceLadder, eligibility, price_ladder

BID, OFFER = Fraction(990, 100), Fraction(1010, 100)
TICKS = [BID + Fraction(k, 100) for k in range(21)]  # 9.90 .. 10.10 in cents


def test_a_buy_and_a_sell_that_cross_share_no_threshold():
    """Buy 10.00, sell 9.95: any price in [9.95, 10.00] fills both; no link needed."""
    ladder = price_ladder([(Side.BUY, Fraction(10)), (Side.SELL, Fraction(995, 100))], BID, OFFER)
    assert ladder == PriceLadder((), (None, None))


def test_a_sell_above_a_buy_gets_one_threshold_for_both():
    """Buy 9.95, sell 10.00: they never fill together. One binary v = [P >= 10.00]:
    the sell needs v = 1, the buy v = 0. The touch orders (buy at the bid, sell at the
    offer) are inside too: the sell at the offer gets its own threshold only if some
    buy lies below it and above 10.00, which none does, so it shares v."""
    orders = [
        (Side.BUY, Fraction(995, 100)),
        (Side.SELL, Fraction(10)),
        (Side.BUY, BID),
        (Side.SELL, OFFER),
        (Side.BUY, OFFER),  # through the far side: always
        (Side.SELL, BID),  # through the far side: always
    ]
    ladder = price_ladder(orders, BID, OFFER)
    assert ladder.thresholds == (Fraction(10),)
    assert ladder.links == (
        Link(0, when_reached=False),
        Link(0, when_reached=True),
        Link(0, when_reached=False),
        Link(0, when_reached=True),
        None,
        None,
    )


def test_an_order_that_can_never_fill_is_refused():
    with pytest.raises(ValueError, match="never"):
        price_ladder([(Side.BUY, Fraction(980, 100))], BID, OFFER)


def test_eligibility_by_side_and_limit():
    assert eligibility(Side.BUY, BID - Fraction(1, 100), BID, OFFER) == "never"
    assert eligibility(Side.BUY, BID, BID, OFFER) == "inside"
    assert eligibility(Side.BUY, OFFER, BID, OFFER) == "always"
    assert eligibility(Side.SELL, OFFER + Fraction(1, 100), BID, OFFER) == "never"
    assert eligibility(Side.SELL, OFFER, BID, OFFER) == "inside"
    assert eligibility(Side.SELL, BID, BID, OFFER) == "always"


def _price_allows(filled: list[tuple[Side, Fraction]]) -> bool:
    """Some price in [bid, offer] (any rational; the ticks and their midpoints cover
    every case for limits on the cent grid) lets every filled order fill."""
    candidates = [*TICKS, *((a + b) / 2 for a, b in itertools.pairwise(TICKS))]
    return any(
        all((p <= limit) if side is Side.BUY else (p >= limit) for side, limit in filled)
        for p in candidates
    )


def _ladder_allows(ladder: PriceLadder, chosen: list[int]) -> bool:
    """Some monotone assignment v_1 >= v_2 >= ... (the first r thresholds reached)
    satisfies every chosen order's link."""
    steps = len(ladder.thresholds)
    for reached in range(steps + 1):
        v = [k < reached for k in range(steps)]
        if all(
            ladder.links[i] is None or v[ladder.links[i].step] == ladder.links[i].when_reached  # type: ignore[union-attr]
            for i in chosen
        ):
            return True
    return False


orders_strategy = st.lists(
    st.tuples(st.sampled_from([Side.BUY, Side.SELL]), st.sampled_from(TICKS)),
    min_size=1,
    max_size=8,
)


@given(orders=orders_strategy, data=st.data())
def test_the_ladder_allows_exactly_the_fills_some_price_allows(orders, data):
    ladder = price_ladder(orders, BID, OFFER)
    # At most one binary per inside buy, and thresholds are inside sell limits.
    assert len(ladder.thresholds) <= sum(1 for side, _ in orders if side is Side.BUY)
    sells = {limit for side, limit in orders if side is Side.SELL}
    assert set(ladder.thresholds) <= sells
    chosen = data.draw(st.lists(st.sampled_from(range(len(orders))), unique=True))
    filled = [orders[i] for i in chosen]
    assert _ladder_allows(ladder, chosen) == _price_allows(filled)
