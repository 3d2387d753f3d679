"""The primal start of large auctions (gateway/venue/auction/hull.py): the compiled
kernel against brute force, the start against the model's own rows, and the start in
``clear`` (used when the part is large and solved to the gap, not in the venue's window)."""

from __future__ import annotations

import itertools
import math
import random
import time
from typing import Any

import numpy as np
import pytest

import gateway.venue.auction.solvers as solvers
from gateway.core.plugins import StrategyRegistry
from gateway.venue.auction import AuctionConfig, clear
from gateway.venue.auction import hull as hull_module
from gateway.venue.auction._hull import solve as kernel
from gateway.venue.auction.hull import SearchTooLong, hull_start, integer_optima
from gateway.venue.auction.model import Model
from tests.unit.gateway.venue.auction.test_solvers import large_book

REGISTRY = StrategyRegistry.from_settings()


def brute_force(
    r: list[float], u: list[int], g: list[list[float]], lo: list[float], hi: list[float]
) -> float:
    best = -math.inf
    for x in itertools.product(*(range(k + 1) for k in u)):
        if all(
            lo[k] <= sum(a * v for a, v in zip(g[k], x, strict=True)) <= hi[k]
            for k in range(len(g))
        ):
            best = max(best, sum(a * v for a, v in zip(r, x, strict=True)))
    return best


def test_the_kernel_finds_every_optimum_brute_force_finds():
    rng = random.Random(15)
    problems = []
    for _ in range(300):
        n, m = rng.randint(1, 4), rng.randint(0, 3)
        r = [float(rng.randint(-9, 9)) for _ in range(n)]
        u = [rng.randint(0, 5) for _ in range(n)]
        g = [[float(rng.randint(-7, 7)) for _ in range(n)] for _ in range(m)]
        lo = [rng.choice([-math.inf, float(rng.randint(-10, 5))]) for _ in range(m)]
        hi = [rng.choice([math.inf, lo[k] + rng.randint(0, 12)]) for k in range(m)]
        problems.append((r, u, g, lo, hi))
    for r, u, g, lo, hi in problems:
        n, m = len(r), len(g)
        x, values = integer_optima(
            np.array([r]),
            np.array([u], dtype=float),
            np.array(g, dtype=float).reshape(1, m, n),
            np.array([lo], dtype=float).reshape(1, m),
            np.array([hi], dtype=float).reshape(1, m),
        )
        expected = brute_force(r, u, g, lo, hi)
        assert values[0] == expected, (r, u, g, lo, hi)
        if math.isfinite(expected):  # the point it returns is feasible and worth that
            point = x[0]
            assert all(0 <= v <= k and v == int(v) for v, k in zip(point, u, strict=True))
            for k in range(m):
                assert lo[k] <= float(np.dot(g[k], point)) <= hi[k]
            assert float(np.dot(r, point)) == expected


def test_the_kernel_solves_many_problems_in_one_call():
    # Two bundles' cones (a hedge band and a beta band), priced two ways: each answer is
    # the one it gives alone.
    r = np.array([[3.0, -1.0, 2.0], [-2.0, 4.0, 1.0]])
    u = np.array([[10.0, 20.0, 5.0], [8.0, 8.0, 8.0]])
    g = np.array([[[5.0, -9.0, -3.0], [3.0, -15.0, -5.0]], [[2.0, -3.0, 1.0], [1.0, -1.0, 0.0]]])
    lo = np.array([[0.0, -math.inf], [0.0, -math.inf]])
    hi = np.array([[math.inf, 0.0], [math.inf, 0.0]])
    together, values = integer_optima(r, u, g, lo, hi)
    for index in range(2):
        alone, value = integer_optima(
            r[index : index + 1],
            u[index : index + 1],
            g[index : index + 1],
            lo[index : index + 1],
            hi[index : index + 1],
        )
        assert (alone[0] == together[index]).all()
        assert value[0] == values[index]


def test_the_kernel_refuses_what_it_cannot_take():
    one = np.zeros(1).tobytes()
    with pytest.raises(ValueError, match="sizes"):
        kernel(1, 9, 0, one * 9, one * 9, b"", b"", b"", 10)
    with pytest.raises(ValueError, match="expected"):
        kernel(1, 1, 0, one, one * 2, b"", b"", b"", 10)
    with pytest.raises(ValueError, match="whole numbers"):
        kernel(1, 1, 0, one, np.array([0.5]).tobytes(), b"", b"", b"", 10)


def captured_model(monkeypatch: pytest.MonkeyPatch, bundles: int, seed: int) -> Model:
    """The model ``clear`` builds for ``large_book(bundles, seed)`` (one part)."""
    models: list[Model] = []
    run = solvers._run_highs

    def keep(model: Model, **kwargs: Any) -> Any:
        models.append(model)
        return run(model, **kwargs)

    monkeypatch.setattr(solvers, "_run_highs", keep)
    book, contra, refs = large_book(REGISTRY, bundles, seed)
    clear(book, contra, refs, AuctionConfig(time_limit_ms=60_000, first_fill_limit_ms=60_000))
    monkeypatch.undo()
    assert len(models) == 1
    return models[0]


def test_the_start_satisfies_every_row_and_is_near_the_bound(monkeypatch):
    model = captured_model(monkeypatch, 120, 7)
    start = hull_start(model, solvers.AUCTION_HIGHS_OPTIONS, time.perf_counter() + 60)
    assert start is not None
    assert start.rounds >= 1
    assert start.fixed > 0
    matrix = model.matrix
    x = np.array(start.values)
    assert (x >= np.array(matrix.lower)).all()
    assert (x <= np.array(matrix.upper)).all()
    assert (x == np.round(x)).all()  # every column of the ladder model is integer
    ends = [*matrix.starts[1:], len(matrix.index)]
    for row, (begin, end) in enumerate(zip(matrix.starts, ends, strict=True)):
        activity = sum(matrix.value[k] * x[matrix.index[k]] for k in range(begin, end))
        assert matrix.row_lower[row] - 1e-9 <= activity <= matrix.row_upper[row] + 1e-9
    # Within 0.2% of HiGHS's own bound on the optimum (a valid bound at any gap).
    h = hull_module._highs(model, solvers.AUCTION_HIGHS_OPTIONS)
    h.setOptionValue("mip_rel_gap", 1e-3)
    h.run()
    bound = -h.getInfo().mip_dual_bound
    assert float(np.dot(matrix.cost, x)) >= bound * (1 - 2e-3)


def test_a_large_part_solved_to_the_gap_gets_the_start(monkeypatch):
    # MIN_BUNDLES lowered so that a small book qualifies; the start must be found and
    # used, and the auction's answer is within the gap of the one without it.
    calls: list[bool] = []
    found = hull_start

    def spy(*args: Any, **kwargs: Any) -> Any:
        start = found(*args, **kwargs)
        calls.append(start is not None)
        return start

    monkeypatch.setattr(solvers, "hull_start", spy)
    monkeypatch.setattr(solvers, "MIN_BUNDLES", 50)
    book, contra, refs = large_book(REGISTRY, 120, 7)
    config = AuctionConfig(time_limit_ms=60_000, first_fill_limit_ms=60_000, gap="0.001")
    with_start = clear(book, contra, refs, config, seed=1)
    assert calls == [True]
    monkeypatch.setattr(solvers, "MIN_BUNDLES", 10**9)
    without = clear(book, contra, refs, config, seed=1)
    assert calls == [True]  # not asked again
    for result in (with_start, without):
        assert result.status in ("optimal", "feasible")
        assert result.bundle_fills
        assert result.gap is not None
        assert result.gap <= 1e-3
    assert abs(with_start.improvement - without.improvement) <= 2e-3 * without.improvement


def test_the_start_may_take_at_most_half_the_part_s_time(monkeypatch):
    # The sub-MIP has no limit of its own: the deadline it is handed is what bounds it.
    asked: list[float] = []
    found = hull_start

    def spy(model: Model, options: Any, deadline: float) -> Any:
        asked.append(deadline - time.perf_counter())
        return found(model, options, deadline)

    monkeypatch.setattr(solvers, "hull_start", spy)
    monkeypatch.setattr(solvers, "MIN_BUNDLES", 50)
    book, contra, refs = large_book(REGISTRY, 120, 7)
    config = AuctionConfig(time_limit_ms=20_000, first_fill_limit_ms=20_000, gap="0.001")
    result = clear(book, contra, refs, config, seed=1)
    assert result.bundle_fills
    assert len(asked) == 1
    assert 9.0 < asked[0] <= 10.0  # half of the 20 s, less admission and building


def test_the_venue_window_and_small_parts_run_without_the_start(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(solvers, "hull_start", lambda *a, **k: calls.append(1))
    monkeypatch.setattr(solvers, "MIN_BUNDLES", 50)
    book, contra, refs = large_book(REGISTRY, 120, 7)
    clear(book, contra, refs, AuctionConfig(), seed=1)  # the venue's 80 ms and first fill
    clear(book[:40], contra, refs, AuctionConfig(time_limit_ms=60_000), seed=1)  # 40 < 50
    assert calls == []


def test_a_search_past_its_node_budget_is_given_up_not_run_on():
    """Eight legs of 10^5 lots in two narrow bands: an exponential search (more than
    5·10^6 nodes, unfinished), stopped at the budget instead of holding the venue's
    solver thread; the kernel says how far it went."""
    rng = random.Random(3)
    r = np.array([[rng.uniform(-5, 5) for _ in range(8)]])
    u = np.full((1, 8), 100_000.0)
    g = np.array(
        [[[float(rng.randint(1000, 99_999) * rng.choice([-1, 1])) for _ in range(8)] for _ in "ab"]]
    )
    lo, hi = np.array([[-3.0, -5.0]]), np.array([[3.0, 5.0]])
    with pytest.raises(SearchTooLong, match="more than 100000 nodes"):
        integer_optima(r, u, g, lo, hi, budget=100_000)
    data = (a.tobytes() for a in (r, u, g, lo, hi))
    _, _, nodes = kernel(1, 8, 2, *data, 100_000)
    assert nodes == 100_001  # every search stops at the first node past the budget


def test_a_start_whose_search_passes_the_budget_is_given_up_and_highs_runs_alone(monkeypatch):
    # The real kernel with a budget of 10 nodes a round: the first round passes it.
    searched: list[int] = []
    optima = integer_optima

    def small_budget(*args: Any, **kwargs: Any) -> Any:
        searched.append(1)
        return optima(*args, **{**kwargs, "budget": 10})

    model = captured_model(monkeypatch, 120, 7)
    monkeypatch.setattr(hull_module, "integer_optima", small_budget)
    assert hull_start(model, solvers.AUCTION_HIGHS_OPTIONS, time.perf_counter() + 60) is None
    assert searched == [1]
    monkeypatch.setattr(solvers, "MIN_BUNDLES", 50)
    book, contra, refs = large_book(REGISTRY, 120, 7)
    config = AuctionConfig(time_limit_ms=60_000, first_fill_limit_ms=60_000, gap="0.001")
    result = clear(book, contra, refs, config, seed=1)
    assert searched == [1, 1]  # the auction asked for the start, and went on without it
    assert result.status == "optimal"
    assert result.bundle_fills
    assert result.gap is not None
    assert result.gap <= 1e-3
