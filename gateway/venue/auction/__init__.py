"""The simulated venue's combinatorial call auction (no FIX here).

Participants are resting bundles (each with its remaining quantity per leg)
and simple contra orders (synthetic liquidity). One auction chooses, per
symbol, one uniform clearing price ``P_s`` within the reference bid/offer, and
fills such that

* per symbol, quantity bought = quantity sold;
* a buy fills only if its limit ≥ ``P_s``, a sell only if its limit ≤ ``P_s``;
* every fill is a whole number of lots within the remaining quantity;
* every bundle's constraints hold for *this auction's* fill (and a non-empty
  fill meets its minimum total, if any);
* on a symbol whose :class:`SymbolRef` has self-trade prevention (the default),
  the bundles of one owner (:attr:`Participant.owner`, when known) fill on one
  side only, all buying or all selling; contra orders have no owner;
* a filled bundle's price constraints (``Σ a_s · P_s (<=|==|>=) b``, a pair's
  spread limit) hold exactly at the clearing prices;

maximising total price improvement ``Σ_buys (limit − P)·q + Σ_sells (P − limit)·q``.

Because bought = sold per symbol, the ``P`` terms cancel: the improvement is
``Σ_buys limit·q − Σ_sells limit·q`` whatever the prices, and the prices only
decide which orders may fill. After the solve, each symbol's price is the point
of its feasible interval closest to its mid.

Why constraints apply to each auction's fill: the built-in strategies'
constraints are homogeneous (``Σ a·q (op) 0``), so if every auction's fill
satisfies them, so does every cumulative fill; each partial fill is itself a
hedge. A bundle's remaining quantities shrink as it fills.

Ties: a seeded, tiny per-lot priority is added to the objective, so equal
improvements are broken by a random order that the seed reproduces. The
priorities are drawn once over all the auction's orders, whatever the parts.

Every result is re-verified in exact arithmetic (:func:`verify`) before it is
returned as filled; a solver answer that fails, or none at all, fills nothing.

The modules, in the order one auction (:func:`clear`) goes through them:

* :mod:`~gateway.venue.auction.types`: the public data (settings, references,
  participants, contra orders, the result);
* :mod:`~gateway.venue.auction.admission`: which bundles the model can hold
  exactly and safely, and the bounds that keep one bundle from failing the
  auction for all (:func:`model_problem`, also the venue's screen);
* :mod:`~gateway.venue.auction.orders`: what every model is built from (orders,
  admitted bundles, references as Fractions, the objective's units);
* :mod:`~gateway.venue.auction.prices`: price constraints as whole-number rows
  over a box of grid prices;
* :mod:`~gateway.venue.auction.ladder`: a symbol's price as a ladder of
  threshold binaries;
* :mod:`~gateway.venue.auction.model`: the MILP, ``ladder`` and ``big_m``;
* :mod:`~gateway.venue.auction.matrix`: the MILP as arrays, for HiGHS or PuLP;
* :mod:`~gateway.venue.auction.solvers`: one model through highspy or PuLP;
* :mod:`~gateway.venue.auction.components`,
  :mod:`~gateway.venue.auction.parts`: independent parts, each its own MILP;
* :mod:`~gateway.venue.auction.batches`: large books in batches, and the bound
  of the whole that their gap is stated against;
* :mod:`~gateway.venue.auction.results`: fills and prices from the solver's lots;
* :mod:`~gateway.venue.auction.verification`: the rules, checked exactly;
* :mod:`~gateway.venue.auction.clearing`: :func:`clear`, which runs them.

The names below are the auction's public API; the modules' other names are the
package's own. docs/auction.md has the model, the measurements and what is left.
"""

from __future__ import annotations

from gateway.venue.auction.admission import (
    MAX_COST,
    MAX_LOTS,
    MAX_PRICE_ROW,
    MAX_PRICE_STEPS,
    MAX_ROW_ACTIVITY,
    MAX_ROW_COEFFICIENT,
    Unmodellable,
    model_problem,
)
from gateway.venue.auction.batches import MIN_BATCH
from gateway.venue.auction.clearing import clear
from gateway.venue.auction.orders import price_grid
from gateway.venue.auction.parts import MIN_SOLVE_MS
from gateway.venue.auction.solvers import AUCTION_HIGHS_OPTIONS, PRICE_HIGHS_OPTIONS
from gateway.venue.auction.types import (
    AuctionConfig,
    AuctionResult,
    ContraOrder,
    Participant,
    SymbolRef,
)
from gateway.venue.auction.verification import verify

__all__ = [
    "AUCTION_HIGHS_OPTIONS",
    "MAX_COST",
    "MAX_LOTS",
    "MAX_PRICE_ROW",
    "MAX_PRICE_STEPS",
    "MAX_ROW_ACTIVITY",
    "MAX_ROW_COEFFICIENT",
    "MIN_BATCH",
    "MIN_SOLVE_MS",
    "PRICE_HIGHS_OPTIONS",
    "AuctionConfig",
    "AuctionResult",
    "ContraOrder",
    "Participant",
    "SymbolRef",
    "Unmodellable",
    "clear",
    "model_problem",
    "price_grid",
    "verify",
]
