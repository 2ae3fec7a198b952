"""timm's pretrained weights, as a snapshot shipped with ddd.

``timm_weights.json`` (next to this module) lists every pretrained name of the timm version in
``pyproject.toml``'s ``timm`` extra (``<architecture>.<tag>``, what ``timm.list_pretrained()``
reports) with what planning needs to find its weights without importing timm or torch:

- ``default``: architecture -> its default tag (the first of timm's priority list: what
  ``timm.create_model("<architecture>", pretrained=True)`` would load);
- ``models``: name -> ``{"classes": n}`` plus, where it is not ``timm/<name>``, ``"hub"`` (the
  Hugging Face hub repository timm loads it from), or ``"url"`` for the few weights timm fetches
  from a plain URL (no hub repository).

timm loads a hub repository's ``model.safetensors``, else its ``pytorch_model.bin``
(:data:`HUB_FILES`); a URL's file is kept under its base name, as torch.hub does.
A test checks the snapshot against the installed timm; after a timm upgrade regenerate it with
``python -m ddd.pretrained.timm_weights`` (docs/reproduction.md#pretrained-models).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files

FILE_NAME = "timm_weights.json"
#: The files of a hub repository timm reads, in its order of preference.
HUB_FILES = ("model.safetensors", "pytorch_model.bin")


@lru_cache(maxsize=1)
def load() -> dict:
    """The snapshot: ``{"timm_version": str, "default": {arch: tag}, "models": {name: {...}}}``."""
    return json.loads(files("ddd.pretrained").joinpath(FILE_NAME).read_text(encoding="utf-8"))


def snapshot() -> dict:
    """What the installed timm reports, in the snapshot's format (imports timm)."""
    import timm
    from timm.models import _registry

    models = {}
    for name in sorted(timm.list_pretrained()):
        cfg = timm.models.get_pretrained_cfg(name)
        entry = {"classes": int(cfg.num_classes or 0)}
        if cfg.hf_hub_id:
            if cfg.hf_hub_id != f"timm/{name}":
                entry["hub"] = cfg.hf_hub_id
        elif cfg.url:
            entry["url"] = cfg.url
        else:
            continue  # neither hub nor URL: nothing timm could load either
        models[name] = entry
    default = {}
    for name in models:
        arch = name.split(".", 1)[0]
        if arch not in default:
            default[arch] = _registry._model_default_cfgs[arch].tags[0]
    return {"timm_version": timm.__version__, "default": dict(sorted(default.items())), "models": models}


def dumps(snap: dict) -> str:
    """The snapshot as JSON text, one model per line (small diffs after an upgrade)."""
    lines = ["{", f' "timm_version": {json.dumps(snap["timm_version"])},', ' "default": {']
    lines.append(",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in snap["default"].items()))
    lines += [" },", ' "models": {']
    lines.append(",\n".join(f"  {json.dumps(k)}: {json.dumps(v, separators=(', ', ': '))}"
                            for k, v in snap["models"].items()))
    lines += [" }", "}", ""]
    return "\n".join(lines)


def main() -> None:
    """Write the snapshot of the installed timm next to this module."""
    path = files("ddd.pretrained").joinpath(FILE_NAME)
    with open(path, "w", encoding="utf-8") as f:  # type: ignore[arg-type]
        f.write(dumps(snapshot()))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
