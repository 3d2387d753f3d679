"""The client hop's codec (the round trip payload -> NewOrderList -> payload is in
tests/integration/test_gateway.py over real sessions)."""

from __future__ import annotations

import pytest

from gateway.fix.client_codec import wire_path


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


def _with(envelope: dict, edit) -> list[str]:
    """The issues of ``envelope`` encoded, then changed on the wire by ``edit(message)``."""
    from gateway.core.errors import PayloadError
    from gateway.fix.client_codec import decode_new_order_list, encode_new_order_list

    count = len(envelope["bidder_data"]["positions"])
    message = encode_new_order_list(envelope, "L1", [f"c{i}" for i in range(count)])
    edit(message)
    try:
        decode_new_order_list(message)
    except PayloadError as exc:
        return [str(i) for i in exc.issues]
    return []


def _set_in_order(index: int, tag: int, value: str):
    def edit(message) -> None:
        import quickfix as fix

        group = fix.Group(73, 11)
        message.getGroup(index, group)
        group.setField(tag, value)
        message.replaceGroup(index, group)

    return edit


def _set_parameter(index: int | None, value: str, kind: str = "6"):
    """Set the first strategy parameter of order ``index`` (None: of the list)."""

    def edit(message) -> None:
        import quickfix as fix

        param = fix.Group(957, 958)
        target = message
        order = fix.Group(73, 11)
        if index is not None:
            message.getGroup(index, order)
            target = order
        target.getGroup(1, param)
        param.setField(959, kind)
        param.setField(960, value)
        target.replaceGroup(1, param)
        if index is not None:
            message.replaceGroup(index, order)

    return edit


@pytest.mark.parametrize("text", ["1E1", "1e1", "+10", " 10", "10 ", "0x10", "1_0", "10.0.0"])
def test_a_price_that_is_not_plain_fix_decimal_text_is_an_issue(text: str):
    """fixspec: decimals are written without an exponent; 44=1E1 was forwarded as 10."""
    from tests.conftest import seed_hedge

    [issue] = _with(seed_hedge(), _set_in_order(1, 44, text))
    assert issue.startswith(f"NoOrders[1].Price(44): {text!r} is not a FIX decimal")


@pytest.mark.parametrize("kind", ["6", "7", "8", "10", "11"])
def test_a_decimal_parameter_with_an_exponent_is_an_issue_at_order_and_list_level(kind: str):
    from tests.conftest import seed_hedge

    [issue] = _with(seed_hedge(), _set_parameter(2, "-1.2E1", kind))
    assert issue == (
        "NoOrders[2].StrategyParameter[hedge_qty_coeff]: '-1.2E1' is not a FIX decimal: "
        "digits with an optional leading '-' and one '.', no exponent"
    )
    [issue] = _with(seed_hedge(), _set_parameter(None, "2e0", kind))
    assert issue.startswith("StrategyParameter[target_hedge_ratio]: '2e0' is not a FIX decimal")


@pytest.mark.parametrize("text", ["10", "10.", ".5", "0010.50"])
def test_plain_decimal_text_is_accepted(text: str):
    from tests.conftest import seed_hedge

    assert _with(seed_hedge(), _set_in_order(1, 44, text)) == []
    assert _with(seed_hedge(), _set_parameter(2, f"-{text}")) == []


def test_integer_fields_must_be_digits_only():
    from tests.conftest import seed_hedge

    assert _with(seed_hedge(), _set_in_order(1, 38, "+2000")) == [
        "NoOrders[1].OrderQty(38): '+2000' is not a whole number of shares/units"
    ]
    assert _with(seed_hedge(), _set_parameter(1, "4\n", "1")) == [
        "NoOrders[1].StrategyParameter[hedge_qty_coeff]: '4\\n' is not an integer "
        "(StrategyParameterType 1)"
    ]


def test_an_expire_time_that_is_not_in_the_future_is_an_issue():
    from datetime import UTC, datetime

    from gateway.core.errors import PayloadError
    from gateway.fix.client_codec import decode_new_order_list, encode_new_order_list
    from tests.conftest import seed_hedge

    message = encode_new_order_list(seed_hedge(), "L1", ["a", "b", "c"])
    group = fix_group(message, 2)
    group.setField(126, "20261122-09:00:00")
    message.replaceGroup(2, group)
    group = fix_group(message, 3)
    group.setField(126, "20261122-09:00:00.001")
    message.replaceGroup(3, group)
    now = datetime(2026, 11, 22, 9, 0, 0, tzinfo=UTC)
    with pytest.raises(PayloadError) as info:
        decode_new_order_list(message, now=now)
    assert [str(i) for i in info.value.issues] == [
        "NoOrders[2].ExpireTime(126): 20261122-09:00:00 is not in the future"
    ]
    earlier = datetime(2026, 11, 22, 8, 59, 59, 999000, tzinfo=UTC)
    decoded = decode_new_order_list(message, now=earlier)
    assert [o.expire_time for o in decoded.orders] == [
        None,
        "20261122-09:00:00",
        "20261122-09:00:00.001",
    ]


def fix_group(message, index: int):
    import quickfix as fix

    group = fix.Group(73, 11)
    message.getGroup(index, group)
    return group


@pytest.mark.parametrize(
    ("path", "wire"),
    [
        ("bidder_data.positions[0].qty", "NoOrders[1].OrderQty(38)"),
        ("bidder_data.positions[2].price", "NoOrders[3].Price(44)"),
        ("bidder_data.positions[0].side", "NoOrders[1].Side(54)"),
        ("bidder_data.positions[0].lot_size", "NoOrders[1].RoundLot(561)"),
        ("bidder_data.positions[1].beta", "NoOrders[2].StrategyParameter[beta]"),
        ("bidder_data.positions[4]", "NoOrders[5]"),
        ("bidder_data.positions", "NoOrders(73)"),
        ("bidder_data.beta_tol", "StrategyParameter[beta_tol]"),
        ("strategy", "BidderType(20001)"),
        ("lot_size", "LotSize(20002)"),
    ],
)
def test_a_payload_path_is_named_by_the_fix_field_it_came_in(path: str, wire: str) -> None:
    assert wire_path(path) == f"{wire} ({path})"


@pytest.mark.parametrize("path", ["bidder_data", "", "TotNoOrders(68)", "NoOrders[1].Price(44)"])
def test_a_path_that_names_no_field_of_the_message_stays(path: str) -> None:
    assert wire_path(path) == path
