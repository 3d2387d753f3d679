"""``single_factor_hedged``: hedge_data bidders (docs/math.md §2).

Each position carries ``hedge_qty_coeff`` ``c_i``: positive for a primary
(the exposure to hedge), negative for a hedge. Over fill quantities ``q_i``::

    abs_weighted = Σ |c_i| · q_i          net = Σ c_i · q_i

**Exact form** (``target_hedge_ratio`` r, the seed's constraint)::

    abs_weighted == r · net      ⇔   Σ (|c_i| − r·c_i) · q_i == 0

The seed calls ``r = 2`` "an exact hedging ratio of 50%": the *hedging ratio*
is ``ρ = net / abs_weighted ∈ [-1, 1]`` and the constraint says ``ρ = 1/r``.
Since ``abs_weighted ≥ |net|``, only ``|r| ≥ 1`` admits a non-empty fill, so
other values are refused at validation.

**Band form** (``hedge_ratio_min``/``hedge_ratio_max``). The seed writes
``min·net <= abs_weighted <= max·net`` with bounds in [-1, 1]; read literally
that forbids every fill that uses a hedge leg. We implement the consistent
reading, which bounds the hedging ratio itself::

    hedge_ratio_min · abs_weighted  <=  net  <=  hedge_ratio_max · abs_weighted

as two rows: ``Σ (c_i − min·|c_i|) q_i >= 0`` and ``Σ (c_i − max·|c_i|) q_i <= 0``.

The seed's worked sample (AAAA +4, BBBB −12, CCCC −3, r = 2) reduces to
``4·AAAA = 36·BBBB + 9·CCCC``: with lots of 100, the smallest non-empty fill is
AAAA 900, BBBB 100, CCCC 0, whose hedging ratio is ``2400 / 4800 = 1/2``.

:meth:`SingleFactorHedged.describe_fill` reports a fill's achieved hedging
ratio next to its target or band, from the same definitions, exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import ClassVar, Self

from pydantic import Field, model_validator

from gateway.core.bundle import Constraint, OrderBundle, Sense
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

__all__ = ["HedgeData", "HedgePosition", "SingleFactorHedged", "hedge_sums"]


class HedgePosition(FrozenModel):
    """One target order of a hedge_data payload.

    Attributes:
        symbol: instrument.
        side: Buy or Sell.
        hedge_qty_coeff: weight of the fill quantity; > 0 primary, < 0 hedge.
        qty: the leg's maximum quantity (shares/units, not lots).
        price: the leg's limit price.
        lot_size: this leg's lot size (default: the payload's, then the config's).
    """

    symbol: Symbol
    side: SideField
    hedge_qty_coeff: ExactDecimal
    qty: PositiveInt
    price: PositiveDecimal
    lot_size: PositiveInt | None = None

    @model_validator(mode="after")
    def _nonzero(self) -> Self:
        if self.hedge_qty_coeff == 0:
            raise ValueError(
                "hedge_qty_coeff must be non-zero: positive for a primary, negative for a hedge"
            )
        return self


class HedgeData(FrozenModel):
    """The hedge_data bidder payload: exactly one of the exact or band forms."""

    positions: list[HedgePosition] = Field(min_length=1)
    target_hedge_ratio: ExactDecimal | None = None
    hedge_ratio_min: ExactDecimal | None = None
    hedge_ratio_max: ExactDecimal | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        exact = self.target_hedge_ratio is not None
        band = self.hedge_ratio_min is not None or self.hedge_ratio_max is not None
        if exact and band:
            raise ValueError(
                "give either target_hedge_ratio or hedge_ratio_min/hedge_ratio_max, not both"
            )
        if not exact and not band:
            raise ValueError(
                "give target_hedge_ratio (exact form) or hedge_ratio_min and "
                "hedge_ratio_max (band form)"
            )
        if band:
            low, high = self.hedge_ratio_min, self.hedge_ratio_max
            if low is None or high is None:
                raise ValueError("the band form needs both hedge_ratio_min and hedge_ratio_max")
            for name, value in (("hedge_ratio_min", low), ("hedge_ratio_max", high)):
                if not -1 <= value <= 1:
                    raise ValueError(f"{name} must lie in [-1, 1], got {value}")
            if low > high:
                raise ValueError(f"hedge_ratio_min {low} is greater than hedge_ratio_max {high}")
        if self.target_hedge_ratio is not None and abs(self.target_hedge_ratio) < 1:
            raise ValueError(
                f"target_hedge_ratio must satisfy |r| >= 1 (the hedging ratio 1/r lies in "
                f"[-1, 1]); {self.target_hedge_ratio} admits no non-empty fill"
            )
        if not any(p.hedge_qty_coeff > 0 for p in self.positions):
            raise ValueError("no primary position: at least one hedge_qty_coeff must be positive")
        if not any(p.hedge_qty_coeff < 0 for p in self.positions):
            raise ValueError("no hedge position: at least one hedge_qty_coeff must be negative")
        duplicates = duplicate_issues(self.positions)
        if duplicates:
            raise ValueError("; ".join(duplicates))
        return self


def hedge_sums(
    coefficients: Sequence[Decimal], quantities: Sequence[int]
) -> tuple[Fraction, Fraction]:
    """``(abs_weighted, net)`` of a fill, exactly: ``Σ |c_i|·q_i`` and ``Σ c_i·q_i``."""
    abs_weighted = Fraction(0)
    net = Fraction(0)
    for coefficient, qty in zip(coefficients, quantities, strict=True):
        c = to_fraction(coefficient)
        abs_weighted += abs(c) * qty
        net += c * qty
    return abs_weighted, net


def _signed(value: Decimal) -> str:
    """The exact decimal with its sign and at least two places: ``+0.00``, ``-0.125``."""
    exponent = value.normalize().as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"{value:+.{places}f}"


class SingleFactorHedged:
    """Strategy plugin for hedge_data bidders."""

    name: ClassVar[str] = "single_factor_hedged"
    payload_model: ClassVar[type[HedgeData]] = HedgeData
    config_model: ClassVar[type[StrategyConfig]] = StrategyConfig

    def build(
        self, payload: HedgeData, config: StrategyConfig, context: BuildContext
    ) -> OrderBundle:
        legs = build_legs(self.name, payload.positions, config, context)
        coeffs = [p.hedge_qty_coeff for p in payload.positions]
        constraints: tuple[Constraint, ...]
        with localcontext(EXACT):
            if payload.target_hedge_ratio is not None:
                r = payload.target_hedge_ratio
                constraints = (
                    Constraint(
                        name="hedge_ratio",
                        coefficients=tuple(abs(c) - r * c for c in coeffs),
                        sense=Sense.EQ,
                        description=f"abs_weighted == {r} * net (hedging ratio net/abs = 1/{r})",
                    ),
                )
            else:
                low = payload.hedge_ratio_min
                high = payload.hedge_ratio_max
                assert low is not None  # guaranteed by the model's validator
                assert high is not None
                constraints = (
                    Constraint(
                        name="hedge_ratio_min",
                        coefficients=tuple(c - low * abs(c) for c in coeffs),
                        sense=Sense.GE,
                        description=f"net >= {low} * abs_weighted",
                    ),
                    Constraint(
                        name="hedge_ratio_max",
                        coefficients=tuple(c - high * abs(c) for c in coeffs),
                        sense=Sense.LE,
                        description=f"net <= {high} * abs_weighted",
                    ),
                )
        return OrderBundle(
            bundle_id=context.bundle_id,
            legs=legs,
            constraints=constraints,
            metadata=dict(context.metadata),
        )

    def describe_fill(
        self, payload: HedgeData, bundle: OrderBundle, fills: Sequence[int]
    ) -> FillCheck:
        """The fill's hedging ratio ``ρ = net / abs_weighted`` next to its target or band.

        ``within`` is the constraint itself in exact arithmetic (``abs_weighted
        == r · net``, or ``min · abs_weighted <= net <= max · abs_weighted``).
        ``ρ`` is undefined for the empty fill, which satisfies both forms.
        """
        quantities = position_fills(len(payload.positions), bundle, fills)
        abs_weighted, net = hedge_sums([p.hedge_qty_coeff for p in payload.positions], quantities)
        ratio = net / abs_weighted if abs_weighted else None
        if payload.target_hedge_ratio is not None:
            r = to_fraction(payload.target_hedge_ratio)
            return FillCheck(
                measure="hedge ratio",
                achieved=ratio,
                bound=f"target {float(1 / r):+.4f}",
                within=abs_weighted == r * net,
            )
        low, high = payload.hedge_ratio_min, payload.hedge_ratio_max
        assert low is not None  # guaranteed by the model's validator
        assert high is not None
        return FillCheck(
            measure="hedge ratio",
            achieved=ratio,
            bound=f"band [{_signed(low)}, {_signed(high)}]",
            within=to_fraction(low) * abs_weighted <= net <= to_fraction(high) * abs_weighted,
        )
