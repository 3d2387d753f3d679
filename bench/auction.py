"""Auction clearing time and gap: HiGHS before/after issue 15 and CBC, in the same run.

For 50, 100, 500, 1,000 and 5,000 open bundles of 5 legs (hedged and
beta-neutral, alternating) over 100 symbols, plus the venue's synthetic contra
liquidity, clears one auction per configuration and prints:

* ``before``: HiGHS on the model before issue 15 (``formulation="big_m"``:
  one MILP through PuLP, a continuous price and a binary per order inside the
  spread, HiGHS defaults; the time limit is the solver's alone);
* ``pulp``: the ``ladder`` model as it first shipped in issue 15, through PuLP
  (``interface="pulp"``: threshold binaries per symbol, independent parts, tuned
  options; no batches, as they shipped later);
* ``after``: the ``ladder`` model passed to HiGHS through highspy (the default),
  large books in batches (``batch_bundles``, default 1,000);
* ``cbc``: PuLP's bundled CBC on the ``ladder`` model (``--cbc-sizes``, by
  default up to 1,000 bundles: it finds nothing in 10 s from 500 on);
* ``venue``: what the venue itself does with ``AuctionConfig``'s defaults (which
  ``config/venue.yaml`` repeats): an 80 ms time limit and, when HiGHS holds no fill
  by then, on to its first fill or 500 ms (``first_fill_limit_ms``); ``hard80``:
  the same with a hard 80 ms limit, as the venue cleared before that setting.
  Both ignore ``--time-limit-ms``: they show what a desk's bundles get.

For ``pulp`` and ``after`` the time limit counts from the start of the auction,
building included. Columns: parts solved, time in admission and model building
(PuLP's problem, or the arrays, and passing them to the solver), in the solver,
in reading and verifying the fills exactly, the wall time of the whole ``clear``
call, the relative gap reached (against HiGHS's bound, or for batches the bound
of the whole auction; CBC through PuLP reports none), the status, bundles
filled and the verified improvement. ``--repeat N`` runs each configuration N
times and prints the median wall time with every run's (the machine is shared;
quote ratios to the ``before`` row of the same run). Every result is verified
exactly inside ``clear``.

``--drain N`` instead runs ``--drain-auctions`` auctions at the venue's settings
over a book of N bundles, taking each auction's fills out of the book, once with
the venue's batch size (gateway/venue/batching.py: halved after an auction that ran
out of time) and once with ``batch_bundles`` fixed, as before it.

``--pairs N`` adds N ``pairs`` bundles to every book, each with a spread limit on
the clearing prices (issue 17; ``--pairs-without-spread``: the same pairs without
it), to measure what holding price constraints exactly costs.

Run: ``.venv/bin/python bench/auction.py [--sizes 50,100] [--repeat 3] [--pairs 20]``.
"""

# ruff: noqa: E402 - the sys.path fix below must run before the gateway imports

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path and bench/gateway.py would
# shadow the ``gateway`` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import random
import statistics
import time
from decimal import Decimal
from typing import Literal

from gateway.core.bundle import Side
from gateway.core.plugins import BidderPayload, StrategyRegistry
from gateway.solver.milp import SolverName
from gateway.venue.auction import (
    AuctionConfig,
    AuctionResult,
    ContraOrder,
    Participant,
    SymbolRef,
    clear,
)
from gateway.venue.batching import BatchSize, ran_out_of_time

REGISTRY = StrategyRegistry.from_settings()

#: name -> (solver, formulation, interface, batch_bundles)
CONFIGS: dict[
    str, tuple[SolverName, Literal["ladder", "big_m"], Literal["highspy", "pulp"], int]
] = {
    "before": ("highs", "big_m", "pulp", 1000),
    "pulp": ("highs", "ladder", "pulp", 10**9),
    "after": ("highs", "ladder", "highspy", 1000),
    "cbc": ("cbc", "ladder", "pulp", 1000),
}
#: name -> the venue's own settings (ignore --time-limit-ms)
VENUE_CONFIGS: dict[str, AuctionConfig] = {
    "hard80": AuctionConfig(time_limit_ms=80, first_fill_limit_ms=80),
    "venue": AuctionConfig(),
}


def market(symbols: int, rng: random.Random) -> dict[str, SymbolRef]:
    refs = {}
    for index in range(symbols):
        mid = Decimal(rng.randint(1000, 20000)) / 100
        half = Decimal(rng.randint(1, 10)) / 100
        refs[f"S{index:03d}"] = SymbolRef(mid - half, mid + half)
    return refs


def limit(ref: SymbolRef, side: str, rng: random.Random) -> str:
    far = ref.offer if side == "Buy" else ref.bid
    mid = (ref.bid + ref.offer) / 2
    return str(rng.choice([far, mid]))


def bundles(count: int, refs: dict[str, SymbolRef], rng: random.Random) -> list[Participant]:
    out = []
    names = sorted(refs)
    for index in range(count):
        chosen = rng.sample(names, 5)
        hedge = index % 2 == 0
        positions: list[dict[str, object]] = []
        for k, symbol in enumerate(chosen):
            side = rng.choice(["Buy", "Sell"]) if hedge else ("Buy" if k % 2 == 0 else "Sell")
            position: dict[str, object] = {
                "symbol": symbol,
                "side": side,
                "price": limit(refs[symbol], side, rng),
                "qty": 100 * rng.randint(10, 60),
            }
            if hedge:
                position["hedge_qty_coeff"] = rng.randint(1, 6) * (1 if k == 0 else -1)
            else:
                position["beta_coeff"] = str(Decimal(rng.randint(50, 150)) / 100)
            positions.append(position)
        payload = (
            {
                "strategy": "single_factor_hedged",
                "bidder_data": {
                    "hedge_ratio_min": "-0.25",
                    "hedge_ratio_max": "0.25",
                    "positions": positions,
                },
            }
            if hedge
            else {
                "strategy": "beta_neutral",
                "bidder_data": {"beta_tol": 20, "positions": positions},
            }
        )
        bundle = REGISTRY.build(BidderPayload.model_validate(payload), bundle_id=f"B{index}")
        out.append(Participant(bundle, tuple(leg.max_qty for leg in bundle.legs)))
    return out


def spread_pairs(
    count: int, refs: dict[str, SymbolRef], rng: random.Random, *, spread: bool = True
) -> list[Participant]:
    """``count`` pairs: buy B and sell A at the far side or the mid, q_B = q_A, and
    (with ``spread``) p_B − p_A at most the mids' difference plus −5..+5 cents, so
    that the limit binds in some auctions and not in others."""
    out = []
    names = sorted(refs)
    for index in range(count):
        a, b = rng.sample(names, 2)
        ref_a, ref_b = refs[a], refs[b]
        at_mids = (ref_b.bid + ref_b.offer) / 2 - (ref_a.bid + ref_a.offer) / 2
        data: dict[str, object] = {
            "ratio_min": "1",
            "ratio_max": "1",
            "positions": [
                {
                    "symbol": a,
                    "side": "Sell",
                    "qty": 100 * rng.randint(10, 60),
                    "price": limit(ref_a, "Sell", rng),
                },
                {
                    "symbol": b,
                    "side": "Buy",
                    "qty": 100 * rng.randint(10, 60),
                    "price": limit(ref_b, "Buy", rng),
                },
            ],
        }
        offset = Decimal(rng.randint(-5, 5)) / 100  # drawn either way: the same pairs
        if spread:
            data["spread"] = str(at_mids + offset)
        payload = {"strategy": "pairs", "lot_size": 100, "bidder_data": data}
        bundle = REGISTRY.build(BidderPayload.model_validate(payload), bundle_id=f"P{index}")
        out.append(Participant(bundle, tuple(leg.max_qty for leg in bundle.legs)))
    return out


def liquidity(refs: dict[str, SymbolRef], rng: random.Random) -> list[ContraOrder]:
    orders = []
    for symbol, ref in refs.items():
        orders.append(ContraOrder(f"{symbol}-bid", symbol, Side.BUY, ref.bid, 1000))
        orders.append(ContraOrder(f"{symbol}-offer", symbol, Side.SELL, ref.offer, 1000))
        steps = int((ref.offer - ref.bid) / Decimal("0.01"))
        for k in range(2):
            price = ref.bid + Decimal("0.01") * rng.randint(0, steps)
            orders.append(
                ContraOrder(
                    f"{symbol}-f{k}",
                    symbol,
                    rng.choice([Side.BUY, Side.SELL]),
                    price,
                    100 * rng.randint(1, 30),
                )
            )
    return orders


def run(
    participants: list[Participant],
    contra: list[ContraOrder],
    refs: dict[str, SymbolRef],
    config: AuctionConfig,
) -> tuple[AuctionResult, float]:
    """One auction and its wall time in ms."""
    started = time.perf_counter()
    result = clear(participants, contra, refs, config, seed=1)
    return result, (time.perf_counter() - started) * 1000


def drain(
    size: int, refs: dict[str, SymbolRef], auctions: int, *, adapt: bool
) -> list[tuple[int, int, int, float, str]]:
    """``auctions`` auctions at the venue's settings over a book of ``size`` bundles,
    each with fresh contra liquidity, the fills taken out of the book after each (a
    bundle stays while every leg has a lot left; the venue's own rule is finer).
    ``adapt``: the venue's batch size (gateway/venue/batching.py); else the configured
    one throughout, as before it. Per auction: batch size, bundles open, bundles
    filled, wall ms, status."""
    book = bundles(size, refs, random.Random(size))
    config = AuctionConfig()
    batch = BatchSize(config.batch_bundles)
    rows: list[tuple[int, int, int, float, str]] = []
    for number in range(auctions):
        used = config.model_copy(update={"batch_bundles": batch.current})
        contra = liquidity(refs, random.Random(number))
        result, wall = run(book, contra, refs, used)
        rows.append((used.batch_bundles, len(book), len(result.bundle_fills), wall, result.status))
        if adapt:
            batch.after(
                timed_out=ran_out_of_time(result, used),
                filled=bool(result.bundle_fills),
                bundles=len(book),
            )
        left = []
        for participant in book:
            fill = result.bundle_fills.get(participant.bundle.bundle_id)
            if fill is None:
                left.append(participant)
                continue
            remaining = tuple(a - b for a, b in zip(participant.remaining, fill, strict=True))
            lots = (leg.lot_size for leg in participant.bundle.legs)
            if all(r >= lot for r, lot in zip(remaining, lots, strict=True)):
                left.append(Participant(participant.bundle, remaining))
        book = left
    return rows


def print_drain(size: int, refs: dict[str, SymbolRef], auctions: int) -> None:
    """The drain of a ``size``-bundle book with the venue's batch size and without, in
    the same run."""
    print(f"drain: {auctions} auctions at the venue's settings over {size} bundles")
    for adapt in (False, True):
        name = "adaptive" if adapt else "fixed"
        rows = drain(size, refs, auctions, adapt=adapt)
        for number, (batch, open_, filled, wall, status) in enumerate(rows):
            print(
                f"  {name:<9}{number:>3}  batch {batch:>5}  open {open_:>5}  filled {filled:>4}"
                f"  {wall:>6.0f} ms  {status}",
                flush=True,
            )
        idle = sum(1 for row in rows if not row[2])
        print(
            f"  {name}: {sum(row[2] for row in rows)} bundles filled, {rows[-1][1]} open "
            f"before the last auction, {idle} auctions without a bundle fill",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--time-limit-ms", type=int, default=10_000, help="per auction")
    parser.add_argument(
        "--large-time-limit-ms",
        type=int,
        default=5_000,
        help="per auction from --large bundles on (the 5-second target)",
    )
    parser.add_argument("--large", type=int, default=5000)
    parser.add_argument("--gap", default="0.001")
    parser.add_argument("--sizes", default="50,100,500,1000,5000")
    parser.add_argument("--configs", default="before,pulp,after,cbc,hard80,venue")
    parser.add_argument("--cbc-sizes", default="50,100,500,1000", help="sizes CBC runs at")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--pairs", type=int, default=0, help="pairs with a spread limit")
    parser.add_argument(
        "--pairs-without-spread", action="store_true", help="the same pairs, no spread limit"
    )
    parser.add_argument(
        "--drain",
        type=int,
        default=0,
        help="instead: drain a book of this many bundles at the venue's settings, "
        "with the venue's batch size and without (--drain-auctions of them)",
    )
    parser.add_argument("--drain-auctions", type=int, default=16)
    args = parser.parse_args()
    rng = random.Random(20261121)
    refs = market(100, rng)
    contra = liquidity(refs, rng)
    if args.drain:
        print_drain(args.drain, refs, args.drain_auctions)
        return
    print(
        f"one auction, 100 symbols, target gap {args.gap}, time limit {args.time_limit_ms} ms "
        f"({args.large_time_limit_ms} ms from {args.large} bundles), {args.repeat} run(s) each"
    )
    print(
        f"{'bundles':>7}  {'config':<7}{'parts':>6}{'build':>8}{'solve':>8}{'verify':>8}"
        f"{'wall ms':>9}{'gap':>10}  {'status':<12}{'filled':>7}{'improvement':>13}  runs (ms)"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        participants = bundles(size, refs, random.Random(size))
        participants += spread_pairs(
            args.pairs, refs, random.Random(-size), spread=not args.pairs_without_spread
        )
        limit_ms = args.large_time_limit_ms if size >= args.large else args.time_limit_ms
        for name in args.configs.split(","):
            if name in VENUE_CONFIGS:
                config = VENUE_CONFIGS[name]
            else:
                solver, formulation, interface, batch = CONFIGS[name]
                if solver == "cbc" and str(size) not in args.cbc_sizes.split(","):
                    print(f"{size:>7}  {name:<7}  not run (--cbc-sizes)", flush=True)
                    continue
                config = AuctionConfig(
                    solver=solver,
                    time_limit_ms=limit_ms,
                    first_fill_limit_ms=limit_ms,
                    gap=args.gap,
                    formulation=formulation,
                    interface=interface,
                    batch_bundles=batch,
                )
            runs = [run(participants, contra, refs, config) for _ in range(args.repeat)]
            result = runs[0][0]
            walls = [wall for _, wall in runs]
            gap = "n/a" if result.gap is None else f"{result.gap:.2e}"
            solve = result.solve_ms - result.build_ms
            print(
                f"{size:>7}  {name:<7}{result.parts:>6}{result.build_ms:>8.0f}{solve:>8.0f}"
                f"{result.verify_ms:>8.0f}{statistics.median(walls):>9.0f}{gap:>10}  "
                f"{result.status:<12}{len(result.bundle_fills):>7}"
                f"{float(result.improvement):>13.2f}  {' '.join(f'{w:.0f}' for w in walls)}",
                flush=True,
            )


if __name__ == "__main__":
    main()
