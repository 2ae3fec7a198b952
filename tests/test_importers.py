import numpy as np
import pandas as pd
import pytest

from ddd.analysis.engine import iter_pairs
from ddd.analysis.kappa import error_consistency
from ddd.config.studies import expand_files
from ddd.experiment.makers import DecisionMaker
from ddd.results.decisions import read_correct, read_decisions, read_image_info
from ddd.results.imports import (ImportFormatError, read_import_report, condition_subsets, import_files, mvh_image_key,
                                 read_condition_subsets)


def write(path, text):
    path.write_text(text)
    return str(path)


def csv_rows(rows, header="image_id,target,prediction"):
    return "\n".join([header, *(",".join(map(str, r)) for r in rows)]) + "\n"


def test_csv_aligns_by_id_and_keeps_labels(tmp_path):
    a = write(tmp_path / "model_a.csv", csv_rows([("x1", "cat", "cat"), ("x2", "dog", "cat"), ("x3", "cat", "dog")]))
    rows = [("x3", "cat", "cat", 1), ("x1", " cat", "cat ", 2), ("x2", "dog", "dog", 3)]
    b = write(tmp_path / "model_b.csv", csv_rows(rows, header=" Image_ID,TARGET , prediction,note"))  # extra ignored
    res = import_files([a, b], format="csv", out_dir=tmp_path / "out")
    assert res.names == ["model_a", "model_b"] and res.n_images == 3 and res.dropped == {"model_a": 0, "model_b": 0}
    da, db = read_decisions(res.paths[0]), read_decisions(res.paths[1])
    assert da.image_ids.tolist() == db.image_ids.tolist() == ["x1", "x2", "x3"]
    assert da.attrs["class_names"] == ["cat", "dog"] and da.targets.tolist() == [0, 1, 0]
    assert da.correct(0).tolist() == [True, False, False] and db.correct(0).tolist() == [True, True, True]
    assert da.epochs.tolist() == [0] and da.attrs["synthetic_targets"] is False
    assert da.attrs["recipe"]["imported"]["format"] == "csv"
    # integer labels stay integers
    c = write(tmp_path / "ints.csv", csv_rows([("i1", 5, 5), ("i2", 7, 3)]))
    d = read_decisions(import_files([c], format="csv", out_dir=tmp_path / "o2").paths[0])
    assert d.targets.tolist() == [5, 7] and d.predictions.tolist() == [[5, 3]] and "class_names" not in d.attrs


def test_csv_correct_only_form(tmp_path):
    head = "image_id,correct"
    a = write(tmp_path / "h1.csv", csv_rows([("a", "TRUE"), ("b", "false"), ("c", 1), ("d", "0")], head))
    b = write(tmp_path / "h2.csv", csv_rows([("d", "True"), ("c", "0"), ("b", "1"), ("a", "FALSE")], head))
    res = import_files([a, b], format="csv", out_dir=tmp_path / "out")
    ids, ca = read_correct(res.paths[0])
    assert ids.tolist() == ["a", "b", "c", "d"] and ca.tolist() == [True, False, True, False]
    assert read_correct(res.paths[1])[1].tolist() == [False, True, False, True]
    d = read_decisions(res.paths[0])
    assert d.attrs["synthetic_targets"] is True and d.targets.tolist() == [1, 1, 1, 1]
    assert error_consistency(ca, read_correct(res.paths[1])[1]) == -1.0
    full = write(tmp_path / "full.csv", csv_rows([("a", 1, 1), ("b", 1, 0), ("c", 2, 2), ("d", 3, 0)]))
    with pytest.raises(ImportFormatError, match="cannot mix"):
        import_files([a, full], format="csv", out_dir=tmp_path / "o2")


@pytest.mark.parametrize("text, match", [
    ("", r"bad\.csv, line 1: the file is empty"),
    ("image_id,target,prediction\n", r"bad\.csv, line 1: header only"),
    ("image_id,target\nx,1\n", r"bad\.csv, line 1 \(header\): missing column\(s\) \['prediction'\]"),
    ("id,correct\nx,true\n", r"missing column\(s\) \['image_id'\]"),
    ("image_id,correct\nx,true\ny,yes\n", r"bad\.csv, line 3: 'yes' in column 'correct' is not boolean"),
    ("image_id,target,prediction\nx,1,2\ny,,2\n", r"bad\.csv, line 3: empty value in column 'target'"),
    ("image_id,target,prediction\nx,1,2\n\ny,1,2\n", r"bad\.csv, line 3: empty value in column 'image_id'"),
    ("image_id,target,prediction,correct\nx,1,1,true\ny,1,2,1\n", r"line 3: column 'correct' disagrees"),
    ("image_id,target,prediction\nx,1,1\nx,2,2\n", r"1 image ids occur more than once, e.g. 'x' \(line 2\)"),
])
def test_csv_bad_input_names_file_and_line(tmp_path, text, match):
    path = write(tmp_path / "bad.csv", text)
    with pytest.raises(ImportFormatError, match=match):
        import_files([path], format="csv", out_dir=tmp_path / "out")
    assert not (tmp_path / "out" / "bad.h5").exists()


def test_id_sets_refused_or_intersected(tmp_path):
    a = write(tmp_path / "a.csv", csv_rows([("x1", 0, 0), ("x2", 1, 1), ("x3", 1, 0), ("x4", 0, 0)]))
    b = write(tmp_path / "b.csv", csv_rows([("x9", 0, 0), ("x3", 1, 1), ("x2", 1, 0), ("x1", 0, 1), ("x1", 0, 0)]))
    c = write(tmp_path / "c.csv", csv_rows([("x3", 1, 1), ("x2", 1, 0), ("x1", 0, 1), ("x9", 0, 0)]))
    with pytest.raises(ImportFormatError, match=r"b\.csv: 1 image ids occur more than once, e\.g\. 'x1' \(line 5\)"):
        import_files([a, b], format="csv", out_dir=tmp_path / "out")
    with pytest.raises(ImportFormatError, match=r"1 ids of .*a\.csv are missing from .*c\.csv, e\.g\. 'x4' \(line 5\)"
                                                r".*1 ids of .*c\.csv are not in .*a\.csv, e\.g\. 'x9' \(line 5\)"):
        import_files([a, c], format="csv", out_dir=tmp_path / "out")
    res = import_files([a, b, c], format="csv", out_dir=tmp_path / "out", intersect=True,
                       report_path=tmp_path / "out" / "import.json")
    # x1 duplicated in b -> dropped everywhere; x4 only in a, x9 not in a
    assert res.n_images == 2 and res.n_dropped_images == 3
    assert res.dropped == {"a": 2, "b": 3, "c": 2}
    assert read_decisions(res.paths[1]).image_ids.tolist() == ["x2", "x3"]
    assert read_decisions(res.paths[1]).attrs["import_dropped_rows"] == 3
    report = read_import_report(tmp_path / "out" / "import.json")
    assert report["n_images"] == 2 and report["dropped"] == {"a": 2, "b": 3, "c": 2}
    (tmp_path / "bad.json").write_text('{"n_images": 2')
    with pytest.raises(ValueError, match=r"bad\.json is not valid JSON"):
        read_import_report(tmp_path / "bad.json")
    d = write(tmp_path / "d.csv", csv_rows([("x5", 0, 0)]))
    with pytest.raises(ImportFormatError, match="no image id is held"):
        import_files([a, d], format="csv", out_dir=tmp_path / "out", intersect=True)


def test_targets_must_agree_and_names_unique(tmp_path):
    a = write(tmp_path / "a.csv", csv_rows([("x1", 0, 0), ("x2", 1, 1)]))
    b = write(tmp_path / "b.csv", csv_rows([("x2", 2, 1), ("x1", 0, 0)]))
    with pytest.raises(ImportFormatError, match=r"targets of image 'x2' differ: '1' in .*a\.csv \(line 3\) but '2'"):
        import_files([a, b], format="csv", out_dir=tmp_path / "out")
    (tmp_path / "sub").mkdir()
    a2 = write(tmp_path / "sub" / "a.csv", csv_rows([("x1", 0, 0), ("x2", 1, 1)]))
    with pytest.raises(ImportFormatError, match="two input files would give the decision maker 'a'"):
        import_files([a, a2], format="csv", out_dir=tmp_path / "out")
    with pytest.raises(ValueError, match="unknown import format"):
        import_files([a], format="xlsx", out_dir=tmp_path / "out")


def test_expand_files(tmp_path):
    for n in ("b.csv", "a.csv", "c.txt"):
        write(tmp_path / n, "image_id,correct\nx,1\n")
    got = expand_files([str(tmp_path / "*.csv"), str(tmp_path / "a.csv"), str(tmp_path / "c.txt")])
    assert [p.split("/")[-1] for p in got] == ["a.csv", "b.csv", "c.txt"]
    with pytest.raises(FileNotFoundError, match="matches no file"):
        expand_files([str(tmp_path / "*.csv"), str(tmp_path / "*.tsv")])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        expand_files(str(tmp_path / "nope.csv"))


# --- model-vs-human -----------------------------------------------------------------------------

CATEGORIES = ["airplane", "bear", "bicycle", "bird", "boat", "bottle", "car", "cat"]


def mvh_file(path, subj, rng, images, *, accuracy, na_rate=0.0, header_session="session", prefix="s01"):
    """A raw-data file as model-vs-human stores it; trials in a random order."""
    rows = []
    for t, k in enumerate(rng.permutation(len(images)), start=1):
        key, category, condition = images[k]
        right = rng.random() < accuracy
        response = "na" if rng.random() < na_rate else (category if right else CATEGORIES[
            (CATEGORIES.index(category) + 1) % len(CATEGORIES)])
        name = f"{t:04d}_cl_{prefix}_{condition}_{category}_40_{key}"
        rows.append(f"{subj},1,{t},{rng.random():.3f},{response},{category},{condition},{name}")
    header = f"subj,{header_session},trial,rt,object_response,category,condition,imagename"
    return write(path, "\n".join([header, *rows]) + "\n")


def test_mvh_image_key_follows_the_toolbox():
    # the two checks at the end of modelvshuman/helper/plotting_helper.py
    assert mvh_image_key("0000_cl_s01_bw_boat_40_n02951358_5952.JPEG") == "n02951358_5952.JPEG"
    assert mvh_image_key("airplane1-bicycle2.png") == "airplane1-bicycle2.png"
    assert mvh_image_key("0001_cl_dnn_cr_oven_40_n04111531_14126.png") == "n04111531_14126.png"
    assert mvh_image_key("0012_sk_s02_cat_7.png") == "7.png"


def test_modelvshuman_import_and_condition_subsets(tmp_path):
    rng = np.random.default_rng(0)
    images = [(f"n0{2000000 + i}_{i}.png", CATEGORIES[i % 8], "cr" if i % 3 else "bw") for i in range(90)]
    files = [mvh_file(tmp_path / "colour_subject-01_session_1.csv", "subject-01", rng, images, accuracy=0.8,
                      na_rate=0.1, header_session="Session"),
             mvh_file(tmp_path / "colour_resnet50_session-1.csv", "resnet50", rng, images, accuracy=0.7,
                      prefix="dnn")]
    res = import_files(files, format="modelvshuman", out_dir=tmp_path / "out")
    assert res.subsets == ["condition=bw", "condition=cr"] and res.n_images == 90
    human = read_decisions(res.paths[0])
    assert human.attrs["subj"] == "subject-01" and human.attrs["class_names"] == sorted(CATEGORIES)
    assert human.image_ids.tolist() == sorted(k for k, _, _ in images)
    info = read_image_info(res.paths[0])
    assert dict(zip(human.image_ids, info["condition"])) == {k: c for k, _, c in images}

    # every response "na" is stored as -1 and counted wrong; correctness equals the raw file's
    raw = pd.read_csv(files[0])
    raw["image_id"] = raw.imagename.map(mvh_image_key)
    raw = raw.sort_values("image_id")
    assert ((human.predictions[0] == -1) == (raw.object_response == "na").to_numpy()).all()
    np.testing.assert_array_equal(human.correct(0), (raw.object_response == raw.category).to_numpy())

    # the engine sees the subsets; kappa per condition equals model-vs-human's per-condition analysis
    subsets = read_condition_subsets(res.paths[0])
    makers = [DecisionMaker(n, "imported", p, 0) for n, p in zip(res.names, res.paths)]  # as ExternalStudy's
    frame = pd.concat(iter_pairs(makers, subsets=subsets))
    assert sorted(frame.subset) == ["all", "condition=bw", "condition=cr"]
    model = pd.read_csv(files[1])
    model["image_id"] = model.imagename.map(mvh_image_key)
    for cond in ("bw", "cr"):
        d1 = raw[raw.condition == cond].sort_values("image_id")
        d2 = model[model.condition == cond].sort_values("image_id")
        c1, c2 = (d1.object_response == d1.category).to_numpy(), (d2.object_response == d2.category).to_numpy()
        got = frame[frame.subset == f"condition={cond}"].iloc[0]
        assert got.n == len(d1) and got.kappa == pytest.approx(error_consistency(c1, c2), abs=1e-12)
    assert condition_subsets(np.array(["a", "a"])) == {}


def test_modelvshuman_bad_input(tmp_path):
    rng = np.random.default_rng(1)
    images = [(f"n0{i}_{i}.png", CATEGORIES[i % 8], "c1") for i in range(10)]
    good = mvh_file(tmp_path / "s1.csv", "s1", rng, images, accuracy=0.8)
    other = mvh_file(tmp_path / "s2.csv", "s2", rng, [(k, c, "c2" if k == "n00_0.png" else cond)
                                                      for k, c, cond in images], accuracy=0.8)
    with pytest.raises(ImportFormatError, match="conditions of image 'n00_0.png' differ"):
        import_files([good, other], format="modelvshuman", out_dir=tmp_path / "out")
    text = open(good).read().splitlines()
    write(tmp_path / "two.csv", "\n".join([*text[:3], text[3].replace("s1,", "s9,", 1), *text[4:]]) + "\n")
    with pytest.raises(ImportFormatError, match=r"two\.csv, line 4: one decision maker per file"):
        import_files([str(tmp_path / "two.csv")], format="modelvshuman", out_dir=tmp_path / "out")
    write(tmp_path / "cols.csv", "subj,session,trial,rt,object_response,category,imagename\ns1,1,1,0.5,cat,cat,x.png\n")
    with pytest.raises(ImportFormatError, match=r"missing column\(s\) \['condition'\]"):
        import_files([str(tmp_path / "cols.csv")], format="modelvshuman", out_dir=tmp_path / "out")


def test_image_info_round_trip_and_validation(tmp_path):
    from ddd.results.decisions import write_decisions
    ids = np.array(["a", "b", "c"])
    path = tmp_path / "x.h5"
    write_decisions(path, np.zeros((1, 3), int), np.zeros(3, int), ids, recipe={},
                    image_info={"condition": np.array(["u", "v", "u"]), "level": np.array([0.5, 1.0, 2.0])})
    info = read_image_info(path)
    assert info["condition"].tolist() == ["u", "v", "u"] and info["level"].tolist() == [0.5, 1.0, 2.0]
    assert read_decisions(path).image_info["condition"].tolist() == ["u", "v", "u"]
    assert set(read_condition_subsets(path)) == {"condition=u", "condition=v"}
    with pytest.raises(ValueError, match="image_info"):
        write_decisions(path, np.zeros((1, 3), int), np.zeros(3, int), ids, recipe={},
                        image_info={"condition": np.array(["u", "v"])})
