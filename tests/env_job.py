"""Run one job of the workflow again, outside Snakemake, with another Python (a rule's environment).

Snakemake runs a rule's script with a preamble that unpickles the job's ``snakemake`` object and
appends the launching environment's ``sys.path`` (so a conda env sees Snakemake's packages, and
every other package of the launcher with them). To prove that an environment holds what a rule
needs, its job must run without that: :func:`describe` (in the launcher, where Snakemake is
installed) turns a script kept by ``--skip-script-cleanup`` into plain JSON, and running this file
with the environment's interpreter (``python -I env_job.py job.json``) rebuilds the ``snakemake``
object from it and executes the rule's script, with nothing on ``sys.path`` but the interpreter's
own packages and the workflow's scripts folder.
"""

import json
import sys

PREAMBLE_END = "######## snakemake preamble end #########\n"


def describe(script_path) -> dict:
    """The job behind a kept Snakemake script as plain data (run in the launching environment)."""
    text = open(script_path, encoding="utf-8").read()
    preamble, source = text.split(PREAMBLE_END, 1)
    preamble = preamble.split("\n", 1)[1]  # drop the start marker line
    scope: dict = {"__file__": str(script_path)}
    exec(preamble, scope)  # noqa: S102  (our own job's preamble: unpickles the snakemake object)
    job = scope["snakemake"]

    def named(items):
        """Snakemake's Namedlist: the flat items, and name -> (start, end) (end None: one item)."""
        return {"items": [_plain(v) for v in items],
                "names": {n: [s, e] for n, (s, e) in getattr(items, "_names", {}).items()}}

    return {"rule": job.rule, "input": named(job.input), "output": named(job.output), "params": named(job.params),
            "log": named(job.log), "wildcards": named(job.wildcards), "threads": job.threads,
            "resources": {k: v for k, v in job.resources.items() if isinstance(v, (int, float, str))},
            "config": _plain(job.config), "scriptdir": job.scriptdir, "file": scope["__file__"], "source": source}


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)


class Named(list):
    """A list whose named items (or named runs of items) are also attributes, as Snakemake's
    Namedlist is to scripts."""

    def __init__(self, d):
        super().__init__(d["items"])
        self._spans = d["names"]
        for name, (start, end) in self._spans.items():
            setattr(self, name, self[start] if end is None else list(self[start:end]))

    def items(self):
        return [(n, getattr(self, n)) for n in self._spans]

    def keys(self):
        return list(self._spans)

    def get(self, key, default=None):
        return getattr(self, key, default)


class Job:
    def __init__(self, d: dict):
        self.rule, self.threads, self.config, self.scriptdir = d["rule"], d["threads"], d["config"], d["scriptdir"]
        for key in ("input", "output", "params", "log", "wildcards"):
            setattr(self, key, Named(d[key]))
        res = d["resources"]
        self.resources = Named({"items": list(res.values()), "names": {k: [i, None] for i, k in enumerate(res)}})


def main(path: str) -> None:
    d = json.load(open(path, encoding="utf-8"))
    sys.path.insert(0, d["scriptdir"])  # what Snakemake adds for local scripts (_ddd_path lives there)
    import __main__  # the script runs as the main module, as under Snakemake

    scope = __main__.__dict__
    scope.update({"__file__": d["file"], "snakemake": Job(d)})
    exec(compile(d["source"], d["file"], "exec"), scope)  # noqa: S102


if __name__ == "__main__":
    main(sys.argv[1])
