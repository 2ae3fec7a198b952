"""The handwritten-digits dataset kind (ddd.data.digits, `kind: digits`) and its study (config/digits.yaml):
the seeded stratified split, the loader, the fingerprint, a missing scikit-learn, and config validation."""

import copy
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from ddd.config.datasets import DATASET_DEFAULTS, evaluation_images, input_size, recipe_kind
from ddd.config.resolve import ConfigError, resolve_config
from ddd.config.schema import check_schema
from ddd.data import digits
from ddd.data.gaussian import encode
from ddd.data.loading import InMemoryBatches, dataset_size, half_split, load_split
from ddd.data.pixels import eval_image

pytest.importorskip("sklearn")

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")
DIGITS_CONFIG = ROOT / "config" / "digits.yaml"
DS = {"name": "digits", "kind": "digits", **DATASET_DEFAULTS["digits"]}
# The default split's fingerprints: scikit-learn's file, the split's algorithm, seed 1312 and val_fraction 0.5.
FINGERPRINT_VAL = "a22a3e0a0430899c"
FINGERPRINT_TRAIN = "c1f23a3620851b65"


@pytest.fixture(scope="module")
def splits():
    return {s: digits.digits_split(DS, s) for s in ("train", "val")}


# --- the data and the split -------------------------------------------------------------------------


def test_arrays_are_the_uci_digits():
    pixels, targets = digits.digits_arrays()
    assert pixels.shape == (1797, 8, 8) and pixels.dtype == np.uint8
    assert targets.dtype == np.int64 and tuple(np.bincount(targets)) == digits.CLASS_COUNTS
    # counts 0..16 stored as round(count * 255 / 16): 17 values, invertible, 0 and 255 at the ends
    values = np.unique(pixels)
    assert len(values) == 17 and values[0] == 0 and values[-1] == 255
    np.testing.assert_array_equal(np.round(values.astype(float) * 16 / 255), np.arange(17))


def test_split_shapes_and_class_balance(splits):
    (xt, yt, it, names), (xv, yv, iv, names_v) = splits["train"], splits["val"]
    assert xt.shape == (896, 3, 8, 8) and xv.shape == (901, 3, 8, 8) and xt.dtype == xv.dtype == np.uint8
    assert names == names_v == [str(d) for d in range(10)]
    assert digits.split_counts(0.5) == {"train": 896, "val": 901}
    # stratified: every class half and half, halves rounded up for evaluation
    for label, n in enumerate(digits.CLASS_COUNTS):
        assert np.sum(yv == label) == (n + 1) // 2 and np.sum(yt == label) == n // 2, label
    # a partition of the 1,797 images, ids = indices into load_digits, targets and pixels theirs
    ids_t, ids_v = it.astype(int), iv.astype(int)
    assert not set(ids_t) & set(ids_v) and sorted([*ids_t, *ids_v]) == list(range(1797))
    pixels, targets = digits.digits_arrays()
    np.testing.assert_array_equal(yv, targets[ids_v])
    np.testing.assert_array_equal(xv[:, 0], pixels[ids_v])
    assert (xv == xv[:, :1]).all()  # gray: three equal channels
    # class-major, within a class in load_digits order
    assert (np.diff(yv) >= 0).all() and (np.diff(yt) >= 0).all()
    for label in range(10):
        assert (np.diff(ids_v[yv == label]) > 0).all()


def test_other_fractions_keep_every_class_in_both_splits():
    targets = np.repeat(np.arange(10), digits.CLASS_COUNTS)
    for fraction in (0.1, 0.2, 0.8, 0.99):
        split = digits.stratified_split(targets, fraction, 7)
        counts = digits.split_counts(fraction)
        assert (len(split["train"]), len(split["val"])) == (counts["train"], counts["val"])
        for label, n in enumerate(digits.CLASS_COUNTS):
            k = int(np.sum(targets[split["val"]] == label))
            assert 1 <= k <= n - 1 and abs(k - fraction * n) <= 0.5, (fraction, label)


def test_split_is_seeded():
    targets = np.repeat(np.arange(10), digits.CLASS_COUNTS)
    a, b = digits.stratified_split(targets, 0.5, 1312), digits.stratified_split(targets, 0.5, 1312)
    for s in ("train", "val"):
        np.testing.assert_array_equal(a[s], b[s])
    other = digits.stratified_split(targets, 0.5, 1313)
    assert len(other["val"]) == len(a["val"]) and not np.array_equal(other["val"], a["val"])
    x1 = digits.digits_split(DS, "val")
    x2 = digits.digits_split(DS, "val")
    for u, v in zip(x1[:3], x2[:3]):
        np.testing.assert_array_equal(u, v)


# --- loading ------------------------------------------------------------------------------------------


def test_load_split_fingerprint_identifies_the_data():
    _, meta_v = load_split(DS, "val")
    _, meta_t = load_split(DS, "train")
    assert meta_v.fingerprint == f"digits-{FINGERPRINT_VAL}-unit-shift"
    assert meta_t.fingerprint == f"digits-{FINGERPRINT_TRAIN}-unit-shift"
    assert load_split(DS, "val")[1].fingerprint == meta_v.fingerprint  # deterministic
    # another split, encoding or augmentation: another fingerprint
    assert load_split({**DS, "seed": 1}, "val")[1].fingerprint != meta_v.fingerprint
    assert load_split({**DS, "val_fraction": 0.4}, "val")[1].fingerprint != meta_v.fingerprint
    standard = load_split({**DS, "encoding": "standard"}, "val")[1].fingerprint
    assert standard == f"digits-{FINGERPRINT_VAL}-standard-shift"
    # the fingerprint hashes pixels: one changed pixel changes it
    images, targets, ids, _ = digits.digits_split(DS, "val")
    changed = images.copy()
    changed[5, :, 3, 3] ^= 1
    assert digits.fingerprint(changed, targets, ids) != FINGERPRINT_VAL == digits.fingerprint(images, targets, ids)
    # a subset (half data) keeps the full split's fingerprint and its images
    half = half_split(dataset_size(DS, "train"), 1)
    _, sub = load_split(DS, "train", subset=half)
    assert sub.fingerprint == meta_t.fingerprint and len(sub.targets) == 448
    np.testing.assert_array_equal(sub.image_ids, meta_t.image_ids[half])
    with pytest.raises(IndexError, match=re.escape("subset indices must be a 1-d array in [0, 896)")):
        load_split(DS, "train", subset=np.array([0, 896]))


def test_batches_evaluation_unchanged_training_shifted_never_flipped():
    images, targets, _, _ = digits.digits_split(DS, "val")
    batches, meta = load_split(DS, "val")
    assert isinstance(batches, InMemoryBatches) and len(batches) == 901
    x = torch.cat([b for b, _ in batches.epoch(256, shuffle=False)])
    torch.testing.assert_close(x, encode(torch.from_numpy(images), "unit"))
    np.testing.assert_array_equal(meta.targets, targets)
    # training: each image moved by at most one pixel with zero (background) padding; no mirror images
    train, _ = load_split(DS, "train")
    raw = torch.from_numpy(digits.digits_split(DS, "train")[0]).float() / 255
    x = torch.cat([b for b, _ in train.epoch(1000, generator=torch.Generator().manual_seed(0), shuffle=False)])
    padded = torch.nn.functional.pad(raw, (1, 1, 1, 1))
    shifts = [padded[..., dy:dy + 8, dx:dx + 8] for dy in range(3) for dx in range(3)]
    match = torch.stack([(s == x).flatten(1).all(1) for s in shifts])
    assert match.any(0).all() and match[4].float().mean() < 0.5  # some unshifted, most shifted
    train, _ = load_split({**DS, "augment": "none"}, "train")
    x = torch.cat([b for b, _ in train.epoch(1000, generator=torch.Generator().manual_seed(0), shuffle=False)])
    torch.testing.assert_close(x, raw)


def test_dataset_size_and_planning_need_no_scikit_learn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # `import sklearn` now fails
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    assert (dataset_size(DS, "train"), dataset_size(DS, "val")) == (896, 901)
    assert dataset_size({**DS, "val_fraction": 0.2}, "val") == digits.split_counts(0.2)["val"] == 359
    assert evaluation_images(DS) == 901 and input_size(DS) == 8 and recipe_kind(DS) == "gaussian"
    with pytest.raises(ModuleNotFoundError) as err:
        load_split(DS, "val")
    assert err.value.name == "sklearn"
    assert "install it, e.g. `pip install 'scikit-learn==1.9.1'`" in str(err.value)
    assert "workflow/envs/torch.yaml" in str(err.value)


def test_eval_image_is_the_stored_digit():
    images, _, ids, _ = digits.digits_split(DS, "val")
    pixels = eval_image(DS, ids[17])
    assert pixels.shape == (8, 8, 3) and pixels.dtype == np.uint8
    np.testing.assert_array_equal(pixels, np.transpose(images[17], (1, 2, 0)))
    training_id = digits.digits_split(DS, "train")[2][0]
    with pytest.raises(ValueError, match=f"image id '{training_id}' is not in the digits evaluation split"):
        eval_image(DS, training_id)


def test_check_params_messages():
    for args, message in (((1.0, 1), "val_fraction must leave every class images in both splits"),
                          ((0.001, 1), "the smallest class has 174), got 0.001"),
                          (("half", 1), "val_fraction must be a number, got 'half'"),
                          ((0.5, -1), "seed must be a non-negative integer, got -1"),
                          ((0.5, 1.5), "seed must be a non-negative integer, got 1.5"),
                          ((0.5, 1, "log_abs"), "unknown encoding 'log_abs'; allowed: unit, standard, imagenet"),
                          ((0.5, 1, "unit", "flip"), "unknown augment 'flip'; allowed: shift, none")):
        with pytest.raises(ValueError, match=re.escape(message)):
            digits.check_params(*args)
    with pytest.raises(ValueError, match="unknown split 'test'"):
        digits.digits_split(DS, "test")


def test_one_epoch_records_the_fingerprint(tmp_path):
    from ddd.results.decisions import read_decisions
    from ddd.training.run import train_run

    c = resolve_config(_minimal())
    recipe = {**c.study("s").recipe("base/1"), "epochs": 1, "extra_epochs": 0, "batch_size": 128}
    train_run(recipe, c.dataset("s"), output=str(tmp_path / "d.h5"), network_output=str(tmp_path / "n.pt"),
              checkpoint_dir=str(tmp_path / "ck"), device="cpu", threads=1, progress=False)
    d = read_decisions(tmp_path / "d.h5")
    assert d.predictions.shape == (2, 901)
    assert d.attrs["dataset_fingerprint"] == f"digits-{FINGERPRINT_VAL}-unit-shift"
    assert d.attrs["class_names"] == [str(k) for k in range(10)]
    assert d.attrs["dataset"]["kind"] == "digits"


# --- config --------------------------------------------------------------------------------------------


def _minimal(**dataset):
    return {"studies": {"s": {"train": {"dataset": "d", "family": "resnet18", "instances": 1,
                                        "recipe": {"arch_options": {"width": 8, "stem": "cifar"}}}}},
            "datasets": {"d": {"kind": "digits", **dataset}}}


def _schema_refuses(config, *needles):
    with pytest.raises(ConfigError) as err:
        check_schema(config, SCHEMA)
    for needle in needles:
        assert needle in str(err.value), (needle, str(err.value))


def _resolve_refuses(config, message):
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}"):
        resolve_config(config)


def test_schema_defaults_are_the_codes():
    schema = yaml.safe_load(open(SCHEMA))
    props = schema["$defs"]["digits"]["properties"]
    assert {k: v["default"] for k, v in props.items() if k != "kind"} == DATASET_DEFAULTS["digits"]
    assert props["encoding"]["enum"] == list(digits.ENCODINGS) and props["augment"]["enum"] == list(digits.AUGMENTS)


def test_schema_refuses_bad_digits_blocks():
    check_schema(_minimal(), SCHEMA)
    check_schema(_minimal(val_fraction=0.3, seed=0, encoding="imagenet", augment="none"), SCHEMA)
    _schema_refuses(_minimal(val_fraction=1.5, augment="flip", n_classes=3),
                    "the config has 3 problems",
                    "datasets.d: unknown key 'n_classes'; allowed: kind, val_fraction, seed, encoding, augment",
                    "datasets.d.augment: unknown value 'flip'; allowed: shift, none",
                    "datasets.d.val_fraction: 1.5 must be < 1")
    _schema_refuses(_minimal(val_fraction=0), "datasets.d.val_fraction: 0 must be > 0")
    _schema_refuses(_minimal(seed=-1, encoding="log_abs"), "datasets.d.seed: -1 must be >= 0",
                    "datasets.d.encoding: unknown value 'log_abs'; allowed: unit, standard, imagenet")
    _schema_refuses(_minimal(seed="x"), "datasets.d.seed: 'x' is not an integer")
    config = _minimal()
    config["datasets"]["d"]["kind"] = "digit"
    _schema_refuses(config, "datasets.d.kind: unknown value 'digit'; allowed: gaussian, digits")
    # a Gaussian block keeps its own keys; the built-in name stays the Gaussian set
    config["datasets"]["d"] = {"kind": "gaussian", "val_fraction": 0.5}
    _schema_refuses(config, "datasets.d: unknown key 'val_fraction'; allowed: kind, n_classes")
    config["datasets"] = {"gaussian": {"kind": "digits"}}
    _schema_refuses(config, "datasets.gaussian.kind: unknown value 'digits'; allowed: gaussian")


def test_resolve_refuses_what_the_schema_cannot_say():
    _resolve_refuses(_minimal(val_fraction=0.999),
                     "datasets.d.val_fraction: must leave every class images in both splits (0.0029 <= val_fraction "
                     "< 0.9971; the smallest class has 174), got 0.999")
    _resolve_refuses(_minimal(seed=-3), "datasets.d.seed: must be a non-negative integer, got -3")
    _resolve_refuses(_minimal(encoding="log_abs"), "datasets.d.encoding: unknown encoding 'log_abs'")
    _resolve_refuses(_minimal(image_size=8),
                     "datasets.d: unknown key 'image_size' for kind digits; allowed: val_fraction, seed, encoding, "
                     "augment")
    config = _minimal()
    config["datasets"]["d"]["kind"] = "mnist"
    _resolve_refuses(config, "datasets.d.kind: 'mnist' is not a kind defined here (allowed: gaussian, digits)")
    config["datasets"] = {"gaussian": {"kind": "digits"}}
    _resolve_refuses(config, "datasets.gaussian.kind: the built-in name `gaussian` is the Gaussian-noise set, not "
                             "'digits'; give the digits dataset another name")


def test_resolved_digits_study_and_what_it_allows():
    c = resolve_config(_minimal(val_fraction=0.25))
    s = c.study("s")
    assert c.dataset("s") == {"name": "d", "kind": "digits", "val_fraction": 0.25, "seed": 1312, "encoding": "unit",
                              "augment": "shift"}
    assert s.family["other_arch"] == "resnet50" and len(s.runs()) == 11
    # psychophysics: pairs need distinct evaluation images (451 at val_fraction 0.25)
    config = _minimal(val_fraction=0.25)
    config["psychophysics"] = {"study": "s", "pairs": 221, "practice": 5}
    with pytest.raises(ConfigError, match=re.escape("need 452 distinct images, but 's' has 451 evaluation images")):
        resolve_config(config)
    config["psychophysics"]["pairs"] = 220
    assert resolve_config(config).psychophysics["study"] == "s"
    # zoo networks see 8 x 8 images
    config = _minimal()
    config["studies"] = {"z": {"zoo": {"dataset": "d", "models": {"vit": {"arch": "zoo_vit", "arch_options":
                                                                         {"image_size": 32, "patch_size": 2}}}}}}
    with pytest.raises(ConfigError, match=re.escape("arch_options.image_size: 32, but the networks of dataset 'd' "
                                                    "see 8x8 images")):
        resolve_config(config)


# --- the study -------------------------------------------------------------------------------------------


def test_digits_preset_runs_alone_on_top_of_the_default():
    default = yaml.safe_load(open(ROOT / "config" / "config.yaml"))
    assert "digits-resnet18" not in (default.get("run") or default["studies"])  # `make run` does not train it
    preset = yaml.safe_load(open(DIGITS_CONFIG))
    merged = copy.deepcopy(default)
    for key, value in preset.items():  # Snakemake merges mappings key by key
        merged[key] = {**merged[key], **value} if isinstance(value, dict) and key in merged else value
    check_schema(copy.deepcopy(merged), SCHEMA)
    c = resolve_config(merged)
    assert list(c.studies) == ["digits-resnet18"] and c.psychophysics is None
    s = c.study("digits-resnet18")
    assert c.dataset("digits-resnet18")["kind"] == "digits" and s.epochs == 30 and len(s.runs()) == 11
    base = s.recipe("base/1")
    assert (base["arch_options"], base["batch_size"], base["lr"], base["extra_epochs"]) == \
        ({"width": 16, "stem": "cifar"}, 64, 0.05, 10)
    assert s.recipe("architecture/1")["arch_options"] == {"width": 12, "stem": "cifar_nopool"}


_BLOCKED = """
import importlib.abc, sys
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "torchvision", "sklearn", "scipy", "h5py", "matplotlib", "PIL"):
            raise ImportError(f"planning imported the heavy package {name!r}")
sys.meta_path.insert(0, Refuse())
from snakemake.cli import main
sys.argv = ["snakemake"] + sys.argv[1:]
main()
"""


def test_digits_study_plans_without_heavy_imports(tmp_path):
    res = subprocess.run([sys.executable, "-c", _BLOCKED, "-s", str(ROOT / "workflow" / "Snakefile"), "-n",
                          "--cores", "1", "--directory", str(tmp_path),
                          "--configfile", str(ROOT / "config" / "config.yaml"), str(DIGITS_CONFIG)],
                         capture_output=True, text=True, timeout=180)
    out = res.stdout + res.stderr
    assert res.returncode == 0 and "planning imported the heavy package" not in out, out[-3000:]
    assert re.search(r"^train_run\s+11$", out, re.M), out[-3000:]


def test_pretrained_models_on_the_digits_are_refused_at_planning():
    from ddd.config.resolve import ConfigError, resolve_config

    config = {"datasets": {"d": {"kind": "digits"}},
              "studies": {"p": {"pretrained": {"dataset": "d", "models": [
                  {"name": "r", "source": "torchvision", "model": "resnet18", "weights": "/nowhere/r.pth"}]}}}}
    with pytest.raises(ConfigError, match=r"studies\.p\.pretrained\.dataset: .*digits.*allowed kinds"):
        resolve_config(config)


def test_digits_figures_and_resources():
    from ddd.experiment.recipes import training_resources
    from ddd.report.catalog import examples_available

    assert examples_available({"kind": "digits"})[0]
    res = training_resources({"gpu_minutes_per_epoch": 60, "mem_mb": 16000}, {"kind": "digits"}, 40)
    assert res == {"runtime": 10, "mem_mb": 4000}
