"""The auction model's bounds (gateway/venue/auction/admission.py, "One bundle never
fails the auction for all"): :func:`model_problem` names the first part of a bundle
the clearing model cannot hold exactly and safely."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from gateway.core.bundle import Constraint, Leg, OrderBundle, Sense, Side
from gateway.venue.auction import MAX_ROW_ACTIVITY, Unmodellable, model_problem
from tests.unit.gateway.venue.auction.test_clearing import pair


@pytest.mark.parametrize(
    ("bundle", "expected"),
    [
        (
            pair("Q", "long", qty=(10_000_100, 1000)).bundle,
            Unmodellable("quantity", "10000100 is 100001 lots of 100; at most 100000", leg=0),
        ),
        (
            pair("P", "long", aaaa_limit="9.95000001").bundle,
            Unmodellable("price", "9.95000001 is not on the auction's price grid 1/10000", leg=0),
        ),
        (
            pair("P", "long", aaaa_limit="100000000").bundle,
            Unmodellable(
                "price",
                "100000000 on the price grid 1/10000 counts 100000000000000 per lot of 100 "
                "in the auction's objective; at most 1000000000000",
                leg=0,
            ),
        ),
        (
            pair("R", "long", sense=Sense.LE, rhs="-1").bundle,
            Unmodellable(
                "rhs",
                "0 <= -1 excludes the empty fill, which every auction the bundle does not "
                "trade in needs",
                constraint=0,
            ),
        ),
        (
            pair("C", "long", hedge=("1000000001", "-1")).bundle,
            Unmodellable(
                "row",
                "over lot counts its coefficients scale to integers up to 1000000001; "
                "at most 1000000000",
                constraint=0,
            ),
        ),
    ],
)
def test_model_problem_names_the_first_part_the_model_cannot_hold(bundle, expected):
    assert model_problem(bundle, 10_000) == expected


def test_the_row_activity_bound_is_2_to_the_53():
    """90 legs of 100,000 lots with coefficients near 10^9 reach 9·10^15 < 2^53;
    100 such legs pass it."""

    def wide(legs: int) -> OrderBundle:
        return OrderBundle(
            bundle_id="W",
            legs=tuple(
                Leg(symbol=f"S{i:03d}", side=Side.BUY, limit_price=Decimal(10), max_qty=10**7)
                for i in range(legs)
            ),
            constraints=(
                Constraint(
                    name="wide",
                    coefficients=tuple(Decimal(10**9 - i) for i in range(legs)),
                    sense=Sense.LE,
                ),
            ),
        )

    assert model_problem(wide(90), 100) is None
    activity = sum(10**9 - i for i in range(100)) * 100_000
    assert activity > MAX_ROW_ACTIVITY
    assert model_problem(wide(100), 100) == Unmodellable(
        "row", f"over lot counts its activity can reach {activity}; at most 2^53", constraint=0
    )


def test_min_total_fill_needs_the_bundle_within_max_lots_of_its_smallest_lot():
    legs = (
        Leg(symbol="AAAA", side=Side.BUY, limit_price=Decimal(10), max_qty=5_000_000),
        Leg(symbol="BBBB", side=Side.SELL, limit_price=Decimal(20), max_qty=5_000_100),
    )
    bundle = OrderBundle(bundle_id="M", legs=legs, min_total_fill=1000)
    assert model_problem(bundle, 100) == Unmodellable(
        "min_total_fill",
        "1000 needs the bundle's whole quantity within 100000 lots of its smallest lot 100; "
        "it is 10000100",
    )
    smaller = dataclasses.replace(legs[1], max_qty=5_000_000)
    assert model_problem(dataclasses.replace(bundle, legs=(legs[0], smaller)), 100) is None
