"""The path grammar of ``results/``: every file a job writes, spelled once.

The workflow's rules and the config's study kinds both build their paths here, so that a file is
named in one place. Called with wildcards (the defaults), a function gives the rule's pattern, e.g.
``decisions()`` is ``results/{study}/runs/{condition}/{instance}.h5``; called with values, the file
of one study, e.g. ``decisions("laptop-zoo", "zoo/vit")``. A *run id* names a decisions file under
``runs/``: ``<condition>/<instance>`` for trained conditions, ``zoo/<model>``, ``pretrained/<model>``,
``imported/<name>``.

Each file's format has one owner module: decisions (:mod:`ddd.results.decisions`), networks
(:mod:`ddd.results.networks`), the study tables (:mod:`ddd.results.study`), the consistency tables
(:mod:`ddd.results.pairs`), the per-image table and exports (:mod:`ddd.results.images`), Figure 7's inputs (:mod:`ddd.results.representations`), imports
(:mod:`ddd.results.imports`), the experiment site (:mod:`ddd.psychophysics`).
"""

from __future__ import annotations

STUDY = "{study}"
RUN = "{condition}/{instance}"


def study_dir(study: str = STUDY) -> str:
    return f"results/{study}"


def decisions(study: str = STUDY, run: str = RUN) -> str:
    """``runs/<run>.h5``: one decision maker's decisions at every evaluated epoch."""
    return f"results/{study}/runs/{run}.h5"


def network(study: str = STUDY, run: str = RUN) -> str:
    """``networks/<run>.pt``: a trained network at its nominal final epoch E."""
    return f"results/{study}/networks/{run}.pt"


def imported_runs(study: str = STUDY) -> str:
    """``runs/imported``: the folder of an imported study's converted decisions files."""
    return f"results/{study}/runs/imported"


def import_report(study: str = STUDY) -> str:
    """``import.json``: what the import kept and dropped."""
    return f"results/{study}/import.json"


def label_issues(study: str = STUDY) -> str:
    return f"results/{study}/label_issues.tsv"


def summary(study: str = STUDY) -> str:
    return f"results/{study}/summary.json"


def split(study: str = STUDY) -> str:
    return f"results/{study}/split.tsv"


def kappas(study: str = STUDY) -> str:
    return f"results/{study}/kappa_vs_base.tsv"


def consistency(study: str = STUDY, table: str = "pairs") -> str:
    """``consistency/<table>.tsv``: ``pairs``, ``summary``, ``uncertainty``, ``differences`` or ``conditions``."""
    return f"results/{study}/consistency/{table}.tsv"


def images(study: str = STUDY) -> str:
    """``images.tsv``: one row per evaluation image (:mod:`ddd.results.images`)."""
    return f"results/{study}/images.tsv"


def export(study: str = STUDY, file: str = "{file}") -> str:
    """``export/<file>``: the correctness matrix for other tools (``correct.jsonl``, ``correct_long.tsv.gz``)."""
    return f"results/{study}/export/{file}"


def rsa_table(study: str = STUDY) -> str:
    return f"results/{study}/rsa.tsv"


def rsa_rdms(study: str = STUDY) -> str:
    return f"results/{study}/rsa_rdms.npz"


def figure(study: str = STUDY, name: str = "{figure}", ext: str = "png") -> str:
    return f"results/{study}/figures/{name}.{ext}"


def table(study: str = STUDY, name: str = "{table}", ext: str = "csv") -> str:
    return f"results/{study}/tables/{name}.{ext}"


def site(study: str = STUDY, file: str = "index.html") -> str:
    """``psychophysics/<file>``: the experiment site (``images`` is the folder of its stimuli)."""
    return f"results/{study}/psychophysics/{file}"
