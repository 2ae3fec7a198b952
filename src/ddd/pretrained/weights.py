"""Weights files: where the libraries' local caches keep them, reading them, and the models a
study names by their libraries' names.

The caches: ``$TORCH_HOME/hub/checkpoints`` for torchvision and the checkpoint builders, the
Hugging Face hub cache for timm and open_clip. Nothing here downloads, and torch is imported
only by the functions that need it: :func:`library_models` (planning) reads the snapshots
:mod:`ddd.nets.torchvision_weights` and :mod:`ddd.pretrained.timm_weights` instead of the libraries.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass

from ddd.pretrained.spec import PretrainedModelError, close_matches


def hub_checkpoint_path(file_name: str) -> str:
    """Where ``torch.hub.load_state_dict_from_url`` keeps ``file_name``: ``$TORCH_HOME/hub/checkpoints``."""
    import torch
    return os.path.join(torch.hub.get_dir(), "checkpoints", file_name)


def torch_hub_dir() -> str:
    """``torch.hub.get_dir()`` without importing torch: ``$TORCH_HOME/hub``, where ``$TORCH_HOME``
    defaults to ``$XDG_CACHE_HOME/torch`` and ``$XDG_CACHE_HOME`` to ``~/.cache``."""
    home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "torch")
    return os.path.join(os.path.expanduser(home), "hub")


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
        try:
            return load_file(path, device="cpu")
        except Exception as err:  # noqa: BLE001  (safetensors' own errors do not name the file)
            raise PretrainedModelError(f"cannot read weights file {path}: {type(err).__name__}: "
                                       f"{str(err).splitlines()[0] if str(err) else ''} (not a complete "
                                       ".safetensors file?)") from err
    import torch
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
    """The sha256 of a file's bytes (hex), read in 4 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(2 ** 22), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# Models named by their libraries' names (a `pretrained` study's `library_models`), planning only.

#: Sources a study may list by name, with one shared weights folder.
LIBRARIES = ("timm", "torchvision")


@dataclass(frozen=True)
class LibraryModel:
    """One model of a ``library_models`` list, resolved without the library.

    ``spec`` is its model spec (name, source, model[, tag], weights[, preprocessing]);
    ``path`` the weights file found, else None; ``expected`` where the file belongs (the
    preferred file name, shown when it is missing); ``origin`` where to obtain it.
    """

    key: str
    spec: dict
    path: str | None
    expected: str
    origin: str


def _timm_name(name: str, snap: dict) -> str:
    """The full timm pretrained name (``<arch>.<tag>``) of ``name``; an arch alone gets its default tag."""
    models, default = snap["models"], snap["default"]
    if name in models:
        return name
    arch, _, tag = name.partition(".")
    if not tag and arch in default:
        return f"{arch}.{default[arch]}"
    if arch in default:
        tags = sorted(m.partition(".")[2] for m in models if m.partition(".")[0] == arch)
        raise PretrainedModelError(f"timm {snap['timm_version']} has no pretrained weights {name!r}; "
                                   f"tags of {arch}: {', '.join(tags)}")
    raise PretrainedModelError(close_matches(name, list(models) + list(default),
                                             f"timm {snap['timm_version']} pretrained model"))


def _torchvision_name(name: str, models: dict) -> tuple[str, str, str]:
    """``(model, tag, url)`` of a torchvision name: ``<model>`` (its DEFAULT weights) or
    ``<model>.<TAG>``. DEFAULT becomes the tag it stands for, so that the name pins the weights."""
    model, _, tag = name.partition(".")
    if model not in models:
        raise PretrainedModelError(close_matches(model, models, "torchvision classification model"))
    tags = models[model]
    tag = tag or "DEFAULT"
    if tag not in tags:
        raise PretrainedModelError(f"torchvision has no weights {tag!r} for {model}; allowed tags: "
                                   f"{', '.join(tags)}")
    if tag == "DEFAULT":
        tag = next((t for t, url in tags.items() if t != "DEFAULT" and url == tags["DEFAULT"]), tag)
    return model, tag, tags[tag]


def _find(folder: str | None, relative: list[str], hub: str | None) -> tuple[str | None, str]:
    """The first existing file of ``relative`` in ``folder``, or in the caches when ``folder`` is
    None (``hub``: a Hugging Face repository, else torch.hub's ``checkpoints``). Returns
    ``(path or None, the preferred path)``; paths in ``folder`` as joined (relative if it is)."""
    if folder is None:
        if hub is not None:
            return hf_cached_file(hub, [os.path.basename(r) for r in relative])
        paths = [os.path.join(torch_hub_dir(), "checkpoints", r) for r in relative]
    else:
        paths = [os.path.join(folder, r) for r in relative]
    return next((p for p in paths if os.path.isfile(p)), None), paths[0]


def library_models(block: dict, *, where: str = "library_models", n_classes: int | None = None
                   ) -> tuple[list[LibraryModel], list[str]]:
    """Expand a ``library_models`` block into one model spec per name, and find each weights file.

    Parameters
    ----------
    block : ``{"weights_folder": folder or None, "timm": [names], "torchvision": [names],
        "preprocessing": {...}}``. A timm name is ``<arch>.<tag>`` or ``<arch>`` (its default
        tag); a torchvision name ``<model>.<TAG>`` or ``<model>`` (its DEFAULT weights). Each
        model is named by its full name (``resnet50.a1_in1k``, ``resnet50.IMAGENET1K_V2``).
    where : the block's key in the config (for messages).
    n_classes : the dataset's class count where planning knows it: timm weights with another
        count are refused (weights without a classifier always are).

    Layout of the weights folder (the libraries' own names): timm's hub files under their
    repository, ``<folder>/<hub repository>/model.safetensors`` (or ``pytorch_model.bin``), e.g.
    ``<folder>/timm/resnet50.a1_in1k/model.safetensors``; files from a URL (every torchvision
    weight, a few of timm's) under the URL's base name, ``<folder>/resnet50-11ad3fa6.pth``, as in
    torch.hub's ``checkpoints`` folder. ``weights_folder: null``: the libraries' local caches.

    Returns
    -------
    (models, problems): the models in the block's order (timm first), a model's ``path`` None
    when its file is missing (its spec's ``weights`` is then where the file belongs, or null
    for the caches); and one line per name that cannot be used (``<where>.<source>[i]: ...``:
    unknown, with the close matches or the architecture's tags; a class count unlike the
    dataset's). Nothing is raised, so that planning reports all at once; names given twice are
    the caller's to refuse.
    """
    from ddd.nets import torchvision_weights
    from ddd.pretrained import timm_weights

    folder = block.get("weights_folder")
    folder = None if folder is None else os.path.expanduser(folder)
    extra = {"preprocessing": block["preprocessing"]} if block.get("preprocessing") else {}
    out, problems = [], []
    for source in LIBRARIES:
        for i, name in enumerate(block.get(source) or []):
            key = f"{where}.{source}[{i}]"
            try:
                if source == "timm":
                    snap = timm_weights.load()
                    full = _timm_name(name, snap)
                    entry = snap["models"][full]
                    classes = entry["classes"]
                    if classes == 0 or (n_classes is not None and classes != n_classes):
                        raise PretrainedModelError(
                            f"timm's {full} has no classifier (a feature extractor)" if classes == 0 else
                            f"timm's {full} has {classes} classes but the dataset has {n_classes}")
                    spec = {"name": full, "source": "timm", "model": full}
                    if "url" in entry:
                        hub, relative, origin = None, [os.path.basename(entry["url"])], entry["url"]
                    else:
                        hub = entry.get("hub", f"timm/{full}")
                        relative = [f"{hub}/{f}" for f in timm_weights.HUB_FILES]
                        origin = f"https://huggingface.co/{hub} ({' or '.join(timm_weights.HUB_FILES)})"
                else:
                    model, tag, url = _torchvision_name(name, torchvision_weights.models())
                    spec = {"name": f"{model}.{tag}", "source": "torchvision", "model": model, "tag": tag}
                    hub, relative, origin = None, [os.path.basename(url)], url
            except PretrainedModelError as err:
                problems.append(f"{key}: {err}")
                continue
            path, expected = _find(folder, relative, hub)
            spec["weights"] = None if folder is None else (path or expected)
            out.append(LibraryModel(key, {**spec, **extra}, path, expected, origin))
    return out, problems
