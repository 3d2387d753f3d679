"""Pre-solve latency: our HiGHS path vs PuLP's default CBC, in the same run.

For bundles of 3, 10 and 50 legs (a rotating pool of seeded random
single_factor_hedged bundles per size; 3 legs is the seed sample), prints p50
and p99 of

* build  - building the PuLP model from the bundle (scaling rows to integers);
* solve  - the solver call plus exact re-verification;
* total  - ``PreSolver.check`` end to end, as the gateway calls it;

for HiGHS in-process (our configuration), HiGHS through PuLP's stock
``pulp.HiGHS`` with default options (the naive baseline), and PuLP's bundled
CBC; and the total of the same HiGHS path in a solver process
(:class:`gateway.solver.sandbox.SolverSandbox`, how the gateway runs it: the
difference to the in-process row is the pipe and pickling).
Run: ``.venv/bin/python bench/presolve.py [--solves 200]``.
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

import pulp

from gateway.core.bundle import OrderBundle
from gateway.core.plugins import BidderPayload, StrategyRegistry
from gateway.core.yamlio import load_yaml
from gateway.solver.milp import lot_model, scaled_rows
from gateway.solver.presolve import PresolveConfig, PreSolver
from gateway.solver.sandbox import SolverSandbox

REGISTRY = StrategyRegistry.from_settings()
SAMPLES = Path(__file__).resolve().parent.parent / "config" / "samples"


def seed_bundle() -> OrderBundle:
    """The seed's hedge_data sample, read from config/samples/hedge_seed.yaml."""
    payload = BidderPayload.model_validate(load_yaml(SAMPLES / "hedge_seed.yaml"))
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
    pools: dict[str, list[OrderBundle]] = {"3": [seed_bundle()]}
    for legs in (10, 50):
        pools[str(legs)] = [random_bundle(legs, rng, i) for i in range(args.pool)]
    if args.decimals:
        for legs in (10, 50):
            pools[f"{legs}d"] = [
                random_bundle(legs, rng, i, decimals=True) for i in range(args.pool)
            ]

    print(f"pre-solve latency, {args.solves} solves per row, ms (p50 / p99)")
    print(f"{'legs':>4}  {'path':<22}{'build':>16}{'solve':>16}{'total':>16}  feasible")
    for size, pool in pools.items():
        results: dict[str, float] = {}
        for label, config in (
            ("highs (bidgw)", PresolveConfig(solver="highs")),
            ("cbc (PuLP default)", PresolveConfig(solver="cbc")),
        ):
            solver = PreSolver(config)
            verdicts = [solver.check(pool[i % len(pool)]) for i in range(args.solves)]
            totals = []
            for i in range(args.solves):
                started = time.perf_counter()
                solver.check(pool[i % len(pool)])
                totals.append((time.perf_counter() - started) * 1000)
            build = percentiles([v.build_ms for v in verdicts])
            solve = percentiles([v.solve_ms for v in verdicts])
            total = percentiles(totals)
            results[label] = total[0]
            feasible = sum(v.feasible for v in verdicts)
            print(
                f"{size:>4}  {label:<22}{build[0]:>8.3f}/{build[1]:<7.3f}"
                f"{solve[0]:>8.3f}/{solve[1]:<7.3f}{total[0]:>8.3f}/{total[1]:<7.3f}"
                f"  {feasible}/{len(verdicts)}"
            )
        sandbox = SolverSandbox(PresolveConfig(solver="highs"), processes=1)
        try:
            for i in range(min(20, args.solves)):  # warm the process up
                sandbox.check(pool[i % len(pool)])
            boxed = []
            for i in range(args.solves):
                started = time.perf_counter()
                sandbox.check(pool[i % len(pool)])
                boxed.append((time.perf_counter() - started) * 1000)
        finally:
            sandbox.close()
        boxed_p = percentiles(boxed)
        print(
            f"{size:>4}  {'highs, solver process':<22}{'':>16}{'':>16}"
            f"{boxed_p[0]:>8.3f}/{boxed_p[1]:<7.3f}  (+{boxed_p[0] - results['highs (bidgw)']:.3f}"
            " ms at p50 over in-process)"
        )
        stock = []
        for i in range(args.solves):
            bundle = pool[i % len(pool)]
            started = time.perf_counter()
            stock_highs_solve(bundle)
            stock.append((time.perf_counter() - started) * 1000)
        stock_p = percentiles(stock)
        print(
            f"{size:>4}  {'highs (pulp defaults)':<22}{'':>16}{'':>16}"
            f"{stock_p[0]:>8.3f}/{stock_p[1]:<7.3f}  (build+solve, no verification)"
        )
        speedup = results["cbc (PuLP default)"] / results["highs (bidgw)"]
        print(f"{size:>4}  speed-up of bidgw's HiGHS path over CBC at p50: {speedup:.1f}x")


if __name__ == "__main__":
    main()
