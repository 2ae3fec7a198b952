"""Analysis of the psychophysical experiment: accuracy per observer and error consistency between them.

Input: a folder of response files (CSV, :data:`RESPONSE_COLUMNS`; the page's export or the
collection server's per-observer file) and the experiment's ``manifest.csv``. Practice trials are
left out. Every observer must have answered every main pair of the manifest exactly once, with the
manifest's images on the manifest's sides; an observer whose trials do not match is refused with
the file and the differences (:class:`ResponseMismatchError`), and a malformed file is refused
naming its path and line (:class:`ResponseFileError`). Correctness is recomputed from the manifest
(``response == impossible_side``) and must equal the file's ``correct`` column.

Numbers (SPEC section 6; the paper: 149 trials, 9 observers, mean accuracy 81.36 % (71.81 -
88.59 %, sd 6.29 %), worst observer p = 5e-8, mean kappa 0.5874 (0.4053 - 0.7527, sd 0.08783)):

- per observer: trials N, number right k, accuracy k / N with its exact (Clopper-Pearson) 95 %
  interval, the one-sided binomial p-value against chance, ``P(X >= k)`` for X ~ Binomial(N, 1/2)
  (``scipy.stats.binom.sf(k - 1, N, 0.5)``; 107 of 149 gives 5.0e-8, the paper's worst observer),
  and the median response time;
- over observers: mean, min, max and sd (ddof 1) of the accuracies, and the largest p-value;
- error consistency: Cohen's kappa between every two observers' per-trial correctness
  (:func:`ddd.analysis.kappa.kappa_matrix`), with mean, min, max and sd (ddof 1) over the distinct
  pairs (undefined kappas, both observers 100 % right, are left out and counted).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re

import numpy as np
import pandas as pd
from scipy import stats

from ddd.analysis.kappa import kappa_matrix
from ddd.psychophysics.stimuli import SIDES, read_manifest

__all__ = ["RESPONSE_COLUMNS", "OBSERVER_RE", "SESSION_RE", "ResponseFileError", "ResponseMismatchError",
           "read_responses", "response_matrix", "summarize_observers", "analyse", "plot_observers",
           "PAPER", "response_files"]

#: Columns of a response file, in this order (extra columns are allowed and ignored).
RESPONSE_COLUMNS = ("study", "observer", "session", "trial", "pair", "practice", "left_id", "right_id",
                    "impossible_side", "response", "correct", "rt_ms", "timestamp")
OBSERVER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
SESSION_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_BOOL = {"1": True, "true": True, "True": True, "TRUE": True, "0": False, "false": False, "False": False,
         "FALSE": False}
MAX_RT_MS = 3_600_000.0
#: The paper's numbers (section 3.4 and footnote 4), for the summary table.
PAPER = {"n_observers": 9, "n_trials": 149, "accuracy_mean": 0.8136, "accuracy_min": 0.7181,
         "accuracy_max": 0.8859, "accuracy_sd": 0.0629, "p_value_max": 5e-8, "kappa_mean": 0.5874,
         "kappa_min": 0.4053, "kappa_max": 0.7527, "kappa_sd": 0.08783}


class ResponseFileError(ValueError):
    """A response file that cannot be read: the message starts with ``<path>, line <n>:``."""


class ResponseMismatchError(ValueError):
    """An observer whose trials do not match the manifest (missing, extra, repeated or changed pairs)."""


def _err(path, line: int, what: str) -> ResponseFileError:
    return ResponseFileError(f"{path}, line {line}: {what}")


def _parse_row(path, line: int, rec: dict) -> dict:
    out = {}
    for key in ("observer", "session"):
        rx = OBSERVER_RE if key == "observer" else SESSION_RE
        if not rx.match(rec[key]):
            raise _err(path, line, f"{key} {rec[key]!r} is not an id (letters, digits, _ and -, at most 64)")
        out[key] = rec[key]
    try:
        out["trial"] = int(rec["trial"])
    except ValueError:
        raise _err(path, line, f"trial {rec['trial']!r} is not an integer") from None
    if out["trial"] < 1:
        raise _err(path, line, f"trial must be >= 1, got {out['trial']}")
    if not rec["pair"]:
        raise _err(path, line, "pair is empty")
    out["pair"] = rec["pair"]
    for key in ("practice", "correct"):
        if rec[key] not in _BOOL:
            raise _err(path, line, f"{key} must be 1/0 or true/false, got {rec[key]!r}")
        out[key] = _BOOL[rec[key]]
    for key in ("impossible_side", "response"):
        if rec[key] not in SIDES:
            raise _err(path, line, f"{key} must be left or right, got {rec[key]!r}")
        out[key] = rec[key]
    try:
        rt = float(rec["rt_ms"])
    except ValueError:
        raise _err(path, line, f"rt_ms {rec['rt_ms']!r} is not a number") from None
    if not math.isfinite(rt) or not 0 <= rt <= MAX_RT_MS:
        raise _err(path, line, f"rt_ms must lie in [0, {MAX_RT_MS:.0f}], got {rec['rt_ms']!r}")
    out["rt_ms"] = rt
    if out["correct"] != (out["response"] == out["impossible_side"]):
        raise _err(path, line, f"correct={rec['correct']} contradicts response={out['response']} with the "
                               f"impossible image on the {out['impossible_side']}")
    for key in ("study", "left_id", "right_id", "timestamp"):
        out[key] = rec[key]
    if not out["left_id"] or not out["right_id"]:
        raise _err(path, line, "left_id and right_id must not be empty")
    return out


def read_responses(path) -> pd.DataFrame:
    """Read and check one response file.

    Returns
    -------
    DataFrame, one row per trial: :data:`RESPONSE_COLUMNS` (``trial`` int, ``practice`` and
    ``correct`` bool, ``rt_ms`` float, the rest str) plus ``file`` and ``line`` (1-based line of
    the row in the file).

    Raises
    ------
    ResponseFileError ``"<path>, line <n>: <what>"`` for anything malformed: not UTF-8, a CSV
    syntax error, missing columns, a row with another number of fields than the header, a value
    of the wrong kind, ``correct`` contradicting the response, or no trial at all.
    """
    path = os.fspath(path)
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise _err(path, raw[:err.start].count(b"\n") + 1, f"not UTF-8 text ({err.reason})") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = []
    try:
        header = next(reader, None)
        if header is None:
            raise _err(path, 1, "the file is empty (a header line with the columns "
                                f"{', '.join(RESPONSE_COLUMNS)} is needed)")
        header = [h.strip() for h in header]
        missing = [c for c in RESPONSE_COLUMNS if c not in header]
        if missing:
            raise _err(path, 1, f"missing columns {missing} (the header must name {', '.join(RESPONSE_COLUMNS)})")
        if len(set(header)) != len(header):
            raise _err(path, 1, "repeated column names in the header")
        for fields in reader:
            line = reader.line_num
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # blank line
            if len(fields) != len(header):
                raise _err(path, line, f"{len(fields)} fields, but the header has {len(header)}")
            rec = _parse_row(path, line, dict(zip(header, (f.strip() for f in fields))))
            rec.update(file=path, line=line)
            rows.append(rec)
    except csv.Error as err:
        raise _err(path, reader.line_num, f"CSV syntax error: {err}") from None
    if not rows:
        raise _err(path, 2, "no trials (only a header)")
    return pd.DataFrame(rows, columns=[*RESPONSE_COLUMNS, "file", "line"])


def response_files(folder) -> list[str]:
    """The ``*.csv`` files directly in ``folder``, sorted (hidden files left out)."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"responses folder {folder} does not exist")
    return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                  if f.lower().endswith(".csv") and not f.startswith(".") and os.path.isfile(os.path.join(folder, f)))


def _show(items, k: int = 5) -> str:
    items = list(items)
    return ", ".join(map(str, items[:k])) + (f" (and {len(items) - k} more)" if len(items) > k else "")


def _check_observer(obs: str, df: pd.DataFrame, manifest: pd.DataFrame, manifest_path: str) -> pd.DataFrame:
    """The observer's main trials in manifest order, or :class:`ResponseMismatchError`."""
    files = _show(sorted(set(df["file"])))
    by_pair = manifest.set_index("pair")
    problems = []
    unknown = df.loc[~df["pair"].isin(by_pair.index), ["pair", "line"]]
    if len(unknown):
        problems.append(f"pairs not in the manifest: {_show(f'{p} (line {n})' for p, n in unknown.itertuples(index=False))}")
    known = df[df["pair"].isin(by_pair.index)]
    ref = by_pair.loc[known["pair"]]
    for col in ("practice", "left_id", "right_id", "impossible_side"):
        bad = known[known[col].to_numpy() != ref[col].to_numpy()]
        if len(bad):
            problems.append(f"{col} differs from the manifest for pairs "
                            f"{_show(f'{p} (line {n})' for p, n in bad[['pair', 'line']].itertuples(index=False))}")
    main = known[~known["practice"]]
    dup = main[main["pair"].duplicated(keep=False)]
    if len(dup):
        sessions = sorted(set(dup["session"]))
        problems.append(f"main pairs answered more than once: {_show(sorted(set(dup['pair']), key=_pair_key))}"
                        f" (sessions {_show(sessions)}; keep one session per observer)")
    expected = manifest.loc[~manifest["practice"], "pair"]
    missing = sorted(set(expected) - set(main["pair"]), key=_pair_key)
    if missing:
        problems.append(f"{len(missing)} of {len(expected)} main pairs missing: {_show(missing)}")
    if problems:
        raise ResponseMismatchError(
            f"observer {obs!r} ({files}): the trials do not match the manifest {manifest_path}: "
            + "; ".join(problems) + ". Complete or remove this observer's file (every main pair exactly once).")
    return main.set_index("pair").loc[expected.to_numpy()].reset_index()


def _pair_key(p: str):
    return (0, int(p)) if p.isdigit() else (1, p)


def response_matrix(files, manifest_csv) -> tuple[np.ndarray, np.ndarray, list[str], list[str], list[str]]:
    """Main-trial correctness of every observer, aligned with the manifest.

    Parameters
    ----------
    files : response CSV paths (each :func:`read_responses`); an observer's trials must all be in
        one file (the same observer in two files is refused: keep either the server's file or
        the page's export).
    manifest_csv : the experiment's ``manifest.csv``.

    Returns
    -------
    correct : bool (M, N), observers (sorted by id) x main pairs (manifest order)
    rt_ms : float64 (M, N), response times
    observers : M ids; files : M paths (the file of each observer); pairs : N main pair ids
    """
    files = [os.fspath(f) for f in files]
    if not files:
        raise ValueError("no response files")
    manifest = read_manifest(manifest_csv)
    frames = [read_responses(f) for f in files]
    where: dict[str, str] = {}
    for df in frames:
        for obs in dict.fromkeys(df["observer"]):
            if obs in where:
                raise ResponseMismatchError(
                    f"observer {obs!r} appears in {where[obs]} and in {df['file'].iloc[0]}: keep one file per "
                    "observer (the collection server's file or the page's export, not both)")
            where[obs] = df["file"].iloc[0]
    data = pd.concat(frames, ignore_index=True)
    observers = sorted(where)
    rows = [_check_observer(o, data[data["observer"] == o], manifest, os.fspath(manifest_csv)) for o in observers]
    pairs = manifest.loc[~manifest["practice"], "pair"].tolist()
    correct = np.array([r["correct"].to_numpy(bool) for r in rows]).reshape(len(rows), len(pairs))
    rt = np.array([r["rt_ms"].to_numpy(float) for r in rows]).reshape(len(rows), len(pairs))
    return correct, rt, observers, [where[o] for o in observers], pairs


def _sd(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.std(x, ddof=1)) if x.size > 1 else float("nan")


def summarize_observers(correct, *, observers=None, rt_ms=None, chance: float = 0.5, undefined: str = "nan",
                        ci: float = 0.95) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """Accuracy, binomial p-values and error consistency of observers (module docstring).

    Parameters
    ----------
    correct : bool (M, N), observers x main trials (M >= 1).
    observers : M unique names (default ``"1".."M"``).
    rt_ms : optional float (M, N) response times (for the median per observer).
    chance : accuracy of guessing (1/2 in two-alternative forced choice).
    undefined : kappa where undefined (:func:`ddd.analysis.kappa.kappa_from_rates`).
    ci : level of the exact (Clopper-Pearson) interval of each accuracy.

    Returns
    -------
    table : one row per observer: observer, n_trials, n_correct, accuracy, ci_low, ci_high,
        p_value, median_rt_ms.
    summary : dict: n_observers, n_trials, accuracy_mean/min/max/sd, p_value_max and its observer,
        kappa_mean/min/max/sd over distinct pairs, n_kappa_pairs, n_kappa_undefined.
    kappa : DataFrame (M, M) indexed and labelled by observer (diagonal 1 where defined).
    """
    c = np.asarray(correct)
    if c.ndim != 2 or c.shape[0] < 1 or c.shape[1] < 1:
        raise ValueError(f"correct must be a non-empty 2-D (observers, trials) array, got shape {c.shape}")
    if c.dtype != bool:
        if not np.isin(c, (0, 1)).all():
            raise ValueError("correct must be boolean or 0/1")
        c = c.astype(bool)
    m, n = c.shape
    names = [str(o) for o in (observers if observers is not None else range(1, m + 1))]
    if len(names) != m or len(set(names)) != m:
        raise ValueError(f"observers must be {m} unique names, got {names}")
    if not 0 < chance < 1 or not 0 < ci < 1:
        raise ValueError(f"chance and ci must lie in (0, 1), got {chance}, {ci}")
    k = c.sum(axis=1)
    acc = k / n
    p = stats.binom.sf(k - 1, n, chance)
    alpha = 1 - ci
    lo = np.where(k > 0, stats.beta.ppf(alpha / 2, k, n - k + 1), 0.0)
    hi = np.where(k < n, stats.beta.ppf(1 - alpha / 2, k + 1, n - k), 1.0)
    rt = np.full(m, np.nan) if rt_ms is None else np.median(np.asarray(rt_ms, float).reshape(m, n), axis=1)
    table = pd.DataFrame({"observer": names, "n_trials": n, "n_correct": k.astype(int), "accuracy": acc,
                          "ci_low": lo, "ci_high": hi, "p_value": p, "median_rt_ms": rt})
    kap = kappa_matrix(c, undefined=undefined) if m >= 1 else np.zeros((0, 0))
    iu = np.triu_indices(m, k=1)
    pair_k = kap[iu]
    finite = pair_k[np.isfinite(pair_k)]
    worst = int(np.argmax(p))
    summary = {
        "n_observers": m, "n_trials": n, "chance": chance,
        "accuracy_mean": float(acc.mean()), "accuracy_min": float(acc.min()), "accuracy_max": float(acc.max()),
        "accuracy_sd": _sd(acc),
        "p_value_max": float(p[worst]), "p_value_max_observer": names[worst],
        "kappa_mean": float(finite.mean()) if finite.size else float("nan"),
        "kappa_min": float(finite.min()) if finite.size else float("nan"),
        "kappa_max": float(finite.max()) if finite.size else float("nan"),
        "kappa_sd": _sd(finite),
        "n_kappa_pairs": int(pair_k.size), "n_kappa_undefined": int(pair_k.size - finite.size),
        "undefined_kappa": undefined,
    }
    return table, summary, pd.DataFrame(kap, index=names, columns=names)


_SUMMARY_ROWS = (  # key, quantity, kind
    ("n_observers", "observers", "n"), ("n_trials", "main trials per observer", "n"),
    ("accuracy_mean", "accuracy, mean over observers", "pct"), ("accuracy_min", "accuracy, lowest", "pct"),
    ("accuracy_max", "accuracy, highest", "pct"), ("accuracy_sd", "accuracy, sd over observers (ddof 1)", "pct"),
    ("p_value_max", "largest one-sided binomial p against chance (worst observer)", "p"),
    ("kappa_mean", "error consistency between observers, mean over pairs", "k"),
    ("kappa_min", "error consistency, lowest pair", "k"), ("kappa_max", "error consistency, highest pair", "k"),
    ("kappa_sd", "error consistency, sd over pairs (ddof 1)", "k"),
)


def _fmt(kind: str, v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return {"n": lambda x: f"{int(x):,}", "pct": lambda x: f"{100 * x:.2f} %", "p": lambda x: f"{x:.2g}",
            "k": lambda x: f"{x:.4f}"}[kind](v)


def _md(s) -> str:
    return str(s).replace("|", r"\|").replace("\n", " ")


def _write_tables(table: pd.DataFrame, summary: dict, kappa: pd.DataFrame, files: list[str], *, summary_csv,
                  summary_md, observers_csv, observers_md, kappa_csv, study: str) -> None:
    for p in (summary_csv, summary_md, observers_csv, observers_md, kappa_csv):
        os.makedirs(os.path.dirname(os.path.abspath(p)), exist_ok=True)
    rows = [{"key": k, "quantity": q, "value": summary[k], "paper": PAPER.get(k)} for k, q, _ in _SUMMARY_ROWS]
    pd.DataFrame(rows, dtype=object).to_csv(summary_csv, index=False)  # counts stay integers
    lines = [f"# {study}: psychophysics" if study else "# Psychophysics", "",
             "| Quantity | Value | Paper |", "|:---|---:|---:|"]
    lines += [f"| {_md(q)} | {_fmt(kind, summary[k])} | {_fmt(kind, PAPER.get(k))} |" for k, q, kind in _SUMMARY_ROWS]
    if summary["n_kappa_undefined"]:
        lines += ["", f"{summary['n_kappa_undefined']} of {summary['n_kappa_pairs']} observer pairs have an undefined "
                      "kappa (both 100 % right) and are left out of the kappa numbers."]
    with open(summary_md, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    table.assign(file=[os.path.basename(f) for f in files]).to_csv(observers_csv, index=False)
    lines = ["| Observer | Right | Accuracy | 95 % CI | p (one-sided, vs 50 %) | Median RT |",
             "|:---|---:|---:|:---|---:|---:|"]
    for r in table.itertuples():
        lines.append(f"| {_md(r.observer)} | {r.n_correct} / {r.n_trials} | {100 * r.accuracy:.2f} % | "
                     f"{100 * r.ci_low:.1f} – {100 * r.ci_high:.1f} % | {r.p_value:.2g} | "
                     + (f"{r.median_rt_ms:.0f} ms |" if np.isfinite(r.median_rt_ms) else "– |"))
    with open(observers_md, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    kappa.to_csv(kappa_csv, index_label="observer", na_rep="NaN", float_format="%.6f")


def _sci(p: float) -> str:
    """``0.00000005`` -> ``5.0 × 10⁻⁸`` (small p-values), else 2 significant digits."""
    if not np.isfinite(p) or p >= 1e-3:
        return f"{p:.2g}"
    mant, exp = f"{p:.1e}".split("e")
    sup = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
    return f"{mant} × 10{str(int(exp)).translate(sup)}"


def plot_observers(table: pd.DataFrame, kappa: pd.DataFrame, summary: dict, *, title: str | None = None):
    """Accuracy per observer (exact 95 % intervals, chance and mean lines) and, with two observers
    or more, the kappa matrix between them (values written in the cells up to 16 observers).

    ``table``, ``summary``, ``kappa``: the outputs of :func:`summarize_observers`. Returns a Figure.
    """
    import matplotlib.pyplot as plt

    from ddd.report import style as _style
    m = len(table)
    with _style.style():
        if m >= 2:
            fig, (ax, bx) = plt.subplots(1, 2, figsize=(12.0, 5.2), layout="constrained",
                                         gridspec_kw={"width_ratios": [1.15, 1]})
        else:
            fig, ax = plt.subplots(figsize=(6.5, 5.2), layout="constrained")
        order = np.argsort(table["accuracy"].to_numpy(), kind="stable")
        t = table.iloc[order]
        x = np.arange(m)
        acc = 100 * t["accuracy"].to_numpy()
        err = np.vstack([acc - 100 * t["ci_low"].to_numpy(), 100 * t["ci_high"].to_numpy() - acc])
        ax.errorbar(x, acc, yerr=err, fmt="o", color=_style.COLORS["observed"], ecolor="0.55", capsize=3,
                    markersize=7, label="observer (exact 95 % CI)")
        ax.axhline(100 * summary["chance"], color=_style.COLORS["zero_line"], lw=1, ls=":", label="chance")
        ax.axhline(100 * summary["accuracy_mean"], color="black", lw=1.2, ls="--",
                   label=f"mean {100 * summary['accuracy_mean']:.1f} %")
        rotate = m > 6
        ax.set_xticks(x, t["observer"], rotation=45 if rotate else 0, ha="right" if rotate else "center")
        ax.set_xlim(-0.6, m - 0.4)
        ax.set_ylim(0, 100)
        ax.set_ylabel("accuracy (%): picked the impossible image")
        ax.set_xlabel("observer (sorted by accuracy)")
        ax.set_title(f"Accuracy, {summary['n_trials']} trials (largest p = {_sci(summary['p_value_max'])})")
        ax.legend(loc="lower right")
        if m >= 2:
            names = list(kappa.index)
            k = kappa.to_numpy(dtype=float)
            shown = np.where(np.eye(m, dtype=bool), np.nan, k)
            vmin = min(0.0, float(np.nanmin(shown))) if np.isfinite(shown).any() else 0.0
            im = bx.imshow(shown, cmap=_style.CMAPS["kappa_matrix"], vmin=vmin, vmax=1.0)
            bx.set_xticks(range(m), names, rotation=45 if rotate else 0, ha="right" if rotate else "center")
            bx.set_yticks(range(m), names)
            bx.tick_params(length=0)
            if m <= 16:
                for i in range(m):
                    for j in range(m):
                        if i != j:
                            v = shown[i, j]
                            bx.text(j, i, "–" if not np.isfinite(v) else f"{v:.2f}", ha="center", va="center",
                                    fontsize=9 if m <= 10 else 7,
                                    color="white" if np.isfinite(v) and v > 0.6 else "black")
            fig.colorbar(im, ax=bx, shrink=0.8, label="κ")
            bx.set_title(f"Error consistency: mean κ {summary['kappa_mean']:.3f} "
                         f"(range {summary['kappa_min']:.3f} – {summary['kappa_max']:.3f})")
            for sp in bx.spines.values():
                sp.set_visible(False)
        if title:
            fig.suptitle(title)
        if m < 2:
            _style.note(fig, "Error consistency between observers needs at least two observers.")
    return fig


def analyse(files, manifest_csv, *, summary_csv, summary_md, observers_csv, observers_md, kappa_csv, png, pdf,
            study: str = "", undefined: str = "nan") -> dict:
    """The whole analysis: read and check the response files, write tables and the figure.

    Parameters
    ----------
    files : response CSV paths (or one folder: its ``*.csv``).
    manifest_csv : the experiment's ``manifest.csv``.
    summary_csv, summary_md : the headline numbers beside the paper's (:data:`PAPER`).
    observers_csv, observers_md : one row per observer (:func:`summarize_observers`) and its file.
    kappa_csv : the kappa matrix between observers.
    png, pdf : the figure (:func:`plot_observers`).
    study : named in titles; undefined : kappa where undefined.

    Returns
    -------
    The summary dict (:func:`summarize_observers`) with the observers' files.
    """
    if isinstance(files, (str, os.PathLike)) and os.path.isdir(files):
        files = response_files(files)
    correct, rt, observers, obs_files, _ = response_matrix(list(files), manifest_csv)
    table, summary, kappa = summarize_observers(correct, observers=observers, rt_ms=rt, undefined=undefined)
    _write_tables(table, summary, kappa, obs_files, summary_csv=summary_csv, summary_md=summary_md,
                  observers_csv=observers_csv, observers_md=observers_md, kappa_csv=kappa_csv, study=study)
    from ddd.report import style as _style
    fig = plot_observers(table, kappa, summary, title=f"{study}: which image is harder for the networks?" if study
                         else None)
    _style.save(fig, png, pdf)
    summary["files"] = dict(zip(observers, obs_files))
    return json.loads(json.dumps(summary, default=float))
