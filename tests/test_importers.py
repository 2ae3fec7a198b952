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


# --- missing values, encodings, unreadable files (issue 15) ------------------------------------

def test_na_is_not_a_class_the_reproduction(tmp_path):
    """Issue 15, failure 6: `img0,NA,NA` was imported as class 'NA' and counted right for everyone."""
    a = write(tmp_path / "a.csv", csv_rows([("img0", "NA", "NA"), ("img1", "cat", "dog")]))
    b = write(tmp_path / "b.csv", csv_rows([("img0", "NaN", "NaN"), ("img1", "cat", "cat")]))
    with pytest.raises(ImportFormatError, match=r"a\.csv, line 2: missing value 'NA' in column 'target'"):
        import_files([a, b], format="csv", out_dir=tmp_path / "out")
    with pytest.raises(ImportFormatError, match=r"b\.csv, line 2: missing value 'NaN' in column 'target'"):
        import_files([b], format="csv", out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


@pytest.mark.parametrize("token", ["NA", "na", "NaN", "nan", "-nan", "N/A", "n/a", "null", "NULL", "None", "none",
                                   "<NA>", "#N/A", " NA "])
@pytest.mark.parametrize("column", ["image_id", "target", "prediction"])
def test_csv_missing_markers_are_errors_naming_file_and_line(tmp_path, token, column):
    rows = [{"image_id": "x1", "target": "cat", "prediction": "dog"},
            {"image_id": "x2", "target": "dog", "prediction": "dog"}]
    rows[1][column] = token
    path = write(tmp_path / "bad.csv", csv_rows([tuple(r.values()) for r in rows]))
    with pytest.raises(ImportFormatError, match=rf"bad\.csv, line 3: missing value {token.strip()!r} in column "
                                                rf"{column!r}"):
        import_files([path], format="csv", out_dir=tmp_path / "out")


@pytest.mark.parametrize("token", ["NA", "NaN", "null", "None"])
def test_csv_missing_correct_is_an_error(tmp_path, token):
    path = write(tmp_path / "bad.csv", csv_rows([("a", "true"), ("b", token)], header="image_id,correct"))
    with pytest.raises(ImportFormatError, match=rf"bad\.csv, line 3: missing value {token!r} in column 'correct'"):
        import_files([path], format="csv", out_dir=tmp_path / "out")


def test_csv_values_stay_strings_as_written(tmp_path):
    """Ids and labels are never parsed as numbers, booleans or NaN: '007' stays '007'."""
    ids = ["007", "7", "1e3", "1000", "0.50", "True", "NAN-7", "nA1"]
    a = write(tmp_path / "a.csv", csv_rows([(i, "Nan-cat", "Nan-cat") for i in ids]))
    d = read_decisions(import_files([a], format="csv", out_dir=tmp_path / "out").paths[0])
    assert sorted(d.image_ids.tolist()) == sorted(ids) and d.attrs["class_names"] == ["Nan-cat"]


def test_not_utf8_names_the_file_and_line(tmp_path):
    """A Latin-1 file: an error naming the file, line and byte, not a bare UnicodeDecodeError."""
    path = tmp_path / "latin.csv"
    path.write_bytes("image_id,target,prediction\nx1,cat,cat\nx2,caf\xe9,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ImportFormatError, match=r"latin\.csv, line 3: not UTF-8 text \(byte 0xe9 at offset 44"):
        import_files([str(path)], format="csv", out_dir=tmp_path / "out")
    mvh = tmp_path / "mvh.csv"
    mvh.write_bytes("subj,session,trial,rt,object_response,category,condition,imagename\n"
                    "s\xf61,1,1,0.5,cat,cat,c,1_x.png\n".encode("latin-1"))
    with pytest.raises(ImportFormatError, match=r"mvh\.csv, line 2: not UTF-8"):
        import_files([str(mvh)], format="modelvshuman", out_dir=tmp_path / "out")
    # a UTF-8 byte order mark is fine (Excel writes one)
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + "image_id,target,prediction\nx1,caf\xe9,caf\xe9\n".encode())
    d = read_decisions(import_files([str(bom)], format="csv", out_dir=tmp_path / "o2").paths[0])
    assert d.attrs["class_names"] == ["caf\xe9"] and d.image_ids.tolist() == ["x1"]


def test_unreadable_inputs_name_the_file(tmp_path):
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(ImportFormatError, match=r"folder\.csv is a directory, not a file"):
        import_files([str(tmp_path / "folder.csv")], format="csv", out_dir=tmp_path / "out")
    with pytest.raises(FileNotFoundError, match=r"nope\.csv"):
        import_files([str(tmp_path / "nope.csv")], format="csv", out_dir=tmp_path / "out")
    bad = write(tmp_path / "ragged.csv", "image_id,target,prediction\nx,1,1,4\n")
    with pytest.raises(ImportFormatError, match=r"ragged\.csv.*line 2"):
        import_files([bad], format="csv", out_dir=tmp_path / "out")
    nul = tmp_path / "binary.csv"
    nul.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(ImportFormatError, match=r"binary\.csv"):
        import_files([str(nul)], format="csv", out_dir=tmp_path / "out")


def _mvh_text(rows):
    return "\n".join(["subj,session,trial,rt,object_response,category,condition,imagename",
                      *(f"s1,1,{k},0.5,{resp},{cat},c1,{k:04d}_cl_s01_c1_{cat}_40_n0{k}_{k}.png"
                        for k, (resp, cat) in enumerate(rows, start=1))]) + "\n"


def test_modelvshuman_na_response_is_wrong_but_missing_values_are_errors(tmp_path):
    ok = write(tmp_path / "ok.csv", _mvh_text([("cat", "cat"), ("na", "dog"), ("dog", "cat")]))
    d = read_decisions(import_files([ok], format="modelvshuman", out_dir=tmp_path / "out").paths[0])
    assert d.predictions[0].tolist() == [0, -1, 1] and d.correct(0).tolist() == [True, False, False]
    # the documented non-response is `na` as model-vs-human writes it; other missing markers are errors
    for resp in ("NA", "NaN", "null", "None", "N/A", ""):
        path = write(tmp_path / "resp.csv", _mvh_text([("cat", "cat"), (resp, "dog")]))
        what = "empty value" if resp == "" else f"missing value {resp!r}"
        with pytest.raises(ImportFormatError, match=rf"resp\.csv, line 3: {what} in column 'object_response'"):
            import_files([path], format="modelvshuman", out_dir=tmp_path / "out")
    # a missing category (the target) is an error naming the file and line, `na` included
    for cat in ("na", "NA", "nan"):
        path = write(tmp_path / "cat.csv", _mvh_text([("cat", "cat"), ("dog", cat)]).replace(
            f"_{cat}_40", "_x_40"))
        with pytest.raises(ImportFormatError, match=rf"cat\.csv, line 3: missing value {cat!r} in column 'category'"):
            import_files([path], format="modelvshuman", out_dir=tmp_path / "out")


def test_rows_with_another_number_of_fields_are_refused(tmp_path):
    """pandas read a row with one field too many by shifting it into the index (image_id '1',
    prediction '4' for `x,1,1,4`), or dropped the extra field: refused, naming the line."""
    a = write(tmp_path / "a.csv", "image_id,target,prediction\nx,1,1,4\ny,1,1\n")
    with pytest.raises(ImportFormatError, match=r"a\.csv, line 2: 4 fields, but the header \(line 1\) has 3"):
        import_files([a], format="csv", out_dir=tmp_path / "out")
    b = write(tmp_path / "b.csv", "image_id,target,prediction\ny,1,1\nx,1\n")
    with pytest.raises(ImportFormatError, match=r"b\.csv, line 3: 2 fields, but the header \(line 1\) has 3"):
        import_files([b], format="csv", out_dir=tmp_path / "out")
    # lines are lines of the file, also after a quoted field spanning two; blank lines at the end are fine
    c = write(tmp_path / "c.csv", 'image_id,target,prediction\n"x\n1",cat,cat\ny,NA,cat\n\n\n')
    with pytest.raises(ImportFormatError, match=r"c\.csv, line 4: missing value 'NA' in column 'target'"):
        import_files([c], format="csv", out_dir=tmp_path / "out")
    d = write(tmp_path / "d.tsv", "image_id\ttarget\tprediction\nx\tcat\tcat\n\n")
    res = import_files([d], format="csv", out_dir=tmp_path / "out")
    assert read_decisions(res.paths[0]).image_ids.tolist() == ["x"]
