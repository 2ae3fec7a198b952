"""Pair counts by population count (ddd.analysis.bitcount): exact against integer matrix products."""

import numpy as np
import pytest

from ddd.analysis.bitcount import both_counts, pack, pad_words
from ddd.analysis.kappa import pair_counts


def reference(c, mask=None):
    x = (c if mask is None else c[:, mask]).astype(np.int64)
    return x @ x.T


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5, 7, 8, 9, 13, 64])
@pytest.mark.parametrize("n", [1, 7, 8, 9, 63, 64, 65, 200, 1000])
def test_both_counts_equal_integer_products(m, n):
    rng = np.random.default_rng(m * 1000 + n)
    c = rng.random((m, n)) < rng.random((m, 1))
    mask = rng.random(n) < 0.4
    assert np.array_equal(both_counts(pack(c)), reference(c))
    assert np.array_equal(both_counts(pack(c), mask=pack(mask)), reference(c, mask))
    n_counted, both = pair_counts(c, mask=mask)
    assert n_counted == mask.sum() and np.array_equal(both, reference(c, mask))


def test_known_answer():
    c = np.array([[1, 1, 0, 0, 1], [1, 0, 1, 0, 1], [0, 0, 0, 0, 0]], dtype=bool)
    assert both_counts(pack(c)).tolist() == [[3, 2, 0], [2, 3, 0], [0, 0, 0]]
    mask = np.array([1, 1, 1, 0, 0], dtype=bool)
    assert both_counts(pack(c), mask=pack(mask)).tolist() == [[2, 1, 0], [1, 2, 0], [0, 0, 0]]


def test_all_ones_and_large_rows():
    c = np.ones((6, 100_003), dtype=bool)
    assert (both_counts(pack(c)) == 100_003).all()


def test_packing_matches_stored_bits():
    rng = np.random.default_rng(1)
    c = rng.random((5, 77)) < 0.5
    words = pad_words(np.packbits(c, axis=1), 77)
    assert words.shape == (5, 2) and np.array_equal(words, pack(c))
    assert np.array_equal(np.unpackbits(words.view(np.uint8), axis=1, count=77).view(bool), c)


def test_empty_and_bad_input():
    assert both_counts(np.zeros((0, 3), np.uint64)).shape == (0, 0)
    assert both_counts(pack(np.zeros((3, 0), bool))).tolist() == [[0] * 3] * 3
    with pytest.raises(ValueError, match="uint64"):
        both_counts(np.zeros((2, 3), np.int64))
    with pytest.raises(ValueError, match=r"mask must be uint64 \(3,\)"):
        both_counts(np.zeros((2, 3), np.uint64), mask=np.zeros(4, np.uint64))
    with pytest.raises(ValueError, match="bool"):
        pack(np.zeros((2, 3), np.int8))
    with pytest.raises(ValueError, match=r"uint8 \(M, 2\) for 9 images"):
        pad_words(np.zeros((2, 3), np.uint8), 9)
