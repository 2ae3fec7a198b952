"""torchvision's classification models and their weights, as a snapshot shipped with ddd.

``torchvision_weights.json`` (next to this module) maps every classification model name of
``torchvision.models`` to the members of its weights enum (aliases such as ``DEFAULT``
included, in the enum's order) and each member's URL, so that planning can check a
``torchvision`` model spec (docs/reproduction.md#pretrained-models) without importing torch.
A test checks that the snapshot is what the installed torchvision reports; after a torchvision
upgrade regenerate it with ``python -m ddd.nets.torchvision_weights``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files

FILE_NAME = "torchvision_weights.json"


@lru_cache(maxsize=1)
def load() -> dict:
    """The snapshot: ``{"torchvision_version": str, "models": {name: {tag: url}}}`` (names sorted)."""
    return json.loads(files("ddd.nets").joinpath(FILE_NAME).read_text(encoding="utf-8"))


def models() -> dict[str, dict[str, str]]:
    """Model name -> {weights tag -> URL}, from the snapshot."""
    return load()["models"]


def snapshot() -> dict:
    """What the installed torchvision reports, in the snapshot's format (imports torchvision)."""
    import torchvision
    from torchvision import models as tvm
    names = tvm.list_models(module=tvm)
    return {"torchvision_version": torchvision.__version__.split("+")[0],  # without a local tag (+cu130)
            "models": {name: {tag: member.url for tag, member in tvm.get_model_weights(name).__members__.items()}
                       for name in sorted(names)}}


def main() -> None:
    """Write the snapshot of the installed torchvision next to this module."""
    path = files("ddd.nets").joinpath(FILE_NAME)
    with open(path, "w", encoding="utf-8") as f:  # type: ignore[arg-type]
        json.dump(snapshot(), f, indent=1)
        f.write("\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
