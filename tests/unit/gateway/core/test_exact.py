from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.exact import integer_row, parse_decimal


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, Decimal(3)),
        ("10.50", Decimal("10.50")),
        (" -0.25 ", Decimal("-0.25")),
        (Decimal("1e3"), Decimal(1000)),
    ],
)
def test_parse_decimal_accepts_exact_inputs(value, expected):
    assert parse_decimal(value) == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (0.1, "not exact"),
        (True, "boolean"),
        ("abc", "not a decimal"),
        ("NaN", "not a finite"),
        ("-Infinity", "not a finite"),
        ("1" * 40, "significant digits"),
        (None, "expected"),
    ],
)
def test_parse_decimal_refuses(value, words):
    with pytest.raises(ValueError, match=words):
        parse_decimal(value)


@given(
    st.lists(st.fractions(max_denominator=1000).filter(bool), min_size=1, max_size=5),
    st.fractions(max_denominator=1000),
)
def test_integer_row_is_a_positive_multiple_of_the_row(coefficients, rhs):
    ints, scaled_rhs = integer_row(coefficients, rhs)
    factor = Fraction(ints[0]) / coefficients[0]
    assert factor > 0
    assert all(Fraction(i) == c * factor for i, c in zip(ints, coefficients, strict=True))
    assert Fraction(scaled_rhs) == rhs * factor
