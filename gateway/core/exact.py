"""Exact arithmetic for quantities, prices and coefficients.

Quantities are integers (shares or currency units; fills are whole lots).
Prices, coefficients and ratios are :class:`~decimal.Decimal` values parsed
from text, never from binary floats. Arithmetic on them runs in
:data:`EXACT`, a context whose precision is far beyond any accepted input and
which *raises* on any rounding, so a result is either exact or an error.

The solver sees scaled integers (:func:`integer_row`); verification converts
to :class:`~fractions.Fraction`, which is exact by construction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from decimal import Context, Decimal, Inexact, InvalidOperation, Rounded
from fractions import Fraction

__all__ = [
    "EXACT",
    "MAX_DIGITS",
    "MAX_EXPONENT",
    "fraction_text",
    "integer_row",
    "parse_decimal",
    "to_fraction",
]

#: Largest number of significant digits accepted in one input value.
MAX_DIGITS = 30
#: Accepted magnitudes: |x| < 10**MAX_EXPONENT, and non-zero |x| >= 10**-MAX_EXPONENT.
#: Keeps every solver coefficient finite and well inside float range.
MAX_EXPONENT = 15

#: Context for every Decimal operation in the code base. Inputs have at most
#: MAX_DIGITS digits; products of a few of them fit easily in 400 digits, and
#: anything that would not fit raises ``Rounded`` instead of silently rounding.
EXACT = Context(prec=400, traps=[Inexact, Rounded, InvalidOperation])


def parse_decimal(value: object) -> Decimal:
    """Turn an int, Decimal or numeric string into a finite Decimal.

    Floats are refused: a binary float such as ``0.1`` is not the number the
    user wrote. Booleans are refused (``True`` is not a coefficient).

    Raises:
        ValueError: with a message meant for the user.
    """
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, float):
        raise ValueError(
            f"binary float {value!r} is not exact; write it as a decimal string, e.g. '{value}'"
        )
    if isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, Decimal):
        result = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal number") from None
    else:
        raise ValueError(f"expected a decimal number, got {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    digits = len(result.as_tuple().digits)
    if digits > MAX_DIGITS:
        raise ValueError(f"{value!r} has {digits} significant digits; at most {MAX_DIGITS}")
    if result and not -MAX_EXPONENT <= result.adjusted() < MAX_EXPONENT:
        raise ValueError(
            f"{value!r} is out of range: magnitudes from 1e-{MAX_EXPONENT} to "
            f"below 1e{MAX_EXPONENT}"
        )
    return result


def to_fraction(value: Decimal | int) -> Fraction:
    """Exact conversion of a finite Decimal or int to a Fraction."""
    return Fraction(value)


def fraction_text(value: Fraction) -> str:
    """A fraction as decimal text for messages, without trailing zeros (``9.9``, ``10``);
    one that is not a finite decimal is rounded to 28 significant digits."""
    return f"{(Decimal(value.numerator) / Decimal(value.denominator)).normalize():f}"


def integer_row(
    coefficients: Sequence[Fraction], rhs: Fraction
) -> tuple[list[int], int | Fraction]:
    """Scale a rational row ``Σ a_i x_i (op) b`` to coprime integers.

    Multiplies by the least common denominator, then divides by the greatest
    common divisor of the coefficients, which keeps the numbers the solver sees
    as small as possible. The right-hand side stays rational when it is not a
    multiple of that divisor (an equality then has no integer solution).
    """
    denominators: Iterable[int] = (c.denominator for c in (*coefficients, rhs))
    lcd = math.lcm(*denominators)
    ints = [int(c * lcd) for c in coefficients]
    divisor = math.gcd(*ints) or 1
    scaled_rhs = rhs * lcd / divisor
    rhs_out: int | Fraction = int(scaled_rhs) if scaled_rhs.denominator == 1 else scaled_rhs
    return [c // divisor for c in ints], rhs_out
