"""bidgw hedge analyze on the bundled FX sample."""

from __future__ import annotations

import csv

from gateway.tools.cli import main
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
