"""Lot-sized hedges of a net position with mean-reverting sub-portfolios.

Given net positions ``Q`` (units per instrument), hedge vectors ``b_k`` (the
columns of ``B``; each is ``lot ⊙ β_k``: one lot of sub-portfolio k, in units)
and the covariance ``Σ`` of price changes per unit over the horizon, find
integers ``ω`` minimising the residual variance

    risk(ω) = qᵀ Σ q,      q = Q − B ω.

Why not the seed's determinant ``det(diag(q) Σ diag(q))``: it equals
``det(Σ) · Π q_i²``, which is zero as soon as *any one* residual is zero and
ignores the correlations, so it rates a portfolio with one flat instrument and
a huge open position elsewhere as riskless (see
``tests/unit/strategies/test_lattice.py``). ``qᵀΣq`` is the variance of the
residual's P&L.

With ``Σ = L Lᵀ``, ``risk = ‖Lᵀ Q − Lᵀ B ω‖²``: the closest vector to
``y = Lᵀ Q`` in the lattice spanned by the columns of ``G = Lᵀ B``.

:class:`HedgeLattice` prepares a basis and covariance once. It never forms
``L``: with the Gram matrix ``M = BᵀΣB = RᵀR`` (Cholesky) and ``z = R⁻ᵀBᵀΣQ``,
``risk = QᵀΣQ − ‖z‖² + ‖z − Rω‖²``. It sorts the vectors by risk and
LLL-reduces (δ = 0.99) the triangular factor itself: a swap is made triangular
again by one Givens rotation, so the rotated factor is the reduced basis's own
and nothing is factored twice. Each book then costs one matrix-vector product,
a triangular solve and the search:

* ``exact``: Schnorr–Euchner enumeration. Its first leaf is Babai's
  nearest-plane point; it then visits every lattice point closer than the best
  found, so the answer is the optimum. It goes node by node (iterative, with the
  partial centre sums of each level kept and only their stale part
  recomputed). A start point (the previous step's answer in a history) gives it
  a radius before it begins. A node budget or time limit may stop it early: the
  best point found is then returned with ``optimal`` False and a proven
  ``lower_bound`` on the optimum (the least distance of any subtree left
  unexplored, raised under a time limit by complete searches of smaller radii,
  :func:`_bound`).
* ``babai``: the first leaf only (fast, approximate).
* ``greedy``: round the least-squares solution, then ±1 coordinate moves while
  they reduce the risk (fast, approximate; measured within the tolerance stated
  in the tests of the exact answer).

Two kernels do the reduction and the search (``kernel=``):

* ``c``, the product's: ``strategies/_lattice.c``, compiled by the install
  (``setup.py``). :func:`_lattice.reduce` and :func:`_lattice.search` are
  line-for-line ports of :func:`_lll_columns` / :func:`_size_reduce` /
  :func:`_mu_rows` and :func:`_enumerate`, in the same double-precision
  arithmetic: on the same input they return the same numbers to the last bit
  (``tests/unit/strategies/test_lattice_kernels.py``). Node by node at every
  size (about 90 million nodes a second). Under a time limit it first runs a
  *pruned* search (:func:`_pruning`: nearly always the closest point, in a few
  ms at 50 vectors), then :func:`_bound`'s passes prove or bound it. Where C's
  doubles and int64 cannot follow (a centre past 2⁵¹, lots past int64), the
  kernel returns None and the Python below runs instead, on Python's ints.
  Inputs are checked finite here before any kernel sees them.
* ``python``, the reference: the same algorithms on Python lists (at these
  sizes a numpy call costs more than the arithmetic it would do), node by node
  up to :data:`_SMALL` vectors; above, the same tree searched a level at a
  time over whole frames of nodes with numpy (:func:`_search_batched`).

If the compiled module is missing, importing this module fails with an
ImportError that says to reinstall: a silent fall-back to the Python kernel
would make every large search several times slower (and prove fewer optima
within a time limit) with nothing to say why.

:meth:`HedgeLattice.solve_many` hedges a history: Babai's points for all steps
at once, no search where that point is within half the shortest lattice vector
(then it is the closest), and a search from the previous step's answer
elsewhere. :func:`solve_hedge` is the one-book form.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from math import sqrt
from operator import mul
from typing import Literal

import numpy as np
from numpy.typing import NDArray

_KERNEL_VERSION = 1  # strategies/_lattice.c's VERSION: the signatures this module calls
_REINSTALL = (
    "reinstall bidgw (`pip install -e .` in a checkout, or `pip install bidgw`): "
    "the install compiles it, with a C compiler and the Python headers"
)
try:
    from strategies import _lattice
except ImportError as error:
    raise ImportError(
        f"strategies._lattice, the compiled kernel of strategies.lattice, is missing: {_REINSTALL}"
    ) from error
if getattr(_lattice, "VERSION", None) != _KERNEL_VERSION:
    raise ImportError(
        f"strategies._lattice is version {getattr(_lattice, 'VERSION', None)}, "
        f"strategies.lattice needs {_KERNEL_VERSION} (built from an older _lattice.c): {_REINSTALL}"
    )

__all__ = [
    "HedgeHistory",
    "HedgeLattice",
    "HedgeSolution",
    "Kernel",
    "Method",
    "det_objective",
    "lll",
    "risk",
    "solve_hedge",
]

Method = Literal["exact", "babai", "greedy"]
Kernel = Literal["c", "python"]
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_LLL_DELTA = 0.99
_MU_BOUND = 8.0  # size-reduce the LLL basis fully when some |R[j,k] / R[j,j]| is above this
_LLL_STEPS = 1000  # × count²: LLL steps before a basis counts as numerically degenerate
_DEGENERATE = "hedge vectors are numerically dependent under this covariance: drop or combine some"
_CHECK_CLOCK_EVERY = 4096  # nodes between two looks at the clock under a time limit
_CHUNK = 2048  # nodes per frame of the batched search (numpy arrays of this many columns)
_PROBE_FIRST = 64  # frame size at which the batched search first completes every node
_PROBE_GROWTH = 4  # … and then each time a frame is this many times larger
_NARROW = 64  # frames up to this size take their children's spread from the radius alone
_SMALL = 18  # up to this many vectors the node-by-node search is the faster (measured)
_LIST_CHOLESKY = 10  # up to this many, a Cholesky on Python lists beats numpy's call
_SEARCH_SHARE = 0.4  # of a time limit, spent searching before proving a bound instead
_BOUND_GROWTH = 3.0  # work per bound pass, relative to the one before
# Under a time limit the C search (node by node, at every size) spends at most
# this share on a pruned search for a start, the rest on bound passes with more
# work each than the Python's: fewer passes, more books proven.
_SEARCH_SHARE_C = 0.1
_BOUND_GROWTH_C = 6.0
_PRUNING_SLACK = 0.2  # of the radius, above the linear pruning profile


@dataclass(frozen=True, slots=True)
class HedgeSolution:
    """The lots per vector and what they leave.

    Attributes:
        omega: lots of each hedge vector (integers; the trade is ``-B ω``).
        residual: ``Q − B ω``, units per instrument.
        risk_before / risk_after: variance of P&L over the horizon, ``qᵀΣq``.
        method: the method used.
        optimal: True when ``risk_after`` is proven the least residual variance
            of any integer ``ω``: ``exact`` finished its search, or (``exact`` or
            ``babai``) the book lies within half the shortest lattice vector of
            the answer, where no other lattice point can be nearer.
        lower_bound: a proven lower bound on that least variance: ``risk_after``
            itself when optimal; after a stopped search, the best any unexplored
            point could reach; ``0`` for ``babai`` and ``greedy`` (no proof).
        nodes: search nodes visited (``exact``; 0 otherwise).
    """

    omega: IntArray
    residual: FloatArray
    risk_before: float
    risk_after: float
    method: Method
    optimal: bool
    lower_bound: float = 0.0
    nodes: int = 0

    @property
    def reduction(self) -> float:
        """risk_before / risk_after (inf when the residual risk is zero)."""
        return self.risk_before / self.risk_after if self.risk_after > 0 else float("inf")

    @property
    def gap(self) -> float:
        """How far above the optimum ``risk_after`` may be: ``risk_after / lower_bound − 1``.

        0 when optimal, ``inf`` when nothing is proven (no lower bound above 0).
        """
        if self.optimal or self.risk_after <= self.lower_bound:
            return 0.0
        return self.risk_after / self.lower_bound - 1 if self.lower_bound > 0 else float("inf")


def risk(q: FloatArray, cov: FloatArray) -> float:
    """Variance of the P&L of position ``q``: ``qᵀ Σ q``."""
    return float(q @ cov @ q)


def det_objective(q: FloatArray, cov: FloatArray) -> float:
    """The seed's objective ``det(diag(q) Σ diag(q))``, kept only to show why it fails."""
    d = np.diag(q)
    return float(np.linalg.det(d @ cov @ d))


def _lll_columns(cols: list[list[float]], delta: float, max_steps: int) -> list[list[int]]:
    """LLL on an upper-triangular ``R`` given by its columns; returns the columns of U.

    ``cols[j]`` is column j of ``R`` down to the diagonal (``j + 1`` entries); the
    reduction works in place, so ``cols`` ends as the triangular factor of the
    reduced basis (the same as a fresh Cholesky of ``UᵀMU`` up to the signs of
    rows and rounding). A column operation keeps ``R`` triangular, and a swap of
    columns k−1, k is made triangular again by one Givens rotation of rows k−1, k.
    Before the Lovász test ``δ·R[k−1,k−1]² ≤ R[k−1,k]² + R[k,k]²`` column k is
    size-reduced against column k−1 only ("effective" LLL: the test reads nothing
    else, so the swaps, and the Gram–Schmidt norms the search depends on, are
    those of full LLL); :func:`_size_reduce` finishes the reduction when needed.
    In floating point a degenerate basis could make it swap without end: past
    ``max_steps`` it raises ValueError.
    """
    count = len(cols)
    u = [[0] * count for _ in range(count)]  # u[j]: column j of U
    for j in range(count):
        u[j][j] = 1
    k = 1
    for _ in range(max_steps):
        if k >= count:
            return u
        ck, cj = cols[k], cols[k - 1]
        a, b = cj[k - 1], ck[k - 1]
        m = round(b / a)
        if m:
            ck[:k] = [p - m * q for p, q in zip(ck, cj, strict=False)]
            u[k] = [p - m * q for p, q in zip(u[k], u[k - 1], strict=True)]
            b = ck[k - 1]
        c = ck[k]
        if delta * a * a <= b * b + c * c:
            k += 1
            continue
        # Swap: column k (length k+1) moves to k−1, where row k of it is rotated to 0;
        # column k−1 (length k) moves to k and gains row k.
        norm = sqrt(b * b + c * c)
        cos, sin = b / norm, c / norm
        ck.pop()
        ck[k - 1] = norm
        cj[k - 1] = cos * a
        cj.append(-sin * a)
        above = k - 1
        for col in cols[k + 1 :]:
            x, y = col[above], col[k]
            col[above] = cos * x + sin * y
            col[k] = cos * y - sin * x
        cols[above], cols[k] = ck, cj
        u[above], u[k] = u[k], u[above]
        if k > 1:
            k -= 1
    if k >= count:
        return u
    raise ValueError(_DEGENERATE)


def _size_reduce(cols: list[list[float]], u: list[list[int]]) -> None:
    """Make ``|R[j, k]| <= |R[j, j]| / 2`` for j < k, in place on ``cols`` and ``u``.

    Column k is reduced against k−1, then k−2, …: a reduction against j changes
    only rows ≤ j, so the rows still to look at are final when they are read.
    """
    for k in range(1, len(cols)):
        ck, uk = cols[k], u[k]
        for j in range(k - 1, -1, -1):
            cj = cols[j]
            m = round(ck[j] / cj[j])
            if m:
                ck[: j + 1] = [p - m * q for p, q in zip(ck, cj, strict=False)]
                uk = [p - m * q for p, q in zip(uk, u[j], strict=True)]
        u[k] = uk


def _mu_rows(cols: list[list[float]]) -> list[list[float]]:
    """``R / diag(R)`` by rows: ``mu[k][j] = R[k, j] / R[k, k]`` for j > k (0 elsewhere)."""
    count = len(cols)
    rows = []
    for k in range(count):
        inverse = 1 / cols[k][k]
        rows.append([0.0] * (k + 1) + [cols[j][k] * inverse for j in range(k + 1, count)])
    return rows


def _reduce(
    cols: list[list[float]], delta: float, mu_bound: float, kernel: Kernel
) -> tuple[list[list[float]], list[list[int]], list[list[float]]]:
    """LLL (:func:`_lll_columns`), then full size reduction if some ``|mu|`` is above
    ``mu_bound``: the reduced columns of R, the columns of U and :func:`_mu_rows`.

    The C kernel does the same arithmetic; where it cannot (a lot count past
    int64, a value that is not finite, too many steps) the Python runs instead,
    on unbounded integers, and raises ValueError if the basis is degenerate.
    """
    max_steps = _LLL_STEPS * len(cols) ** 2 + 1000
    if kernel == "c":
        reduced = _lattice.reduce(cols, delta, mu_bound, max_steps)
        if reduced is not None:
            return reduced
    u = _lll_columns(cols, delta, max_steps)
    mu = _mu_rows(cols)
    if max(max(map(abs, row)) for row in mu) > mu_bound:
        _size_reduce(cols, u)
        mu = _mu_rows(cols)
    return cols, u, mu


def lll(
    basis: FloatArray, delta: float = _LLL_DELTA, *, kernel: Kernel = "c"
) -> tuple[FloatArray, IntArray]:
    """LLL-reduce the columns of ``basis``; returns ``(reduced, U)`` with reduced = basis @ U.

    Raises:
        ValueError: unless ``0.25 < delta < 1`` and ``basis`` is finite with
            independent columns.
    """
    if not 0.25 < delta < 1:
        raise ValueError(f"delta must be in (0.25, 1), got {delta}")
    b = np.asarray(basis, dtype=np.float64)
    if b.ndim != 2 or b.shape[1] == 0 or not np.isfinite(b).all():
        raise ValueError(f"basis: expected a finite matrix with columns, got shape {b.shape}")
    if np.linalg.matrix_rank(b) < b.shape[1]:
        raise ValueError("basis: the columns are linearly dependent")
    r: FloatArray = np.linalg.qr(b).R
    cols = [r[: j + 1, j].tolist() for j in range(b.shape[1])]
    u = np.array(_reduce(cols, delta, 0.0, kernel)[1], dtype=np.int64).T
    return b @ u, u


class _Stop(Exception):
    """A node budget or time limit of an exact search ran out."""


@dataclass(slots=True)
class _Found:
    x: list[int]
    distance: float
    proven: bool
    lower: float
    nodes: int


def _babai(mu: list[list[float]], rr: list[float], zz: list[float]) -> tuple[list[int], float]:
    """Nearest plane: back-substitution with rounding (``mu`` = R / diag(R) by rows, 0 on
    and below the diagonal), and the point's distance ``‖z − R x‖²``: level k adds
    ``R_kk²·(c_k − x_k)²`` with ``c_k`` its centre."""
    x = [0] * len(zz)
    distance = 0.0
    for k in range(len(zz) - 1, -1, -1):
        center = zz[k] - sum(map(mul, mu[k], x))  # x[j] is still 0 for j ≤ k
        x[k] = nearest = round(center)
        distance += rr[k] * (center - nearest) ** 2
    return x, distance


def _distance(mu: list[list[float]], rr: list[float], zz: list[float], x: list[int]) -> float:
    """``‖z − R x‖²`` in the reduced coordinates."""
    total = 0.0
    for row, weight, target, value in zip(mu, rr, zz, x, strict=True):
        gap = target - value - sum(map(mul, row, x))
        total += weight * gap * gap
    return total


def _enumerate(  # noqa: PLR0912, PLR0915 - one loop on purpose: a call per node costs more than the node
    mu: list[list[float]],
    rr: list[float],
    zz: list[float],
    start: list[int] | None,
    *,
    max_nodes: int | None,
    deadline: float | None,
) -> _Found:
    """Schnorr–Euchner: the closest ``x`` to ``z`` under ``‖z − R x‖²``.

    ``sig[k][j] = zz[k] − Σ_{i≥j} mu[k][i]·x[i]`` are the partial centre sums of
    level k; ``begin[k]`` is the highest index whose ``x`` changed since row
    k − 1 was last computed, so a descent recomputes only the stale part.
    """
    count = len(zz)
    best = list(start) if start is not None else [0] * count
    best_distance = (
        _distance(mu, rr, zz, start) * (1 + 1e-12) + 1e-300 if start is not None else float("inf")
    )
    x = [0] * count
    center = [0.0] * count
    step = [0] * count
    turn = [0] * count
    partial = [0.0] * (count + 1)
    sig = [[0.0] * count + [zz[k]] for k in range(count)]
    begin = [count - 1] * (count + 1)
    budget = max_nodes if max_nodes is not None else -1
    check = _CHECK_CLOCK_EVERY if deadline is not None else -1
    nodes = 0
    k = count - 1
    center[k] = zz[k]
    x[k] = round(zz[k])
    step[k] = turn[k] = 1 if zz[k] >= x[k] else -1
    row_0, mu_0, rr_0 = sig[0], mu[0], rr[0]
    try:
        while True:
            nodes += 1
            if nodes == budget:
                raise _Stop
            if nodes == check:
                check += _CHECK_CLOCK_EVERY
                if deadline is not None and time.perf_counter() > deadline:
                    raise _Stop
            diff = center[k] - x[k]
            distance = partial[k + 1] + diff * diff * rr[k]
            if distance < best_distance:
                if k > 1:
                    partial[k] = distance
                    row, coefficients = sig[k - 1], mu[k - 1]
                    for j in range(begin[k], k - 1, -1):
                        row[j] = row[j + 1] - coefficients[j] * x[j]
                    if begin[k] > begin[k - 1]:  # noqa: PLR1730 - cheaper than max() here
                        begin[k - 1] = begin[k]
                    begin[k] = k
                    k -= 1
                    c = row[k + 1]
                    center[k] = c
                    nearest = round(c)
                    x[k] = nearest
                    step[k] = turn[k] = 1 if c >= nearest else -1
                    continue
                if k == 1:
                    # Level 0 has one candidate worth a look, its nearest integer:
                    # the leaf is settled here, without a loop turn of its own.
                    for j in range(begin[1], 0, -1):
                        row_0[j] = row_0[j + 1] - mu_0[j] * x[j]
                    begin[1] = 1
                    c = row_0[1]
                    nearest = round(c)
                    diff = c - nearest
                    leaf = distance + diff * diff * rr_0
                    if leaf < best_distance:
                        best_distance = leaf
                        x[0] = nearest
                        best = x.copy()
                    x[1] += step[1]
                    turn[1] = -turn[1]
                    step[1] = turn[1] - step[1]
                    continue
                best_distance = distance
                best = x.copy()
            # Candidates at this level come in increasing distance: go up a level.
            k += 1
            if k == count:
                return _Found(best, best_distance, True, best_distance, nodes)
            x[k] += step[k]
            turn[k] = -turn[k]
            step[k] = turn[k] - step[k]
    except _Stop:
        # Unexplored: this candidate's subtree and the next candidate of every level
        # above; each is at least as far as its partial distance.
        diff = center[k] - x[k]
        lower = min(best_distance, partial[k + 1] + diff * diff * rr[k])
        for level in range(k + 1, count):
            following = center[level] - (x[level] + step[level])
            lower = min(lower, partial[level + 1] + following * following * rr[level])
        return _Found(best, best_distance, False, lower, nodes)


# A frame of the batched search: nodes at one level, as (depth, centres, partial
# distances, trail, radius when pushed). ``depth`` coordinates are still free; row
# l < depth of ``centres`` holds, per node, zz[l] − Σ_{j≥depth} mu[l][j]·x[j]. The
# trail links each node to its parent: (parent trail, parent index, x, level).
_Trail = tuple["_Trail | None", IntArray, FloatArray, int]
_Frame = tuple[int, FloatArray, FloatArray, "_Trail | None", float]
_OFFSETS: dict[int, FloatArray] = {}


def _offsets(width: int) -> FloatArray:
    """``[-width, …, width]`` as floats, cached (the same few widths recur)."""
    found = _OFFSETS.get(width)
    if found is None:
        found = _OFFSETS[width] = np.arange(-width, width + 1, dtype=np.float64)
    return found


def _trace(trail: _Trail | None, index: int, count: int) -> list[int]:
    """The coordinates fixed along a node's trail (the free ones left at 0)."""
    x = [0] * count
    while trail is not None:
        trail, parents, values, level = trail
        x[level] = int(values[index])
        index = int(parents[index])
    return x


def _complete(
    mu_cols: list[FloatArray], rr: list[float], centres: FloatArray, partial: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Babai's completion of every node of a frame: (leaf distances, free coordinates)."""
    depth = len(centres)
    rest = centres.copy()
    total = partial.copy()
    values = np.empty_like(centres)
    for level in range(depth - 1, -1, -1):
        row = rest[level]
        nearest = np.rint(row)
        values[level] = nearest
        gap = row - nearest
        gap *= gap
        gap *= rr[level]
        total += gap
        if level:
            rest[:level] -= mu_cols[level][:, None] * nearest
    return total, values


def _search_batched(  # noqa: PLR0912, PLR0915 - one loop: the frame is the unit of work
    mu_cols: list[FloatArray],
    rr: list[float],
    zz: list[float],
    *,
    radius: float,
    best: list[int],
    max_nodes: int | None,
    deadline: float | None,
    probe: bool = True,
) -> _Found:
    """Every lattice point nearer than ``radius`` (shrinking to the best found), a level at a time.

    The same tree as :func:`_enumerate`, cut the same way, but each step expands
    a whole frame of nodes with numpy: the children of every node are the
    integers whose partial distance stays under the radius. Frames larger than
    :data:`_CHUNK` are sorted by partial distance and split, the nearest on top of
    the stack, so the search goes depth first by frames and reaches leaves (and
    a smaller radius) early. When a frame first grows past :data:`_PROBE_FIRST`
    (then each time it grows :data:`_PROBE_GROWTH` times larger) every node in it
    is completed by Babai's rounding, and the best leaf sets the radius.
    """
    count = len(zz)
    rho = radius
    nodes = 0
    probe_at = _PROBE_FIRST if probe else -1
    stack: list[_Frame] = [(count, np.array(zz)[:, None], np.zeros(1), None, rho)]
    while stack:
        if (max_nodes is not None and nodes >= max_nodes) or (
            deadline is not None and time.perf_counter() > deadline
        ):
            lower = min(rho, *(float(frame[2].min()) for frame in stack))
            return _Found(best, rho, False, lower, nodes)
        depth, centres, partial, trail, pushed = stack.pop()
        if pushed != rho:  # the radius shrank since: drop the nodes now outside it
            keep = (partial < rho).nonzero()[0]
            if keep.size < partial.size:
                if keep.size == 0:
                    continue
                centres, partial = centres.take(keep, axis=1), partial.take(keep)
                if trail is not None:
                    trail = (trail[0], trail[1].take(keep), trail[2].take(keep), trail[3])
        level = depth - 1
        centre = centres[level]
        weight = rr[level]
        if level == 0:  # only the nearest integer can make the best leaf
            nearest = np.rint(centre)
            leaf = centre - nearest
            leaf *= leaf
            leaf *= weight
            leaf += partial
            index = int(leaf.argmin())
            nodes += leaf.size
            if leaf[index] < rho:
                rho = float(leaf[index])
                best = _trace(trail, index, count)
                best[0] = int(nearest[index])
            continue
        # The widest any node's children can spread (the least partial distance; for a
        # small frame the radius alone, a numpy call cheaper than a wider grid).
        least = float(partial.min()) if partial.size > _NARROW else 0.0
        offsets = _offsets(int(sqrt((rho - least) / weight) + 0.5) + 1)
        candidates = np.rint(centre)[:, None] + offsets
        grid = centre[:, None] - candidates
        grid *= grid
        grid *= weight
        grid += partial[:, None]
        flat = grid.ravel()
        kept = (flat < rho).nonzero()[0]
        size = kept.size
        if size == 0:
            continue
        nodes += size
        parents = kept // offsets.size
        values = candidates.ravel().take(kept)
        distances = flat.take(kept)
        children = centres[:level].take(parents, axis=1)
        children -= mu_cols[level][:, None] * values
        cut = rho  # the radius the children were cut with (a probe may shrink it)
        if 0 <= probe_at <= size:
            probe_at = size * _PROBE_GROWTH
            leaves, free = _complete(mu_cols, rr, children, distances)
            index = int(leaves.argmin())
            if leaves[index] < rho:
                rho = float(leaves[index])
                best = _trace((trail, parents, values, level), index, count)
                best[:level] = free[:, index].astype(np.int64).tolist()
        if size <= _CHUNK:
            stack.append((level, children, distances, (trail, parents, values, level), cut))
            continue
        order = distances.argsort()
        distances, children = distances.take(order), children.take(order, axis=1)
        parents, values = parents.take(order), values.take(order)
        for first in range((size - 1) // _CHUNK * _CHUNK, -1, -_CHUNK):
            end = first + _CHUNK
            link = (trail, parents[first:end], values[first:end], level)
            stack.append((level, children[:, first:end], distances[first:end], link, cut))
    return _Found(best, rho, True, rho, nodes)


# A complete search for points nearer than ``radius`` (``best`` returned if there are
# none), stopped at ``deadline`` (perf_counter seconds): what :func:`_bound` runs.
_Complete = Callable[[float, list[int], float], _Found]


def _bound(
    complete: _Complete, count: int, found: _Found, *, deadline: float, growth: float
) -> _Found:
    """Raise a stopped search's lower bound with complete searches of smaller radii.

    A complete search for points nearer than ``ρ < best`` that finds none proves
    the optimum is at least ``ρ``; one that finds some has found the optimum.
    The number of nodes grows like a power of the radius (about ``ρ^{n/5}`` on
    the bench's books, ``n = count``), so the radii start at half the best
    distance and grow by the factor that multiplies the work by about
    ``growth``, while time is left; the last search, just past the best
    distance, proves the best optimal.
    """
    best = found.distance
    lower = found.lower
    factor = max(lower / best, 0.5) if best > 0 else 1.0
    step = growth ** (5 / count)
    while True:
        last = factor >= 1  # then a complete search just past the best proves it
        radius = best * (1 + 1e-12) + 1e-300 if last else factor * best
        attempt = complete(radius, found.x, deadline)
        nodes = found.nodes + attempt.nodes
        lower = max(lower, min(attempt.lower, best))
        if attempt.distance < min(radius, best):  # a nearer point: optimal if complete
            return _Found(attempt.x, attempt.distance, attempt.proven, lower, nodes)
        if attempt.proven and last:
            return _Found(found.x, best, True, best, nodes)
        found = _Found(found.x, best, False, lower, nodes)
        if not attempt.proven:
            return found
        factor *= step


class _OutOfRange(Exception):
    """The C search met a value it does not hold (a centre past 2⁵¹, one not finite)."""


def _search_compiled(
    mu: list[list[float]],
    rr: list[float],
    zz: list[float],
    start: list[int] | None,
    *,
    radius: float | None,
    max_nodes: int | None,
    deadline: float | None,
    pruning: list[float] | None = None,
) -> _Found:
    """:func:`_enumerate` in C (``strategies/_lattice.c``); ``radius`` None: just past
    the start's distance (no limit without a start), as ``_enumerate`` does.

    With ``pruning`` (a factor per level, :func:`_pruning`) it descends at level k
    only below ``pruning[k]`` times the best distance: a much smaller tree that
    still holds the closest point in most cases, and proves nothing.
    """
    limit = None if deadline is None else deadline - time.perf_counter()
    # max_nodes ≤ 0 means no budget in both kernels; C holds up to 2⁶³ − 1.
    budget = 0 if max_nodes is None else min(max_nodes, 2**62)
    answer = _lattice.search(mu, rr, zz, start, radius, budget, limit, pruning)
    if answer is None:
        raise _OutOfRange
    x, distance, nodes, finished, lower = answer
    if pruning is not None:
        return _Found(x, distance, False, 0.0, nodes)
    return _Found(x, distance, finished, lower, nodes)


def _pruning(count: int) -> list[float]:
    """Linear pruning with slack: level k (0 the last to be fixed) keeps
    ``min(1, (count − k) / count + slack)`` of the best distance.

    On the bench's 50-vector books it finds the closest point on 19 of 20 in
    18 ms (median; 50 ms at most), where the exact search in 100 ms finds it on 5.
    """
    return [min(1.0, (count - k) / count + _PRUNING_SLACK) for k in range(count)]


def _greedy(gram: FloatArray, h: FloatArray, scale: float) -> IntArray:
    """Round the continuous optimum, then ±1 moves on one coordinate while they help.

    In Gram form: with ``M = BᵀΣB`` and ``h = BᵀΣQ``, moving ``ω_k`` by ``s = ±1``
    changes the risk by ``−2s·(h − Mω)_k + M_kk``.
    """
    x: IntArray = np.rint(np.linalg.solve(gram, h)).astype(np.int64)
    dots = h - gram @ x
    norms = np.diag(gram)
    count = len(h)
    while True:
        gains = np.concatenate([-2 * dots + norms, 2 * dots + norms])
        best = int(np.argmin(gains))
        if gains[best] >= -1e-12 * scale:
            return x
        k = best % count
        sign = 1 if best < count else -1
        x[k] += sign
        dots -= sign * gram[:, k]


@dataclass(frozen=True, slots=True)
class HedgeHistory:
    """The answers for a history of books (one row per step), from :meth:`HedgeLattice.solve_many`.

    Attributes:
        omega: (step, vector) lots.
        residual: (step, instrument) ``Q − B ω``.
        risk_before / risk_after: per step, ``qᵀΣq``.
        optimal: per step, whether the answer is proven optimal.
        lower_bound: per step, a proven lower bound on the least residual variance.
    """

    omega: IntArray
    residual: FloatArray
    risk_before: FloatArray
    risk_after: FloatArray
    optimal: NDArray[np.bool_]
    lower_bound: FloatArray


class HedgeLattice:
    """A hedge basis and covariance prepared once, to hedge one book or a history of them.

    Args:
        vectors: ``B``, one column per hedge vector (already multiplied by the lots).
        cov: ``Σ``, covariance of price changes per unit over the horizon.
        kernel: ``c``, the compiled kernels of ``strategies/_lattice.c`` (the
            default), or ``python``, the reference implementation they are
            tested against (the same answers, several times slower).

    Raises:
        ValueError: on shape mismatches, values that are not finite or linearly
            dependent vectors.
    """

    def __init__(self, vectors: FloatArray, cov: FloatArray, *, kernel: Kernel = "c") -> None:
        b = np.asarray(vectors, dtype=np.float64)
        sigma = np.asarray(cov, dtype=np.float64)
        if b.ndim != 2 or sigma.shape != (b.shape[0], b.shape[0]):
            raise ValueError(
                f"shapes do not fit: vectors {b.shape}, covariance {sigma.shape} "
                "(one row of vectors per instrument)"
            )
        count = b.shape[1]
        if count == 0:
            raise ValueError("no hedge vectors")
        if not (np.isfinite(b).all() and np.isfinite(sigma).all()):
            raise ValueError("hedge vectors and covariance must be finite")
        if kernel not in ("c", "python"):
            raise ValueError(f"kernel must be 'c' or 'python', got {kernel!r}")
        self._kernel: Kernel = kernel
        self.vectors = b
        self.cov = sigma
        self._sigma_b = sigma @ b
        gram = b.T @ self._sigma_b  # M = BᵀΣB = GᵀG
        # Shortest vectors first: LLL then has fewer swaps to make.
        diagonal = gram.diagonal().tolist()
        order = sorted(range(count), key=diagonal.__getitem__)
        cols = self._factor(gram, order)
        if cols is None:
            if count > b.shape[0] or np.linalg.matrix_rank(b) < count:
                raise ValueError("hedge vectors are linearly dependent: drop or combine some")
            # Independent vectors the covariance cannot tell apart (a positive
            # semi-definite Σ): a tiny ridge on Σ, as a Cholesky of Σ would need.
            ridge = 1e-12 * max(1.0, float(np.trace(sigma)) / len(sigma))
            gram = gram + ridge * (b.T @ b)
            cols = self._factor(gram, order)
            if cols is None:
                raise ValueError("hedge vectors are linearly dependent: drop or combine some")
        self._gram = gram
        cols, u_cols, mu = _reduce(cols, _LLL_DELTA, _MU_BOUND, kernel)
        rows: list[tuple[int, ...]] = [()] * count  # U by rows, in the vectors' own order
        for index, row in zip(order, zip(*u_cols, strict=True), strict=True):
            rows[index] = row
        try:
            u = np.array(rows, dtype=np.int64)
        except OverflowError:  # a direction the covariance barely sees: lots without bound
            raise ValueError(_DEGENERATE) from None
        self._u = u
        self._sigma_bu = self._sigma_b @ u  # books to Uᵀ Bᵀ Σ Q
        self._cols = cols
        self._mu = mu
        self._rr = [col[-1] * col[-1] for col in cols]
        self._u_inverse: IntArray | None = None
        self._project_matrix: FloatArray | None = None
        self._books = False  # whether a book was solved on this basis already
        self._mu_matrix: FloatArray | None = None
        self._mu_cols: list[FloatArray] | None = None
        # (λ₁/2)², λ₁ ≥ the least Gram–Schmidt norm: a point nearer than this is the closest.
        self._packing = min(self._rr) / 4 * (1 - 1e-9)

    @staticmethod
    def _factor(gram: FloatArray, order: list[int]) -> list[list[float]] | None:
        """The columns of upper R with RᵀR = M (rows and columns in ``order``), down to
        the diagonal; None when M is (numerically) singular: a pivot ``R_kk²`` at most
        ``1e-11·M_kk``."""
        if len(order) > _LIST_CHOLESKY:
            try:
                upper = np.linalg.cholesky(gram[np.ix_(order, order)]).T
            except np.linalg.LinAlgError:
                return None
            pivots = np.diag(upper)
            if np.any(pivots * pivots <= 1e-11 * np.diag(gram)[order]):
                return None
            return [upper[: j + 1, j].tolist() for j in range(len(order))]
        rows = gram.tolist()
        cols: list[list[float]] = []
        for j in order:
            row = rows[j]
            col: list[float] = []
            for i, earlier in zip(order, cols, strict=False):
                col.append((row[i] - sum(map(mul, earlier, col))) / earlier[-1])
            pivot = row[j] - sum(map(mul, col, col))
            if pivot <= 1e-11 * row[j]:
                return None
            col.append(sqrt(pivot))
            cols.append(col)
        return cols

    @property
    def size(self) -> int:
        """Number of hedge vectors."""
        return int(self.vectors.shape[1])

    def _upper(self) -> FloatArray:
        """The reduced triangular factor ``R`` as a matrix."""
        count = len(self._cols)
        upper = np.zeros((count, count))
        for j, col in enumerate(self._cols):
            upper[: j + 1, j] = col
        return upper

    def _coordinates(self, positions: FloatArray) -> list[float]:
        """The search's target for one book: ``z / diag(R)`` with ``Rᵀz = Uᵀ Bᵀ Σ Q``.

        The first book on a basis solves the triangular system on lists; from the
        second on, the matrix taking books to targets is formed once and used.
        """
        if self._books:
            return (self._project() @ positions).tolist()  # type: ignore[no-any-return]
        self._books = True
        h: list[float] = (positions @ self._sigma_bu).tolist()
        z: list[float] = []
        zz: list[float] = []
        for col, value in zip(self._cols, h, strict=True):
            pivot = col[-1]
            entry = (value - sum(map(mul, col, z))) / pivot
            z.append(entry)
            zz.append(entry / pivot)
        return zz

    def _project(self) -> FloatArray:
        """The matrix taking books to the search's targets (many books at once)."""
        if self._project_matrix is None:
            upper = self._upper()
            diagonal = np.diag(upper)
            self._project_matrix = np.linalg.solve(upper.T, self._sigma_bu.T) / diagonal[:, None]
        return self._project_matrix

    def _mu_columns(self) -> list[FloatArray]:
        """``mu[:i, i]`` for each i, as the batched search reads them."""
        if self._mu_cols is None:
            mu = self._mu_rows_matrix()
            self._mu_cols = [np.ascontiguousarray(mu[:i, i]) for i in range(len(mu))]
        return self._mu_cols

    def _mu_rows_matrix(self) -> FloatArray:
        if self._mu_matrix is None:
            self._mu_matrix = np.array(self._mu) + np.eye(len(self._mu))
        return self._mu_matrix

    def _start(self, omega: IntArray) -> list[int]:
        """Lots of the hedge vectors as coordinates in the reduced basis: ``U⁻¹ ω``."""
        if self._u_inverse is None:
            self._u_inverse = np.rint(np.linalg.inv(self._u)).astype(np.int64)
        return (self._u_inverse @ np.asarray(omega, dtype=np.int64)).tolist()  # type: ignore[no-any-return]

    def _babai_many(self, zz_all: FloatArray) -> tuple[IntArray, FloatArray]:
        """Babai's points for many targets at once (one numpy step per level), and distances."""
        steps, count = zz_all.shape
        x = np.zeros((steps, count), dtype=np.float64)
        mu = self._mu_rows_matrix()
        for k in range(count - 1, -1, -1):
            x[:, k] = np.rint(zz_all[:, k] - x[:, k + 1 :] @ mu[k, k + 1 :])
        gaps = zz_all - x @ mu.T
        return x.astype(np.int64), (gaps * gaps) @ np.asarray(self._rr)

    def _search(
        self,
        zz: list[float],
        method: Method,
        start: list[int] | None,
        max_nodes: int | None,
        time_limit: float | None,
    ) -> _Found:
        if method == "babai":
            x, distance = _babai(self._mu, self._rr, zz)
            settled = distance < self._packing
            return _Found(x, distance, settled, distance if settled else 0.0, 0)
        began = time.perf_counter()
        deadline = None if time_limit is None else began + time_limit
        if self._kernel == "c":
            try:
                return self._search_c(zz, start, max_nodes, began, deadline)
            except _OutOfRange:
                pass  # past what C's doubles and int64 hold: Python's ints do
        if len(zz) <= _SMALL:
            return _enumerate(self._mu, self._rr, zz, start, max_nodes=max_nodes, deadline=deadline)
        if start is None:
            x, distance = _babai(self._mu, self._rr, zz)
        else:
            x, distance = start, _distance(self._mu, self._rr, zz, start)
        radius = distance * (1 + 1e-12) + 1e-300
        mu_cols = self._mu_columns()
        found = _search_batched(
            mu_cols,
            self._rr,
            zz,
            radius=radius,
            best=x,
            max_nodes=max_nodes,
            deadline=None if deadline is None else began + _SEARCH_SHARE * (deadline - began),
        )
        if deadline is None or found.proven or (max_nodes is not None and found.nodes >= max_nodes):
            return found

        def complete(radius: float, best: list[int], deadline: float) -> _Found:
            return _search_batched(
                mu_cols,
                self._rr,
                zz,
                radius=radius,
                best=best,
                max_nodes=None,
                deadline=deadline,
                probe=False,
            )

        return _bound(complete, len(zz), found, deadline=deadline, growth=_BOUND_GROWTH)

    def _search_c(
        self,
        zz: list[float],
        start: list[int] | None,
        max_nodes: int | None,
        began: float,
        deadline: float | None,
    ) -> _Found:
        """The exact search in C, node by node at every size.

        Under a time limit a pruned search (:func:`_pruning`), for at most
        :data:`_SEARCH_SHARE_C` of it, finds a point that is nearly always the
        closest; :func:`_bound`'s complete searches of growing radii then prove
        it, or bound the gap, with the rest. A node budget bounds the first phase.
        """
        mu, rr = self._mu, self._rr
        if deadline is None:
            return _search_compiled(
                mu, rr, zz, start, radius=None, max_nodes=max_nodes, deadline=None
            )
        share = began + _SEARCH_SHARE_C * (deadline - began)
        found = _search_compiled(
            mu,
            rr,
            zz,
            start,
            radius=None,
            max_nodes=max_nodes,
            deadline=share,
            pruning=_pruning(len(zz)),
        )
        if max_nodes is not None and found.nodes >= max_nodes:
            return found

        def complete(radius: float, best: list[int], deadline: float) -> _Found:
            return _search_compiled(
                mu, rr, zz, best, radius=radius, max_nodes=None, deadline=deadline
            )

        return _bound(complete, len(zz), found, deadline=deadline, growth=_BOUND_GROWTH_C)

    def solve(
        self,
        positions: FloatArray,
        method: Method = "exact",
        *,
        start: IntArray | None = None,
        max_nodes: int | None = None,
        time_limit: float | None = None,
    ) -> HedgeSolution:
        """Integer lots ``ω`` minimising ``(Q − Bω)ᵀ Σ (Q − Bω)``.

        Args:
            positions: ``Q``, one entry per instrument.
            method: ``exact`` (sphere decoding), ``babai`` or ``greedy``.
            start: optional lots to start ``exact`` from (e.g. the previous
                step's answer): the search then only visits points closer.
            max_nodes / time_limit: optional budget for ``exact`` (nodes; seconds);
                when one runs out the best point found is returned with
                ``optimal`` False and a proven ``lower_bound``. The C kernel
                counts nodes one by one; the Python one does up to
                :data:`_SMALL` vectors and checks between frames above (it
                may pass the budget by a frame). Under a time limit (C: at
                every size; Python: above :data:`_SMALL` vectors) 40% of it
                goes to the search and the rest to raising the bound.
        """
        q0 = np.asarray(positions, dtype=np.float64)
        if q0.shape != (self.vectors.shape[0],):
            raise ValueError(
                f"shapes do not fit: positions {q0.shape}, vectors {self.vectors.shape}"
            )
        if not np.isfinite(q0).all():
            raise ValueError("positions must be finite")
        before = risk(q0, self.cov)
        if method == "greedy":
            omega = _greedy(self._gram, q0 @ self._sigma_b, max(1.0, before))
            residual = q0 - self.vectors @ omega
            return HedgeSolution(omega, residual, before, risk(residual, self.cov), method, False)
        zz = self._coordinates(q0)
        begin = None if start is None else self._start(start)
        found = self._search(zz, method, begin, max_nodes, time_limit)
        omega = self._u @ np.array(found.x, dtype=np.int64)
        residual = q0 - self.vectors @ omega
        after = risk(residual, self.cov)
        # The search's distance and qᵀΣq differ by the part of y outside the lattice's
        # span, a constant: shift the search's lower bound by the same amount.
        lower = max(0.0, after - (found.distance - found.lower))
        return HedgeSolution(
            omega, residual, before, after, method, found.proven, lower, found.nodes
        )

    def solve_many(
        self,
        positions: FloatArray,
        method: Method = "exact",
        *,
        warm_start: bool = True,
        max_nodes: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> HedgeHistory:
        """Hedge every row of ``positions`` (step, instrument) on this basis.

        With ``warm_start`` (``exact`` only), each step's search starts from the
        previous step's answer, which is usually close: the search then visits
        only the few points nearer than it. ``progress(done, total)`` is called
        about a hundred times.
        """
        books = np.asarray(positions, dtype=np.float64)
        if books.ndim != 2 or books.shape[1] != self.vectors.shape[0]:
            raise ValueError(
                f"shapes do not fit: positions {books.shape}, vectors {self.vectors.shape}"
            )
        if not np.isfinite(books).all():
            raise ValueError("positions must be finite")
        steps = len(books)
        every = max(1, steps // 100)
        if method == "greedy":
            omegas = np.zeros((steps, self.size), dtype=np.int64)
            targets = books @ self._sigma_b
            for t in range(steps):
                omegas[t] = _greedy(self._gram, targets[t], max(1.0, risk(books[t], self.cov)))
                if progress is not None and (t + 1) % every == 0:
                    progress(t + 1, steps)
            proven = np.zeros(steps, dtype=bool)
            lower_distance = np.zeros(steps)
            distance = np.zeros(steps)
        else:
            zz_all = books @ self._project().T
            babai, distance = self._babai_many(zz_all)
            # Within half the shortest lattice vector of a lattice point, that point
            # is the closest: such steps (a book made of the vectors, give or take
            # a little) need no search.
            proven = distance < self._packing
            lower_distance = np.where(proven, distance, 0.0)
            if method == "exact":
                xs = babai.tolist()
                for t in np.flatnonzero(~proven).tolist():
                    start = xs[t - 1] if warm_start and t > 0 else None
                    found = self._search(zz_all[t].tolist(), method, start, max_nodes, None)
                    xs[t] = found.x
                    proven[t] = found.proven
                    distance[t] = found.distance
                    lower_distance[t] = found.lower
                    if progress is not None and t // every > (t - 1) // every:
                        progress(t, steps)
                babai = np.array(xs, dtype=np.int64).reshape(steps, self.size)
            omegas = babai @ self._u.T
        residual = books - omegas @ self.vectors.T
        before = np.einsum("ti,ij,tj->t", books, self.cov, books)
        after = np.einsum("ti,ij,tj->t", residual, self.cov, residual)
        if method == "greedy":
            lower = np.zeros(steps)
        else:
            lower = np.maximum(0.0, after - (distance - lower_distance))
        if progress is not None:
            progress(steps, steps)
        return HedgeHistory(omegas, residual, before, after, proven, lower)


def solve_hedge(
    positions: FloatArray,
    vectors: FloatArray,
    cov: FloatArray,
    method: Method = "exact",
    *,
    start: IntArray | None = None,
    max_nodes: int | None = None,
    time_limit: float | None = None,
    kernel: Kernel = "c",
) -> HedgeSolution:
    """Integer lots ``ω`` minimising ``(Q − Bω)ᵀ Σ (Q − Bω)`` for one book.

    Args:
        positions: ``Q``, one entry per instrument.
        vectors: ``B``, one column per hedge vector (already multiplied by the lots).
        cov: ``Σ``, covariance of price changes per unit over the horizon.
        method: ``exact`` (sphere decoding), ``babai`` or ``greedy``.
        start: optional lots to start ``exact`` from.
        max_nodes / time_limit: optional budget for ``exact`` (nodes; seconds); when
            it runs out the best point found is returned with ``optimal`` False and
            a proven ``lower_bound`` on the optimum.
        kernel: ``c`` (compiled, the default) or ``python`` (the reference), as
            in :class:`HedgeLattice`.

    Raises:
        ValueError: on shape mismatches, values that are not finite or linearly
            dependent vectors.
    """
    q0 = np.asarray(positions, dtype=np.float64)
    b = np.asarray(vectors, dtype=np.float64)
    if b.ndim != 2 or b.shape[0] != q0.shape[0]:
        raise ValueError(f"shapes do not fit: positions {q0.shape}, vectors {b.shape}")
    return HedgeLattice(b, cov, kernel=kernel).solve(
        q0, method, start=start, max_nodes=max_nodes, time_limit=time_limit
    )
