"""The decision core, client side, driven directly: no FIX engine, no journal."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from gateway.core.errors import PayloadError, UnknownStrategyError
from gateway.core.reports import OrderReport
from gateway.router.config import ClientLimits
from gateway.router.decide import NOT_LOGGED_ON, ShuttingDown, unsolvable
from gateway.router.records import (
    Accept,
    Admit,
    Breach,
    BusinessReason,
    CancelOut,
    Decision,
    Denied,
    DenyCode,
    DenyKind,
    Ignored,
    ListCancel,
    ListHeader,
    NoticeReject,
    Repeat,
    Solved,
    VenueExecution,
)
from gateway.router.risk import NO_INSTRUMENTS

from .conftest import DESK1, DESK2, Core, header, hedged_bundle, solved_ok


def admit(core: Core, list_id: str, **kw: object) -> Admit:
    answer = core.decider.on_list(header(list_id, **kw))  # type: ignore[arg-type]
    assert isinstance(answer, Admit), answer
    return answer


def no_fill(admitted: Admit, outcome: str, reason: str) -> Solved:
    """The pre-solver's verdict without a fill (1.5 ms of solving)."""
    return Solved(
        admitted.header,
        admitted.bundle_id,
        hedged_bundle(admitted.bundle_id),
        feasible=False,
        outcome=outcome,
        reason=reason,
        presolve_ms=1.5,
    )


def accept(core: Core, list_id: str) -> Accept:
    answer = core.decider.on_solved(solved_ok(admit(core, list_id)), venue_up=True)
    assert isinstance(answer, Accept), answer
    return answer


def test_a_feasible_list_is_accepted_with_each_leg_mapped_to_its_order(core: Core) -> None:
    accepted = accept(core, "L1")
    record = accepted.record
    assert record.cl_ord_ids == ("L1-A", "L1-B")
    assert record.venue_ids == (f"{record.bundle_id}-1", f"{record.bundle_id}-2")
    assert (
        accepted.text
        == f"accepted as {record.bundle_id}; largest possible fill: AAAA 1000, BBBB 1000"
    )
    assert core.book.by_bundle[record.bundle_id] is record
    assert core.book.decision(DESK1, "L1").accepted  # type: ignore[union-attr]
    assert core.book.open_count(DESK1) == 1


def test_legs_map_by_payload_position_not_by_symbol(core: Core) -> None:
    admitted = admit(core, "L1", ids=("X", "Y", "Z"))
    # The strategy left the middle position out (no trade needed there).
    bundle = hedged_bundle(admitted.bundle_id, positions=(2, 0))
    answer = core.decider.on_solved(solved_ok(admitted, bundle), venue_up=True)
    assert isinstance(answer, Accept)
    assert answer.record.cl_ord_ids == ("L1-Z", "L1-X")
    assert answer.record.all_ids == ("L1-X", "L1-Y", "L1-Z")


def test_a_leg_without_a_position_of_this_list_is_denied(core: Core) -> None:
    admitted = admit(core, "L1")
    bundle = hedged_bundle(admitted.bundle_id, positions=(0, 5))
    answer = core.decider.on_solved(solved_ok(admitted, bundle), venue_up=True)
    assert isinstance(answer, Denied)
    assert answer.code is DenyCode.OTHER
    assert "instrument this list does not contain" in answer.reason


def test_a_duplicate_list_id_gets_a_business_reject_never_a_status_of_the_live_list(
    core: Core,
) -> None:
    accept(core, "L1")
    answer = core.decider.on_list(
        ListHeader(DESK1, "L1", ("L1-C",), ref_seq_num=7)  # no resend flag
    )
    assert answer == NoticeReject(
        DESK1,
        "E",
        BusinessReason.OTHER,
        "duplicate ListID 'L1': a list with this ListID was already received; this "
        "message is refused and the list it names is unaffected",
        7,
        "L1",
    )
    assert core.book.decision(DESK1, "L1").accepted  # type: ignore[union-attr]  # unchanged
    assert core.book.used_cl_ord_id(DESK1, ["L1-C"]) is None  # nothing of it is kept


def test_a_resend_is_answered_with_the_decision_and_each_orders_current_state(
    core: Core,
) -> None:
    accepted = accept(core, "L1")
    record = accepted.record
    answer = core.decider.on_list(header("L1", poss_dup=True))
    assert isinstance(answer, Repeat)
    assert answer.decision.accepted
    assert answer.decision.bundle_id == record.bundle_id
    # As accepted: every leg open for its whole quantity.
    assert [(o.cl_ord_id, o.leaves_qty, o.ord_status) for o in answer.orders] == [
        ("L1-A", 1000, "0"),
        ("L1-B", 1000, "0"),
    ]
    # A fill is relayed: the next resend carries it.
    state = OrderReport(f"{record.bundle_id}-1", 300, 700, 0, Decimal("9.95"), "1")
    core.relay.on_execution(VenueExecution(state.cl_ord_id, "the venue's report", state=state))
    answer = core.decider.on_list(header("L1", poss_dup=True))
    assert isinstance(answer, Repeat)
    assert answer.orders[0] == OrderReport("L1-A", 300, 700, 0, Decimal("9.95"), "1")
    assert answer.orders[1] == OrderReport("L1-B", leaves_qty=1000)


def test_a_resend_of_a_rejected_list_repeats_the_reject(core: Core) -> None:
    admitted = admit(core, "L1")
    core.decider.on_solved(
        Solved(admitted.header, admitted.bundle_id, error=PayloadError("bad")), venue_up=True
    )
    answer = core.decider.on_list(header("L1", poss_dup=True))
    assert isinstance(answer, Repeat)
    assert not answer.decision.accepted
    assert answer.decision.reject_reason == DenyCode.OTHER
    assert [(o.cl_ord_id, o.ord_status) for o in answer.orders] == [("L1-A", "8"), ("L1-B", "8")]


def test_a_resend_while_the_list_is_being_decided_gets_no_second_answer(core: Core) -> None:
    admitted = admit(core, "L1")
    answer = core.decider.on_list(header("L1", poss_dup=True))
    assert isinstance(answer, Ignored)
    assert not answer.error
    assert isinstance(core.decider.on_solved(solved_ok(admitted), venue_up=True), Accept)


def test_a_replayed_list_is_answered_not_decided_again(core: Core) -> None:
    admitted = admit(core, "L1")
    core.decider.on_solved(
        Solved(admitted.header, admitted.bundle_id, error=PayloadError("bad")), venue_up=True
    )
    answer = core.decider.on_list(header("L1", replay=True))
    assert isinstance(answer, Repeat)
    assert not answer.decision.accepted


def test_a_reused_cl_ord_id_is_denied_as_duplicate(core: Core) -> None:
    accept(core, "L1")
    answer = core.decider.on_list(ListHeader(DESK1, "L2", ("L1-A", "new")))
    assert isinstance(answer, Denied)
    assert (answer.code, answer.kind) == (DenyCode.DUPLICATE, DenyKind.DUPLICATE)
    assert answer.reason == "duplicate ClOrdID 'L1-A': already used by this client"


def test_ids_are_per_client(core: Core) -> None:
    accept(core, "L1")
    assert isinstance(core.decider.on_list(header("L1", session=DESK2)), Admit)


def test_a_duplicate_arriving_during_the_solve_is_refused(core: Core) -> None:
    admit(core, "L1")
    answer = core.decider.on_list(header("L1", ids=("C",)))
    assert isinstance(answer, NoticeReject)
    assert answer.ref_id == "L1"


def test_too_many_orders_are_refused_before_anything_is_remembered(core: Core) -> None:
    ids = tuple(f"O{i}" for i in range(101))
    answer = core.decider.on_list(ListHeader(DESK1, "BIG", ids))
    assert isinstance(answer, Denied)
    assert (answer.code, answer.kind) == (DenyCode.UNSUPPORTED, DenyKind.INVALID)
    assert not answer.remember
    assert answer.cl_ord_ids == ids  # every ClOrdID is answered, the 101st too
    assert core.book.decision(DESK1, "BIG") is None


def test_an_unknown_strategy_is_denied_by_its_error_type() -> None:
    core = Core()
    admitted = admit(core, "L1")
    error = UnknownStrategyError("unknown strategy 'x' (available: a)")
    answer = core.decider.on_solved(
        Solved(admitted.header, admitted.bundle_id, error=error), venue_up=True
    )
    assert isinstance(answer, Denied)
    assert answer.code is DenyCode.UNSUPPORTED
    # The same words in another error type do not choose the code.
    admitted = admit(core, "L2")
    other = PayloadError("unknown strategy 'x' is mentioned here")
    answer = core.decider.on_solved(
        Solved(admitted.header, admitted.bundle_id, error=other), venue_up=True
    )
    assert isinstance(answer, Denied)
    assert (answer.code, answer.kind) == (DenyCode.OTHER, DenyKind.INVALID)


def test_a_solver_crash_denies_that_list_only(core: Core) -> None:
    admitted = admit(core, "L1")
    crash = Solved(admitted.header, admitted.bundle_id, error=IndexError("list index out of range"))
    answer = core.decider.on_solved(crash, venue_up=True)
    assert isinstance(answer, Denied)
    assert answer.reason == "pre-solve failed: IndexError: list index out of range"
    assert answer.kind is DenyKind.INTERNAL
    assert core.book.open_count(DESK1) == 0
    accept(core, "L2")


def test_an_infeasible_verdict_is_denied_with_the_pre_solvers_reason(core: Core) -> None:
    verdict = no_fill(admit(core, "L1"), "infeasible", "needs AAAA 900 above its limit 500")
    answer = core.decider.on_solved(verdict, venue_up=True)
    assert isinstance(answer, Denied)
    assert answer.reason == "pre-solve infeasible: needs AAAA 900 above its limit 500"
    assert answer.presolve_ms == 1.5
    assert answer.kind is DenyKind.INFEASIBLE
    assert core.book.decision(DESK1, "L1").reject_reason == DenyCode.OTHER  # type: ignore[union-attr]


def test_the_counterparty_down_denies_with_reason_closed(core: Core) -> None:
    answer = core.decider.on_solved(solved_ok(admit(core, "L1")), venue_up=False)
    assert isinstance(answer, Denied)
    assert (answer.code, answer.kind) == (DenyCode.CLOSED, DenyKind.VENUE_DOWN)
    assert "not logged on" in answer.reason


def test_forward_failure_undoes_the_registration(core: Core) -> None:
    accepted = accept(core, "L1")
    answer = core.decider.forward_failed(accepted.record)
    assert isinstance(answer, Denied)
    assert (answer.code, answer.kind) == (DenyCode.CLOSED, DenyKind.VENUE_DOWN)
    assert accepted.record.bundle_id not in core.book.by_bundle
    assert core.book.open_count(DESK1) == 0
    assert not core.book.decision(DESK1, "L1").accepted  # type: ignore[union-attr]


def test_leg_limit() -> None:
    core = Core(limits=ClientLimits(max_legs=1))
    answer = core.decider.on_solved(solved_ok(admit(core, "L1")), venue_up=True)
    assert isinstance(answer, Denied)
    assert answer.reason == "limit: 2 legs, at most 1 per bundle"
    assert answer.kind is DenyKind.LIMIT


def test_notional_limit() -> None:
    core = Core(limits=ClientLimits(max_notional=Decimal(29_999)))
    answer = core.decider.on_solved(solved_ok(admit(core, "L1")), venue_up=True)
    assert isinstance(answer, Denied)
    assert answer.reason == "limit: notional 30000 above 29999"


def test_open_bundle_limit_counts_accepted_bundles_until_they_finish() -> None:
    core = Core(limits=ClientLimits(max_open_bundles=1))
    first = accept(core, "L1")
    answer = core.decider.on_solved(solved_ok(admit(core, "L2")), venue_up=True)
    assert isinstance(answer, Denied)
    assert answer.reason == "limit: 1 bundles already open, at most 1"
    core.book.finish(first.record, core.clock())
    accept(core, "L3")


def test_cancel_of_an_open_list_is_forwarded_under_the_bundle_id(core: Core) -> None:
    accepted = accept(core, "L1")
    answer = core.decider.on_cancel(ListCancel(DESK1, "L1", 7), venue_up=True)
    assert answer == CancelOut(DESK1, "L1", accepted.record.bundle_id, 7)


def test_cancel_of_an_unknown_or_done_list_gets_a_business_reject(core: Core) -> None:
    answer = core.decider.on_cancel(ListCancel(DESK1, "NOPE", 3), venue_up=True)
    assert isinstance(answer, NoticeReject)
    assert answer.reason is BusinessReason.UNKNOWN_ID
    assert answer.ref_id == "NOPE"
    accepted = accept(core, "L1")
    core.book.finish(accepted.record, core.clock())
    answer = core.decider.on_cancel(ListCancel(DESK1, "L1", 4), venue_up=True)
    assert isinstance(answer, NoticeReject)
    assert "already done" in answer.text


def test_cancel_while_the_counterparty_is_down(core: Core) -> None:
    accept(core, "L1")
    answer = core.decider.on_cancel(ListCancel(DESK1, "L1", 5), venue_up=False)
    assert isinstance(answer, NoticeReject)
    assert answer.reason is BusinessReason.NOT_AVAILABLE


def test_open_bundle_limit_is_judged_on_the_count_when_the_list_arrived() -> None:
    core = Core(limits=ClientLimits(max_open_bundles=1))
    first = core.decider.on_list(header("A"))
    second = core.decider.on_list(header("B"))
    assert isinstance(first, Admit)
    assert isinstance(second, Admit)
    # Whatever order the solves finish in, the first list in is the one accepted.
    denied = core.decider.on_solved(solved_ok(second), venue_up=True)
    assert isinstance(denied, Denied)
    assert denied.reason == "limit: 1 bundles already open, at most 1"
    assert isinstance(core.decider.on_solved(solved_ok(first), venue_up=True), Accept)


def test_a_list_abandoned_at_shutdown_is_not_remembered_and_can_be_sent_again(core: Core) -> None:
    admitted = admit(core, "L1")
    stopped = Solved(admitted.header, admitted.bundle_id, error=ShuttingDown("shutting down"))
    answer = core.decider.on_solved(stopped, venue_up=True)
    assert isinstance(answer, Denied)
    assert not answer.remember
    assert core.book.decision(DESK1, "L1") is None
    assert isinstance(core.decider.on_list(header("L1")), Admit)


def test_cancel_of_a_finished_list_that_left_memory_says_done() -> None:
    core = Core(retain=1)
    record = accept(core, "L1").record
    core.book.finish(record, core.clock())
    core.clock.now += 5
    core.book.expire(core.clock())

    class History:
        def past_decision(self, session: object, list_id: str) -> Decision | None:
            return Decision(True, "accepted", ("L1-A", "L1-B"), record.bundle_id)

        def used_cl_ord_id(self, session: object, ids: object) -> str | None:
            return None

    core.book.history = History()  # type: ignore[assignment]
    answer = core.decider.on_cancel(ListCancel(DESK1, "L1", 9), venue_up=True)
    assert isinstance(answer, NoticeReject)
    assert answer.text == "cannot cancel 'L1': the list is already done"


def test_each_denial_names_its_kind_for_the_operators_metrics() -> None:
    """The wire says ListRejectReason 99 for most denials; the kind tells them apart."""
    core = Core()
    core.decider.pretrade = lambda _bundle: "leg 1 (buy AAAA): AAAA is on the restricted list"
    answer = core.decider.on_solved(solved_ok(admit(core, "P1")), venue_up=True)
    assert isinstance(answer, Denied)
    assert (answer.code, answer.kind) == (DenyCode.OTHER, DenyKind.PRETRADE)
    core.decider.pretrade = lambda _bundle: None
    core.decider.blocked = lambda _comp_id: "kill switch thrown for DESK1"
    answer = core.decider.on_solved(solved_ok(admit(core, "H1")), venue_up=True)
    assert isinstance(answer, Denied)
    assert answer.kind is DenyKind.HALTED
    core.decider.blocked = lambda _comp_id: None
    slow = no_fill(admit(core, "T1"), "timeout", "no fill found within 1000 ms")
    answer = core.decider.on_solved(slow, venue_up=True)
    assert isinstance(answer, Denied)
    assert answer.kind is DenyKind.PRESOLVE_TIMEOUT


def test_no_instrument_list_while_the_counterparty_is_down_says_the_counterparty_is_down() -> None:
    """The list is not loaded because nobody answered: the desk should wait for the
    counterparty, not wonder about the instrument list."""
    core = Core()
    core.decider.pretrade = lambda _bundle: NO_INSTRUMENTS
    down = core.decider.on_solved(solved_ok(admit(core, "D1")), venue_up=False)
    assert isinstance(down, Denied)
    assert (down.code, down.kind, down.reason) == (
        DenyCode.CLOSED,
        DenyKind.VENUE_DOWN,
        NOT_LOGGED_ON,
    )
    up = core.decider.on_solved(solved_ok(admit(core, "D2")), venue_up=True)
    assert isinstance(up, Denied)
    assert (up.kind, up.reason) == (DenyKind.PRETRADE, NO_INSTRUMENTS)


def test_a_breach_keeps_its_kind_from_the_check_that_found_it_not_from_its_text() -> None:
    """The pool's refusal (a limit or a pre-trade check, before the solve) reaches the
    decider as a Breach; if the checks pass by then, the list is still denied, with the
    pool's reason and kind, whatever the reason's text says."""

    def restricted(_bundle: object) -> str:
        return "limit: sounds like a limit, is a pre-trade check"

    bundle = hedged_bundle("B-1")
    assert unsolvable(bundle, ClientLimits(max_legs=1), 0, restricted) == Breach(
        "limit: 2 legs, at most 1 per bundle", DenyKind.LIMIT
    )
    wide = ClientLimits(max_legs=4)
    assert unsolvable(bundle, wide, 0, restricted) == Breach(
        "limit: sounds like a limit, is a pre-trade check", DenyKind.PRETRADE
    )
    assert unsolvable(bundle, wide, 0, lambda _bundle: None) is None
    core = Core()
    refused = Breach("the instrument list changed since", DenyKind.PRETRADE)
    solved = dataclasses.replace(solved_ok(admit(core, "R1")), refused=refused, feasible=False)
    answer = core.decider.on_solved(solved, venue_up=True)
    assert isinstance(answer, Denied)
    assert (answer.code, answer.reason, answer.kind) == (
        DenyCode.OTHER,
        "the instrument list changed since",
        DenyKind.PRETRADE,
    )
