"""Hedge solver: time and residual-risk gap to the exact optimum, fast vs exact.

For 5, 10, 20 and 50 mean-reverting vectors (sparse {-1, 0, 1} weights over
vectors + 5 instruments, factor covariances, seeded), solves 20 books with
exact sphere decoding (LLL + Babai start, node budget 2,000,000), Babai and
greedy, and prints median solve time and how far the fast methods' residual
variance is above the exact one (share optimal, 95th percentile, worst).
Run: ``.venv/bin/python bench/hedge.py [--cases 20]``.
"""

# ruff: noqa: E402 - the sys.path fix below must run before the gateway imports

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path and bench/gateway.py would
# shadow the ``gateway`` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import statistics
import time

import numpy as np

from strategies.lattice import Method, solve_hedge


def book(vectors: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    instruments = vectors + 5
    basis = rng.choice([-1.0, 0.0, 1.0], size=(instruments, vectors), p=[0.2, 0.6, 0.2])
    while np.linalg.matrix_rank(basis) < vectors:
        basis = rng.choice([-1.0, 0.0, 1.0], size=(instruments, vectors), p=[0.2, 0.6, 0.2])
    factors = rng.normal(size=(instruments, 4))
    cov = factors @ factors.T + np.diag(rng.uniform(0.2, 1.0, instruments))
    lot = 100_000.0
    positions = rng.normal(scale=8 * lot, size=instruments)
    return positions, lot * basis, cov / lot**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20)
    args = parser.parse_args()
    print(
        f"{'vectors':>7}  {'method':<7}{'median ms':>10}{'optimal':>9}{'p95 gap':>10}"
        f"{'worst gap':>11}  exact proven"
    )
    for vectors in (5, 10, 20, 50):
        rng = np.random.default_rng(vectors)
        problems = [book(vectors, rng) for _ in range(args.cases)]
        times: dict[str, list[float]] = {"exact": [], "babai": [], "greedy": []}
        risks: dict[str, list[float]] = {"exact": [], "babai": [], "greedy": []}
        proven = 0
        for positions, basis, cov in problems:
            for method in ("exact", "babai", "greedy"):
                started = time.perf_counter()
                m: Method = method
                solution = solve_hedge(positions, basis, cov, m, max_nodes=2_000_000)
                times[method].append((time.perf_counter() - started) * 1000)
                risks[method].append(solution.risk_after)
                if method == "exact":
                    proven += solution.optimal
        exact = np.array(risks["exact"])
        for method in ("exact", "babai", "greedy"):
            gaps = np.array(risks[method]) / exact - 1
            print(
                f"{vectors:>7}  {method:<7}{statistics.median(times[method]):>10.2f}"
                f"{np.mean(gaps <= 1e-9):>9.0%}{np.quantile(gaps, 0.95):>10.2%}"
                f"{gaps.max():>11.2%}  " + (f"{proven}/{args.cases}" if method == "exact" else "")
            )


if __name__ == "__main__":
    main()
