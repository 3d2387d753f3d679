"""History files: every problem is refused with the file, line and column named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from strategies.history import (
    HistoryError,
    check_prices,
    estimation_error,
    horizon_problem,
    read_history,
)
from strategies.meanrev import johansen_vectors

GOOD = "time,EUR,CHF\n0,1.10,1.05\n1,1.11,1.04\n2,1.12,1.06\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prices.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_reads_as_symbols_and_a_float_table(tmp_path):
    symbols, data = read_history(write(tmp_path, GOOD))
    assert symbols == ["EUR", "CHF"]
    assert data.tolist() == [[1.10, 1.05], [1.11, 1.04], [1.12, 1.06]]


def test_blank_lines_and_a_byte_order_mark_are_allowed(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.replace("\n1,", "\n\n1,").encode() + b"\n\n")
    symbols, data = read_history(path)
    assert symbols == ["EUR", "CHF"]
    assert data.shape == (3, 2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "prices.csv: empty; expected a header 'time,SYM1,SYM2,...'"),
        ("time\n0\n1\n", "prices.csv, line 1: the header names no instrument"),
        ("time,EUR,,CHF\n0,1,2,3\n1,1,2,3\n", "prices.csv, line 1, column 3: no instrument"),
        (
            "time,EUR,EUR\n0,1,2\n1,1,2\n",
            "prices.csv, line 1: EUR is named twice (columns 2 and 3)",
        ),
        ("time,EUR,CHF\n0,1,2\n", "prices.csv: 1 row(s) after the header; at least two"),
        ("time,EUR,CHF\n0,1,2\n1,1\n2,1,2\n", "prices.csv, line 3: 2 cells, the header has 3"),
        ("time,EUR,CHF\n0,1,2\n1,1,abc\n", "prices.csv, line 3, CHF: 'abc' is not a number"),
        ("time,EUR,CHF\n0,1,2\n1,,2\n", "prices.csv, line 3, EUR: '' is not a number"),
        ("time,EUR,CHF\n0,1,2\n\n1,nan,2\n", "prices.csv, line 4, EUR: 'nan' is not a finite"),
        ("time,EUR,CHF\n0,1,-inf\n1,1,2\n", "prices.csv, line 2, CHF: '-inf' is not a finite"),
    ],
)
def test_each_problem_is_named_with_its_line_and_column(tmp_path, text, message):
    with pytest.raises(HistoryError) as info:
        read_history(write(tmp_path, text), name="prices.csv")
    assert str(info.value).startswith(message), info.value


def test_messages_name_the_path_by_default(tmp_path):
    path = write(tmp_path, "time,EUR\n0,x\n1,2\n")
    with pytest.raises(HistoryError, match=f"^{path}, line 2, EUR"):
        read_history(path)


def test_a_limit_refuses_values_past_it_and_still_says_not_finite(tmp_path):
    path = write(tmp_path, "time,EUR,CHF\n0,1,2\n1,-1e300,2\n")
    with pytest.raises(HistoryError, match=r"line 3, EUR: '-1e300' is not within ±1e\+15"):
        read_history(path, name="p", limit=1e15)
    assert read_history(path, name="p", limit=1e300)[1][1, 0] == -1e300
    with pytest.raises(HistoryError, match="'nan' is not a finite number"):
        read_history(write(tmp_path, "time,EUR\n0,1\n1,nan\n"), limit=1e15)


def test_a_price_that_never_moves_is_refused_by_name():
    prices = np.array([[1.0, 2.0, 3.0], [1.0, 2.5, 3.0], [1.0, 2.0, 3.0]])
    with pytest.raises(HistoryError, match=r"^p\.csv: the prices of EUR, GBP never change"):
        check_prices("p.csv", ["EUR", "CHF", "GBP"], prices)
    with pytest.raises(HistoryError, match=r"the price of EUR never changes; its risk"):
        check_prices("p.csv", ["EUR", "CHF"], prices[:, :2])
    check_prices("p.csv", ["CHF"], prices[:, 1:2])


def test_the_horizon_needs_two_changes():
    assert horizon_problem("p.csv", 4, 2) is None
    assert horizon_problem("p.csv", 3, 2) == (
        "p.csv has 3 rows of prices; a risk horizon of 2 step(s) needs at least 4"
    )
    assert horizon_problem("p.csv", 100, 0) == "the risk horizon must be at least 1 step, got 0"


def test_a_singular_estimate_is_explained_with_the_files_shape():
    prices = np.array([[1.0, 2.0, 3.0, 4.0], [1.1, 2.2, 3.1, 4.3], [1.2, 2.1, 3.3, 4.1]])
    with pytest.raises(np.linalg.LinAlgError) as info:
        johansen_vectors(prices)
    error = estimation_error("p.csv", prices, info.value)
    assert str(error).startswith(
        "p.csv: cannot estimate mean-reverting vectors from 3 rows of 4 instruments ("
    )
    assert "many more rows than instruments" in str(error)
