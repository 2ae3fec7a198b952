"""Tests of ddd.data.images: local image datasets (layouts, order, ids, pickle release, transforms)."""

import os
import pickle
import re
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from ddd.data.cifar import load_cifar100_pickle
from ddd.data.folders import DatasetFormatError, DatasetLayoutError, check_layout, cifar100_source
from ddd.data.images import (ImageFolderSplit, cifar_transform, fingerprint, imagenet_transform, normalize_imagenet,
                             split_size)


def raw_pickle(path):
    with open(path, "rb") as f:
        return pickle.load(f, encoding="bytes")


def layout_error(name, root, **kwargs) -> str:
    with pytest.raises(DatasetLayoutError) as info:
        check_layout(name, root, **kwargs)
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    assert "Expected layout" in message and "Nothing is downloaded" in message
    return message


@pytest.fixture
def imagenet_copy(fake_imagenet, tmp_path):
    return shutil.copytree(fake_imagenet, tmp_path / "imagenet")


# --- layout checks ---------------------------------------------------------------------------------


def test_fakes_pass_the_layout_check(fake_imagenet, fake_imagefolder, fake_cifar_folder, fake_cifar_pickle):
    check_layout("imagenet", fake_imagenet)
    check_layout("imagefolder", fake_imagefolder)
    check_layout("imagefolder", fake_imagenet)
    check_layout("cifar100", fake_cifar_folder)
    check_layout("cifar100", fake_cifar_pickle)
    check_layout("cifar100", fake_cifar_pickle / "cifar-100-python")
    assert cifar100_source(fake_cifar_pickle).kind == "pickle"
    assert cifar100_source(fake_cifar_pickle / "cifar-100-python").kind == "pickle"
    assert cifar100_source(fake_cifar_folder).kind == "folder"


def test_missing_root_names_path_and_layout(tmp_path):
    root = tmp_path / "no" / "imagenet"
    message = layout_error("imagenet", root)
    assert f"{root} does not exist" in message
    assert f"{root}/\n    train/\n      n01440764/" in message and "    val/" in message
    assert "imagenet_root" in message
    message = layout_error("cifar100", root)
    assert str(root) in message and "cifar-100-python/" in message and "cifar100_root" in message
    message = layout_error("imagefolder", root, config_key="datasets.mine.root")
    assert str(root) in message and "<class>/" in message and "datasets.mine.root" in message


def test_missing_val(imagenet_copy):
    shutil.rmtree(imagenet_copy / "val")
    message = layout_error("imagenet", imagenet_copy)
    assert f"{imagenet_copy / 'val'} is missing" in message


def test_flat_val_folder_gets_a_hint(imagenet_copy):
    val = imagenet_copy / "val"
    for path in list(val.glob("*/*.JPEG")):
        path.rename(val / path.name)
    for wnid_dir in [p for p in val.iterdir() if p.is_dir()]:
        shutil.rmtree(wnid_dir)
    message = layout_error("imagenet", imagenet_copy)
    assert f"{val} holds no class folders" in message and "holds images directly" in message


def test_empty_class_folder(imagenet_copy):
    empty = imagenet_copy / "train" / "n01443537"
    for path in empty.iterdir():
        path.unlink()
    (empty / "readme.txt").write_text("no images here")
    message = layout_error("imagenet", imagenet_copy)
    assert f"class folder {empty} holds no images" in message
    with pytest.raises(DatasetLayoutError, match="holds no images"):
        ImageFolderSplit(imagenet_copy, "train", name="imagenet")


def test_mismatched_classes(imagenet_copy):
    (imagenet_copy / "val" / "n01484850").rename(imagenet_copy / "val" / "n09999999")
    message = layout_error("imagenet", imagenet_copy)
    assert "train/ and val/ hold different class folders" in message
    assert "only in train/: n01484850" in message and "only in the evaluation folder: n09999999" in message


def test_cifar_layout_errors(fake_cifar_pickle, fake_cifar_folder, tmp_path):
    pickle_copy = shutil.copytree(fake_cifar_pickle, tmp_path / "pickle")
    (pickle_copy / "cifar-100-python" / "meta").unlink()
    message = layout_error("cifar100", pickle_copy)
    assert f"{pickle_copy / 'cifar-100-python' / 'meta'} is missing" in message

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "cifar-100-python.tar.gz").write_bytes(b"")
    message = layout_error("cifar100", empty)
    assert "found neither" in message and "ImageFolder export" in message and "tar xzf" in message

    folder_copy = shutil.copytree(fake_cifar_folder, tmp_path / "folder")
    shutil.copytree(folder_copy / "test", folder_copy / "val")
    assert "ambiguous" in layout_error("cifar100", folder_copy)
    shutil.rmtree(folder_copy / "test")
    check_layout("cifar100", folder_copy)  # val/ instead of test/ is accepted
    shutil.rmtree(folder_copy / "val")
    assert f"{folder_copy / 'test'} is missing" in layout_error("cifar100", folder_copy)


# --- folder datasets -------------------------------------------------------------------------------


def test_imagenet_val_order_ids_and_targets(fake_imagenet, fake_datasets):
    ds = ImageFolderSplit(fake_imagenet, "val", name="imagenet")
    wnids = list(fake_datasets.imagenet_wnids)
    assert ds.class_names == wnids and len(ds) == 6
    ids = ds.image_ids
    assert ids.dtype.kind == "U" and ds.targets.dtype == np.int64
    np.testing.assert_array_equal(ds.targets, np.arange(6) // 2)  # label = index // per_class
    expected = [f"{w}/{p.name}" for w in wnids for p in sorted((fake_imagenet / "val" / w).glob("*.JPEG"))]
    assert list(ids) == expected  # sorted by (class, file name); .DS_Store and csv ignored
    assert all(i.startswith(wnids[t] + "/ILSVRC2012_val_") for i, t in zip(ids, ds.targets))

    x, y = ds[3]
    assert y == 1 and x.dtype == torch.uint8 and x.shape == (3, 44, 30)
    reference = np.asarray(Image.open(fake_imagenet / "val" / ids[3]).convert("RGB"))
    np.testing.assert_array_equal(x.permute(1, 2, 0).numpy(), reference)
    assert ds.path(3) == os.path.join(fake_imagenet, "val", ids[3])

    half = ImageFolderSplit(fake_imagenet, "val", name="imagenet", subset=np.array([1, 4]))
    assert list(half.image_ids) == [ids[1], ids[4]] and list(half.targets) == [0, 2]
    assert half[1][1] == 2


def test_imagefolder_extensions_case_insensitive(fake_imagefolder):
    ds = ImageFolderSplit(fake_imagefolder, "train")
    assert ds.class_names == ["cat", "dog"]
    assert list(ds.image_ids) == ["cat/img00.png", "cat/img01.JPG", "dog/img00.png", "dog/img01.JPG"]
    assert split_size("imagefolder", fake_imagefolder, "val") == 4


def test_cifar_folder_export_reads_test_as_val(fake_cifar_folder):
    ds = ImageFolderSplit(fake_cifar_folder, "val", name="cifar100")
    assert ds.directory == fake_cifar_folder / "test" and len(ds) == 6
    assert ds.image_ids[0] == "apple/apple_s_000000.png"
    x, _ = ds[0]
    assert x.shape == (3, 32, 32)
    assert split_size("cifar100", fake_cifar_folder, "train") == 9


def test_transforms_through_a_dataloader(fake_imagenet):
    ds = ImageFolderSplit(fake_imagenet, "train", name="imagenet", transform=imagenet_transform(train=True))
    x, y = next(iter(torch.utils.data.DataLoader(ds, batch_size=4, shuffle=False)))
    assert x.shape == (4, 3, 224, 224) and x.dtype == torch.float32 and y.tolist() == [0, 0, 0, 1]


# --- CIFAR-100 pickle release -----------------------------------------------------------------------


def test_cifar_pickle_round_trip(fake_cifar_pickle, fake_datasets):
    folder = fake_cifar_pickle / "cifar-100-python"
    raw = raw_pickle(folder / "train")
    images, targets, ids, names = load_cifar100_pickle(fake_cifar_pickle, "train")
    assert images.shape == (20, 3, 32, 32) and images.dtype == np.uint8 and images.flags.writeable
    assert targets.dtype == np.int64 and targets.tolist() == raw[b"fine_labels"]
    assert ids.dtype.kind == "U" and list(ids) == [s.decode() for s in raw[b"filenames"]]
    assert names == list(fake_datasets.cifar100_fine_labels)
    for i in (0, 7, 19):
        np.testing.assert_array_equal(images[i], raw[b"data"][i].reshape(3, 32, 32))
        np.testing.assert_array_equal(images[i, 0], raw[b"data"][i, :1024].reshape(32, 32))  # red plane
        np.testing.assert_array_equal(images[i, 2, 5], raw[b"data"][i, 2048 + 5 * 32: 2048 + 6 * 32])

    val = load_cifar100_pickle(folder, "val")  # the folder itself; "val" is the test file
    assert val[0].shape == (10, 3, 32, 32)
    assert list(val[2]) == [s.decode() for s in raw_pickle(folder / "test")[b"filenames"]]
    assert split_size("cifar100", fake_cifar_pickle, "val") == 10


@pytest.mark.parametrize("protocol, str_keys", [(5, False), (4, True)])
def test_cifar_pickle_written_by_python3(tmp_path, fake_datasets, protocol, str_keys):
    root = fake_datasets.cifar_pickle(tmp_path, n_train=4, n_test=3, protocol=protocol, str_keys=str_keys)
    images, targets, ids, names = load_cifar100_pickle(root, "val")
    raw = raw_pickle(root / "cifar-100-python" / "test")
    data = raw["data" if str_keys else b"data"]
    np.testing.assert_array_equal(images, data.reshape(3, 3, 32, 32))
    assert len(names) == 100 and len(ids) == 3


def test_cifar_pickle_corruption_names_the_file(tmp_path, fake_datasets):
    root = fake_datasets.cifar_pickle(tmp_path, n_train=4, n_test=3)
    train = root / "cifar-100-python" / "train"
    content = train.read_bytes()
    train.write_bytes(content[: len(content) // 2])
    with pytest.raises(DatasetFormatError, match=re.escape(f"{train} is not a readable")):
        load_cifar100_pickle(root, "train")

    d = fake_datasets.cifar_pickle_dict(4, seed=0, batch_label="x")
    d[b"data"] = d[b"data"][:, :3000]
    train.write_bytes(pickle.dumps(d, protocol=2))
    with pytest.raises(DatasetFormatError, match=r"train: 'data' must be a uint8 array \(N, 3072\)"):
        load_cifar100_pickle(root, "train")

    d = fake_datasets.cifar_pickle_dict(4, seed=0, batch_label="x")
    d[b"filenames"][2] = d[b"filenames"][1]
    train.write_bytes(pickle.dumps(d, protocol=2))
    with pytest.raises(DatasetFormatError, match="not unique"):
        load_cifar100_pickle(root, "train")

    train.write_bytes(pickle.dumps({b"data": os.system}, protocol=2))  # a file that would run code
    with pytest.raises(DatasetFormatError, match="refusing to load"):
        load_cifar100_pickle(root, "train")


# --- transforms ------------------------------------------------------------------------------------


def test_transform_shapes():
    torch.manual_seed(0)
    pil = Image.fromarray(np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8))
    tensor = torch.randint(0, 256, (3, 30, 40), dtype=torch.uint8)
    for train in (True, False):
        for image in (pil, tensor):
            x = imagenet_transform(train=train)(image)
            assert x.shape == (3, 224, 224) and x.dtype == torch.float32 and type(x) is torch.Tensor
    small = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    assert cifar_transform(train=True)(small).shape == (3, 32, 32)
    np.testing.assert_allclose(cifar_transform(train=False)(small), normalize_imagenet(small / 255.0), atol=1e-6)


def test_normalize_imagenet():
    x = torch.full((2, 3, 2, 2), 0.5)
    y = normalize_imagenet(x)
    expected = [(0.5 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (0.5 - 0.406) / 0.225]
    np.testing.assert_allclose(y[1, :, 0, 0], expected, rtol=1e-6)
    with pytest.raises(ValueError):
        normalize_imagenet(torch.zeros(4, 2, 2))


# --- fingerprints ----------------------------------------------------------------------------------


def test_fingerprint_folder(fake_imagenet, imagenet_copy, fake_datasets):
    fp = fingerprint("imagenet", fake_imagenet, "val")
    assert len(fp) == 16 and fp == fingerprint("imagenet", fake_imagenet, "val")
    assert fp == fingerprint("imagenet", imagenet_copy, "val")  # independent of the location
    assert fp == fingerprint("imagefolder", fake_imagenet, "val")
    assert fp != fingerprint("imagenet", fake_imagenet, "train")
    path = next((imagenet_copy / "val" / "n01443537").glob("*.JPEG"))
    fake_datasets.image(path, np.random.default_rng(9), width=31, height=45)
    assert fingerprint("imagenet", imagenet_copy, "val") != fp
    fake_datasets.image(imagenet_copy / "val" / "n01443537" / "extra.png", np.random.default_rng(9))
    assert fingerprint("imagenet", imagenet_copy, "val") != fp


def test_fingerprint_cifar_pickle(tmp_path, fake_datasets):
    root = fake_datasets.cifar_pickle(tmp_path, n_train=4, n_test=3)
    fp = fingerprint("cifar100", root, "train")
    assert fp == fingerprint("cifar100", root / "cifar-100-python", "train")
    assert fp != fingerprint("cifar100", root, "val")
    fake_datasets.cifar_pickle(tmp_path, n_train=4, n_test=3, seed=11)  # same sizes, other pixels
    assert fingerprint("cifar100", root, "train") != fp


def test_cifar_pickle_written_by_numpy1_and_python2(tmp_path, fake_datasets):
    """The release was written by Python 2 and numpy 1.x: globals under numpy.core, protocol 0/2."""
    root = fake_datasets.cifar_pickle(tmp_path, n_train=4, n_test=3)
    for protocol in (0, 2):
        d = fake_datasets.cifar_pickle_dict(3, seed=4, batch_label="testing batch 1 of 1")
        content = pickle.dumps(d, protocol=protocol).replace(b"numpy._core.", b"numpy.core.")
        assert b"numpy.core.multiarray" in content
        (root / "cifar-100-python" / "test").write_bytes(content)
        images, *_ = load_cifar100_pickle(root, "val")
        np.testing.assert_array_equal(images, d[b"data"].reshape(3, 3, 32, 32))
