"""A seeded book that was hedged in some periods and not in others, with its answers.

For the inverse question of the seed ("was this book hedged?"): the prices of
``instruments`` instruments have exactly ``vectors`` mean-reverting
combinations, each a *sparse* integer vector (two or three instruments in
ratios like ``[1, 0, −1]`` or ``[1, 2, 0, −1]``), in price **levels**:

    p_t = level + C · w_t + e_t

with ``w`` independent random walks (the common trends), ``C`` a basis of the
vectors' orthogonal complement (so ``βᵀ C = 0``) and ``e`` independent AR(1)
noise per instrument: ``βᵀ p_t = βᵀ level + βᵀ e_t`` is stationary for every
true vector ``β``, and no other combination is.

The positions alternate between periods:

* **hedged**: exactly whole lots of the true vectors, ``lot · B · ω_t`` with
  ``ω_t`` an integer random walk — a book made of them, nothing else;
* **drifting**: the same plus a free position of the size of the book, which
  walks on in whole thousands of units.

The generator knows the answers: the true vectors, and which steps were hedged.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = ["HedgedBook", "hedged_book", "write_csv"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class HedgedBook:
    """Prices, positions and the answers.

    Attributes:
        symbols: instrument names.
        prices: (time, instrument) price levels.
        positions: (time, instrument) net positions in units.
        true_vectors: (instrument, vector) the mean-reverting vectors, small
            integers, first non-zero entry positive.
        hedged: per step, whether the book was whole lots of the true vectors.
        lot: units per lot of every instrument.
    """

    symbols: tuple[str, ...]
    prices: FloatArray
    positions: FloatArray
    true_vectors: FloatArray
    hedged: NDArray[np.bool_]
    lot: float


def _sparsest_basis_is(vectors: FloatArray) -> bool:
    """True when no other vector of the span is as sparse as the sparsest true one.

    Every support ``T`` no larger than the largest true support is checked: the
    span's vectors living on ``T`` must be multiples of one true vector.
    """
    n, count = vectors.shape
    largest = max(int(np.count_nonzero(v)) for v in vectors.T)
    for size in range(1, largest + 1):
        for support in itertools.combinations(range(n), size):
            outside = [i for i in range(n) if i not in support]
            if not outside:
                continue
            rows = vectors[outside]
            null = count - int(np.linalg.matrix_rank(rows))
            if null == 0:
                continue
            if null > 1:
                return False
            _, _, right = np.linalg.svd(rows)
            candidate = vectors @ right[-1]
            matches = [
                abs(abs(float(candidate @ v)) - np.linalg.norm(candidate) * np.linalg.norm(v))
                < 1e-9 * np.linalg.norm(candidate) * np.linalg.norm(v)
                for v in vectors.T
            ]
            if not any(matches):
                return False
    return True


def _true_vectors(rng: np.random.Generator, instruments: int, vectors: int) -> FloatArray:
    while True:
        basis = np.zeros((instruments, vectors))
        for k in range(vectors):
            support = rng.choice(instruments, size=int(rng.integers(2, 4)), replace=False)
            support.sort()
            basis[support, k] = rng.choice([-2.0, -1.0, 1.0, 2.0], size=len(support))
            basis[support[0], k] = 1.0
        if np.linalg.matrix_rank(basis) == vectors and _sparsest_basis_is(basis):
            return basis


def hedged_book(
    seed: int,
    *,
    instruments: int = 5,
    vectors: int = 2,
    steps: int = 3_000,
    periods: int = 6,
    lot: float = 100_000.0,
) -> HedgedBook:
    """A book of ``steps`` steps over ``instruments`` instruments, ``vectors`` true vectors.

    The periods have random lengths (at least ``steps // (3 · periods)``) and
    alternate, starting with a hedged one.
    """
    if not 0 < vectors < instruments:
        raise ValueError("need 0 < vectors < instruments")
    rng = np.random.default_rng(seed)
    true = _true_vectors(rng, instruments, vectors)
    # Prices: common trends in the vectors' orthogonal complement, plus AR(1) noise.
    _, _, right = np.linalg.svd(true.T)
    trends = right[vectors:].T  # (instrument, instruments - vectors), orthonormal, βᵀC = 0
    walks = np.cumsum(rng.normal(0.0, 0.004, (steps, instruments - vectors)), axis=0)
    shocks = rng.normal(0.0, 0.001, (steps, instruments))
    noise = np.zeros((steps, instruments))
    for t in range(1, steps):
        noise[t] = 0.8 * noise[t - 1] + shocks[t]
    level = rng.uniform(0.8, 1.6, instruments)
    prices = level + walks @ trends.T + noise
    # Positions: whole lots of the true vectors, plus a free drift in alternate periods.
    shortest = max(1, steps // (3 * periods))
    cuts = np.sort(rng.choice(np.arange(shortest, steps - shortest), periods - 1, replace=False))
    hedged = np.zeros(steps, dtype=bool)
    for index, (start, stop) in enumerate(itertools.pairwise([0, *cuts.tolist(), steps])):
        hedged[start:stop] = index % 2 == 0
    lots = np.cumsum(rng.choice([-1, 0, 1], size=(steps, vectors), p=[0.3, 0.4, 0.3]), axis=0)
    lots += rng.integers(5, 15, vectors) * rng.choice([-1, 1], vectors)
    book = lot * lots @ true.T
    size = float(np.median(np.abs(book)))
    drift = np.zeros((steps, instruments))
    for start, stop in itertools.pairwise([0, *np.flatnonzero(np.diff(hedged)) + 1, steps]):
        if not hedged[start]:
            begin = rng.normal(0.0, size, instruments)
            walk = np.cumsum(rng.normal(0.0, 0.05 * size, (stop - start, instruments)), axis=0)
            drift[start:stop] = np.round((begin + walk) / 1_000) * 1_000
    symbols = tuple(f"X{i:02d}" for i in range(instruments))
    return HedgedBook(symbols, prices, book + drift, true, hedged, lot)


def write_csv(book: HedgedBook, folder: Path) -> tuple[Path, Path]:
    """Write ``positions.csv`` and ``prices.csv`` (``time,SYM1,...``) for ``hedge analyze``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = (folder / "positions.csv", folder / "prices.csv")
    for path, table, digits in zip(paths, (book.positions, book.prices), (0, 6), strict=True):
        data = np.column_stack([np.arange(len(table)), table])
        header = ",".join(["time", *book.symbols])
        formats = ["%d"] + [f"%.{digits}f"] * table.shape[1]
        np.savetxt(path, data, fmt=formats, delimiter=",", header=header, comments="")
    return paths
