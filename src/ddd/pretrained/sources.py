"""Building a pretrained model from its spec, from local weights only, checked before use.

Every source follows the same steps: resolve the weights file (the spec's path, or the file the
library's *local* cache would hold: ``$TORCH_HOME/hub/checkpoints`` for torchvision and the
checkpoint builders, the Hugging Face hub cache for timm and open_clip), read it into a state
dict in the network's key layout, build the network on the ``meta`` device and compare keys and
shapes, and only then build it for real and load the weights. No function here downloads:
``torch.hub``/``timm``/``open_clip`` loaders that could fetch are never called with a URL.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import zipfile
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from ddd.nets import checkpoints as builders
from ddd.pretrained.spec import ClassCountError, PretrainedModelError, WeightsNotFoundError, normalize_spec

_SHOW = 5


@dataclass
class Prepared:
    """A spec made ready to build: ``build()`` makes the network with random weights,
    ``state_dict`` fits it, ``finish(net)`` wraps it (e.g. the CLIP zero-shot head)."""

    spec: dict
    build: Callable[[], nn.Module]
    state_dict: dict
    weights_path: str
    versions: dict = field(default_factory=dict)
    finish: Callable[[nn.Module, torch.device], nn.Module] | None = None


def _close(name: str, names, what: str) -> str:
    close = difflib.get_close_matches(name, list(names), n=_SHOW, cutoff=0.5)
    return f"unknown {what} {name!r}" + (f"; close matches: {', '.join(close)}" if close else "")


# ---------------------------------------------------------------------------------------------
# Weights files.


def _missing(path: str, spec: dict, origin: str, *, cache: bool) -> WeightsNotFoundError:
    how = (f"It is looked up in the library's local cache (set `weights:` to a file instead)"
           if cache else "Put the file there, or point `weights:` at your copy")
    where = spec.get("url") or origin or "the model's original release"
    return WeightsNotFoundError(f"model {spec['name']!r}: weights file {path} does not exist. {how}. "
                                f"Obtain it from: {where}. Nothing is downloaded.")


def _local(spec: dict, origin: str) -> str | None:
    if spec["weights"] is None:
        return None
    path = os.path.abspath(os.path.expanduser(spec["weights"]))
    if not os.path.isfile(path):
        raise _missing(path, spec, origin, cache=False)
    return path


def hub_checkpoint_path(file_name: str) -> str:
    """Where ``torch.hub.load_state_dict_from_url`` keeps ``file_name``: ``$TORCH_HOME/hub/checkpoints``."""
    return os.path.join(torch.hub.get_dir(), "checkpoints", file_name)


def hf_cache_dir() -> str:
    """The Hugging Face hub cache (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``)."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.path.expanduser(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface")
    return os.path.join(os.path.expanduser(home), "hub")


def hf_cached_file(repo_id: str, file_names) -> tuple[str | None, str]:
    """A file of hub repository ``repo_id`` in the local cache: ``(path or None, where it was looked for)``.

    Looks at the snapshot named by ``refs/main``, then any snapshot; never touches the network.
    """
    root = os.path.join(hf_cache_dir(), "models--" + repo_id.strip("/").replace("/", "--"))
    snapshots = os.path.join(root, "snapshots")
    order = []
    try:
        with open(os.path.join(root, "refs", "main")) as f:
            order.append(f.read().strip())
    except OSError:
        pass
    if os.path.isdir(snapshots):
        order += sorted(d for d in os.listdir(snapshots) if d not in order)
    for rev in order:
        for name in file_names:
            path = os.path.join(snapshots, rev, name)
            if os.path.isfile(path):
                return path, path
    return None, os.path.join(snapshots, "<revision>", "|".join(file_names))


def _is_torchscript(path: str) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith("/constants.pkl") or n.startswith("code/") or "/code/" in n for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def read_weights(path: str, *, trust_pickle: bool = False, torchscript: bool = False):
    """Load a weights file on the CPU: ``.safetensors`` (needs the safetensors package), a
    TorchScript archive (only where ``torchscript``: OpenAI's CLIP files), else ``torch.load``
    with ``weights_only`` unless ``trust_pickle``."""
    if path.endswith(".safetensors"):
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise PretrainedModelError(f"{path} is a .safetensors file: pip install safetensors "
                                       "(it comes with the timm and clip extras)") from None
        return load_file(path, device="cpu")
    if torchscript and _is_torchscript(path):
        return torch.jit.load(path, map_location="cpu").state_dict()
    try:
        return torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except Exception as err:
        hint = ("" if trust_pickle else " If the file holds other Python objects and you trust it, set "
                "`trust_pickle: true` in the model's spec.")
        raise PretrainedModelError(f"cannot read weights file {path}: {type(err).__name__}: "
                                   f"{str(err).splitlines()[0] if str(err) else ''}.{hint}") from err


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(2 ** 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _optional(module: str, extra: str):
    try:
        return __import__(module)
    except ImportError as err:
        raise PretrainedModelError(f"source needs the optional package {module!r} ({err}): "
                                   f"pip install 'ddd[{extra}]'") from None


def precheck_model(spec: dict) -> str | None:
    """Cheap checks for planning, no file read and no optional library imported: the spec is
    valid, a torchvision model or checkpoint builder name is known (close matches listed), and a
    local weights file exists. Returns its absolute path, or None when ``weights`` is null (the
    job looks in the cache). Raises :class:`PretrainedModelError` (``WeightsNotFoundError``)."""
    spec = normalize_spec(spec)
    origin = ""
    if spec["source"] == "checkpoint":
        if spec["model"] not in builders.BUILDERS:
            raise PretrainedModelError(f"model {spec['name']!r}: "
                                       + _close(spec["model"], builders.BUILDERS, "checkpoint builder"))
        origin = builders.BUILDERS[spec["model"]].origin
    elif spec["source"] == "torchvision":
        from torchvision import models as tvm
        names = tvm.list_models(module=tvm)
        if spec["model"] not in names:
            raise PretrainedModelError(f"model {spec['name']!r}: " + _close(spec["model"], names,
                                       "torchvision classification model"))
        enum = tvm.get_model_weights(spec["model"])
        if spec["tag"] not in enum.__members__:
            raise PretrainedModelError(f"model {spec['name']!r}: torchvision has no weights {spec['tag']!r} for "
                                       f"{spec['model']}; allowed tags: {', '.join(enum.__members__)}")
        origin = enum[spec["tag"]].url
    elif spec["source"] == "timm" and "." in spec["model"]:
        origin = f"https://huggingface.co/timm/{spec['model']}"
    return _local(spec, origin)


# ---------------------------------------------------------------------------------------------
# Sources.


def _densenet_fix(sd: dict) -> dict:
    """Old DenseNet checkpoints name ``norm.1`` what torchvision now calls ``norm1`` (as torchvision's loader)."""
    import re
    pattern = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\."
                         r"((?:[12])\.(?:weight|bias|running_mean|running_var))$")
    out = {}
    for k, v in sd.items():
        m = pattern.match(k)
        out[m.group(1) + m.group(2) if m else k] = v
    return out


def _torchvision(spec: dict, n_classes: int, **_) -> Prepared:
    import torchvision
    from torchvision import models as tvm
    names = tvm.list_models(module=tvm)
    if spec["model"] not in names:
        raise PretrainedModelError(f"model {spec['name']!r}: " + _close(spec["model"], names,
                                   "torchvision classification model"))
    enum = tvm.get_model_weights(spec["model"])
    tag = spec["tag"]
    if tag not in enum.__members__:
        raise PretrainedModelError(f"model {spec['name']!r}: torchvision has no weights {tag!r} for "
                                   f"{spec['model']}; allowed tags: {', '.join(enum.__members__)}")
    url = enum[tag].url
    path = _local(spec, url)
    if path is None:
        path = hub_checkpoint_path(os.path.basename(url))
        if not os.path.isfile(path):
            raise _missing(path, spec, url, cache=True)
    sd = builders.unwrap_state_dict(_read(path, spec))
    if spec["model"].startswith("densenet"):
        sd = _densenet_fix(sd)
    options = spec["options"]
    return Prepared(spec, lambda: tvm.get_model(spec["model"], weights=None, num_classes=n_classes, **options),
                    sd, path, {"torchvision_version": torchvision.__version__})


def _read(path: str, spec: dict, **kw):
    return read_weights(path, trust_pickle=spec["trust_pickle"], **kw)


def _checkpoint(spec: dict, n_classes: int, **_) -> Prepared:
    try:
        b = builders.get_builder(spec["model"])
    except KeyError as err:
        raise PretrainedModelError(f"model {spec['name']!r}: {err.args[0]}") from None
    path = _local(spec, b.origin)
    if path is None:
        if not b.file_name:
            raise PretrainedModelError(f"model {spec['name']!r}: checkpoint builder {b.name!r} needs "
                                       f"`weights:` (a local file). Origin: {spec.get('url') or b.origin}")
        path = hub_checkpoint_path(b.file_name)
        if not os.path.isfile(path):
            raise _missing(path, spec, b.origin, cache=True)
    obj = _read(path, spec)
    if b.check is not None:
        problems = b.check(obj, spec["preprocessing"])
        if problems:
            raise PretrainedModelError(f"model {spec['name']!r} ({path}): " + "; ".join(problems))
    try:
        sd = b.extract(obj)
    except ValueError as err:
        raise PretrainedModelError(f"model {spec['name']!r}: {path}: {err}") from None
    options = spec["options"]
    return Prepared(spec, lambda: b.build(n_classes, **options), sd, path)


def _timm(spec: dict, n_classes: int, **_) -> Prepared:
    timm = _optional("timm", "timm")
    arch = spec["model"].split(".", 1)[0]
    if not timm.is_model(arch):
        raise PretrainedModelError(f"model {spec['name']!r}: " + _close(arch, timm.list_models(), "timm model"))
    origin, cached, where = "", None, None
    try:
        cfg = timm.models.get_pretrained_cfg(spec["model"])
    except Exception:  # noqa: BLE001  (names without a pretrained config)
        cfg = None
    if cfg is not None:
        if cfg.hf_hub_id:
            origin = f"https://huggingface.co/{cfg.hf_hub_id}"
            cached, where = hf_cached_file(cfg.hf_hub_id, ("model.safetensors", "pytorch_model.bin"))
        elif cfg.url:
            origin = cfg.url
            where = hub_checkpoint_path(os.path.basename(cfg.url))
            cached = where if os.path.isfile(where) else None
    path = _local(spec, origin)
    if path is None:
        if cached is None:
            raise _missing(where or f"(no cached file known for {spec['model']})", spec, origin, cache=True)
        path = cached
    sd = builders.unwrap_state_dict(_read(path, spec))
    options = spec["options"]
    return Prepared(spec, lambda: timm.create_model(spec["model"], pretrained=False, num_classes=n_classes,
                                                    **options),
                    sd, path, {"timm_version": timm.__version__})


def _open_clip(spec: dict, n_classes: int, *, class_names=None, dataset_kind=None, **_) -> Prepared:
    open_clip = _optional("open_clip", "clip")
    from ddd.pretrained.clip import ZeroShotClassifier, read_class_names, read_templates, zero_shot_weights
    model = spec["model"]
    if model not in open_clip.list_models():
        raise PretrainedModelError(f"model {spec['name']!r}: " + _close(model, open_clip.list_models(),
                                   "open_clip model"))
    tag, cfg = spec["pretrained"], {}
    if tag is not None:
        tags = open_clip.list_pretrained_tags_by_model(model)
        if tag not in tags:
            raise PretrainedModelError(f"model {spec['name']!r}: open_clip has no pretrained tag {tag!r} for "
                                       f"{model}; tags: {', '.join(tags) or 'none'}")
        cfg = open_clip.get_pretrained_cfg(model, tag) or {}
    names = read_class_names(spec["class_names"], dataset_class_names=class_names, n_classes=n_classes,
                             dataset_kind=dataset_kind)
    if len(names) != n_classes:
        raise ClassCountError(f"model {spec['name']!r}: {len(names)} class names for a dataset of "
                              f"{n_classes} classes")
    templates = read_templates(spec["templates"])
    origin = cfg.get("url") or (f"https://huggingface.co/{cfg['hf_hub'].strip('/')}" if cfg.get("hf_hub") else "")
    path = _local(spec, origin)
    if path is None:
        candidates = []
        if cfg.get("hf_hub"):
            found, where = hf_cached_file(cfg["hf_hub"].strip("/"),
                                          ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"))
            candidates.append(where)
            path = found
        if path is None and cfg.get("url"):
            for d in (os.path.expanduser("~/.cache/clip"), os.path.join(hf_cache_dir(), "..", "clip")):
                p = os.path.join(d, os.path.basename(cfg["url"]))
                candidates.append(p)
                path = path or (p if os.path.isfile(p) else None)
        if path is None:
            raise _missing(" or ".join(candidates) or f"(no pretrained tag given for {model})", spec, origin,
                           cache=True)
    sd = builders.unwrap_state_dict(_read(path, spec, torchscript=True))
    for key in ("input_resolution", "context_length", "vocab_size"):  # OpenAI's JIT files carry these
        sd.pop(key, None)
    options, quick_gelu = spec["options"], bool(cfg.get("quick_gelu", False))
    scale = spec["logit_scale"]

    def finish(clip: nn.Module, device) -> nn.Module:
        clip = clip.to(device).eval()
        tokenizer = open_clip.get_tokenizer(model)
        with torch.inference_mode():
            w = zero_shot_weights(clip.encode_text, tokenizer, names, templates, device=device)
        return ZeroShotClassifier(clip, w, scale=scale)

    def build() -> nn.Module:
        import logging
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)  # "No pretrained weights loaded": ddd loads them next
        try:
            return open_clip.create_model(model, pretrained=None, force_quick_gelu=quick_gelu, **options)
        finally:
            logging.disable(previous)

    return Prepared(spec, build, sd, path, {"open_clip_version": open_clip.__version__}, finish=finish)


_SOURCES = {"torchvision": _torchvision, "checkpoint": _checkpoint, "timm": _timm, "open_clip": _open_clip}


# ---------------------------------------------------------------------------------------------
# Checking the state dict against the network.


def _expected(build) -> dict:
    """Names and shapes of the network's state dict, built on the meta device (no memory, no init cost)."""
    try:
        with torch.device("meta"):
            net = build()
    except Exception:  # noqa: BLE001  (a builder that cannot run on meta: build it for real)
        net = build()
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def _list(keys) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:_SHOW]) + (f" (and {len(keys) - _SHOW} more)" if len(keys) > _SHOW else "")


def compare_state_dict(expected: dict, sd: dict, *, n_classes: int, what: str) -> None:
    """Raise :class:`ClassCountError` or :class:`PretrainedModelError` unless ``sd``'s keys and
    shapes are exactly ``expected`` (name -> shape). A classifier whose only difference is its
    number of outputs is reported as a class-count mismatch."""
    got = {k: tuple(v.shape) for k, v in sd.items()}
    missing, unexpected = set(expected) - set(got), set(got) - set(expected)
    shapes = {k: (got[k], expected[k]) for k in set(got) & set(expected) if got[k] != expected[k]}
    classifier = {k: s for k, s in shapes.items()
                  if len(s[0]) == len(s[1]) and s[1][:1] == (n_classes,) and s[0][1:] == s[1][1:]}
    count = ""
    if classifier:
        k = sorted(classifier)[0]
        count = (f"the checkpoint's classifier {_list(classifier)} has {classifier[k][0][0]} classes but "
                 f"the dataset has {n_classes}")
    if not (missing or unexpected or shapes):
        return
    if not (missing or unexpected) and set(shapes) == set(classifier):
        raise ClassCountError(f"{what}: {count}")
    parts = []
    if missing:
        parts.append(f"{len(missing)} keys of the network missing from the file: {_list(missing)}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys in the file: {_list(unexpected)}")
    other = {k: s for k, s in shapes.items() if k not in classifier}
    if other:
        parts.append(f"{len(other)} shape mismatches: " + "; ".join(
            f"{k}: file {list(s[0])} vs network {list(s[1])}" for k, s in sorted(other.items())[:_SHOW]))
    if count:
        parts.append(count)
    raise PretrainedModelError(f"{what}: the state dict does not fit the network: " + "; ".join(parts))


def prepare(spec: dict, *, n_classes: int, class_names=None, dataset_kind: str | None = None) -> Prepared:
    """Normalise ``spec``, resolve and read its weights, and check them against the network."""
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 1:
        raise PretrainedModelError(f"n_classes must be a positive integer, got {n_classes!r}")
    spec = normalize_spec(spec)
    p = _SOURCES[spec["source"]](spec, n_classes, class_names=class_names, dataset_kind=dataset_kind)
    what = f"model {spec['name']!r} ({spec['source']} {spec['model']}, weights {p.weights_path})"
    try:
        expected = _expected(p.build)
    except (TypeError, ValueError) as err:
        raise PretrainedModelError(f"{what}: cannot build the network with options {spec['options']}: {err}") from None
    compare_state_dict(expected, p.state_dict, n_classes=n_classes, what=what)
    return p


def check_model(spec: dict, *, n_classes: int, class_names=None, dataset_kind: str | None = None) -> dict:
    """Validate a model spec against a dataset of ``n_classes`` classes without running it.

    Checks: known source and model name (close matches listed), weights file present (else the
    error names the file and where to obtain it), state-dict keys and shapes fit the network
    (missing/unexpected keys and shape mismatches named), class count = ``n_classes``.
    ``class_names`` (the dataset's, in label order) and ``dataset_kind`` only matter for
    ``open_clip`` (the zero-shot class names).

    Returns
    -------
    dict: ``name``, ``source``, ``model``, ``weights_path``, ``n_parameters`` (entries of the state
    dict), ``preprocessing`` (resolved).

    Raises
    ------
    PretrainedModelError (WeightsNotFoundError, ClassCountError) naming the problem.
    """
    p = prepare(spec, n_classes=n_classes, class_names=class_names, dataset_kind=dataset_kind)
    return {"name": p.spec["name"], "source": p.spec["source"], "model": p.spec["model"],
            "weights_path": p.weights_path, "n_parameters": int(sum(v.numel() for v in p.state_dict.values())),
            "preprocessing": p.spec["preprocessing"]}


def build_prepared(p: Prepared, *, device) -> nn.Module:
    """The network of a checked :class:`Prepared`, weights loaded, in eval mode on ``device``."""
    net = p.build()
    net.load_state_dict(p.state_dict, strict=True)
    net = net.to(device).eval()
    if p.finish is not None:
        net = p.finish(net, device).to(device).eval()
    return net


def load_model(spec: dict, *, n_classes: int, device="cpu", class_names=None,
               dataset_kind: str | None = None) -> nn.Module:
    """Build a pretrained model from local weights, after :func:`check_model`'s checks.

    Returns an ``nn.Module`` in eval mode on ``device`` mapping a preprocessed batch
    (B, 3, h, w) to logits (B, n_classes) (CLIP: ``logit_scale`` x cosine similarity).
    """
    return build_prepared(prepare(spec, n_classes=n_classes, class_names=class_names,
                                  dataset_kind=dataset_kind), device=torch.device(device))
