"""Mean-reverting hedge vectors and risk from a price history.

* :func:`covariance` — covariance of price changes per unit held over a horizon
  of ``horizon`` steps (the ``Σ`` of :mod:`strategies.lattice`).
* :func:`johansen_vectors` — cointegrating vectors from the Johansen test
  (statsmodels), the rank chosen by the *sequential* trace test: test rank 0,
  then 1, ... and stop at the first hypothesis not rejected (not by counting
  every statistic above its critical value).
* :func:`pca_vectors` — the smallest-variance principal components of the
  price levels; the least variable combinations mean-revert most.
* :func:`synthetic_fx` — a seeded FX-like book with known cointegrating
  vectors, for samples and tests.

Vectors are returned as columns, scaled so each one's largest entry is ±1.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "SyntheticBook",
    "covariance",
    "johansen_vectors",
    "pca_vectors",
    "synthetic_fx",
    "write_samples",
]

FloatArray = NDArray[np.float64]

_JOHANSEN_MAX = 12  # statsmodels' tables of trace-test critical values end here


def covariance(prices: FloatArray, horizon: int = 1) -> FloatArray:
    """Covariance of ``p[t + horizon] - p[t]``: the P&L risk of one unit of each instrument."""
    if prices.ndim != 2 or len(prices) <= horizon + 1:
        raise ValueError(
            f"need a (time, instrument) price history longer than {horizon + 1} "
            f"steps, got shape {prices.shape}"
        )
    changes = prices[horizon:] - prices[:-horizon]
    return np.asarray(np.cov(changes, rowvar=False), dtype=np.float64)


def _normalise(vectors: FloatArray) -> FloatArray:
    scale = np.abs(vectors).max(axis=0)
    scale[scale == 0] = 1.0
    out = vectors / scale
    # Make the largest entry of each vector positive, for stable output.
    signs = np.sign(out[np.abs(out).argmax(axis=0), np.arange(out.shape[1])])
    return np.asarray(out * signs, dtype=np.float64)


def johansen_vectors(
    prices: FloatArray, *, det_order: int = 0, k_ar_diff: int = 1, significance: float = 0.05
) -> FloatArray:
    """Cointegrating vectors (columns), rank by the sequential trace test.

    Raises:
        ValueError: for more than 12 instruments: statsmodels has critical values
            for up to 12, and without them every test would pass as "rank 0".
    """
    from statsmodels.tsa.vector_ar.vecm import coint_johansen  # noqa: PLC0415 - heavy import

    if prices.shape[1] > _JOHANSEN_MAX:
        raise ValueError(
            f"Johansen's critical values stop at {_JOHANSEN_MAX} instruments, this history has "
            f"{prices.shape[1]}: estimate with principal components (vectors: pca, with a count)"
        )

    column = {0.10: 0, 0.05: 1, 0.01: 2}[significance]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels warns about its own table range
        result = coint_johansen(prices, det_order, k_ar_diff)
    rank = 0
    for r in range(prices.shape[1]):
        if result.lr1[r] > result.cvt[r, column]:
            rank = r + 1  # reject "rank <= r": at least r + 1 vectors
        else:
            break
    return _normalise(np.asarray(result.evec[:, :rank], dtype=np.float64))


def pca_vectors(prices: FloatArray, count: int) -> FloatArray:
    """The ``count`` smallest-variance principal components of the price levels."""
    if not 0 < count <= prices.shape[1]:
        raise ValueError(
            f"{count} vectors of {prices.shape[1]} instruments; 1 to {prices.shape[1]} "
            "principal components can be taken"
        )
    levels = prices - prices.mean(axis=0)
    _, vectors = np.linalg.eigh(np.cov(levels, rowvar=False))  # ascending eigenvalues
    return _normalise(np.asarray(vectors[:, :count], dtype=np.float64))


@dataclass(frozen=True, slots=True)
class SyntheticBook:
    symbols: tuple[str, ...]
    prices: FloatArray  # (time, instrument)
    positions: FloatArray  # (time, instrument), units
    true_vectors: FloatArray  # (instrument, vectors): the cointegrating relations


def synthetic_fx(
    steps: int = 750, seed: int = 7, symbols: Sequence[str] = ("EUR", "JPY", "CHF", "GBP")
) -> SyntheticBook:
    """Four FX rates driven by two random walks, with two stationary combinations.

    EUR and CHF share a trend (``EUR − CHF`` mean-reverts: ``[1, 0, −1, 0]``);
    GBP follows the average of EUR and JPY (``EUR + JPY − 2·GBP`` mean-reverts).
    Positions are a market maker's book: mostly those spreads plus a random walk
    of noise, in units of currency.
    """
    rng = np.random.default_rng(seed)
    trend_a = np.cumsum(rng.normal(0, 0.004, steps))
    trend_b = np.cumsum(rng.normal(0, 0.004, steps))

    def ar1(scale: float) -> FloatArray:
        out = np.zeros(steps)
        for t in range(1, steps):
            out[t] = 0.8 * out[t - 1] + rng.normal(0, scale)
        return out

    eur = 1.10 + trend_a + ar1(0.001)
    chf = 1.05 + trend_a + ar1(0.001)
    jpy = 0.90 + trend_b + ar1(0.001)
    gbp = (eur + jpy) / 2 + 0.25 + ar1(0.001)
    prices = np.column_stack([eur, jpy, chf, gbp])
    spread_a = np.round(np.cumsum(rng.normal(0, 1.5, steps))) * 100_000
    spread_b = np.round(np.cumsum(rng.normal(0, 1.0, steps))) * 100_000
    noise = np.cumsum(rng.normal(0, 8_000, (steps, 4)), axis=0)
    true = np.array([[1.0, 0.0, -1.0, 0.0], [1.0, 1.0, 0.0, -2.0]]).T
    positions = spread_a[:, None] * true[:, 0] + spread_b[:, None] * true[:, 1] / 2 + noise
    return SyntheticBook(tuple(symbols), prices, np.round(positions, -3), true)


def write_samples(folder: Path) -> None:
    """Write the synthetic FX book as ``fx_prices.csv`` and ``fx_positions.csv``."""
    book = synthetic_fx()
    header = ["time", *book.symbols]
    for name, table, fmt in (
        ("fx_prices.csv", book.prices, "{:.6f}"),
        ("fx_positions.csv", book.positions, "{:.0f}"),
    ):
        lines = [",".join(header)]
        lines += [",".join([str(t), *(fmt.format(v) for v in row)]) for t, row in enumerate(table)]
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_samples(Path(__file__).resolve().parent.parent / "config" / "samples")
