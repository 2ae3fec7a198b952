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
        def rows(self, paths, epochs, **kw):
            calls.append(len(paths))
            return super().rows(paths, epochs, **kw)

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


# -- agreement beyond kappa: CAPA and decision-margin consistency --------------------------------------------------

@pytest.fixture
def classes_study(tmp_path):
    """Five networks over 7 classes, epochs 0..3; four store margins, the last (an import) none.
    Wrong answers share classes often (a common confusion) so CAPA differs from kappa."""
    rng = np.random.default_rng(3)
    c, n = 7, 300
    targets = rng.integers(0, c, n)
    ids = np.array([f"img{i:04d}" for i in range(n)])
    confusion = (targets + 1) % c
    makers, data = [], {}
    for m in range(5):
        right = rng.random((EPOCHS, n)) < (0.3 + 0.15 * np.arange(EPOCHS))[:, None]
        wrong = np.where(rng.random((EPOCHS, n)) < 0.6, confusion, rng.integers(0, c, (EPOCHS, n)))
        wrong = np.where(wrong == targets, (targets + 2) % c, wrong)
        preds = np.where(right, targets, wrong)
        preds[:, :5] = -1 if m == 2 else preds[:, :5]  # no answers agree with nothing
        margins = np.where(right, 1, -1) * rng.gamma(2, 1, (EPOCHS, n)) + rng.normal(0, 0.3, n)
        path = tmp_path / f"net{m}.h5"
        write_decisions(path, preds, targets, ids, recipe={}, attrs={"class_names": list("abcdefg")},
                        margins=margins if m < 4 else None)
        makers.append(DecisionMaker(f"net{m}", "c", str(path), EPOCHS - 1))
        data[f"net{m}"] = (preds, margins.astype(np.float16) if m < 4 else None)
    return makers, data, targets, ids


@pytest.mark.parametrize("overlap", [True, False])
def test_agreement_columns_match_the_pair_functions(classes_study, overlap):
    from ddd.analysis.agreement import capa, margin_consistency, same_wrong_share
    makers, data, targets, ids = classes_study
    n = len(ids)
    sub = np.random.default_rng(4).random(n) < 0.4
    other = (np.arange(n) % 5 == 0) & (overlap | ~sub)
    frame = pd.concat(iter_pairs(makers, subsets={"sub": sub, "other": other}))
    assert list(frame.columns) == list(COLUMNS)
    for row in frame.itertuples():
        mask = {"all": np.ones(n, bool), "sub": sub, "other": other}[row.subset]
        (pa, ma), (pb, mb) = data[row.a], data[row.b]
        a, b = pa[row.epoch][mask], pb[row.epoch][mask]
        assert row.capa == pytest.approx(capa(a, b, targets[mask], n_classes=7), abs=1e-12)
        assert row.agree_obs == pytest.approx(np.mean(a == b) - np.mean((a == b) & (a == -1)), abs=1e-12)
        assert row.same_wrong == pytest.approx(same_wrong_share(a, b, targets[mask]), abs=1e-12, nan_ok=True)
        if ma is None or mb is None:
            assert row.margin_n == 0 and np.isnan(row.margin_consistency)
        else:
            assert row.margin_n == mask.sum()
            want = margin_consistency(ma[row.epoch][mask], mb[row.epoch][mask])
            assert row.margin_consistency == pytest.approx(want, abs=1e-5)
    # the same numbers from all_pairs' TSV, and kappa untouched by the new columns
    assert frame.capa.notna().all() and (frame.capa != frame.kappa).any()


def test_capa_needs_the_number_of_classes(study, classes_study, tmp_path, caplog):
    makers, *_ = study  # written without class_names: C unknown
    with caplog.at_level("INFO", logger="ddd.analysis.engine"):
        frame = pd.concat(iter_pairs(makers, epochs=[3]))
    assert frame.capa.isna().all() and frame.capa_c_exp.isna().all() and frame.agree_obs.notna().all()
    assert "pass n_classes" in caplog.text and "have no stored margins" in caplog.text
    given = pd.concat(iter_pairs(makers, epochs=[3], n_classes=7))
    assert given.capa.notna().all()
    np.testing.assert_array_equal(given.kappa.to_numpy(), frame.kappa.to_numpy())
    with pytest.raises(ValueError, match="n_classes=3, but .* has 7 classes"):
        list(iter_pairs(classes_study[0], n_classes=3))
    other = classes_study[0][0]
    preds, _ = classes_study[1]["net0"]
    write_decisions(tmp_path / "eight.h5", preds, classes_study[2], classes_study[3], recipe={},
                    attrs={"class_names": list("abcdefgh")})
    with pytest.raises(ValueError, match="different numbers of classes"):
        list(iter_pairs([other, DecisionMaker("eight", "c", str(tmp_path / "eight.h5"), 3)]))


def test_pairs_tables_written_before_the_agreement_columns_are_read(tmp_path, study):
    from ddd.results.pairs import AGREEMENT_PAIR_COLUMNS, KAPPA_PAIR_COLUMNS
    makers, *_ = study
    all_pairs(makers, pairs_path=tmp_path / "pairs.tsv", epochs=[0], p_value=True)
    new = read_pairs(tmp_path / "pairs.tsv")
    old = pd.read_csv(tmp_path / "pairs.tsv", sep="\t")[[*KAPPA_PAIR_COLUMNS, "p_value"]]
    old.to_csv(tmp_path / "old.tsv", sep="\t", index=False, na_rep="NaN")
    back = read_pairs(tmp_path / "old.tsv")
    assert list(back.columns) == [*COLUMNS, "p_value"]
    assert back[[c for c in AGREEMENT_PAIR_COLUMNS if c != "margin_n"]].isna().all().all()
    assert (back.margin_n == 0).all()
    pd.testing.assert_frame_equal(back[list(KAPPA_PAIR_COLUMNS)], new[list(KAPPA_PAIR_COLUMNS)])


def test_old_decisions_files_give_nan_margin_consistency(classes_study, tmp_path):
    """A decisions file of format version 1 (no margins, no checksums) beside version-3 files: its
    pairs get CAPA (its class_names give C) and NaN margin consistency."""
    import h5py
    import json
    makers, data, targets, ids = classes_study
    preds, _ = data["net1"]
    old = tmp_path / "old.h5"
    with h5py.File(old, "w") as f:  # as format version 1 wrote it
        f.create_dataset("predictions", data=preds.astype(np.int16), compression="gzip")
        f.create_dataset("targets", data=targets.astype(np.int16))
        f.create_dataset("image_ids", data=ids.tolist(), dtype=h5py.string_dtype())
        f.create_dataset("epochs", data=np.arange(len(preds), dtype=np.int64))
        f.attrs.update({"format": "ddd-decisions", "format_version": 1, "recipe": "{}",
                        "class_names": json.dumps(list("abcdefg")),
                        "json_attrs": json.dumps(["recipe", "class_names"])})
    frame = pd.concat(iter_pairs([makers[0], DecisionMaker("old", "c", str(old), 3), makers[1]]))
    with_old = frame[(frame.a == "old") | (frame.b == "old")]
    assert with_old.margin_consistency.isna().all() and (with_old.margin_n == 0).all()
    assert with_old.capa.notna().all()
    same = frame[(frame.a == "old") & (frame.b == "net1")]  # the old file holds net1's predictions
    assert (same.capa == 1.0).all() and (same.kappa == 1.0).all()
    assert frame[(frame.a == "net0") & (frame.b == "net1")].margin_consistency.notna().all()


def test_agreement_can_be_left_out(classes_study):
    """agreement=False: correctness only (the bit-packed reader), the same kappa, the agreement columns empty."""
    makers, *_ = classes_study
    full = pd.concat(iter_pairs(makers, p_value=True))
    fast = pd.concat(iter_pairs(makers, p_value=True, agreement=False))
    assert list(fast.columns) == list(full.columns)
    kappa_cols = [c for c in COLUMNS if c not in ("a", "b", "subset") and c not in engine.AGREEMENT_PAIR_COLUMNS]
    np.testing.assert_array_equal(fast[kappa_cols].to_numpy(float), full[kappa_cols].to_numpy(float))
    assert fast[["agree_obs", "capa", "same_wrong", "margin_consistency"]].isna().all().all()
    assert (fast.margin_n == 0).all()


@pytest.mark.parametrize("undefined", ["nan", "mvh"])
def test_summary_alone_equals_the_summary_of_the_pairs_table(tmp_path, undefined):
    """``all_pairs`` without a pairs table summarises straight from the counts: the same numbers,
    bit for bit, as summarising the frames it writes, with groups of every size, decision makers that
    stop at different epochs, overlapping and empty subsets and undefined kappas."""
    rng = np.random.default_rng(11)
    n, makers, groups = 300, [], {}
    targets = rng.integers(0, 5, n)
    ids = [f"i{q}" for q in range(n)]
    for m in range(14):
        p = rng.uniform(0.2, 0.9, (6, 1))
        preds = np.where(rng.random((6, n)) < p, targets, (targets + 1) % 5)
        if m == 3:
            preds[:] = targets  # always right: undefined kappa with m == 4
        if m == 4:
            preds[:] = targets
        path = tmp_path / f"m{m}.h5"
        write_decisions(path, preds, targets, ids, recipe={})
        makers.append(DecisionMaker(f"m{m:02d}", "c", str(path), 5 - m % 3))
        groups[f"m{m:02d}"] = ["z", "a", "base", "a", "mid"][m % 5]
    for subsets in ({"half": np.arange(n) < n // 2, "none": np.zeros(n, bool)},
                    {"x": rng.random(n) < 0.3, "y": rng.random(n) < 0.6}, None):
        for grouping in (groups, None):
            alone = all_pairs(makers, groups=grouping, subsets=subsets, undefined=undefined)
            table = all_pairs(makers, groups=grouping, subsets=subsets, undefined=undefined,
                              pairs_path=tmp_path / "pairs.tsv")
            frames = summarize_pairs(pd.concat(iter_pairs(makers, subsets=subsets, undefined=undefined)),
                                     groups=grouping)
            pd.testing.assert_frame_equal(alone, table, check_exact=True)
            # pandas' group means over one frame or many concatenated ones differ in the last bit
            pd.testing.assert_frame_equal(alone, frames, check_exact=False, rtol=1e-12)
    assert alone.kappa_mean.notna().all() and set(alone.epoch) == {0, 1, 2, 3, 4, 5}
