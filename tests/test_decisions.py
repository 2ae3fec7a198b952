import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from ddd.experiment.makers import DecisionMaker
from ddd.results.decisions import (FORMAT_VERSION, Decisions, DecisionsFormatError, EpochReader, check_same_images,
                                   read_correct, read_correct_rows, read_decisions, read_file_info, read_final,
                                   read_ids_digest, read_ids_epochs, read_image_info, read_margins, write_decisions)
from ddd.results.decisions.core import array_digest, attrs_digest, row_digests


def _example(rng=None):
    rng = rng or np.random.default_rng(0)
    preds = rng.integers(0, 5, size=(4, 30))
    targets = rng.integers(0, 5, size=30)
    ids = np.array([f"img{i:03d}" for i in range(30)])
    return preds, targets, ids


RECIPE = {"model": "resnet18", "lr": 0.1, "epochs": 3, "aug": ["flip", "crop"], "nested": {"a": None}}


def test_round_trip(tmp_path):
    preds, targets, ids = _example()
    probs = np.random.default_rng(1).dirichlet(np.ones(5), size=30)
    feats = np.random.default_rng(2).normal(size=(3, 8))
    margins = np.random.default_rng(3).normal(0, 4, size=(4, 30))
    margins[2, 5] = np.nan
    path = tmp_path / "run.h5"
    write_decisions(path, preds, targets, ids, epochs=[0, 1, 2, 5], recipe=RECIPE, probabilities=probs,
                    features=feats, feature_ids=ids[[3, 7, 9]], margins=margins,
                    attrs={"seed": 7, "torch_version": "2.3", "wall_time_s": 1.5, "seeds": {"data": 1},
                           "flag": True, "devices": ["cpu"]})
    d = read_decisions(path)
    assert isinstance(d, Decisions) and d.path == str(path)
    np.testing.assert_array_equal(d.predictions, preds)
    assert d.predictions.dtype == np.int16
    np.testing.assert_array_equal(d.targets, targets)
    assert d.targets.dtype == np.int64
    np.testing.assert_array_equal(d.image_ids, ids)
    assert d.image_ids.dtype.kind == "U"
    np.testing.assert_array_equal(d.epochs, [0, 1, 2, 5])
    np.testing.assert_array_equal(d.probabilities, probs.astype(np.float16))
    np.testing.assert_array_equal(d.features, feats.astype(np.float16))
    np.testing.assert_array_equal(d.feature_ids, ids[[3, 7, 9]])
    assert d.attrs["recipe"] == RECIPE
    assert d.attrs["format"] == "ddd-decisions" and d.attrs["format_version"] == FORMAT_VERSION == 4
    assert d.margins.dtype == np.float16 and d.margins.shape == (4, 30)
    np.testing.assert_array_equal(d.margins, margins.astype(np.float16))  # NaN where NaN
    np.testing.assert_array_equal(read_margins(path, 2), margins[2].astype(np.float16))
    np.testing.assert_array_equal(read_margins(path), margins[3].astype(np.float16))
    assert read_decisions(path, load_margins=False).margins is None
    info = read_file_info(path)
    assert (info.format_version, info.n_images, info.n_classes, info.has_margins) == (4, 30, 5, True)
    assert d.attrs["n_classes"] == 5 and "checksums" not in d.attrs and "json_attrs" not in d.attrs
    assert d.attrs["seed"] == 7 and d.attrs["torch_version"] == "2.3" and d.attrs["wall_time_s"] == 1.5
    assert d.attrs["seeds"] == {"data": 1} and d.attrs["flag"] is True and d.attrs["devices"] == ["cpu"]
    assert (d.n_images, d.n_epochs, d.final_epoch) == (30, 4, 5)
    np.testing.assert_array_equal(d.correct(), preds == targets)
    np.testing.assert_array_equal(d.correct(2), preds[2] == targets)
    with pytest.raises(ValueError, match="epoch 3 not in"):
        d.correct(3)
    rids, rc = read_correct(path, 1)
    np.testing.assert_array_equal(rids, ids)
    np.testing.assert_array_equal(rc, preds[1] == targets)
    np.testing.assert_array_equal(read_correct(path)[1], preds[-1] == targets)
    assert read_decisions(path, load_probabilities=False).probabilities is None
    assert not list(Path(path).parent.glob(Path(path).name + ".tmp*"))


def test_without_optional_fields_and_pretrained(tmp_path):
    preds, targets, ids = _example()
    path = tmp_path / "pre.h5"
    write_decisions(path, preds[:1], targets, ids, recipe={})
    d = read_decisions(path)
    assert d.probabilities is None and d.features is None and d.feature_ids is None and d.margins is None
    assert read_margins(path) is None and not read_file_info(path).has_margins
    rows = EpochReader().rows([path], [0])
    assert not rows.has_margins[0] and np.isnan(rows.margins).all()
    np.testing.assert_array_equal(d.epochs, [0])
    assert d.attrs["recipe"] == {} and d.final_epoch == 0 and d.correct(0).shape == (30,)


def test_large_class_indices_use_int32(tmp_path):
    preds, targets, ids = _example()
    path = tmp_path / "big.h5"
    write_decisions(path, preds + 40000, targets + 40000, ids, recipe={})
    d = read_decisions(path)
    assert d.predictions.dtype == np.int32
    np.testing.assert_array_equal(d.predictions, preds + 40000)


def test_truncated_file(tmp_path):
    preds, targets, ids = _example()
    path = tmp_path / "run.h5"
    write_decisions(path, preds, targets, ids, recipe=RECIPE)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)
    with pytest.raises(DecisionsFormatError, match="run.h5"):
        read_decisions(path)
    with pytest.raises(DecisionsFormatError):
        read_correct(path)


def test_foreign_and_text_files(tmp_path):
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(DecisionsFormatError, match="not a decisions file"):
        read_decisions(foreign)
    with h5py.File(foreign, "a") as f:
        f.attrs["format"] = "ddd-decisions"
        f.attrs["format_version"] = 1
    with pytest.raises(DecisionsFormatError, match="missing datasets"):
        read_decisions(foreign)
    with h5py.File(foreign, "a") as f:
        f.attrs["format_version"] = 5
    with pytest.raises(DecisionsFormatError, match="unsupported format_version 5.*reads versions 1, 2, 3, 4"):
        read_correct(foreign)
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    with pytest.raises(DecisionsFormatError, match="not a readable HDF5"):
        read_decisions(text)
    with pytest.raises(FileNotFoundError):
        read_decisions(tmp_path / "absent.h5")


@pytest.mark.parametrize("change, match", [
    (dict(predictions=np.zeros(30, int)), "2-D integer"),
    (dict(predictions=np.zeros((2, 30))), "2-D integer"),
    (dict(targets=np.zeros(29, int)), "targets has 29"),
    (dict(image_ids=np.array([f"i{i}" for i in range(31)])), "image_ids 31"),
    (dict(image_ids=np.array(["same"] * 30)), "duplicates"),
    (dict(epochs=[0, 1]), "epochs has 2"),
    (dict(epochs=[0, 2, 1, 3]), "strictly increasing"),
    (dict(recipe="x"), "recipe must be a dict"),
    (dict(probabilities=np.ones((29, 5))), "probabilities must have shape"),
    (dict(probabilities=np.ones((30, 3))), r"lie in \[0, 3\)"),
    (dict(probabilities=np.ones((30, 5)), attrs={"class_names": list("abcd")}), "4 classes but probabilities have 5"),
    (dict(attrs={"class_names": list("abcd")}), r"targets must lie in \[0, 4\)"),
    (dict(targets=np.zeros(30, int), attrs={"class_names": list("abcd")}), r"predictions must lie in \[0, 4\).* or be -1"),
    (dict(image_ids=np.array([f"i{i}" for i in range(29)] + ["a\0b"])), "NUL"),
    (dict(attrs={"n_classes": 5}), "reserved"),
    (dict(attrs={"checksums": "x"}), "reserved"),
    (dict(features=np.ones((2, 4))), "together"),
    (dict(features=np.ones((2, 4)), feature_ids=["img000"]), "features must have shape"),
    (dict(features=np.ones((1, 4)), feature_ids=["nope"]), "not among image_ids"),
    (dict(attrs={"format": "x"}), "reserved"),
    (dict(margins=np.ones((3, 30))), r"margins must be a float array of the predictions' shape \(4, 30\)"),
    (dict(margins=np.ones((4, 30), int)), "margins must be a float array"),
])
def test_validation(tmp_path, change, match):
    preds, targets, ids = _example()
    kw = dict(predictions=preds, targets=targets, image_ids=ids, recipe={}) | change
    path = tmp_path / "bad.h5"
    with pytest.raises(ValueError, match=match):
        write_decisions(path, kw.pop("predictions"), kw.pop("targets"), kw.pop("image_ids"), **kw)
    assert not os.path.exists(path) and not list(Path(path).parent.glob(Path(path).name + ".tmp*"))


def test_failed_write_leaves_nothing(tmp_path):
    preds, targets, ids = _example()
    path = tmp_path / "run.h5"
    with pytest.raises(TypeError):
        write_decisions(path, preds, targets, ids, recipe={"x": object()})
    assert os.listdir(tmp_path) == []


def test_check_same_images():
    a = np.array(["x", "y", "z"])
    check_same_images(a, list(a))
    with pytest.raises(ValueError, match="missing from run2.*'z'"):
        check_same_images(a, ["x", "y"], names=("run1", "run2"))
    with pytest.raises(ValueError, match="of b are not in a.*'w'"):
        check_same_images(a, ["x", "y", "z", "w"])
    with pytest.raises(ValueError, match="duplicates.*'y'"):
        check_same_images(a, ["x", "y", "y", "z"])
    with pytest.raises(ValueError, match="different order: first at position 1"):
        check_same_images(a, ["x", "z", "y"])


# -- integrity (format version 2) and version-1 files ------------------------------------------------------------

MARGINS = np.random.default_rng(4).normal(0, 3, size=(4, 30))


def _full(path, **kw):
    preds, targets, ids = _example()
    probs = np.random.default_rng(1).dirichlet(np.ones(5), size=30)
    preds[-1] = probs.argmax(1)
    write_decisions(path, preds, targets, ids, recipe=RECIPE, probabilities=probs, margins=MARGINS,
                    features=np.ones((2, 3)), feature_ids=ids[:2],
                    image_info={"condition": np.array(["a", "b"] * 15), "level": np.arange(30)},
                    attrs={"class_names": list("vwxyz"), "seed": 7, **kw})
    return preds, targets, ids


def _all_reads(path):
    """Every reader once (raises what the first failing one raises)."""
    epochs = read_ids_epochs(path)[1]
    read_decisions(path)
    read_correct(path)
    read_correct(path, int(epochs[1]))
    read_ids_epochs(path, decode=False)
    read_image_info(path)
    read_final([DecisionMaker("m", "c", str(path), int(epochs[-1]))])
    read_correct_rows([path], [int(epochs[0])])
    read_margins(path)
    read_margins(path, int(epochs[1]))
    read_file_info(path)
    reader = EpochReader()
    for e in epochs:
        reader.read([path], [int(e)])
        reader.rows([path], [int(e)])


def test_every_dataset_is_checksummed(tmp_path):
    path = tmp_path / "run.h5"
    preds, _, _ = _full(path)
    with h5py.File(path, "r") as f:
        names = []
        f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
        assert sorted(names) == ["correct_bits", "epochs", "feature_ids", "features", "image_ids", "image_info/condition",
                                 "image_info/level", "margins", "predictions", "probabilities", "targets"]
        for name in names:
            assert f[name].fletcher32 and f[name].chunks, name
            assert not h5py.check_vlen_dtype(f[name].dtype), name  # strings in the checksummed chunks
        assert f["predictions"].chunks == f["margins"].chunks == (1, 30)  # one evaluation per chunk
        assert f["correct_bits"].chunks == (1, 4) and f["correct_bits"].compression is None
        sums = json.loads(f.attrs["checksums"])
        assert sorted(sums["datasets"]) == sorted(names) and sums["algorithm"] == "sha256"
        assert len(sums["rows"]["predictions"]) == len(sums["rows"]["margins"]) == len(preds)
        assert len(sums["rows"]["correct_bits"]) == len(preds)
        assert f.id.get_create_plist().get_version()[0] >= 2  # HDF5 metadata with checksums
        for name in f.attrs:  # strings in the attribute messages, not in the global heap
            assert not h5py.check_vlen_dtype(f.attrs.get_id(name).dtype), name
    assert b"GCOL" not in path.read_bytes()  # no global heap (unchecked by HDF5) at all
    _all_reads(path)


def _rewrite(path, name, change):
    """Change a dataset through HDF5 (fletcher32 recomputed): only the stored hashes can tell."""
    with h5py.File(path, "r+") as f:
        data = f[name][()]
        f[name][...] = change(data)


@pytest.mark.parametrize("name, change, readers", [
    # correctness readers of version 4 read correct_bits, not predictions and targets
    ("predictions", lambda p: np.where(np.arange(p.size).reshape(p.shape) == 3, (p + 1) % 5, p),
     ("read_decisions", "read_final", "read_final_stored", "epoch_rows")),
    ("targets", lambda t: (t + 1) % 5, ("read_decisions", "read_final", "read_final_stored", "epoch_rows")),
    ("correct_bits", lambda b: b ^ np.uint8(1), ("read_decisions", "read_correct", "read_correct_rows",
                                                 "epoch_reader", "epoch_words")),
    ("epochs", lambda e: e + 1, ("read_decisions", "read_correct", "read_ids_epochs", "read_correct_rows",
                                 "epoch_reader", "epoch_words", "read_final")),
    ("image_ids", lambda i: i[::-1], ("read_decisions", "read_correct", "read_ids_epochs", "read_final")),
    ("probabilities", lambda p: p * 0.5, ("read_decisions",)),
    ("image_info/level", lambda x: x + 1, ("read_decisions", "read_image_info")),
    ("margins", lambda m: np.where(np.arange(m.size).reshape(m.shape) == 3, m + 1, m),
     ("read_decisions", "read_margins", "epoch_rows")),
])
def test_changed_data_is_refused_by_every_reader(tmp_path, name, change, readers):
    path = tmp_path / "run.h5"
    _full(path)
    _rewrite(path, name, change)
    calls = {"read_decisions": lambda: read_decisions(path), "read_correct": lambda: read_correct(path, 0),
             "read_ids_epochs": lambda: read_ids_epochs(path, decode=False),
             "read_image_info": lambda: read_image_info(path),
             "read_final": lambda: read_final([DecisionMaker("m", "c", str(path), 0)]),
             "read_correct_rows": lambda: read_correct_rows([path], [0]),
             "epoch_reader": lambda: EpochReader().read([path], [0]),
             "epoch_words": lambda: EpochReader().words([path], [0]),
             "read_final_stored": lambda: read_final([DecisionMaker("m", "c", str(path), 0)], stored_dtype=True),
             "read_margins": lambda: read_margins(path, 0), "epoch_rows": lambda: EpochReader().rows([path], [0])}
    for reader in readers:
        with pytest.raises(DecisionsFormatError, match=f"{path}.*(checksum|corrupt)"):
            calls[reader]()


def test_changed_or_removed_attributes_and_datasets_are_refused(tmp_path):
    path = tmp_path / "run.h5"
    _full(path)
    with h5py.File(path, "r+") as f:
        f.attrs["seed"] = 8
    with pytest.raises(DecisionsFormatError, match="attributes do not match their checksum"):
        read_decisions(path)
    with pytest.raises(DecisionsFormatError, match="attributes do not match"):
        read_final([DecisionMaker("m", "c", str(path), 3)])
    _full(path)
    with h5py.File(path, "r+") as f:
        del f["probabilities"]
    with pytest.raises(DecisionsFormatError, match=r"holds datasets .* but its checksums list"):
        read_correct(path)
    _full(path)
    with h5py.File(path, "r+") as f:
        del f.attrs["checksums"]
    with pytest.raises(DecisionsFormatError, match="without its checksums attribute"):
        read_ids_epochs(path)
    _full(path)
    with h5py.File(path, "r+") as f:
        f.attrs["checksums"] = "{not json"
    with pytest.raises(DecisionsFormatError, match=f"{path}: cannot read its header.*JSONDecodeError"):
        read_decisions(path)
    _full(path)
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = 1  # a version-2 file posing as version 1
    with pytest.raises(DecisionsFormatError, match="format_version 1 but a checksums attribute"):
        read_decisions(path)


def test_missing_epoch_is_not_reported_as_corruption(tmp_path):
    path = tmp_path / "run.h5"
    _full(path)
    for call in (lambda: read_correct(path, 7), lambda: read_correct_rows([path], [7]),
                 lambda: EpochReader().read([path], [7])):
        with pytest.raises(ValueError, match="epoch 7 not in") as info:
            call()
        assert not isinstance(info.value, DecisionsFormatError)
    with pytest.raises(ValueError, match=r"out must be bool \(1, 30\)"):
        read_correct_rows([path], [1], out=np.zeros((1, 29), bool))


def _write_v1(path, preds, targets, ids, *, probabilities=None, attrs=None, image_info=None):
    """A decisions file exactly as format version 1 wrote it (before checksums)."""
    with h5py.File(path, "w") as f:
        f.create_dataset("predictions", data=preds.astype(np.int16), compression="gzip")
        f.create_dataset("targets", data=targets.astype(np.int16))
        f.create_dataset("image_ids", data=ids.tolist(), dtype=h5py.string_dtype())
        f.create_dataset("epochs", data=np.arange(len(preds), dtype=np.int64))
        if probabilities is not None:
            f.create_dataset("probabilities", data=probabilities.astype(np.float16), compression="gzip")
        for key, col in (image_info or {}).items():
            f.create_dataset(f"image_info/{key}", data=col.astype(str).tolist(), dtype=h5py.string_dtype())
        f.attrs["format"] = "ddd-decisions"
        f.attrs["format_version"] = 1
        f.attrs["recipe"] = json.dumps(RECIPE, sort_keys=True)
        json_attrs = ["recipe"]
        for key, value in (attrs or {}).items():
            if isinstance(value, list):
                f.attrs[key] = json.dumps(value)
                json_attrs.append(key)
            else:
                f.attrs[key] = value
        f.attrs["json_attrs"] = json.dumps(json_attrs)


def test_version_1_files_are_still_read(tmp_path, caplog):
    preds, targets, ids = _example()
    path = tmp_path / "old.h5"
    _write_v1(path, preds, targets, ids, attrs={"class_names": list("vwxyz"), "seed": 3},
              image_info={"condition": np.array(["a", "b"] * 15)})
    with caplog.at_level("INFO", logger="ddd.results.decisions.read"):
        d = read_decisions(path)
    assert "format version 1" in caplog.text and "without integrity verification" in caplog.text
    np.testing.assert_array_equal(d.predictions, preds)
    np.testing.assert_array_equal(d.image_ids, ids)
    assert d.image_ids.dtype.kind == "U"
    assert d.attrs["format_version"] == 1 and d.attrs["class_names"] == list("vwxyz") and d.attrs["seed"] == 3
    assert d.image_info["condition"].tolist() == ["a", "b"] * 15
    np.testing.assert_array_equal(read_correct(path, 2)[1], preds[2] == targets)
    np.testing.assert_array_equal(read_ids_epochs(path, decode=False)[0], np.char.encode(ids, "utf-8"))
    np.testing.assert_array_equal(EpochReader().read([path], [3])[0], preds[3] == targets)
    final = read_final([DecisionMaker("m", "c", str(path), 3)])
    assert final.class_names == list("vwxyz")
    np.testing.assert_array_equal(final.predictions[0], preds[3])
    _all_reads(path)


def test_predictions_outside_the_class_range_are_refused(tmp_path):
    """Version-1 files have no hashes, but the class range still catches impossible values."""
    preds, targets, ids = _example()
    preds[2, 4] = 9
    path = tmp_path / "old.h5"
    _write_v1(path, preds, targets, ids, attrs={"class_names": list("vwxyz")})
    for call in (lambda: read_decisions(path), lambda: read_correct(path, 2),
                 lambda: read_final([DecisionMaker("m", "c", str(path), 2)]),
                 lambda: read_correct_rows([path], [2]), lambda: EpochReader().read([path], [2])):
        with pytest.raises(DecisionsFormatError, match=rf"{path}: predictions outside the class range \[0, 5\)"):
            call()
    np.testing.assert_array_equal(read_correct(path, 1)[1], preds[1] == targets)  # other rows are fine
    preds[2, 4] = 1
    targets[0] = -3
    _write_v1(path, preds, targets, ids, probabilities=np.full((30, 5), 0.2))  # C from probabilities
    with pytest.raises(DecisionsFormatError, match=r"targets outside the class range \[0, 5\)"):
        read_correct(path)


def test_no_answer_and_unknown_classes(tmp_path):
    preds, targets, ids = _example()
    preds[0, :3] = -1  # model-vs-human's "na"
    path = tmp_path / "na.h5"
    write_decisions(path, preds, targets, ids, recipe={}, attrs={"class_names": list("vwxyz")})
    assert read_decisions(path).predictions[0, :3].tolist() == [-1, -1, -1]
    assert not read_correct(path, 0)[1][:3].any()
    write_decisions(path, preds + 100, targets + 100, ids, recipe={})  # no class names: no range
    d = read_decisions(path)
    assert "n_classes" not in d.attrs and d.predictions.max() >= 100


def test_strings_round_trip_and_empty_features(tmp_path):
    preds, targets, _ = _example()
    ids = np.array([f"caf\u00e9-{i}" if i % 2 else f"\u732b{i}" for i in range(29)] + [""])
    path = tmp_path / "utf8.h5"
    write_decisions(path, preds, targets, ids, recipe={}, features=np.ones((0, 4)), feature_ids=ids[:0],
                    image_info={"label": np.array(["\u00e9"] * 29 + [""])})
    d = read_decisions(path)
    np.testing.assert_array_equal(d.image_ids, ids)
    assert d.features.shape == (0, 4) and d.feature_ids.shape == (0,)
    assert d.image_info["label"].tolist() == ["\u00e9"] * 29 + [""]
    np.testing.assert_array_equal(read_ids_epochs(path, decode=False)[0], np.char.encode(ids, "utf-8"))


def test_every_read_error_names_the_file(tmp_path):
    path = tmp_path / "run.h5"
    _full(path)
    data = bytearray(path.read_bytes())
    for offset in (0, 8, 48, 200, 400, 800, len(data) // 2, len(data) - 8):
        bad = tmp_path / f"flip{offset}.h5"
        flipped = bytearray(data)
        flipped[offset] ^= 0xFF
        bad.write_bytes(bytes(flipped))
        try:
            _all_reads(bad)
        except DecisionsFormatError as e:
            assert str(bad) in str(e)


# -- margins (format version 3) and version-2 files ----------------------------------------------------------------

def _downgrade(path, version):
    """Turn a version-4 file into what format version 3 (or 2, without margins) wrote: the same
    datasets and checksums without ``correct_bits``, ``format_version`` set (its attribute hash recomputed)."""
    with h5py.File(path, "r+") as f:
        assert version == 3 or "margins" not in f
        del f["correct_bits"]
        f.attrs["format_version"] = version
        sums = json.loads(f.attrs["checksums"])
        del sums["datasets"]["correct_bits"], sums["rows"]["correct_bits"]
        sums["attrs"] = attrs_digest(f.attrs.items())
        raw = json.dumps(sums, sort_keys=True).encode()
        f.attrs.create("checksums", data=raw, dtype=h5py.string_dtype("utf-8", len(raw)))


def _as_version_2(path):
    _downgrade(path, 2)


def test_version_2_files_are_read_without_margins(tmp_path):
    preds, targets, ids = _example()
    path = tmp_path / "v2.h5"
    write_decisions(path, preds, targets, ids, recipe=RECIPE, attrs={"class_names": list("vwxyz")})
    _as_version_2(path)
    d = read_decisions(path)
    assert d.attrs["format_version"] == 2 and d.margins is None
    np.testing.assert_array_equal(d.predictions, preds)
    assert read_margins(path, 1) is None and read_file_info(path).has_margins is False
    rows = EpochReader().rows([path], [2])
    np.testing.assert_array_equal(rows.predictions[0], preds[2])
    np.testing.assert_array_equal(rows.correct[0], preds[2] == targets)
    assert not rows.has_margins[0] and np.isnan(rows.margins[0]).all()
    _all_reads(path)


def test_margins_only_from_version_3_and_with_their_row_checksums(tmp_path):
    preds, targets, ids = _example()
    path = tmp_path / "v2.h5"
    write_decisions(path, preds, targets, ids, recipe=RECIPE)
    _as_version_2(path)
    with h5py.File(path, "r+") as f:  # margins in a version-2 file (listed in its checksums, even)
        f.create_dataset("margins", data=np.zeros(preds.shape, np.float16))
        sums = json.loads(f.attrs["checksums"])
        sums["datasets"]["margins"] = sums["datasets"]["targets"]
        sums["rows"]["margins"] = sums["rows"]["predictions"]
        raw = json.dumps(sums, sort_keys=True).encode()
        f.attrs.create("checksums", data=raw, dtype=h5py.string_dtype("utf-8", len(raw)))
    with pytest.raises(DecisionsFormatError, match="margins in a format_version 2 file"):
        read_ids_epochs(path)
    _full(path)
    with h5py.File(path, "r+") as f:  # row hashes of margins gone
        sums = json.loads(f.attrs["checksums"])
        del sums["rows"]["margins"]
        raw = json.dumps(sums, sort_keys=True).encode()
        f.attrs.create("checksums", data=raw, dtype=h5py.string_dtype("utf-8", len(raw)))
    with pytest.raises(DecisionsFormatError, match="malformed checksums"):
        read_correct(path)
    _full(path)
    with h5py.File(path, "r+") as f:  # a row hash short
        sums = json.loads(f.attrs["checksums"])
        sums["rows"]["margins"].pop()
        raw = json.dumps(sums, sort_keys=True).encode()
        f.attrs.create("checksums", data=raw, dtype=h5py.string_dtype("utf-8", len(raw)))
    with pytest.raises(DecisionsFormatError, match="checksums of 3 rows of margins"):
        read_correct(path)


def test_margins_are_float16_clipped_with_nan_kept(tmp_path):
    preds, targets, ids = _example()
    margins = np.zeros((4, 30))
    margins[0, :3] = [1e6, -1e6, np.nan]
    margins[1, 0] = np.inf
    path = tmp_path / "m.h5"
    write_decisions(path, preds, targets, ids, recipe={}, margins=margins.astype(np.float32))
    m = read_decisions(path).margins
    assert m[0, :2].tolist() == [65504.0, -65504.0] and np.isnan(m[0, 2]) and m[1, 0] == 65504.0


def test_epoch_rows_of_many_files(tmp_path):
    """EpochReader.rows: predictions, correctness and margins of every file at its epoch; files
    without margins (version 1 and 2, imports) give NaN rows and say so."""
    rng = np.random.default_rng(5)
    preds, targets, ids = _example(rng)
    margins = rng.normal(size=preds.shape)
    write_decisions(tmp_path / "new.h5", preds, targets, ids, recipe={}, margins=margins)
    write_decisions(tmp_path / "imported.h5", preds[:1], targets, ids, recipe={})
    _write_v1(tmp_path / "old.h5", preds[::-1].copy(), targets, ids)  # several evaluations per chunk
    paths = [tmp_path / "new.h5", tmp_path / "imported.h5", tmp_path / "old.h5", tmp_path / "new.h5"]
    reader = EpochReader()
    for epochs in ([3, 0, 1, 0], [1, 0, 3, 2]):
        rows = reader.rows(paths, epochs)
        want = [preds[epochs[0]], preds[0], preds[::-1][epochs[2]], preds[epochs[3]]]
        np.testing.assert_array_equal(rows.predictions, np.stack(want))
        np.testing.assert_array_equal(rows.correct, np.stack(want) == targets)
        np.testing.assert_array_equal(rows.correct, reader.read(paths, epochs))
        assert rows.has_margins.tolist() == [True, False, False, True]
        np.testing.assert_array_equal(rows.margins[[0, 3]], margins[[epochs[0], epochs[3]]].astype(np.float16))
        assert np.isnan(rows.margins[[1, 2]]).all()
    assert reader.rows(paths, [0, 0, 0, 0], margins=False).margins is None
    big = preds + 40000
    write_decisions(tmp_path / "big.h5", big, targets + 40000, ids, recipe={})  # int32 classes: buffer widens
    rows = reader.rows([tmp_path / "new.h5", tmp_path / "big.h5"], [1, 1])
    assert rows.predictions.dtype == np.int32 and rows.predictions[1].tolist() == big[1].tolist()
    with pytest.raises(ValueError, match="epoch 9 not in"):
        reader.rows(paths[:1], [9])
    write_decisions(tmp_path / "fewer.h5", preds[:, 1:], targets[1:], ids[1:], recipe={})
    with pytest.raises(ValueError, match="the same images"):
        reader.rows([tmp_path / "new.h5", tmp_path / "fewer.h5"], [0, 0])


# -- correct_bits (format version 4) ------------------------------------------------------------------------------

def test_correct_bits_are_the_packed_correctness_and_checked_against_predictions(tmp_path):
    preds, targets, ids = _example()
    path = tmp_path / "run.h5"
    write_decisions(path, preds, targets, ids, recipe=RECIPE)
    with h5py.File(path, "r") as f:
        bits = f["correct_bits"][()]
    assert bits.dtype == np.uint8 and bits.shape == (len(preds), -(-preds.shape[1] // 8))
    np.testing.assert_array_equal(np.unpackbits(bits, axis=1, count=preds.shape[1]).view(bool),
                                  preds == targets[None])
    # bits that disagree with the predictions, with checksums that match them (a writer's bug): refused
    with h5py.File(path, "r+") as f:
        bad = bits.copy()
        bad[1, 0] ^= 0x80
        f["correct_bits"][...] = bad
        sums = json.loads(f.attrs["checksums"])
        sums["datasets"]["correct_bits"] = array_digest(bad)
        sums["rows"]["correct_bits"][1] = array_digest(bad[1])
        sums["attrs"] = attrs_digest(f.attrs.items())
        raw = json.dumps(sums, sort_keys=True).encode()
        f.attrs.create("checksums", data=raw, dtype=h5py.string_dtype("utf-8", len(raw)))
    with pytest.raises(DecisionsFormatError, match=f"{path}: correct_bits disagree with predictions"):
        read_decisions(path)


@pytest.mark.parametrize("version", [2, 3])
def test_version_4_and_older_files_give_the_same_correctness(tmp_path, version):
    rng = np.random.default_rng(version)
    preds = rng.integers(0, 5, (12, 37))
    targets = rng.integers(0, 5, 37)
    ids = [f"i{k}" for k in range(37)]
    new, old = tmp_path / "v4.h5", tmp_path / f"v{version}.h5"
    write_decisions(new, preds, targets, ids, recipe=RECIPE)
    write_decisions(old, preds, targets, ids, recipe=RECIPE)
    _downgrade(old, version)
    assert read_file_info(old).format_version == version and read_file_info(new).format_version == 4
    want = preds == targets[None]
    for path in (new, old):
        reader = EpochReader()
        for e in range(12):  # epoch by epoch through the read-ahead bands, and again backwards
            np.testing.assert_array_equal(reader.read([path, new], [e, 11 - e]), want[[e, 11 - e]])
        for e in reversed(range(12)):
            np.testing.assert_array_equal(reader.read([path], [e])[0], want[e])
        np.testing.assert_array_equal(read_correct_rows([path, path], [3, 7]), want[[3, 7]])
        np.testing.assert_array_equal(read_correct(path, 5)[1], want[5])
        np.testing.assert_array_equal(read_decisions(path).correct(), want)


def test_correct_bits_only_in_version_4(tmp_path):
    preds, targets, ids = _example()
    path = tmp_path / "run.h5"
    write_decisions(path, preds, targets, ids, recipe=RECIPE)
    with h5py.File(path, "r+") as f:  # a version-4 file without its correct_bits
        del f["correct_bits"]
    with pytest.raises(DecisionsFormatError, match=f"{path}: .*(without its correct_bits|but its checksums list)"):
        read_correct(path)
    write_decisions(path, preds, targets, ids, recipe=RECIPE)
    with h5py.File(path, "r+") as f:  # correct_bits in a version-3 file
        f.attrs["format_version"] = 3
    with pytest.raises(DecisionsFormatError, match="format_version 3 file with correct_bits"):
        read_correct(path)


def test_epoch_reader_bands_of_bits_stay_within_the_cache(tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    preds, targets = rng.integers(0, 3, (20, 64)), rng.integers(0, 3, 64)
    paths = []
    for k in range(4):
        paths.append(tmp_path / f"m{k}.h5")
        write_decisions(paths[-1], preds, targets, [f"i{q}" for q in range(64)], recipe=RECIPE)
    monkeypatch.setattr(EpochReader, "BITS_CACHE_BYTES", 4 * 8 * 5)  # 4 files x 8 bytes a row: bands of 5 rows
    reader = EpochReader()
    for e in range(20):
        np.testing.assert_array_equal(reader.read(paths, [e] * 4), np.repeat((preds[e] == targets)[None], 4, 0))
        assert all(len(band[1]) <= 5 for band in reader._bands.values())


def test_row_digests_are_the_digests_of_each_row():
    rng = np.random.default_rng(0)
    for a in (rng.integers(0, 255, (5, 17), dtype=np.uint8), rng.integers(-1, 999, (3, 40)).astype(np.int16),
              rng.integers(0, 9, (4, 3)).astype(">i4"), rng.random((3, 7)).astype(np.float16),
              np.zeros((2, 0), np.int16), rng.integers(0, 9, (6, 8)).astype(np.int32)[:, ::2]):
        assert row_digests(a) == [array_digest(r) for r in a]


def test_ids_digest_stands_for_the_ids(tmp_path):
    preds, targets, ids = _example()
    a, b, c = tmp_path / "a.h5", tmp_path / "b.h5", tmp_path / "c.h5"
    write_decisions(a, preds, targets, ids, recipe=RECIPE)
    write_decisions(b, preds[:2], targets, ids, recipe={"other": 1})
    write_decisions(c, preds, targets, list(ids)[::-1], recipe=RECIPE)
    (da, ea), (db, eb), (dc, _) = read_ids_digest(a), read_ids_digest(b), read_ids_digest(c)
    assert da == db != dc and len(ea) == len(preds) and len(eb) == 2


def test_epoch_reader_words_are_the_packed_correctness(tmp_path, monkeypatch):
    """EpochReader.words: bit-packed rows (uint64, zero-padded) equal to packing read()'s, for format 4's
    stored bits and for a version-1 file's predictions, within bands smaller than the epochs."""
    from ddd.analysis.bitcount import pack

    rng = np.random.default_rng(8)
    n = 77  # not a multiple of 8 or 64
    preds, targets = rng.integers(0, 3, (12, n)), rng.integers(0, 3, n)
    ids = np.array([f"i{q}" for q in range(n)])
    paths = [tmp_path / "a.h5", tmp_path / "b.h5", tmp_path / "old.h5"]
    write_decisions(paths[0], preds, targets, ids, recipe=RECIPE)
    write_decisions(paths[1], preds[::-1].copy(), targets, ids, recipe=RECIPE)
    _write_v1(paths[2], preds, targets, ids)
    monkeypatch.setattr(EpochReader, "BITS_CACHE_BYTES", 3 * 10 * 4)
    reader, plain = EpochReader(), EpochReader()
    out = np.full((3, 2), np.uint64(2 ** 64 - 1))
    for e in range(12):
        words = reader.words(paths, [e] * 3, out=out)
        assert words is out and words.dtype == np.uint64 and words.shape == (3, 2)
        np.testing.assert_array_equal(words, pack(plain.read(paths, [e] * 3)))
    with pytest.raises(ValueError, match=r"out must be uint64 \(3, 2\)"):
        reader.words(paths, [0] * 3, out=np.zeros((3, 3), np.uint64))
    short = tmp_path / "short.h5"
    write_decisions(short, preds[:, :70], targets[:70], ids[:70], recipe=RECIPE)
    with pytest.raises(ValueError, match="holds 70 images"):
        reader.words([paths[0], short], [0, 0])
