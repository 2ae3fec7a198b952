"""The 1,000-decision-maker rewrites give the numbers of the implementations they replaced.

``tests/reference/`` holds frozen copies of ``ddd.analysis.differences`` and ``ddd.analysis.images``
as they were before issue 19; every column here must equal theirs exactly (NaN where they have NaN),
on small hand-made inputs with undefined κ and at moderate sizes (a 33-decision-maker study).
"""
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from reference import differences_v1 as ref_diff  # noqa: E402
from reference import images_v1 as ref_images  # noqa: E402

from ddd.analysis import differences as new_diff  # noqa: E402
from ddd.analysis import images as new_images  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))


def assert_frames_equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    for col in a.columns:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if x.dtype.kind == "f" or y.dtype.kind == "f":
            np.testing.assert_array_equal(np.asarray(x, float), np.asarray(y, float), err_msg=col)
        else:
            assert list(pd.Series(x).astype(str)) == list(pd.Series(y).astype(str)), col


def small_correct(seed: int, m: int = 7, n: int = 60) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.random(n) < 0.6
    c = np.stack([np.where(rng.random(n) < rng.uniform(0.2, 0.9), base, rng.random(n) < 0.6) for _ in range(m)])
    c[m - 1] = True          # always right: κ with it is 0 or undefined in resamples
    c[m - 2, : n // 2] = True
    return c


@pytest.mark.parametrize("undefined", ["nan", "mvh"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kappa_differences_equal_the_reference(seed, undefined):
    c = small_correct(seed)
    m, n = c.shape
    sub = np.random.default_rng(seed + 10).random(n) < 0.4
    first = [(0, 1), (0, 2), (0, 3), (1, 2), (4, 0), (0, 6), (2, 3), (5, 6), (0, 1), (3, 4)]
    second = [(0, 2), (0, 3), (1, 2), (1, 3), (0, 5), (0, 5), (2, 3), (6, 5), (0, 1), (1, 2)]
    fs = ["all", "sub", "all", "sub", "all", "all", "sub", "all", "sub", "all"]
    ss = ["all", "sub", "all", "sub", "all", "all", "all", "all", "all", "sub"]
    kw = dict(first_subset=fs, second_subset=ss, subsets={"sub": sub}, n_boot=57, n_perm=43, seed=seed,
              undefined=undefined)
    assert_frames_equal(new_diff.kappa_differences(c, first, second, **kw),
                        ref_diff.kappa_differences(c, first, second, **kw))


def test_kappa_differences_of_one_comparison_and_no_permutations():
    c = small_correct(3)
    for kw in (dict(n_boot=2, n_perm=0), dict(n_boot=31, n_perm=5)):
        assert_frames_equal(new_diff.kappa_differences(c, [(0, 1)], [(0, 2)], **kw),
                            ref_diff.kappa_differences(c, [(0, 1)], [(0, 2)], **kw))


@pytest.mark.parametrize("seed", [0, 1])
def test_condition_differences_equal_the_reference(seed):
    c = small_correct(seed, m=9, n=80)
    sub = np.random.default_rng(seed).random(80) < 0.5
    conditions = {"a": [(0, 1), (0, 2), (0, 3)], "b": [(0, 4), (0, 8)], "c": [(0, 5)], "d": [(6, 7)]}
    kw = dict(subsets={"sub": sub}, n_boot=77, seed=seed)
    for got, want in zip(new_diff.condition_differences(c, conditions, **kw),
                         ref_diff.condition_differences(c, conditions, **kw)):
        assert_frames_equal(got, want)


def study(n_images: int, seed: int = 0):
    from differences import synthetic_study  # benchmarks/differences.py

    return synthetic_study(n_images, seed=seed)


@pytest.mark.parametrize("n_images,n_boot,n_perm", [(300, 40, 30), (3000, 120, 100)])
def test_study_differences_equal_the_reference_at_33_decision_makers(n_images, n_boot, n_perm):
    c, names, comps, in_between = study(n_images)
    kw = dict(in_between=in_between, n_boot=n_boot, n_perm=n_perm)
    for got, want in zip(new_diff.study_differences(c, names, comps, **kw),
                         ref_diff.study_differences(c, names, comps, **kw)):
        assert_frames_equal(got, want)


def test_study_differences_equal_the_reference_with_undefined_kappa():
    c, names, comps, in_between = study(200, seed=3)
    c[5] = True  # a run right everywhere: κ with it is 0, its resamples undefined where the base is too
    c[0, :150] = True
    kw = dict(in_between=in_between, n_boot=33, n_perm=21, undefined="nan")
    for got, want in zip(new_diff.study_differences(c, names, comps, **kw),
                         ref_diff.study_differences(c, names, comps, **kw)):
        assert_frames_equal(got, want)


# ---------------------------------------------------------------- images.tsv

def write_networks(root, n_networks: int, n_images: int, epochs: int, seed: int = 0, classes: int = 6):
    """Decisions files with learning and forgetting, a few with more epochs, a pair of identical ones."""
    from ddd.analysis.summary import summarize
    from ddd.results.decisions import write_decisions
    from ddd.results.study import write_split

    rng = np.random.default_rng(seed)
    targets = rng.integers(0, classes, n_images)
    ids = [f"img{i:05d}" for i in range(n_images)]
    entries, prev = [], None
    for k in range(n_networks):
        e = epochs + (3 if k == 0 else 0)
        learned = rng.integers(0, e + 2, n_images)
        correct = (np.arange(e + 1)[:, None] >= learned[None, :]) & (rng.random((e + 1, n_images)) > 0.15)
        wrong = (targets[None, :] + rng.integers(1, classes, (e + 1, n_images))) % classes
        preds = np.where(correct, targets[None, :], wrong)
        if k == 2:
            preds = prev  # identical to network 1: merged as a decision maker
        prev = preds
        path = os.path.join(root, f"n{k:02d}.h5")
        write_decisions(path, preds, targets, ids, recipe={"test": True})
        entries.append({"name": f"n{k:02d}", "condition": "c", "path": path, "epoch": e if k == 0 else epochs})
        if k == 0:  # the base also as decision maker at the nominal epoch (same file)
            entries.append({"name": "n00_at_e", "condition": "plus", "path": path, "epoch": epochs})
    _, split, _ = summarize(entries, study="t")
    write_split(split, os.path.join(root, "split.tsv"))
    return entries


@pytest.mark.parametrize("n_networks,n_images,epochs", [(6, 200, 5), (40, 1500, 12), (5, 9001, 4)])
def test_image_table_equals_the_reference(tmp_path, n_networks, n_images, epochs):
    from ddd.results.study import read_split

    entries = write_networks(str(tmp_path), n_networks, n_images, epochs)
    split = read_split(tmp_path / "split.tsv")
    got, got_info = new_images.image_table(entries, split)
    want, want_info = ref_images.image_table(entries, split)
    assert_frames_equal(got, want)
    assert got_info == want_info


def test_most_frequent_equals_the_reference():
    rng = np.random.default_rng(5)
    p = rng.integers(-1, 7, (60, 900))
    mask = rng.random(p.shape) < 0.6
    mask[:, :5] = False
    for kw in ({}, {"mask": mask}):
        for got, want in zip(new_images.most_frequent(p, **kw), ref_images.most_frequent(p, **kw)):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("cells", [57 * 3, 57 * 5, 57 * 16])
def test_small_blocks_give_the_same_numbers(monkeypatch, cells):
    """Batches of keys, comparisons across batches and blocks of one column: still the reference's numbers."""
    monkeypatch.setattr(new_diff, "_BLOCK_CELLS", cells)
    c, names, comps, in_between = study(240, seed=1)
    kw = dict(in_between=in_between, n_boot=57, n_perm=43)
    for got, want in zip(new_diff.study_differences(c, names, comps, **kw),
                         ref_diff.study_differences(c, names, comps, **kw)):
        assert_frames_equal(got, want)
    c = small_correct(4, m=8)
    rng = np.random.default_rng(0)
    first, second = rng.integers(0, 8, (25, 2)), rng.integers(0, 8, (25, 2))
    keep = (first[:, 0] != first[:, 1]) & (second[:, 0] != second[:, 1])
    kw = dict(n_boot=57, n_perm=43, seed=3)
    assert_frames_equal(new_diff.kappa_differences(c, first[keep], second[keep], **kw),
                        ref_diff.kappa_differences(c, first[keep], second[keep], **kw))


def test_rasch_difficulty_equals_the_reference_fit_of_every_image():
    from girth import rasch_mml

    from ddd.analysis.irt import rasch_difficulty

    rng = np.random.default_rng(2)
    c = rng.random((15, 700)) < rng.random(700)[None, :]
    diff, status, _ = rasch_difficulty(c)
    k = c.sum(axis=0)
    inner = (k > 0) & (k < 15)
    every = np.asarray(rasch_mml(c[:, inner].T.astype(int))["Difficulty"], dtype=float)
    fitted = status[inner] == "fitted"
    np.testing.assert_array_equal(diff[inner][fitted], every[fitted])
    assert fitted.sum() > 500


# ---------------------------------------------------------------- pair bootstrap (uncertainty.tsv)

@pytest.mark.parametrize("cells", [None, 3 * 57, 5 * 57])
@pytest.mark.parametrize("m,n,undefined", [(2, 300, "nan"), (9, 700, "nan"), (13, 2000, "mvh"), (7, 90_001, "nan")])
def test_pair_bootstrap_by_blocks_equals_the_reference(monkeypatch, cells, m, n, undefined):
    """pairwise(ci=...) summarises the resampled kappas a block of pairs at a time (blocks of 2 to 5 pairs
    here, and the default): the same numbers as holding them all, including undefined kappas."""
    from reference import uncertainty_v1 as ref_unc

    from ddd.analysis import uncertainty

    if cells is not None:
        monkeypatch.setattr(uncertainty, "_BOOT_CELLS", cells)
    rng = np.random.default_rng(m * n)
    c = rng.random((m, n)) < rng.uniform(0.2, 0.9, (m, 1))
    c[1] = True  # 100 % right: undefined with another 100 % right resample, 0 otherwise
    if m > 2:
        c[2] = c[1]
    n_boot = 57 if n < 10_000 else 12
    got = uncertainty.pairwise(c, ci=0.9, n_boot=n_boot, seed=4, undefined=undefined)
    i, j = np.triu_indices(m, k=1)
    want = ref_unc._summarise_boot(ref_unc._bootstrap_kappas(c, i, j, n_boot=n_boot, seed=4, undefined=undefined),
                                   0.9)
    for col, values in want.items():
        np.testing.assert_array_equal(got[col].to_numpy(), values, err_msg=col)
