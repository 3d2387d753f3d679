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
