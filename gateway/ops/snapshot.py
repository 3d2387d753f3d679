"""What the operator page shows, as immutable values made on the state owner.

The web thread never reads the book: it asks the gateway for a
:class:`StateView` (``Gateway.state``), which the state owner builds between two
records with :func:`build_state` and hands back through a future. Decisions are
appended to a :class:`DecisionLog` by the state owner as they are carried out;
the view holds a copy.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.core.plugins import FillCheck

if TYPE_CHECKING:  # the router imports this package: no import of it at run time
    from gateway.router.book import Book

__all__ = [
    "BundleView",
    "DecisionLog",
    "DecisionView",
    "LegInfo",
    "LegView",
    "Measure",
    "StateView",
    "build_state",
]

#: Per bundle, what the book does not keep: the strategy and each leg's (symbol, side).
LegInfo = tuple[str, tuple[tuple[str, str], ...]]
#: Per bundle, its strategy's account of a fill (``describe_fill``), leg quantities in.
Measure = Callable[[Sequence[int]], FillCheck | None]


@dataclass(frozen=True, slots=True)
class LegView:
    """One leg of an open bundle, as last reported by the counterparty."""

    cl_ord_id: str
    symbol: str
    side: str
    quantity: int
    filled: int
    remaining: int
    status: str  # OrdStatus (39)


@dataclass(frozen=True, slots=True)
class BundleView:
    bundle_id: str
    client: str
    list_id: str
    strategy: str
    legs: tuple[LegView, ...]
    #: The fill so far against the strategy's bound, e.g. ``hedge ratio +1.0000,
    #: target +0.5000``, and whether it is within (None: the strategy gives none).
    measure: str | None = None
    within: bool | None = None


@dataclass(frozen=True, slots=True)
class DecisionView:
    """One decision the gateway carried out: an acceptance or a denial with its reason."""

    at: float  # wall clock, seconds since the epoch
    client: str
    list_id: str
    accepted: bool
    reason: str
    bundle_id: str | None = None
    reason_code: int | None = None
    presolve_ms: float | None = None


@dataclass(frozen=True, slots=True)
class StateView:
    """The book as the operator sees it, at ``taken_at``."""

    taken_at: float
    bundles: tuple[BundleView, ...]
    open_bundles: int  # all of them; ``bundles`` lists at most the page's number
    open_by_client: Mapping[str, int]
    halted: frozenset[str]
    decisions: tuple[DecisionView, ...]  # newest first
    queued: int
    in_flight: int
    book_size: Mapping[str, int] = field(default_factory=dict)
    killed: frozenset[str] = frozenset()  # kill switches thrown ("*": every desk)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["halted"] = sorted(self.halted)
        data["killed"] = sorted(self.killed)
        data["open_by_client"] = dict(self.open_by_client)
        data["book_size"] = dict(self.book_size)
        return data


class DecisionLog:
    """The last ``size`` decisions; appended by the state owner only."""

    def __init__(self, size: int) -> None:
        self._items: deque[DecisionView] = deque(maxlen=size)

    def add(self, decision: DecisionView) -> None:
        self._items.append(decision)

    def newest_first(self) -> tuple[DecisionView, ...]:
        return tuple(reversed(self._items))


def build_state(
    book: Book,
    legs: Mapping[str, LegInfo],
    *,
    halted: frozenset[str],
    killed: frozenset[str] = frozenset(),
    decisions: DecisionLog,
    queued: int,
    in_flight: int,
    max_bundles: int,
    measures: Mapping[str, Measure] | None = None,
) -> StateView:
    """The view of ``book`` (state owner only): the newest ``max_bundles`` open bundles,
    each leg's filled and remaining quantity from the last relayed report."""
    views: list[BundleView] = []
    open_total = 0
    for record in reversed(book.by_bundle.values()):
        if record.done:
            continue
        open_total += 1
        if len(views) >= max_bundles:
            continue
        strategy, sides = legs.get(record.bundle_id, ("?", ()))
        known = {order.cl_ord_id: order for order in record.orders}
        leg_views = []
        for index, (cl_ord_id, quantity) in enumerate(
            zip(record.cl_ord_ids, record.legs_qty, strict=True)
        ):
            symbol, side = sides[index] if index < len(sides) else ("?", "?")
            order = known.get(cl_ord_id)
            filled = order.cum_qty if order is not None else 0
            remaining = order.leaves_qty if order is not None else quantity
            status = order.ord_status if order is not None else "A"  # A: pending new
            leg_views.append(LegView(cl_ord_id, symbol, side, quantity, filled, remaining, status))
        measure, within = _measured((measures or {}).get(record.bundle_id), leg_views)
        views.append(
            BundleView(
                record.bundle_id,
                record.client[2],
                record.list_id,
                strategy,
                tuple(leg_views),
                measure,
                within,
            )
        )
    return StateView(
        taken_at=time.time(),
        bundles=tuple(views),
        open_bundles=open_total,
        open_by_client={
            session[2]: len(state.open_bundles)
            for session, state in book.clients.items()
            if state.open_bundles
        },
        halted=halted,
        killed=killed,
        decisions=decisions.newest_first(),
        queued=queued,
        in_flight=in_flight,
        book_size=book.size(),
    )


def _measured(measure: Measure | None, legs: Sequence[LegView]) -> tuple[str | None, bool | None]:
    """The strategy's account of the legs' filled quantities; a strategy that fails is
    shown as such, never raised on the state owner."""
    if measure is None:
        return None, None
    try:
        check = measure([leg.filled for leg in legs])
    except Exception as exc:  # a plugin's bug must not take the page down
        return f"n/a ({type(exc).__name__})", None
    if check is None:
        return None, None
    return str(check), check.within
