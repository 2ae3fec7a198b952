"""The model names timm and open_clip know, as a snapshot shipped with ddd, and the name checks.

``library_names.json`` (next to this module) holds, for the pinned timm and open_clip, every timm
architecture with its pretrained tags (and timm's deprecated names with their current ones) and
every open_clip model with its pretrained tags, so that
planning can refuse an unknown name (listing the closest ones) without importing torch. The
snapshot is used only when the installed library has the snapshot's version, or is not installed
here (the job then runs in ``workflow/envs/pretrained.yaml``, which pins the same versions); with
another version installed, the job checks the names against the library itself, with the same
functions. A test checks the snapshot against the installed libraries; after an upgrade
regenerate it with ``python -m ddd.pretrained.names``. docs/reproduction.md#pretrained-models.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import metadata
from importlib.resources import files

from ddd.pretrained.spec import PretrainedModelError, close_matches

FILE_NAME = "library_names.json"
_DISTRIBUTIONS = {"timm": "timm", "open_clip": "open_clip_torch"}


@lru_cache(maxsize=1)
def load() -> dict:
    """The snapshot: ``{library: {"version": str, "models": {model: [pretrained tags]},
    "deprecated": {old name: current name}}}`` for ``timm`` (architectures) and ``open_clip``."""
    return json.loads(files("ddd.pretrained").joinpath(FILE_NAME).read_text(encoding="utf-8"))


def installed_version(library: str) -> str | None:
    """The installed version of ``timm`` or ``open_clip`` (package metadata only: nothing imported)."""
    try:
        return metadata.version(_DISTRIBUTIONS[library])
    except metadata.PackageNotFoundError:
        return None


def planning_names(library: str) -> dict | None:
    """The snapshot's part for ``library`` (``{"version", "models": {model: [tags]}, "deprecated":
    {old name: current name}}``) when it describes what the job will run (the installed version is
    the snapshot's, or none is installed here), else None."""
    snap = load()[library]
    version = installed_version(library)
    return snap if version in (None, snap["version"]) else None


def library_names(library: str) -> dict:
    """What the installed ``timm`` or ``open_clip`` knows now (models registered at run time
    included), in the snapshot's format (imports it)."""
    deprecated = {}
    if library == "timm":
        import timm
        from timm.models._registry import get_deprecated_models
        models = {name: [] for name in timm.list_models()}
        for name in timm.list_pretrained():
            arch, tag = name.split(".", 1)
            models.setdefault(arch, []).append(tag)
        deprecated = {old: new for old, new in sorted(get_deprecated_models().items())}
    elif library == "open_clip":
        import open_clip
        models = {name: [] for name in open_clip.list_models()}
        for name, tag in open_clip.list_pretrained():
            models.setdefault(name, []).append(tag)
    else:
        raise ValueError(f"unknown library {library!r}; allowed: {', '.join(_DISTRIBUTIONS)}")
    return {"version": installed_version(library), "models": dict(sorted(models.items())), "deprecated": deprecated}


def snapshot() -> dict:
    """What the installed timm and open_clip report, in the snapshot's format (imports both)."""
    return {lib: library_names(lib) for lib in _DISTRIBUTIONS}


def check_timm_name(spec: dict, known: dict) -> None:
    """Refuse a timm ``model`` (``arch`` or ``arch.tag``) unknown to ``known`` (the snapshot's
    format): the closest architectures, the architecture's tags, or a deprecated name's current
    one are named."""
    names = known["models"]
    arch, _, tag = spec["model"].partition(".")
    if arch in known.get("deprecated", {}):
        raise PretrainedModelError(f"model {spec['name']!r}: timm model name {arch!r} is deprecated: use "
                                   f"{known['deprecated'][arch]!r}")
    if arch not in names:
        raise PretrainedModelError(f"model {spec['name']!r}: " + close_matches(arch, names, "timm model"))
    if tag and tag not in names[arch]:
        tags = names[arch]
        raise PretrainedModelError(f"model {spec['name']!r}: timm has no pretrained tag {tag!r} for {arch}; "
                                   f"tags: {', '.join(tags) if tags else 'none (no pretrained weights)'}")


def check_open_clip_name(spec: dict, known: dict) -> None:
    """Refuse an open_clip ``model`` or ``pretrained`` tag unknown to ``known`` (the snapshot's format)."""
    names = known["models"]
    model, tag = spec["model"], spec.get("pretrained")
    if model not in names:
        raise PretrainedModelError(f"model {spec['name']!r}: " + close_matches(model, names, "open_clip model"))
    if tag is not None and tag not in names[model]:
        raise PretrainedModelError(f"model {spec['name']!r}: open_clip has no pretrained tag {tag!r} for "
                                   f"{model}; tags: {', '.join(names[model]) or 'none'}")


def check_name(spec: dict, known: dict) -> None:
    """:func:`check_timm_name` or :func:`check_open_clip_name` by the spec's source."""
    {"timm": check_timm_name, "open_clip": check_open_clip_name}[spec["source"]](spec, known)


def main() -> None:
    """Write the snapshot of the installed timm and open_clip next to this module."""
    path = files("ddd.pretrained").joinpath(FILE_NAME)
    snap = snapshot()
    libraries = []
    for lib, part in snap.items():  # one model per line: upgrades give readable diffs
        models = ",\n".join(f"  {json.dumps(m)}: {json.dumps(tags)}" for m, tags in part["models"].items())
        deprecated = ",\n".join(f"  {json.dumps(m)}: {json.dumps(new)}" for m, new in part["deprecated"].items())
        libraries.append(f'{json.dumps(lib)}: {{"version": {json.dumps(part["version"])}, "models": {{\n{models}}}, '
                         f'"deprecated": {{\n{deprecated}}}}}')
    with open(path, "w", encoding="utf-8") as f:  # type: ignore[arg-type]
        f.write("{" + ",\n".join(libraries) + "}\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
