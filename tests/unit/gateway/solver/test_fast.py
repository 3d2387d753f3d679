"""The pre-solver's fast path against brute force, branch by branch, and how often it
decides without the MILP."""

from __future__ import annotations

import itertools
import random
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from gateway.core.bundle import Sense
from gateway.core.plugins import StrategyRegistry
from gateway.solver.fast import Decision, decide, least_one_row
from gateway.solver.milp import ScaledRow
from gateway.solver.presolve import Outcome, PreSolver
from tests.conftest import envelope
from tests.unit.gateway.solver.test_presolve import assert_matches_brute_force

# --- decide() on raw rows -------------------------------------------------------------


def brute_rows(
    rows: list[ScaledRow], caps: list[int], weights: list[int]
) -> tuple[int, list[tuple[int, ...]]]:
    """The maximum of Σ w·n over every lot vector within caps that satisfies the rows,
    and every vector that reaches it."""
    grid = np.array(list(itertools.product(*(range(c + 1) for c in caps))), dtype=np.int64)
    ok = np.ones(len(grid), dtype=bool)
    for row in rows:
        lhs = grid @ np.array(row.coefficients, dtype=np.int64)
        ok &= {Sense.EQ: lhs == 0, Sense.LE: lhs <= 0, Sense.GE: lhs >= 0}[row.sense]
    values = grid @ np.array(weights, dtype=np.int64)
    best = int(values[ok].max())  # the empty fill always qualifies
    return best, [tuple(int(x) for x in v) for v in grid[ok & (values == best)]]


SENSES = st.sampled_from([Sense.EQ, Sense.LE, Sense.GE])


@st.composite
def row_problems(draw: st.DrawFn) -> tuple[list[ScaledRow], list[int], list[int]]:
    """1-3 homogeneous rows over 2-5 legs: small coefficients, or large ones (the
    two-decimal kind) that make whole-lot solutions rare; limits 0-7 lots."""
    legs = draw(st.integers(2, 5))
    size = draw(st.sampled_from([6, 40, 2000]))
    coefficient = st.integers(-size, size)
    rows = [
        ScaledRow(
            f"c{r}",
            tuple(draw(st.lists(coefficient, min_size=legs, max_size=legs))),
            draw(SENSES),
            0,
        )
        for r in range(draw(st.integers(1, 3)))
    ]
    caps = draw(st.lists(st.integers(0, 7), min_size=legs, max_size=legs))
    weights = draw(
        st.one_of(
            st.just([1] * legs),
            st.lists(st.integers(1, 3), min_size=legs, max_size=legs),
        )
    )
    return rows, caps, weights


@st.composite
def chain_problems(draw: st.DrawFn) -> tuple[list[ScaledRow], list[int], list[int]]:
    """Two-leg equalities tying every leg to a neighbour (proportional legs)."""
    legs = draw(st.integers(2, 4))
    rows = []
    for i in range(1, legs):
        coefficients = [0] * legs
        coefficients[draw(st.integers(0, i - 1))] = draw(st.integers(1, 6))
        coefficients[i] = -draw(st.integers(1, 6)) * draw(st.sampled_from([1, 1, 1, -1]))
        rows.append(ScaledRow(f"p{i}", tuple(coefficients), Sense.EQ, 0))
    caps = draw(st.lists(st.integers(0, 9), min_size=legs, max_size=legs))
    return rows, caps, [1] * legs


def check_decision(
    decision: Decision | None, rows: list[ScaledRow], caps: list[int], weights: list[int]
) -> None:
    best, argmax = brute_rows(rows, caps, weights)
    if decision is None:
        event("undecided")
        return
    event(f"decided by {decision.method}")
    if decision.lots is None:
        assert best == 0, f"claimed infeasible, brute force reaches {best}"
        return
    assert tuple(decision.lots) in argmax, (decision, best)
    assert best > 0


@given(problem=row_problems())
def test_decide_matches_brute_force(problem):
    rows, caps, weights = problem
    check_decision(decide(rows, caps, weights), rows, caps, weights)


@given(problem=chain_problems())
def test_chains_match_brute_force(problem):
    rows, caps, weights = problem
    check_decision(decide(rows, caps, weights), rows, caps, weights)


def test_divisibility_proves_the_seed_sample_with_aaaa_500_infeasible():
    # 4·AAAA = 36·BBBB + 9·CCCC (docs/math.md §2): AAAA moves in 9 lots, its limit is 5.
    row = ScaledRow("hedge", (-4, 36, 9), Sense.EQ, 0)
    assert decide([row], [5, 50, 50], [1, 1, 1]) == Decision(None, "reduction")


def test_a_non_homogeneous_row_is_left_to_the_milp():
    assert decide([ScaledRow("r", (1, -1), Sense.GE, 3)], [5, 5], [1, 1]) is None


def test_large_coprime_coefficients_are_left_to_the_milp_within_the_budget():
    # Market-split style: the remainder search would need ~1e6 states.
    row = ScaledRow("split", (999_983, -999_979, 999_961, -999_959), Sense.EQ, 0)
    assert decide([row], [50, 50, 50, 50], [1, 1, 1, 1]) is None


# --- least_one_row --------------------------------------------------------------------


@given(
    coefficients=st.lists(st.integers(-12, 12), min_size=2, max_size=4),
    weights=st.lists(st.integers(1, 3), min_size=4, max_size=4),
    sense=SENSES,
)
def test_least_one_row_matches_brute_force(coefficients, weights, sense):
    row = ScaledRow("r", tuple(coefficients), sense, 0)
    weights = weights[: len(coefficients)]
    found = least_one_row(row, weights)
    bound = max(map(abs, coefficients)) or 1  # Lambert's bound on a minimal solution
    best: int | None = None
    for lots in itertools.product(range(bound + 1), repeat=len(coefficients)):
        lhs = sum(a * n for a, n in zip(coefficients, lots, strict=True))
        holds = {Sense.EQ: lhs == 0, Sense.LE: lhs <= 0, Sense.GE: lhs >= 0}[sense]
        if any(lots) and holds:
            value = sum(w * n for w, n in zip(weights, lots, strict=True))
            best = value if best is None else min(best, value)
    if found is None:
        assert best is None
        return
    assert best is not None
    assert any(found)
    lhs = sum(a * n for a, n in zip(coefficients, found, strict=True))
    assert {Sense.EQ: lhs == 0, Sense.LE: lhs <= 0, Sense.GE: lhs >= 0}[sense]
    assert sum(w * n for w, n in zip(weights, found, strict=True)) == best


# --- whole bundles: a harder generator than test_presolve's ---------------------------


@st.composite
def hard_payloads(draw: st.DrawFn) -> dict[str, Any]:
    """Hedge bundles with two-decimal coefficients (large scaled rows), an exact ratio
    or a band (two rows), and limits so small that a whole-lot fill is rare."""
    count = draw(st.integers(2, 4))
    magnitudes = draw(
        st.lists(
            st.integers(25, 2000).map(lambda c: Decimal(c) / 100), min_size=count, max_size=count
        )
    )
    primaries = draw(st.integers(1, count - 1))
    lot = draw(st.sampled_from([1, 10, 100]))
    positions = [
        {
            "symbol": f"S{i}",
            "side": draw(st.sampled_from(["Buy", "Sell"])),
            "hedge_qty_coeff": str(m if i < primaries else -m),
            "qty": lot * draw(st.integers(1, 9)),
            "price": "10.00",
        }
        for i, m in enumerate(magnitudes)
    ]
    data: dict[str, Any] = {"positions": positions}
    if draw(st.booleans()):
        data["target_hedge_ratio"] = str(draw(st.sampled_from(["1.5", "2", "3", "-2"])))
    else:
        low, high = sorted(draw(st.lists(st.integers(-20, 20), min_size=2, max_size=2)))
        data["hedge_ratio_min"] = str(Decimal(low) / 20)
        data["hedge_ratio_max"] = str(Decimal(high) / 20)
    return {"strategy": "single_factor_hedged", "lot_size": lot, "bidder_data": data}


@given(raw=hard_payloads())
def test_presolver_matches_brute_force_on_hard_bundles(registry, raw):
    bundle = registry.build(envelope(raw))
    verdict = PreSolver().check(bundle)
    event(f"path={verdict.path} feasible={verdict.feasible}")
    assert_matches_brute_force(bundle, verdict)


# --- how often the fast path decides ---------------------------------------------------


def seeded_bundles(registry: StrategyRegistry, kind: str, count: int) -> list[Any]:
    """The gateway's common bundles, seeded: hedge ratios (exact and band) with integer
    coefficients 1-20 and beta bounds with two-decimal prices and betas, 3-50 legs,
    10-200 lots per leg."""
    rng = random.Random(f"fast-path-{kind}")
    bundles = []
    for index in range(count):
        legs = rng.choice([3, 5, 10, 20, 50])
        if kind == "beta":
            positions = [
                {
                    "symbol": f"S{i:03d}",
                    "side": rng.choice(["Buy", "Sell"]),
                    "price": f"{rng.randint(500, 50000) / 100:.2f}",
                    "beta_coeff": f"{rng.randint(-200, 200) / 100:.2f}",
                    "qty": 100 * rng.randint(10, 200),
                }
                for i in range(legs)
            ]
            data: dict[str, Any] = {
                "beta_tol": rng.choice(["5", "10", "20", "40"]),
                "positions": positions,
            }
            raw = {"strategy": "beta_neutral", "bidder_data": data}
        else:
            positions = []
            for i in range(legs):
                magnitude = rng.randint(1, 20)
                positions.append(
                    {
                        "symbol": f"S{i:03d}",
                        "side": rng.choice(["Buy", "Sell"]),
                        "hedge_qty_coeff": str(magnitude if i < max(1, legs // 3) else -magnitude),
                        "qty": 100 * rng.randint(10, 200),
                        "price": "10.00",
                    }
                )
            data = {"positions": positions}
            if kind == "exact":
                data["target_hedge_ratio"] = rng.choice([1, 2, 3, 4])
            else:
                low = rng.randint(-10, 10)
                data["hedge_ratio_min"] = str(Decimal(low) / 20)
                data["hedge_ratio_max"] = str(Decimal(rng.randint(low, 10)) / 20)
            raw = {"strategy": "single_factor_hedged", "bidder_data": data}
        bundles.append(registry.build(envelope(raw), bundle_id=f"{kind}-{index}"))
    return bundles


@pytest.mark.parametrize(
    ("kind", "most_to_milp"),
    [
        # Measured on these seeds: exact 0/200, band 1/200, beta 2/200 reach the MILP.
        ("exact", 4),
        ("band", 4),
        ("beta", 6),
    ],
)
def test_the_fast_path_decides_most_common_bundles(registry, kind, most_to_milp):
    """A counted property, not a timing: of 200 seeded bundles of each kind, at most
    ``most_to_milp`` reach the MILP, and every verdict is a proven one."""
    verdicts = [PreSolver().check(b) for b in seeded_bundles(registry, kind, 200)]
    to_milp = sum(v.path == "milp" for v in verdicts)
    assert to_milp <= most_to_milp, f"{to_milp} of 200 {kind} bundles reached the MILP"
    assert all(v.outcome in (Outcome.FEASIBLE, Outcome.INFEASIBLE) for v in verdicts)
    assert all(v.optimal for v in verdicts if v.feasible)
