"""The pre-trade checks (gateway.router.risk), one reason each, in their order."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from gateway.core.bundle import OrderBundle
from gateway.core.instruments import Instrument, InstrumentList
from gateway.router.risk import NO_INSTRUMENTS, RiskLimits, exposure_breach, pretrade_breach

from .conftest import hedged_bundle

LISTED = InstrumentList(
    {
        "AAAA": Instrument("AAAA", 100, Decimal("0.01"), Decimal("9.95"), Decimal("10.05")),
        "BBBB": Instrument("BBBB", 50, Decimal("0.05"), Decimal("19.95"), Decimal("20.05")),
    },
    "venue",
)


def with_leg(index: int, **changes: object) -> OrderBundle:
    bundle = hedged_bundle("B1")
    legs = list(bundle.legs)
    legs[index] = dataclasses.replace(legs[index], **changes)  # type: ignore[arg-type]
    return dataclasses.replace(bundle, legs=tuple(legs))


def test_a_bundle_within_every_check_passes() -> None:
    assert pretrade_breach(hedged_bundle("B1"), LISTED, RiskLimits(Decimal(10))) is None


def test_without_an_instrument_list_every_bundle_is_refused_until_one_arrives() -> None:
    assert pretrade_breach(hedged_bundle("B1"), None, RiskLimits()) == NO_INSTRUMENTS


@pytest.mark.parametrize(
    ("index", "changes", "limits", "reason"),
    [
        (0, {"symbol": "ZZZZ"}, RiskLimits(), "leg 1 (buy ZZZZ): unknown symbol ZZZZ"),
        (1, {}, RiskLimits(restricted_symbols=frozenset({"BBBB"})), "restricted list"),
        (
            0,
            {"lot_size": 150, "max_qty": 1500},
            RiskLimits(),
            "lot size 150 is not a multiple of the counterparty's round lot 100 for AAAA",
        ),
        (
            1,
            {"limit_price": Decimal("20.02")},
            RiskLimits(),
            "limit price 20.02 is not a multiple of the tick 0.05 for BBBB",
        ),
        (
            0,
            {"limit_price": Decimal("11.01")},
            RiskLimits(Decimal(10)),
            "price collar: limit price 11.01 is 10.10% above the reference price 10 for AAAA; "
            "at most 10%",
        ),
        (
            1,
            {"limit_price": Decimal("17.95")},
            RiskLimits(Decimal(10)),
            "price collar: limit price 17.95 is 10.25% below the reference price 20 for BBBB",
        ),
        (0, {}, RiskLimits(max_order_qty={"*": 999}), "quantity 1000 above the limit 999 for AAAA"),
    ],
)
def test_each_check_names_the_leg_and_what_to_change(
    index: int, changes: dict[str, object], limits: RiskLimits, reason: str
) -> None:
    breach = pretrade_breach(with_leg(index, **changes), LISTED, limits)
    assert breach is not None
    assert reason in breach


def test_the_collar_lets_a_limit_at_its_edge_through_and_ignores_the_passive_side() -> None:
    limits = RiskLimits(Decimal(10))
    assert pretrade_breach(with_leg(0, limit_price=Decimal("11.00")), LISTED, limits) is None
    # A buy far below the market is no fat finger: it just does not trade.
    assert pretrade_breach(with_leg(0, limit_price=Decimal("1.00")), LISTED, limits) is None


def test_an_untradable_instrument_is_refused() -> None:
    halted = dataclasses.replace(LISTED.instruments["AAAA"], tradable=False)
    listed = InstrumentList({**LISTED.instruments, "AAAA": halted}, "venue")
    breach = pretrade_breach(hedged_bundle("B1"), listed, RiskLimits())
    assert breach == "leg 1 (buy AAAA): AAAA is not tradable at the counterparty now"


def test_the_open_quantity_limit_counts_what_is_open_plus_the_new_bundle() -> None:
    bundle = hedged_bundle("B1")  # 1000 AAAA, 1000 BBBB
    assert exposure_breach(bundle, {"AAAA": 2000}, {"AAAA": 3000}) is None
    assert exposure_breach(bundle, {"AAAA": 2001}, {"AAAA": 3000}) == (
        "limit: open quantity on AAAA would be 3001 (2001 open + 1000 in this bundle), "
        "at most 3000 for this client"
    )
    assert "on BBBB would be 1000" in (exposure_breach(bundle, {}, {"AAAA": 1000, "*": 999}) or "")
    assert exposure_breach(bundle, {"AAAA": 10**9}, {}) is None


def test_the_instrument_list_survives_its_journal_form() -> None:
    saved = InstrumentList.from_json(LISTED.to_json(), "journal")
    assert saved.instruments == LISTED.instruments
    assert saved.source == "journal"


def test_a_spread_no_price_in_the_venues_ranges_meets_is_refused_before_forwarding() -> None:
    from gateway.core.bundle import PriceConstraint, Sense

    def spread(rhs: str) -> OrderBundle:
        price = PriceConstraint(
            name="spread",
            terms=(("BBBB", Decimal(1)), ("AAAA", Decimal(-1))),
            sense=Sense.GE,
            rhs=Decimal(rhs),
        )
        return dataclasses.replace(
            with_leg(1, limit_price=Decimal("20.00")), price_constraints=(price,)
        )

    # p_BBBB - p_AAAA is at most 20.05 - 9.95 = 10.10 within the bid-offer ranges.
    assert pretrade_breach(spread("10.10"), LISTED, RiskLimits()) is None
    assert pretrade_breach(spread("10.11"), LISTED, RiskLimits()) == (
        "price constraint spread (p(BBBB) - p(AAAA) >= 10.11) cannot hold at clearing prices "
        "within the counterparty's bid-offer ranges: there its left-hand side is at most 10.1; "
        "the bundle could never fill there"
    )
