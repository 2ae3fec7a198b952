import dataclasses

import numpy as np
import pandas as pd
import pytest

import ddd.analysis.engine as engine
from ddd.analysis.uncertainty import p_values_from_counts, pairwise
from ddd.results.decisions import EpochReader, read_correct_rows, read_ids_epochs, write_decisions
from ddd.analysis.engine import COLUMNS, SUMMARY_COLUMNS, all_pairs, iter_pairs, summarize_pairs
from ddd.experiment.makers import DecisionMaker
from ddd.results.pairs import read_pairs, read_pairs_summary

N, EPOCHS = 400, 4


@pytest.fixture
def study(tmp_path):
    """Five runs with epochs 0..3 (accuracy rising with the epoch) and their correctness."""
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 7, N)
    ids = np.array([f"img{i:04d}" for i in range(N)])
    correct, makers = {}, []
    for m in range(5):
        right = rng.random((EPOCHS, N)) < (0.3 + 0.15 * np.arange(EPOCHS))[:, None]
        right[:, :50] = right[0, :50]  # some shared structure
        preds = np.where(right, targets, (targets + 1 + m) % 7)
        path = tmp_path / f"run{m}.h5"
        write_decisions(path, preds, targets, ids, recipe={})
        correct[f"run{m}"] = right
        makers.append(DecisionMaker(f"run{m}", "c", str(path), EPOCHS - 1))
    return makers, correct, ids, targets


@pytest.mark.parametrize("overlap", [True, False])  # disjoint subsets: "all" = their sum + the rest
def test_matches_pairwise_every_epoch_and_subset(study, overlap):
    makers, correct, ids, _ = study
    rng = np.random.default_rng(1)
    sub = rng.random(N) < 0.3
    few = np.isin(ids, ids[:7]) if overlap else np.isin(ids, ids[~sub][:7])
    frame = pd.concat(iter_pairs(makers, subsets={"in_between": sub, "few": ids[few].tolist()}, p_value=True))
    assert list(frame.columns) == [*COLUMNS, "p_value", "p_alternative"]
    assert len(frame) == EPOCHS * 3 * 10
    names = [m.name for m in makers]
    for (epoch, subset), block in frame.groupby(["epoch", "subset"], sort=False):
        mask = {"all": np.ones(N, bool), "in_between": sub, "few": few}[subset]
        c = np.stack([correct[n][epoch] for n in names])[:, mask]
        ref = pairwise(c, names=names, p_value=True)
        assert block.a.astype(str).tolist() == ref.a.tolist() and block.b.astype(str).tolist() == ref.b.tolist()
        cols = [c for c in ref.columns[2:] if c != "p_alternative"]
        np.testing.assert_array_equal(block[cols].to_numpy(float), ref[cols].to_numpy(float))  # bit for bit
        assert (block.p_alternative == "greater").all()


def test_epochs_up_to_each_makers_own_and_streaming(study, monkeypatch):
    makers, correct, *_ = study
    calls = []

    class Spy(EpochReader):
        def read(self, paths, epochs, *, out=None):
            calls.append(len(paths))
            return super().read(paths, epochs, out=out)

    monkeypatch.setattr(engine, "EpochReader", Spy)
    short = dataclasses.replace(makers[3], epoch=1)  # run3's history up to its epoch 1 only
    frame = pd.concat(iter_pairs([*makers[:3], short]))
    assert calls == [4, 4, 3, 3]  # one read of one row per decision maker per epoch
    assert frame.groupby("epoch").size().to_dict() == {0: 6, 1: 6, 2: 3, 3: 3}
    assert set(pd.concat(iter_pairs(makers, epochs=[3])).epoch) == {3}
    with pytest.raises(ValueError, match="fewer than 2"):
        list(iter_pairs([makers[0], short], epochs=[3]))


def test_empty_subset_and_undefined(tmp_path, study):
    makers, *_ = study
    ids = np.array([f"i{k}" for k in range(6)])
    for name in ("p1", "p2"):
        write_decisions(tmp_path / f"{name}.h5", np.zeros((1, 6), int), np.zeros(6, int), ids, recipe={})
    write_decisions(tmp_path / "half.h5", np.array([[0, 0, 0, 1, 1, 1]]), np.zeros(6, int), ids, recipe={})
    mk = [DecisionMaker(n, n, str(tmp_path / f"{n}.h5"), 0) for n in ("p1", "p2", "half")]
    frame = pd.concat(iter_pairs(mk, subsets={"none": np.zeros(6, bool)}, p_value=True))
    empty = frame[frame.subset == "none"]
    assert (empty.n == 0).all() and empty.kappa_undefined.all()
    assert empty[["kappa", "p_a", "p_value"]].isna().all().all()
    both = frame[(frame.subset == "all") & (frame.a == "p1") & (frame.b == "p2")].iloc[0]
    assert both.kappa_undefined and np.isnan(both.kappa)
    assert frame[(frame.subset == "all") & (frame.b == "half")].kappa.tolist() == [0.0, 0.0]
    mvh = pd.concat(iter_pairs(mk, undefined="mvh"))
    assert mvh.kappa.tolist() == [1.0, 0.0, 0.0] and mvh.kappa_undefined.tolist() == [True, False, False]
    with pytest.raises(ValueError, match="undefined must be one of"):
        list(iter_pairs(mk, undefined="raise"))


def test_refuses_other_images_and_bad_input(tmp_path, study):
    makers, correct, ids, targets = study
    preds = np.where(correct["run0"], targets, 0)
    write_decisions(tmp_path / "shuffled.h5", preds, targets, ids[::-1], recipe={})
    write_decisions(tmp_path / "fewer.h5", preds[:, 1:], targets[1:], ids[1:], recipe={})
    with pytest.raises(ValueError, match="different order"):
        list(iter_pairs([*makers[:2], DecisionMaker("s", "c", str(tmp_path / "shuffled.h5"), 0)]))
    with pytest.raises(ValueError, match="missing from"):
        list(iter_pairs([*makers[:2], DecisionMaker("f", "c", str(tmp_path / "fewer.h5"), 0)]))
    with pytest.raises(ValueError, match="not unique"):
        list(iter_pairs([makers[0], dataclasses.replace(makers[1], name=makers[0].name)]))
    with pytest.raises(ValueError, match=r"epoch 9 not in"):
        list(iter_pairs([makers[0], dataclasses.replace(makers[1], epoch=9)]))
    with pytest.raises(ValueError, match="at least 2"):
        list(iter_pairs(makers[:1]))
    with pytest.raises(ValueError, match="shape"):
        list(iter_pairs(makers, subsets={"x": np.ones(3, bool)}))
    with pytest.raises(ValueError, match="not in the decisions files"):
        list(iter_pairs(makers, subsets={"x": ["nope"]}))
    with pytest.raises(ValueError, match="other than 'all'"):
        list(iter_pairs(makers, subsets={"all": np.ones(N, bool)}))


def test_all_pairs_writes_tables_and_group_summary(tmp_path, study):
    makers, *_ = study
    groups = {"run0": "base", "run1": "init", "run2": "init", "run3": "order", "run4": "order"}
    out = tmp_path / "consistency"
    summary = all_pairs(makers, pairs_path=out / "pairs.tsv", summary_path=out / "summary.tsv", groups=groups,
                        subsets={"half": np.arange(N) < N // 2})
    pairs = read_pairs(out / "pairs.tsv")
    assert list(pairs.columns) == list(COLUMNS) and len(pairs) == EPOCHS * 2 * 10
    assert not list(out.glob("*.tmp*"))
    back = read_pairs_summary(out / "summary.tsv")
    assert list(back.columns) == list(SUMMARY_COLUMNS) and len(back) == len(summary) == EPOCHS * 2 * 5
    again = summarize_pairs(pairs, groups=groups)  # from the TSV: same summary
    pd.testing.assert_frame_equal(again, summary, check_dtype=False, check_exact=False, rtol=1e-12)
    within = summary[(summary.group_a == "init") & (summary.group_b == "init")]
    assert (within.n_pairs == 1).all()
    cross = summary[(summary.epoch == 3) & (summary.subset == "all") & (summary.group_a == "init")
                    & (summary.group_b == "order")].iloc[0]
    sel = pairs[(pairs.epoch == 3) & (pairs.subset == "all") & pairs.a.isin(["run1", "run2"])
                & pairs.b.isin(["run3", "run4"])]
    assert cross.n_pairs == 4 and cross.kappa_mean == pytest.approx(sel.kappa.mean())
    plain = all_pairs(makers, epochs=[0])
    assert plain[["group_a", "group_b", "n_pairs"]].values.tolist() == [["all", "all", 10]]
    with pytest.raises(ValueError, match="groups has no entry"):
        all_pairs(makers, groups={"run0": "base"})


def test_p_value_column_and_header_reader(study):
    makers, *_ = study
    frame = next(iter_pairs(makers, p_value=True, alternative="two-sided"))
    k_a, k_b = np.rint(frame.p_a * frame.n).astype(int), np.rint(frame.p_b * frame.n).astype(int)
    k_ab = np.rint((frame.c_obs * frame.n - frame.n + k_a + k_b) / 2).astype(int)
    np.testing.assert_allclose(frame.p_value, p_values_from_counts(frame.n, k_a, k_b, k_ab, alternative="two-sided"))
    ids, epochs = read_ids_epochs(makers[0].path)
    assert len(ids) == N and epochs.tolist() == list(range(EPOCHS))


def test_read_correct_rows(study):
    makers, correct, *_ = study
    paths = [m.path for m in makers[:3]]
    got = read_correct_rows(paths, [3, 0, 2])
    np.testing.assert_array_equal(got, np.stack([correct["run0"][3], correct["run1"][0], correct["run2"][2]]))
    with pytest.raises(ValueError, match="out must be bool"):
        read_correct_rows(paths, [0, 0, 0], out=np.empty((3, N), dtype=np.int8))
    with pytest.raises(ValueError, match="epoch 7 not in"):
        read_correct_rows(paths, [0, 7, 0])
    with pytest.raises(ValueError, match="at least one path"):
        read_correct_rows([], [])


def test_accepts_decision_makers_as_plain_data(study):
    from ddd.experiment.makers import to_params
    makers, correct, *_ = study
    frame = pd.concat(iter_pairs(to_params(makers), epochs=[3]))
    assert set(frame.epoch) == {3} and len(frame) == 10
    names = [m.name for m in makers]
    ref = pairwise(np.stack([correct[n][3] for n in names]), names=names)
    np.testing.assert_array_equal(frame.kappa.to_numpy(), ref.kappa.to_numpy())


def test_epoch_reader_matches_rows_and_bounds_memory(study):
    makers, correct, *_ = study
    paths = [m.path for m in makers]
    reader = EpochReader()
    rng = np.random.default_rng(2)
    for _ in range(10):  # any access pattern gives the same rows as reading them one by one
        epochs = rng.integers(0, EPOCHS, len(paths))
        np.testing.assert_array_equal(reader.read(paths, epochs), read_correct_rows(paths, epochs))
    cached = sum(band[1].nbytes for band in reader._bands.values())
    assert cached <= len(paths) * N  # never more than one epoch's (M, N) bool matrix
    with pytest.raises(ValueError, match="epoch 9 not in"):
        reader.read(paths[:1], [9])


def test_unicode_image_ids(tmp_path):
    ids = np.array(["bär_1.png", "café/2.png", "日本_3.png"])
    for name, order in (("u1", [0, 1, 2]), ("u2", [0, 1, 2]), ("u3", [1, 0, 2])):
        write_decisions(tmp_path / f"{name}.h5", np.array([[0, 1, 0]]), np.zeros(3, int), ids[order], recipe={})
    mk = [DecisionMaker(n, n, str(tmp_path / f"{n}.h5"), 0) for n in ("u1", "u2", "u3")]
    assert len(pd.concat(iter_pairs(mk[:2]))) == 1
    with pytest.raises(ValueError, match="different order"):
        list(iter_pairs(mk))
