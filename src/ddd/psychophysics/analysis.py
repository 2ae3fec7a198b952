"""Analysis of the psychophysical experiment: accuracy per observer and error consistency between them.

Input: a folder of response files (:mod:`ddd.psychophysics.responses`: the page's export or the
collection server's per-observer file) and the experiment's ``manifest.csv``
(:func:`ddd.psychophysics.site.read_manifest`). Practice trials are left out. Every observer must
have answered every main pair of the manifest exactly once, with the manifest's images on the
manifest's sides; an observer whose trials do not match is refused with the file and the
differences (:class:`ResponseMismatchError`), and a malformed file is refused naming its path and
line (:class:`ddd.psychophysics.responses.ResponseFileError`). Correctness must equal
``response == impossible_side`` on every line, with the manifest's impossible side, and the
settings in force on every line (practice included), ``stimulus_ms`` and ``max_response_ms``, must
be the manifest's (:func:`ddd.psychophysics.site.manifest_timing`; a file of the previous header
counts as none and none): a file collected under other settings is refused naming file and line.
A pair answered after timing out has ``timeouts`` > 0 on its line (it was shown again at the end
of its block); it is analysed like any other answer.

Numbers (``docs/reproduction.md#psychophysics``; the paper: 149 trials, 9 observers, mean accuracy
81.36 % (71.81 - 88.59 %, sd 6.29 %), worst observer p = 5e-8, mean kappa 0.5874 (0.4053 -
0.7527, sd 0.08783)):

- per observer: trials N, number right k, accuracy k / N with its exact (Clopper-Pearson) 95 %
  interval, the one-sided binomial p-value against chance, ``P(X >= k)`` for X ~ Binomial(N, 1/2)
  (``scipy.stats.binom.sf(k - 1, N, 0.5)``; 107 of 149 gives 5.0e-8, the paper's worst observer),
  and the median response time;
- over observers: mean, min, max and sd (ddof 1) of the accuracies, and the largest p-value;
- error consistency: Cohen's kappa between every two observers' per-trial correctness
  (:func:`ddd.analysis.kappa.kappa_matrix`), with mean, min, max and sd (ddof 1) over the distinct
  pairs (undefined kappas, both observers 100 % right, are left out and counted);
- what the experiment can resolve (:func:`plan_power`, :func:`ddd.analysis.power.power_table`):
  with its main trials per observer (149 in the paper) and both observers at the mean accuracy,
  for κ = 0, 0.2, 0.4, 0.6 and the observed mean κ, the 95 % interval half-width of one pair's κ
  (normal approximation, and by seeded simulation of the copy model), the smallest increase of κ
  detectable with 80 % power at level 0.05 (two-sided Wald test) for one pair against a fixed value
  and between two independent pairs, and the trials needed for half-widths 0.1 and 0.05.

The tables and the figure are drawn by :mod:`ddd.psychophysics.report`.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
from scipy import stats

from ddd.analysis.kappa import kappa_matrix
from ddd.analysis.power import power_table
from ddd.psychophysics.responses import read_responses, response_files
from ddd.psychophysics.site import manifest_timing, read_manifest

__all__ = ["ResponseMismatchError", "response_matrix", "summarize_observers", "plan_power", "analyse"]

#: The κ's the power table plans for (the observed mean κ is added as a last row).
POWER_KAPPAS = (0.0, 0.2, 0.4, 0.6)


class ResponseMismatchError(ValueError):
    """An observer whose trials do not match the manifest (missing, extra, repeated or changed pairs)."""


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
    timing = manifest_timing(manifest)
    for col in ("stimulus_ms", "max_response_ms"):  # the settings in force (NaN: none)
        want = np.nan if timing[col] is None else float(timing[col])
        have = df[col].to_numpy(float)
        bad = df[~((have == want) | (np.isnan(have) & np.isnan(want)))]
        if len(bad):
            problems.append(f"{col} differs from the manifest's "
                            f"{'none' if timing[col] is None else timing[col]} on "
                            + "; ".join(f"{f}, line{'s' if len(g) > 1 else ''} {_show(g['line'])}"
                                        for f, g in bad.groupby("file", sort=True))
                            +
                            " (a file collected with other settings, or written before the settings were recorded)")
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


def _correct_matrix(correct) -> np.ndarray:
    """``correct`` as a non-empty bool (observers, trials) array, or ValueError."""
    c = np.asarray(correct)
    if c.ndim != 2 or c.shape[0] < 1 or c.shape[1] < 1:
        raise ValueError(f"correct must be a non-empty 2-D (observers, trials) array, got shape {c.shape}")
    if c.dtype != bool:
        if not np.isin(c, (0, 1)).all():
            raise ValueError("correct must be boolean or 0/1")
        c = c.astype(bool)
    return c


def _accuracy_table(c: np.ndarray, names: list[str], rt_ms, chance: float, ci: float) -> pd.DataFrame:
    """One row per observer: trials, right, accuracy, exact interval, binomial p, median RT."""
    m, n = c.shape
    k = c.sum(axis=1)
    acc = k / n
    p = stats.binom.sf(k - 1, n, chance)
    alpha = 1 - ci
    lo = np.where(k > 0, stats.beta.ppf(alpha / 2, k, n - k + 1), 0.0)
    hi = np.where(k < n, stats.beta.ppf(1 - alpha / 2, k + 1, n - k), 1.0)
    rt = np.full(m, np.nan) if rt_ms is None else np.median(np.asarray(rt_ms, float).reshape(m, n), axis=1)
    return pd.DataFrame({"observer": names, "n_trials": n, "n_correct": k.astype(int), "accuracy": acc,
                         "ci_low": lo, "ci_high": hi, "p_value": p, "median_rt_ms": rt})


def _kappa_summary(kap: np.ndarray) -> dict:
    """Mean, min, max and sd of the kappas of the distinct pairs of observers (undefined ones counted)."""
    pair_k = kap[np.triu_indices(kap.shape[0], k=1)]
    finite = pair_k[np.isfinite(pair_k)]
    return {
        "kappa_mean": float(finite.mean()) if finite.size else float("nan"),
        "kappa_min": float(finite.min()) if finite.size else float("nan"),
        "kappa_max": float(finite.max()) if finite.size else float("nan"),
        "kappa_sd": _sd(finite),
        "n_kappa_pairs": int(pair_k.size), "n_kappa_undefined": int(pair_k.size - finite.size),
    }


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
    c = _correct_matrix(correct)
    m, n = c.shape
    names = [str(o) for o in (observers if observers is not None else range(1, m + 1))]
    if len(names) != m or len(set(names)) != m:
        raise ValueError(f"observers must be {m} unique names, got {names}")
    if not 0 < chance < 1 or not 0 < ci < 1:
        raise ValueError(f"chance and ci must lie in (0, 1), got {chance}, {ci}")
    table = _accuracy_table(c, names, rt_ms, chance, ci)
    acc, p = table["accuracy"].to_numpy(), table["p_value"].to_numpy()
    kap = kappa_matrix(c, undefined=undefined)
    worst = int(np.argmax(p))
    summary = {
        "n_observers": m, "n_trials": n, "chance": chance,
        "accuracy_mean": float(acc.mean()), "accuracy_min": float(acc.min()), "accuracy_max": float(acc.max()),
        "accuracy_sd": _sd(acc),
        "p_value_max": float(p[worst]), "p_value_max_observer": names[worst],
        **_kappa_summary(kap),
        "undefined_kappa": undefined,
    }
    return table, summary, pd.DataFrame(kap, index=names, columns=names)


def plan_power(summary: dict, *, kappas=POWER_KAPPAS, ci: float = 0.95, power: float = 0.8, alpha: float = 0.05,
               half_widths=(0.1, 0.05), n_sim: int = 2000, seed=0) -> pd.DataFrame:
    """What the experiment's trials can and cannot resolve (module docstring).

    Parameters
    ----------
    summary : :func:`summarize_observers`'s summary: its ``n_trials`` (main trials per observer),
        ``accuracy_mean`` (both observers of a pair planned at it) and ``kappa_mean`` (added as a
        last row when finite).
    kappas, ci, power, alpha, half_widths, n_sim, seed : :func:`ddd.analysis.power.power_table`.

    Returns
    -------
    DataFrame, one row per κ: ``row`` ("planned" or "observed mean"), then the columns of
    :func:`ddd.analysis.power.power_table`. When the mean accuracy is 0 or 1 (no copy model)
    every planning column is NaN.
    """
    n, acc, k_obs = int(summary["n_trials"]), float(summary["accuracy_mean"]), summary.get("kappa_mean")
    ks = [float(k) for k in kappas]
    labels = ["planned"] * len(ks)
    if k_obs is not None and np.isfinite(k_obs):
        ks.append(float(k_obs))
        labels.append("observed mean")
    if 0 < acc < 1:
        table = power_table(n, p_a=acc, p_b=acc, kappas=ks, ci=ci, power=power, alpha=alpha,
                            half_widths=half_widths, n_sim=n_sim, seed=seed)
    else:
        table = pd.DataFrame({"kappa": ks, "n": n, "p_a": acc, "p_b": acc})
        for col in ("kappa_min", "kappa_max", "copy", "se", "half_width", "half_width_simulated", "delta_one_pair",
                    "delta_two_pairs", *(f"trials_for_half_width_{h:g}" for h in half_widths)):
            table[col] = np.nan
    table.insert(0, "row", labels)
    table.attrs.update(ci=ci, power=power, alpha=alpha, n_sim=n_sim, seed=seed)
    return table


def analyse(files, manifest_csv, *, summary_csv, summary_md, observers_csv, observers_md, kappa_csv, png, pdf,
            power_csv=None, power_md=None, summary_html=None, observers_html=None, power_html=None,
            study: str = "", undefined: str = "nan") -> dict:
    """The whole analysis: read and check the response files, write tables and the figure.

    Parameters
    ----------
    files : response CSV paths (or one folder: its ``*.csv``).
    manifest_csv : the experiment's ``manifest.csv``.
    summary_csv, summary_md : the headline numbers beside the paper's
        (:data:`ddd.psychophysics.report.PAPER`).
    observers_csv, observers_md : one row per observer (:func:`summarize_observers`) and its file.
    kappa_csv : the kappa matrix between observers.
    png, pdf : the figure (:func:`ddd.psychophysics.report.plot_observers`).
    power_csv, power_md : what the trials can resolve (:func:`plan_power`); not written when None.
    summary_html, observers_html, power_html : the Markdown tables as HTML pages (shown inline by
        the workflow report); each not written when None.
    study : named in titles; undefined : kappa where undefined.

    Returns
    -------
    The summary dict (:func:`summarize_observers`) with the observers' files.
    """
    if isinstance(files, (str, os.PathLike)) and os.path.isdir(files):
        files = response_files(files)
    correct, rt, observers, obs_files, _ = response_matrix(list(files), manifest_csv)
    table, summary, kappa = summarize_observers(correct, observers=observers, rt_ms=rt, undefined=undefined)
    from ddd.psychophysics.report import write_figure, write_power, write_tables  # matplotlib only when drawing
    write_tables(table, summary, kappa, obs_files, summary_csv=summary_csv, summary_md=summary_md,
                 observers_csv=observers_csv, observers_md=observers_md, kappa_csv=kappa_csv, study=study)
    if power_csv is not None or power_md is not None:
        if power_csv is None or power_md is None:
            raise ValueError("give both power_csv and power_md (or neither)")
        write_power(plan_power(summary), power_csv=power_csv, power_md=power_md, study=study)
    write_figure(table, kappa, summary, png, pdf, study=study)
    from ddd.psychophysics.report import write_html
    for md, page, what in ((summary_md, summary_html, "summary"), (observers_md, observers_html, "observers"),
                           (power_md, power_html, "what the trials can resolve")):
        if page is not None:
            if md is None:
                raise ValueError(f"{page}: the HTML of a table needs its Markdown")
            write_html(md, page, title=f"{study}: psychophysics, {what}" if study else f"Psychophysics, {what}")
    summary["files"] = dict(zip(observers, obs_files))
    return json.loads(json.dumps(summary, default=float))
