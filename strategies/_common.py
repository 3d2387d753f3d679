"""Helpers shared by the built-in strategies."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol

from gateway.core.bundle import Leg, OrderBundle, Side
from gateway.core.errors import FieldIssue, PayloadError
from gateway.core.plugins import BuildContext, StrategyConfig


class PositionLike(Protocol):
    @property
    def symbol(self) -> str: ...
    @property
    def side(self) -> Side: ...
    @property
    def qty(self) -> int: ...
    @property
    def price(self) -> Decimal: ...
    @property
    def lot_size(self) -> int | None: ...


def duplicate_issues(positions: Sequence[PositionLike]) -> list[str]:
    """Messages for every symbol+side that appears more than once."""
    seen: dict[tuple[str, Side], int] = {}
    problems: list[str] = []
    for index, position in enumerate(positions):
        key = (position.symbol, position.side)
        if key in seen:
            problems.append(
                f"positions[{index}] repeats {position.side.value} {position.symbol} "
                f"(first at positions[{seen[key]}])"
            )
        else:
            seen[key] = index
    return problems


def build_legs(
    strategy: str, positions: Sequence[PositionLike], config: StrategyConfig, context: BuildContext
) -> tuple[Leg, ...]:
    """Legs in payload order, with lot sizes resolved and limits checked.

    Lot size precedence: the position's own, then the payload's, then the
    strategy config's ``default_lot_size``.
    """
    if len(positions) > config.max_legs:
        reason = f"{len(positions)} positions, more than this strategy's max_legs {config.max_legs}"
        raise PayloadError(
            f"invalid {strategy} payload",
            strategy=strategy,
            issues=[FieldIssue("bidder_data.positions", reason)],
        )
    legs: list[Leg] = []
    issues: list[FieldIssue] = []
    for index, position in enumerate(positions):
        lot = position.lot_size or context.lot_size or config.default_lot_size
        if position.qty < lot:
            issues.append(
                FieldIssue(
                    f"bidder_data.positions[{index}].qty",
                    f"{position.qty} is less than one lot of {lot}: the leg could never fill",
                )
            )
            continue
        legs.append(
            Leg(
                symbol=position.symbol,
                side=position.side,
                limit_price=position.price,
                max_qty=position.qty,
                lot_size=lot,
                position=index,
            )
        )
    if issues:
        raise PayloadError(f"invalid {strategy} payload", strategy=strategy, issues=issues)
    return tuple(legs)


def position_fills(count: int, bundle: OrderBundle, fills: Sequence[int]) -> list[int]:
    """Quantities per payload position from quantities per bundle leg.

    Legs name the position they trade (``Leg.position``); a position no leg
    trades was filled 0.

    Raises:
        ValueError: ``fills`` does not have one quantity per leg, or a leg names
            no position of the payload.
    """
    if len(fills) != len(bundle.legs):
        raise ValueError(f"{len(fills)} fill quantities for {len(bundle.legs)} legs")
    quantities = [0] * count
    for leg, qty in zip(bundle.legs, fills, strict=True):
        if leg.position is None or not 0 <= leg.position < count:
            raise ValueError(f"leg {leg.label} names no position of the payload")
        quantities[leg.position] += qty
    return quantities
