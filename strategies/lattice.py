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

* ``exact``: LLL-reduce ``G``, take Babai's nearest-plane point as the initial
  radius, then Schnorr–Euchner sphere decoding, which enumerates every lattice
  point closer than the best found (exact; practical to ~20 vectors).
* ``babai``: LLL + nearest plane only (fast, approximate).
* ``greedy``: round the least-squares solution, then ±1 coordinate moves while
  they reduce the risk (fast, approximate; measured within the tolerance stated
  in the tests of the exact answer).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

__all__ = ["HedgeSolution", "Method", "det_objective", "lll", "risk", "solve_hedge"]

Method = Literal["exact", "babai", "greedy"]
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class HedgeSolution:
    """The lots per vector and what they leave.

    Attributes:
        omega: lots of each hedge vector (integers; the trade is ``-B ω``).
        residual: ``Q − B ω``, units per instrument.
        risk_before / risk_after: variance of P&L over the horizon, ``qᵀΣq``.
        method: the method used; ``optimal`` is True only for ``exact``.
    """

    omega: IntArray
    residual: FloatArray
    risk_before: float
    risk_after: float
    method: Method
    optimal: bool

    @property
    def reduction(self) -> float:
        """risk_before / risk_after (inf when the residual risk is zero)."""
        return self.risk_before / self.risk_after if self.risk_after > 0 else float("inf")


def risk(q: FloatArray, cov: FloatArray) -> float:
    """Variance of the P&L of position ``q``: ``qᵀ Σ q``."""
    return float(q @ cov @ q)


def det_objective(q: FloatArray, cov: FloatArray) -> float:
    """The seed's objective ``det(diag(q) Σ diag(q))``, kept only to show why it fails."""
    d = np.diag(q)
    return float(np.linalg.det(d @ cov @ d))


def _cholesky(cov: FloatArray) -> FloatArray:
    """Lower-triangular L with Σ = L Lᵀ; a positive semi-definite Σ gets a tiny ridge."""
    try:
        lower = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        ridge = 1e-12 * max(1.0, float(np.trace(cov)) / len(cov))
        lower = np.linalg.cholesky(cov + ridge * np.eye(len(cov)))
    return np.asarray(lower, dtype=np.float64)


def lll(basis: FloatArray, delta: float = 0.75) -> tuple[FloatArray, IntArray]:
    """LLL-reduce the columns of ``basis``; returns ``(reduced, U)`` with reduced = basis @ U."""
    b = basis.astype(np.float64).copy()
    k_count = b.shape[1]
    u = np.eye(k_count, dtype=np.int64)

    def gram_schmidt(m: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Squared Gram-Schmidt norms and coefficients mu, from a QR factorisation."""
        r = np.linalg.qr(m, mode="r")
        diagonal = np.diag(r).copy()
        diagonal[diagonal == 0] = 1e-300
        mu = (r / diagonal[:, None]).T
        return diagonal**2, np.asarray(mu, dtype=np.float64)

    norms, mu = gram_schmidt(b)
    k = 1
    while k < k_count:
        # Size reduction leaves the Gram-Schmidt vectors unchanged: update mu in place.
        for j in range(k - 1, -1, -1):
            r = round(mu[k, j])
            if r:
                b[:, k] -= r * b[:, j]
                u[:, k] -= r * u[:, j]
                mu[k, :j] -= r * mu[j, :j]
                mu[k, j] -= r
        if norms[k] >= (delta - mu[k, k - 1] ** 2) * norms[k - 1]:
            k += 1
        else:
            b[:, [k - 1, k]] = b[:, [k, k - 1]]
            u[:, [k - 1, k]] = u[:, [k, k - 1]]
            norms, mu = gram_schmidt(b)
            k = max(k - 1, 1)
    return b, u


def _babai(r: FloatArray, z: FloatArray) -> IntArray:
    """Nearest plane: back-substitution with rounding on upper-triangular ``r``."""
    k_count = len(z)
    x = np.zeros(k_count, dtype=np.int64)
    for k in range(k_count - 1, -1, -1):
        center = (z[k] - r[k, k + 1 :] @ x[k + 1 :]) / r[k, k]
        x[k] = round(center)
    return x


def _distance(r: FloatArray, z: FloatArray, x: IntArray) -> float:
    diff = z - r @ x
    return float(diff @ diff)


def _zigzag(center: float) -> Iterator[int]:
    """Integers in order of increasing distance from ``center``."""
    nearest = round(center)
    step = 1 if center >= nearest else -1
    yield nearest
    k = 1
    while True:
        yield nearest + k * step
        yield nearest - k * step
        k += 1


class _Budget(Exception):
    """The node budget of an exact search ran out."""


def _sphere(
    r: FloatArray, z: FloatArray, start: IntArray, max_nodes: int | None = None
) -> tuple[IntArray, bool]:
    """Schnorr–Euchner enumeration of every point closer than ``start``: the closest.

    Returns (point, proven); ``proven`` is False when ``max_nodes`` ran out first.
    """
    k_count = len(z)
    best = start.copy()
    best_distance = _distance(r, z, start) * (1 + 1e-12) + 1e-300
    x = np.zeros(k_count, dtype=np.int64)
    nodes = 0

    def search(k: int, partial: float) -> None:
        nonlocal best, best_distance, nodes
        nodes += 1
        if max_nodes is not None and nodes > max_nodes:
            raise _Budget
        center = (z[k] - r[k, k + 1 :] @ x[k + 1 :]) / r[k, k]
        for value in _zigzag(center):
            gap = r[k, k] * (center - value)
            distance = partial + gap * gap
            if distance >= best_distance:
                return  # candidates come in increasing distance: none further can win
            x[k] = value
            if k == 0:
                best = x.copy()
                best_distance = distance
            else:
                search(k - 1, distance)

    try:
        search(k_count - 1, 0.0)
    except _Budget:
        return best, False
    return best, True


def _greedy(g: FloatArray, y: FloatArray) -> IntArray:
    x: IntArray = np.rint(np.linalg.lstsq(g, y, rcond=None)[0]).astype(np.int64)
    residual = y - g @ x
    norms = np.einsum("ij,ij->j", g, g)
    while True:
        # Change of ‖residual‖² for x_k ± 1: ∓2 gₖ·residual + ‖gₖ‖².
        dots = g.T @ residual
        gains = np.concatenate([-2 * dots + norms, 2 * dots + norms])
        best = int(np.argmin(gains))
        if gains[best] >= -1e-12 * max(1.0, float(residual @ residual)):
            return x
        k = best % g.shape[1]
        sign = 1 if best < g.shape[1] else -1
        x[k] += sign
        residual -= sign * g[:, k]


def solve_hedge(
    positions: FloatArray,
    vectors: FloatArray,
    cov: FloatArray,
    method: Method = "exact",
    *,
    max_nodes: int | None = None,
) -> HedgeSolution:
    """Integer lots ``ω`` minimising ``(Q − Bω)ᵀ Σ (Q − Bω)``.

    Args:
        positions: ``Q``, one entry per instrument.
        vectors: ``B``, one column per hedge vector (already multiplied by the lots).
        cov: ``Σ``, covariance of price changes per unit over the horizon.
        method: ``exact`` (sphere decoding), ``babai`` or ``greedy``.
        max_nodes: optional budget of search nodes for ``exact``; when it runs out
            the best point found is returned with ``optimal`` False.

    Raises:
        ValueError: on shape mismatches or linearly dependent vectors.
    """
    q0 = np.asarray(positions, dtype=np.float64)
    b = np.asarray(vectors, dtype=np.float64)
    sigma = np.asarray(cov, dtype=np.float64)
    if b.ndim != 2 or b.shape[0] != q0.shape[0] or sigma.shape != (len(q0), len(q0)):
        raise ValueError(
            f"shapes do not fit: positions {q0.shape}, vectors {b.shape}, covariance {sigma.shape}"
        )
    if np.linalg.matrix_rank(b) < b.shape[1]:
        raise ValueError("hedge vectors are linearly dependent: drop or combine some")
    lower = _cholesky(sigma)
    g = lower.T @ b
    y = lower.T @ q0
    proven = method == "exact"
    if method == "greedy":
        omega = _greedy(g, y)
    else:
        reduced, u = lll(g)
        qr_q, r = np.linalg.qr(reduced)
        z = qr_q.T @ y
        x = _babai(r, z)
        if method == "exact":
            x, proven = _sphere(r, z, x, max_nodes)
        omega = u @ x
    residual = q0 - b @ omega
    return HedgeSolution(
        omega=omega,
        residual=residual,
        risk_before=risk(q0, sigma),
        risk_after=risk(residual, sigma),
        method=method,
        optimal=proven,
    )
