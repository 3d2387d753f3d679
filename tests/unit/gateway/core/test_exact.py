from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.exact import integer_row, parse_decimal
from gateway.core.yamlio import loads_yaml


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


def test_yaml_floats_become_exact_decimals_and_duplicates_fail():
    data = loads_yaml("a: 0.1\nb: 1.5e+3\nc: .inf\nd: 7\n")
    assert data["a"] == Decimal("0.1")
    assert data["b"] == Decimal("1.5E+3")
    assert data["c"] == Decimal("Infinity")
    assert data["d"] == 7
    from gateway.core.errors import ConfigError

    with pytest.raises(ConfigError, match="duplicate key 'a'"):
        loads_yaml("a: 1\na: 2\n")


def test_missing_fields_inside_groups_become_field_issues():
    """QuickFIX does not enforce required fields inside groups: the decoder does."""
    import quickfix as fix

    from gateway.core.errors import PayloadError
    from gateway.fix.client_codec import decode_new_order_list, encode_new_order_list
    from tests.conftest import seed_hedge

    message = encode_new_order_list(seed_hedge(), "L1", ["a", "b", "c"])
    group = fix.Group(73, 11)
    message.getGroup(2, group)
    group.removeField(38)
    message.replaceGroup(2, group)
    with pytest.raises(PayloadError) as info:
        decode_new_order_list(message)
    assert [str(i) for i in info.value.issues] == ["NoOrders[2].OrderQty(38): required"]
