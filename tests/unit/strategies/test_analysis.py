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


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--lot", "-5"], "argument --lot: must be in (0, 1e+12], got -5"),
        (["--lot", "1e300"], "argument --lot: must be in (0, 1e+12], got 1e300"),
        (["--horizon", "0"], "argument --horizon: must be at least 1, got 0"),
        (["--count", "0"], "argument --count: must be at least 1, got 0"),
        (["--precision", "0"], "argument --precision: must be in (0, 1], got 0"),
        (["--lot", "abc"], "argument --lot: expected a number, got 'abc'"),
    ],
)
def test_out_of_range_options_are_usage_errors(tmp_path, capsys, option, message):
    args = ["hedge", "analyze", str(SAMPLES / "fx_positions.csv"), str(SAMPLES / "fx_prices.csv")]
    with pytest.raises(SystemExit) as info:
        main([*args, "--out", str(tmp_path), *option])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("positions", "prices", "message"),
    [
        ("time,EUR,CHF\n0,1,2\n1,1e300,2\n", None, "positions.csv, line 3, EUR: '1e300' is not"),
        ("time,EUR,CHF\n0,1,2\n1,nan,2\n", None, "positions.csv, line 3, EUR: 'nan' is not a"),
        (None, "time,EUR,CHF\n0,1,2\n1,1,2.5\n2,1,2.2\n", "the price of EUR never changes"),
        (None, "time,EUR,CHF\n0,1,2\n1,1.1,2.5\n", "a risk horizon of 1 step(s) needs at least 3"),
        (None, "time,EUR,CHF\n0,1,2\n1,1.1\n2,1,2\n", "prices.csv, line 3: 2 cells, the header"),
    ],
)
def test_bad_histories_are_named_with_their_line(tmp_path, capsys, positions, prices, message):
    default = "time,EUR,CHF\n" + "".join(f"{i},{i % 3},{-(i % 2)}\n" for i in range(40))
    moving = "time,EUR,CHF\n" + "".join(
        f"{i},{1 + i % 5 / 10},{2 - i % 3 / 10}\n" for i in range(40)
    )
    (tmp_path / "positions.csv").write_text(positions or default)
    (tmp_path / "prices.csv").write_text(prices or moving)
    code = main(
        [
            "hedge",
            "analyze",
            str(tmp_path / "positions.csv"),
            str(tmp_path / "prices.csv"),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2
    assert message in capsys.readouterr().err
