import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from ddd.results.decisions import (Decisions, DecisionsFormatError, check_same_images, read_correct,
                           read_decisions, write_decisions)


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
    path = tmp_path / "run.h5"
    write_decisions(path, preds, targets, ids, epochs=[0, 1, 2, 5], recipe=RECIPE, probabilities=probs,
                    features=feats, feature_ids=ids[[3, 7, 9]],
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
    assert d.attrs["format"] == "ddd-decisions" and d.attrs["format_version"] == 1
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
    assert d.probabilities is None and d.features is None and d.feature_ids is None
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
        f.attrs["format_version"] = 2
    with pytest.raises(DecisionsFormatError, match="format_version 2"):
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
    (dict(features=np.ones((2, 4))), "together"),
    (dict(features=np.ones((2, 4)), feature_ids=["img000"]), "features must have shape"),
    (dict(features=np.ones((1, 4)), feature_ids=["nope"]), "not among image_ids"),
    (dict(attrs={"format": "x"}), "reserved"),
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
