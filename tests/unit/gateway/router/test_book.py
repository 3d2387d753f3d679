"""Retention: finished bundles and old decisions leave memory; the history answers after."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.core.reports import OrderReport
from gateway.router.book import Book
from gateway.router.records import (
    Accept,
    BusinessReason,
    Decision,
    Denied,
    DenyCode,
    ListHeader,
    NoticeReject,
    Repeat,
    SessionKey,
)

from .conftest import DESK1, Core, header, solved_ok


class DictHistory:
    """What a journal would answer, kept in a dict (the real one is tested with SQLite)."""

    def __init__(self) -> None:
        self.decisions: dict[tuple[SessionKey, str], Decision] = {}
        self.orders: dict[tuple[SessionKey, str], tuple[OrderReport, ...]] = {}

    def past_decision(self, session: SessionKey, list_id: str) -> Decision | None:
        return self.decisions.get((session, list_id))

    def used_cl_ord_id(self, session: SessionKey, cl_ord_ids: Iterable[str]) -> str | None:
        used = {c for (s, _), d in self.decisions.items() if s == session for c in d.cl_ord_ids}
        return next((c for c in cl_ord_ids if c in used), None)

    def past_orders(self, session: SessionKey, list_id: str) -> tuple[OrderReport, ...] | None:
        return self.orders.get((session, list_id))


def run_bundle(core: Core, list_id: str) -> Accept:
    admit = core.decider.on_list(header(list_id))
    answer = core.decider.on_solved(solved_ok(admit), venue_up=True)  # type: ignore[arg-type]
    assert isinstance(answer, Accept)
    return answer


def test_a_finished_bundle_leaves_memory_after_the_grace_period() -> None:
    core = Core(retain=60)
    record = run_bundle(core, "L1").record
    core.book.finish(record, core.clock())
    core.clock.now += 59
    core.book.expire(core.clock())
    assert record.bundle_id in core.book.by_bundle  # late fills still map
    core.clock.now += 2
    core.book.expire(core.clock())
    assert core.book.size() == {"bundles": 0, "venue_orders": 0, "decisions": 0, "cl_ord_ids": 0}
    assert core.book.clients == {}


def test_an_open_bundle_is_never_expired() -> None:
    core = Core(retain=1)
    record = run_bundle(core, "L1").record
    core.clock.now += 10_000
    core.book.expire(core.clock())
    assert core.book.by_bundle[record.bundle_id] is record
    assert core.book.decision(DESK1, "L1") is not None


def test_memory_stays_flat_over_many_bundles() -> None:
    core = Core(retain=5)
    sizes = []
    for i in range(2000):
        record = run_bundle(core, f"L{i}").record
        core.book.finish(record, core.clock())
        core.clock.now += 0.1
        core.book.expire(core.clock())
        if i in (999, 1999):
            sizes.append(core.book.size())
    assert sizes[0] == sizes[1]
    assert sizes[1]["bundles"] <= 51


def test_duplicates_are_found_in_the_history_after_memory_forgot_them() -> None:
    core = Core(retain=1)
    history = DictHistory()
    core.book.history = history
    record = run_bundle(core, "L1").record
    history.decisions[(DESK1, "L1")] = core.book.decision(DESK1, "L1")  # type: ignore[assignment]
    filled = (OrderReport("L1-A", 1000, 0, 0, ord_status="2"), OrderReport("L1-B", 1000))
    history.orders[(DESK1, "L1")] = filled
    core.book.finish(record, core.clock())
    core.clock.now += 5
    core.book.expire(core.clock())
    assert core.book.size()["decisions"] == 0
    again = core.decider.on_list(header("L1"))
    assert isinstance(again, NoticeReject)
    assert (again.reason, again.ref_id) == (BusinessReason.OTHER, "L1")
    assert "duplicate ListID 'L1'" in again.text
    resent = core.decider.on_list(header("L1", poss_dup=True))
    assert isinstance(resent, Repeat)
    assert resent.orders == filled  # the legs' state the journal kept
    reused = core.decider.on_list(ListHeader(DESK1, "L2", ("L1-A",)))
    assert isinstance(reused, Denied)
    assert "duplicate ClOrdID 'L1-A'" in reused.reason


def test_no_history_means_only_memory_counts() -> None:
    book = Book(retain_done_secs=1)
    assert book.decision(DESK1, "X") is None
    assert book.used_cl_ord_id(DESK1, ["a"]) is None


def test_a_bundle_restored_from_the_journal_is_relayed_deduplicated_and_cancellable() -> None:
    from gateway.core.reports import ListOrderStatus
    from gateway.router.records import (
        BundleRecord,
        CancelOut,
        Close,
        ListCancel,
        RelayStatus,
        VenueListStatus,
    )

    core = Core()
    record = BundleRecord(
        client=DESK1,
        list_id="L7",
        cl_ord_ids=("L7-C", "L7-A"),
        all_ids=("L7-A", "L7-B", "L7-C"),
        bundle_id="Bold-7",
        venue_ids=("Bold-7-1", "Bold-7-2"),
        legs_qty=(500, 200),
    )
    decision = Decision(True, "accepted as Bold-7", record.all_ids, "Bold-7")
    core.book.restore(record, decision, core.clock())
    assert core.book.open_count(DESK1) == 1
    # The list replayed from the inbox is answered, not decided again; a reused id is refused.
    assert isinstance(core.decider.on_list(header("L7", replay=True)), Repeat)
    reused = core.decider.on_list(ListHeader(DESK1, "L8", ("L7-B",)))
    assert isinstance(reused, Denied)
    assert reused.code is DenyCode.DUPLICATE
    cancel = core.decider.on_cancel(ListCancel(DESK1, "L7", 3), venue_up=True)
    assert cancel == CancelOut(DESK1, "L7", "Bold-7", 3)
    from gateway.core.reports import OrderReport

    done = VenueListStatus(
        bundle_id="Bold-7",
        status_type=5,
        order_status=ListOrderStatus.ALL_DONE,
        rpt_seq=2,
        orders=(OrderReport("Bold-7-2", cum_qty=200), OrderReport("Bold-7-1", cum_qty=500)),
    )
    relay, close = core.relay.on_status(done)
    assert isinstance(relay, RelayStatus)
    assert isinstance(close, Close)
    assert [o.cl_ord_id for o in relay.status.orders] == ["L7-A", "L7-C"]


def test_a_list_still_being_solved_is_never_forgotten() -> None:
    core = Core(retain=1)
    admit = core.decider.on_list(header("L1"))
    core.clock.now += 3600  # a long queue: the solve has not come back
    core.book.expire(core.clock())
    again = core.decider.on_list(header("L1"))
    assert isinstance(again, NoticeReject)
    assert "duplicate ListID 'L1'" in again.text
    assert isinstance(core.decider.on_solved(solved_ok(admit), venue_up=True), Accept)  # type: ignore[arg-type]


def test_every_cl_ord_id_of_a_remembered_denial_counts_as_used() -> None:
    core = Core()
    run_bundle(core, "L1")
    # L2 reuses L1-A: denied, and its fresh ClOrdID is now used too (as the journal has it).
    core.decider.on_list(ListHeader(DESK1, "L2", ("L1-A", "L2-new")))
    reused = core.decider.on_list(ListHeader(DESK1, "L3", ("L2-new",)))
    assert isinstance(reused, Denied)
    assert "duplicate ClOrdID 'L2-new'" in reused.reason
