"""The decision core, counterparty side: reports mapped back to the client's ids."""

from __future__ import annotations

import dataclasses

from gateway.core.reports import ListOrderStatus, ListStatusType, OrderReport
from gateway.router.records import (
    Accept,
    CancelOut,
    Close,
    Denied,
    DenyCode,
    Ignored,
    NoticeReject,
    Reconciled,
    ReconcileOutcome,
    RelayExecution,
    RelayStatus,
    VenueExecution,
    VenueListStatus,
    VenueReject,
)

from .conftest import DESK1, Core, header, solved_ok


def accepted(core: Core, list_id: str = "L1") -> Accept:
    admit = core.decider.on_list(header(list_id))
    answer = core.decider.on_solved(solved_ok(admit), venue_up=True)  # type: ignore[arg-type]
    assert isinstance(answer, Accept)
    return answer


def status(bundle_id: str, order_status: int, *, cum: int = 0) -> VenueListStatus:
    return VenueListStatus(
        bundle_id=bundle_id,
        status_type=ListStatusType.ALL_DONE
        if order_status == ListOrderStatus.ALL_DONE
        else ListStatusType.EXEC_STARTED,
        order_status=order_status,
        rpt_seq=1,
        orders=(
            OrderReport(f"{bundle_id}-1", cum_qty=cum, ord_status="2"),
            OrderReport(f"{bundle_id}-2", cum_qty=cum, ord_status="2"),
        ),
        text="auction 7",
    )


def fill(venue_id: str) -> VenueExecution:
    """The core never looks inside the message: any object stands in for it here."""
    return VenueExecution(venue_id, message=("the venue's ExecutionReport", venue_id))


def test_a_fill_is_relayed_in_the_clients_ids(core: Core) -> None:
    record = accepted(core).record
    execution = fill(f"{record.bundle_id}-1")
    [action] = core.relay.on_execution(execution)
    assert isinstance(action, RelayExecution)
    assert action.session == DESK1
    assert action.execution is execution
    assert (action.cl_ord_id, action.list_id, action.bundle_id) == ("L1-A", "L1", record.bundle_id)


def test_a_status_is_relayed_and_a_terminal_one_closes_after_the_relay(core: Core) -> None:
    record = accepted(core).record
    actions = core.relay.on_status(status(record.bundle_id, ListOrderStatus.EXECUTING, cum=100))
    assert [type(a) for a in actions] == [RelayStatus]
    actions = core.relay.on_status(status(record.bundle_id, ListOrderStatus.ALL_DONE, cum=1000))
    assert [type(a) for a in actions] == [RelayStatus, Close]
    assert not record.done  # until the relay went out and Close is carried out
    core.relay.close(record.bundle_id)
    relay = actions[0]
    assert isinstance(relay, RelayStatus)
    assert relay.list_id == "L1"
    assert relay.bundle_id == record.bundle_id
    assert [o.cl_ord_id for o in relay.status.orders] == ["L1-A", "L1-B"]
    assert record.done
    assert core.book.open_count(DESK1) == 0


def test_a_second_terminal_status_is_not_relayed(core: Core) -> None:
    record = accepted(core).record
    core.relay.on_status(status(record.bundle_id, ListOrderStatus.ALL_DONE))
    core.relay.close(record.bundle_id)
    [again] = core.relay.on_status(status(record.bundle_id, ListOrderStatus.ALL_DONE))
    assert isinstance(again, Ignored)
    assert again.event == "venue.status_after_done"


def test_fills_after_the_final_status_are_still_relayed_within_the_grace_period(core: Core) -> None:
    record = accepted(core).record
    core.relay.on_status(status(record.bundle_id, ListOrderStatus.ALL_DONE, cum=1000))
    core.relay.close(record.bundle_id)
    final = list(record.orders)
    late = VenueExecution(
        f"{record.bundle_id}-2",
        message=("a resent ExecutionReport",),
        state=OrderReport(f"{record.bundle_id}-2", cum_qty=500, leaves_qty=500, ord_status="1"),
    )
    noted, relayed = core.relay.on_execution(late)
    assert isinstance(noted, Ignored)
    assert (noted.event, noted.bundle_id, noted.error) == (
        "venue.execution_after_done",
        record.bundle_id,
        False,
    )
    assert isinstance(relayed, RelayExecution)
    assert relayed.execution is late
    assert record.orders == final  # an older report does not undo the terminal state


def test_reports_for_unknown_ids_are_ignored_not_relayed(core: Core) -> None:
    [action] = core.relay.on_status(status("B-nope", ListOrderStatus.EXECUTING))
    assert isinstance(action, Ignored)
    assert action.event == "venue.unknown_list"
    [action] = core.relay.on_execution(fill("B-nope-1"))
    assert isinstance(action, Ignored)
    assert action.event == "venue.unknown_order"
    record = accepted(core).record
    foreign = dataclasses.replace(
        status(record.bundle_id, ListOrderStatus.EXECUTING),
        orders=(OrderReport("B-other-1"),),
    )
    [action] = core.relay.on_status(foreign)
    assert isinstance(action, Ignored)
    assert action.event == "venue.unknown_order"


def test_a_counterparty_reject_after_accept_denies_and_closes(core: Core) -> None:
    record = accepted(core).record
    actions = core.relay.on_reject(VenueReject(record.bundle_id, 12, "counterparty rejected: no"))
    assert [type(a) for a in actions] == [Denied, Close]
    denied = actions[0]
    assert isinstance(denied, Denied)
    assert denied.code is DenyCode.OTHER
    assert not denied.remember
    assert denied.bundle_id == record.bundle_id
    assert denied.cl_ord_ids == ("L1-A", "L1-B")
    core.relay.close(record.bundle_id)
    [again] = core.relay.on_reject(VenueReject(record.bundle_id, 12, "again"))
    assert isinstance(again, Ignored)


def test_an_unmatched_reject_is_ignored(core: Core) -> None:
    [action] = core.relay.on_reject(VenueReject(None, 99, "counterparty rejected: ?"))
    assert isinstance(action, Ignored)
    assert action.event == "venue.reject_unmatched"


def test_a_counterparty_list_reject_after_accept_is_relayed_as_all_done_not_as_a_decision(
    core: Core,
) -> None:
    """The gateway's own decision reject is ListStatusType 2; the counterparty's reject of
    an accepted bundle must not share that shape, whatever type the counterparty used."""
    record = accepted(core).record
    refused = VenueListStatus(
        bundle_id=record.bundle_id,
        status_type=ListStatusType.RESPONSE,
        order_status=ListOrderStatus.REJECT,
        rpt_seq=1,
        orders=(
            OrderReport(f"{record.bundle_id}-1", ord_status="8"),
            OrderReport(f"{record.bundle_id}-2", ord_status="8"),
        ),
        text="unknown symbol(s) ZZZZ",
        reject_reason=99,
    )
    relay, close = core.relay.on_status(refused)
    assert isinstance(relay, RelayStatus)
    assert isinstance(close, Close)
    assert relay.status.status_type == ListStatusType.ALL_DONE
    assert relay.status.order_status == ListOrderStatus.REJECT
    assert relay.status.reject_reason == 99
    assert relay.bundle_id == record.bundle_id
    assert [o.ord_status for o in record.orders] == ["8", "8"]


def test_reports_keep_each_legs_current_state_for_a_resend(core: Core) -> None:
    record = accepted(core).record
    core.relay.on_status(status(record.bundle_id, ListOrderStatus.EXECUTING, cum=400))
    assert [(o.cl_ord_id, o.cum_qty, o.ord_status) for o in record.orders] == [
        ("L1-A", 400, "2"),
        ("L1-B", 400, "2"),
    ]
    closed = OrderReport(f"{record.bundle_id}-2", 600, 0, ord_status="3")
    core.relay.on_execution(VenueExecution(closed.cl_ord_id, "report", state=closed))
    assert record.orders[1] == OrderReport("L1-B", 600, 0, 400, ord_status="3")
    core.relay.on_reject(VenueReject(record.bundle_id, 3, "counterparty rejected: late"))
    assert [o.ord_status for o in record.orders] == ["8", "8"]


def refused_cancel(bundle_id: str, *, unknown: bool) -> VenueReject:
    return VenueReject(
        bundle_id,
        None,
        f"counterparty rejected: unknown or finished list {bundle_id!r}",
        ref_msg_type="K",
        unknown_id=unknown,
    )


def test_a_cancel_refused_as_unknown_closes_the_open_bundle_with_its_legs_cancelled(
    core: Core,
) -> None:
    """The counterparty holds no such list (it lost its book): nothing more can fill."""
    record = accepted(core).record
    partial = OrderReport(f"{record.bundle_id}-1", 400, 600, ord_status="1")
    core.relay.on_execution(VenueExecution(partial.cl_ord_id, "report", state=partial))
    actions = core.relay.on_reject(refused_cancel(record.bundle_id, unknown=True))
    assert [type(a) for a in actions] == [Ignored, RelayStatus, Close]
    relay = actions[1]
    assert isinstance(relay, RelayStatus)
    assert (relay.session, relay.list_id) == (DESK1, "L1")
    assert relay.status.status_type == ListStatusType.ALL_DONE
    assert relay.status.order_status == ListOrderStatus.ALL_DONE
    assert f"no open list {record.bundle_id}" in (relay.status.text or "")
    assert [
        (o.cl_ord_id, o.cum_qty, o.leaves_qty, o.cxl_qty, o.ord_status) for o in relay.status.orders
    ] == [("L1-A", 400, 0, 600, "4"), ("L1-B", 0, 0, 1000, "4")]
    assert record.orders == list(relay.status.orders)  # a resend of the list says so too


def test_a_cancel_refused_for_another_reason_leaves_the_bundle_open_and_tells_the_desk(
    core: Core,
) -> None:
    record = accepted(core).record
    [alone] = core.relay.on_reject(refused_cancel(record.bundle_id, unknown=False))
    assert isinstance(alone, Ignored)
    assert (alone.event, alone.error) == ("venue.cancel_refused", True)
    core.relay.cancel_sent(CancelOut(DESK1, "L1", record.bundle_id, 41))
    actions = core.relay.on_reject(refused_cancel(record.bundle_id, unknown=False))
    notice = actions[-1]
    assert isinstance(notice, NoticeReject)
    assert (notice.session, notice.ref_msg_type, notice.ref_seq_num, notice.ref_id) == (
        DESK1,
        "K",
        41,
        "L1",
    )
    assert notice.text.endswith("the list stays open")
    assert not record.done
    assert core.relay.cancels == {}


def test_a_cancel_refused_after_the_bundle_finished_changes_nothing(core: Core) -> None:
    """Its terminal status crossed the cancel: that status already answered the desk."""
    record = accepted(core).record
    core.relay.cancel_sent(CancelOut(DESK1, "L1", record.bundle_id, 41))
    core.relay.on_status(status(record.bundle_id, ListOrderStatus.ALL_DONE, cum=1000))
    core.relay.close(record.bundle_id)
    [action] = core.relay.on_reject(refused_cancel(record.bundle_id, unknown=True))
    assert isinstance(action, Ignored)
    assert (action.event, action.error) == ("venue.cancel_refused_after_done", False)
    assert [o.ord_status for o in record.orders] == ["2", "2"]


# --- reconciliation at the counterparty's logon ------------------------------------------


def refused_status_request(bundle_id: str | None, *, unknown: bool = True) -> VenueReject:
    """The counterparty's BusinessMessageReject of a ListStatusRequest (RefMsgType M)."""
    return VenueReject(
        bundle_id,
        None,
        f"counterparty rejected: unknown list {bundle_id!r}",
        ref_msg_type="M",
        unknown_id=unknown,
    )


def test_at_a_logon_every_open_bundle_is_asked_about_but_those_skipped_and_the_done(
    core: Core,
) -> None:
    """Skipped: not forwarded yet, or forwarded again at this logon (the service says
    which); a done bundle is never asked about."""
    ids = [accepted(core, list_id).record.bundle_id for list_id in ("L1", "L2", "L3", "L4")]
    core.relay.on_status(status(ids[3], ListOrderStatus.ALL_DONE, cum=1000))
    core.relay.close(ids[3])
    assert core.relay.to_reconcile(skip={ids[1]}) == [ids[0], ids[2]]
    assert core.relay.to_reconcile() == ids[:3]


def test_a_status_request_refused_as_unknown_closes_the_bundle_as_a_refused_cancel_does(
    core: Core,
) -> None:
    """The counterparty holds no such list: legs cancelled, the desk told with a terminal
    status saying so, the bundle done once the relay went out; tallied as closed."""
    record = accepted(core).record
    partial = OrderReport(f"{record.bundle_id}-1", 400, 600, ord_status="1")
    core.relay.on_execution(VenueExecution(partial.cl_ord_id, "report", state=partial))
    assert core.relay.reconciling([record.bundle_id]) == 0
    actions = core.relay.on_reject(refused_status_request(record.bundle_id))
    assert [type(a) for a in actions] == [Ignored, RelayStatus, Close, Reconciled]
    relay, tally = actions[1], actions[3]
    assert isinstance(relay, RelayStatus)
    assert (relay.session, relay.list_id, relay.bundle_id) == (DESK1, "L1", record.bundle_id)
    assert relay.status.status_type == ListStatusType.ALL_DONE
    assert relay.status.order_status == ListOrderStatus.ALL_DONE
    assert relay.status.text == (
        f"closed: the counterparty has no open list {record.bundle_id} (counterparty "
        f"rejected: unknown list {record.bundle_id!r}); nothing more will fill"
    )
    assert [
        (o.cl_ord_id, o.cum_qty, o.leaves_qty, o.cxl_qty, o.ord_status) for o in relay.status.orders
    ] == [("L1-A", 400, 0, 600, "4"), ("L1-B", 0, 0, 1000, "4")]
    assert tally == Reconciled(record.bundle_id, ReconcileOutcome.CLOSED, 1, 0, 1, 0)
    assert tally.complete
    core.relay.close(record.bundle_id)
    assert record.done
    # A second copy of the answer (resent after a reconnect) changes nothing.
    [again] = core.relay.on_reject(refused_status_request(record.bundle_id))
    assert isinstance(again, Ignored)
    assert (again.event, again.error) == ("venue.status_unknown_after_done", False)


def test_a_status_answer_is_relayed_as_any_status_and_tallied_once(core: Core) -> None:
    """A ListStatus about an asked-about bundle is its answer: relayed, the legs' state
    replaced (not added to), and counted once however many statuses follow."""
    first, second = (accepted(core, list_id).record for list_id in ("L1", "L2"))
    core.relay.reconciling([first.bundle_id, second.bundle_id])
    answer = status(first.bundle_id, ListOrderStatus.EXECUTING, cum=400)
    actions = core.relay.on_status(answer)
    assert [type(a) for a in actions] == [RelayStatus, Reconciled]
    tally = actions[1]
    assert tally == Reconciled(first.bundle_id, ReconcileOutcome.HELD, 2, 1, 0, 0)
    assert not tally.complete
    # The same state again (the venue's own resync, say): relayed, not tallied again,
    # and the legs hold the quantities once.
    assert [type(a) for a in core.relay.on_status(answer)] == [RelayStatus]
    assert [o.cum_qty for o in first.orders] == [400, 400]
    assert not first.done
    # The other is refused for another reason: the bundle stays open; the tally is done.
    other = core.relay.on_reject(refused_status_request(second.bundle_id, unknown=False))
    assert [type(a) for a in other] == [Ignored, Reconciled]
    assert isinstance(other[0], Ignored)
    assert other[0].event == "venue.status_request_refused"
    assert other[1] == Reconciled(second.bundle_id, ReconcileOutcome.REFUSED, 2, 1, 0, 1)
    assert other[1].complete
    assert not second.done


def test_a_new_logons_requests_start_a_new_tally(core: Core) -> None:
    """The session dropped before every answer came: the next logon asks again, and says
    how many went unanswered."""
    record = accepted(core).record
    core.relay.reconciling([record.bundle_id])
    assert core.relay.reconciling([record.bundle_id]) == 1
    [_, tally] = core.relay.on_status(status(record.bundle_id, ListOrderStatus.EXECUTING))
    assert tally == Reconciled(record.bundle_id, ReconcileOutcome.HELD, 1, 1, 0, 0)
    # Outside a tally (nothing asked), statuses and rejects are handled as before.
    assert core.relay.reconciling([]) == 0
    assert [
        type(a) for a in core.relay.on_status(status(record.bundle_id, ListOrderStatus.EXECUTING))
    ] == [RelayStatus]
