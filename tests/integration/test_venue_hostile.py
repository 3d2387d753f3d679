"""A hostile or careless bundle never stops the venue's auctions (issue 10, finding 3).

The venue alone over real sockets, with a QuickFIX initiator logged on in the
gateway's place. A bundle the auction cannot model exactly is refused at arrival
with a ListStatus reject naming the field, the order and the limit; the other
bundles rest and fill in the next auction as if it had never come. A bundle a
journal kept from before the screening is cancelled when the venue restarts on
that journal, and the others fill.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from fixspec import Tag
from gateway.core.bundle import Constraint, OrderBundle
from gateway.fix.engine import msg_type
from gateway.fix.messages import decode_order_reports
from gateway.fix.venue_codec import encode_bundle
from gateway.tools.client import FixClient
from gateway.venue.app import Venue
from gateway.venue.journal import VenueJournal
from tests.integration.conftest import DEADLINE
from tests.integration.test_venue import (
    Auctions,
    _bundle,
    _order_list,
    _venue_alone,
)

pytestmark = pytest.mark.integration

SESSION = ("FIX.4.4", "VENUE", "BIDGW")  # the venue's side of the gateway's session


def venue_alone(
    ports: dict[str, int], tmp_path: Path, **extra: Any
) -> contextlib.AbstractContextManager[tuple[Venue, Auctions, FixClient]]:
    """The venue and a gateway-side initiator keeping its sequence numbers across the
    logon (see test_venue's ``_venue_alone``)."""
    return _venue_alone(ports, tmp_path, reset_on_logon=False, **extra)


def status(list_id: str, order_status: str) -> Callable[[Any], bool]:
    """A ListStatus for ``list_id`` with that ListOrderStatus (7 reject, 6 all done)."""
    return lambda m: (
        msg_type(m) == "N"
        and m.getField(Tag.LIST_ID) == list_id
        and m.getField(Tag.LIST_ORDER_STATUS) == order_status
    )


def priced(list_id: str, aaaa: str) -> OrderBundle:
    """The long pair of test_venue with AAAA's limit price ``aaaa``."""
    bundle = _bundle(list_id, "long")
    return replace(
        bundle, legs=(replace(bundle.legs[0], limit_price=Decimal(aaaa)), bundle.legs[1])
    )


def hedged(list_id: str, coefficients: tuple[str, str]) -> OrderBundle:
    bundle = _bundle(list_id, "long")
    row = Constraint(
        name="hedge",
        coefficients=tuple(Decimal(c) for c in coefficients),
        sense=bundle.constraints[0].sense,
    )
    return replace(bundle, constraints=(row,))


def send(client: FixClient, bundle: OrderBundle) -> None:
    ids = [f"{bundle.bundle_id}-{i + 1}" for i in range(len(bundle.legs))]
    assert client.send(encode_bundle(bundle, bundle.bundle_id, ids))


def assert_both_fill(client: FixClient, first: str, second: str) -> None:
    """``first`` and ``second`` (the long and short pair) fill completely."""
    for list_id in (first, second):
        done = client.wait_for(status(list_id, "6"), DEADLINE)
        assert done is not None, f"{list_id} did not fill"
        assert [(o.cum_qty, o.ord_status) for o in decode_order_reports(done)] == [
            (2000, "2"),
            (1000, "2"),
        ]


def test_a_price_off_the_tick_is_refused_alone_and_the_others_fill(ports, tmp_path):
    """Before: the venue booked it, and every auction after ended no_solution."""
    with venue_alone(ports, tmp_path) as (venue, _, gw):
        send(gw, priced("BAD", "9.95000000000000000000000001"))
        refused = gw.wait_for(status("BAD", "7"), DEADLINE)
        assert refused is not None, "the bundle was not refused"
        text = (
            "Price(44) of order BAD-1 (AAAA): 9.95000000000000000000000001 is not a multiple "
            "of the tick 0.01"
        )
        assert refused.getField(Tag.LIST_STATUS_TEXT) == text
        assert [o.ord_status for o in decode_order_reports(refused)] == ["8", "8"]
        assert gw.send(_order_list("LONG", "long"))
        assert gw.send(_order_list("SHORT", "short"))
        assert_both_fill(gw, "LONG", "SHORT")
        assert (venue.stats.bundles_received, venue.stats.bundles_rejected) == (3, 1)


def test_a_coefficient_with_too_many_digits_is_refused_naming_the_term(ports, tmp_path):
    """Before: booked, and every auction raised IndexError (HiGHS refused its row)."""
    with venue_alone(ports, tmp_path) as (_, auctions, gw):
        assert gw.send(_order_list("LONG", "long"))
        assert gw.wait_for(status("LONG", "1"), DEADLINE) is not None  # resting
        send(gw, hedged("BAD", ("3.0000000000000003", "-3")))
        refused = gw.wait_for(status("BAD", "7"), DEADLINE)
        assert refused is not None, "the bundle was not refused"
        assert refused.getField(Tag.LIST_STATUS_TEXT) == (
            "TermCoefficient(20016) of constraint hedge, order BAD-1 (AAAA): "
            "3.0000000000000003 has 17 significant digits; at most 15"
        )
        assert gw.send(_order_list("SHORT", "short"))
        assert_both_fill(gw, "LONG", "SHORT")
        assert all(s.status != "failed" for s in auctions.summaries)


def test_a_journaled_bundle_refused_today_is_cancelled_at_restart(ports, tmp_path):
    """A journal written before the screening holds the issue's bundle, resting. The
    venue restarted on it cancels that bundle, naming the field, and the bundle that
    rested beside it fills."""
    journal_path = tmp_path / "venue.sqlite"
    journal = VenueJournal(journal_path)
    for bundle in (priced("BAD", "9.95000000000000000000000001"), _bundle("LONG", "long")):
        ids = [f"{bundle.bundle_id}-{i + 1}" for i in range(len(bundle.legs))]
        raw = encode_bundle(bundle, bundle.bundle_id, ids).toString()
        journal.save(
            bundle.bundle_id,
            SESSION,
            raw,
            [0, 0],
            ["0/1", "0/1"],
            started=False,
            done=False,
            ids=(bundle.bundle_id, *ids),
        )
    journal.close()
    with venue_alone(ports, tmp_path, journal=journal_path) as (venue, _, gw):
        cancelled = gw.wait_for(status("BAD", "6"), DEADLINE)
        assert cancelled is not None, "the restored bundle was not cancelled"
        assert cancelled.getField(Tag.LIST_STATUS_TEXT) == (
            "cancelled by the venue: Price(44) of order BAD-1 (AAAA): "
            "9.95000000000000000000000001 is not a multiple of the tick 0.01"
        )
        assert [o.ord_status for o in decode_order_reports(cancelled)] == ["4", "4"]
        assert gw.send(_order_list("SHORT", "short"))
        assert_both_fill(gw, "LONG", "SHORT")
        assert venue.size().resting == 0
