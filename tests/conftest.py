"""Shared fixtures: tiny fake copies of the image datasets' on-disk layouts (docs/reproduction.md#datasets).

The session fixtures are built once and must not be modified; a test that breaks a layout copies
one first (``shutil.copytree(fake_imagenet, tmp_path / "imagenet")``) or calls a ``write_fake_*``
builder through the ``fake_datasets`` fixture.
"""

from __future__ import annotations

import pickle
import types
from pathlib import Path

import numpy as np
import pytest

IMAGENET_WNIDS = ("n01440764", "n01443537", "n01484850")
CIFAR100_FINE_LABELS = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup",
    "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house",
    "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man",
    "maple_tree", "motorcycle", "mountain", "mouse", "mushroom", "oak_tree", "orange", "orchid",
    "otter", "palm_tree", "pear", "pickup_truck", "pine_tree", "plain", "plate", "poppy",
    "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal",
    "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider", "squirrel", "streetcar",
    "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
    "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)
assert len(CIFAR100_FINE_LABELS) == 100


def write_image(path: Path, rng: np.random.Generator, *, width: int = 40, height: int = 30) -> np.ndarray:
    """Write a random RGB image (format from the extension); return its uint8 pixels (H, W, 3)."""
    from PIL import Image
    pixels = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG"}.get(path.suffix.lower())
    Image.fromarray(pixels).save(path, format=fmt)
    return pixels


def write_fake_imagenet(root: Path, *, train_per_class: int = 3, val_per_class: int = 2,
                        seed: int = 0) -> Path:
    """ILSVRC-2012-like ImageFolder: 3 wnids, ``.JPEG`` files, val names ``ILSVRC2012_val_<n>``.

    Val numbers are shuffled across classes, so file-name order differs from writing order. Also
    writes files the loader must ignore: a csv in the root, a ``.DS_Store`` in a class folder.
    """
    rng = np.random.default_rng(seed)
    numbers = rng.permutation(len(IMAGENET_WNIDS) * val_per_class) * 37 + 293
    for c, wnid in enumerate(IMAGENET_WNIDS):
        for k in range(train_per_class):
            write_image(root / "train" / wnid / f"{wnid}_{1000 + 7 * k}.JPEG", rng,
                        width=40 + 4 * k, height=30 + 2 * c)
        for k in range(val_per_class):
            number = numbers[c * val_per_class + k]
            write_image(root / "val" / wnid / f"ILSVRC2012_val_{number:08d}.JPEG", rng,
                        width=30, height=44)
    (root / "LOC_val_solution.csv").write_text("ImageId,PredictionString\n")
    (root / "val" / IMAGENET_WNIDS[0] / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    return root


def write_fake_imagefolder(root: Path, *, classes=("cat", "dog"), per_class: int = 2,
                           val_dir: str = "val", seed: int = 1, size: int = 24) -> Path:
    """A generic ImageFolder tree with mixed, mixed-case extensions and a stray text file."""
    rng = np.random.default_rng(seed)
    extensions = (".png", ".JPG", ".jpeg", ".bmp")
    for split in ("train", val_dir):
        for c in classes:
            for k in range(per_class):
                write_image(root / split / c / f"img{k:02d}{extensions[k % len(extensions)]}", rng,
                            width=size, height=size)
            (root / split / c / "notes.txt").write_text("not an image")
    return root


def write_fake_cifar_folder(root: Path, *, n_classes: int = 3, train_per_class: int = 3,
                            test_per_class: int = 2, val_dir: str = "test", seed: int = 2) -> Path:
    """A CIFAR-100 ImageFolder export: ``train/<class>/*.png`` and ``test/<class>/*.png``, 32 x 32."""
    rng = np.random.default_rng(seed)
    for split, per_class in (("train", train_per_class), (val_dir, test_per_class)):
        for c in CIFAR100_FINE_LABELS[:n_classes]:
            for k in range(per_class):
                write_image(root / split / c / f"{c}_s_{k:06d}.png", rng, width=32, height=32)
    return root


def cifar_pickle_dict(n: int, *, seed: int, batch_label: str, str_keys: bool = False) -> dict:
    """One split of the release: data uint8 (n, 3072) as R, G, B planes, fine/coarse labels,
    file names, all under bytes keys (as Python 2 wrote them) unless ``str_keys``."""
    rng = np.random.default_rng(seed)
    fine = rng.integers(0, 100, size=n)
    d = {
        b"filenames": [f"{CIFAR100_FINE_LABELS[f]}_s_{seed:02d}{i:04d}.png".encode() for i, f in enumerate(fine)],
        b"batch_label": batch_label.encode(),
        b"fine_labels": [int(f) for f in fine],
        b"coarse_labels": [int(f) // 5 for f in fine],
        b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
    }
    return {k.decode(): v for k, v in d.items()} if str_keys else d


def write_fake_cifar_pickle(root: Path, *, n_train: int = 20, n_test: int = 10, seed: int = 3,
                            protocol: int = 2, str_keys: bool = False) -> Path:
    """The python-pickle release under ``root/cifar-100-python/{train,test,meta}``; returns ``root``."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    splits = (("train", n_train, "training batch 1 of 1"), ("test", n_test, "testing batch 1 of 1"))
    for i, (file_name, n, label) in enumerate(splits):
        with open(folder / file_name, "wb") as f:
            pickle.dump(cifar_pickle_dict(n, seed=seed + i, batch_label=label, str_keys=str_keys), f,
                        protocol=protocol)
    meta = {b"fine_label_names": [s.encode() for s in CIFAR100_FINE_LABELS],
            b"coarse_label_names": [f"superclass_{k}".encode() for k in range(20)]}
    if str_keys:
        meta = {k.decode(): v for k, v in meta.items()}
    with open(folder / "meta", "wb") as f:
        pickle.dump(meta, f, protocol=protocol)
    return root


@pytest.fixture(scope="session")
def fake_imagenet(tmp_path_factory) -> Path:
    """Root of a fake ImageNet: train/ (3 wnids x 3 JPEGs) and val/ (3 wnids x 2 JPEGs). Read-only."""
    return write_fake_imagenet(tmp_path_factory.mktemp("fake_imagenet"))


@pytest.fixture(scope="session")
def fake_imagefolder(tmp_path_factory) -> Path:
    """Root of a generic ImageFolder dataset: train/ and val/, classes cat and dog. Read-only."""
    return write_fake_imagefolder(tmp_path_factory.mktemp("fake_imagefolder"))


@pytest.fixture(scope="session")
def fake_cifar_folder(tmp_path_factory) -> Path:
    """Root of a fake CIFAR-100 ImageFolder export: train/ and test/, 3 classes, 32 x 32 PNGs."""
    return write_fake_cifar_folder(tmp_path_factory.mktemp("fake_cifar_folder"))


@pytest.fixture(scope="session")
def fake_cifar_pickle(tmp_path_factory) -> Path:
    """Root holding ``cifar-100-python/`` (train: 20 images, test: 10, meta: 100 names). Read-only."""
    return write_fake_cifar_pickle(tmp_path_factory.mktemp("fake_cifar_pickle"))


@pytest.fixture(scope="session")
def fake_datasets():
    """The builders, for tests that need a fresh or differently shaped copy."""
    return types.SimpleNamespace(
        imagenet=write_fake_imagenet, imagefolder=write_fake_imagefolder,
        cifar_folder=write_fake_cifar_folder, cifar_pickle=write_fake_cifar_pickle,
        cifar_pickle_dict=cifar_pickle_dict, image=write_image,
        imagenet_wnids=IMAGENET_WNIDS, cifar100_fine_labels=CIFAR100_FINE_LABELS)


@pytest.fixture
def sota_preset(tmp_path) -> Path:
    """``config/paper/imagenet-sota.yaml`` with its eleven weights files as empty stand-ins (planning
    only checks that they exist), written to ``tmp_path / "sota.yaml"``."""
    import yaml
    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "paper" / "imagenet-sota.yaml").read_text())
    for m in config["studies"]["imagenet-sota"]["pretrained"]["models"]:
        stand_in = tmp_path / "weights" / Path(m["weights"]).name
        stand_in.parent.mkdir(exist_ok=True)
        stand_in.write_bytes(b"")
        m["weights"] = str(stand_in)
    path = tmp_path / "sota.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="session")
def venv_factory(tmp_path_factory):
    """``make(name, packages, *, base=None)``: a virtual environment with exactly ``packages``
    (pip, as conda's ``pip:`` section installs them), built once per session. With ``base`` (an
    environment made before), a hard-linked copy of it plus ``packages``: the same result as
    installing both lists, without a second copy of torch."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("venvs")
    made: dict = {}

    def make(name: str, packages, *, base: str | None = None) -> Path:
        if name in made:
            return made[name]
        venv = root / name
        if base is None:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        else:
            subprocess.run(["cp", "-al", str(made[base]), str(venv)], check=True)
        res = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                              "--disable-pip-version-check", *packages], capture_output=True, text=True, timeout=1800)
        assert res.returncode == 0, f"{name}: pip install {' '.join(packages)} failed:\n{res.stderr[-3000:]}"
        made[name] = venv
        return venv

    return make


#: What snakedeploy writes into a deployment folder: the workflow as a module of a three-line Snakefile.
DEPLOYED_SNAKEFILE = """\
configfile: "config/config.yaml"


module ddd:
    snakefile:
        "{snakefile}"
    config:
        config


use rule * from ddd
"""


def deploy(folder: Path, config: Path) -> Path:
    """A deployment folder outside the checkout: ``workflow/Snakefile`` using this checkout's workflow
    as a module, and ``config/config.yaml`` a copy of ``config``."""
    import shutil
    root = Path(__file__).resolve().parents[1]
    (folder / "workflow").mkdir(parents=True)
    (folder / "workflow" / "Snakefile").write_text(DEPLOYED_SNAKEFILE.format(snakefile=root / "workflow" / "Snakefile"))
    (folder / "config").mkdir()
    shutil.copy(config, folder / "config" / "config.yaml")
    return folder


def run_deployed(folder: Path, *args, timeout=900):
    """Snakemake run in a deployment folder, as its user would (no -s, no --configfile)."""
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", *args], cwd=folder,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """The tiny config (.test/config/config.yaml) run end to end, deployed as a module outside the
    checkout; its jobs' scripts are kept (``--skip-script-cleanup``)."""
    root = Path(__file__).resolve().parents[1]
    folder = deploy(tmp_path_factory.mktemp("tiny") / "deployed", root / ".test" / "config" / "config.yaml")
    res = run_deployed(folder, "--skip-script-cleanup")
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    return folder
