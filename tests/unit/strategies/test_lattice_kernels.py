"""The C kernels (``strategies/_lattice.c``) against the Python reference, and their safety.

The C code is a line-for-line port in the same double-precision arithmetic, so
on the same input it returns the same numbers to the last bit: the reduced
factor, U and mu of LLL; the point, distance, node count and lower bound of a
search, finished or stopped. Only a search from a start point may differ in the
last bits of its radius (Python 3.12 sums the start's distance with compensated
``sum()``): there distances are compared, not points. Above 18 vectors the
Python reference searches a level at a time (other node counts): the optima's
distances are compared.

Safety: what C's doubles and int64 cannot hold makes a kernel return None (the
caller then runs the Python); sizes that do not fit raise ValueError; a long
search releases the GIL and is stopped by a signal handler's exception.
"""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies import _lattice, lattice
from strategies.lattice import HedgeLattice, solve_hedge

from .test_lattice import problems
from .test_lattice_search import bench_like

SIZES = [1, 2, 3, 5, 8, 13, 18]


def factor_columns(b, cov):
    """The sorted triangular factor HedgeLattice reduces, as its list of columns."""
    gram = b.T @ cov @ b
    order = sorted(range(b.shape[1]), key=gram.diagonal().tolist().__getitem__)
    cols = HedgeLattice._factor(gram, order)
    assert cols is not None
    return cols


def python_search(prepared, zz, start=None, max_nodes=None):
    return lattice._enumerate(
        prepared._mu, prepared._rr, zz, start, max_nodes=max_nodes, deadline=None
    )


def c_search(prepared, zz, start=None, max_nodes=None):
    return lattice._search_compiled(
        prepared._mu, prepared._rr, zz, start, radius=None, max_nodes=max_nodes, deadline=None
    )


def point_distance(prepared, zz, x):
    return lattice._distance(prepared._mu, prepared._rr, zz, x)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("vectors", [*SIZES, 30, 50])
def test_reduction_is_the_same_to_the_last_bit(seed, vectors):
    _, b, cov = bench_like(300 + seed, vectors)
    for mu_bound in (0.0, 8.0):  # always size-reduce (lll()), and as HedgeLattice does
        compiled = lattice._reduce(factor_columns(b, cov), 0.99, mu_bound, "c")
        reference = lattice._reduce(factor_columns(b, cov), 0.99, mu_bound, "python")
        assert compiled == reference


@settings(max_examples=60)
@given(problems(max_vectors=4))
def test_reduction_is_the_same_on_random_small_lattices(problem):
    _, b, cov = problem
    for mu_bound in (0.0, 8.0):
        compiled = lattice._reduce(factor_columns(b, cov), 0.99, mu_bound, "c")
        assert compiled == lattice._reduce(factor_columns(b, cov), 0.99, mu_bound, "python")


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("vectors", SIZES)
def test_search_is_the_same_to_the_last_bit(seed, vectors):
    """Finished, and stopped by every budget up to its node count: point, distance,
    nodes, proof and lower bound all equal."""
    q0, b, cov = bench_like(400 + seed, vectors)
    prepared = HedgeLattice(b, cov)
    zz = prepared._coordinates(q0)
    full = python_search(prepared, zz)
    assert c_search(prepared, zz) == full
    for budget in sorted({1, 2, 3, full.nodes // 3, full.nodes // 2, full.nodes - 1} - {0}):
        assert c_search(prepared, zz, max_nodes=budget) == python_search(
            prepared, zz, max_nodes=budget
        )


@pytest.mark.parametrize("vectors", [5, 18, 30])
def test_pruning_prunes_and_never_proves(vectors):
    """Factors of 1 leave the exact search as it is; below 1 it visits fewer nodes,
    finds a point no nearer than the optimum and claims no proof."""
    q0, b, cov = bench_like(600, vectors)
    prepared = HedgeLattice(b, cov)
    mu, rr, zz = prepared._mu, prepared._rr, prepared._coordinates(q0)
    exact = _lattice.search(mu, rr, zz, None, None, 0, None)
    assert _lattice.search(mu, rr, zz, None, None, 0, None, [1.0] * vectors) == exact
    assert exact is not None
    pruned = lattice._search_compiled(
        mu,
        rr,
        zz,
        None,
        radius=None,
        max_nodes=None,
        deadline=None,
        pruning=lattice._pruning(vectors),
    )
    assert not pruned.proven
    assert pruned.lower == 0.0
    assert pruned.nodes <= exact[2]
    assert pruned.distance >= exact[1]
    assert point_distance(prepared, zz, pruned.x) == pytest.approx(pruned.distance, rel=1e-9)


@pytest.mark.parametrize("pruning", [[0.0, 1.0], [1.0, 1.5], [1.0, math.nan], [1.0]])
def test_pruning_factors_are_checked(pruning):
    with pytest.raises(ValueError, match="pruning"):
        _lattice.search(
            [[0.0, 0.5], [0.0, 0.0]], [1.0, 1.0], [0.2, 0.3], None, None, 0, None, pruning
        )


@settings(max_examples=60)
@given(problems(max_vectors=4), st.lists(st.integers(-6, 6), min_size=4, max_size=4))
def test_search_from_a_start_finds_the_same_distance(problem, start):
    q0, b, cov = problem
    prepared = HedgeLattice(b, cov)
    zz = prepared._coordinates(q0)
    begin = start[: b.shape[1]]
    compiled, reference = c_search(prepared, zz, begin), python_search(prepared, zz, begin)
    assert compiled.proven
    assert reference.proven
    assert compiled.distance == pytest.approx(reference.distance, rel=1e-12, abs=1e-300)
    for found in (compiled, reference):  # each point is as near as it says
        assert point_distance(prepared, zz, found.x) <= found.distance * (1 + 1e-9)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("vectors", [24, 30])
def test_search_above_the_batched_threshold_finds_the_same_optimum(seed, vectors):
    q0, b, cov = bench_like(500 + seed, vectors)
    compiled = solve_hedge(q0, b, cov, kernel="c")
    reference = solve_hedge(q0, b, cov, kernel="python")
    assert compiled.optimal
    assert reference.optimal
    assert compiled.risk_after == pytest.approx(reference.risk_after, rel=1e-9)


def test_a_history_is_the_same_on_both_kernels():
    q0, b, cov = bench_like(7, 12)
    rng = np.random.default_rng(7)
    steps = rng.normal(scale=2, size=(40, len(q0))).cumsum(axis=0) + q0
    compiled = HedgeLattice(b, cov, kernel="c").solve_many(steps)
    reference = HedgeLattice(b, cov, kernel="python").solve_many(steps)
    assert compiled.optimal.all()
    assert reference.optimal.all()
    assert np.allclose(compiled.risk_after, reference.risk_after, rtol=1e-9, atol=1e-12)


# --- safety: what C cannot hold goes to the Python; sizes are checked ---


def test_a_target_past_what_c_holds_is_solved_by_the_python():
    """A book of ~10¹⁶ lots: its centres pass 2⁵¹, C declines, Python's ints take it."""
    q0, b, cov = bench_like(1, 5)
    prepared = HedgeLattice(b, cov)
    huge = q0 * 1e16
    zz = prepared._coordinates(huge)
    assert max(map(abs, zz)) > 2**51
    assert _lattice.search(prepared._mu, prepared._rr, zz, None, None, 0, None) is None
    solution = prepared.solve(huge)
    assert solution.optimal
    assert solution.risk_after == pytest.approx(
        HedgeLattice(b, cov, kernel="python").solve(huge).risk_after, rel=1e-9
    )


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_search_declines_values_that_are_not_finite(value):
    mu, rr = [[0.0, 0.5], [0.0, 0.0]], [1.0, 1.0]
    assert _lattice.search(mu, rr, [value, 0.3], None, None, 0, None) is None
    assert _lattice.search(mu, [1.0, value], [0.2, 0.3], None, None, 0, None) is None
    assert _lattice.search([[0.0, value], [0.0, 0.0]], rr, [0.2, 0.3], None, None, 0, None) is None


def test_reduction_declines_what_int64_and_doubles_cannot_hold():
    assert _lattice.reduce([[1.0], [1e19, 1.0]], 0.99, 8.0, 1000) is None  # a multiplier > 2⁶²
    assert _lattice.reduce([[1.0], [math.nan, 1.0]], 0.99, 8.0, 1000) is None
    assert _lattice.reduce([[0.0], [1.0, 1.0]], 0.99, 8.0, 1000) is None  # 1 / 0
    # Multipliers near 2⁶¹ twice over: U's entries would pass 2⁶³.
    cols = [[1.0], [2.0**61, 1.0], [0.0, 2.0**61, 1.0]]
    assert _lattice.reduce(cols, 0.99, 0.0, 1000) is None
    # The Python runs instead, on its own ints (HedgeLattice then refuses such a U).
    _, u, _ = lattice._reduce([[1.0], [2.0**61, 1.0], [0.0, 2.0**61, 1.0]], 0.99, 0.0, "c")
    assert max(abs(entry) for column in u for entry in column) >= 2**63


def test_reduction_stops_after_its_step_limit():
    """A limit on LLL's steps in both kernels: a degenerate basis cannot loop for ever."""
    cols = [[1.0], [0.3, 0.1], [0.2, 0.05, 0.01]]
    assert _lattice.reduce(cols, 0.99, 8.0, 1) is None
    with pytest.raises(ValueError, match="numerically dependent"):
        lattice._lll_columns([c[:] for c in cols], 0.99, 1)


@pytest.mark.parametrize(
    "arguments",
    [
        ([[0.0]], [1.0], [], None, None, 0, None),  # no vectors
        ([[0.0, 1.0]], [1.0], [0.5], None, None, 0, None),  # a row too long
        ([[0.0], [0.0]], [1.0], [0.5], None, None, 0, None),  # a row too many
        ([[0.0]], [1.0, 2.0], [0.5], None, None, 0, None),  # rr too long
        ([[0.0]], [1.0], [0.5], [1, 2], None, 0, None),  # start too long
    ],
)
def test_search_checks_every_size(arguments):
    with pytest.raises(ValueError, match="expected"):
        _lattice.search(*arguments)


def test_reduction_checks_every_size():
    with pytest.raises(ValueError, match="expected"):
        _lattice.reduce([[1.0], [0.5]], 0.99, 8.0, 1000)  # column 1 needs 2 entries
    with pytest.raises(ValueError, match="expected"):
        _lattice.reduce([], 0.99, 8.0, 1000)
    with pytest.raises(ValueError, match="delta"):
        _lattice.reduce([[1.0]], 1.0, 8.0, 1000)
    with pytest.raises(TypeError):
        _lattice.reduce([["a"]], 0.99, 8.0, 1000)


def test_a_start_is_returned_exactly_when_nothing_is_nearer():
    """Even lots past 2⁵³, which a double cannot hold: C keeps the start as int64."""
    start = [2**60 + 1, -(2**60) - 3]
    found = _lattice.search([[0.0, 0.5], [0.0, 0.0]], [1.0, 1.0], [0.2, 0.3], start, 0.01, 0, None)
    assert found is not None
    assert found[0] == start
    assert found[3]  # finished: nothing within the radius


def test_the_search_releases_the_gil():
    """Another thread runs while a long search runs (as the gateway's FIX threads must)."""
    q0, b, cov = bench_like(50, 50)
    prepared = HedgeLattice(b, cov)
    zz = prepared._coordinates(q0)
    entered = threading.Event()

    def search() -> None:
        until = time.perf_counter() + 0.5
        entered.set()
        lattice._search_compiled(
            prepared._mu, prepared._rr, zz, None, radius=None, max_nodes=None, deadline=until
        )

    worker = threading.Thread(target=search)
    worker.start()
    try:
        assert entered.wait(timeout=10)
        total = sum(range(100_000))  # Python work, under the GIL
        assert worker.is_alive()  # it ran while the search was still going
        assert total > 0
    finally:
        worker.join()


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer (POSIX)")
def test_a_signal_handler_stops_a_long_search():
    """Ctrl-C (or any handler's exception) stops an unlimited search of 50 vectors."""

    class Alarm(Exception):
        pass

    def ring(signum, frame):
        raise Alarm

    q0, b, cov = bench_like(50, 50)
    prepared = HedgeLattice(b, cov)
    zz = prepared._coordinates(q0)
    previous = signal.signal(signal.SIGALRM, ring)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(Alarm):
            _lattice.search(prepared._mu, prepared._rr, zz, None, None, 0, None)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_missing_extension_says_to_reinstall():
    code = (
        "import sys; sys.modules['strategies._lattice'] = None\n"
        "try:\n"
        "    import strategies.lattice\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "reinstall bidgw" in result.stdout
