"""Retention: finished bundles and old decisions leave memory; the history answers after."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.router.book import Book
from gateway.router.records import Accept, Decision, Denied, DenyCode, Repeat, SessionKey

from .conftest import DESK1, Core, header, solved_ok


class DictHistory:
    """What a journal would answer, kept in a dict (the real one is tested with SQLite)."""

    def __init__(self) -> None:
        self.decisions: dict[tuple[SessionKey, str], Decision] = {}

    def past_decision(self, session: SessionKey, list_id: str) -> Decision | None:
        return self.decisions.get((session, list_id))

    def used_cl_ord_id(self, session: SessionKey, cl_ord_ids: Iterable[str]) -> str | None:
        used = {c for (s, _), d in self.decisions.items() if s == session for c in d.cl_ord_ids}
        return next((c for c in cl_ord_ids if c in used), None)


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
    core.book.finish(record, core.clock())
    core.clock.now += 5
    core.book.expire(core.clock())
    assert core.book.size()["decisions"] == 0
    again = core.decider.on_list(header("L1"))
    assert isinstance(again, Denied)
    assert again.code is DenyCode.DUPLICATE
    assert isinstance(core.decider.on_list(header("L1", poss_dup=True)), Repeat)
    reused = core.decider.on_list(header("L2").__class__(DESK1, "L2", ("L1-A",)))
    assert isinstance(reused, Denied)
    assert "duplicate ClOrdID 'L1-A'" in reused.reason


def test_no_history_means_only_memory_counts() -> None:
    book = Book(retain_done_secs=1)
    assert book.decision(DESK1, "X") is None
    assert book.used_cl_ord_id(DESK1, ["a"]) is None
