"""The gateway's controls over what is already accepted: the instrument list, the
kill switch and cancel on disconnect.

I/O-free, like the decision core, and owned by the state owner: it says which
open bundles to cancel and why, and the service sends the ListCancelRequests,
journals and logs (docs/architecture.md).

* **Instruments.** The counterparty's SecurityList replaces the list the
  pre-trade checks (:mod:`gateway.router.risk`) use once its last fragment
  arrives; a refused request leaves the list as it was.
* **Kill switch.** An operator kills a desk (or ``*``: every desk): each of its
  open bundles is cancelled at the counterparty, and its new lists are refused
  until the operator releases it. The killed set is journaled by the service,
  so it survives a restart.
* **Cancel on disconnect.** When a desk's session drops, its open bundles are
  cancelled after the desk's grace period unless it has logged on again
  (per desk: ``cancel_on_disconnect`` on, off, or auto: on when its last Logon
  reset the sequence numbers). The cancels' reports go to the desk like any
  report: stored for the resend at its next logon, or, after a logon that reset
  the sequence numbers (which discards what was stored), restated by
  :meth:`Controls.desk_up` as the list's current state.

A cancel that cannot be sent because the counterparty session is down stays
wanted and goes out when it logs on again (:meth:`Controls.wanted`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gateway.core.instruments import Instrument, InstrumentList
from gateway.router.book import Book
from gateway.router.config import ClientLimits
from gateway.router.records import BundleRecord, InstrumentsIn

__all__ = ["ALL_DESKS", "Controls", "InstrumentsUpdate"]

#: The kill switch's name for every desk, present and future.
ALL_DESKS = "*"

KILL_REASON = "kill switch thrown by the operator"
DISCONNECT_REASON = "cancel on disconnect: the desk's session dropped"
OPERATOR_REASON = "cancelled by the operator"


@dataclass(frozen=True, slots=True)
class InstrumentsUpdate:
    """What one SecurityList message changed: ``installed`` is the new list once it
    is complete, ``refused`` the counterparty's reason when it will not send one."""

    installed: InstrumentList | None = None
    refused: str | None = None


class Controls:
    """Kill switch, cancel on disconnect and the instrument list (state owner only)."""

    def __init__(
        self,
        book: Book,
        limits_for: Callable[[str], ClientLimits],
        *,
        instruments: InstrumentList | None = None,
        killed: Iterable[str] = (),
    ) -> None:
        self.book = book
        self.limits_for = limits_for
        #: The list the pre-trade checks use now (replaced whole, never mutated, so a
        #: pool worker may read it without a lock).
        self.instruments = instruments
        self.killed: set[str] = set(killed)
        self._fragments: dict[str, list[Instrument]] = {}
        self._wanted: dict[str, str] = {}  # BundleID -> why it is to be cancelled
        self._due: dict[str, float] = {}  # desk -> when its open bundles are cancelled
        self._reset: dict[str, bool] = {}  # desk -> its last Logon reset sequence numbers
        self._away: dict[str, set[str]] = {}  # desk -> bundles reported while it was off

    # instruments -------------------------------------------------------------------------
    def on_instruments(self, message: InstrumentsIn, now: float) -> InstrumentsUpdate:
        if message.result != 0:
            self._fragments.pop(message.req_id, None)
            why = message.text or f"SecurityRequestResult {message.result}"
            return InstrumentsUpdate(refused=why)
        parts = self._fragments.setdefault(message.req_id, [])
        parts.extend(message.instruments)
        if not message.last_fragment:
            return InstrumentsUpdate()
        del self._fragments[message.req_id]
        listed = InstrumentList({i.symbol: i for i in parts}, "venue", now, message.req_id)
        self.instruments = listed
        return InstrumentsUpdate(installed=listed)

    # kill switch ----------------------------------------------------------------------
    def blocked(self, comp_id: str) -> str | None:
        """Why ``comp_id``'s new lists are refused, or None."""
        if comp_id in self.killed or ALL_DESKS in self.killed:
            return (
                f"kill switch: {comp_id}'s lists are refused until an operator releases it "
                f"(bidgw admin kill {comp_id if comp_id in self.killed else '--all'} --release)"
            )
        return None

    def kill(self, comp_id: str) -> list[BundleRecord]:
        """Throw the switch for ``comp_id`` (or :data:`ALL_DESKS`); the open bundles to
        cancel now."""
        self.killed.add(comp_id)
        desk = None if comp_id == ALL_DESKS else comp_id
        records = self.book.open_records(desk)
        for record in records:
            self._wanted[record.bundle_id] = KILL_REASON
        return records

    def release(self, comp_id: str) -> bool:
        """Release ``comp_id``'s switch; False when it was not thrown."""
        if comp_id not in self.killed:
            return False
        self.killed.discard(comp_id)
        return True

    # cancel on disconnect -----------------------------------------------------------
    def cancels_on_disconnect(self, comp_id: str) -> bool:
        mode = self.limits_for(comp_id).cancel_on_disconnect
        return mode == "on" or (mode == "auto" and self._reset.get(comp_id, False))

    def desk_down(self, comp_id: str, now: float) -> None:
        self._away.setdefault(comp_id, set())
        if self.cancels_on_disconnect(comp_id):
            grace = float(self.limits_for(comp_id).cancel_on_disconnect_grace_secs)
            self._due[comp_id] = now + grace

    def desk_up(self, comp_id: str, reset: bool) -> list[BundleRecord]:
        """The desk is back: its pending cancel on disconnect is off. After a Logon
        that reset the sequence numbers, the bundles it was told about while away, to
        restate (what the engine stored for it is gone)."""
        self._reset[comp_id] = reset
        self._due.pop(comp_id, None)
        away = self._away.pop(comp_id, set())
        if not reset:
            return []
        return [r for b in sorted(away) if (r := self.book.by_bundle.get(b)) is not None]

    def relayed(self, record: BundleRecord, desk_up: Callable[[str], bool]) -> None:
        """A report about ``record`` went to its desk. ``desk_up`` (whether the engine
        holds the desk's session, a lookup) is asked only while the desk counts as away:
        it may be back before its logon reaches the state owner."""
        away = self._away.get(record.client[2])
        if away is not None and not desk_up(record.client[2]):
            away.add(record.bundle_id)

    def next_due(self) -> float | None:
        return min(self._due.values(), default=None)

    def due(self, now: float) -> list[BundleRecord]:
        """The open bundles whose desk's grace period ended by ``now``: to cancel."""
        records: list[BundleRecord] = []
        for comp_id, when in list(self._due.items()):
            if when <= now:
                del self._due[comp_id]
                for record in self.book.open_records(comp_id):
                    self._wanted.setdefault(record.bundle_id, DISCONNECT_REASON)
                    records.append(record)
        return records

    # cancels the counterparty has not been sent yet -------------------------------------
    def want(self, bundle_id: str, reason: str) -> None:
        """Cancel ``bundle_id`` (an operator's cancel of one bundle): sent now if the
        counterparty is up, else at its next logon, as a kill switch's are."""
        self._wanted[bundle_id] = reason

    def reason(self, bundle_id: str) -> str:
        return self._wanted.get(bundle_id, KILL_REASON)

    def sent(self, bundle_id: str) -> None:
        """The ListCancelRequest went out."""
        self._wanted.pop(bundle_id, None)

    def wanted(self) -> list[BundleRecord]:
        """Open bundles still to be cancelled (their cancel could not be sent), plus
        every open bundle of a killed desk: for when the counterparty logs on."""
        records = {
            r.bundle_id: r
            for b in list(self._wanted)
            if (r := self.book.by_bundle.get(b)) is not None and not r.done
        }
        for comp_id in self.killed:
            for record in self.book.open_records(None if comp_id == ALL_DESKS else comp_id):
                self._wanted.setdefault(record.bundle_id, KILL_REASON)
                records[record.bundle_id] = record
        for bundle_id in [b for b in self._wanted if b not in records]:
            del self._wanted[bundle_id]
        return list(records.values())
