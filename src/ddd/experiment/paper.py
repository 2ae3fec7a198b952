"""The paper's published numbers, per preset, for the headline table's ``paper`` column.

Keyed by family (``<dataset kind>-<family>``, e.g. ``imagenet-resnet18``) and by headline key.
Split fractions, accuracies and the swap rate come from the paper's text (Meding, Buschoff,
Geirhos & Wichmann, "Trivial or impossible", ICLR 2022); κ values are read off the paper's
Figures 3, 10, 11 and 16 as the authors' notebooks print them (two decimals), so they are
approximate (docs/reproduction.md#figures-and-tables). Plain data: planning reads it.
"""

from __future__ import annotations

from ddd.experiment.conditions import CONDITIONS

__all__ = ["PAPER", "paper_preset"]


_PAPER_TEXT = "paper text (ICLR 2022)"


def _kappa_readoffs(values, figure: str, notes: dict | None = None) -> dict:
    src = f"read off the paper's Figure {figure} (authors' notebook output, 2 decimals)"
    notes = notes or {}
    return {f"kappa.{c}": (v, src + (f"; {notes[c]}" if c in notes else "")) for c, v in zip(CONDITIONS, values)}


_FIG16_NOTE = "the figure's large marker is the first model, not the mean (authors' code)"


#: Published numbers per paper preset (family key): ``{headline key: (value, source)}``.
PAPER: dict[str, dict] = {
    "imagenet-resnet18": {
        "split.strict.trivial": (0.482, f"{_PAPER_TEXT}, section 3.1: 48.2 % learned by all 13 models"),
        "split.strict.impossible": (0.143, f"{_PAPER_TEXT}, section 3.1: 14.3 % misclassified by all"),
        "split.strict.in_between": (0.375, f"{_PAPER_TEXT}, section 3.1: 37.5 %"),
        "accuracy.mean": (0.6905, f"{_PAPER_TEXT}, section 3.1: mean 69.05 % after 90 epochs"),
        "accuracy.min": (0.6587, f"{_PAPER_TEXT}, section 3.1: range 65.87 % to 71.47 %"),
        "accuracy.max": (0.7147, f"{_PAPER_TEXT}, section 3.1: range 65.87 % to 71.47 %"),
        "accuracy.sd": (0.0160, f"{_PAPER_TEXT}, section 3.1: standard deviation 1.60 %"),
        "changes.label_change.base": (0.1237, f"{_PAPER_TEXT}, section 3.1: 'on average 12.37 % of the "
                                               "decisions swap every epoch' (6,184 images); which swap is "
                                               "meant is not stated nor traceable to the authors' code"),
        **_kappa_readoffs((1.00, .87, .85, .70, .70, .70, .70, .70, .69, .67, .66, .65, .64), "3"),
    },
    "imagenet-vgg11": _kappa_readoffs((1.0, .94, .93, .74, .68, .745, .735, .745, .74, .555, .68, .56, .70), "10",
                                      {"architecture": "AlexNet"}),
    "imagenet-densenet121": _kappa_readoffs((1.0, .81, .78, .72, .675, .72, .71, .72, .70, .71, .675, .685, .66),
                                            "11", {"architecture": "ResNet-50"}),
    "cifar100-resnet18": _kappa_readoffs((1.0, .96, .93, .69, .67, .68, .68, .69, .67, .66, .55, .62, .54), "16",
                                         {c: _FIG16_NOTE for c in CONDITIONS}),
    "gaussian-resnet18": _kappa_readoffs(
        (1.0, .92, .92, .84, .80, .79, .84, .88, .795, .49, .775, .49, .74), "16",
        {**{c: _FIG16_NOTE for c in CONDITIONS},
         "init": "models between .77 and .81 (midpoint)", "hardware": "models between .87 and .89 (midpoint)",
         "data_order": "models between .77 and .82 (midpoint)", "half_data": ".75 and .80 (mean)",
         "combined": ".49 marked, one model at .40"}),
    "imagenet-sota": {
        "split.all_but_one.trivial": (0.460, f"{_PAPER_TEXT}, section 3.2: 46.0 % (11 SOTA models, all but one)"),
        "split.all_but_one.impossible": (0.115, f"{_PAPER_TEXT}, section 3.2: 11.5 %"),
        "split.all_but_one.in_between": (0.425, f"{_PAPER_TEXT}, section 3.2: 42.5 %"),
        "accuracy.min": (0.55, "published accuracies of the 11 models (docs/reproduction.md#pretrained-models): CORnet-RT .55"),
        "accuracy.max": (0.81, "published accuracies of the 11 models (docs/reproduction.md#pretrained-models): SWSL .81"),
    },
}


def paper_preset(dataset: str, family: str) -> str | None:
    """The :data:`PAPER` key of a training study (``"<dataset kind>-<family>"``, e.g.
    ``imagenet-resnet18``), or None if the paper has no numbers for it. The Gaussian default gets
    the paper's Gaussian numbers (Figure 16 read-offs) only."""
    key = f"{dataset}-{family}"
    return key if key in PAPER else None
