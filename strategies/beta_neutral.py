"""``beta_neutral``: beta_data bidders (docs/math.md §3).

Each position carries a limit ``price`` ``p_i`` and a ``beta_coeff`` ``β_i``;
``s_i`` is +1 for Buy and −1 for Sell. Over fill quantities ``q_i``::

    beta_abs = Σ |β_i| · p_i · q_i          beta_net = Σ s_i · β_i · p_i · q_i

The constraint is the seed's *code*::

    beta_tol · beta_net + beta_abs >= 0
    beta_tol · beta_net − beta_abs <= 0        i.e.  |beta_net| <= beta_abs / beta_tol

The seed's comment (``-tol <= net/abs <= tol``) disagrees with that code. The
code's form is the one that works with an integer ``beta_tol``, which makes
``beta_tol`` the *reciprocal* of the allowed relative beta drift:
``beta_tol = 20`` allows ``|beta_net| <= 5%`` of ``beta_abs``.

Prices and betas are exact decimals; the pre-solver scales each row to
integers, so nothing is rounded.

:meth:`BetaNeutral.describe_fill` reports a fill's achieved beta drift
``beta_net / beta_abs`` next to its bound ``±1/beta_tol``, exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import localcontext
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

__all__ = ["BetaData", "BetaNeutral", "BetaPosition", "beta_sums"]


class BetaPosition(FrozenModel):
    """One target order of a beta_data payload.

    Attributes:
        symbol: instrument.
        side: Buy or Sell.
        price: the leg's limit price; also the price used in the beta sums.
        beta_coeff: the instrument's beta (any sign; exact decimal).
        qty: the leg's maximum quantity.
        lot_size: this leg's lot size (default: the payload's, then the config's).
    """

    symbol: Symbol
    side: SideField
    price: PositiveDecimal
    beta_coeff: ExactDecimal
    qty: PositiveInt
    lot_size: PositiveInt | None = None


class BetaData(FrozenModel):
    """The beta_data bidder payload.

    Attributes:
        positions: the target orders (at least one).
        beta_tol: reciprocal of the allowed relative drift (20 → ±5%); > 0.
    """

    positions: list[BetaPosition] = Field(min_length=1)
    beta_tol: PositiveDecimal

    @model_validator(mode="after")
    def _check(self) -> Self:
        duplicates = duplicate_issues(self.positions)
        if duplicates:
            raise ValueError("; ".join(duplicates))
        return self


def beta_sums(
    positions: Sequence[BetaPosition], quantities: Sequence[int]
) -> tuple[Fraction, Fraction]:
    """``(beta_abs, beta_net)`` of a fill, exactly: ``Σ |β_i|·p_i·q_i`` and
    ``Σ s_i·β_i·p_i·q_i``."""
    beta_abs = Fraction(0)
    beta_net = Fraction(0)
    for position, qty in zip(positions, quantities, strict=True):
        weight = to_fraction(position.beta_coeff) * to_fraction(position.price) * qty
        beta_abs += abs(weight)
        beta_net += position.side.sign * weight
    return beta_abs, beta_net


class BetaNeutral:
    """Strategy plugin for beta_data bidders."""

    name: ClassVar[str] = "beta_neutral"
    payload_model: ClassVar[type[BetaData]] = BetaData
    config_model: ClassVar[type[StrategyConfig]] = StrategyConfig

    def build(
        self, payload: BetaData, config: StrategyConfig, context: BuildContext
    ) -> OrderBundle:
        legs = build_legs(self.name, payload.positions, config, context)
        tol = payload.beta_tol
        with localcontext(EXACT):
            net = [p.side.sign * p.beta_coeff * p.price for p in payload.positions]
            gross = [abs(p.beta_coeff) * p.price for p in payload.positions]
            constraints = (
                Constraint(
                    name="beta_lower",
                    coefficients=tuple(tol * n + g for n, g in zip(net, gross, strict=True)),
                    sense=Sense.GE,
                    description=f"{tol} * beta_net + beta_abs >= 0",
                ),
                Constraint(
                    name="beta_upper",
                    coefficients=tuple(tol * n - g for n, g in zip(net, gross, strict=True)),
                    sense=Sense.LE,
                    description=f"{tol} * beta_net - beta_abs <= 0",
                ),
            )
        return OrderBundle(
            bundle_id=context.bundle_id,
            legs=legs,
            constraints=constraints,
            metadata=dict(context.metadata),
        )

    def describe_fill(
        self, payload: BetaData, bundle: OrderBundle, fills: Sequence[int]
    ) -> FillCheck:
        """The fill's beta drift ``beta_net / beta_abs`` next to its bound ``±1/beta_tol``.

        ``within`` is the seed's constraint itself in exact arithmetic
        (``beta_tol · |beta_net| <= beta_abs``). The drift is undefined when
        nothing with a non-zero beta was filled; such a fill satisfies it.
        """
        quantities = position_fills(len(payload.positions), bundle, fills)
        beta_abs, beta_net = beta_sums(payload.positions, quantities)
        tol = to_fraction(payload.beta_tol)
        return FillCheck(
            measure="beta drift",
            achieved=beta_net / beta_abs if beta_abs else None,
            bound=f"bound ±{float(1 / tol):.4f}",
            within=tol * abs(beta_net) <= beta_abs,
        )
