"""The batched search (numpy, a level at a time) is exact like the node-by-node one.

Above ``_SMALL`` (18) vectors the Python reference expands whole frames of nodes
with numpy, probes them with Babai's completion and splits large frames into
chunks. Small frames and probe thresholds (monkeypatched) drive every branch on
lattices small enough for brute force; bench-like lattices of 13–24 vectors
compare it with the node-by-node search, itself checked against brute force in
``test_lattice.py``. Time limits and the bound passes run on both kernels (the
C search goes node by node at every size).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from strategies import lattice
from strategies.lattice import FloatArray, HedgeLattice, solve_hedge

from .test_lattice import KERNELS, brute_force, problems


def search_batched(q0, b, cov, start=None):
    """The batched search on any lattice, with the lattice's own coordinates."""
    prepared = HedgeLattice(b, cov, kernel="python")
    zz = prepared._coordinates(q0)
    if start is None:
        x, distance = lattice._babai(prepared._mu, prepared._rr, zz)
    else:
        x = prepared._start(start)
        distance = lattice._distance(prepared._mu, prepared._rr, zz, x)
    radius = distance * (1 + 1e-12) + 1e-300
    found = lattice._search_batched(
        prepared._mu_columns(),
        prepared._rr,
        zz,
        radius=radius,
        best=x,
        max_nodes=None,
        deadline=None,
    )
    omega = prepared._u @ np.array(found.x, dtype=np.int64)
    return found, lattice.risk(q0 - b @ omega, cov)


def small_box(q0, b, cov) -> bool:
    """Whether brute force has few points to try (its box grows as the basis degenerates)."""
    m = b.T @ cov @ b
    w_star = np.linalg.solve(m, b.T @ cov @ q0)
    gap = lattice.risk(q0 - b @ np.rint(w_star), cov) - lattice.risk(q0 - b @ w_star, cov)
    radius = np.sqrt(max(gap, 0.0) / np.linalg.eigvalsh(m)[0]) + 2
    return bool((2 * radius + 1) ** b.shape[1] <= 100_000)


@pytest.fixture
def tiny_frames(monkeypatch):
    """Frames of 2 nodes and a probe at every frame: chunks, sorting and pruning all run."""
    monkeypatch.setattr(lattice, "_CHUNK", 2)
    monkeypatch.setattr(lattice, "_PROBE_FIRST", 1)
    monkeypatch.setattr(lattice, "_PROBE_GROWTH", 1)


def bench_like(seed: int, vectors: int):
    """Sparse {-1, 0, 1} vectors over vectors + 5 instruments, a factor covariance."""
    rng = np.random.default_rng(seed)
    instruments = vectors + 5
    b = rng.choice([-1.0, 0.0, 1.0], size=(instruments, vectors), p=[0.2, 0.6, 0.2])
    while np.linalg.matrix_rank(b) < vectors:
        b = rng.choice([-1.0, 0.0, 1.0], size=(instruments, vectors), p=[0.2, 0.6, 0.2])
    factors = rng.normal(size=(instruments, 4))
    cov = factors @ factors.T + np.diag(rng.uniform(0.2, 1.0, instruments))
    return rng.normal(scale=8, size=instruments), b, cov


def _batched_matches_node_by_node(seed: int, vectors: int) -> tuple[HedgeLattice, FloatArray]:
    """The batched search on a bench-like book proves the node-by-node optimum."""
    q0, b, cov = bench_like(seed, vectors)
    prepared = HedgeLattice(b, cov)
    zz = prepared._coordinates(q0)
    one_by_one = lattice._enumerate(
        prepared._mu, prepared._rr, zz, None, max_nodes=None, deadline=None
    )
    found, _ = search_batched(q0, b, cov)
    assert found.proven
    assert found.distance == pytest.approx(one_by_one.distance, rel=1e-9)
    return prepared, q0


@settings(max_examples=60)
@given(problems())
def test_batched_search_equals_brute_force(problem):
    q0, b, cov = problem
    assume(small_box(q0, b, cov))
    found, after = search_batched(q0, b, cov)
    assert found.proven
    assert after == pytest.approx(brute_force(q0, b, cov), rel=1e-9, abs=1e-9)


# The fixture only sets constants, the same for every example.
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(problem=problems(), start=st.lists(st.integers(-6, 6), min_size=4, max_size=4))
def test_batched_search_with_tiny_frames_equals_brute_force(tiny_frames, problem, start):
    q0, b, cov = problem
    assume(small_box(q0, b, cov))
    begin = np.array(start[: b.shape[1]], dtype=np.int64)
    for first in (None, begin):
        found, after = search_batched(q0, b, cov, first)
        assert found.proven
        assert after == pytest.approx(brute_force(q0, b, cov), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("vectors", [13, 18, 24])
def test_batched_search_equals_the_node_by_node_search(seed, vectors):
    prepared, q0 = _batched_matches_node_by_node(seed, vectors)
    assert prepared.solve(q0).optimal


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("seed", range(4))
def test_a_time_limited_search_bounds_the_optimum(kernel, seed):
    """Stopped at any point (a tiny limit), the answer and its bound enclose the optimum."""
    q0, b, cov = bench_like(seed, 24)
    optimum = solve_hedge(q0, b, cov, "exact").risk_after
    for limit in (0.0, 1e-5, 1e-4, 1e-3, 1e-2):
        stopped = solve_hedge(q0, b, cov, "exact", time_limit=limit, kernel=kernel)
        assert stopped.risk_after >= optimum * (1 - 1e-9)
        assert stopped.lower_bound <= optimum * (1 + 1e-9)
        if stopped.optimal:
            assert stopped.risk_after == pytest.approx(optimum, rel=1e-9)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("seed", range(3))
def test_a_history_on_a_large_basis_equals_one_book_at_a_time(kernel, seed):
    q0, b, cov = bench_like(seed, 20)
    rng = np.random.default_rng(seed)
    steps = rng.normal(scale=2, size=(6, len(q0))).cumsum(axis=0) + q0
    history = HedgeLattice(b, cov, kernel=kernel).solve_many(steps)
    for t, book in enumerate(steps):
        assert history.optimal[t]
        exact = solve_hedge(book, b, cov, "exact", kernel=kernel).risk_after
        assert history.risk_after[t] == pytest.approx(exact, rel=1e-9)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("vectors", [3, 10, 11, 30, 50])
def test_the_reduced_factor_is_the_cholesky_factor_of_the_reduced_gram(kernel, vectors):
    """LLL updates R by Givens rotations instead of factorising again: RᵀR = UᵀMU."""
    _, b, cov = bench_like(vectors, vectors)
    prepared = HedgeLattice(b, cov, kernel=kernel)
    upper = prepared._upper()
    gram = prepared._u.T @ (b.T @ cov @ b) @ prepared._u
    assert np.allclose(upper.T @ upper, gram, rtol=1e-10, atol=1e-10 * np.abs(gram).max())
    assert round(abs(np.linalg.det(prepared._u))) == 1
    mu = upper / np.diag(upper)[:, None]
    assert np.abs(np.triu(mu, 1)).max() <= 8  # size reduction kept the coordinates small


def test_numpys_and_the_list_cholesky_agree():
    _, b, cov = bench_like(1, 10)
    gram = b.T @ cov @ b
    order = list(range(10))[::-1]
    by_lists = HedgeLattice._factor(gram, order)
    upper = np.linalg.cholesky(gram[np.ix_(order, order)]).T
    assert by_lists is not None
    for j, col in enumerate(by_lists):
        assert np.allclose(col, upper[: j + 1, j], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_small_frames_on_a_larger_lattice(monkeypatch, seed):
    """Many chunks, probes at every size: the same optimum as the node-by-node search."""
    monkeypatch.setattr(lattice, "_CHUNK", 16)
    monkeypatch.setattr(lattice, "_PROBE_FIRST", 2)
    monkeypatch.setattr(lattice, "_PROBE_GROWTH", 2)
    _batched_matches_node_by_node(100 + seed, 16)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("seed", range(6))
def test_bound_passes_prove_the_optimum_when_given_the_time(kernel, seed):
    """From a search stopped early, the bound passes (no deadline) end proven at the optimum."""
    q0, b, cov = bench_like(200 + seed, 24)
    prepared = HedgeLattice(b, cov, kernel=kernel)
    mu, rr = prepared._mu, prepared._rr
    zz = prepared._coordinates(q0)
    columns = prepared._mu_columns()
    if kernel == "c":
        stopped = lattice._search_compiled(
            mu, rr, zz, None, radius=None, max_nodes=50, deadline=None
        )

        def complete(radius, best, deadline):
            return lattice._search_compiled(
                mu, rr, zz, best, radius=radius, max_nodes=None, deadline=deadline
            )

    else:
        x, distance = lattice._babai(mu, rr, zz)
        stopped = lattice._search_batched(
            columns, rr, zz, radius=distance * (1 + 1e-12), best=x, max_nodes=50, deadline=None
        )

        def complete(radius, best, deadline):
            return lattice._search_batched(
                columns, rr, zz, radius=radius, best=best, max_nodes=None, deadline=deadline
            )

    assert not stopped.proven
    optimum = lattice._enumerate(mu, rr, zz, None, max_nodes=None, deadline=None).distance
    assert stopped.lower <= optimum * (1 + 1e-9) <= stopped.distance * (1 + 2e-9)
    bounded = lattice._bound(complete, len(zz), stopped, deadline=float("inf"), growth=3.0)
    assert bounded.proven
    assert bounded.distance == pytest.approx(optimum, rel=1e-9)
    assert bounded.lower == pytest.approx(optimum, rel=1e-9)


@pytest.mark.parametrize("vectors", [5, 24])
def test_a_books_target_is_the_same_from_lists_and_from_the_matrix(vectors):
    """The first book solves Rᵀz = h on lists; later ones use the projection matrix."""
    q0, b, cov = bench_like(7, vectors)
    prepared = HedgeLattice(b, cov)
    first = prepared._coordinates(q0)
    second = prepared._coordinates(q0)
    assert prepared._project_matrix is not None
    assert np.allclose(first, second, rtol=1e-10, atol=1e-10 * np.abs(first).max())
    assert prepared.solve(q0).risk_after == pytest.approx(solve_hedge(q0, b, cov).risk_after)
