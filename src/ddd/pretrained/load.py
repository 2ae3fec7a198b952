"""Checking a pretrained model's weights against its network, and building it.

:func:`check_model` refuses a spec before inference (unknown model name, missing weights file,
keys that do not fit, class count different from the dataset's); :func:`load_model` builds the
checked network with its weights. docs/reproduction.md#pretrained-models.
"""

from __future__ import annotations

import torch
from torch import nn

from ddd.pretrained.preprocess import resolve_preprocessing
from ddd.pretrained.sources import PREPARERS, Prepared
from ddd.pretrained.spec import ClassCountError, PretrainedModelError, normalize_spec

_SHOW = 5


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
    p = PREPARERS[spec["source"]](spec, n_classes, class_names=class_names, dataset_kind=dataset_kind)
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
    dict), ``preprocessing`` (resolved: the library's with the spec's keys on top).

    Raises
    ------
    PretrainedModelError (WeightsNotFoundError, ClassCountError) naming the problem.
    """
    p = prepare(spec, n_classes=n_classes, class_names=class_names, dataset_kind=dataset_kind)
    return {"name": p.spec["name"], "source": p.spec["source"], "model": p.spec["model"],
            "weights_path": p.weights_path, "n_parameters": int(sum(v.numel() for v in p.state_dict.values())),
            "preprocessing": resolve_preprocessing(p.spec)}


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
