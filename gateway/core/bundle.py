"""The order bundle: the one data type that crosses from strategies to the
pre-solver, the gateway and the venue.

An :class:`OrderBundle` is immutable: legs, linear constraints over the legs'
fill quantities, an optional minimum total fill and free-form metadata. A fill
is a tuple of integer quantities ``q_i`` (one per leg, in leg order) with

* ``0 <= q_i <= leg.max_qty`` and ``q_i`` a multiple of ``leg.lot_size``;
* for every constraint, ``Σ_i a_i · q_i  (<= | == | >=)  b`` exactly;
* ``Σ_i q_i >= min_total_fill`` when the fill is non-empty and a minimum is set.

A bundle may also carry :class:`PriceConstraint` rows over the *clearing prices*
of its symbols (``Σ_s a_s · p_s (<= | == | >=) b``, e.g. a pair's spread
limit ``p_B − k·p_A <= spread``): they bind only in an auction where the
bundle fills, and :meth:`OrderBundle.price_violations` checks them exactly.

:meth:`OrderBundle.violations` checks a fill in exact rational arithmetic; the
pre-solver and the venue call it on every solution before acting on it.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from gateway.core.errors import BundleError

__all__ = [
    "Constraint",
    "Leg",
    "OrderBundle",
    "PriceConstraint",
    "Sense",
    "Side",
]


class Side(enum.Enum):
    """Order side; ``sign`` is +1 for buy and -1 for sell (docs/math.md §1)."""

    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @classmethod
    def parse(cls, text: str) -> Side:
        """Case-insensitive ``Buy``/``Sell`` (also FIX's ``1``/``2``)."""
        key = text.strip().lower()
        aliases = {
            "buy": cls.BUY,
            "b": cls.BUY,
            "1": cls.BUY,
            "sell": cls.SELL,
            "s": cls.SELL,
            "2": cls.SELL,
        }
        try:
            return aliases[key]
        except KeyError:
            raise ValueError(f"side must be Buy or Sell, got {text!r}") from None


class Sense(enum.Enum):
    """Relation of a linear constraint's left-hand side to its right-hand side."""

    LE = "<="
    EQ = "=="
    GE = ">="

    def holds(self, lhs: Fraction, rhs: Fraction) -> bool:
        if self is Sense.LE:
            return lhs <= rhs
        if self is Sense.GE:
            return lhs >= rhs
        return lhs == rhs


@dataclass(frozen=True, slots=True, kw_only=True)
class Leg:
    """One order of the bundle: fills are whole lots up to ``max_qty``."""

    symbol: str
    side: Side
    limit_price: Decimal
    max_qty: int
    lot_size: int = 100
    #: Index of the payload position this leg trades, set by the strategy. The
    #: gateway maps it to the client order the fills are reported on; it is not
    #: part of the bundle's identity and does not travel downstream.
    position: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.symbol:
            raise BundleError("leg symbol must not be empty")
        if self.max_qty <= 0:
            raise BundleError(f"leg {self.symbol}: max_qty must be positive, got {self.max_qty}")
        if self.lot_size <= 0:
            raise BundleError(f"leg {self.symbol}: lot_size must be positive")
        if not self.limit_price.is_finite():
            raise BundleError(f"leg {self.symbol}: limit price must be finite")

    @property
    def max_lots(self) -> int:
        """Largest number of whole lots within ``max_qty``."""
        return self.max_qty // self.lot_size

    @property
    def label(self) -> str:
        """Human name of the leg, e.g. ``buy AAAA``."""
        return f"{self.side.value} {self.symbol}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Constraint:
    """``Σ_i coefficients[i] · q_i  sense  rhs`` over the bundle's legs.

    ``coefficients`` has one exact entry per leg, in leg order (zero where a
    leg does not take part). ``name`` is a short identifier; ``description``
    says in words what the constraint means, for error messages.
    """

    name: str
    coefficients: tuple[Decimal, ...]
    sense: Sense
    rhs: Decimal = Decimal(0)
    description: str = ""
    #: The same constraint over integers, ``Σ_i integers[i] · q_i  sense  integer_rhs``
    #: (every value times the least common denominator): what :meth:`holds` evaluates.
    integers: tuple[int, ...] = field(init=False, repr=False, compare=False)
    integer_rhs: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ratios: list[tuple[int, int]] = []
        for value in (*self.coefficients, self.rhs):
            if not value.is_finite():
                raise BundleError(f"constraint {self.name}: non-finite value {value}")
            ratios.append(value.as_integer_ratio())
        lcd = math.lcm(*(d for _, d in ratios))
        scaled = [n * (lcd // d) for n, d in ratios]
        object.__setattr__(self, "integers", tuple(scaled[:-1]))
        object.__setattr__(self, "integer_rhs", scaled[-1])

    def lhs(self, quantities: Sequence[int]) -> Fraction:
        """Exact left-hand side for a fill."""
        return sum(
            (Fraction(a) * q for a, q in zip(self.coefficients, quantities, strict=True)),
            start=Fraction(0),
        )

    def holds(self, quantities: Sequence[int]) -> bool:
        """Whether a fill satisfies the constraint, exactly (in integers)."""
        lhs = sum(a * q for a, q in zip(self.integers, quantities, strict=True))
        rhs = self.integer_rhs
        if self.sense is Sense.LE:
            return lhs <= rhs
        if self.sense is Sense.GE:
            return lhs >= rhs
        return lhs == rhs

    def render(self, symbols: Sequence[str]) -> str:
        """Readable form, e.g. ``-4·AAAA + 36·BBBB + 9·CCCC == 0``."""
        terms: list[str] = []
        for coefficient, symbol in zip(self.coefficients, symbols, strict=True):
            if coefficient == 0:
                continue
            magnitude = abs(coefficient).normalize()
            text = f"{magnitude:f}·{symbol}" if magnitude != 1 else symbol
            if not terms:
                terms.append(f"-{text}" if coefficient < 0 else text)
            else:
                terms.append(f"- {text}" if coefficient < 0 else f"+ {text}")
        lhs = " ".join(terms) or "0"
        return f"{lhs} {self.sense.value} {self.rhs.normalize():f}"


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceConstraint:
    """``Σ_s a_s · p_s  sense  rhs`` over the clearing prices ``p_s`` of the bundle's
    symbols, binding in an auction only when the bundle fills there.

    ``terms`` pairs each symbol with its exact coefficient, at most once per symbol.
    """

    name: str
    terms: tuple[tuple[str, Decimal], ...]
    sense: Sense
    rhs: Decimal = Decimal(0)
    description: str = ""

    def __post_init__(self) -> None:
        symbols = [symbol for symbol, _ in self.terms]
        if not symbols:
            raise BundleError(f"price constraint {self.name}: no terms")
        if len(set(symbols)) != len(symbols):
            raise BundleError(f"price constraint {self.name}: a symbol appears twice")
        for value in (*(a for _, a in self.terms), self.rhs):
            if not value.is_finite():
                raise BundleError(f"price constraint {self.name}: non-finite value {value}")

    def lhs(self, prices: Mapping[str, Fraction | Decimal]) -> Fraction:
        """Exact left-hand side at the clearing prices ``prices`` (per symbol)."""
        return sum(
            (Fraction(a) * Fraction(prices[symbol]) for symbol, a in self.terms),
            start=Fraction(0),
        )

    def holds(self, prices: Mapping[str, Fraction | Decimal]) -> bool:
        return self.sense.holds(self.lhs(prices), Fraction(self.rhs))

    def render(self) -> str:
        """Readable form, e.g. ``p(BBBB) - 2·p(AAAA) <= 0.5``."""
        terms: list[str] = []
        for symbol, coefficient in self.terms:
            magnitude = abs(coefficient).normalize()
            text = f"p({symbol})" if magnitude == 1 else f"{magnitude:f}·p({symbol})"
            sign = "-" if coefficient < 0 else "+"
            terms.append((f"-{text}" if sign == "-" else text) if not terms else f"{sign} {text}")
        return f"{' '.join(terms)} {self.sense.value} {self.rhs.normalize():f}"


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderBundle:
    """An immutable expressive bid: legs, constraints and metadata."""

    bundle_id: str
    legs: tuple[Leg, ...]
    constraints: tuple[Constraint, ...] = ()
    min_total_fill: int | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    price_constraints: tuple[PriceConstraint, ...] = ()

    def __post_init__(self) -> None:
        if not self.legs:
            raise BundleError(f"bundle {self.bundle_id}: no legs")
        seen: set[tuple[str, Side]] = set()
        for leg in self.legs:
            key = (leg.symbol, leg.side)
            if key in seen:
                raise BundleError(f"bundle {self.bundle_id}: duplicate leg {leg.label}")
            seen.add(key)
        for constraint in self.constraints:
            if len(constraint.coefficients) != len(self.legs):
                raise BundleError(
                    f"bundle {self.bundle_id}: constraint {constraint.name} has "
                    f"{len(constraint.coefficients)} coefficients for {len(self.legs)} legs"
                )
        listed = {leg.symbol for leg in self.legs}
        for price in self.price_constraints:
            unknown = sorted({symbol for symbol, _ in price.terms} - listed)
            if unknown:
                raise BundleError(
                    f"bundle {self.bundle_id}: price constraint {price.name} names "
                    f"{', '.join(unknown)}, which no leg trades"
                )
        if self.min_total_fill is not None and self.min_total_fill < 0:
            raise BundleError(f"bundle {self.bundle_id}: min_total_fill must be >= 0")
        # Freeze the metadata so the bundle is immutable all the way down.
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    def __reduce__(self) -> tuple[Any, ...]:
        """Picklable (the frozen metadata is not): the pre-solver sends bundles to
        its solver processes."""
        fields = {
            "bundle_id": self.bundle_id,
            "legs": self.legs,
            "constraints": self.constraints,
            "min_total_fill": self.min_total_fill,
            "metadata": dict(self.metadata),
            "price_constraints": self.price_constraints,
        }
        return (_unpickle_bundle, (fields,))

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(leg.symbol for leg in self.legs)

    def violations(self, quantities: Sequence[int]) -> list[str]:
        """Every way ``quantities`` breaks the bundle, in exact arithmetic.

        An empty list means the fill is valid. The empty fill (all zeros) is
        always checked against the constraints like any other.
        """
        problems: list[str] = []
        if len(quantities) != len(self.legs):
            return [f"fill has {len(quantities)} quantities for {len(self.legs)} legs"]
        for leg, qty in zip(self.legs, quantities, strict=True):
            if not isinstance(qty, int) or isinstance(qty, bool):
                problems.append(f"{leg.symbol}: quantity {qty!r} is not an integer")
                continue
            if qty < 0 or qty > leg.max_qty:
                problems.append(f"{leg.symbol}: quantity {qty} outside [0, {leg.max_qty}]")
            if qty % leg.lot_size:
                problems.append(
                    f"{leg.symbol}: quantity {qty} is not a multiple of lot {leg.lot_size}"
                )
        if problems:
            return problems
        for constraint in self.constraints:
            if not constraint.holds(quantities):
                problems.append(
                    f"constraint {constraint.name} ({constraint.render(self.symbols)}) fails: "
                    f"lhs = {constraint.lhs(quantities)}"
                )
        total = sum(quantities)
        if self.min_total_fill is not None and 0 < total < self.min_total_fill:
            problems.append(f"total fill {total} below the minimum {self.min_total_fill}")
        return problems

    def price_violations(
        self, quantities: Sequence[int], prices: Mapping[str, Fraction | Decimal]
    ) -> list[str]:
        """The price constraints a fill at clearing prices ``prices`` breaks, exactly;
        none for the empty fill (they bind only where the bundle trades)."""
        if not any(quantities):
            return []
        return [
            f"price constraint {price.name} ({price.render()}) fails: "
            f"lhs = {price.lhs(prices)} at the clearing prices"
            for price in self.price_constraints
            if not price.holds(prices)
        ]


def _unpickle_bundle(fields: dict[str, Any]) -> OrderBundle:
    return OrderBundle(**fields)
