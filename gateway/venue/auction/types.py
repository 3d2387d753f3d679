"""The auction's public data: its settings, what it clears and what it answers.

:class:`AuctionConfig` (solver, time limits, gap, formulation, interface, batch
size), the reference market of each symbol (:class:`SymbolRef`, with its
self-trade prevention switch), the participants (resting bundles as
:class:`Participant`, synthetic liquidity as :class:`ContraOrder`) and one
auction's outcome (:class:`AuctionResult`). Plain frozen values: nothing here
knows how the auction clears.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from gateway.core.bundle import OrderBundle, Side
from gateway.core.fields import Fraction01, FrozenModel, PositiveInt
from gateway.solver.milp import SolverName

__all__ = ["AuctionConfig", "AuctionResult", "ContraOrder", "Participant", "SymbolRef"]


class AuctionConfig(FrozenModel):
    """Clearing settings.

    Attributes:
        solver: ``highs`` (default) or ``cbc``.
        time_limit_ms: time limit per auction (default 80). With the ``ladder``
            formulation it counts from the start of
            :func:`~gateway.venue.auction.clear`, building the model included (at
            least :data:`~gateway.venue.auction.MIN_SOLVE_MS` is left for solving);
            with ``big_m`` it is the solver's limit alone.
        first_fill_limit_ms: with the ``ladder`` formulation through highspy, an
            auction whose solver holds no fill worth more than nothing at
            ``time_limit_ms`` goes on until its first such fill, or until
            ``first_fill_limit_ms`` after admission (the bundles' checks in
            :func:`~gateway.venue.auction.clear`, ~65 µs a bundle: a book too large
            to check within the window still gets the window to solve in; default
            500; at or below ``time_limit_ms`` it adds nothing: a hard limit).
            HiGHS needs ~0.1 s to find a fill on a book of 100 bundles or more, so
            with the time limit alone such a book never filled; in batches (more
            than ``batch_bundles``) the first batch's fill takes ~0.3 s
            (docs/auction.md). CBC, the ``pulp``
            interface and ``big_m`` take no callback and stop at ``time_limit_ms``.
            A second solve without the bundles whose fill failed verification
            may take another ``time_limit_ms``.
        gap: relative optimality gap at which the solver may stop (default 0.001).
        formulation: ``ladder`` (default): price thresholds per symbol
            (:mod:`gateway.venue.auction.ladder`), independent parts solved one by
            one (:mod:`gateway.venue.auction.components`), HiGHS run with
            :data:`~gateway.venue.auction.AUCTION_HIGHS_OPTIONS`. ``big_m``: the
            model before issue 15 (one MILP; a continuous price per symbol, a
            binary and two big-M rows per order inside the spread; HiGHS
            defaults), kept for comparison (``bench/auction.py``). Both are exact;
            see ``docs/auction.md``.
        interface: how the ``ladder`` model reaches HiGHS: ``highspy`` (default),
            its arrays passed to HiGHS's own Python API in a few calls; or
            ``pulp``, the same arrays as a PuLP problem solved by PuLP's HiGHS
            interface (the product's standard path; the same search, 12 ms more
            to build at 100 bundles, 0.44 s at 5,000: ``docs/auction.md``). CBC,
            and the ``big_m`` formulation, always go through PuLP.
        batch_bundles: a ``ladder`` auction of more bundles clears them in batches
            of at most this many, in book order, each with what the earlier ones
            left (default 1000; docs/auction.md): a verified fill within the time
            limit when one MILP over the whole book cannot even solve its LP
            relaxation in time, with the gap stated against a bound of the whole.
    """

    solver: SolverName = "highs"
    time_limit_ms: PositiveInt = 80
    first_fill_limit_ms: PositiveInt = 500
    gap: Fraction01 = 0.001
    formulation: Literal["ladder", "big_m"] = "ladder"
    interface: Literal["highspy", "pulp"] = "highspy"
    batch_bundles: PositiveInt = 1000

    @property
    def first_fill_limit_s(self) -> float:
        """How long an auction with no fill may go on, in seconds: ``first_fill_limit_ms``
        (counted from the end of admission), or ``time_limit_ms`` (from the start) if
        that is longer or the solve takes no callback (anything but ``ladder`` through
        highspy with HiGHS)."""
        if (self.solver, self.interface, self.formulation) != ("highs", "highspy", "ladder"):
            return self.time_limit_ms / 1000
        return max(self.time_limit_ms, self.first_fill_limit_ms) / 1000


@dataclass(frozen=True, slots=True)
class SymbolRef:
    """Reference market for a symbol: the clearing price stays within [bid, offer].

    ``self_trade_prevention`` (default on): in one auction, the bundles of one
    owner (:attr:`Participant.owner`, when not empty) fill on one side of this
    symbol only, buying or selling, never both.
    """

    bid: Decimal
    offer: Decimal
    self_trade_prevention: bool = True

    @property
    def mid(self) -> Fraction:
        return (Fraction(self.bid) + Fraction(self.offer)) / 2


@dataclass(frozen=True, slots=True)
class ContraOrder:
    """A simple limit order (synthetic liquidity); fills in whole lots."""

    order_id: str
    symbol: str
    side: Side
    limit: Decimal
    qty: int
    lot_size: int = 100


@dataclass(frozen=True, slots=True)
class Participant:
    """A resting bundle with the quantity each leg may still fill.

    ``owner`` names the client the bundle belongs to, for self-trade prevention
    (:attr:`SymbolRef.self_trade_prevention`); empty (the default) means unknown,
    and such a bundle is never prevented from trading with anyone.
    """

    bundle: OrderBundle
    remaining: tuple[int, ...]
    owner: str = ""


@dataclass(frozen=True, slots=True)
class AuctionResult:
    """One auction's outcome (fills are empty unless ``status`` is a solution).

    ``rejected`` holds the bundles the model cannot hold at all (see
    :mod:`gateway.venue.auction.admission`), ``excluded`` those left out of this
    auction only; each with why. Neither took part; the others cleared without them.
    """

    status: Literal["optimal", "feasible", "no_solution", "no_trade", "unverified"]
    prices: Mapping[str, Fraction] = field(default_factory=dict)
    bundle_fills: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    contra_fills: Mapping[str, int] = field(default_factory=dict)
    improvement: Fraction = Fraction(0)
    solve_ms: float = 0.0
    detail: str = ""
    build_ms: float = 0.0
    gap: float | None = None  # relative MIP gap the solver reached (HiGHS), if known
    rejected: Mapping[str, str] = field(default_factory=dict)
    excluded: Mapping[str, str] = field(default_factory=dict)
    verify_ms: float = 0.0  # reading fills and prices and verifying them exactly
    parts: int = 1  # independent parts solved (``ladder``; 1 for ``big_m``)

    @property
    def filled(self) -> bool:
        return bool(self.bundle_fills or self.contra_fills)
