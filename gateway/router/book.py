"""The gateway's book: every client's decided lists, the open bundles and their id
mapping, and how long a finished bundle stays in memory.

Owned by one thread (the state owner); no locks. Memory is bounded: a finished
bundle leaves the book ``retain_done_secs`` after its terminal report (late fills
after that are logged, not relayed), and a client's decided ListIDs/ClOrdIDs
are kept in memory for the same time after their decision (a list still being
solved, or whose bundle is open, keeps them). Older ids are looked up in the
:class:`History` (the journal in production), so duplicate detection keeps
working for as long as the journal keeps its rows (docs/architecture.md).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from gateway.core.reports import OrderReport
from gateway.router.records import NOT_IN_BUNDLE, BundleRecord, Decision, SessionKey

__all__ = ["Book", "ClientState", "History", "NoHistory"]


class History(Protocol):
    """Decisions that left memory: where duplicate detection looks next."""

    def past_decision(self, session: SessionKey, list_id: str) -> Decision | None:
        """What the client was told about ``list_id``, if it was ever decided."""
        ...

    def used_cl_ord_id(self, session: SessionKey, cl_ord_ids: Iterable[str]) -> str | None:
        """The first of ``cl_ord_ids`` this client already used, if any."""
        ...

    def past_orders(self, session: SessionKey, list_id: str) -> tuple[OrderReport, ...] | None:
        """The last known state of each leg of the bundle accepted for ``list_id``."""
        ...


class NoHistory:
    """No journal: only what is in memory counts."""

    def past_decision(self, session: SessionKey, list_id: str) -> Decision | None:
        return None

    def past_orders(self, session: SessionKey, list_id: str) -> tuple[OrderReport, ...] | None:
        return None

    def used_cl_ord_id(self, session: SessionKey, cl_ord_ids: Iterable[str]) -> str | None:
        return None


@dataclass(slots=True)
class ClientState:
    """One client session's recent decisions and open bundles."""

    decisions: dict[str, Decision] = field(default_factory=dict)
    cl_ord_ids: dict[str, str] = field(default_factory=dict)  # ClOrdID -> its ListID
    open_bundles: set[str] = field(default_factory=set)  # accepted or being solved


class Book:
    """Records, id maps and retention; see the module docstring."""

    def __init__(self, *, retain_done_secs: float, history: History | None = None) -> None:
        self.retain_done_secs = retain_done_secs
        self.history: History = history or NoHistory()
        self.clients: dict[SessionKey, ClientState] = {}
        self.by_list: dict[tuple[SessionKey, str], BundleRecord] = {}
        self.by_bundle: dict[str, BundleRecord] = {}
        self.by_venue_order: dict[str, tuple[BundleRecord, int]] = {}
        # Decided ListIDs in decision order, to forget them after the grace period.
        self._decided: OrderedDict[tuple[SessionKey, str], float] = OrderedDict()
        self._finished: OrderedDict[str, float] = OrderedDict()  # BundleID -> done at

    def client(self, session: SessionKey) -> ClientState:
        state = self.clients.get(session)
        if state is None:
            state = self.clients[session] = ClientState()
        return state

    # decisions -----------------------------------------------------------------------
    def decision(self, session: SessionKey, list_id: str) -> Decision | None:
        state = self.clients.get(session)
        found = state.decisions.get(list_id) if state is not None else None
        return found if found is not None else self.history.past_decision(session, list_id)

    def current_orders(
        self, session: SessionKey, list_id: str, decision: Decision
    ) -> tuple[OrderReport, ...]:
        """Every order of a decided list as it stands now, in the list's order: a
        rejected list's are rejected; an accepted list's legs as last reported (from
        memory, else the history), and orders left out of the bundle cancelled."""
        if not decision.accepted:
            return tuple(OrderReport(c, ord_status="8") for c in decision.cl_ord_ids)
        record = self.by_list.get((session, list_id))
        legs = tuple(record.orders) if record is not None else None
        if legs is None:
            legs = self.history.past_orders(session, list_id)
        if legs is None:  # nothing known of the legs (no journal): as accepted
            return tuple(OrderReport(c) for c in decision.cl_ord_ids)
        by_id = {order.cl_ord_id: order for order in legs}
        return tuple(
            by_id.get(c) or OrderReport(c, ord_status="4", text=NOT_IN_BUNDLE)
            for c in decision.cl_ord_ids
        )

    def used_cl_ord_id(self, session: SessionKey, cl_ord_ids: Iterable[str]) -> str | None:
        ids = tuple(cl_ord_ids)
        state = self.clients.get(session)
        if state is not None:
            for cl_ord_id in ids:
                if cl_ord_id in state.cl_ord_ids:
                    return cl_ord_id
        return self.history.used_cl_ord_id(session, ids)

    def take_ids(self, session: SessionKey, list_id: str, cl_ord_ids: Iterable[str]) -> None:
        """Reserve a list's ClOrdIDs: a second list reusing one is a duplicate."""
        state = self.client(session)
        for cl_ord_id in cl_ord_ids:
            state.cl_ord_ids[cl_ord_id] = list_id

    def decide(self, session: SessionKey, list_id: str, decision: Decision, now: float) -> None:
        """A decision: kept in memory ``retain_done_secs``, then in the history only."""
        self.client(session).decisions[list_id] = decision
        key = (session, list_id)
        self._decided.pop(key, None)
        self._decided[key] = now

    def pending(self, session: SessionKey, list_id: str, placeholder: Decision) -> None:
        """A list being built and solved: its placeholder never expires (the journal has
        nothing yet); :meth:`decide` replaces it with the verdict."""
        self.client(session).decisions[list_id] = placeholder

    def release(self, session: SessionKey, list_id: str, cl_ord_ids: Iterable[str]) -> None:
        """Undo :meth:`pending`: the list was never decided (the gateway stopped)."""
        state = self.client(session)
        state.decisions.pop(list_id, None)
        for cl_ord_id in cl_ord_ids:
            if state.cl_ord_ids.get(cl_ord_id) == list_id:
                del state.cl_ord_ids[cl_ord_id]

    # bundles -------------------------------------------------------------------------
    def register(self, record: BundleRecord) -> None:
        self.by_list[(record.client, record.list_id)] = record
        self.by_bundle[record.bundle_id] = record
        for index, venue_id in enumerate(record.venue_ids):
            self.by_venue_order[venue_id] = (record, index)
        self.client(record.client).open_bundles.add(record.bundle_id)

    def restore(self, record: BundleRecord, decision: Decision, now: float) -> None:
        """An open bundle read back from the journal after a restart: its ids are taken,
        its decision remembered, and the relay maps its reports again."""
        self.register(record)
        self.take_ids(record.client, record.list_id, record.all_ids)
        self.decide(record.client, record.list_id, decision, now)

    def unregister(self, record: BundleRecord) -> None:
        self.client(record.client).open_bundles.discard(record.bundle_id)
        self.by_list.pop((record.client, record.list_id), None)
        self.by_bundle.pop(record.bundle_id, None)
        for venue_id in record.venue_ids:
            self.by_venue_order.pop(venue_id, None)

    def finish(self, record: BundleRecord, now: float) -> None:
        """The bundle is done: it stops counting as open and leaves memory later."""
        record.done = True
        self.client(record.client).open_bundles.discard(record.bundle_id)
        self._finished[record.bundle_id] = now
        key = (record.client, record.list_id)
        self._decided.pop(key, None)
        self._decided[key] = now

    def open_records(self, comp_id: str | None = None) -> list[BundleRecord]:
        """Open bundles, of every client or of one desk (its CompID)."""
        return [
            record
            for record in self.by_bundle.values()
            if not record.done and (comp_id is None or record.client[2] == comp_id)
        ]

    def open_qty(self, session: SessionKey) -> dict[str, int]:
        """Per symbol, what the client's open bundles may still fill (each leg's leaves
        quantity as last reported)."""
        totals: dict[str, int] = {}
        state = self.clients.get(session)
        for bundle_id in state.open_bundles if state is not None else ():
            record = self.by_bundle.get(bundle_id)
            if record is None:
                continue  # being solved: not registered yet
            for symbol, order in zip(record.symbols, record.orders, strict=False):
                totals[symbol] = totals.get(symbol, 0) + order.leaves_qty
        return totals

    def open_count(self, session: SessionKey) -> int:
        state = self.clients.get(session)
        return len(state.open_bundles) if state is not None else 0

    # retention -----------------------------------------------------------------------
    def expire(self, now: float) -> int:
        """Forget finished bundles and decisions older than the grace period; returns
        how many entries left memory. Called by the state owner now and then."""
        horizon = now - self.retain_done_secs
        removed = 0
        while self._finished:
            bundle_id, done_at = next(iter(self._finished.items()))
            if done_at > horizon:
                break
            self._finished.popitem(last=False)
            record = self.by_bundle.get(bundle_id)
            if record is not None:
                self.unregister(record)
                removed += 1
        while self._decided:
            (session, list_id), decided_at = next(iter(self._decided.items()))
            if decided_at > horizon:
                break
            self._decided.popitem(last=False)
            state = self.clients.get(session)
            if state is None:
                continue
            decision = state.decisions.get(list_id)
            record = self.by_list.get((session, list_id))
            if record is not None and not record.done:
                continue  # an open bundle keeps its ids; finish() puts them back in line
            state.decisions.pop(list_id, None)
            if decision is not None:
                for cl_ord_id in decision.cl_ord_ids:
                    if state.cl_ord_ids.get(cl_ord_id) == list_id:
                        del state.cl_ord_ids[cl_ord_id]
            removed += 1
            if not state.decisions and not state.open_bundles and not state.cl_ord_ids:
                del self.clients[session]
        return removed

    def size(self) -> dict[str, int]:
        """Entry counts, for the retention tests and the operator's view."""
        return {
            "bundles": len(self.by_bundle),
            "venue_orders": len(self.by_venue_order),
            "decisions": sum(len(s.decisions) for s in self.clients.values()),
            "cl_ord_ids": sum(len(s.cl_ord_ids) for s in self.clients.values()),
        }
