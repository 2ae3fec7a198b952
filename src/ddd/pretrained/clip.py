"""CLIP's zero-shot classification head, as the paper (and OpenAI's CLIP notebook) builds it.

For every class, each prompt template is filled with the class name, the texts are encoded and
L2-normalised, their mean is taken and normalised again: one unit vector per class (D,). An
image's logits are ``logit_scale`` (100) x the cosine similarity between its normalised image
embedding and each class vector. The head needs only ``encode_text``/``encode_image`` and a
tokenizer, so it is tested without open_clip.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from ddd.pretrained.spec import ClassCountError, PretrainedModelError


def zero_shot_weights(encode_text, tokenize, class_names, templates, *, device="cpu") -> torch.Tensor:
    """Class embeddings for the zero-shot head.

    Parameters
    ----------
    encode_text : callable, tokens (T, L) -> embeddings (T, D).
    tokenize : callable, list of T strings -> tokens (T, L).
    class_names : C names, in label order.
    templates : prompt templates with ``{}`` where the class name goes.

    Returns
    -------
    float32 tensor (D, C): column c = normalise(mean over templates of normalise(text embedding)).
    """
    if not class_names or not templates:
        raise ValueError("zero-shot weights need at least one class name and one template")
    columns = []
    for name in class_names:
        tokens = tokenize([t.replace("{}", name) for t in templates])
        emb = encode_text(tokens.to(device)).float()
        emb = emb / emb.norm(dim=-1, keepdim=True)
        mean = emb.mean(dim=0)
        columns.append(mean / mean.norm())
    return torch.stack(columns, dim=1)


class ZeroShotClassifier(nn.Module):
    """``model.encode_image`` followed by the zero-shot head.

    Input (B, 3, h, w) preprocessed images; output logits (B, C) =
    ``scale`` x normalise(encode_image(x)) @ weights, weights (D, C) from :func:`zero_shot_weights`.
    """

    def __init__(self, model: nn.Module, weights: torch.Tensor, *, scale: float = 100.0):
        super().__init__()
        self.model = model
        self.register_buffer("classifier", weights.detach().float().clone())
        self.scale = float(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.model.encode_image(x).float()
        f = f / f.norm(dim=-1, keepdim=True)
        return self.scale * f @ self.classifier


def _lines(path: str, what: str) -> list[str]:
    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        raise PretrainedModelError(f"{what} file {path} does not exist")
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n\r") for line in f if line.strip() and not line.lstrip().startswith("#")]


def read_templates(path: str | None) -> list[str]:
    """Prompt templates: one per line of ``path`` (``{}`` = the class name; ``#`` lines skipped),
    or, for None, the 80 ImageNet templates of OpenAI's CLIP as shipped by open_clip."""
    if path is None:
        from open_clip import OPENAI_IMAGENET_TEMPLATES
        return [t("{}") if callable(t) else str(t) for t in OPENAI_IMAGENET_TEMPLATES]
    templates = _lines(path, "templates")
    bad = [t for t in templates if "{}" not in t]
    if bad or not templates:
        raise PretrainedModelError(f"templates file {path}: every line needs a '{{}}' for the class name"
                                   + (f"; e.g. {bad[0]!r}" if bad else "; the file is empty"))
    return templates


def read_class_names(path: str | None, *, dataset_class_names=None, n_classes: int,
                     dataset_kind: str | None = None) -> list[str]:
    """Zero-shot class names in the dataset's label order.

    ``path``: one name per line (exactly ``n_classes`` lines, in label order), or lines
    ``<folder name>\\t<class name>`` matched to ``dataset_class_names`` (every folder needed).
    None: open_clip's 1000 ImageNet names on a 1000-class ``imagenet`` dataset (whose folders,
    when known, must be ImageNet-1k's wnids in the standard order), else the dataset's folder
    names with ``_`` read as a space.
    """
    if path is None:
        if dataset_kind == "imagenet" and n_classes == 1000:
            from ddd.data.imagenet_classes import load
            if dataset_class_names is not None and tuple(map(str, dataset_class_names)) != load()[0]:
                raise PretrainedModelError("zero-shot classification of a 1000-class imagenet dataset whose class "
                                           "folders are not ImageNet-1k's wnids in the standard (sorted) order: "
                                           "open_clip's names would not fit; set `class_names:` to a file")
            from open_clip import IMAGENET_CLASSNAMES
            return list(IMAGENET_CLASSNAMES)
        if dataset_class_names is None:
            raise PretrainedModelError("zero-shot classification needs class names: set `class_names:` "
                                       "to a file with one name per line")
        return [str(c).replace("_", " ") for c in dataset_class_names]
    lines = _lines(path, "class names")
    if lines and all("\t" in line for line in lines):
        mapping = dict(line.split("\t", 1) for line in lines)
        if dataset_class_names is None:
            raise PretrainedModelError(f"class names file {path} maps folder names, but the dataset's "
                                       "folder names are unknown here")
        missing = [c for c in dataset_class_names if c not in mapping]
        if missing:
            raise ClassCountError(f"class names file {path} lacks {len(missing)} of the dataset's "
                                  f"{len(dataset_class_names)} classes, e.g. {missing[:5]}")
        return [mapping[c].strip() for c in dataset_class_names]
    if len(lines) != n_classes:
        raise ClassCountError(f"class names file {path} has {len(lines)} names but the dataset has "
                              f"{n_classes} classes")
    return [line.strip() for line in lines]
