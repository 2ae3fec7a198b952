"""The config against the workflow's JSON schema, with one line per problem (planning: light).

Snakemake's own schema validation reports the first problem with a dump of the whole schema;
:func:`check_schema` reports every problem as the key path, the bad value and what is allowed, e.g.
``studies.s.train.conditions[1]: unknown condition 'dropout'; allowed: base, plus_1_epoch, ...``.
:func:`check_yaml` names the file and line of a YAML syntax error, which Snakemake does not.
"""

from __future__ import annotations

import os

from ddd.config.studies import ConfigError

__all__ = ["check_schema", "check_yaml", "describe"]

_TYPES = {"integer": "an integer", "number": "a number", "string": "a string", "boolean": "true or false",
          "array": "a list", "object": "a mapping", "null": "null"}


def check_yaml(path) -> None:
    """Raise ConfigError naming ``path``, line and column when it is not valid YAML; nothing if the
    file does not exist (Snakemake then says so itself)."""
    import yaml

    path = os.fspath(path)
    if not os.path.isfile(path):
        return
    try:
        with open(path, encoding="utf-8") as fh:
            yaml.safe_load(fh)
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path} is not UTF-8 text (byte {err.start}): {err.reason}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{path}{where}: not valid YAML: {problem}") from None


def check_schema(config: dict, schema_path) -> None:
    """Validate ``config`` against the JSON schema at ``schema_path`` (no defaults filled in); raise
    ConfigError listing every problem, one line each (:func:`describe`)."""
    import jsonschema
    import yaml

    with open(schema_path, encoding="utf-8") as fh:
        schema = yaml.safe_load(fh)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        lines = list(dict.fromkeys(describe(e) for e in errors))
        raise ConfigError(f"the config has {len(lines)} problem{'s' if len(lines) > 1 else ''} "
                          f"(workflow/schemas/config.schema.yaml):\n  " + "\n  ".join(lines))


def _path(error) -> str:
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the config"


def _type_fits(schema: dict, value) -> bool:
    types = schema.get("type")
    if types is None:
        return True
    python = {"string": str, "array": list, "object": dict, "boolean": bool, "integer": int, "number": (int, float),
              "null": type(None)}
    return any(isinstance(value, python[t]) for t in ([types] if isinstance(types, str) else types) if t in python)


def describe(error) -> str:
    """One line for one jsonschema error: where, what was found, what is allowed."""
    import jsonschema

    if error.validator in ("oneOf", "anyOf") and error.context:
        # the alternative whose type the value has (a list of conditions, not the string "all")
        fitting = [e for e in error.context if _type_fits(error.validator_value[e.relative_schema_path[0]],
                                                            error.instance)]
        return describe(jsonschema.exceptions.best_match(fitting or error.context))
    where, value, schema = _path(error), error.instance, error.schema
    kind = error.validator
    if kind == "additionalProperties" and isinstance(value, dict):
        allowed = list(schema.get("properties", {}))
        extra = [k for k in value if k not in allowed]
        return (f"{where}: unknown key{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))}; allowed: "
                f"{', '.join(allowed) or 'none'}")
    if kind == "enum":
        parent = [p for p in error.absolute_path if not isinstance(p, int)]
        what = "condition" if parent and parent[-1] == "conditions" else "value"
        return f"{where}: unknown {what} {value!r}; allowed: {', '.join(map(str, error.validator_value))}"
    if kind == "type":
        types = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return f"{where}: {value!r} is not {' or '.join(_TYPES.get(t, t) for t in types)}"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        bound = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[kind]
        return f"{where}: {value!r} must be {bound} {error.validator_value}"
    if kind == "required":
        missing = [k for k in error.validator_value if k not in value]
        return f"{where}: missing key{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}"
    if kind in ("minProperties", "maxProperties") and schema.get("minProperties") == schema.get("maxProperties") == 1:
        return (f"{where}: exactly one of {', '.join(schema.get('properties', {}))}; got "
                f"{', '.join(map(str, value))}")
    if kind in ("minProperties", "minItems"):
        return f"{where}: at least {error.validator_value} entries needed, got {len(value)}"
    return f"{where}: {error.message}"
