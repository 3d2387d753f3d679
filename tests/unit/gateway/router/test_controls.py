"""Kill switch, cancel on disconnect and the instrument list (gateway.router.controls)."""

from __future__ import annotations

from decimal import Decimal

from gateway.core.instruments import Instrument
from gateway.router.config import ClientLimits
from gateway.router.controls import ALL_DESKS, Controls
from gateway.router.records import InstrumentsIn

from .conftest import DESK1, DESK2, Core, header, solved_ok


def controls(core: Core, **limits: object) -> Controls:
    config = ClientLimits(**limits)  # type: ignore[arg-type]
    return Controls(core.book, lambda _comp_id: config)


def open_bundle(core: Core, list_id: str, session: tuple[str, str, str] = DESK1) -> str:
    admit = core.decider.on_list(header(list_id, session=session))
    accept = core.decider.on_solved(solved_ok(admit), venue_up=True)
    return accept.record.bundle_id  # type: ignore[union-attr]


def test_the_kill_switch_names_the_open_bundles_and_blocks_until_released() -> None:
    core = Core()
    control = controls(core)
    mine, theirs = open_bundle(core, "L1"), open_bundle(core, "L2", DESK2)
    assert [r.bundle_id for r in control.kill("DESK1")] == [mine]
    assert "kill switch: DESK1's lists are refused" in (control.blocked("DESK1") or "")
    assert control.blocked("DESK2") is None
    assert control.release("DESK1")
    assert not control.release("DESK1")
    assert control.blocked("DESK1") is None
    assert {r.bundle_id for r in control.kill(ALL_DESKS)} == {mine, theirs}
    assert control.blocked("DESK2") is not None


def test_a_cancel_not_sent_stays_wanted_until_sent_or_the_bundle_is_done() -> None:
    core = Core()
    control = controls(core)
    bundle_id = open_bundle(core, "L1")
    control.kill("DESK1")
    control.release("DESK1")
    assert [r.bundle_id for r in control.wanted()] == [bundle_id]  # e.g. venue was down
    control.sent(bundle_id)
    assert control.wanted() == []


def test_cancel_on_disconnect_fires_after_the_grace_period_only_if_the_desk_stays_away() -> None:
    core = Core()
    control = controls(core, cancel_on_disconnect="on", cancel_on_disconnect_grace_secs=2)
    bundle_id = open_bundle(core, "L1")
    control.desk_down("DESK1", now=100.0)
    assert control.next_due() == 102.0
    assert control.due(101.9) == []
    assert [r.bundle_id for r in control.due(102.0)] == [bundle_id]
    assert control.next_due() is None
    control.desk_down("DESK1", now=200.0)
    control.desk_up("DESK1", reset=False)
    assert control.due(1e9) == []


def test_auto_cancels_only_for_a_desk_whose_logon_reset_its_sequence_numbers() -> None:
    core = Core()
    control = controls(core, cancel_on_disconnect_grace_secs=Decimal(0))
    open_bundle(core, "L1")
    control.desk_up("DESK1", reset=False)
    control.desk_down("DESK1", now=0.0)
    assert control.due(1.0) == []
    control.desk_up("DESK1", reset=True)
    control.desk_down("DESK1", now=0.0)
    assert len(control.due(1.0)) == 1


def test_a_reset_logon_restates_the_bundles_reported_while_the_desk_was_away() -> None:
    core = Core()
    control = controls(core, cancel_on_disconnect="off")
    bundle_id = open_bundle(core, "L1")
    record = core.book.by_bundle[bundle_id]
    control.relayed(record, desk_up=lambda _desk: True)  # while logged on: nothing to restate
    control.desk_down("DESK1", now=0.0)
    control.relayed(record, desk_up=lambda _desk: False)
    assert [r.bundle_id for r in control.desk_up("DESK1", reset=True)] == [bundle_id]
    control.desk_down("DESK1", now=0.0)
    control.relayed(record, desk_up=lambda _desk: False)
    assert control.desk_up("DESK1", reset=False) == []  # the engine resends those


def test_a_security_list_in_fragments_is_installed_once_complete() -> None:
    control = controls(Core())
    a = Instrument("AAAA", 100, Decimal("0.01"))
    b = Instrument("BBBB", 100, Decimal("0.01"))
    assert control.on_instruments(InstrumentsIn("R1", 0, (a,), last_fragment=False), 1.0) == (
        control.on_instruments(InstrumentsIn("R1", 0, (), last_fragment=False), 1.0)
    )
    assert control.instruments is None
    update = control.on_instruments(InstrumentsIn("R1", 0, (b,)), 2.0)
    assert update.installed is not None
    assert set(update.installed.instruments) == {"AAAA", "BBBB"}
    refused = control.on_instruments(InstrumentsIn("R2", -1, text="not supported"), 3.0)
    assert refused.refused == "not supported"
    assert control.instruments is update.installed  # a refusal keeps the list it has
