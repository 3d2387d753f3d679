"""What the pre-solver knows of price constraints before the auction (gateway.solver.prices)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from gateway.core.bundle import Leg, OrderBundle, PriceConstraint, Sense, Side
from gateway.core.errors import BundleError
from gateway.solver.prices import implied, price_box, unattainable

LEGS = (
    Leg(symbol="AAAA", side=Side.BUY, limit_price=Decimal("10"), max_qty=100),
    Leg(symbol="BBBB", side=Side.SELL, limit_price=Decimal("20"), max_qty=100),
)


def spread(sense: Sense, rhs: str) -> PriceConstraint:
    return PriceConstraint(
        name="s", terms=(("BBBB", Decimal(1)), ("AAAA", Decimal(-1))), sense=sense, rhs=Decimal(rhs)
    )


def bundle(*prices: PriceConstraint) -> OrderBundle:
    return OrderBundle(bundle_id="B", legs=LEGS, price_constraints=prices)


def test_only_forced_legs_bound_their_symbols_price() -> None:
    assert price_box(bundle(), forced=()) == {"AAAA": (0, None), "BBBB": (0, None)}
    assert price_box(bundle(), forced=(0, 1)) == {
        "AAAA": (Fraction(0), Fraction(10)),  # bought: at most its limit
        "BBBB": (Fraction(20), None),  # sold: at least its limit
    }


@pytest.mark.parametrize(
    ("sense", "rhs", "forced", "refused", "is_implied"),
    [
        (Sense.LE, "9.99", (0, 1), True, False),  # p_B - p_A >= 10 when both trade
        (Sense.LE, "10", (0, 1), False, False),  # reachable at the limits exactly
        (Sense.LE, "9.99", (1,), False, False),  # A need not trade: p_A unbounded
        (Sense.GE, "10", (0, 1), False, True),  # the limits imply it
        (Sense.GE, "10.01", (0, 1), False, False),  # binding, reachable (p_B unbounded)
        (Sense.EQ, "9", (0, 1), True, False),
    ],
)
def test_a_constraint_is_refused_only_when_no_prices_within_the_limits_meet_it(
    sense: Sense, rhs: str, forced: tuple[int, ...], refused: bool, is_implied: bool
) -> None:
    price = spread(sense, rhs)
    box = price_box(bundle(price), forced)
    assert (unattainable(price, box) is not None) is refused
    assert implied(price, box) is is_implied


def test_a_price_constraint_must_name_the_bundles_symbols_once() -> None:
    stray = PriceConstraint(name="x", terms=(("ZZZZ", Decimal(1)),), sense=Sense.LE)
    with pytest.raises(BundleError, match="names ZZZZ, which no leg trades"):
        bundle(stray)
    with pytest.raises(BundleError, match="appears twice"):
        PriceConstraint(
            name="x", terms=(("AAAA", Decimal(1)), ("AAAA", Decimal(2))), sense=Sense.LE
        )


def test_a_bundle_with_price_constraints_survives_pickling_for_the_solver_processes() -> None:
    import pickle

    original = bundle(spread(Sense.LE, "1"))
    assert pickle.loads(pickle.dumps(original)) == original
