"""Tests of ddd.data: the Gaussian-noise generator, encodings, splits and batching."""

import hashlib
import math
import re

import numpy as np
import pytest
import torch
from scipy.stats import norm

from ddd.data.gaussian import (ENCODINGS, GaussianSpec, encode, gaussian_image, gaussian_spec, ideal_observer_accuracy,
                               label_of_sigma, sigma_of_label)
from ddd.data.loading import (EvalSet, GaussianNoise, InMemoryBatches, LoaderBatches, dataset_size, half_split,
                              load_split)

TINY = GaussianSpec(n_classes=4, image_size=4, train_per_class=3, val_per_class=2, seed=7)


def pixel_distribution(sigma: float) -> tuple[float, float]:
    """Exact mean and std of clip(round(128 + sigma Z), 0, 255) for Z ~ N(0, 1)."""
    k = np.arange(256, dtype=float)
    upper = norm.cdf((k + 0.5 - 128) / sigma)
    lower = norm.cdf((k - 0.5 - 128) / sigma)
    upper[-1], lower[0] = 1.0, 0.0  # everything above 254.5 is clipped to 255, below 0.5 to 0
    p = upper - lower
    mean = float(np.sum(p * k))
    return mean, float(np.sqrt(np.sum(p * (k - mean) ** 2)))


def class_pixels(spec: GaussianSpec, split: str, label: int) -> np.ndarray:
    per = spec.per_class(split)
    return np.stack([gaussian_image(spec, split, label * per + j) for j in range(per)]).astype(np.float64)


# --- labels and sigmas -------------------------------------------------------------------------------


def test_sigma_label_mapping():
    for k in range(100):
        assert sigma_of_label(k) == k + 1
        assert label_of_sigma(k + 1) == k
    ks = np.arange(100)
    np.testing.assert_array_equal(sigma_of_label(ks), ks + 1)
    np.testing.assert_array_equal(label_of_sigma(sigma_of_label(ks)), ks)
    # the authors' bug: folder names sorted as strings ("sigma=10" before "sigma=2") scrambled this
    assert sigma_of_label(9) == 10 and sigma_of_label(1) == 2


# --- generator statistics ----------------------------------------------------------------------------


def test_exact_pixel_distribution_helper():
    # sanity of the reference itself: rounding inflates sigma = 1 to ~1.04, negligible for large sigma
    mean, std = pixel_distribution(1.0)
    assert mean == pytest.approx(128.0, abs=1e-9)
    assert 1.03 < std < 1.05
    assert pixel_distribution(20.0)[1] == pytest.approx(math.sqrt(400 + 1 / 12), rel=1e-4)
    assert pixel_distribution(100.0)[1] < 90  # heavy clipping


@pytest.mark.parametrize("sigma", [1, 5, 20, 60])
def test_class_statistics(sigma):
    spec = GaussianSpec(n_classes=60, image_size=16, train_per_class=2, val_per_class=20, seed=1312)
    x = class_pixels(spec, "val", label_of_sigma(sigma))
    assert x.shape == (20, 3, 16, 16)
    exp_mean, exp_std = pixel_distribution(sigma)
    n = x.size
    # mean within 4 standard errors of the exact expectation (128 for every class: clipping is symmetric-ish)
    assert abs(x.mean() - exp_mean) < 4 * exp_std / math.sqrt(n)
    assert abs(x.mean() - 128.0) < 4 * exp_std / math.sqrt(n) + 0.01
    # std within 3 % of the exact expectation (rounding and clipping included)
    assert x.std() == pytest.approx(exp_std, rel=0.03)
    if 5 <= sigma <= 20:  # no rounding or clipping to speak of: std = sigma
        assert x.std() == pytest.approx(sigma, rel=0.03)
    if sigma == 60:  # clipping at 0 and 255 (2.1 sigma) visibly shrinks the spread
        assert x.std() < 0.99 * sigma
    # every channel is noise of its own, not a copy
    img = x[0]
    assert not np.array_equal(img[0], img[1]) and not np.array_equal(img[1], img[2])
    for c in range(3):
        assert img[c].std() > 0


def test_sigma_one_rounding():
    spec = GaussianSpec(n_classes=2, image_size=16, train_per_class=1, val_per_class=20, seed=3)
    x = class_pixels(spec, "val", 0)
    # sigma 1 after rounding: integer values near 128, std ~1.04 (not 1.00)
    assert set(np.unique(x)) <= set(range(120, 137))
    assert x.std() == pytest.approx(pixel_distribution(1.0)[1], rel=0.03)


def test_heavily_clipped_class_hits_both_bounds():
    spec = GaussianSpec(n_classes=100, image_size=8, train_per_class=1, val_per_class=2, seed=5)
    x = gaussian_image(spec, "val", 99 * 2)  # sigma 100
    assert x.min() == 0 and x.max() == 255


def test_std_increases_with_label():
    spec = GaussianSpec(n_classes=12, image_size=16, train_per_class=1, val_per_class=4, seed=11)
    stds = np.array([class_pixels(spec, "val", k).std() for k in range(spec.n_classes)])
    assert np.all(np.diff(stds) > 0)
    np.testing.assert_allclose(stds[2:], sigma_of_label(np.arange(2, 12)), rtol=0.05)


# --- determinism ------------------------------------------------------------------------------------


def test_shape_dtype():
    img = gaussian_image(TINY, "train", 0)
    assert img.shape == (3, 4, 4) and img.dtype == np.uint8
    spec = GaussianSpec(n_classes=2, image_size=7, train_per_class=1, val_per_class=1)
    assert gaussian_image(spec, "val", 1).shape == (3, 7, 7)


def test_deterministic_across_instances_and_order():
    a = GaussianSpec(n_classes=4, image_size=4, train_per_class=3, val_per_class=2, seed=7)
    b = GaussianSpec(n_classes=4, image_size=4, train_per_class=3, val_per_class=2, seed=7)
    n = 12
    forward = [gaussian_image(a, "train", i).tobytes() for i in range(n)]
    # reversed order, interleaved with the other split and with unrelated torch random draws
    backward = {}
    for i in reversed(range(n)):
        gaussian_image(b, "val", i % 8)
        torch.randn(5)
        backward[i] = gaussian_image(b, "train", i).tobytes()
    assert forward == [backward[i] for i in range(n)]
    # the global torch RNG is neither used nor disturbed
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    gaussian_image(a, "train", 0)
    assert torch.equal(torch.rand(3), expected)


def test_images_differ_by_seed_split_index():
    other_seed = GaussianSpec(n_classes=4, image_size=4, train_per_class=3, val_per_class=2, seed=8)
    base = gaussian_image(TINY, "val", 1)
    assert not np.array_equal(base, gaussian_image(other_seed, "val", 1))
    assert not np.array_equal(base, gaussian_image(TINY, "train", 1))  # train vs val
    assert not np.array_equal(base, gaussian_image(TINY, "val", 0))   # same class, other index
    # all images of a split distinct
    imgs = {gaussian_image(TINY, "train", i).tobytes() for i in range(12)}
    assert len(imgs) == 12


def test_train_and_val_splits_differ_entirely():
    spec = GaussianSpec(n_classes=2, image_size=4, train_per_class=4, val_per_class=4, seed=1)
    train = {gaussian_image(spec, "train", i).tobytes() for i in range(8)}
    val = {gaussian_image(spec, "val", i).tobytes() for i in range(8)}
    assert not train & val


def test_image_independent_of_split_sizes():
    # an image depends on (seed, split, index) and its class' sigma only: more images per class in the
    # other split do not change it (the index -> label map of *this* split is unchanged)
    a = GaussianSpec(n_classes=4, image_size=4, train_per_class=3, val_per_class=2, seed=7)
    b = GaussianSpec(n_classes=4, image_size=4, train_per_class=50, val_per_class=2, seed=7)
    for i in range(8):
        assert np.array_equal(gaussian_image(a, "val", i), gaussian_image(b, "val", i))


def test_golden_image():
    """Regression: the generator's bytes must not change silently (nothing is stored, docs/reproduction.md#gaussian-noise).

    The digest was recorded with this package's generator (torch 2.14.1, CPU). If it fails after a
    torch upgrade or on another CPU, regenerated datasets differ from earlier ones: bump the
    fingerprint's version ("gaussian-v1") rather than updating the digest alone.
    """
    spec = GaussianSpec(n_classes=3, image_size=4, train_per_class=2, val_per_class=2, seed=1312)
    digest = hashlib.sha256(b"".join(gaussian_image(spec, s, i).tobytes()
                                     for s in ("train", "val") for i in range(6))).hexdigest()
    assert digest == GOLDEN_DIGEST


GOLDEN_DIGEST = "a9d3799f99b11cb7cbc6cd6069b5d90c0d83c649cf80b56b66b7e26e27a33d08"


def test_index_out_of_range_and_bad_split():
    n = TINY.n_classes * TINY.val_per_class
    gaussian_image(TINY, "val", n - 1)
    for bad in (-1, n, n + 10):
        with pytest.raises(IndexError, match="out of range"):
            gaussian_image(TINY, "val", bad)
    with pytest.raises(ValueError, match="split"):
        gaussian_image(TINY, "test", 0)
    with pytest.raises(ValueError, match="split"):
        TINY.per_class("validation")


@pytest.mark.parametrize("key", ["n_classes", "image_size", "train_per_class", "val_per_class"])
@pytest.mark.parametrize("value", [0, -1, 2.5, "3"])
def test_invalid_spec(key, value):
    with pytest.raises(ValueError, match=key):
        GaussianSpec(**{key: value})


def test_spec_defaults_are_the_papers():
    spec = GaussianSpec()
    assert (spec.n_classes, spec.image_size, spec.train_per_class, spec.val_per_class, spec.seed) == \
        (100, 224, 20000, 500, 1312)
    assert spec.per_class("train") == 20000 and spec.per_class("val") == 500


# --- fingerprint -------------------------------------------------------------------------------------


def test_fingerprint():
    base = dict(n_classes=4, image_size=4, train_per_class=3, val_per_class=2, seed=7)
    fp = GaussianSpec(**base).fingerprint()
    assert fp == GaussianSpec(**base).fingerprint()
    assert len(fp) == 16 and all(c in "0123456789abcdef" for c in fp)
    seen = {fp}
    for key in base:
        fp2 = GaussianSpec(**{**base, key: base[key] + 1}).fingerprint()
        assert fp2 != fp, key
        seen.add(fp2)
    assert len(seen) == len(base) + 1


# --- encodings ---------------------------------------------------------------------------------------


def test_encode_values():
    x = torch.tensor([0, 64, 127, 128, 129, 192, 255], dtype=torch.uint8)
    unit = encode(x, "unit")
    assert unit.dtype == torch.float32 and unit.shape == x.shape
    np.testing.assert_allclose(unit.numpy(), x.numpy() / 255.0, rtol=1e-6)
    assert unit[-1].item() == 1.0 and unit[0].item() == 0.0

    std = encode(x, "standard")
    np.testing.assert_allclose(std.numpy(), [-2.0, -1.0, -1 / 64, 0.0, 1 / 64, 1.0, 127 / 64], rtol=1e-6)

    log = encode(x, "signed_log")
    assert log[3].item() == 0.0
    assert log[-1].item() == pytest.approx(1.0, abs=1e-6)           # d = 127: log(128) / log(128)
    assert log[0].item() == pytest.approx(-math.log(129) / math.log(128), abs=1e-6)
    assert log[4].item() == pytest.approx(1 / 7, abs=1e-6)           # log(2) / log(2^7)
    assert log[2].item() == pytest.approx(-1 / 7, abs=1e-6)


IMAGENET_MEAN_STD = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))  # torchvision's, per RGB channel


def test_encode_imagenet_values():
    x = torch.tensor([0, 64, 128, 255], dtype=torch.uint8).repeat(2, 3, 1, 1)  # (2, 3, 1, 4): (..., 3, H, W)
    y = encode(x, "imagenet")
    assert y.dtype == torch.float32 and y.shape == (2, 3, 1, 4)
    (mean, std) = IMAGENET_MEAN_STD
    expected = np.array([[(v / 255.0 - m) / s for v in (0, 64, 128, 255)] for m, s in zip(mean, std)])
    for b in range(2):
        np.testing.assert_allclose(y[b, :, 0].numpy(), expected, rtol=1e-5, atol=1e-6)
    # known answers: black and white per channel
    np.testing.assert_allclose(y[0, :, 0, 0].numpy(), [-2.117904, -2.035714, -1.804444], atol=1e-5)
    np.testing.assert_allclose(y[0, :, 0, 3].numpy(), [2.248908, 2.428571, 2.640000], atol=1e-5)
    # a single image (3, H, W) and float input give the same values
    torch.testing.assert_close(encode(x[0], "imagenet"), y[0])
    torch.testing.assert_close(encode(x.to(torch.float32), "imagenet"), y)
    torch.testing.assert_close(encode(x.to(torch.float64), "imagenet").to(torch.float32), y)
    # strictly increasing in the pixel value within each channel
    ramp = encode(torch.arange(256, dtype=torch.uint8).reshape(1, 16, 16).repeat(3, 1, 1), "imagenet")
    assert torch.all(torch.diff(ramp.reshape(3, -1), dim=1) > 0)
    # the normalisation needs RGB images: channel dimension 3 at position -3
    for bad in (torch.zeros(4, 8, 8), torch.zeros(3, 8), torch.zeros(2, 1, 8, 8)):
        with pytest.raises(ValueError, match=r"expected a float tensor \(\.\.\., 3, H, W\), got torch\.float32 "
                                             + re.escape(str(tuple(bad.shape)))):
            encode(bad, "imagenet")


def test_encode_leaves_its_input_alone():
    for enc in ENCODINGS:
        x = torch.full((3, 2, 2), 255.0)
        encode(x, enc)
        assert torch.all(x == 255.0), enc


def test_encode_properties():
    assert ENCODINGS == ("unit", "standard", "signed_log", "log_abs", "imagenet")
    x = torch.arange(256, dtype=torch.uint8).reshape(4, 8, 8)
    for enc in ENCODINGS:
        if enc in ("imagenet", "log_abs"):  # imagenet: test_encode_imagenet_values; log_abs: below
            continue
        y = encode(x, enc)
        assert y.dtype == torch.float32 and y.shape == x.shape
        assert torch.all(torch.diff(y.flatten()) > 0), enc  # strictly increasing in the pixel value
        # float input gives the same values as uint8
        torch.testing.assert_close(encode(x.to(torch.float32), enc), y)
    d = torch.arange(1, 128, dtype=torch.float32)
    torch.testing.assert_close(encode(128 + d, "signed_log"), -encode(128 - d, "signed_log"))
    torch.testing.assert_close(encode(128 + d, "standard"), -encode(128 - d, "standard"))
    # log_abs: |signed_log|, symmetric about 128, 0 there, 1 at d = 127
    torch.testing.assert_close(encode(128 + d, "log_abs"), encode(128 - d, "log_abs"))
    torch.testing.assert_close(encode(x, "log_abs"), encode(x, "signed_log").abs())
    assert encode(torch.tensor([128.0]), "log_abs").item() == 0 and encode(torch.tensor([255.0]), "log_abs").item() == 1


def test_encode_unknown():
    with pytest.raises(ValueError, match="unknown encoding 'zscore'.*unit"):
        encode(torch.zeros(2), "zscore")
    with pytest.raises(ValueError, match="encoding"):
        GaussianNoise(TINY, "val", encoding="zscore")


def test_gaussian_images_are_the_per_image_streams():
    """gaussian_images (one re-seeded generator, arithmetic once) gives exactly the pixels of drawing each
    image from its own generator, as the dataset was defined."""
    from ddd.data.gaussian import _image_seed, gaussian_images

    spec = GaussianSpec(n_classes=7, image_size=5, train_per_class=30, val_per_class=4, seed=9)
    for split, idx in (("train", [0, 29, 30, 209, 17, 17]), ("val", list(range(28)))):
        want = []
        for i in idx:
            gen = torch.Generator().manual_seed(_image_seed(spec.seed, split, i))
            z = torch.randn((3, 5, 5), generator=gen, dtype=torch.float32)
            label = i // spec.per_class(split)
            want.append(torch.round(128.0 + float(label + 1) * z).clamp_(0, 255).to(torch.uint8).numpy())
        got = gaussian_images(spec, split, idx)
        assert got.dtype == np.uint8 and got.shape == (len(idx), 3, 5, 5)
        np.testing.assert_array_equal(got, np.stack(want))
        np.testing.assert_array_equal(gaussian_image(spec, split, idx[1]), want[1])
    assert gaussian_images(spec, "val", []).shape == (0, 3, 5, 5)
    with pytest.raises(IndexError, match="index 28 out of range for the val split of 28 images"):
        gaussian_images(spec, "val", [0, 28])


# --- the torch Dataset -------------------------------------------------------------------------------


def test_gaussian_noise_dataset():
    ds = GaussianNoise(TINY, "train", encoding="standard")
    assert len(ds) == 12
    np.testing.assert_array_equal(ds.targets, np.arange(12) // 3)
    assert ds.targets.dtype == np.int64
    np.testing.assert_array_equal(ds.image_ids, [str(i) for i in range(12)])
    assert ds.class_names == ["sigma=1", "sigma=2", "sigma=3", "sigma=4"]
    for i in (0, 5, 11):
        x, y = ds[i]
        assert x.dtype == torch.float32 and x.shape == (3, 4, 4)
        assert y == i // 3
        torch.testing.assert_close(x, encode(torch.from_numpy(gaussian_image(TINY, "train", i)), "standard"))
    val = GaussianNoise(TINY, "val")
    assert len(val) == 8
    np.testing.assert_array_equal(val.targets, [0, 0, 1, 1, 2, 2, 3, 3])
    with pytest.raises(ValueError, match="split"):
        GaussianNoise(TINY, "test")


def test_gaussian_noise_subset_and_transform():
    subset = np.array([1, 4, 11])
    ds = GaussianNoise(TINY, "train", subset=subset, transform=lambda x: x * 0 + 5)
    assert len(ds) == 3
    np.testing.assert_array_equal(ds.targets, [0, 1, 3])
    np.testing.assert_array_equal(ds.image_ids, ["1", "4", "11"])
    x, y = ds[2]
    assert y == 3 and torch.all(x == 5)


# --- half split --------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 10, 101, 1000])
def test_half_split(n):
    h1, h2 = half_split(n, 1), half_split(n, 2)
    assert len(h1) == n // 2 and len(h2) == n - n // 2
    assert not set(h1) & set(h2)
    np.testing.assert_array_equal(np.sort(np.concatenate([h1, h2])), np.arange(n))
    assert np.all(np.diff(h1) > 0) and np.all(np.diff(h2) > 0)
    np.testing.assert_array_equal(half_split(n, 1), h1)  # deterministic
    np.testing.assert_array_equal(half_split(n, 2), h2)


def test_half_split_seed_and_errors():
    assert not np.array_equal(half_split(100, 1, seed=1), half_split(100, 1, seed=2))
    np.testing.assert_array_equal(half_split(100, 1), half_split(100, 1, seed=1312))
    # random, not the first half
    assert not np.array_equal(half_split(100, 1), np.arange(50))
    for bad in (0, 3, -1):
        with pytest.raises(ValueError, match="half"):
            half_split(10, bad)


# --- load_split and batching -------------------------------------------------------------------------

CONFIG = {"name": "gaussian", "n_classes": 4, "image_size": 4, "train_per_class": 6, "val_per_class": 3,
          "seed": 3, "encoding": "standard", "transforms": "small"}


def test_gaussian_spec_from_config():
    spec = gaussian_spec({**CONFIG, "unrelated": 1})
    assert spec == GaussianSpec(n_classes=4, image_size=4, train_per_class=6, val_per_class=3, seed=3)
    assert gaussian_spec({}) == GaussianSpec()


UNKNOWN_KIND = "unknown dataset kind 'mnist'; allowed: gaussian, cifar100, imagenet, imagefolder"


def test_dataset_size(fake_imagenet, fake_cifar_pickle, fake_imagefolder):
    assert dataset_size(CONFIG, "train") == 24
    assert dataset_size(CONFIG, "val") == 12
    # dispatch on kind (the name is the user's): falls back to the name when there is no kind
    assert dataset_size({**CONFIG, "name": "noise", "kind": "gaussian"}, "val") == 12
    # image datasets count their files: 3 wnids x 3 / 2 JPEGs; the pickle's 20 / 10; 2 classes x 2 each
    for config, train, val in (({"name": "imagenet", "kind": "imagenet", "root": str(fake_imagenet)}, 9, 6),
                               ({"name": "cifar100", "root": str(fake_cifar_pickle)}, 20, 10),
                               ({"name": "pets", "kind": "imagefolder", "root": str(fake_imagefolder)}, 4, 4)):
        assert (dataset_size(config, "train"), dataset_size(config, "val")) == (train, val), config["name"]
    with pytest.raises(KeyError, match="root"):  # an image dataset needs its root
        dataset_size({"name": "cifar100", "kind": "cifar100"}, "val")


def test_dataset_size_unknown_kind():
    with pytest.raises(ValueError, match=re.escape(UNKNOWN_KIND)):
        dataset_size({**CONFIG, "kind": "mnist"}, "val")
    with pytest.raises(ValueError, match=re.escape(UNKNOWN_KIND)):
        dataset_size({**CONFIG, "kind": "mnist", "root": "/nowhere"}, "val")


def test_load_split_val_in_memory():
    batches, meta = load_split(CONFIG, "val")
    assert isinstance(batches, InMemoryBatches) and isinstance(meta, EvalSet)
    assert len(batches) == 12
    np.testing.assert_array_equal(meta.targets, np.arange(12) // 3)
    np.testing.assert_array_equal(meta.image_ids, [str(i) for i in range(12)])
    assert meta.class_names == [f"sigma={k}" for k in range(1, 5)]
    spec = gaussian_spec(CONFIG)
    assert meta.fingerprint == f"{spec.fingerprint()}-standard-small"
    # no shuffle, no flips for evaluation: exactly the generated images, in order
    xs, ys = zip(*batches.epoch(5, shuffle=False))
    assert [len(y) for y in ys] == [5, 5, 2]
    x, y = torch.cat(xs), torch.cat(ys)
    assert x.dtype == torch.float32 and x.shape == (12, 3, 4, 4) and y.dtype == torch.int64
    np.testing.assert_array_equal(y.numpy(), meta.targets)
    expected = torch.stack([encode(torch.from_numpy(gaussian_image(spec, "val", i)), "standard")
                            for i in range(12)])
    torch.testing.assert_close(x, expected)


def test_load_split_fingerprint_depends_on_encoding_and_data():
    fps = {load_split(CONFIG, "val")[1].fingerprint,
           load_split({**CONFIG, "encoding": "unit"}, "val")[1].fingerprint,
           load_split({**CONFIG, "seed": 4}, "val")[1].fingerprint,
           load_split({**CONFIG, "transforms": "paper"}, "val")[1].fingerprint}
    assert len(fps) == 4


def _epoch(batches, seed, **kw):
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    out = list(batches.epoch(7, generator=gen, **kw))
    return torch.cat([x for x, _ in out]), torch.cat([y for _, y in out])


def test_train_batches_seeded():
    batches, meta = load_split(CONFIG, "train")
    assert isinstance(batches, InMemoryBatches) and len(batches) == 24
    x1, y1 = _epoch(batches, 0)
    x2, y2 = _epoch(batches, 0)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    x3, y3 = _epoch(batches, 1)
    assert not torch.equal(x1, x3)
    # an epoch is a permutation of the split: every label its number of times
    assert sorted(y1.tolist()) == sorted(meta.targets.tolist())
    assert not torch.equal(y1, torch.from_numpy(meta.targets)) or not torch.equal(y3, torch.from_numpy(meta.targets))


def test_train_batches_flip_only():
    """Training augmentation is a horizontal flip: each item is its image, or its mirror image."""
    batches, meta = load_split(CONFIG, "train")
    spec = gaussian_spec(CONFIG)
    originals = torch.stack([encode(torch.from_numpy(gaussian_image(spec, "train", i)), "standard")
                             for i in range(24)])
    x, y = _epoch(batches, 5, shuffle=False)
    np.testing.assert_array_equal(y.numpy(), meta.targets)  # shuffle=False keeps the order
    flipped = 0
    for i in range(24):
        same, mirror = torch.equal(x[i], originals[i]), torch.equal(x[i], originals[i].flip(2))
        assert same or mirror
        flipped += mirror and not same
    assert 0 < flipped < 24  # with 24 fair coins (seed 5) both outcomes occur


def test_load_split_subset():
    sub = half_split(24, 1)
    batches, meta = load_split(CONFIG, "train", subset=sub)
    assert len(batches) == 12
    np.testing.assert_array_equal(meta.targets, sub // 6)
    np.testing.assert_array_equal(meta.image_ids, [str(i) for i in sub])
    _, y = _epoch(batches, 0)
    assert sorted(y.tolist()) == sorted((sub // 6).tolist())


def test_load_split_paper_transforms_use_a_loader():
    cfg = {**CONFIG, "n_classes": 2, "val_per_class": 1, "transforms": "paper"}
    batches, meta = load_split(cfg, "val")
    assert isinstance(batches, LoaderBatches) and len(batches) == 2
    (x, y), = list(batches.epoch(2, shuffle=False))
    assert x.shape == (2, 3, 224, 224) and y.tolist() == [0, 1]  # the authors' RandomResizedCrop(224)


def test_load_split_dispatches_on_kind(fake_imagenet, fake_cifar_pickle, fake_datasets):
    from ddd.data import images as imagedata
    # gaussian by kind, whatever the name
    _, meta = load_split({**CONFIG, "name": "noise", "kind": "gaussian"}, "val")
    assert meta.fingerprint == f"{gaussian_spec(CONFIG).fingerprint()}-standard-small"
    # CIFAR-100 pickle release: in memory, encoded x/255 then ImageNet mean/std, no crop or flip for val
    batches, meta = load_split({"name": "cifar100", "kind": "cifar100", "root": str(fake_cifar_pickle)}, "val")
    assert isinstance(batches, InMemoryBatches) and len(batches) == 10
    raw = fake_datasets.cifar_pickle_dict(10, seed=4, batch_label="testing batch 1 of 1")  # conftest: test = seed + 1
    np.testing.assert_array_equal(meta.targets, raw[b"fine_labels"])
    assert meta.class_names == list(fake_datasets.cifar100_fine_labels)
    assert meta.fingerprint == f"cifar100-{imagedata.fingerprint('cifar100', fake_cifar_pickle, 'val')}"
    (x, y), = list(batches.epoch(10, shuffle=False))
    pixels = torch.from_numpy(raw[b"data"].reshape(10, 3, 32, 32).astype(np.float64)) / 255.0
    mean, std = (torch.tensor(v, dtype=torch.float64).view(3, 1, 1) for v in IMAGENET_MEAN_STD)
    torch.testing.assert_close(x, ((pixels - mean) / std).to(torch.float32))
    np.testing.assert_array_equal(y.numpy(), raw[b"fine_labels"])
    # ImageNet: files through a DataLoader, classes in wnid order
    batches, meta = load_split({"name": "imagenet", "kind": "imagenet", "root": str(fake_imagenet)}, "val")
    assert isinstance(batches, LoaderBatches) and len(batches) == 6
    np.testing.assert_array_equal(meta.targets, [0, 0, 1, 1, 2, 2])
    assert meta.class_names == list(fake_datasets.imagenet_wnids)
    assert meta.fingerprint == f"imagenet-{imagedata.fingerprint('imagenet', fake_imagenet, 'val')}"


def test_load_split_errors():
    with pytest.raises(ValueError, match=re.escape(UNKNOWN_KIND)):
        load_split({**CONFIG, "kind": "mnist"}, "val")
    with pytest.raises(ValueError, match=re.escape(UNKNOWN_KIND)):
        load_split({**CONFIG, "name": "mnist"}, "val")  # no kind: the name decides
    with pytest.raises(KeyError, match="root"):  # an image dataset needs its root
        load_split({**CONFIG, "name": "imagenet", "kind": "imagenet"}, "val")
    with pytest.raises(ValueError, match="transforms"):
        load_split({**CONFIG, "transforms": "fancy"}, "val")
    with pytest.raises(ValueError, match="encoding"):
        load_split({**CONFIG, "encoding": "fancy"}, "val")
    with pytest.raises(ValueError, match="split"):
        load_split(CONFIG, "test")


# --- ideal observer ----------------------------------------------------------------------------------


def test_ideal_observer():
    spec = GaussianSpec(n_classes=100, image_size=8)
    acc = ideal_observer_accuracy(spec, n_samples=4000, seed=0)
    assert acc.shape == (100,) and acc.dtype == np.float64
    assert np.all((acc >= 0) & (acc <= 1))
    assert acc[0] > 0.99 and acc[1] > 0.95
    assert acc.mean() == pytest.approx(0.23, abs=0.02)  # docs/reproduction.md#the-laptop-default
    # decreasing overall while clipping is mild
    blocks = acc[:88].reshape(8, 11).mean(axis=1)
    assert np.all(np.diff(blocks) < 0)
    # the observer ignores clipping, the images are clipped: a large sigma's pixels spread less (sigma 90:
    # std 77.6, see pixel_distribution), so its images are taken for a smaller sigma and the top classes
    # are never right (no edge effect at the top class, as an unclipped simulation would have)
    assert pixel_distribution(90.0)[1] < 78
    np.testing.assert_array_equal(acc[89:], 0.0)
    np.testing.assert_array_equal(acc, ideal_observer_accuracy(spec, n_samples=4000, seed=0))
    # more pixels, more information where clipping is mild ...
    acc16 = ideal_observer_accuracy(GaussianSpec(n_classes=100, image_size=16), n_samples=4000)
    assert acc16.mean() > acc.mean()
    assert acc16[:10].min() > 0.89
    assert np.all(acc16[:50] >= acc[:50])
    # ... and a surer mistake where it is not: the sample variance is closer to the clipped variance
    assert acc16[60:80].sum() < 0.75 * acc[60:80].sum()
    np.testing.assert_array_equal(acc16[79:], 0.0)


def test_ideal_observer_matches_spec_section_7():
    means = [ideal_observer_accuracy(GaussianSpec(image_size=px), n_samples=2000).mean() for px in (8, 16, 32)]
    np.testing.assert_allclose(means, [0.23, 0.34, 0.44], atol=0.02)
