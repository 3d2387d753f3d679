"""Pre-solve latency: bidgw's fast path and MILPs vs PuLP's default CBC, in the same run.

For pools of seeded bundles (a rotating pool of random single_factor_hedged
bundles per size; "3" is the seed sample; "3 inf" the seed sample with AAAA
limited to 500, proven infeasible with its reason; "10d"/"50d" with
``--decimals``, two-decimal coefficients, the hard kind) prints p50 and p99
of ``PreSolver.check`` end to end, as the gateway calls it, for

* bidgw            - the default: the exact fast path (gateway.solver.fast),
                     the HiGHS MILP only for what it cannot decide;
* highs MILP only  - the same pre-solver with the fast path off (every bundle
                     through PuLP and HiGHS in-process; bidgw before the fast path);
* cbc (PuLP)       - PuLP's bundled CBC, the fast path off (the baseline);
* highs, pulp      - PuLP's stock ``pulp.HiGHS`` with default options on the same
                     model (build + solve, no verification: the naive path);
* bidgw, sandbox   - :class:`gateway.solver.sandbox.SolverSandbox`, how the gateway
                     runs it: the fast path on the calling thread, a solver process
                     for the rest.

and, for the bidgw row, how many bundles each path decided (fast / milp) and
where the fast path's time goes (scaling rows and checks = "build", the fast
path and exact re-verification = "solve").
Run: ``.venv/bin/python bench/presolve.py [--solves 200] [--decimals]``.
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
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pulp

from gateway.core.bundle import OrderBundle
from gateway.core.plugins import BidderPayload, StrategyRegistry
from gateway.core.yamlio import load_yaml
from gateway.solver.milp import lot_model, scaled_rows
from gateway.solver.presolve import PresolveConfig, PreSolver
from gateway.solver.sandbox import SolverSandbox

REGISTRY = StrategyRegistry.from_settings()
SAMPLES = Path(__file__).resolve().parent.parent / "config" / "samples"


def seed_bundle(aaaa: int | None = None) -> OrderBundle:
    """The seed's hedge_data sample, read from config/samples/hedge_seed.yaml (with
    AAAA's maximum quantity set to ``aaaa`` when given)."""
    raw = load_yaml(SAMPLES / "hedge_seed.yaml")
    if aaaa is not None:
        raw["bidder_data"]["positions"][0]["qty"] = aaaa
    payload = BidderPayload.model_validate(raw)
    return REGISTRY.build(payload, bundle_id="seed")


def random_bundle(
    legs: int, rng: random.Random, index: int, *, decimals: bool = False
) -> OrderBundle:
    """A hedge bundle: ~1/3 primaries, 10-200 lots per leg.

    Coefficients are integers 1-20 like the seed's ``hedge_qty_coeff: int``, or with
    ``decimals`` two-decimal values 0.25-20.00, a much harder exact equality.
    """
    positions = []
    for i in range(legs):
        primary = i < max(1, legs // 3)
        magnitude = (
            Decimal(rng.randint(25, 2000)) / 100 if decimals else Decimal(rng.randint(1, 20))
        )
        positions.append(
            {
                "symbol": f"S{i:03d}",
                "side": rng.choice(["Buy", "Sell"]),
                "hedge_qty_coeff": str(magnitude if primary else -magnitude),
                "qty": 100 * rng.randint(10, 200),
                "price": f"{rng.randint(500, 50000) / 100:.2f}",
            }
        )
    payload = BidderPayload.model_validate(
        {
            "strategy": "single_factor_hedged",
            "bidder_data": {"target_hedge_ratio": rng.choice([1, 2, 3, 4]), "positions": positions},
        }
    )
    return REGISTRY.build(payload, bundle_id=f"r{legs}-{index}")


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


def stock_highs_solve(bundle: OrderBundle) -> None:
    """The naive path: the same model through pulp.HiGHS with its defaults."""
    rows = scaled_rows(bundle, bundle.constraints)
    problem, _ = lot_model(
        bundle, rows, [leg.max_lots for leg in bundle.legs], minimise=False, min_total=None
    )
    problem.solve(pulp.HiGHS(msg=False, timeLimit=1.0))


def timed(
    check: Callable[[OrderBundle], object], pool: list[OrderBundle], solves: int
) -> list[float]:
    """Milliseconds per call of ``check`` over ``solves`` calls rotating through ``pool``."""
    samples = []
    for i in range(solves):
        bundle = pool[i % len(pool)]
        started = time.perf_counter()
        check(bundle)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def row(size: str, label: str, samples: list[float], note: str = "") -> float:
    p50, p99 = percentiles(samples)
    print(f"{size:>6}  {label:<18}{p50:>9.3f}{p99:>9.3f}  {note}")
    return p50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solves", type=int, default=200, help="solves per configuration")
    parser.add_argument("--pool", type=int, default=20, help="distinct bundles per size")
    parser.add_argument(
        "--decimals",
        action="store_true",
        help="also time bundles with two-decimal coefficients (rows '10d', '50d')",
    )
    args = parser.parse_args()
    rng = random.Random(20261121)
    pools: dict[str, list[OrderBundle]] = {"3": [seed_bundle()], "3 inf": [seed_bundle(500)]}
    for legs in (10, 50):
        pools[str(legs)] = [random_bundle(legs, rng, i) for i in range(args.pool)]
    if args.decimals:
        for legs in (10, 50):
            pools[f"{legs}d"] = [
                random_bundle(legs, rng, i, decimals=True) for i in range(args.pool)
            ]

    bidgw = PreSolver(PresolveConfig())
    milp = PreSolver(PresolveConfig(fast_path=False))
    cbc = PreSolver(PresolveConfig(solver="cbc", fast_path=False))
    print(f"pre-solve latency, {args.solves} solves per row, ms")
    print(f"{'legs':>6}  {'path':<18}{'p50':>9}{'p99':>9}")
    for size, pool in pools.items():
        verdicts = [bidgw.check(bundle) for bundle in pool]
        paths = Counter(v.path for v in verdicts)
        outcomes = Counter(v.outcome.value for v in verdicts)
        fast = [
            v for v in (bidgw.check(pool[i % len(pool)]) for i in range(100)) if v.path == "fast"
        ]
        split = (
            f"; fast path: build {statistics.median(v.build_ms for v in fast):.3f}, "
            f"decide+verify {statistics.median(v.solve_ms for v in fast):.3f}"
            if fast
            else ""
        )
        ours = row(
            size,
            "bidgw",
            timed(bidgw.check, pool, args.solves),
            f"decided fast {paths['fast']}/{len(pool)}, milp {paths['milp']}/{len(pool)}; "
            + ", ".join(f"{k} {n}" for k, n in sorted(outcomes.items()))
            + split,
        )
        row(size, "highs MILP only", timed(milp.check, pool, args.solves))
        baseline = row(size, "cbc (PuLP)", timed(cbc.check, pool, args.solves))
        row(size, "highs, pulp", timed(stock_highs_solve, pool, args.solves), "(no verification)")
        sandbox = SolverSandbox(PresolveConfig(), processes=1)
        try:
            timed(sandbox.check, pool, min(20, args.solves))  # warm the process up
            row(size, "bidgw, sandbox", timed(sandbox.check, pool, args.solves))
        finally:
            sandbox.close()
        print(f"{size:>6}  speed-up of bidgw over CBC at p50: {baseline / ours:.1f}x")


if __name__ == "__main__":
    main()
