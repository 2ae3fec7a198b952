"""Weights files: where the libraries' local caches keep them, and reading them.

The caches: ``$TORCH_HOME/hub/checkpoints`` for torchvision and the checkpoint builders, the
Hugging Face hub cache for timm and open_clip. Nothing here downloads, and torch is imported
only by the functions that need it.
"""

from __future__ import annotations

import hashlib
import os
import zipfile

from ddd.pretrained.spec import PretrainedModelError


def hub_checkpoint_path(file_name: str) -> str:
    """Where ``torch.hub.load_state_dict_from_url`` keeps ``file_name``: ``$TORCH_HOME/hub/checkpoints``."""
    import torch
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
