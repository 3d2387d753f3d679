"""How a model reaches HiGHS (gateway/venue/auction/solvers.py): through highspy or
as a PuLP problem, the same model and the same answer."""

from __future__ import annotations

from gateway.venue.auction import AuctionConfig, clear
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
