"""bidgw hedge analyze on the bundled FX sample; its progress bar, chart and limits."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from gateway.tools.cli import main
from strategies.analysis import _envelope, analyze
from strategies.commands import ProgressBar
from strategies.meanrev import johansen_vectors
from tests.conftest import SAMPLES


def test_analyze_writes_table_and_chart_and_reduces_risk(tmp_path, capsys):
    code = main(
        [
            "hedge",
            "analyze",
            str(SAMPLES / "fx_positions.csv"),
            str(SAMPLES / "fx_prices.csv"),
            "--out",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "EUR, JPY, CHF, GBP; 750 steps" in out
    with (tmp_path / "residual.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 750
    before = sorted(float(r["risk_before"]) for r in rows)
    after = sorted(float(r["risk_after"]) for r in rows)
    # Factoring out the mean-reverting spreads never adds risk and halves it at the median.
    assert all(float(r["risk_after"]) <= float(r["risk_before"]) + 1e-6 for r in rows)
    assert after[375] < 0.75 * before[375]
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_analyze_reports_missing_prices(tmp_path, capsys):
    prices = tmp_path / "prices.csv"
    prices.write_text("time,EUR\n0,1\n1,1.1\n2,1.2\n")
    code = main(
        ["hedge", "analyze", str(SAMPLES / "fx_positions.csv"), str(prices), "--out", str(tmp_path)]
    )
    assert code == 2
    assert "no prices for JPY, CHF, GBP" in capsys.readouterr().err


def test_progress_reaches_the_total_and_the_bar_ends_its_line(tmp_path):
    calls: list[tuple[int, int]] = []
    analyze(
        SAMPLES / "fx_positions.csv",
        SAMPLES / "fx_prices.csv",
        tmp_path,
        progress=lambda done, total: calls.append((done, total)),
        chart=False,
    )
    assert calls[-1] == (750, 750)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    stream = io.StringIO()
    bar = ProgressBar(stream, width=10)
    bar(5, 10)
    bar(10, 10)
    assert stream.getvalue() == (
        "\rhedging [#####.....]  50% 5/10\rhedging [##########] 100% 10/10\n"
    )


def test_the_chart_downsampling_keeps_every_peak():
    rng = np.random.default_rng(0)
    series = np.cumsum(rng.normal(size=100_000))
    series[31_337] = 1e6  # a one-step spike must survive
    x, y = _envelope(series, 1_500)
    assert len(x) == 3_000
    assert y.max() == 1e6
    assert y.min() == series.min()
    assert np.all(np.diff(x) >= 0)
    assert np.array_equal(y, series[x.astype(int)])
    short = np.arange(10.0)
    assert np.array_equal(_envelope(short, 1_500)[1], short)


def test_johansen_refuses_more_instruments_than_its_tables(tmp_path):
    prices = np.cumsum(np.random.default_rng(1).normal(size=(300, 13)), axis=0)
    with pytest.raises(ValueError, match="stop at 12 instruments"):
        johansen_vectors(prices)
