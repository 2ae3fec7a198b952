"""The 13 controlled conditions of a family, the runs they train and the decision makers they give.

docs/reproduction.md#conditions. A *run* is one trained network, named by its run id
``<condition>/<instance>`` (``init/3``; its decisions are ``runs/<run id>.h5``). Most conditions
train networks of their own; the plus-epoch conditions are the base run's later epochs and half
data is judged on the two networks of different data, so they train nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from ddd.experiment.makers import DecisionMaker

__all__ = ["CONDITIONS", "DISPLAY_NAMES", "MULTI_INSTANCE", "LR_SCALES", "PLUS_EPOCHS", "condition_order",
           "trained_conditions", "instances_of", "runs", "parse_run", "decision_makers"]

#: The 13 conditions, in the paper's order (Figure 3).
CONDITIONS: tuple[str, ...] = (
    "base", "plus_1_epoch", "plus_10_epochs", "optimizer", "batch_size", "init", "learning_rate",
    "hardware", "data_order", "architecture", "half_data", "combined", "different_data",
)
DISPLAY_NAMES = {
    "base": "Base", "plus_1_epoch": "Plus 1 epoch", "plus_10_epochs": "Plus 10 epochs",
    "optimizer": "Different optimiser", "batch_size": "Different batch size",
    "init": "Different initialisation", "learning_rate": "Different learning rate",
    "hardware": "Hardware non-determinism", "data_order": "Different data order",
    "architecture": "Different architecture", "half_data": "Half data", "combined": "Combined",
    "different_data": "Different data",
}
#: Conditions with ``instances`` runs (the others have one; different data has two halves).
MULTI_INSTANCE = ("init", "learning_rate", "hardware", "data_order", "combined")
#: x the base LR for instances 1..5 of "different learning rate" (and "combined"): 0.148 .. 0.152 for LR 0.1.
LR_SCALES = (1.48, 1.49, 1.50, 1.51, 1.52)
#: Plus-epoch conditions: epochs past the base run's nominal final epoch E.
PLUS_EPOCHS = {"plus_1_epoch": 1, "plus_10_epochs": 10}
#: Conditions that reuse the networks of another.
_REUSES = {"plus_1_epoch": "base", "plus_10_epochs": "base", "half_data": "different_data"}


def _check_conditions(conditions) -> None:
    bad = [c for c in conditions if c not in CONDITIONS]
    if bad:
        raise ValueError(f"unknown condition(s) {bad}; allowed: {', '.join(CONDITIONS)}")


def condition_order(conditions, order=CONDITIONS) -> list[str]:
    """The conditions present, in ``order``; any not in ``order`` follow in first-seen order."""
    present = list(dict.fromkeys(conditions))
    return [c for c in order if c in present] + [c for c in present if c not in order]


def trained_conditions(conditions) -> list[str]:
    """Conditions that need networks of their own (plus-epoch and half-data reuse others), in order."""
    need = {_REUSES.get(c, c) for c in conditions}
    return [c for c in CONDITIONS if c in need]


def instances_of(condition: str, instances: int) -> int:
    """How many runs a trained condition has when multi-instance conditions have ``instances``."""
    return instances if condition in MULTI_INSTANCE else 2 if condition == "different_data" else 1


def runs(conditions, *, instances: int) -> list[str]:
    """Run ids (``<condition>/<instance>``) of every network these conditions train (the base always)."""
    _check_conditions(conditions)
    if instances < 1:
        raise ValueError(f"instances must be >= 1, got {instances}")
    return [f"{c}/{i}" for c in trained_conditions(set(conditions) | {"base"})
            for i in range(1, instances_of(c, instances) + 1)]


def parse_run(run: str) -> tuple[str, int]:
    """``(condition, instance)`` of a run id ``<condition>/<instance>``."""
    condition, _, instance = str(run).partition("/")
    if condition not in CONDITIONS or not instance.isdigit():
        raise ValueError(f"a run id is <condition>/<instance> with a condition of {', '.join(CONDITIONS)}, "
                         f"got {run!r}")
    return condition, int(instance)


def decision_makers(conditions, *, instances: int, epochs: int,
                    decisions: Callable[[str], str]) -> list[DecisionMaker]:
    """The distinct decision makers of a family's training study, in condition order.

    Parameters
    ----------
    conditions : the study's conditions; instances : runs per multi-instance condition.
    epochs : the nominal final epoch E (every run's own decision maker reads its decisions there).
    decisions : run id -> path of its decisions file.

    Plus-epoch conditions are the base run's epochs E + 1 and E + 10; half data contributes nothing
    of its own (its two networks are those of different data). A condition with one run names its
    decision maker after the condition, otherwise ``<condition>/<instance>``.
    """
    trained = runs(conditions, instances=instances)
    wanted = set(conditions) | {"base"}
    if "half_data" in wanted:  # half data is judged on the networks of different data
        wanted.add("different_data")
    out = []
    for c in CONDITIONS:
        if c not in wanted or c == "half_data":
            continue
        if c in PLUS_EPOCHS:
            out.append(DecisionMaker(c, c, decisions("base/1"), epochs + PLUS_EPOCHS[c], PLUS_EPOCHS[c]))
            continue
        mine = [r for r in trained if parse_run(r)[0] == c]
        out += [DecisionMaker(c if len(mine) == 1 else r, c, decisions(r), epochs) for r in mine]
    return out
