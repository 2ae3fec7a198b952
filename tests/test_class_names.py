"""ImageNet class names in Table 1 and the figures (issue 20, item 3): the libraries' names in the
standard index order, used only for a dataset whose classes are exactly ImageNet-1k's wnids."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ddd.data.imagenet_classes import N_CLASSES, display_class_names, load
from ddd.report.tables import table_1
from ddd.results.decisions import write_decisions


def test_the_file_is_what_the_libraries_ship():
    wnids, names = load()
    assert len(wnids) == len(names) == N_CLASSES and list(wnids) == sorted(wnids)  # standard order = sorted
    assert len(set(names)) == N_CLASSES  # distinct: "crane" (n03126707) and "crane bird" (n02012849)
    torchvision = pytest.importorskip("torchvision")
    from torchvision import models as tvm
    n = 0
    for model in tvm.list_models(module=tvm):  # every ImageNet-1k weight lists the same names
        for weights in tvm.get_model_weights(model):
            categories = weights.meta.get("categories")
            if categories is not None and len(categories) == N_CLASSES:
                assert tuple(categories) == names, f"{model} {weights.name}"
                n += 1
    assert n > 100 and torchvision
    timm = pytest.importorskip("timm")
    info = timm.data.ImageNetInfo()
    assert tuple(info.index_to_label_name(i) for i in range(N_CLASSES)) == wnids
    assert (wnids[0], names[0]) == ("n01440764", "tench") and (wnids[-1], names[-1]) == ("n15075141", "toilet tissue")


def test_only_imagenet_1k_gets_names():
    wnids, names = load()
    assert display_class_names(list(wnids)) == list(names)
    assert display_class_names(np.array(wnids))[:2] == ["tench", "goldfish"]
    subset = list(wnids[:100])  # another class count keeps its folder names
    assert display_class_names(subset) == subset
    swapped = [wnids[1], wnids[0], *wnids[2:]]  # not the standard order: no mapping by position
    assert display_class_names(swapped) == swapped
    assert display_class_names(["apple", "aquarium_fish"]) == ["apple", "aquarium_fish"]
    assert display_class_names([]) == []


def test_table_1_shows_imagenet_names(tmp_path):
    """A base network on 2,000 images of ImageNet-1k's 1000 classes: class 0 (tench) all right,
    class 999 (toilet tissue) all wrong, the others half; Table 1 names them, the CSV keeps the indices."""
    wnids, names = load()
    targets = np.repeat(np.arange(N_CLASSES), 2)
    correct = np.arange(targets.size) % 2 == 0  # one of two right: accuracy 0.5
    correct[targets == 0] = True
    correct[targets == N_CLASSES - 1] = False
    predictions = np.where(correct, targets, (targets + 1) % N_CLASSES)[None, :]
    path = tmp_path / "base.h5"
    write_decisions(path, predictions, targets, [f"{wnids[t]}/{i}.JPEG" for i, t in enumerate(targets)],
                    epochs=np.array([0]), recipe={"synthetic": True},
                    attrs={"dataset": {"name": "imagenet", "kind": "imagenet"}, "class_names": list(wnids)})
    out = {k: str(tmp_path / f"table1.{k}") for k in ("csv", "tex", "md")}
    t = table_1([{"name": "base", "condition": "base", "path": str(path), "epoch": 0}], **out, k=3)
    assert t["highest_class"].tolist() == ["tench", "goldfish", "great white shark"]  # ties by index
    assert t["lowest_class"].tolist() == ["toilet tissue", "goldfish", "great white shark"]
    assert t["highest_index"].tolist() == [0, 1, 2] and t["lowest_index"].tolist() == [999, 1, 2]
    assert "| tench |" in open(out["md"]).read() and "n01440764" not in open(out["tex"]).read()
    back = pd.read_csv(out["csv"])
    assert back["highest_class"][0] == "tench"


def test_clip_zero_shot_names_need_the_standard_wnids():
    pytest.importorskip("open_clip")
    from ddd.pretrained.clip import read_class_names
    from ddd.pretrained.spec import PretrainedModelError
    wnids, _ = load()
    names = read_class_names(None, dataset_class_names=list(wnids), n_classes=N_CLASSES, dataset_kind="imagenet")
    assert names[:2] == ["tench", "goldfish"] and len(names) == N_CLASSES
    with pytest.raises(PretrainedModelError, match="not ImageNet-1k's wnids"):
        read_class_names(None, dataset_class_names=[f"c{i:04d}" for i in range(N_CLASSES)], n_classes=N_CLASSES,
                         dataset_kind="imagenet")
