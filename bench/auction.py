"""Auction clearing time: HiGHS (bidgw's path) vs PuLP's bundled CBC, in the same run.

For 50, 100, 500 and 1,000 open bundles of 5 legs (hedged and beta-neutral,
alternating) over 100 symbols, plus the venue's synthetic contra liquidity,
clears one auction with each solver and prints model build time, solve time,
the relative gap reached (HiGHS reports it; CBC through PuLP does not), the
status and how many bundles filled. Every result is verified exactly inside
``clear``. Run: ``.venv/bin/python bench/auction.py [--time-limit-ms 10000]``.
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
from decimal import Decimal

from gateway.core.bundle import Side
from gateway.core.plugins import BidderPayload, StrategyRegistry
from gateway.venue.auction import AuctionConfig, ContraOrder, Participant, SymbolRef, clear

REGISTRY = StrategyRegistry.from_settings()


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit-ms", type=int, default=10_000)
    parser.add_argument("--gap", default="0.001")
    parser.add_argument("--sizes", default="50,100,500,1000")
    args = parser.parse_args()
    rng = random.Random(20261121)
    refs = market(100, rng)
    contra = liquidity(refs, rng)
    print(f"one auction, 100 symbols, target gap {args.gap}, time limit {args.time_limit_ms} ms")
    print(
        f"{'bundles':>7}  {'solver':<6}{'build ms':>10}{'solve ms':>10}{'gap':>10}"
        f"  {'status':<11}{'filled':>7}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        participants = bundles(size, refs, random.Random(size))
        for solver in ("highs", "cbc"):
            config = AuctionConfig(solver=solver, time_limit_ms=args.time_limit_ms, gap=args.gap)
            result = clear(participants, contra, refs, config, seed=1)
            gap = "n/a" if result.gap is None else f"{result.gap:.2e}"
            print(
                f"{size:>7}  {solver:<6}{result.build_ms:>10.1f}"
                f"{result.solve_ms - result.build_ms:>10.1f}{gap:>10}  {result.status:<11}"
                f"{len(result.bundle_fills):>7}"
            )


if __name__ == "__main__":
    main()
