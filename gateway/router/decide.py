"""The gateway's decision core, client side: a list in, a decision out.

I/O-free: it takes the typed records of :mod:`gateway.router.records` and
returns actions; it never imports quickfix, never sends, never writes the
journal. The service carries the actions out (docs/architecture.md). Two steps
per list, because the strategy build and the pre-solve run off the state owner:

1. :meth:`Decider.on_list` — the ids: duplicates, resends, list size.
   Answers :class:`Denied`, :class:`Repeat` (a resend of a decided list, with every
   order's current state), :class:`NoticeReject` (a repeated ListID without a
   resend flag: a BusinessMessageReject, never a ListStatus under the live list's
   ListID), :class:`Ignored` (a resend of a list still being decided: its
   decision follows), or :class:`Admit` (ids taken, a
   BundleID assigned, and the client's count of open bundles noted: the
   open-bundle limit is judged on the count at arrival, as lists in flight
   count as open).
2. :meth:`Decider.on_solved` — the built bundle and its pre-solve verdict:
   a kill switch thrown meanwhile, client limits, the pre-trade risk checks
   (:mod:`gateway.router.risk`, against the instrument list as it is now),
   feasibility, counterparty up. Answers :class:`Denied` or :class:`Accept`
   (the bundle is registered for the relay).

Every denial is recorded here (:meth:`_deny`, under the ListID unless the
ListID itself is the problem) and leaves through the service's one exit.
Reject codes come from the error's type, never from its text.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from decimal import Decimal

from gateway.core.bundle import OrderBundle
from gateway.core.errors import GatewayError, UnknownStrategyError
from gateway.router.book import Book
from gateway.router.config import ClientLimits
from gateway.router.records import (
    Accept,
    Admit,
    Breach,
    BundleRecord,
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
    SessionKey,
    Solved,
)
from gateway.router.risk import NO_INSTRUMENTS, exposure_breach

__all__ = ["Decider", "ShuttingDown", "deny_code", "limit_breach", "single_line", "unsolvable"]

NOT_LOGGED_ON = (
    "counterparty session is not logged on: the bundle was not forwarded; send it again later"
)


class ShuttingDown(GatewayError):
    """The gateway stopped before this list was pre-solved: denied, not remembered."""


#: The denial kind of each pre-solve outcome that is not a fill.
_PRESOLVE_KINDS = {
    "infeasible": DenyKind.INFEASIBLE,
    "timeout": DenyKind.PRESOLVE_TIMEOUT,
    "too_large": DenyKind.INVALID,
}


def single_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def deny_code(error: BaseException) -> DenyCode:
    """ListRejectReason for a failed build: by the error's type."""
    return DenyCode.UNSUPPORTED if isinstance(error, UnknownStrategyError) else DenyCode.OTHER


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rem = divmod(number, 36)
        out = digits[rem] + out
    return out or "0"


class Decider:
    """Client-side decisions over a :class:`Book` (owned by the state owner)."""

    def __init__(
        self,
        book: Book,
        *,
        limits: Callable[[str], ClientLimits],
        max_orders_per_list: int,
        run_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        pretrade: Callable[[OrderBundle], str | None] = lambda _bundle: None,
        blocked: Callable[[str], str | None] = lambda _comp_id: None,
    ) -> None:
        """``pretrade``: the pre-trade risk checks' reason to refuse a bundle, or None;
        ``blocked``: why a desk's lists are refused now (a kill switch), or None."""
        self.book = book
        self.limits = limits
        self.pretrade = pretrade
        self.blocked = blocked
        self.max_orders_per_list = max_orders_per_list
        self.run_id = run_id or _base36(time.time_ns() // 1_000_000)
        self.clock = clock
        self._sequence = itertools.count(1)

    # step 1: the ids ---------------------------------------------------------------------
    def on_list(self, header: ListHeader) -> Denied | Repeat | Admit | NoticeReject | Ignored:
        session, list_id, ids = header.session, header.list_id, header.cl_ord_ids
        limit = self.max_orders_per_list
        if len(ids) > limit:
            # Refused before anything is decoded or remembered; every ClOrdID is answered
            # (the engine thread has read them all already, each at most max_id_length).
            return self._deny(
                session,
                list_id,
                ids,
                DenyCode.UNSUPPORTED,
                f"{len(ids)} orders in one list; this gateway accepts at most {limit}",
                kind=DenyKind.INVALID,
                remember=False,
            )
        previous = self.book.decision(session, list_id)
        if previous is not None:
            if header.poss_dup or header.replay:
                if previous.pending:
                    # Its decision is on its way: that is the answer to the resend too.
                    return Ignored("bundle.resend_while_deciding", detail=list_id, error=False)
                orders = self.book.current_orders(session, list_id, previous)
                return Repeat(session, list_id, previous, orders)
            # Not a ListStatus: under this ListID it would read as the live list's state.
            return NoticeReject(
                session,
                "E",
                BusinessReason.OTHER,
                f"duplicate ListID {list_id!r}: a list with this ListID was already "
                "received; this message is refused and the list it names is unaffected",
                header.ref_seq_num,
                list_id,
            )
        if header.poisoned:
            return self._deny(
                session,
                list_id,
                ids,
                DenyCode.OTHER,
                "refused on replay: the gateway stopped twice while handling this list "
                "(once when it arrived, once when it was replayed after a restart); "
                "it is not tried again",
                kind=DenyKind.INTERNAL,
            )
        reused = self.book.used_cl_ord_id(session, ids)
        if reused is not None:
            return self._deny(
                session,
                list_id,
                ids,
                DenyCode.DUPLICATE,
                f"duplicate ClOrdID {reused!r}: already used by this client",
                kind=DenyKind.DUPLICATE,
            )
        # The ids are taken now: a duplicate arriving during the solve is refused. The
        # placeholder never expires; the verdict replaces it.
        self.book.take_ids(session, list_id, ids)
        self.book.pending(session, list_id, Decision(False, "being pre-solved", ids, pending=True))
        open_before = self.book.open_count(session)
        bundle_id = f"B{self.run_id}-{next(self._sequence)}"
        self.book.client(session).open_bundles.add(bundle_id)  # reserved while solving
        return Admit(header, bundle_id, open_before)

    # step 2: the verdict -------------------------------------------------------------------
    def on_solved(self, solved: Solved, *, venue_up: bool) -> Denied | Accept:
        header = solved.header
        session, list_id, ids = header.session, header.list_id, header.cl_ord_ids
        # Released now; an accepted bundle takes its slot again when registered.
        self.book.client(session).open_bundles.discard(solved.bundle_id)
        if solved.error is not None:
            error = solved.error
            if isinstance(error, ShuttingDown):
                # Not a decision: the ids are free again, so the list can be sent again.
                self.book.release(session, list_id, ids)
                return Denied(session, list_id, ids, DenyCode.OTHER, str(error), remember=False)
            if isinstance(error, GatewayError):
                code, reason = deny_code(error), single_line(str(error))
                return self._deny(session, list_id, ids, code, reason, kind=DenyKind.INVALID)
            return self._deny(
                session,
                list_id,
                ids,
                DenyCode.OTHER,
                f"pre-solve failed: {type(error).__name__}: {error}",
                kind=DenyKind.INTERNAL,
            )
        bundle = solved.bundle
        assert bundle is not None  # no error means a bundle
        blocked = self.blocked(session[2])
        if blocked is not None:  # thrown while the list was being solved
            self.book.release(session, list_id, ids)
            return Denied(
                session, list_id, ids, DenyCode.OTHER, blocked, remember=False, kind=DenyKind.HALTED
            )
        limits = self.limits(session[2])
        breach = (
            unsolvable(bundle, limits, solved.open_before, self.pretrade)
            or self._exposure(bundle, session, limits)
            or solved.refused  # passed now, but the list was not solved
        )
        if breach is not None:
            if breach.reason == NO_INSTRUMENTS and not venue_up:
                # Not loaded because the counterparty is down: that is what to wait for.
                code, reason, kind = DenyCode.CLOSED, NOT_LOGGED_ON, DenyKind.VENUE_DOWN
            else:
                code, reason, kind = DenyCode.OTHER, breach.reason, breach.kind
            return self._deny(session, list_id, ids, code, reason, kind=kind)
        if not solved.feasible:
            return self._deny(
                session,
                list_id,
                ids,
                DenyCode.OTHER,
                f"pre-solve {solved.outcome}: {solved.reason}",
                kind=_PRESOLVE_KINDS.get(solved.outcome, DenyKind.INTERNAL),
                presolve_ms=solved.presolve_ms,
            )
        if not venue_up:
            return self._deny(
                session, list_id, ids, DenyCode.CLOSED, NOT_LOGGED_ON, kind=DenyKind.VENUE_DOWN
            )
        leg_orders = _leg_orders(bundle, ids)
        if leg_orders is None:
            return self._deny(
                session,
                list_id,
                ids,
                DenyCode.OTHER,
                "the strategy built a leg on an instrument this list does not contain",
                kind=DenyKind.INVALID,
            )
        bundle_id = bundle.bundle_id
        record = BundleRecord(
            client=session,
            list_id=list_id,
            cl_ord_ids=leg_orders,
            all_ids=ids,
            bundle_id=bundle_id,
            venue_ids=tuple(f"{bundle_id}-{i + 1}" for i in range(len(bundle.legs))),
            legs_qty=tuple(leg.max_qty for leg in bundle.legs),
            symbols=tuple(leg.symbol for leg in bundle.legs),
        )
        fill = ", ".join(
            f"{leg.symbol} {qty}" for leg, qty in zip(bundle.legs, solved.max_fill, strict=True)
        )
        text = f"accepted as {bundle_id}; largest possible fill: {fill}"
        # Registered before it is sent: the counterparty may answer at once.
        self.book.register(record)
        self.book.decide(session, list_id, Decision(True, text, ids, bundle_id), self.clock())
        return Accept(record, bundle, text, solved.max_fill, solved.presolve_ms, solved.bidder_data)

    def forward_failed(
        self,
        record: BundleRecord,
        reason: str = "counterparty session refused the message: the bundle was not forwarded",
        code: DenyCode = DenyCode.CLOSED,
        kind: DenyKind = DenyKind.VENUE_DOWN,
    ) -> Denied:
        """The bundle could not be journaled or sent: undo the registration and deny."""
        self.book.unregister(record)
        return self._deny(record.client, record.list_id, record.all_ids, code, reason, kind=kind)

    # cancels -------------------------------------------------------------------------------
    def on_cancel(self, cancel: ListCancel, *, venue_up: bool) -> CancelOut | NoticeReject:
        record = self.book.by_list.get((cancel.session, cancel.list_id))
        if record is None or record.done:
            # A finished bundle that already left memory is found in the history.
            known = record is not None
            if not known:
                past = self.book.decision(cancel.session, cancel.list_id)
                known = past is not None and past.accepted
            why = "the list is already done" if known else "unknown ListID"
            return NoticeReject(
                cancel.session,
                "K",
                BusinessReason.UNKNOWN_ID,
                f"cannot cancel {cancel.list_id!r}: {why}",
                cancel.ref_seq_num,
                cancel.list_id,
            )
        if not venue_up:
            return self.cancel_failed(cancel)
        return CancelOut(cancel.session, cancel.list_id, record.bundle_id, cancel.ref_seq_num)

    @staticmethod
    def cancel_failed(cancel: ListCancel | CancelOut) -> NoticeReject:
        return NoticeReject(
            cancel.session,
            "K",
            BusinessReason.NOT_AVAILABLE,
            "counterparty session is not logged on: cancel not forwarded; send it again later",
            cancel.ref_seq_num,
            cancel.list_id,
        )

    def _exposure(
        self, bundle: OrderBundle, session: SessionKey, limits: ClientLimits
    ) -> Breach | None:
        """The client's open-quantity limit: the book's open quantities are summed only
        when the client has that limit."""
        if not limits.max_open_qty:
            return None
        reason = exposure_breach(bundle, self.book.open_qty(session), limits.max_open_qty)
        return None if reason is None else Breach(reason, DenyKind.LIMIT)

    # the one exit's state part ------------------------------------------------------------
    def _deny(
        self,
        session: SessionKey,
        list_id: str,
        cl_ord_ids: Sequence[str],
        code: DenyCode,
        reason: str,
        *,
        kind: DenyKind,
        remember: bool = True,
        presolve_ms: float | None = None,
    ) -> Denied:
        ids = tuple(cl_ord_ids)
        if remember:
            # Every ClOrdID of a decided list counts as used, whatever the decision (as the
            # journal's history has it).
            self.book.take_ids(session, list_id, ids)
            decision = Decision(False, reason, ids, reject_reason=int(code))
            self.book.decide(session, list_id, decision, self.clock())
        return Denied(
            session, list_id, ids, code, reason, remember, presolve_ms=presolve_ms, kind=kind
        )


def unsolvable(
    bundle: OrderBundle,
    limits: ClientLimits,
    open_before: int,
    pretrade: Callable[[OrderBundle], str | None],
) -> Breach | None:
    """The first check the bundle fails before it is solved: a client limit
    (:func:`limit_breach`), then the ``pretrade`` checks. The pool asks right after the
    build, to skip the solve of a refused list; the decider asks again."""
    reason = limit_breach(bundle, limits, open_before)
    if reason is not None:
        return Breach(reason, DenyKind.LIMIT)
    reason = pretrade(bundle)
    return None if reason is None else Breach(reason, DenyKind.PRETRADE)


def limit_breach(bundle: OrderBundle, limits: ClientLimits, open_before: int) -> str | None:
    """The client limit this bundle would break, as a reason, or None. ``open_before``
    is the client's count of open or in-flight bundles when the list arrived. Pure:
    the pool checks it right after the build, to skip the solve of a refused list."""
    if len(bundle.legs) > limits.max_legs:
        return f"limit: {len(bundle.legs)} legs, at most {limits.max_legs} per bundle"
    if open_before >= limits.max_open_bundles:
        return f"limit: {open_before} bundles already open, at most {limits.max_open_bundles}"
    notional = sum((leg.limit_price * leg.max_qty for leg in bundle.legs), Decimal(0))
    if notional > limits.max_notional:
        return f"limit: notional {notional} above {limits.max_notional}"
    return None


def _leg_orders(bundle: OrderBundle, cl_ord_ids: Sequence[str]) -> tuple[str, ...] | None:
    """The client's ClOrdID of each leg, by the payload position the strategy built it
    from (positions are the list's orders, in order). None when a leg names no
    position of this list, or two legs name the same one."""
    ids: list[str] = []
    for leg in bundle.legs:
        if leg.position is None or not 0 <= leg.position < len(cl_ord_ids):
            return None
        ids.append(cl_ord_ids[leg.position])
    return tuple(ids) if len(set(ids)) == len(ids) else None
