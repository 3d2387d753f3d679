from __future__ import annotations

import re
from decimal import Decimal

import pytest

from gateway.core.errors import ConfigError
from gateway.core.yamlio import loads_yaml


def test_yaml_floats_become_exact_decimals_and_duplicates_fail():
    data = loads_yaml("a: 0.1\nb: 1.5e+3\nc: .inf\nd: 7\n")
    assert data["a"] == Decimal("0.1")
    assert data["b"] == Decimal("1.5E+3")
    assert data["c"] == Decimal("Infinity")
    assert data["d"] == 7
    with pytest.raises(ConfigError, match="duplicate key 'a'"):
        loads_yaml("a: 1\na: 2\n")


@pytest.mark.parametrize("text", ["010", "0x3E8", "1:30", "0b11", "-010"])
def test_a_whole_number_yaml_would_read_in_another_base_is_refused(text):
    """YAML 1.1 reads 010 as 8, 0x3E8 as 1000 and 1:30 as 90: never silently."""
    with pytest.raises(ConfigError, match=re.escape(f"cannot read {text!r} as a number")):
        loads_yaml(f"qty: {text}\n")


def test_plain_whole_numbers_are_read_as_written():
    assert loads_yaml("a: 10\nb: -3\nc: 0\nd: 1_000\ne: +5\n") == {
        "a": 10,
        "b": -3,
        "c": 0,
        "d": 1000,
        "e": 5,
    }
