"""Sparse mean-reverting vectors with simple ratios, from an estimated mean-reverting space.

Johansen and PCA (:mod:`strategies.meanrev`) estimate the *space* of
mean-reverting combinations well, but return a dense basis of it: every vector
weighs every instrument. A desk hedges with sparse sub-portfolios in simple
ratios ("long EUR, short CHF, 1:1"), and a book built from whole lots of those
is whole lots of the sparse vectors only, never of a dense basis of the same
space. :func:`sparse_vectors` turns the space into such a basis:

1. **Supports.** For every set ``T`` of instruments, smallest first (all of
   them up to ``max_support``), the vector of the space with the least weight
   outside ``T``: the smallest right singular vector of the rows outside ``T``
   of an orthonormal basis of the space. The weights are measured in risk
   units (each instrument's weight times the standard deviation of its price
   changes), so a ratio does not depend on how an instrument is quoted. ``T``
   holds a vector of the space when that least outside weight, ``fit``, is at
   most ``tolerance`` (0 means exactly inside).
2. **Simple ratios.** The vector, restricted to ``T`` and scaled so its
   largest weight is ±1, is replaced by the integer vector ``m`` with the
   smallest largest entry ``s ≤ max_weight`` such that every ``m_i / s`` is
   within ``precision`` of the weight (``[0.5, 0.5, −1]`` becomes
   ``[1, 1, −2]``). One lot of it trades whole lots of every instrument it
   holds.
3. **Mean reversion.** The spread ``m · p`` must be mean-reverting before the
   vector is kept: the augmented Dickey–Fuller test rejects a unit root at
   ``significance`` and the Ornstein–Uhlenbeck half-life (from the regression
   ``Δs_t = a + λ s_{t−1}``: ``ln 2 / −ln(1 + λ)`` steps) is at most
   ``max_half_life``.
4. **A basis.** Vectors are taken in the order of step 1 (support size, then
   fit) while each one adds a new direction, until there are as many as the
   dimension of the space. If the supports run out first, the dense estimates
   complete the basis (marked ``sparse=False``).

The search over supports is exact (every support up to ``max_support``); it is
meant for up to about ten instruments, and for more with a small
``max_support``. d'Aspremont, "Identifying small mean-reverting portfolios"
(2011), motivates the goal; this is the plain combinatorial form of it.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass
from functools import reduce

import numpy as np
from numpy.typing import NDArray

__all__ = ["MeanRevertingVector", "half_life", "mean_reversion", "simple_ratios", "sparse_vectors"]

FloatArray = NDArray[np.float64]

_MAX_SUPPORTS = 50_000  # supports examined at most, over all sizes


@dataclass(frozen=True, slots=True)
class MeanRevertingVector:
    """One hedge vector and the evidence that it mean-reverts.

    Attributes:
        weights: one weight per instrument: small integers for a sparse vector
            (``[1, 0, −1, 0]``), largest entry ±1 for a dense one.
        support: the instruments it holds (indices, ascending).
        half_life: Ornstein–Uhlenbeck half-life of the spread ``weights · p``, in
            steps (``inf`` when the spread does not revert).
        adf_pvalue: augmented Dickey–Fuller p-value of the spread (small: reverts).
        fit: weight of the estimate outside its support in the estimated space
            (0 for a dense vector; at most the tolerance for a sparse one).
        sparse: False for a dense estimate that completes the basis.
    """

    weights: FloatArray
    support: tuple[int, ...]
    half_life: float
    adf_pvalue: float
    fit: float
    sparse: bool

    def describe(self, symbols: list[str]) -> str:
        """``EUR +1, CHF −1 (half-life 3.2 steps, ADF p 0.001)``."""
        if self.sparse:
            terms = [f"{symbols[i]} {int(self.weights[i]):+d}" for i in self.support]
        else:
            terms = [f"{symbols[i]} {self.weights[i]:+.3f}" for i in self.support]
        kind = "" if self.sparse else "dense, "
        return (
            f"{', '.join(terms)} ({kind}half-life {self.half_life:.1f} steps, "
            f"ADF p {self.adf_pvalue:.3g})"
        )


def half_life(spread: FloatArray) -> float:
    """Ornstein–Uhlenbeck half-life in steps: ``ln 2 / −ln(1 + λ)`` from ``Δs = a + λ s₋₁``."""
    lagged = spread[:-1] - spread[:-1].mean()
    change = np.diff(spread)
    denominator = float(lagged @ lagged)
    if denominator <= 0:
        return math.inf
    slope = float(lagged @ (change - change.mean())) / denominator
    if not -1 < slope < 0:
        return math.inf if slope >= 0 else 0.0
    return math.log(2) / -math.log1p(slope)


def mean_reversion(spread: FloatArray) -> tuple[float, float]:
    """``(half-life in steps, ADF p-value)`` of a spread (ADF with a constant, one lag)."""
    from statsmodels.tsa.stattools import adfuller  # noqa: PLC0415 - heavy import

    if float(np.ptp(spread)) == 0.0:
        return math.inf, 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels warns on its own table edges
        pvalue = float(adfuller(spread, maxlag=1, regression="c", autolag=None)[1])
    return half_life(spread), pvalue


def simple_ratios(
    vector: FloatArray, *, precision: float = 0.02, max_weight: int = 20
) -> FloatArray:
    """The integer vector with the smallest largest entry whose ratios are within ``precision``.

    ``vector`` is scaled so its largest weight is ±1; for ``s = 1, 2, …,
    max_weight`` the weights ``round(s · w)`` are tried, and the first whose
    every ``m_i / s`` is within ``precision`` of ``w_i`` is returned (at
    ``max_weight``, the closest). The first non-zero weight is made positive.
    """
    top = float(np.abs(vector).max())
    if top == 0:
        raise ValueError("a zero vector has no ratios")
    w = vector / top
    chosen = np.rint(max_weight * w)
    for s in range(1, max_weight + 1):
        m = np.rint(s * w)
        if float(np.abs(m / s - w).max()) <= precision:
            chosen = m
            break
    divisor = reduce(math.gcd, (int(abs(v)) for v in chosen if v), 0) or 1
    chosen = chosen / divisor
    first = chosen[np.flatnonzero(chosen)[0]]
    return np.asarray(chosen * np.sign(first) + 0.0, dtype=np.float64)  # + 0.0: no -0.0


def _candidates(
    basis: FloatArray, scale: FloatArray, tolerance: float, max_support: int
) -> list[tuple[float, tuple[int, ...], FloatArray]]:
    """``(fit, support, unit vector in risk units)`` for every support holding a vector."""
    n, rank = basis.shape
    orthonormal, _ = np.linalg.qr(basis * scale[:, None])
    found: list[tuple[float, tuple[int, ...], FloatArray]] = []
    examined = 0
    for size in range(2, max_support + 1):
        supports = list(itertools.combinations(range(n), size))
        examined += len(supports)
        if examined > _MAX_SUPPORTS:
            break
        outside = [tuple(i for i in range(n) if i not in s) for s in supports]
        if not outside[0]:
            fits = np.zeros(len(supports))
            coefficients = np.tile(np.eye(rank)[:, -1], (len(supports), 1))
        else:
            stacked = orthonormal[np.array(outside)]  # (support, outside, rank)
            _, singular, right = np.linalg.svd(stacked)
            # Fewer rows outside than the rank: an exact null vector exists.
            fits = singular[:, -1] if len(outside[0]) >= rank else np.zeros(len(supports))
            coefficients = right[:, -1, :]
        for support, fit, c in zip(supports, fits, coefficients, strict=True):
            if fit <= tolerance:
                vector = orthonormal @ c
                restricted = np.zeros(n)
                restricted[list(support)] = vector[list(support)]
                found.append((float(fit), support, restricted))
    return found


def sparse_vectors(
    prices: FloatArray,
    basis: FloatArray,
    *,
    precision: float = 0.02,
    max_weight: int = 20,
    tolerance: float = 0.05,
    max_support: int | None = None,
    significance: float = 0.05,
    max_half_life: float | None = None,
) -> list[MeanRevertingVector]:
    """A basis of sparse, simple-ratio, mean-reverting vectors of the space ``basis`` spans.

    Args:
        prices: (time, instrument) price levels the space was estimated from.
        basis: (instrument, vector) an estimated basis of the mean-reverting space
            (Johansen or PCA); its dimension is the number of vectors returned.
        precision: how far a simple ratio may be from the estimated weight (the
            largest weight being 1).
        max_weight: the largest integer weight tried for a simple ratio.
        tolerance: how much weight (in risk units, of a unit vector) may lie
            outside a support for it to count as holding a vector of the space.
        max_support: the largest support searched (default: every size up to the
            number of instruments when there are at most 10, else 4).
        significance: the ADF p-value a spread must reach to count as reverting.
        max_half_life: the longest half-life kept, in steps (default: a tenth of
            the history).

    Returns:
        The vectors, sparse ones first (fewest instruments first), then any
        dense estimates needed to complete the basis.
    """
    n = prices.shape[1]
    rank = basis.shape[1]
    if basis.shape[0] != n:
        raise ValueError(f"basis has {basis.shape[0]} rows for {n} instruments")
    if max_support is None:
        max_support = n if n <= 10 else 4
    longest = max_half_life if max_half_life is not None else len(prices) / 10
    changes = np.diff(prices, axis=0)
    scale = changes.std(axis=0)
    scale[scale == 0] = 1.0
    chosen: list[MeanRevertingVector] = []
    directions: list[FloatArray] = []  # unit vectors in risk units, of the chosen ones

    def adds_direction(vector: FloatArray) -> bool:
        unit = vector * scale
        unit = unit / np.linalg.norm(unit)
        if not directions:
            return True
        stacked = np.array(directions)
        leftover = unit - stacked.T @ np.linalg.lstsq(stacked.T, unit, rcond=None)[0]
        return float(np.linalg.norm(leftover)) >= 0.3

    def keep(weights: FloatArray, fit: float, sparse: bool) -> bool:
        if len(chosen) == rank or not adds_direction(weights):
            return False
        life, pvalue = mean_reversion(prices @ weights)
        if pvalue > significance or life > longest:
            return False
        support = tuple(int(i) for i in np.flatnonzero(weights))
        chosen.append(MeanRevertingVector(weights, support, life, pvalue, fit, sparse))
        unit = weights * scale
        directions.append(unit / np.linalg.norm(unit))
        return True

    candidates = sorted(
        _candidates(basis, scale, tolerance, min(max_support, n)),
        key=lambda item: (len(item[1]), item[0]),
    )
    for fit, _, unit in candidates:
        if len(chosen) == rank:
            break
        keep(simple_ratios(unit / scale, precision=precision, max_weight=max_weight), fit, True)
    for column in basis.T:
        if len(chosen) == rank:
            break
        dense = column / np.abs(column).max()
        dense = dense * np.sign(dense[np.abs(dense).argmax()])
        if adds_direction(dense):
            life, pvalue = mean_reversion(prices @ dense)
            support = tuple(int(i) for i in np.flatnonzero(dense))
            chosen.append(MeanRevertingVector(dense, support, life, pvalue, 0.0, False))
            unit = dense * scale
            directions.append(unit / np.linalg.norm(unit))
    return chosen
