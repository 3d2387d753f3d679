"""The seed's inverse question, answered on books whose answer is known.

:func:`strategies.synthetic.hedged_book` makes a seeded book over 5 FX-like
instruments whose prices have two sparse mean-reverting vectors in price
levels; the positions are exactly whole lots of those vectors in alternate
periods ("hedged") and drift freely in the others. ``bidgw hedge analyze``
(default: Johansen, then sparse vectors) must say which periods were hedged
and recover the vectors.

Tolerances: the recovered vectors are the true integer vectors exactly (up to
sign: same support, same ratios); the residual risk / book risk has median
<= 0.02 over the hedged steps and >= 0.5 over the drifting ones, per seed.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from gateway.tools.cli import main
from strategies.analysis import analyze
from strategies.lattice import HedgeLattice
from strategies.meanrev import covariance, johansen_vectors
from strategies.synthetic import hedged_book, write_csv

SEEDS = [0, 1, 2, 3, 4, 5]


def as_set(vectors: np.ndarray) -> set[tuple[int, ...]]:
    """Integer vectors up to sign: first non-zero entry made positive."""
    out = set()
    for column in np.asarray(vectors).T:
        v = np.rint(column).astype(int)
        out.add(tuple(int(x) for x in v * np.sign(v[np.flatnonzero(v)[0]])))
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_the_generator_knows_its_answers(seed):
    book = hedged_book(seed)
    true = book.true_vectors
    assert true.shape == (5, 2)
    assert all(2 <= np.count_nonzero(v) <= 3 for v in true.T)
    # Hedged steps are whole lots of the true vectors, drifting ones are not.
    lots, *_ = np.linalg.lstsq(book.lot * true, book.positions.T, rcond=None)
    exact = np.all(np.abs(book.lot * true @ np.rint(lots) - book.positions.T) < 1e-6, axis=0)
    assert np.array_equal(exact, book.hedged)
    assert 0.2 < book.hedged.mean() < 0.8
    # The true spreads revert (Johansen finds rank 2); every price alone wanders.
    assert johansen_vectors(book.prices).shape[1] == 2
    spreads = book.prices @ true
    assert spreads.std(axis=0).max() < 0.2 * book.prices.std(axis=0).min()


@pytest.mark.parametrize("seed", SEEDS)
def test_hedged_periods_come_out_hedged_and_the_vectors_are_recovered(seed, tmp_path):
    book = hedged_book(seed)
    positions, prices = write_csv(book, tmp_path)
    result = analyze(positions, prices, tmp_path / "out", lot=book.lot, chart=False)
    assert as_set(result.vectors) == as_set(book.true_vectors)
    assert all(v.sparse for v in result.hedge_vectors)
    ratio = result.ratio
    assert np.median(ratio[book.hedged]) <= 0.02
    assert np.median(ratio[~book.hedged]) >= 0.5
    assert result.optimal.all()


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_a_dense_basis_of_the_same_space_leaves_a_lattice_remainder(seed, tmp_path):
    """Why sparse is the default: whole lots of the true vectors are not whole lots of
    a dense basis, so the dense analysis never sees the hedged periods as flat."""
    book = hedged_book(seed)
    dense = johansen_vectors(book.prices)
    history = HedgeLattice(book.lot * dense, covariance(book.prices)).solve_many(book.positions)
    steps = book.hedged & (history.risk_before > 0)
    ratio = np.sqrt(history.risk_after[steps] / history.risk_before[steps])
    assert np.median(ratio) > 0.005  # sparse: exactly 0


def test_hedge_analyze_prints_each_vector_with_support_weights_and_half_life(tmp_path, capsys):
    book = hedged_book(2)
    positions, prices = write_csv(book, tmp_path)
    code = main(["hedge", "analyze", str(positions), str(prices), "--out", str(tmp_path / "o")])
    out = capsys.readouterr().out
    assert code == 0
    # "  1. X01 +1, X03 -2 (half-life 3.2 steps, ADF p 0.001)"
    lines = re.findall(r"^  \d+\. (.+) \(half-life ([\d.]+) steps, ADF p ([\d.e-]+)\)$", out, re.M)
    assert len(lines) == 2
    printed = np.zeros((5, 2))
    for k, (terms, life, pvalue) in enumerate(lines):
        for term in terms.split(", "):
            symbol, weight = term.split()
            printed[book.symbols.index(symbol), k] = int(weight)
        assert 1 < float(life) < 10
        assert float(pvalue) < 0.05
    assert as_set(printed) == as_set(book.true_vectors)
    assert "fully hedged (ratio <= 0.02)" in out
