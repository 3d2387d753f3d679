"""The client hop's codec (the round trip payload -> NewOrderList -> payload is in
tests/integration/test_gateway.py over real sessions)."""

from __future__ import annotations

import pytest


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


def _issues(envelope: dict) -> list[str]:
    from gateway.core.errors import PayloadError
    from gateway.fix.client_codec import decode_new_order_list, encode_new_order_list

    count = len(envelope["bidder_data"]["positions"])
    message = encode_new_order_list(envelope, "L1", [f"c{i}" for i in range(count)])
    try:
        decode_new_order_list(message)
    except PayloadError as exc:
        return [str(i) for i in exc.issues]
    return []


def test_numbers_off_the_grid_are_field_issues():
    from decimal import Decimal

    from tests.conftest import seed_hedge

    envelope = seed_hedge()
    positions = envelope["bidder_data"]["positions"]
    positions[0]["price"] = "9.950000001"  # 9 decimal places
    positions[1]["hedge_qty_coeff"] = Decimal("-12.0000000000001")  # 15 digits
    positions[2]["hedge_qty_coeff"] = 1234567890123  # 13 digits, as an integer
    assert _issues(envelope) == [
        "NoOrders[1].Price(44): 9.950000001 has 9 decimal places; at most 8",
        "NoOrders[2].StrategyParameter[hedge_qty_coeff]: -12.0000000000001 has 15 "
        "significant digits; at most 12",
        "NoOrders[3].StrategyParameter[hedge_qty_coeff]: 1234567890123 has 13 "
        "significant digits; at most 12",
    ]
    # Trailing zeros are not digits of precision: on the grid.
    positions[0]["price"] = "9.9500000000"
    positions[1]["hedge_qty_coeff"] = Decimal("-12.000000000000000")
    positions[2]["hedge_qty_coeff"] = 3
    assert _issues(envelope) == []


def test_a_parameter_group_over_the_limit_is_refused_unread():
    from tests.conftest import seed_hedge

    envelope = seed_hedge()
    for k in range(33):
        envelope["bidder_data"]["positions"][0][f"x{k}"] = k
    assert _issues(envelope) == ["NoOrders[1].NoStrategyParameters(957): 34 parameters; at most 32"]
