"""Sparse mean-reverting vectors: simple ratios, the half-life, the search over supports."""

from __future__ import annotations

import math

import numpy as np
import pytest

from strategies.meanrev import johansen_vectors, pca_vectors, synthetic_fx
from strategies.sparse import half_life, mean_reversion, simple_ratios, sparse_vectors


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ([0.5, 0.5, 0.0, -1.0], [1, 1, 0, -2]),
        ([-0.5, -0.5, 0.0, 1.0], [1, 1, 0, -2]),  # first non-zero weight positive
        ([1.0, 0.334], [3, 1]),  # thirds are simple too, not 0.35 on a grid
        ([0.003, 1.0, -0.998], [0, 1, -1]),  # within the precision of zero: dropped
        ([2.0, -2.0], [1, -1]),
    ],
)
def test_simple_ratios(weights, expected):
    assert simple_ratios(np.array(weights)).tolist() == expected


def test_simple_ratios_precision_and_its_limit():
    # 0.873: 7:6 (0.857) is the first within 2%, 1:1 within 20%, 47:41 within 0.1%.
    assert simple_ratios(np.array([1.0, -0.873])).tolist() == [7, -6]
    assert simple_ratios(np.array([1.0, -0.873]), precision=0.001, max_weight=60).tolist() == [
        47,
        -41,
    ]
    assert simple_ratios(np.array([1.0, -0.873]), precision=0.2).tolist() == [1, -1]
    # Nothing up to max_weight is within the precision: the closest at max_weight.
    assert simple_ratios(np.array([1.0, 0.123456]), precision=1e-6, max_weight=10).tolist() == [
        10,
        1,
    ]
    with pytest.raises(ValueError, match="zero vector"):
        simple_ratios(np.zeros(3))


def test_half_life_of_an_ar1_and_of_a_random_walk():
    rng = np.random.default_rng(1)
    shocks = rng.normal(size=20_000)
    ar = np.zeros_like(shocks)
    for t in range(1, len(ar)):
        ar[t] = 0.8 * ar[t - 1] + shocks[t]
    assert half_life(ar) == pytest.approx(math.log(2) / -math.log(0.8), rel=0.05)
    _, pvalue = mean_reversion(ar)
    assert pvalue < 1e-6
    walk_life, walk_pvalue = mean_reversion(np.cumsum(shocks))
    assert walk_pvalue > 0.05
    assert walk_life > 500
    assert mean_reversion(np.ones(50)) == (math.inf, 1.0)


@pytest.mark.parametrize("estimator", ["johansen", "pca"])
def test_fx_sample_gives_the_true_sparse_vectors(estimator):
    """The bundled FX book: EUR − CHF and EUR + JPY − 2·GBP, in whole-lot ratios."""
    book = synthetic_fx()
    basis = (
        johansen_vectors(book.prices) if estimator == "johansen" else pca_vectors(book.prices, 2)
    )
    found = sparse_vectors(book.prices, basis)
    assert [v.weights.tolist() for v in found] == [[1, 0, -1, 0], [1, 1, 0, -2]]
    assert [v.support for v in found] == [(0, 2), (0, 1, 3)]
    assert all(v.sparse and v.fit < 0.05 and v.adf_pvalue < 0.05 for v in found)
    assert all(1 < v.half_life < 10 for v in found)  # AR(1) at 0.8: about 3 steps
    assert found[0].describe(["EUR", "JPY", "CHF", "GBP"]).startswith("EUR +1, CHF -1 (half-life")


def test_a_space_that_does_not_revert_keeps_its_dense_vector_marked_dense():
    """Sparse candidates whose spread is a random walk are refused; the dense estimate stays."""
    rng = np.random.default_rng(4)
    prices = np.cumsum(rng.normal(size=(2_000, 3)), axis=0)
    basis = np.array([[1.0], [-1.0], [0.5]])  # not a mean-reverting direction
    found = sparse_vectors(prices, basis)
    assert len(found) == 1
    assert not found[0].sparse
    assert found[0].weights.tolist() == [1.0, -1.0, 0.5]
    assert found[0].adf_pvalue > 0.05
    assert "dense" in found[0].describe(["A", "B", "C"])
