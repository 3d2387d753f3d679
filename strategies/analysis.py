"""``bidgw hedge analyze``: was this book hedged, and what was it really running?

For every time step of a position history, factor out whole lots of the
mean-reverting sub-portfolios (estimated from the price history) and report
the residual — the position the book was really running — and its risk next
to the raw book's. This is the seed's inverse question, answered with the same
solver as the ``mean_reversion_hedge`` strategy.

By default the estimated space is turned into sparse vectors with simple
ratios (:mod:`strategies.sparse`): a book made of whole lots of ``[1, 0, −1]``
and ``[1, 1, 0, −2]`` is whole lots of those, and comes out hedged (residual
zero), where a dense basis of the same space leaves a lattice remainder.

The basis and covariance are the same at every step, so the lattice is
reduced once (:class:`strategies.lattice.HedgeLattice`) and each step's search
starts from the previous step's answer.
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from strategies.history import (
    HistoryError,
    check_prices,
    estimation_error,
    horizon_problem,
    read_history,
)
from strategies.lattice import HedgeLattice, Method
from strategies.meanrev import covariance, johansen_vectors, pca_vectors
from strategies.sparse import MeanRevertingVector, mean_reversion, sparse_vectors

__all__ = ["MAX_POSITION", "Analysis", "analyze", "estimate_vectors"]

FloatArray = NDArray[np.float64]

#: Largest position (units) a position history may hold: whole lots of the hedge
#: vectors then stay far inside what the lattice's doubles and int64 hold.
MAX_POSITION = 1e15

_CHART_POINTS = 1_500  # buckets per line on the chart; each keeps its low and its high


@dataclass(frozen=True, slots=True)
class Analysis:
    """What :func:`analyze` found.

    Attributes:
        symbols: instruments, in the order of the columns below.
        hedge_vectors: the mean-reverting vectors used, with their evidence.
        risk_before / risk_after: per step, standard deviation of P&L over the
            horizon of the book and of the residual.
        residual: (step, instrument) what the book was really running.
        lots: (step, vector) whole lots of each vector factored out.
        optimal: per step, whether the lots are proven the best.
        csv_path / chart_path: the files written (no chart without matplotlib).
    """

    symbols: list[str]
    hedge_vectors: list[MeanRevertingVector]
    risk_before: FloatArray
    risk_after: FloatArray
    residual: FloatArray
    lots: NDArray[np.int64]
    optimal: NDArray[np.bool_]
    csv_path: Path
    chart_path: Path | None

    @property
    def vectors(self) -> FloatArray:
        """(instrument, vector) the weights of the hedge vectors."""
        return np.array([v.weights for v in self.hedge_vectors], dtype=np.float64).T

    @property
    def ratio(self) -> FloatArray:
        """Per step, residual risk / book risk (0 for a flat book)."""
        return self.risk_after / np.where(self.risk_before > 0, self.risk_before, 1.0)

    def summary(self) -> str:
        """The text ``bidgw hedge analyze`` prints."""
        ratio = self.ratio
        lines = [
            f"instruments: {', '.join(self.symbols)}; {len(self.risk_before)} steps",
            "mean-reverting vectors (whole lots of each are factored out):",
            *(
                f"  {k + 1}. {vector.describe(self.symbols)}"
                for k, vector in enumerate(self.hedge_vectors)
            ),
            f"risk (std of P&L) before: median {statistics.median(self.risk_before):,.0f}; "
            f"after: median {statistics.median(self.risk_after):,.0f}",
            f"residual risk / book risk: median {statistics.median(ratio):.3f}, "
            f"steps where the hedge removed >= half the risk: "
            f"{float(np.mean(ratio <= 0.5)):.0%}, "
            f"fully hedged (ratio <= 0.02): {float(np.mean(ratio <= 0.02)):.0%}",
            f"lots proven optimal at {int(self.optimal.sum())} of {len(self.optimal)} steps",
            "last step, really running: "
            + ", ".join(
                f"{s} {v:+,.0f}" for s, v in zip(self.symbols, self.residual[-1], strict=True)
            ),
            f"per-step table: {self.csv_path}",
            f"chart: {self.chart_path}"
            if self.chart_path
            else "chart: not written (it needs matplotlib: pip install 'bidgw[plot]')",
        ]
        return "\n".join(lines) + "\n"


def estimate_vectors(
    prices: FloatArray,
    *,
    vectors: Literal["johansen", "pca"] = "johansen",
    count: int = 2,
    sparse: bool = True,
    precision: float = 0.02,
) -> list[MeanRevertingVector]:
    """The mean-reverting vectors of a price history.

    Johansen (rank by the sequential trace test) or the ``count``
    smallest-variance principal components estimate the space; with ``sparse``
    it is turned into sparse vectors with simple ratios, each checked for mean
    reversion (:func:`strategies.sparse.sparse_vectors`), else the dense
    estimates are used as they are (largest entry ±1).

    Raises:
        ValueError: when the history shows no mean-reverting combination.
    """
    basis = johansen_vectors(prices) if vectors == "johansen" else pca_vectors(prices, count)
    if basis.shape[1] == 0:
        raise ValueError("the price history shows no cointegration (Johansen rank 0)")
    if sparse:
        return sparse_vectors(prices, basis, precision=precision)
    found = []
    for column in basis.T:
        life, pvalue = mean_reversion(prices @ column)
        support = tuple(int(i) for i in np.flatnonzero(column))
        found.append(MeanRevertingVector(column, support, life, pvalue, 0.0, False))
    return found


def analyze(
    positions_csv: Path,
    prices_csv: Path,
    out_dir: Path,
    *,
    vectors: Literal["johansen", "pca"] = "johansen",
    count: int = 2,
    sparse: bool = True,
    precision: float = 0.02,
    lot: float = 100_000,
    horizon: int = 1,
    method: Method = "exact",
    progress: Callable[[int, int], None] | None = None,
    chart: bool = True,
) -> Analysis:
    """Hedge every step of the position history; write the table and (``chart``) the chart.

    ``progress(done, total)`` is called as the steps are solved.
    """
    symbols, positions = read_history(positions_csv, limit=MAX_POSITION)
    price_symbols, prices = read_history(prices_csv)
    missing = [s for s in symbols if s not in price_symbols]
    if missing:
        raise HistoryError(f"{prices_csv}: no prices for {', '.join(missing)}")
    prices = prices[:, [price_symbols.index(s) for s in symbols]]
    check_prices(prices_csv, symbols, prices)
    short = horizon_problem(prices_csv, len(prices), horizon)
    if short:
        raise HistoryError(short)
    try:
        found = estimate_vectors(
            prices, vectors=vectors, count=count, sparse=sparse, precision=precision
        )
    except np.linalg.LinAlgError as exc:
        raise estimation_error(prices_csv, prices, exc) from None
    beta = np.array([v.weights for v in found], dtype=np.float64).T
    lattice = HedgeLattice(lot * beta, covariance(prices, horizon))
    history = lattice.solve_many(positions, method, progress=progress)
    before = np.sqrt(history.risk_before)
    after = np.sqrt(history.risk_after)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / "residual.csv"
    _write_table(
        csv_path,
        symbols=symbols,
        before=before,
        after=after,
        lots=history.omega,
        residual=history.residual,
    )
    chart_path = (
        _chart(
            symbols,
            positions=positions,
            residual=history.residual,
            before=before,
            after=after,
            path=out_dir / "chart.png",
        )
        if chart
        else None
    )
    return Analysis(
        symbols,
        found,
        before,
        after,
        history.residual,
        history.omega,
        history.optimal,
        csv_path,
        chart_path,
    )


def _write_table(
    path: Path,
    *,
    symbols: list[str],
    before: FloatArray,
    after: FloatArray,
    lots: NDArray[np.int64],
    residual: FloatArray,
) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "step",
                "risk_before",
                "risk_after",
                *(f"lots_{k + 1}" for k in range(lots.shape[1])),
                *(f"residual_{s}" for s in symbols),
            ]
        )
        rounded = np.rint(residual).astype(np.int64).tolist()
        for step, (b, a, w, r) in enumerate(
            zip(before.tolist(), after.tolist(), lots.tolist(), rounded, strict=True)
        ):
            writer.writerow([step, f"{b:.2f}", f"{a:.2f}", *w, *r])


def _envelope(series: FloatArray, points: int) -> tuple[FloatArray, FloatArray]:
    """(x, y) of a line through each bucket's low and high: peaks survive the downsampling."""
    steps = len(series)
    if steps <= 2 * points:
        return np.arange(steps, dtype=np.float64), series
    width = -(-steps // points)
    padded = np.pad(series, (0, width * points - steps), mode="edge").reshape(points, width)
    lows, highs = padded.argmin(axis=1), padded.argmax(axis=1)
    first = np.minimum(lows, highs)
    second = np.maximum(lows, highs)
    base = np.arange(points) * width
    x = np.column_stack([base + first, base + second]).ravel()
    x = np.minimum(x, steps - 1)
    return x.astype(np.float64), series[x]


def _chart(
    symbols: list[str],
    *,
    positions: FloatArray,
    residual: FloatArray,
    before: FloatArray,
    after: FloatArray,
    path: Path,
) -> Path | None:
    try:
        import matplotlib  # noqa: PLC0415 - optional dependency

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        return None
    figure, axes = plt.subplots(3, 1, figsize=(11, 9), sharex=True)
    for index, symbol in enumerate(symbols):
        axes[0].plot(*_envelope(positions[:, index], _CHART_POINTS), label=symbol, linewidth=0.7)
        axes[1].plot(*_envelope(residual[:, index], _CHART_POINTS), label=symbol, linewidth=0.7)
    axes[0].set_title("net positions")
    axes[1].set_title(
        "residual after factoring out mean-reverting sub-portfolios "
        "(what the book was really running)"
    )
    axes[2].plot(*_envelope(before, _CHART_POINTS), label="book", linewidth=0.7)
    axes[2].plot(*_envelope(after, _CHART_POINTS), label="residual", linewidth=0.7)
    axes[2].set_title("risk: std of P&L over the horizon")
    if len(before) > 2 * _CHART_POINTS:
        axes[2].set_xlabel(
            f"step ({len(before):,} steps; each line keeps the low and the high of "
            f"every {-(-len(before) // _CHART_POINTS)} steps)"
        )
    else:
        axes[2].set_xlabel("step")
    columns = 1 + (len(symbols) - 1) // 8
    for axis in axes:
        axis.legend(loc="upper left", fontsize=7, ncol=columns)
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
