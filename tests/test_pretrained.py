"""Pretrained-model inference (issue 6): local weights only, checked before inference, decisions
equal to a direct forward pass. Weights are random and saved to tmp files; nothing is downloaded."""
from __future__ import annotations

import hashlib
import json
import os
import sys

import numpy as np
import pytest
import torch
import torchvision
from torchvision import transforms as T

from ddd.nets import build_checkpoint_network, checkpoint_info, resolve
from ddd.pretrained.clip import ZeroShotClassifier, zero_shot_weights
from ddd.pretrained.infer import eval_dataset, infer
from ddd.pretrained.load import check_model, load_model
from ddd.pretrained.spec import (ClassCountError, PretrainedModelError, Preprocess, WeightsNotFoundError,
                                 normalize_spec, precheck_model)
from ddd.results.decisions import read_decisions

IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
SMALL = {"resize": 40, "crop": 32}


def _imagenet(root):
    return {"name": "imagenet", "kind": "imagenet", "root": str(root), "config_key": "imagenet_root"}


def _folder(root):
    return {"name": "mydata", "kind": "imagefolder", "root": str(root), "config_key": "imagefolders.mydata"}


def _direct(model, root, *, resize, crop, mean=IMAGENET_MEAN, std=IMAGENET_STD,
            interpolation=T.InterpolationMode.BILINEAR):
    """Logits of ``model`` on every val image, read and transformed independently of ddd."""
    from PIL import Image
    tf = T.Compose([T.Resize(resize, interpolation=interpolation), T.CenterCrop(crop), T.ToTensor(),
                    T.Normalize(mean, std)])
    val = root / "val"
    paths = sorted(p for c in sorted(d for d in val.iterdir() if d.is_dir()) for p in c.iterdir()
                   if p.suffix.lower() in (".jpeg", ".jpg", ".png", ".bmp"))
    x = torch.stack([tf(Image.open(p).convert("RGB")) for p in paths])
    with torch.no_grad():
        return model.eval()(x), [str(p.relative_to(val)) for p in paths]


def _resnet18(n_classes, seed=0):
    torch.manual_seed(seed)
    return torchvision.models.resnet18(num_classes=n_classes).eval()


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory):
    """Random 3-class ResNet-18 weights (the fake ImageNet has 3 classes): (path, state dict)."""
    net = _resnet18(3)
    path = tmp_path_factory.mktemp("weights") / "resnet18.pth"
    torch.save(net.state_dict(), path)
    return path, net.state_dict()


def _assert_decisions_match(d, logits, ids):
    assert d.predictions.shape == (1, len(ids)) and d.epochs.tolist() == [0]
    assert d.image_ids.tolist() == ids
    np.testing.assert_array_equal(d.predictions[0], logits.argmax(1).numpy())
    assert d.probabilities.dtype == np.float16 and d.probabilities.shape == tuple(logits.shape)
    np.testing.assert_allclose(d.probabilities.astype(np.float32), logits.softmax(1).numpy(), atol=1e-3, rtol=1e-3)


def test_torchvision_local_file_equals_direct_forward(fake_imagenet, resnet18_file, tmp_path):
    path, sd = resnet18_file
    spec = {"name": "r18", "source": "torchvision", "model": "resnet18", "weights": str(path), "preprocessing": SMALL}
    out = tmp_path / "runs" / "pretrained" / "r18.h5"
    result = infer(spec, _imagenet(fake_imagenet), out=out, device="cpu", batch_size=4, progress=False)
    net = _resnet18(3, seed=1)
    net.load_state_dict(sd)
    logits, ids = _direct(net, fake_imagenet, **SMALL)
    d = read_decisions(out)
    _assert_decisions_match(d, logits, ids)
    np.testing.assert_array_equal(d.targets, [0, 0, 1, 1, 2, 2])
    assert result["accuracy"] == pytest.approx(float(np.mean(d.predictions[0] == d.targets)))
    assert d.attrs["kind"] == "pretrained" and d.attrs["model_spec"]["name"] == "r18"
    assert d.attrs["model_spec"]["preprocessing"]["mean"] == IMAGENET_MEAN
    assert d.attrs["weights_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    from ddd.data.loading import load_split
    assert d.attrs["dataset_fingerprint"] == load_split(_imagenet(fake_imagenet), "val")[1].fingerprint
    assert d.attrs["device"] == "cpu" and d.attrs["wall_time_s"] > 0
    assert not list(out.parent.glob(out.name + ".tmp*"))


def test_checkpoint_builder_unwraps_dataparallel_state_dict(fake_imagefolder, tmp_path):
    torch.manual_seed(2)
    net = torchvision.models.squeezenet1_1(num_classes=2).eval()
    path = tmp_path / "squeeze.pth.tar"
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}}, path)
    pre = {"resize": 72, "crop": 64, "interpolation": "bicubic"}
    spec = {"name": "sq", "source": "checkpoint", "model": "torchvision", "options": {"arch": "squeezenet1_1"},
            "weights": str(path), "preprocessing": pre}
    out = tmp_path / "sq.h5"
    infer(spec, _folder(fake_imagefolder), out=out, device="cpu", batch_size=3, progress=False)
    logits, ids = _direct(net, fake_imagefolder, resize=72, crop=64, interpolation=T.InterpolationMode.BICUBIC)
    _assert_decisions_match(read_decisions(out), logits, ids)


def test_cornet_rt_checkpoint_in_the_original_layout(fake_imagenet, tmp_path):
    torch.manual_seed(3)
    net = build_checkpoint_network("cornet_rt", 3).eval()
    keys = set(net.state_dict())
    assert {"V1.conv_input.weight", "V1.conv_input.bias", "V1.norm_input.weight", "V1.conv1.weight",
            "V2.norm1.bias", "IT.conv1.weight", "decoder.linear.weight", "decoder.linear.bias"} <= keys
    assert len(keys) == 30
    path = tmp_path / "cornet_rt-933c001c.pth"  # the release: {"state_dict": DataParallel keys}
    torch.save({"epoch": 25, "state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}}, path)
    spec = {"name": "cornet", "source": "checkpoint", "model": "cornet_rt", "weights": str(path),
            "preprocessing": {"resize": 72, "crop": 64}}
    out = tmp_path / "cornet.h5"
    infer(spec, _imagenet(fake_imagenet), out=out, device="cpu", batch_size=4, progress=False)
    logits, ids = _direct(net, fake_imagenet, resize=72, crop=64)
    _assert_decisions_match(read_decisions(out), logits, ids)


def test_bagnet_keys_follow_the_original():
    with torch.device("meta"):
        sd = build_checkpoint_network("bagnet33", 1000).state_dict()
    shapes = {k: tuple(v.shape) for k, v in sd.items()}
    assert len(shapes) == 321
    assert shapes["conv1.weight"] == (64, 3, 1, 1) and shapes["conv2.weight"] == (64, 64, 3, 3)
    assert shapes["layer1.0.conv2.weight"] == (64, 64, 3, 3) and shapes["layer1.1.conv2.weight"] == (64, 64, 1, 1)
    assert shapes["layer4.0.downsample.0.weight"] == (2048, 1024, 1, 1) and shapes["fc.weight"] == (1000, 2048)
    with torch.device("meta"):
        sd17 = build_checkpoint_network("bagnet17", 1000).state_dict()
    assert tuple(sd17["layer4.0.conv2.weight"].shape) == (512, 512, 1, 1)
    net = build_checkpoint_network("bagnet9", 4).eval()
    assert net(torch.rand(1, 3, 48, 48)).shape == (1, 4)


def test_robustness_checkpoint_keeps_the_model_and_checks_the_normaliser():
    sd = _resnet18(10).state_dict()
    mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
    ckpt = {"epoch": 90, "model": {"module.normalizer.new_mean": mean[:, None, None],
                                   "module.normalizer.new_std": std[:, None, None],
                                   "module.attacker.normalize.new_mean": mean[:, None, None],
                                   **{f"module.model.{k}": v for k, v in sd.items()},
                                   **{f"module.attacker.model.{k}": v for k, v in sd.items()}}}
    info = checkpoint_info("resnet50_l2_eps1")
    extract, check = resolve(info.extract), resolve(info.check)
    assert list(extract(ckpt)) == list(sd)
    assert check(ckpt, {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}) == []
    problems = check(ckpt, {"mean": [0.5, 0.5, 0.5], "std": IMAGENET_STD})
    assert len(problems) == 1 and "mean" in problems[0]


def test_preprocessing_defaults_and_validation():
    spec = normalize_spec({"name": "simclr", "source": "checkpoint", "model": "simclr_resnet50x1", "weights": "x"})
    pre = spec["preprocessing"]
    assert pre["mean"] == [0.0, 0.0, 0.0] and pre["std"] == [1.0, 1.0, 1.0]  # SimCLR: inputs in [0, 1]
    assert (pre["resize"], pre["crop"], pre["interpolation"]) == (256, 224, "bilinear")
    spec = normalize_spec({"name": "r", "source": "torchvision", "model": "resnet18",
                           "preprocessing": {"mean": [0.5, 0.5, 0.5], "resize": [230, 240]}})
    # a library source keeps its overrides; the job adds the library's values (tests/test_preprocess.py)
    assert spec["preprocessing"] == {"resize": [230, 240], "mean": [0.5] * 3}
    assert spec["tag"] == "DEFAULT" and spec["weights"] is None
    clip = normalize_spec({"name": "clip", "source": "open_clip", "model": "ViT-B-32", "pretrained": "openai"})
    assert clip["preprocessing"] == {}
    for bad, match in (({"interpolation": "lanczos"}, "interpolation"), ({"std": [1, 0, 1]}, "std"),
                       ({"crop": -3}, "crop"), ({"gamma": 2}, "unknown keys")):
        with pytest.raises(PretrainedModelError, match=match):
            normalize_spec({"name": "r", "source": "torchvision", "model": "resnet18", "preprocessing": bad})
    x = Preprocess({"resize": 8, "crop": 6, "mean": [0, 0, 0], "std": [1, 1, 1], "interpolation": "nearest"})(
        torch.full((3, 10, 12), 255, dtype=torch.uint8))
    assert x.shape == (3, 6, 6) and torch.all(x == 1)


def test_bad_specs_are_refused_with_the_problem_named(fake_imagenet, resnet18_file, tmp_path):
    path, sd = resnet18_file
    base = {"name": "m", "weights": str(path)}
    cases = [({"source": "torchvision", "model": "resnet19"}, "close matches: .*resnet18"),
             ({"source": "checkpoint", "model": "bagnet32"}, "bagnet33"),
             ({"source": "keras", "model": "resnet18"}, "unknown source 'keras'"),
             ({"source": "torchvision", "model": "resnet18", "epochs": 3}, r"unknown keys \['epochs'\]"),
             ({"source": "torchvision", "model": "resnet18", "tag": "IMAGENET9K"}, "allowed tags: IMAGENET1K_V1"),
             ({"source": "torchvision", "model": "resnet18", "name": "../evil"}, "must match")]
    for extra, match in cases:
        with pytest.raises(PretrainedModelError, match=match):
            check_model({**base, **extra}, n_classes=3)
    # keys that do not fit: a ResNet-18 file for a ResNet-34
    with pytest.raises(PretrainedModelError, match=r"missing from the file: layer1\.2\.") as err:
        check_model({**base, "source": "torchvision", "model": "resnet34"}, n_classes=3)
    assert not isinstance(err.value, ClassCountError)
    # renamed and reshaped tensors are named
    bad = dict(sd)
    bad["stem.weight"] = bad.pop("conv1.weight")
    bad["layer1.0.bn1.weight"] = torch.ones(7)
    bad_path = tmp_path / "bad.pth"
    torch.save(bad, bad_path)
    with pytest.raises(PretrainedModelError) as err:
        check_model({**base, "source": "torchvision", "model": "resnet18", "weights": str(bad_path)}, n_classes=3)
    msg = str(err.value)
    assert "conv1.weight" in msg and "stem.weight" in msg and "layer1.0.bn1.weight: file [7] vs network [64]" in msg
    # a file with no state dict in it
    torch.save({"epoch": 1, "notes": "nothing"}, bad_path)
    with pytest.raises(PretrainedModelError, match="found no state dict"):
        check_model({**base, "source": "checkpoint", "model": "cornet_rt", "weights": str(bad_path)}, n_classes=3)


def test_class_count_mismatch_is_refused_before_any_image_is_read(fake_imagefolder, resnet18_file, tmp_path,
                                                                  monkeypatch):
    from ddd.data import images as imagedata

    def no_reading(self, i):
        raise AssertionError("an image was read")
    monkeypatch.setattr(imagedata.ImageFolderSplit, "__getitem__", no_reading)
    path, _ = resnet18_file  # 3 classes; the image folder has 2 (cat, dog)
    spec = {"name": "r18", "source": "torchvision", "model": "resnet18", "weights": str(path), "preprocessing": SMALL}
    out = tmp_path / "r18.h5"
    with pytest.raises(ClassCountError, match=r"classifier fc\.bias, fc\.weight has 3 classes but the dataset has 2"):
        infer(spec, _folder(fake_imagefolder), out=out, device="cpu", progress=False)
    assert not out.exists() and not list(out.parent.glob(out.name + ".tmp*"))
    with pytest.raises(ClassCountError):
        load_model(spec, n_classes=1000)


def test_missing_weights_name_the_file_and_where_to_get_it(tmp_path, monkeypatch):
    missing = tmp_path / "weights" / "bagnet32-2ddd53ed.pth.tar"
    with pytest.raises(WeightsNotFoundError) as err:
        check_model({"name": "bagnet", "source": "checkpoint", "model": "bagnet33", "weights": str(missing)},
                    n_classes=1000)
    assert str(missing) in str(err.value) and "bitbucket.org/wielandbrendel" in str(err.value)
    with pytest.raises(WeightsNotFoundError, match="download.pytorch.org/models/resnet152-394f9c45.pth"):
        precheck_model({"name": "r", "source": "torchvision", "model": "resnet152", "tag": "IMAGENET1K_V1",
                             "weights": str(missing)})  # planning-time check: no file read, no library
    assert precheck_model({"name": "r", "source": "timm", "model": "hrnet_w44"}) is None
    with pytest.raises(PretrainedModelError, match="close matches: resnet18"):
        precheck_model({"name": "r", "source": "torchvision", "model": "resnet180"})
    with pytest.raises(PretrainedModelError, match="close matches: bagnet33"):
        precheck_model({"name": "b", "source": "checkpoint", "model": "bagnet_33"})
    with pytest.raises(WeightsNotFoundError, match="my-mirror.example/r.pth"):
        check_model({"name": "r", "source": "torchvision", "model": "resnet18", "weights": str(missing),
                     "url": "my-mirror.example/r.pth"}, n_classes=1000)
    # weights: null -> torch.hub's cache under $TORCH_HOME, file named by the Weights enum
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    spec = {"name": "sq", "source": "torchvision", "model": "squeezenet1_1", "tag": "IMAGENET1K_V1"}
    cached = tmp_path / "torch" / "hub" / "checkpoints" / "squeezenet1_1-b8a52dc0.pth"
    with pytest.raises(WeightsNotFoundError) as err:
        check_model(spec, n_classes=1000)
    assert str(cached) in str(err.value)
    assert "https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth" in str(err.value)
    cached.parent.mkdir(parents=True)
    torch.save(torchvision.models.squeezenet1_1().state_dict(), cached)
    assert check_model(spec, n_classes=1000)["weights_path"] == str(cached)
    with pytest.raises(ClassCountError, match="has 1000 classes but the dataset has 3"):
        check_model(spec, n_classes=3)


def test_optional_libraries_missing_give_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "timm", None)
    monkeypatch.setitem(sys.modules, "open_clip", None)
    with pytest.raises(PretrainedModelError, match=r"pip install 'ddd\[timm\]'"):
        check_model({"name": "hrnet", "source": "timm", "model": "hrnet_w44"}, n_classes=1000)
    with pytest.raises(PretrainedModelError, match=r"pip install 'ddd\[clip\]'"):
        check_model({"name": "clip", "source": "open_clip", "model": "ViT-B-32", "pretrained": "openai"},
                    n_classes=1000)


def test_eval_dataset_of_the_cifar_pickle_matches_load_split(fake_cifar_pickle):
    from ddd.data.loading import load_split
    config = {"name": "cifar100", "kind": "cifar100", "root": str(fake_cifar_pickle)}
    ds, meta = eval_dataset(config, Preprocess({"resize": None, "crop": None, "mean": [0, 0, 0], "std": [1, 1, 1],
                                                "interpolation": "bilinear"}))
    _, ref = load_split(config, "val")
    assert meta.fingerprint == ref.fingerprint and meta.image_ids.tolist() == ref.image_ids.tolist()
    assert len(meta.class_names) == 100 and len(ds) == 10
    x, y = ds[0]
    assert x.shape == (3, 32, 32) and y == int(ref.targets[0]) and 0 <= float(x.min()) and float(x.max()) <= 1


# ---------------------------------------------------------------------------------------------
# CLIP's zero-shot head.


class _FakeClip(torch.nn.Module):
    """Text and image towers given as lookup tables: token id -> text embedding, and a linear map."""

    def __init__(self, vocab, dim=4):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.vocab = vocab
        self.text = torch.randn(len(vocab), dim, generator=g)
        self.image = torch.nn.Linear(3, dim)

    def tokenize(self, texts):
        return torch.tensor([[self.vocab.index(t)] for t in texts])

    def encode_text(self, tokens):
        return self.text[tokens[:, 0]] * 3.0  # not normalised: the head normalises

    def encode_image(self, x):
        return self.image(x.mean(dim=(2, 3)))


def test_zero_shot_head_math_without_open_clip():
    classes, templates = ["cat", "dog", "tiger cat"], ["a photo of a {}.", "a {} drawing"]
    vocab = [t.replace("{}", c) for c in classes for t in templates]
    clip = _FakeClip(vocab)
    w = zero_shot_weights(clip.encode_text, clip.tokenize, classes, templates)
    assert w.shape == (4, 3)
    e = clip.text.numpy() / np.linalg.norm(clip.text.numpy(), axis=1, keepdims=True)
    for c in range(3):
        m = e[2 * c: 2 * c + 2].mean(0)
        np.testing.assert_allclose(w[:, c].numpy(), m / np.linalg.norm(m), atol=1e-6)
    head = ZeroShotClassifier(clip, w, scale=100.0)
    x = torch.rand(5, 3, 8, 8)
    f = clip.encode_image(x).detach().numpy()
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    np.testing.assert_allclose(head(x).detach().numpy(), 100 * f @ w.numpy(), atol=1e-4)
    cos = head(x).detach() / 100
    assert float(cos.abs().max()) <= 1 + 1e-6


def test_open_clip_zero_shot_with_a_tiny_random_tower(fake_imagenet, tmp_path):
    open_clip = pytest.importorskip("open_clip", reason="open_clip is an optional extra (pip install 'ddd[clip]')")
    cfg = {"embed_dim": 16, "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16,
                                           "head_width": 16},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
    (tmp_path / "ddd-test-tiny-clip.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(str(tmp_path / "ddd-test-tiny-clip.json"))
    torch.manual_seed(4)
    clip = open_clip.create_model("ddd-test-tiny-clip", pretrained=None).eval()
    torch.save(clip.state_dict(), tmp_path / "tiny.pt")
    names = {"n01440764": "tench", "n01443537": "goldfish", "n01484850": "great white shark"}
    (tmp_path / "classes.tsv").write_text("".join(f"{k}\t{v}\n" for k, v in names.items()))
    templates = ["a photo of a {}.", "a blurry photo of the {}."]
    (tmp_path / "templates.txt").write_text("# two prompts\n" + "\n".join(templates) + "\n")
    clip_mean, clip_std = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]
    spec = {"name": "clip", "source": "open_clip", "model": "ddd-test-tiny-clip", "weights": str(tmp_path / "tiny.pt"),
            "templates": str(tmp_path / "templates.txt"), "class_names": str(tmp_path / "classes.tsv"),
            "preprocessing": {"resize": 32, "crop": 32}}
    out = tmp_path / "clip.h5"
    infer(spec, _imagenet(fake_imagenet), out=out, device="cpu", batch_size=4, progress=False)
    tok = open_clip.get_tokenizer("ddd-test-tiny-clip")
    with torch.no_grad():
        cols = []
        for c in names.values():
            e = clip.encode_text(tok([t.replace("{}", c) for t in templates]))
            m = (e / e.norm(dim=-1, keepdim=True)).mean(0)
            cols.append(m / m.norm())
        w = torch.stack(cols, 1)
        feats, ids = _direct(torch.nn.Identity(), fake_imagenet, resize=32, crop=32, mean=clip_mean, std=clip_std,
                             interpolation=T.InterpolationMode.BICUBIC)
        f = clip.encode_image(feats)
        logits = 100 * (f / f.norm(dim=-1, keepdim=True)) @ w
    _assert_decisions_match(read_decisions(out), logits, ids)
    (tmp_path / "two.txt").write_text("tench\ngoldfish\n")
    with pytest.raises(ClassCountError, match="2 names but the dataset has 3"):
        check_model({**spec, "class_names": str(tmp_path / "two.txt")}, n_classes=3)


def test_timm_local_file_and_cache_lookup(fake_imagenet, tmp_path, monkeypatch):
    timm = pytest.importorskip("timm", reason="timm is an optional extra (pip install 'ddd[timm]')")
    torch.manual_seed(5)
    net = timm.create_model("test_resnet", pretrained=False, num_classes=3).eval()
    torch.save(net.state_dict(), tmp_path / "test_resnet.pth")
    spec = {"name": "tr", "source": "timm", "model": "test_resnet", "weights": str(tmp_path / "test_resnet.pth"),
            "preprocessing": SMALL}
    out = tmp_path / "tr.h5"
    infer(spec, _imagenet(fake_imagenet), out=out, device="cpu", batch_size=4, progress=False)
    # the rest of the preprocessing is timm's config of test_resnet (r160_in1k): bilinear, mean/std 0.5
    logits, ids = _direct(net, fake_imagenet, **SMALL, mean=[0.5] * 3, std=[0.5] * 3)
    d = read_decisions(out)
    _assert_decisions_match(d, logits, ids)
    assert d.attrs["preprocessing"]["from"].startswith("timm pretrained config test_resnet.r160_in1k")
    assert d.attrs["preprocessing"]["overrides"] == {"resize": 40, "crop": 32}
    assert d.attrs["model_spec"]["preprocessing"] == {"resize": 40, "crop": 32, "mean": [0.5] * 3, "std": [0.5] * 3,
                                                      "interpolation": "bilinear"}
    with pytest.raises(PretrainedModelError, match="close matches: .*test_resnet"):
        check_model({**spec, "model": "test_resnett"}, n_classes=3)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(WeightsNotFoundError) as err:
        check_model({**spec, "weights": None, "model": "test_resnet.r160_in1k"}, n_classes=3)
    assert str(tmp_path / "hf" / "models--timm--test_resnet.r160_in1k") in str(err.value)
    assert "https://huggingface.co/timm/test_resnet.r160_in1k" in str(err.value)
