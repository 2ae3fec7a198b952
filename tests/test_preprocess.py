"""Preprocessing from the libraries (issue 20, item 1): with ``preprocessing: auto`` the transform
ddd builds equals the library's own for every torchvision classification weight, dozens of timm
pretrained configs (and every timm config's parameters) and a dozen open_clip models: same
resize, interpolation, crop, mean and std, and the same tensor from an image. Nothing is
downloaded: only the libraries' shipped configurations are read."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torchvision import models as tvm
from torchvision.transforms import v2

from ddd.pretrained.preprocess import library_preprocessing, resolve_preprocessing, resolve_spec
from ddd.pretrained.spec import Preprocess, PretrainedModelError, normalize_spec, precheck_model

# Varied timm configs: crop_pct 0.875 / 0.9 / 0.95 / 1.0 / 1.15 (a crop larger than the resize),
# bilinear and bicubic, ImageNet, Inception (0.5) and CLIP mean/std, 160 to 475 px, crop mode
# center and squash (also non-square: sapiens).
TIMM_NAMES = [
    "resnet50.fb_swsl_ig1b_ft_in1k", "hrnet_w44.ms_in1k", "dla34.in1k", "resnet50.a1_in1k", "resnet50.tv2_in1k",
    "beitv2_large_patch16_224.in1k_ft_in1k", "beit3_base_patch16_224.in22k_ft_in1k", "inception_v3.tf_in1k",
    "vit_base_patch16_224.augreg_in21k_ft_in1k", "xception41.tf_in1k", "inception_resnet_v2.tf_ens_adv_in1k",
    "vit_base_patch16_384.augreg_in21k_ft_in1k", "coat_lite_medium_384.in1k", "deit_base_patch16_384.fb_in1k",
    "swin_base_patch4_window12_384.ms_in22k_ft_in1k", "vit_base_patch16_clip_384.openai_ft_in12k_in1k",
    "volo_d4_448.sail_in1k", "efficientnet_b3.ra2_in1k", "tf_efficientnet_b5.aa_in1k", "tf_efficientnet_lite4.in1k",
    "tf_efficientnet_l2.ns_jft_in1k_475", "dm_nfnet_f0.dm_in1k", "mobilenetv3_large_100.ra_in1k",
    "fbnetv3_b.ra2_in1k", "mobileone_s1.apple_in1k", "mobilevitv2_050.cvnets_in1k", "convnext_base.fb_in22k_ft_in1k",
    "regnety_040.ra3_in1k", "cspdarknet53.ra_in1k", "hgnet_base.ssld_in1k", "nasnetalarge.tf_in1k",
    "resnest269e.in1k", "eva02_base_patch14_448.mim_in22k_ft_in22k_in1k", "test_resnet.r160_in1k",
    "vit_5b_patch16_sapiens2.fb", "convnext_tiny.fb_in22k_ft_in1k_384", "vgg16.tv_in1k", "hrnet_w44",
]
# open_clip: shortest (224 to 448 px) and squash resize modes, bicubic and bilinear, three means.
OPEN_CLIP_MODELS = [
    ("ViT-B-32", "openai"), ("RN50", "openai"), ("RN50x4", "openai"), ("ViT-L-14-336", "openai"),
    ("ViT-B-16-plus-240", "laion400m_e31"), ("ViT-B-32-256", "datacomp_s34b_b86k"), ("ViT-H-14", "dfn5b"),
    ("ViT-B-16-SigLIP-256", "webli"), ("ViT-L-14-CLIPA", "datacomp1b"), ("MobileCLIP-S1", "datacompdr"),
    ("convnext_base_w_320", "laion_aesthetic_s13b_b82k"), ("ViT-B-32", None),
]
_IGNORED = {"ToTensor", "MaybeToTensor", "PILToTensor", "MaybeConvertMode", "ConvertImageDtype", "ToImage",
            "ToDtype", "_convert_to_rgb"}


def _images():
    """A landscape and a portrait RGB image, seeded (one smaller and one larger than most inputs)."""
    rng = np.random.default_rng(20)
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in ((150, 211), (277, 203))]


def _resize_of(t) -> tuple:
    size = t.size
    if isinstance(size, int) or len(size) == 1:
        return ("shorter side", int(size if isinstance(size, int) else size[0]))
    return ("exact", int(size[0]), int(size[1]))


def _crop_of(size) -> tuple:
    if isinstance(size, int):
        return (size, size)
    return (int(size[0]), int(size[-1]))


def _f32(values) -> list:
    """As the float32 tensors the transforms normalise with (timm keeps its mean/std as tensors)."""
    return [float(v) for v in torch.as_tensor(list(map(float, values)), dtype=torch.float32)]


def _params(transforms, mean=None, std=None) -> dict:
    """The geometry and normalisation of a list of transforms (torchvision v1 or v2), refusing
    any step this comparison does not know."""
    out = {"resize": None, "crop": None, "mean": None if mean is None else _f32(mean),
           "std": None if std is None else _f32(std)}
    for t in transforms:
        name = getattr(t, "__name__", type(t).__name__)
        if isinstance(t, (torchvision.transforms.Resize, v2.Resize)):
            assert out["resize"] is None and out["crop"] is None
            out["resize"], out["interpolation"] = _resize_of(t), t.interpolation.value
            assert t.max_size is None and t.antialias in (True, None)  # None: v1's default, antialiased on PIL
        elif isinstance(t, (torchvision.transforms.CenterCrop, v2.CenterCrop)):
            out["crop"] = _crop_of(t.size)
        elif isinstance(t, (torchvision.transforms.Normalize, v2.Normalize)):
            out["mean"], out["std"] = _f32(t.mean), _f32(t.std)
        else:
            assert name in _IGNORED, f"unexpected step {t!r}"
    return out


def _ours(pre: dict) -> tuple[dict, Preprocess]:
    p = Preprocess(pre)
    steps = list(p.steps.transforms) if p.steps is not None else []
    return _params(steps, p.mean, p.std), p


def _same_tensor(library, ours, what):
    for image in _images():
        a, b = library(image), ours(image)
        assert a.dtype == b.dtype == torch.float32 and a.shape == b.shape, what
        assert torch.equal(a, b), f"{what}: largest difference {(a - b).abs().max().item()}"  # bit for bit


def test_every_torchvision_classification_weight():
    n = 0
    for name in tvm.list_models(module=tvm):
        for weights in tvm.get_model_weights(name):
            spec = {"name": "m", "source": "torchvision", "model": name, "tag": weights.name}
            library = weights.transforms()
            ours, pre = _ours(resolve_preprocessing(spec))
            want = {"resize": ("shorter side", library.resize_size[0]), "crop": _crop_of(library.crop_size[0]),
                    "mean": _f32(library.mean), "std": _f32(library.std),
                    "interpolation": library.interpolation.value}
            assert ours == want, f"{name} {weights.name}"
            _same_tensor(library, pre, f"{name} {weights.name}")
            n += 1
    assert n >= 100  # 115 with torchvision 0.29
    # DEFAULT is the enum's alias: ResNet-50's is IMAGENET1K_V2, Resize(232) + CenterCrop(224)
    spec, record = resolve_spec({"name": "r50", "source": "torchvision", "model": "resnet50"})
    assert spec["preprocessing"]["resize"] == 232 and spec["preprocessing"]["crop"] == 224
    assert record["from"] == "torchvision ResNet50_Weights.IMAGENET1K_V2.transforms()" and record["overrides"] == {}


def _timm_transform(timm, name):
    from timm.data import create_transform, resolve_data_config
    cfg = resolve_data_config(pretrained_cfg=timm.get_pretrained_cfg(name).to_dict())
    return create_transform(**cfg, is_training=False), cfg


def test_timm_models_of_varied_configs():
    timm = pytest.importorskip("timm", reason="timm is an optional extra (pip install 'ddd[timm]')")
    modes = set()
    for name in TIMM_NAMES:
        library, cfg = _timm_transform(timm, name)
        modes.add((cfg["crop_mode"], cfg["interpolation"], cfg["crop_pct"]))
        ours, pre = _ours(resolve_preprocessing({"name": "m", "source": "timm", "model": name}))
        assert ours == _params(library.transforms), name
        _same_tensor(library, pre, name)
    assert {m[0] for m in modes} == {"center", "squash"} and {m[1] for m in modes} == {"bilinear", "bicubic"}
    assert {0.875, 0.95, 1.0, 1.15} <= {m[2] for m in modes}


def test_every_timm_pretrained_config_has_the_library_parameters(monkeypatch):
    """Parameters only (no image) for all of timm's pretrained configs; those ddd cannot express
    (crop mode border: resize the longest side and pad) are refused, naming the mode."""
    import functools

    from ddd.pretrained import names
    timm = pytest.importorskip("timm", reason="timm is an optional extra (pip install 'ddd[timm]')")
    monkeypatch.setattr(names, "library_names", functools.cache(names.library_names))  # 1,826 look-ups
    refused = []
    for name in timm.list_pretrained():
        library, cfg = _timm_transform(timm, name)
        try:
            pre = resolve_preprocessing({"name": "m", "source": "timm", "model": name})
        except PretrainedModelError as err:
            assert "crop mode 'border'" in str(err) and "set preprocessing.resize and preprocessing.crop" in str(err)
            assert cfg["crop_mode"] == "border", name
            refused.append(name)
            continue
        assert _ours(pre)[0] == _params(library.transforms), name
    assert len(refused) < 20
    # the spec's own resize and crop make such a model usable
    pre = resolve_preprocessing({"name": "m", "source": "timm", "model": refused[0],
                                 "preprocessing": {"resize": 448, "crop": 448}})
    assert (pre["resize"], pre["crop"]) == (448, 448)


def _open_clip_transform(open_clip, model, tag):
    """open_clip's own evaluation transform, from a model built on the meta device (no memory,
    no weights) with the tag's preprocessing, as create_model_and_transforms does."""
    import logging

    from open_clip.transform import PreprocessCfg, image_transform_v2, merge_preprocess_dict
    force = merge_preprocess_dict({}, open_clip.get_pretrained_cfg(model, tag) or {}) if tag else None
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with torch.device("meta"):
            net = open_clip.create_model(model, pretrained=None, device="meta", force_preprocess_cfg=force)
    finally:
        logging.disable(previous)
    return image_transform_v2(PreprocessCfg(**net.visual.preprocess_cfg), is_train=False)


def test_open_clip_models(monkeypatch):
    open_clip = pytest.importorskip("open_clip", reason="open_clip is an optional extra (pip install 'ddd[clip]')")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for model, tag in OPEN_CLIP_MODELS:
        library = _open_clip_transform(open_clip, model, tag)
        ours, pre = _ours(resolve_preprocessing({"name": "c", "source": "open_clip", "model": model,
                                                 "pretrained": tag}))
        assert ours == _params(library.transforms), (model, tag)
        _same_tensor(library, pre, f"{model} {tag}")
    for model, tag in open_clip.list_pretrained():  # every tag resolves (no resize mode ddd lacks)
        resolve_preprocessing({"name": "c", "source": "open_clip", "model": model, "pretrained": tag})


def test_overrides_replace_only_their_keys_and_are_recorded():
    base = {"name": "v", "source": "torchvision", "model": "efficientnet_b1", "tag": "IMAGENET1K_V2"}
    spec, record = resolve_spec({**base, "preprocessing": {"resize": 256, "interpolation": "bicubic"}})
    assert spec["preprocessing"] == {"resize": 256, "crop": 240, "mean": [0.485, 0.456, 0.406],
                                     "std": [0.229, 0.224, 0.225], "interpolation": "bicubic"}
    assert record["library"]["resize"] == 255 and record["library"]["interpolation"] == "bilinear"
    assert record["overrides"] == {"resize": 256, "interpolation": "bicubic"}
    assert resolve_spec(spec)[0] == spec  # idempotent: a resolved spec resolves to itself
    assert resolve_spec({**base, "preprocessing": "auto"})[0]["preprocessing"] == record["library"]
    # a checkpoint builder's declared preprocessing is its "library"
    spec, record = resolve_spec({"name": "s", "source": "checkpoint", "model": "simclr_resnet50x1",
                                 "preprocessing": {"crop": 200}})
    assert spec["preprocessing"]["crop"] == 200 and spec["preprocessing"]["mean"] == [0.0, 0.0, 0.0]
    assert record["overrides"] == {"crop": 200}


def test_planning_checks_keys_without_importing_the_library():
    """normalize_spec keeps a library source's overrides only; unknown keys name the allowed ones."""
    spec = normalize_spec({"name": "v", "source": "timm", "model": "resnet50.a1_in1k",
                           "preprocessing": {"crop": [200, 210], "mean": (0, 0, 0)}})
    assert spec["preprocessing"] == {"crop": [200, 210], "mean": [0.0, 0.0, 0.0]}
    assert normalize_spec({"name": "v", "source": "timm", "model": "resnet50"})["preprocessing"] == {}
    for bad, match in (({"size": 3}, r"unknown keys \['size'\]; allowed: \['resize', 'crop', 'mean', 'std', "
                                     r"'interpolation'\]"),
                       ("library", "must be 'auto' or a mapping"), ({"interpolation": "lanczos"}, "bilinear"),
                       ({"std": [1, 0, 1]}, "std"), ({"resize": 0}, "resize")):
        with pytest.raises(PretrainedModelError, match=match):
            precheck_model({"name": "v", "source": "open_clip", "model": "ViT-B-32", "preprocessing": bad})
    with pytest.raises(PretrainedModelError, match="missing keys"):
        Preprocess({"resize": 256})


def test_unknown_names_list_the_closest(monkeypatch):
    """At planning from the shipped snapshot (no library imported), in the job from the library."""
    from ddd.pretrained import names
    cases = [({"source": "timm", "model": "resnet50.a1_in1K"},
              r"no pretrained tag 'a1_in1K' for resnet50; tags: .*a1_in1k"),
             ({"source": "timm", "model": "convnext_tiyn"},
              "unknown timm model 'convnext_tiyn'; close matches: convnext_tiny"),
             ({"source": "timm", "model": "convnext_tiny_in22ft1k"},
              "'convnext_tiny_in22ft1k' is deprecated: use 'convnext_tiny.fb_in22k_ft_in1k'"),
             ({"source": "open_clip", "model": "ViT-B/32", "pretrained": "openai"}, "close matches: ViT-B-32"),
             ({"source": "open_clip", "model": "ViT-B-32", "pretrained": "open_ai"}, "tags: openai, "),
             ({"source": "torchvision", "model": "resnet_50"}, "close matches: resnet50"),
             ({"source": "torchvision", "model": "resnet50", "tag": "IMAGENET1K_V3"},
              "allowed tags: IMAGENET1K_V1, IMAGENET1K_V2, DEFAULT")]
    for extra, match in cases:
        spec = {"name": "m", **extra}
        with pytest.raises(PretrainedModelError, match=match):
            precheck_model(spec)
        with pytest.raises(PretrainedModelError, match=match):
            resolve_preprocessing(spec)
    # another installed version: planning leaves the names to the job
    monkeypatch.setattr(names, "installed_version", lambda library: "0.0.1")
    assert precheck_model({"name": "m", "source": "timm", "model": "convnext_tiyn"}) is None


def test_the_name_snapshot_is_the_installed_libraries():
    pytest.importorskip("timm")
    pytest.importorskip("open_clip")
    from ddd.pretrained import names
    # in a fresh interpreter: other tests of this session register models with timm and open_clip
    code = "import json; from ddd.pretrained import names; print(json.dumps(names.snapshot()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert names.load() == json.loads(out), "regenerate with: python -m ddd.pretrained.names"


def test_library_values_come_with_where_they_come_from():
    pre, origin = library_preprocessing({"name": "m", "source": "torchvision", "model": "inception_v3"})
    assert pre["resize"] == 342 and pre["crop"] == 299 and "Inception_V3_Weights.IMAGENET1K_V1" in origin


def test_the_paper_preset_resolves_to_the_papers_preprocessing():
    """config/paper/imagenet-sota.yaml writes only true overrides; every model still gets
    model-vs-human's Resize(256) + CenterCrop(224), bilinear (CLIP: its own bicubic 224)."""
    import pathlib

    import yaml
    pytest.importorskip("timm")
    pytest.importorskip("open_clip")
    path = pathlib.Path(__file__).parents[1] / "config" / "paper" / "imagenet-sota.yaml"
    models = yaml.safe_load(path.read_text())["studies"]["imagenet-sota"]["pretrained"]["models"]
    imagenet = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    want = {"simclr": ([0.0] * 3, [1.0] * 3), "vit_b16": ([0.5] * 3, [0.5] * 3)}
    for m in models:
        pre = resolve_preprocessing(m)
        if m["name"] == "clip_vit_b32":
            assert (pre["resize"], pre["crop"], pre["interpolation"]) == (224, 224, "bicubic")
            assert pre["mean"] == [0.48145466, 0.4578275, 0.40821073]
            continue
        mean, std = want.get(m["name"], imagenet)
        assert pre == {"resize": 256, "crop": 224, "mean": mean, "std": std, "interpolation": "bilinear"}, m["name"]


def test_config_takes_auto_and_overrides_and_names_bad_keys(tmp_path):
    """Through the config (schema and planning): `auto`, a mapping of overrides, or an error
    naming the study, the model and the allowed keys; nothing heavy imported."""
    import pathlib
    import subprocess
    import sys

    import yaml

    from ddd.config.resolve import ConfigError, resolve_config
    cfg = yaml.safe_load((pathlib.Path(__file__).parents[1] / "config" / "config.yaml").read_text())
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"")
    models = [{"name": "a", "source": "torchvision", "model": "resnet50", "weights": str(weights),
               "preprocessing": "auto"},
              {"name": "b", "source": "timm", "model": "resnet50.a1_in1k", "weights": str(weights),
               "preprocessing": {"crop": 224}},
              {"name": "c", "source": "open_clip", "model": "ViT-B-32", "pretrained": "openai",
               "weights": str(weights)}]
    cfg["studies"]["p"] = {"pretrained": {"dataset": "gaussian", "models": models}}
    cfg["run"] = ["p"]
    study = resolve_config(cfg).study("p")
    assert [study.spec(m)["preprocessing"] for m in ("a", "b", "c")] == [{}, {"crop": 224}, {}]
    models[1]["preprocessing"] = {"crop": 224, "scale": 1.1}
    with pytest.raises(ConfigError, match=r"studies\.p\.pretrained\.models\[1\]: model 'b': preprocessing: unknown "
                                          r"keys \['scale'\]; allowed: \['resize', 'crop', 'mean', 'std', "
                                          r"'interpolation'\]"):
        resolve_config(cfg)
    models[1]["preprocessing"] = {"crop": 224}
    models[2]["model"] = "ViT-B-23"
    with pytest.raises(ConfigError, match=r"models\[2\]: model 'c': unknown open_clip model 'ViT-B-23'; close "
                                          r"matches: ViT-B-32"):
        resolve_config(cfg)
    # planning imports no library (in a fresh interpreter: this one has them loaded)
    code = ("import sys; from ddd.pretrained.spec import precheck_model; "
            "precheck_model({'name': 'b', 'source': 'timm', 'model': 'resnet50.a1_in1k', "
            "'preprocessing': {'crop': 9}}); "
            "print(sorted(m for m in ('torch', 'timm', 'open_clip', 'torchvision') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
