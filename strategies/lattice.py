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
``risk = QᵀΣQ − ‖z‖² + ‖z − Rω‖²``. It sorts the vectors by risk, LLL-reduces
(δ = 0.99) the triangular factor itself, a swap made triangular again by one
Givens rotation (pure Python floats: at these sizes numpy's per-call overhead
costs more than the arithmetic), and factors the reduced Gram matrix once
more. Each book then costs one matrix-vector product and the search:

* ``exact``: Schnorr–Euchner enumeration (iterative, with the partial centre
  sums of each level kept and only their stale part recomputed). Its first leaf
  is Babai's nearest-plane point; it then visits every lattice point closer
  than the best found, so the answer is the optimum. A start point (the
  previous step's answer in a history) gives it a radius before it begins. A
  node budget or time limit may stop it early: the best point found is then
  returned with ``optimal`` False and a proven ``lower_bound`` on the optimum
  (the least distance of any subtree left unexplored).
* ``babai``: the first leaf only (fast, approximate).
* ``greedy``: round the least-squares solution, then ±1 coordinate moves while
  they reduce the risk (fast, approximate; measured within the tolerance stated
  in the tests of the exact answer).

:meth:`HedgeLattice.solve_many` hedges a history: Babai's points for all steps
at once, no search where that point is within half the shortest lattice vector
(then it is the closest), and a search from the previous step's answer
elsewhere. :func:`solve_hedge` is the one-book form.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "HedgeHistory",
    "HedgeLattice",
    "HedgeSolution",
    "Method",
    "det_objective",
    "lll",
    "risk",
    "solve_hedge",
]

Method = Literal["exact", "babai", "greedy"]
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_LLL_DELTA = 0.99
_CHECK_CLOCK_EVERY = 4096  # nodes between two looks at the clock under a time limit


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


def _lll_triangular(r: FloatArray, delta: float) -> list[list[int]]:
    """LLL on the columns of an upper-triangular ``r``; returns the columns of U.

    Works on ``R`` instead of the basis: a column operation keeps ``R``
    triangular, and a swap of columns k−1, k is made triangular again by one
    Givens rotation of rows k−1, k. Before the Lovász test
    ``δ·R[k−1,k−1]² ≤ R[k−1,k]² + R[k,k]²`` column k is size-reduced against
    column k−1 only ("effective" LLL: the test reads nothing else, so the swaps,
    and the Gram–Schmidt norms the search depends on, are those of full LLL);
    :func:`_size_reduce` finishes the reduction afterwards.
    """
    count = r.shape[1]
    cols = [[float(v) for v in r[: j + 1, j]] + [0.0] * (count - j - 1) for j in range(count)]
    u = [[int(i == j) for i in range(count)] for j in range(count)]  # u[j]: column j of U
    k = 1
    while k < count:
        ck, cj = cols[k], cols[k - 1]
        m = round(ck[k - 1] / cj[k - 1])
        if m:
            ck[:k] = [a - m * b for a, b in zip(ck[:k], cj, strict=False)]
            u[k] = [a - m * b for a, b in zip(u[k], u[k - 1], strict=True)]
        a, b, c = cj[k - 1], ck[k - 1], ck[k]
        if delta * a * a <= b * b + c * c:
            k += 1
            continue
        cols[k - 1], cols[k] = ck, cj
        u[k - 1], u[k] = u[k], u[k - 1]
        norm = (b * b + c * c) ** 0.5
        cos, sin = b / norm, c / norm
        for col in cols[k - 1 :]:
            x, y = col[k - 1], col[k]
            col[k - 1] = cos * x + sin * y
            col[k] = cos * y - sin * x
        ck[k] = 0.0
        k = max(k - 1, 1)
    return u


def _size_reduce(r: FloatArray, u: IntArray) -> None:
    """Make ``|R[j, k]| <= |R[j, j]| / 2`` for j < k, in place on ``r`` and ``u``.

    Column k is reduced against k−1, then k−2, …; all columns go together, one
    numpy step per j (reducing column k against j reads only columns ≤ j).
    """
    for j in range(r.shape[1] - 2, -1, -1):
        m = np.rint(r[j, j + 1 :] / r[j, j])
        if np.any(m):
            r[: j + 1, j + 1 :] -= np.outer(r[: j + 1, j], m)
            u[:, j + 1 :] -= np.outer(u[:, j], m.astype(np.int64))


def lll(basis: FloatArray, delta: float = _LLL_DELTA) -> tuple[FloatArray, IntArray]:
    """LLL-reduce the columns of ``basis``; returns ``(reduced, U)`` with reduced = basis @ U."""
    b = np.asarray(basis, dtype=np.float64)
    u = np.array(_lll_triangular(np.linalg.qr(b).R, delta), dtype=np.int64).T
    _size_reduce(np.linalg.qr(b @ u).R, u)
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


def _babai(mu: list[list[float]], zz: list[float]) -> list[int]:
    """Nearest plane: back-substitution with rounding (``mu`` = R / diag(R) by rows)."""
    count = len(zz)
    x = [0] * count
    for k in range(count - 1, -1, -1):
        row = mu[k]
        center = zz[k]
        for j in range(k + 1, count):
            center -= row[j] * x[j]
        x[k] = round(center)
    return x


def _distance(mu: list[list[float]], rr: list[float], zz: list[float], x: list[int]) -> float:
    """``‖z − R x‖²`` in the reduced coordinates."""
    count = len(zz)
    total = 0.0
    for k in range(count):
        row = mu[k]
        diff = zz[k] - x[k]
        for j in range(k + 1, count):
            diff -= row[j] * x[j]
        total += rr[k] * diff * diff
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

    Raises:
        ValueError: on shape mismatches or linearly dependent vectors.
    """

    def __init__(self, vectors: FloatArray, cov: FloatArray) -> None:
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
        self.vectors = b
        self.cov = sigma
        self._sigma_b = sigma @ b
        gram = b.T @ self._sigma_b  # M = BᵀΣB = GᵀG
        # Shortest vectors first: LLL then has fewer swaps to make.
        order = np.argsort(np.diag(gram), kind="stable")
        upper = self._factor(gram[np.ix_(order, order)])
        if upper is None:
            if count > b.shape[0] or np.linalg.matrix_rank(b) < count:
                raise ValueError("hedge vectors are linearly dependent: drop or combine some")
            # Independent vectors the covariance cannot tell apart (a positive
            # semi-definite Σ): a tiny ridge on Σ, as a Cholesky of Σ would need.
            ridge = 1e-12 * max(1.0, float(np.trace(sigma)) / len(sigma))
            gram = gram + ridge * (b.T @ b)
            upper = self._factor(gram[np.ix_(order, order)])
            if upper is None:
                raise ValueError("hedge vectors are linearly dependent: drop or combine some")
        self._gram = gram
        u = np.empty((count, count), dtype=np.int64)
        u[order] = np.array(_lll_triangular(upper, _LLL_DELTA), dtype=np.int64).T
        reduced = np.asarray(np.linalg.cholesky(u.T @ gram @ u).T, dtype=np.float64)
        diagonal = np.diag(reduced)
        mu = reduced / diagonal[:, None]
        if np.abs(mu).max() > 8:  # keep the coordinates small: finish the size reduction
            _size_reduce(reduced, u)
            reduced = np.asarray(np.linalg.cholesky(u.T @ gram @ u).T, dtype=np.float64)
            diagonal = np.diag(reduced)
            mu = reduced / diagonal[:, None]
        self._u = u
        self._r_diag = diagonal
        # z = R⁻ᵀ Uᵀ Bᵀ Σ Q, and the search reads z / diag(R): one matrix for both.
        self._project = np.linalg.solve(reduced.T, (self._sigma_b @ u).T) / diagonal[:, None]
        self._mu_matrix = mu
        self._mu = mu.tolist()
        self._rr = (diagonal * diagonal).tolist()
        self._u_inverse: IntArray | None = None
        # (λ₁/2)², λ₁ ≥ the least Gram–Schmidt norm: a point nearer than this is the closest.
        self._packing = min(self._rr) / 4 * (1 - 1e-9)

    @staticmethod
    def _factor(gram: FloatArray) -> FloatArray | None:
        """Upper R with RᵀR = M, or None when M is (numerically) singular."""
        try:
            upper = np.linalg.cholesky(gram).T
        except np.linalg.LinAlgError:
            return None
        pivots = np.diag(upper)
        if np.any(pivots * pivots <= 1e-11 * np.diag(gram)):
            return None
        return np.asarray(upper, dtype=np.float64)

    @property
    def size(self) -> int:
        """Number of hedge vectors."""
        return int(self.vectors.shape[1])

    def _start(self, omega: IntArray) -> list[int]:
        """Lots of the hedge vectors as coordinates in the reduced basis: ``U⁻¹ ω``."""
        if self._u_inverse is None:
            self._u_inverse = np.rint(np.linalg.inv(self._u)).astype(np.int64)
        return (self._u_inverse @ np.asarray(omega, dtype=np.int64)).tolist()  # type: ignore[no-any-return]

    def _babai_many(self, zz_all: FloatArray) -> tuple[IntArray, FloatArray]:
        """Babai's points for many targets at once (one numpy step per level), and distances."""
        steps, count = zz_all.shape
        x = np.zeros((steps, count), dtype=np.float64)
        mu = self._mu_matrix
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
            x = _babai(self._mu, zz)
            distance = _distance(self._mu, self._rr, zz, x)
            settled = distance < self._packing
            return _Found(x, distance, settled, distance if settled else 0.0, 0)
        deadline = None if time_limit is None else time.perf_counter() + time_limit
        return _enumerate(self._mu, self._rr, zz, start, max_nodes=max_nodes, deadline=deadline)

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
                ``optimal`` False and a proven ``lower_bound``.
        """
        q0 = np.asarray(positions, dtype=np.float64)
        if q0.shape != (self.vectors.shape[0],):
            raise ValueError(
                f"shapes do not fit: positions {q0.shape}, vectors {self.vectors.shape}"
            )
        before = risk(q0, self.cov)
        if method == "greedy":
            omega = _greedy(self._gram, q0 @ self._sigma_b, max(1.0, before))
            residual = q0 - self.vectors @ omega
            return HedgeSolution(omega, residual, before, risk(residual, self.cov), method, False)
        zz: list[float] = (self._project @ q0).tolist()
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
            zz_all = books @ self._project.T
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

    Raises:
        ValueError: on shape mismatches or linearly dependent vectors.
    """
    q0 = np.asarray(positions, dtype=np.float64)
    b = np.asarray(vectors, dtype=np.float64)
    if b.ndim != 2 or b.shape[0] != q0.shape[0]:
        raise ValueError(f"shapes do not fit: positions {q0.shape}, vectors {b.shape}")
    return HedgeLattice(b, cov).solve(
        q0, method, start=start, max_nodes=max_nodes, time_limit=time_limit
    )
