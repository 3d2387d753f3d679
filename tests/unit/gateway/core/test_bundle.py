from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from gateway.core.bundle import Constraint, Leg, OrderBundle, Sense, Side
from gateway.core.errors import BundleError


def _bundle() -> OrderBundle:
    legs = (
        Leg(symbol="A", side=Side.BUY, limit_price=Decimal("1.5"), max_qty=1000),
        Leg(symbol="B", side=Side.SELL, limit_price=Decimal(2), max_qty=500, lot_size=50),
    )
    return OrderBundle(
        bundle_id="b",
        legs=legs,
        constraints=(
            Constraint(name="half", coefficients=(Decimal("0.5"), Decimal(-1)), sense=Sense.EQ),
        ),
        metadata={"client": "X"},
    )


def test_violations_checks_limits_lots_and_constraints_exactly():
    bundle = _bundle()
    assert bundle.violations((200, 100)) == []
    assert bundle.violations((0, 0)) == []
    assert "not a multiple of lot 50" in bundle.violations((200, 120))[0]
    assert "outside [0, 1000]" in bundle.violations((1100, 550))[0]
    assert "constraint half" in bundle.violations((200, 50))[0]
    assert "2 legs" in bundle.violations((1,))[0]


def test_bundle_is_immutable_all_the_way_down():
    bundle = _bundle()
    with pytest.raises(dataclasses.FrozenInstanceError):
        bundle.bundle_id = "c"  # type: ignore[misc]
    with pytest.raises(TypeError):
        bundle.metadata["client"] = "Y"  # type: ignore[index]


def test_inconsistent_bundles_are_refused():
    leg = Leg(symbol="A", side=Side.BUY, limit_price=Decimal(1), max_qty=100)
    with pytest.raises(BundleError, match="duplicate leg buy A"):
        OrderBundle(bundle_id="x", legs=(leg, leg))
    with pytest.raises(BundleError, match="1 coefficients for 2 legs"):
        OrderBundle(
            bundle_id="x",
            legs=(leg, dataclasses.replace(leg, side=Side.SELL)),
            constraints=(Constraint(name="c", coefficients=(Decimal(1),), sense=Sense.LE),),
        )
    with pytest.raises(BundleError, match="no legs"):
        OrderBundle(bundle_id="x", legs=())
    with pytest.raises(BundleError, match="max_qty must be positive"):
        Leg(symbol="A", side=Side.BUY, limit_price=Decimal(1), max_qty=0)


def test_render_reads_like_the_math():
    bundle = _bundle()
    assert bundle.constraints[0].render(bundle.symbols) == "0.5·A - B == 0"
