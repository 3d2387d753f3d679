"""Fixtures for driving the I/O-free decision core directly: no engine, no sockets."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.core.bundle import Constraint, Leg, OrderBundle, Sense, Side
from gateway.router.book import Book
from gateway.router.config import ClientLimits
from gateway.router.decide import Decider
from gateway.router.records import Admit, ListHeader, SessionKey, Solved
from gateway.router.relay import Relay

DESK1: SessionKey = ("FIX.4.4", "BIDGW", "DESK1")
DESK2: SessionKey = ("FIX.4.4", "BIDGW", "DESK2")


class Clock:
    """A hand-driven monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Core:
    """A book with its decider and relay, as the state owner holds them."""

    def __init__(self, *, limits: ClientLimits | None = None, retain: float = 60.0) -> None:
        self.clock = Clock()
        self.book = Book(retain_done_secs=retain)
        self.limits = limits or ClientLimits()
        self.decider = Decider(
            self.book,
            limits=lambda _comp_id: self.limits,
            max_orders_per_list=100,
            run_id="t",
            clock=self.clock,
        )
        self.relay = Relay(self.book, clock=self.clock)


def hedged_bundle(
    bundle_id: str, *, qty: int = 1000, positions: tuple[int, ...] = (0, 1)
) -> OrderBundle:
    """Buy AAAA / sell BBBB, hedged 1:1 in lots of 100."""
    return OrderBundle(
        bundle_id=bundle_id,
        legs=(
            Leg(
                symbol="AAAA",
                side=Side.BUY,
                limit_price=Decimal("10"),
                max_qty=qty,
                position=positions[0],
            ),
            Leg(
                symbol="BBBB",
                side=Side.SELL,
                limit_price=Decimal("20"),
                max_qty=qty,
                position=positions[1],
            ),
        ),
        constraints=(
            Constraint(
                name="hedge", coefficients=(Decimal(1), Decimal(-1)), sense=Sense.EQ, rhs=Decimal(0)
            ),
        ),
    )


def header(
    list_id: str, ids: tuple[str, ...] = ("A", "B"), session: SessionKey = DESK1, **kw: bool
) -> ListHeader:
    return ListHeader(session, list_id, tuple(f"{list_id}-{i}" for i in ids), **kw)


def solved_ok(admit: Admit, bundle: OrderBundle | None = None) -> Solved:
    built = bundle or hedged_bundle(admit.bundle_id)
    return Solved(
        admit.header,
        admit.bundle_id,
        built,
        admit.open_before,
        feasible=True,
        outcome="feasible",
        max_fill=tuple(leg.max_qty for leg in built.legs),
        presolve_ms=0.5,
    )


@pytest.fixture
def core() -> Core:
    return Core()
