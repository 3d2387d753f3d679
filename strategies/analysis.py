"""``bidgw hedge analyze``: was this book hedged, and what was it really running?

For every time step of a position history, factor out whole lots of the
mean-reverting sub-portfolios (estimated from the price history, or given) and
report the residual — the position the book was really running — and its risk
next to the raw book's. This is the seed's inverse question, answered with the
same solver as the ``mean_reversion_hedge`` strategy.
"""

from __future__ import annotations

import csv
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from strategies.lattice import Method, solve_hedge
from strategies.mean_reversion_hedge import read_history
from strategies.meanrev import covariance, johansen_vectors, pca_vectors

__all__ = ["Analysis", "analyze"]


@dataclass(frozen=True, slots=True)
class Analysis:
    symbols: list[str]
    vectors: np.ndarray  # (instrument, vector), largest entry ±1
    risk_before: np.ndarray  # per step, std of P&L over the horizon
    risk_after: np.ndarray
    residual: np.ndarray  # (step, instrument)
    lots: np.ndarray  # (step, vector)
    csv_path: Path
    chart_path: Path | None

    def summary(self) -> str:
        ratio = self.risk_after / np.where(self.risk_before > 0, self.risk_before, 1)
        lines = [
            f"instruments: {', '.join(self.symbols)}; {len(self.risk_before)} steps",
            "mean-reverting vectors (columns):",
            *(
                f"  {s:<6}" + " ".join(f"{v:+.3f}" for v in row)
                for s, row in zip(self.symbols, self.vectors, strict=True)
            ),
            f"risk (std of P&L) before: median {statistics.median(self.risk_before):,.0f}; "
            f"after: median {statistics.median(self.risk_after):,.0f}",
            f"residual risk / book risk: median {statistics.median(ratio):.3f}, "
            f"steps where the hedge removed >= half the risk: "
            f"{float(np.mean(ratio <= 0.5)):.0%}",
            "last step, really running: "
            + ", ".join(
                f"{s} {v:+,.0f}" for s, v in zip(self.symbols, self.residual[-1], strict=True)
            ),
            f"per-step table: {self.csv_path}",
            f"chart: {self.chart_path}"
            if self.chart_path
            else "chart: not written (pip install 'bidgw[plot]' for matplotlib)",
        ]
        return "\n".join(lines) + "\n"


def analyze(
    positions_csv: Path,
    prices_csv: Path,
    out_dir: Path,
    *,
    vectors: Literal["johansen", "pca"] = "johansen",
    count: int = 2,
    lot: float = 100_000,
    horizon: int = 1,
    method: Method = "exact",
) -> Analysis:
    """Hedge every step of the position history; write the table and the chart."""
    symbols, positions = read_history(positions_csv)
    price_symbols, prices = read_history(prices_csv)
    missing = [s for s in symbols if s not in price_symbols]
    if missing:
        raise ValueError(f"{prices_csv}: no prices for {', '.join(missing)}")
    prices = prices[:, [price_symbols.index(s) for s in symbols]]
    beta = johansen_vectors(prices) if vectors == "johansen" else pca_vectors(prices, count)
    if beta.shape[1] == 0:
        raise ValueError("the price history shows no cointegration (Johansen rank 0)")
    cov = covariance(prices, horizon)
    basis = lot * beta
    before, after, residuals, lots = [], [], [], []
    for book in positions:
        solution = solve_hedge(book, basis, cov, method)
        before.append(np.sqrt(solution.risk_before))
        after.append(np.sqrt(solution.risk_after))
        residuals.append(solution.residual)
        lots.append(solution.omega)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / "residual.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "step",
                "risk_before",
                "risk_after",
                *(f"lots_{k + 1}" for k in range(beta.shape[1])),
                *(f"residual_{s}" for s in symbols),
            ]
        )
        for step, (b, a, w, r) in enumerate(zip(before, after, lots, residuals, strict=True)):
            writer.writerow([step, f"{b:.2f}", f"{a:.2f}", *map(int, w), *(f"{x:.0f}" for x in r)])
    result = Analysis(
        symbols,
        beta,
        np.array(before),
        np.array(after),
        np.array(residuals),
        np.array(lots),
        csv_path,
        None,
    )
    chart = _chart(result, positions, out_dir / "chart.png")
    return Analysis(
        symbols,
        beta,
        result.risk_before,
        result.risk_after,
        result.residual,
        result.lots,
        csv_path,
        chart,
    )


def _chart(result: Analysis, positions: np.ndarray, path: Path) -> Path | None:
    try:
        import matplotlib  # noqa: PLC0415 - optional dependency

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        return None
    figure, axes = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    for index, symbol in enumerate(result.symbols):
        axes[0].plot(positions[:, index], label=symbol, linewidth=0.8)
        axes[1].plot(result.residual[:, index], label=symbol, linewidth=0.8)
    axes[0].set_title("net positions")
    axes[1].set_title(
        "residual after factoring out mean-reverting sub-portfolios "
        "(what the book was really running)"
    )
    axes[2].plot(result.risk_before, label="book", linewidth=0.8)
    axes[2].plot(result.risk_after, label="residual", linewidth=0.8)
    axes[2].set_title("risk: std of P&L over the horizon")
    for axis in axes:
        axis.legend(loc="upper left", fontsize=8)
        axis.grid(alpha=0.3)
    axes[2].set_xlabel("step")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
