"""The decision maker: one type from planning to the last figure.

A *decision maker* is anything that labels the evaluation images (docs/reproduction.md#words): a
trained network at one epoch, a pretrained model, an imported prediction file, a human observer.
For the analysis it is a name, the condition it belongs to, the decisions file that holds its
answers (:mod:`ddd.results.decisions`) and the stored epoch whose answers are its final ones.

The plus-epoch conditions are later epochs of the base run: they share the base's file, at an
``offset`` of 1 and 10 epochs past the run's nominal final epoch E. Every decisions file has one
decision maker of its own (``offset == 0``); :func:`one_per_file` picks it, for what is counted per
network rather than per decision maker (learning dynamics, mean correctness, all pairs at every
epoch).

The workflow hands decision makers to its jobs as plain data (:func:`to_params`: a list of dicts),
and the package functions take either form (:func:`as_decision_makers` checks them at the boundary).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields

__all__ = ["DecisionMaker", "as_decision_makers", "to_params", "one_per_file", "base_maker"]


@dataclass(frozen=True)
class DecisionMaker:
    """One decision maker of a study.

    Attributes
    ----------
    name : unique within its study (``base``, ``init/2``, ``plus_1_epoch``, a model's name).
    condition : the condition it belongs to: a condition id of :data:`ddd.experiment.conditions.CONDITIONS`
        for training studies, the model's name for zoo and pretrained studies, ``imported`` for
        imported decisions.
    path : its decisions file.
    epoch : the stored epoch whose decisions are its final ones (E, E + 1, E + 10; 0 for a model
        evaluated once).
    offset : epochs past its run's nominal final epoch (1 and 10 for the plus-epoch conditions);
        0 for the decision maker a decisions file belongs to.
    """

    name: str
    condition: str
    path: str
    epoch: int
    offset: int = 0

    def __post_init__(self):
        for key in ("name", "condition", "path"):
            value = getattr(self, key)
            if not isinstance(value, str) or not value:
                raise ValueError(f"decision maker {self.name!r}: {key} must be a non-empty string, got {value!r}")
        for key in ("epoch", "offset"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"decision maker {self.name!r}: {key} must be an integer >= 0, got {value!r}")

    @property
    def owns_file(self) -> bool:
        """Whether this is the decision maker its decisions file belongs to (``offset == 0``)."""
        return self.offset == 0


_FIELDS = tuple(f.name for f in fields(DecisionMaker))


def _from_item(item) -> DecisionMaker:
    if isinstance(item, DecisionMaker):
        return item
    if isinstance(item, dict):
        unknown = sorted(set(item) - set(_FIELDS))
        missing = sorted({"name", "condition", "path", "epoch"} - set(item))
        if unknown or missing:
            raise ValueError(f"a decision maker has the keys {list(_FIELDS)} (offset optional); got {sorted(item)}"
                             + (f", unknown {unknown}" if unknown else "") + (f", missing {missing}" if missing else ""))
        return DecisionMaker(**{**item, "path": os.fspath(item["path"])})
    raise ValueError(f"a decision maker is a DecisionMaker or its dict (to_params), got {type(item).__name__}")


def as_decision_makers(items) -> list[DecisionMaker]:
    """The decision makers of a study, checked: at least one, names unique.

    ``items``: DecisionMaker objects or their dicts (:func:`to_params`), in study order.
    """
    makers = [_from_item(item) for item in items]
    if not makers:
        raise ValueError("a study needs at least one decision maker (none given)")
    names = [m.name for m in makers]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"decision maker names are not unique: {dup}")
    return makers


def to_params(makers) -> list[dict]:
    """Decision makers as plain data (a list of dicts) for a rule's ``params``."""
    return [asdict(m) for m in as_decision_makers(makers)]


def one_per_file(makers) -> list[DecisionMaker]:
    """Every decisions file once, in study order, as the decision maker it belongs to.

    A file's own decision maker (``offset == 0``) stands for it; a file behind later-epoch decision
    makers only keeps the first of them.
    """
    chosen: dict[str, DecisionMaker] = {}
    for m in as_decision_makers(makers):
        if m.path not in chosen or (not chosen[m.path].owns_file and m.owns_file):
            chosen[m.path] = m
    return list(chosen.values())


def base_maker(makers, *, base: str = "base") -> DecisionMaker | None:
    """The first decision maker of condition ``base``, or None if the study has none."""
    return next((m for m in as_decision_makers(makers) if m.condition == base), None)
