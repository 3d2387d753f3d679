"""``dollar_neutral``: a basket whose bought and sold money stay balanced
(docs/templates.md §2).

Each position has a side ``s_i`` (+1 Buy, −1 Sell) and a price ``p_i``; over
fill quantities ``q_i``::

    net   = Σ s_i · p_i · q_i          (money bought minus money sold)
    gross = Σ p_i · q_i                 (money traded)

    |net| <= t · gross        with t = tolerance_pct / 100

expanded exactly into two rows, ``Σ (s_i − t)·p_i·q_i <= 0`` (net at most
``t·gross``) and ``Σ (s_i + t)·p_i·q_i >= 0`` (net at least ``−t·gross``); one
row ``Σ s_i·p_i·q_i == 0`` when the tolerance is 0.

**The tolerance is a percentage**, not a reciprocal as ``beta_tol`` is (§3 of
docs/math.md): ``tolerance_pct: 2.5`` allows a net of 2.5% of the gross.

**Which price.** ``p_i`` is the order's limit price unless the payload gives
each position a ``ref_price`` (a reference price, e.g. the mid or the last
close), which is then used for every position. Clearing prices are unknown
when the bundle is built, and using them would make the constraint
non-linear; limit prices are the seed's choice for beta-neutral bids. A
reference price avoids counting the limit's distance from the market as
exposure (a buy limited at the offer and a sell limited at the bid look
unbalanced by the spread). ``ref_price`` is all or nothing: mixing the two
kinds of price in one sum would compare unlike amounts.

:meth:`DollarNeutral.describe_fill` reports a fill's imbalance ``net / gross``
next to ``±t``, exactly.
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

__all__ = ["DollarNeutral", "DollarNeutralData", "DollarPosition", "dollar_sums"]


class DollarPosition(FrozenModel):
    """One target order of a dollar_neutral payload.

    Attributes:
        symbol: instrument.
        side: Buy or Sell.
        qty: the leg's maximum quantity.
        price: the leg's limit price; also the price in the sums without ref_price.
        ref_price: the price in the sums instead of the limit (all positions or none).
        lot_size: this leg's lot size (default: the payload's, then the config's).
    """

    symbol: Symbol
    side: SideField
    qty: PositiveInt
    price: PositiveDecimal
    ref_price: PositiveDecimal | None = None
    lot_size: PositiveInt | None = None

    @property
    def sum_price(self) -> Decimal:
        """The price this position enters ``net`` and ``gross`` with."""
        return self.price if self.ref_price is None else self.ref_price


class DollarNeutralData(FrozenModel):
    """The dollar_neutral bidder payload.

    Attributes:
        positions: the target orders (at least one).
        tolerance_pct: largest |net| as a percentage of gross, 0 to 100.
    """

    positions: list[DollarPosition] = Field(min_length=1)
    tolerance_pct: ExactDecimal

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not 0 <= self.tolerance_pct <= 100:
            raise ValueError(
                f"tolerance_pct is a percentage from 0 to 100, got {self.tolerance_pct}"
            )
        with_ref = [p.ref_price is not None for p in self.positions]
        if any(with_ref) and not all(with_ref):
            missing = [i for i, given in enumerate(with_ref) if not given]
            raise ValueError(
                f"ref_price is given on some positions but not on {missing}: give it on "
                "every position or none"
            )
        duplicates = duplicate_issues(self.positions)
        if duplicates:
            raise ValueError("; ".join(duplicates))
        return self


def dollar_sums(
    positions: Sequence[DollarPosition], quantities: Sequence[int]
) -> tuple[Fraction, Fraction]:
    """``(net, gross)`` of a fill, exactly: ``Σ s_i·p_i·q_i`` and ``Σ p_i·q_i``."""
    net = Fraction(0)
    gross = Fraction(0)
    for position, qty in zip(positions, quantities, strict=True):
        money = to_fraction(position.sum_price) * qty
        net += position.side.sign * money
        gross += money
    return net, gross


class DollarNeutral:
    """Strategy plugin for dollar-neutral baskets."""

    name: ClassVar[str] = "dollar_neutral"
    payload_model: ClassVar[type[DollarNeutralData]] = DollarNeutralData
    config_model: ClassVar[type[StrategyConfig]] = StrategyConfig

    def build(
        self, payload: DollarNeutralData, config: StrategyConfig, context: BuildContext
    ) -> OrderBundle:
        legs = build_legs(self.name, payload.positions, config, context)
        pct = payload.tolerance_pct.normalize()
        constraints: tuple[Constraint, ...]
        with localcontext(EXACT):
            t = payload.tolerance_pct / 100
            prices = [(p.side.sign, p.sum_price) for p in payload.positions]
            if t == 0:
                constraints = (
                    Constraint(
                        name="dollar_neutral",
                        coefficients=tuple(s * p for s, p in prices),
                        sense=Sense.EQ,
                        description="net == 0 (money bought == money sold)",
                    ),
                )
            else:
                constraints = (
                    Constraint(
                        name="dollar_upper",
                        coefficients=tuple((s - t) * p for s, p in prices),
                        sense=Sense.LE,
                        description=f"net <= {pct:f}% of gross",
                    ),
                    Constraint(
                        name="dollar_lower",
                        coefficients=tuple((s + t) * p for s, p in prices),
                        sense=Sense.GE,
                        description=f"net >= -{pct:f}% of gross",
                    ),
                )
        return OrderBundle(
            bundle_id=context.bundle_id,
            legs=legs,
            constraints=constraints,
            metadata=dict(context.metadata),
        )

    def describe_fill(
        self, payload: DollarNeutralData, bundle: OrderBundle, fills: Sequence[int]
    ) -> FillCheck:
        """The fill's imbalance ``net / gross`` next to ``±tolerance`` (undefined for
        the empty fill, which is within)."""
        quantities = position_fills(len(payload.positions), bundle, fills)
        net, gross = dollar_sums(payload.positions, quantities)
        t = to_fraction(payload.tolerance_pct) / 100
        return FillCheck(
            measure="dollar imbalance",
            achieved=net / gross if gross else None,
            bound=f"bound ±{float(t):.4f}",
            within=abs(net) <= t * gross,
        )
