"""``pairs``: two legs, or two groups of legs, traded in a quantity ratio band
(docs/templates.md §1).

Each position belongs to group ``A`` or ``B`` (with exactly two positions and
no groups given, the first is A and the second B). Over fill quantities
``q_i``::

    q_A = Σ_{i in A} q_i          q_B = Σ_{i in B} q_i

    ratio_min · q_A  <=  q_B  <=  ratio_max · q_A

as two rows, ``q_B − ratio_min·q_A >= 0`` and ``q_B − ratio_max·q_A <= 0``
(one row ``q_B − r·q_A == 0`` when ``ratio_min == ratio_max == r``; the first
row is left out when ``ratio_min`` is 0, where it always holds). Quantities
are in shares (units), not lots, and exact: with lots of 100 on both sides,
``ratio_min = ratio_max = 1.5`` fills A only in multiples of 200. The empty
fill satisfies both rows; B cannot fill without A (``q_B <= ratio_max · 0``).

**Clearing-price spread.** With one position in each group, a pair may also
limit the spread of the two symbols' clearing prices in an auction where it
fills (``spread``, and ``spread_k`` = k, default 1): when B is bought,
``p_B − k·p_A <= spread`` (B costs at most ``spread`` over k times A); when B is
sold, ``p_B − k·p_A >= spread``. It travels as a
:class:`~gateway.core.bundle.PriceConstraint`: the venue's auction holds it
exactly at its clearing prices, and the pre-solver refuses a pair whose limit
prices already rule the spread out (:mod:`gateway.solver.prices`).

:meth:`Pairs.describe_fill` reports a fill's ratio ``q_B / q_A`` next to its
band, exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import BeforeValidator, Field, model_validator

from gateway.core.bundle import Constraint, OrderBundle, PriceConstraint, Sense, Side
from gateway.core.exact import EXACT, to_fraction
from gateway.core.fields import (
    ExactDecimal,
    FrozenModel,
    PositiveDecimal,
    PositiveInt,
    SideField,
    Symbol,
)
from gateway.core.plugins import BuildContext, FillCheck, StrategyConfig
from strategies._common import build_legs, duplicate_issues, position_fills

__all__ = ["PairPosition", "Pairs", "PairsData", "pair_quantities"]


def _group(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


class PairPosition(FrozenModel):
    """One target order of a pairs payload.

    Attributes:
        symbol: instrument.
        side: Buy or Sell.
        qty: the leg's maximum quantity.
        price: the leg's limit price.
        group: ``A`` or ``B`` (any case); optional with exactly two positions.
        lot_size: this leg's lot size (default: the payload's, then the config's).
    """

    symbol: Symbol
    side: SideField
    qty: PositiveInt
    price: PositiveDecimal
    group: Annotated[Literal["A", "B"], BeforeValidator(_group)] | None = None
    lot_size: PositiveInt | None = None


class PairsData(FrozenModel):
    """The pairs bidder payload.

    Attributes:
        positions: the target orders, in group A and group B (at least one each).
        ratio_min: lowest accepted ``q_B / q_A`` (>= 0).
        ratio_max: highest accepted ``q_B / q_A`` (> 0, >= ratio_min).
        spread: limit on ``p_B − spread_k·p_A`` at the clearing prices of an auction
            where the pair fills (an upper limit when B is bought, a lower one when
            B is sold); needs one position per group. Default: none.
        spread_k: the ``k`` of the spread (default 1).
    """

    positions: list[PairPosition] = Field(min_length=2)
    ratio_min: ExactDecimal
    ratio_max: PositiveDecimal
    spread: ExactDecimal | None = None
    spread_k: PositiveDecimal = Decimal(1)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.ratio_min < 0:
            raise ValueError(f"ratio_min must be >= 0, got {self.ratio_min}")
        if self.ratio_min > self.ratio_max:
            raise ValueError(
                f"ratio_min {self.ratio_min} is greater than ratio_max {self.ratio_max}"
            )
        grouped = [p.group is not None for p in self.positions]
        if not any(grouped):
            if len(self.positions) != 2:
                raise ValueError(
                    "give every position a group (A or B), or exactly two positions "
                    "(the first is A, the second B)"
                )
        elif not all(grouped):
            missing = [i for i, g in enumerate(grouped) if not g]
            raise ValueError(
                f"positions {missing} have no group: give every position a group, or none"
            )
        groups = self.groups()
        for name in ("A", "B"):
            if name not in groups:
                raise ValueError(f"group {name} has no position")
        duplicates = duplicate_issues(self.positions)
        if duplicates:
            raise ValueError("; ".join(duplicates))
        first: dict[str, tuple[int, str]] = {}
        for index, (position, group) in enumerate(zip(self.positions, groups, strict=True)):
            seen = first.setdefault(position.symbol, (index, group))
            if seen[1] != group:
                raise ValueError(
                    f"positions[{index}] trades {position.symbol} in group {group}, and "
                    f"positions[{seen[0]}] trades it in group {seen[1]}: the two sides of a "
                    "pair trade different symbols"
                )
        if self.spread is not None and len(self.positions) != 2:
            raise ValueError(
                "spread: a clearing-price spread needs exactly one position in each group"
            )
        return self

    def groups(self) -> list[str]:
        """Each position's group, the two-position default applied."""
        if all(p.group is None for p in self.positions) and len(self.positions) == 2:
            return ["A", "B"]
        return [p.group or "" for p in self.positions]


def pair_quantities(groups: Sequence[str], quantities: Sequence[int]) -> tuple[int, int]:
    """``(q_A, q_B)`` of a fill given per position."""
    q_a = sum(q for g, q in zip(groups, quantities, strict=True) if g == "A")
    q_b = sum(q for g, q in zip(groups, quantities, strict=True) if g == "B")
    return q_a, q_b


def _ratio_text(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _spread(payload: PairsData, groups: Sequence[str]) -> tuple[PriceConstraint, ...]:
    """The spread limit as a price constraint (none without ``spread``)."""
    if payload.spread is None:
        return ()
    a = payload.positions[groups.index("A")]
    b = payload.positions[groups.index("B")]
    k = payload.spread_k.normalize()
    sense = Sense.LE if b.side is Side.BUY else Sense.GE
    limit = payload.spread.normalize()
    scaled = "p_A" if k == 1 else f"{k:f} * p_A"
    return (
        PriceConstraint(
            name="spread",
            terms=((b.symbol, Decimal(1)), (a.symbol, -k)),
            sense=sense,
            rhs=limit,
            description=f"p_B - {scaled} {sense.value} {limit:f} at the clearing prices",
        ),
    )


class Pairs:
    """Strategy plugin for pairs bidders (quantity ratio band)."""

    name: ClassVar[str] = "pairs"
    payload_model: ClassVar[type[PairsData]] = PairsData
    config_model: ClassVar[type[StrategyConfig]] = StrategyConfig

    def build(
        self, payload: PairsData, config: StrategyConfig, context: BuildContext
    ) -> OrderBundle:
        legs = build_legs(self.name, payload.positions, config, context)
        groups = payload.groups()
        low, high = payload.ratio_min, payload.ratio_max
        constraints: list[Constraint] = []
        with localcontext(EXACT):

            def row(ratio: Decimal) -> tuple[Decimal, ...]:
                # q_B − ratio · q_A
                return tuple(Decimal(1) if g == "B" else -ratio for g in groups)

            if low == high:
                constraints.append(
                    Constraint(
                        name="pair_ratio",
                        coefficients=row(low),
                        sense=Sense.EQ,
                        description=f"q_B == {_ratio_text(low)} * q_A",
                    )
                )
            else:
                if low > 0:
                    constraints.append(
                        Constraint(
                            name="ratio_min",
                            coefficients=row(low),
                            sense=Sense.GE,
                            description=f"q_B >= {_ratio_text(low)} * q_A",
                        )
                    )
                constraints.append(
                    Constraint(
                        name="ratio_max",
                        coefficients=row(high),
                        sense=Sense.LE,
                        description=f"q_B <= {_ratio_text(high)} * q_A",
                    )
                )
        return OrderBundle(
            bundle_id=context.bundle_id,
            legs=legs,
            constraints=tuple(constraints),
            metadata=dict(context.metadata),
            price_constraints=_spread(payload, groups),
        )

    def describe_fill(
        self, payload: PairsData, bundle: OrderBundle, fills: Sequence[int]
    ) -> FillCheck:
        """The fill's ratio ``q_B / q_A`` next to the band (undefined when A did not fill;
        such a fill is within only when B did not fill either)."""
        quantities = position_fills(len(payload.positions), bundle, fills)
        q_a, q_b = pair_quantities(payload.groups(), quantities)
        low, high = to_fraction(payload.ratio_min), to_fraction(payload.ratio_max)
        bound = (
            f"target {_ratio_text(payload.ratio_min)}"
            if low == high
            else f"band [{_ratio_text(payload.ratio_min)}, {_ratio_text(payload.ratio_max)}]"
        )
        return FillCheck(
            measure="ratio B/A",
            achieved=Fraction(q_b, q_a) if q_a else None,
            bound=bound,
            within=low * q_a <= q_b <= high * q_a,
        )
