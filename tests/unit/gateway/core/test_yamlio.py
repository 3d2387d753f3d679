from __future__ import annotations

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
