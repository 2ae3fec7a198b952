"""The psychophysical experiment (issue 8): stimuli, analysis, collection server, config and rules.

The browser end to end is tests/test_psychophysics_browser.py.
"""
from __future__ import annotations

import csv
import http.client
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from scipy import stats

from ddd.config import ConfigError, resolve_config
from ddd.data.gaussian import GaussianSpec, gaussian_image
from ddd.psychophysics import analysis as A
from ddd.psychophysics import responses as R
from ddd.psychophysics import site as SITE
from ddd.psychophysics import stimuli as S
from ddd.psychophysics.server import MAX_BODY, RecordError, make_server
from ddd.results.study import StudyTableError, write_split

ROOT = Path(__file__).resolve().parents[1]
GAUSS = {"name": "gaussian", "kind": "gaussian", "n_classes": 5, "image_size": 8, "train_per_class": 4,
         "val_per_class": 10, "seed": 1312}


def synthetic_split(path: Path, n: int = 50) -> Path:
    """split.tsv of 50 images: 0-19 trivial, 20-39 impossible, the rest in between (strict);
    all_but_one adds 40-44 to trivial and 45-49 to impossible."""
    ids = np.arange(n)
    strict = np.where(ids < 20, "trivial", np.where(ids < 40, "impossible", "in_between"))
    abo = np.where(ids < 20, "trivial", np.where(ids < 40, "impossible",
                                                 np.where(ids < 45, "trivial", "impossible")))
    write_split(pd.DataFrame({"image_id": ids.astype(str), "target": ids // 10, "n_correct": 0, "strict": strict,
                              "all_but_one": abo}), path)
    return path


# ---------------------------------------------------------------------------------------------
# Stimuli


def test_choose_pairs_seeded_with_known_answers():
    ids = np.arange(40).astype(str)
    cats = np.where(np.arange(40) < 15, "trivial", np.where(np.arange(40) < 30, "impossible", "in_between"))
    m = S.choose_pairs(ids, cats, n_pairs=10, n_practice=2, seed=3)
    assert list(m["pair"]) == ["P1", "P2"] + [str(k) for k in range(1, 11)]
    assert list(m["practice"]) == [True] * 2 + [False] * 10
    trivial, impossible = set(map(str, range(15))), set(map(str, range(15, 30)))
    assert set(m["trivial_id"]) <= trivial and set(m["impossible_id"]) <= impossible
    assert len(set(m["trivial_id"]) | set(m["impossible_id"])) == 24  # no image twice
    for r in m.itertuples():  # the impossible image is on the recorded side, the trivial one opposite
        assert getattr(r, f"{r.impossible_side}_id") == r.impossible_id
        assert getattr(r, "left_id" if r.impossible_side == "right" else "right_id") == r.trivial_id
    main = m[~m["practice"]]
    assert (main["impossible_side"] == "left").sum() == 5  # balanced
    assert set(m.loc[m["practice"], "impossible_side"]) == {"left", "right"}
    again = S.choose_pairs(ids, cats, n_pairs=10, n_practice=2, seed=3)
    pd.testing.assert_frame_equal(m, again)
    assert not S.choose_pairs(ids, cats, n_pairs=10, n_practice=2, seed=4).equals(m)
    # the draw itself: default_rng(seed) chooses the trivial images first, then the impossible ones
    rng = np.random.default_rng(3)
    assert list(m["trivial_id"]) == list(rng.choice(ids[:15], 12, replace=False))
    assert list(m["impossible_id"]) == list(rng.choice(ids[15:30], 12, replace=False))


def test_choose_pairs_excludes_and_says_when_too_few():
    ids = np.arange(40).astype(str)
    cats = np.where(np.arange(40) < 15, "trivial", np.where(np.arange(40) < 30, "impossible", "in_between"))
    m = S.choose_pairs(ids, cats, n_pairs=12, n_practice=0, seed=0, exclude=["0", "1", "15", "not-an-id"])
    shown = set(m["left_id"]) | set(m["right_id"])
    assert not shown & {"0", "1", "15"} and len(shown) == 24
    with pytest.raises(ValueError, match=r"need 14 trivial and 14 impossible images, but the 'strict' split has "
                                         r"13 trivial and 15 impossible ones after excluding 2.*all_but_one"):
        S.choose_pairs(ids, cats, n_pairs=12, n_practice=2, exclude=["0", "1"], seed=0)
    with pytest.raises(ValueError, match="n_pairs"):
        S.choose_pairs(ids, cats, n_pairs=0)


def test_enlarge_repeats_pixels_by_a_whole_factor():
    img = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    big = S.enlarge(img)
    assert big.shape == (224, 224, 3)
    assert np.array_equal(big[::7, ::7], img) and np.array_equal(big[6::7, 6::7], img)
    assert S.enlarge(np.zeros((100, 80, 3), np.uint8)).shape == (200, 160, 3)
    assert S.enlarge(np.zeros((300, 300, 3), np.uint8)).shape == (300, 300, 3)


def test_write_stimuli_gaussian_site(tmp_path):
    split = synthetic_split(tmp_path / "split.tsv")
    issues = tmp_path / "issues.txt"
    issues.write_text("# known label errors\n0\n1  # two of them\n\n")
    out = tmp_path / "site"
    m = S.write_stimuli(split, GAUSS, out, study="tiny", n_pairs=8, n_practice=2, seed=5, label_issues=issues,
                        breaks_every=3)
    assert not {"0", "1"} & (set(m["left_id"]) | set(m["right_id"]))
    for name in ("index.html", "style.css", "experiment.js", "trials.js", "manifest.csv"):
        assert (out / name).stat().st_size > 0, name
    assert sorted(os.listdir(out / "images")) == sorted(f"{p}-{s}.png" for p in m["pair"] for s in "LR")
    spec = GaussianSpec(n_classes=5, image_size=8, train_per_class=4, val_per_class=10, seed=1312)
    for r in m.head(3).itertuples():
        for side in ("left", "right"):
            png = np.asarray(Image.open(out / getattr(r, f"{side}_image")))
            raw = np.transpose(gaussian_image(spec, "val", int(getattr(r, f"{side}_id"))), (1, 2, 0))
            assert png.shape == (224, 224, 3) and png.dtype == np.uint8
            assert np.array_equal(png, np.repeat(np.repeat(raw, 28, 0), 28, 1))  # un-normalised, no smoothing
    text = (out / "trials.js").read_text()
    exp = json.loads(text[text.index("{"):text.rindex("}") + 1])
    assert exp["study"] == "tiny" and exp["breaks_every"] == 3 and exp["n_main"] == 8 and exp["n_practice"] == 2
    assert exp["manifest"] == SITE.manifest_checksum(out / "manifest.csv") and exp["label_issues_excluded"] == 2
    assert [t["pair"] for t in exp["trials"]] == list(m["pair"])
    back = SITE.read_manifest(out / "manifest.csv")
    assert list(back["practice"]) == [True, True] + [False] * 8
    pd.testing.assert_frame_equal(back, m.astype({"practice": bool}), check_dtype=False)
    # the same seed gives the same experiment, byte for byte
    m2 = S.write_stimuli(split, GAUSS, tmp_path / "again", study="tiny", n_pairs=8, n_practice=2, seed=5,
                         label_issues=issues, breaks_every=3)
    assert (tmp_path / "again" / "manifest.csv").read_bytes() == (out / "manifest.csv").read_bytes()
    assert m2.equals(m)
    with pytest.raises(ValueError, match="'all_but_one'|rule"):
        S.write_stimuli(split, GAUSS, tmp_path / "x", study="tiny", rule="most")
    pd.read_csv(split, sep="\t").drop(columns="n_correct").to_csv(tmp_path / "bare.tsv", sep="\t", index=False)
    with pytest.raises(StudyTableError, match=r"bare\.tsv: missing columns \['n_correct'\]"):
        S.write_stimuli(tmp_path / "bare.tsv", GAUSS, tmp_path / "x", study="tiny")


def test_imagenet_view_and_cifar_enlargement(fake_imagenet, fake_cifar_pickle):
    ds = {"kind": "imagenet", "root": str(fake_imagenet)}
    img_id = sorted(f for f in os.listdir(fake_imagenet / "val" / "n01440764") if f.endswith(".JPEG"))[0]
    px = S.stimulus_image(ds, f"n01440764/{img_id}")
    assert px.shape == (224, 224, 3)  # Resize(256) + CenterCrop(224), not enlarged further
    from ddd.data.cifar import load_cifar100_pickle
    images, _, ids, _ = load_cifar100_pickle(fake_cifar_pickle, "val")
    px = S.stimulus_image({"kind": "cifar100", "root": str(fake_cifar_pickle)}, ids[3])
    assert px.shape == (224, 224, 3) and np.array_equal(px[::7, ::7], np.transpose(images[3], (1, 2, 0)))
    with pytest.raises(ValueError, match="no pixels"):
        S.stimulus_image({"kind": "imported"}, "x")


# ---------------------------------------------------------------------------------------------
# Analysis

#: Main-trial correctness of three observers on 10 pairs, chosen by hand.
PLAN = {"anna": [1, 1, 1, 1, 1, 1, 1, 1, 0, 0],   # 8 / 10
        "ben": [1, 1, 1, 1, 1, 1, 0, 0, 1, 1],    # 8 / 10
        "cleo": [1, 1, 1, 1, 1, 1, 1, 1, 1, 0]}   # 9 / 10


def tiny_manifest(path: Path, n_main: int = 10, n_practice: int = 2) -> pd.DataFrame:
    pairs = [f"P{k + 1}" for k in range(n_practice)] + [str(k + 1) for k in range(n_main)]
    sides = ["left" if k % 3 else "right" for k in range(len(pairs))]
    m = pd.DataFrame({"pair": pairs, "practice": [True] * n_practice + [False] * n_main,
                      "left_id": [f"n01/img,{k}.JPEG" for k in range(len(pairs))],  # a comma, quoted
                      "right_id": [f"n02/img{k}.JPEG" for k in range(len(pairs))], "impossible_side": sides})
    m["trivial_id"] = np.where(m["impossible_side"] == "left", m["right_id"], m["left_id"])
    m["impossible_id"] = np.where(m["impossible_side"] == "left", m["left_id"], m["right_id"])
    m["left_image"] = [f"images/{p}-L.png" for p in pairs]
    m["right_image"] = [f"images/{p}-R.png" for p in pairs]
    SITE.write_manifest(m, path)
    return SITE.read_manifest(path)


def write_responses(path: Path, manifest: pd.DataFrame, observer: str, correct, *, order=None, session="s1",
                    study="tiny", previous=False, settings=("", "", "0")) -> Path:
    """A response file; ``previous``: with the header written before the timing columns existed."""
    rows = []
    main = manifest[~manifest["practice"]].reset_index(drop=True)
    practice = manifest[manifest["practice"]].reset_index(drop=True)
    for k, r in practice.iterrows():
        rows.append((k + 1, r, True))
    for k, i in enumerate(order if order is not None else range(len(main))):
        rows.append((k + 1, main.iloc[i], bool(correct[i])))
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(R.PREVIOUS_COLUMNS if previous else R.RESPONSE_COLUMNS)
        for trial, r, ok in rows:
            other = "left" if r.impossible_side == "right" else "right"
            resp = r.impossible_side if ok else other
            w.writerow([study, observer, session, trial, r.pair, int(r.practice), r.left_id, r.right_id,
                        r.impossible_side, resp, int(ok), f"{500 + 10 * trial:.1f}", "2025-01-31T12:00:00.000Z",
                        *(() if previous else settings)])
    return path


def kappa_by_hand(a, b) -> float:
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    pa, pb = a.mean(), b.mean()
    c_obs = (a == b).mean()
    c_exp = pa * pb + (1 - pa) * (1 - pb)
    return (c_obs - c_exp) / (1 - c_exp)


def test_analysis_numbers_by_hand(tmp_path):
    manifest = tiny_manifest(tmp_path / "manifest.csv")
    folder = tmp_path / "responses"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for obs, plan in PLAN.items():  # each observer in another random order
        write_responses(folder / f"{obs}.csv", manifest, obs, plan, order=rng.permutation(10))
    out = {k: tmp_path / "out" / v for k, v in dict(
        summary_csv="s.csv", summary_md="s.md", observers_csv="o.csv", observers_md="o.md", kappa_csv="k.csv",
        png="f.png", pdf="f.pdf").items()}
    summary = A.analyse(folder, tmp_path / "manifest.csv", study="tiny", **out)
    obs = pd.read_csv(out["observers_csv"])
    assert list(obs["observer"]) == ["anna", "ben", "cleo"]
    assert list(obs["n_correct"]) == [8, 8, 9] and list(obs["n_trials"]) == [10] * 3
    np.testing.assert_allclose(obs["accuracy"], [0.8, 0.8, 0.9])
    # one-sided binomial: P(X >= 8 | 10, 1/2) = 56 / 1024, P(X >= 9) = 11 / 1024
    np.testing.assert_allclose(obs["p_value"], [56 / 1024, 56 / 1024, 11 / 1024])
    np.testing.assert_allclose(obs["p_value"], stats.binom.sf(np.array([8, 8, 9]) - 1, 10, 0.5))
    lo, hi = stats.beta.ppf(0.025, 8, 3), stats.beta.ppf(0.975, 9, 2)  # Clopper-Pearson for 8 / 10
    assert obs["ci_low"][0] == pytest.approx(lo) and obs["ci_high"][0] == pytest.approx(hi)
    assert summary["accuracy_mean"] == pytest.approx(25 / 30)
    assert (summary["accuracy_min"], summary["accuracy_max"]) == pytest.approx((0.8, 0.9))
    assert summary["accuracy_sd"] == pytest.approx(np.std([0.8, 0.8, 0.9], ddof=1))
    assert summary["p_value_max"] == pytest.approx(56 / 1024)
    # kappa by hand: anna/ben agree on 6 of 10 (both 0.8): c_exp = 0.68, kappa = (0.6-0.68)/0.32 = -0.25;
    # anna/cleo agree on 9 (c_exp = 0.74): (0.9-0.74)/0.26 = 0.615...; ben/cleo on 7: (0.7-0.74)/0.26
    k_ab, k_ac, k_bc = -0.25, 0.16 / 0.26, -0.04 / 0.26
    assert kappa_by_hand(PLAN["anna"], PLAN["ben"]) == pytest.approx(k_ab)
    assert kappa_by_hand(PLAN["anna"], PLAN["cleo"]) == pytest.approx(k_ac)
    assert kappa_by_hand(PLAN["ben"], PLAN["cleo"]) == pytest.approx(k_bc)
    assert summary["kappa_mean"] == pytest.approx((k_ab + k_ac + k_bc) / 3)
    assert (summary["kappa_min"], summary["kappa_max"]) == pytest.approx((k_ab, k_ac))
    assert summary["kappa_sd"] == pytest.approx(np.std([k_ab, k_ac, k_bc], ddof=1))
    kap = pd.read_csv(out["kappa_csv"], index_col="observer")
    assert kap.loc["anna", "ben"] == pytest.approx(k_ab, abs=1e-6) and kap.loc["cleo", "cleo"] == 1
    table = pd.read_csv(out["summary_csv"]).set_index("key")
    assert table.loc["kappa_mean", "value"] == pytest.approx(summary["kappa_mean"])
    assert table.loc["accuracy_mean", "paper"] == pytest.approx(0.8136)
    assert "83.33 %" in out["summary_md"].read_text() and "| anna | 8 / 10 | 80.00 %" in out["observers_md"].read_text()
    assert out["png"].stat().st_size > 10_000 and out["pdf"].stat().st_size > 5_000
    assert summary["files"]["ben"].endswith("ben.csv")


def test_paper_worst_observer_p_value():
    """107 of 149 right (71.81 %): p = 5.0e-8, the paper's footnote 4."""
    correct = np.zeros((2, 149), bool)
    correct[0, :107] = True
    correct[1, :132] = True
    table, summary, _ = A.summarize_observers(correct, observers=["a", "b"])
    assert summary["p_value_max"] == pytest.approx(5.0e-8, rel=0.01)
    assert table["accuracy"].round(4).tolist() == [0.7181, 0.8859]


def test_power_table_of_the_analysis(tmp_path):
    """The power table: the experiment's trials and mean accuracy, the planned kappas and the observed one."""
    from ddd.analysis.power import detectable_difference, half_width, trials_for_half_width
    manifest = tiny_manifest(tmp_path / "manifest.csv")
    folder = tmp_path / "responses"
    folder.mkdir()
    for obs, plan in PLAN.items():
        write_responses(folder / f"{obs}.csv", manifest, obs, plan)
    out = {k: tmp_path / "out" / v for k, v in dict(
        summary_csv="s.csv", summary_md="s.md", observers_csv="o.csv", observers_md="o.md", kappa_csv="k.csv",
        png="f.png", pdf="f.pdf", power_csv="p.csv", power_md="p.md", power_html="p.html", summary_html="s.html",
        observers_html="o.html").items()}
    summary = A.analyse(folder, tmp_path / "manifest.csv", study="tiny", **out)
    for key in ("power_html", "summary_html", "observers_html"):  # the tables as the report shows them
        assert "<table>" in out[key].read_text(), key
    assert "observed mean" in out["power_html"].read_text()
    t = pd.read_csv(out["power_csv"])
    assert list(t["row"]) == ["planned"] * 4 + ["observed mean"]
    np.testing.assert_allclose(t["kappa"], [0, 0.2, 0.4, 0.6, summary["kappa_mean"]], atol=1e-6)
    assert (t["n"] == 10).all() and np.allclose(t["p_a"], 25 / 30) and np.allclose(t["p_b"], 25 / 30)
    np.testing.assert_allclose(t["half_width"], half_width(10, kappa=t["kappa"], p_a=25 / 30, p_b=25 / 30), rtol=1e-5)
    assert t["half_width"][0] == pytest.approx(1.959964 / np.sqrt(10), rel=1e-5)  # kappa 0, equal accuracies
    assert list(t["trials_for_half_width_0.1"]) == list(trials_for_half_width(0.1, kappa=t["kappa"], p_a=25 / 30,
                                                                              p_b=25 / 30))
    # 10 trials resolve almost nothing: between two pairs only 0 against about 0.95, from 0.2 on no
    # difference up to kappa_max = 1 reaches 80 % power
    assert t["delta_two_pairs"][0] > 0.9 and t["delta_two_pairs"][1:].isna().all()
    assert np.isnan(detectable_difference(10, kappa=0.2, p_a=25 / 30, p_b=25 / 30))
    md = out["power_md"].read_text()
    assert md.startswith("# tiny: what 10 trials per observer can resolve") and "| observed mean |" in md


def test_power_table_for_the_papers_experiment():
    """149 trials at the paper's mean accuracy 81.36 % (numbers in README "Planning an experiment")."""
    t = A.plan_power({"n_trials": 149, "accuracy_mean": 0.8136, "kappa_mean": 0.5874})
    assert list(t["kappa"]) == [0.0, 0.2, 0.4, 0.6, 0.5874]
    np.testing.assert_allclose(t["half_width"], [0.1606, 0.1854, 0.1857, 0.1665, 0.1683], atol=5e-4)
    np.testing.assert_allclose(t["delta_two_pairs"], [0.353, 0.361, 0.334, 0.278, 0.282], atol=2e-3)
    assert list(t["trials_for_half_width_0.05"]) == [1537, 2050, 2056, 1654, 1689]
    # observers at 0 % or 100 %: nothing to plan, NaN rather than an error
    t = A.plan_power({"n_trials": 149, "accuracy_mean": 1.0, "kappa_mean": float("nan")})
    assert len(t) == 4 and t["half_width"].isna().all()


def _set(line: int, column: str, value):
    """A mutation of one field (``line`` 1-based; ``value`` a string or a function of the old one)."""
    def mutate(table):
        j = table[0].index(column)
        old = table[line - 1][j]
        table[line - 1][j] = value(old) if callable(value) else value
    return mutate


@pytest.mark.parametrize("mutate, where, what", [
    (lambda t: t[3].append("extra"), "line 4", "8 fields|17 fields, but the header has 16"),
    (_set(3, "response", "up"), "line 3", "response must be left or right"),
    (_set(6, "rt_ms", "fast"), "line 6", "rt_ms 'fast' is not a number"),
    (_set(7, "trial", "0"), "line 7", "trial must be >= 1"),
    (_set(5, "correct", lambda v: "0" if v == "1" else "1"), "line 5", "correct=0 contradicts response=right"),
    (_set(9, "observer", "a b"), "line 9", r"observer must be an id of letters, .* got 'a b'"),
    (_set(4, "timestamp", "yesterday"), "line 4", r"timestamp must be an ISO 8601 date and time"),
    (_set(8, "study", ""), "line 8", "study must be a non-empty string"),
    (_set(1, "rt_ms", "rt"), "line 1", r"missing columns \['rt_ms'\]"),
    (lambda t: t.__setitem__(slice(1, None), []), "line 2", "no trials"),
])
def test_malformed_response_file_names_file_and_line(tmp_path, mutate, where, what):
    manifest = tiny_manifest(tmp_path / "manifest.csv")
    path = write_responses(tmp_path / "bad.csv", manifest, "anna", PLAN["anna"])
    with open(path, newline="") as fh:
        table = list(csv.reader(fh))
    mutate(table)
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(table)
    with pytest.raises(R.ResponseFileError, match=rf"bad\.csv, {where}: ({what})"):
        A.analyse([path], tmp_path / "manifest.csv", **{k: tmp_path / k for k in (
            "summary_csv", "summary_md", "observers_csv", "observers_md", "kappa_csv", "png", "pdf")})


def test_csv_syntax_error_names_the_line(tmp_path):
    manifest = tiny_manifest(tmp_path / "manifest.csv")
    path = write_responses(tmp_path / "bad.csv", manifest, "anna", PLAN["anna"])
    lines = path.read_text().splitlines()
    lines[4] = lines[4].replace("tiny,", 'tiny,"an"na', 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(R.ResponseFileError, match=r"bad\.csv, line 5: CSV syntax error"):
        R.read_responses(path)


def test_not_utf8_and_empty_files(tmp_path):
    manifest = tiny_manifest(tmp_path / "manifest.csv")
    path = write_responses(tmp_path / "r.csv", manifest, "anna", PLAN["anna"])
    raw = path.read_bytes().split(b"\n")
    raw[3] = raw[3].replace(b"n01", b"n\xff1", 1)
    path.write_bytes(b"\n".join(raw))
    with pytest.raises(R.ResponseFileError, match=r"r\.csv, line 4: not UTF-8"):
        R.read_responses(path)
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(R.ResponseFileError, match=r"e\.csv, line 1: the file is empty"):
        R.read_responses(tmp_path / "e.csv")


def test_observers_that_do_not_match_the_manifest_are_refused(tmp_path):
    manifest = tiny_manifest(tmp_path / "manifest.csv")
    m = tmp_path / "manifest.csv"
    good = write_responses(tmp_path / "ben.csv", manifest, "ben", PLAN["ben"])
    # a missing main pair
    short = write_responses(tmp_path / "anna.csv", manifest, "anna", PLAN["anna"], order=range(9))
    with pytest.raises(A.ResponseMismatchError, match=r"observer 'anna' \(.*anna\.csv\).*1 of 10 main pairs missing: 10"):
        A.response_matrix([good, short], m)
    # a pair answered twice (two sessions in one file)
    lines = write_responses(tmp_path / "anna.csv", manifest, "anna", PLAN["anna"]).read_text().splitlines()
    (tmp_path / "anna.csv").write_text("\n".join(lines + [lines[-1].replace(",s1,", ",s2,")]) + "\n")
    with pytest.raises(A.ResponseMismatchError, match=r"more than once: 10 \(sessions s1, s2"):
        A.response_matrix([good, tmp_path / "anna.csv"], m)
    # images on other sides than the manifest's (another stimulus set)
    swapped = write_responses(tmp_path / "anna.csv", manifest, "anna", PLAN["anna"])
    text = swapped.read_text().replace("n01/img,5.JPEG", "n01/img,99.JPEG")
    swapped.write_text(text)
    with pytest.raises(A.ResponseMismatchError, match=r"left_id differs from the manifest for pairs 4 \(line 7\)"):
        A.response_matrix([good, swapped], m)
    # a pair the manifest does not have
    write_responses(tmp_path / "anna.csv", manifest, "anna", PLAN["anna"])
    with open(tmp_path / "anna.csv", "a") as fh:
        fh.write("tiny,anna,s1,11,11,0,a,b,left,left,1,300.0,2025-01-31T12:00:00.000Z,,,0\n")
    with pytest.raises(A.ResponseMismatchError, match=r"pairs not in the manifest: 11 \(line 14\)"):
        A.response_matrix([good, tmp_path / "anna.csv"], m)
    # one observer in two files
    write_responses(tmp_path / "anna.csv", manifest, "anna", PLAN["anna"])
    dup = write_responses(tmp_path / "anna-download.csv", manifest, "anna", PLAN["anna"])
    with pytest.raises(A.ResponseMismatchError, match=r"'anna' appears in .*anna\.csv and in .*anna-download\.csv"):
        A.response_matrix([tmp_path / "anna.csv", dup], m)
    # a single observer: accuracy, but no kappa
    table, summary, _ = A.summarize_observers(np.array([PLAN["anna"]], bool), observers=["anna"])
    assert summary["n_kappa_pairs"] == 0 and np.isnan(summary["kappa_mean"])


# ---------------------------------------------------------------------------------------------
# Collection server


@pytest.fixture()
def site(tmp_path):
    split = synthetic_split(tmp_path / "split.tsv")
    out = tmp_path / "site"
    S.write_stimuli(split, GAUSS, out, study="tiny", n_pairs=4, n_practice=1, seed=0, display_size=16)
    return out


@pytest.fixture()
def server(site):
    srv = make_server(site, port=0, quiet=True)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def request(srv, method, path, body=None, *, headers=None, raw: bytes | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.server_port, timeout=10)
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    h = {"Content-Type": "application/json"} if data is not None else {}
    h.update(headers or {})
    conn.request(method, path, body=data, headers=h)
    res = conn.getresponse()
    payload = res.read()
    conn.close()
    try:
        return res.status, json.loads(payload)
    except ValueError:
        return res.status, payload


def trial_record(site, which="1", *, observer="obs1", session="s1", right=True, **changes):
    """A well-formed record of pair ``which``; ``changes`` then replace any of its values."""
    m = SITE.read_manifest(site / "manifest.csv").set_index("pair").loc[which]
    side = m.impossible_side if right else ("left" if m.impossible_side == "right" else "right")
    rec = {"study": "tiny", "observer": observer, "session": session, "trial": 1, "pair": which,
           "practice": bool(m.practice), "left_id": m.left_id, "right_id": m.right_id,
           "impossible_side": m.impossible_side, "response": side, "correct": right, "rt_ms": 812.3,
           "timestamp": "2025-01-31T12:00:00.000Z", "stimulus_ms": None, "max_response_ms": None, "timeouts": 0}
    rec.update(changes)
    return rec


def rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def test_server_records_each_trial_once_and_flushed(server, site):
    assert request(server, "GET", "/api/status") == (200, {"collect": True, "study": "tiny",
                                                          "manifest": SITE.manifest_checksum(site / "manifest.csv")})
    status, page = request(server, "GET", "/index.html")
    assert status == 200 and b"experiment.js" in page
    assert request(server, "POST", "/api/trial", trial_record(site))[0] == 403  # not started
    assert request(server, "POST", "/api/start", {"observer": "obs1", "session": "s1"}) == (
        200, {"observer": "obs1", "session": "s1", "recorded": []})
    path = site / "responses" / "obs1.csv"
    assert rows(path) == [list(R.RESPONSE_COLUMNS)]
    assert request(server, "POST", "/api/trial", trial_record(site)) == (201, {"status": "recorded", "pair": "1"})
    assert len(rows(path)) == 2  # on disk as soon as it was answered
    assert request(server, "POST", "/api/trial", trial_record(site))[1]["status"] == "duplicate"  # a resend
    assert len(rows(path)) == 2
    status, err = request(server, "POST", "/api/trial", trial_record(site, right=False))
    assert status == 409 and "already recorded" in err["error"]
    rec = trial_record(site, "P1", trial=1)
    assert request(server, "POST", "/api/trial", rec)[0] == 201
    assert request(server, "POST", "/api/trial", trial_record(site, "2", trial=2, session="s2"))[0] == 201
    assert request(server, "POST", "/api/start", {"observer": "obs1", "session": "s1"})[1]["recorded"] == ["1", "P1"]
    got = rows(path)
    assert [r[4] for r in got[1:]] == ["1", "P1", "2"] and got[1][5:] == [
        "0", *got[1][6:8], got[1][8], got[1][8], "1", "812.3", "2025-01-31T12:00:00.000Z", "", "", "0"]
    # the server's file is a response file of the analysis
    df = R.read_responses(path)
    assert list(df["pair"]) == ["1", "P1", "2"] and df["correct"].all()
    # a restarted server still knows the observer and the recorded trials
    again = make_server(site, port=0, quiet=True)
    try:
        assert again.record(trial_record(site))[0] == 200
    finally:
        again.server_close()


@pytest.mark.parametrize("change, status, reason", [
    ({"response": "up"}, 400, "response must be left or right"),
    ({"rt_ms": "fast"}, 400, "rt_ms"),
    ({"rt_ms": -1}, 400, "rt_ms"),
    ({"trial": True}, 400, "trial must be an integer"),
    ({"practice": "no"}, 400, "practice must be true or false"),
    ({"timestamp": "yesterday"}, 400, "timestamp"),
    ({"observer": "../../evil"}, 400, "observer must be an id"),
    ({"session": "a b"}, 400, "session must be an id"),
    ({"extra": 1}, 400, "unknown keys"),
    ({"pair": "999"}, 422, "not in the manifest"),
    ({"left_id": "x"}, 422, "differs from the manifest"),
    ({"trial": 99}, 422, "out of range"),
    ({"correct": False}, 422, "contradicts"),
    ({"study": "other"}, 422, "study"),
    ({"stimulus_ms": 400}, 422, "stimulus_ms 400 differs from the manifest's None"),
    ({"max_response_ms": 5000, "timeouts": 1}, 422, "max_response_ms 5000 differs"),
    ({"timeouts": "1"}, 400, "timeouts must be an integer"),
    ({"stimulus_ms": "400"}, 400, "stimulus_ms must be null or a number"),
    ({"timeouts": 1}, 400, "without a max_response_ms"),
])
def test_server_refuses_bad_records(server, site, change, status, reason):
    request(server, "POST", "/api/start", {"observer": "obs1", "session": "s1"})
    code, err = request(server, "POST", "/api/trial", trial_record(site, **change))
    assert code == status and reason in err["error"]
    assert len(rows(site / "responses" / "obs1.csv")) == 1  # nothing written


def test_server_refuses_bad_requests(server, site):
    request(server, "POST", "/api/start", {"observer": "obs1", "session": "s1"})
    rec = trial_record(site)
    rec_missing = {k: v for k, v in rec.items() if k != "rt_ms"}
    assert request(server, "POST", "/api/trial", rec_missing)[1]["error"] == "missing keys ['rt_ms']"
    assert request(server, "POST", "/api/trial", raw=b"{not json")[0] == 400
    assert request(server, "POST", "/api/trial", raw=b"[1, 2]")[0] == 400
    code, err = request(server, "POST", "/api/trial", raw=b"x" * (MAX_BODY + 1))
    assert code == 413 and "at most" in err["error"]
    assert request(server, "POST", "/api/trial", raw=json.dumps(rec).encode(),
                   headers={"Content-Type": "text/plain"})[0] == 415
    conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
    conn.putrequest("POST", "/api/trial")
    conn.endheaders()
    assert conn.getresponse().status == 411
    conn.close()
    assert request(server, "POST", "/api/start", {"observer": "a/../../b", "session": "s"})[0] == 400
    assert request(server, "POST", "/api/elsewhere", rec)[0] == 404
    assert request(server, "PUT", "/api/trial", rec)[0] == 405
    assert request(server, "GET", "/index.html", headers={"Host": "evil.example:80"})[0] == 403
    # files: only inside the site, never the responses, no listings, no traversal
    for path in ("/../../../etc/passwd", "/images/%2e%2e/%2e%2e/split.tsv", "/..%2fsplit.tsv"):
        assert 400 <= request(server, "GET", path)[0] < 500, path
    assert request(server, "GET", "/responses/obs1.csv")[0] == 403
    assert request(server, "GET", "/images/")[0] == 404
    assert sorted(os.listdir(site / "responses")) == ["obs1.csv"]
    assert len(rows(site / "responses" / "obs1.csv")) == 1
    assert not list(site.parent.glob("*.csv")) and not (site.parent / "b.csv").exists()


def test_server_observer_list(site):
    srv = make_server(site, port=0, quiet=True, observers=["obs1"])
    try:
        assert srv.start({"observer": "obs1", "session": "s1"})["recorded"] == []
        with pytest.raises(RecordError, match="unknown observer 'obs2'") as err:
            srv.start({"observer": "obs2", "session": "s1"})
        assert err.value.status == 403
        with pytest.raises(RecordError, match="unknown observer"):
            srv.record(trial_record(site, observer="obs2"))
        assert srv.record(trial_record(site))[0] == 201
    finally:
        srv.server_close()


ACCEPTED = [{}, {"rt_ms": 0.0}, {"rt_ms": 3_600_000.0}, {"timestamp": "2025-01-31T12:00:00+01:00"}, {"trial": 4}]
REFUSED = [{"response": "up"}, {"impossible_side": "middle"}, {"rt_ms": -1.0}, {"rt_ms": 3_600_001.0},
           {"rt_ms": float("nan")}, {"observer": "a b"}, {"observer": "_x"}, {"session": "s" * 65},
           {"timestamp": "yesterday"}, {"timestamp": "2025-01-31 12:00:00"}, {"study": ""}, {"pair": ""},
           {"left_id": "x" * 1001}, {"trial": 0}, {"correct": False}, {"timeouts": 2}, {"timeouts": -1},
           {"stimulus_ms": -5}, {"max_response_ms": 0}, {"stimulus_ms": 600_001}]


@pytest.mark.parametrize("change, accepted", [(c, True) for c in ACCEPTED] + [(c, False) for c in REFUSED])
def test_server_and_file_reader_accept_the_same_trials(site, tmp_path, change, accepted):
    """One check of a trial (ddd.psychophysics.responses) for a posted record and a file's line."""
    rec = trial_record(site, **change)
    srv = make_server(site, port=0, quiet=True)
    try:
        srv.start({"observer": "obs1", "session": "s1"})
        try:
            server_ok = srv.record(rec)[0] == 201
        except RecordError as err:
            assert err.status in (400, 422), err
            server_ok = False
    finally:
        srv.server_close()
    path = tmp_path / "one.csv"
    path.write_text(",".join(R.RESPONSE_COLUMNS) + "\n" + ",".join(R.format_row(rec)) + "\n")
    try:
        R.read_responses(path)
        file_ok = True
    except R.ResponseFileError as err:
        assert str(err).startswith(f"{path}, line 2: "), err
        file_ok = False
    assert server_ok == file_ok == accepted


def test_server_refuses_a_foreign_file_under_an_observer_name(site):
    (site / "responses").mkdir()
    (site / "responses" / "obs1.csv").write_text("name,answer\nx,1\n")
    srv = make_server(site, port=0, quiet=True)
    try:
        with pytest.raises(RecordError, match=r"obs1\.csv, line 1: not a response file of the collection server") as err:
            srv.start({"observer": "obs1", "session": "s1"})
        assert err.value.status == 409
    finally:
        srv.server_close()
    assert (site / "responses" / "obs1.csv").read_text() == "name,answer\nx,1\n"


def test_server_reads_the_site_through_its_owner(site):
    exp = SITE.read_experiment(site)
    assert "trials" not in exp and exp["study"] == "tiny" and exp["manifest"] == SITE.manifest_checksum(
        site / "manifest.csv")
    back = site.parent / "again.csv"
    SITE.write_manifest(SITE.read_manifest(site / "manifest.csv"), back)
    assert back.read_bytes() == (site / "manifest.csv").read_bytes()


def test_serve_command_line(site, tmp_path):
    """`python -m ddd.psychophysics serve` on 127.0.0.1, a free port, responses where it is told."""
    proc = subprocess.Popen([sys.executable, "-m", "ddd.psychophysics", "serve", str(site), "--port", "0",
                             "--responses", str(tmp_path / "collected")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        first = proc.stdout.readline()
        assert "http://127.0.0.1:" in first, first + proc.stderr.read()
        port = int(first.split("http://127.0.0.1:")[1].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/api/start", body=json.dumps({"observer": "cli", "session": "s"}),
                     headers={"Content-Type": "application/json"})
        assert conn.getresponse().status == 200
        assert (tmp_path / "collected" / "cli.csv").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    bad = subprocess.run([sys.executable, "-m", "ddd.psychophysics", "serve", str(tmp_path)], capture_output=True,
                         text=True, cwd=ROOT, timeout=60)
    assert bad.returncode == 2 and "not an experiment site" in bad.stderr


# ---------------------------------------------------------------------------------------------
# Config and workflow

TINY = yaml.safe_load((ROOT / ".test" / "config" / "config.yaml").read_text())


def test_config_resolves_and_checks_the_block(tmp_path):
    assert resolve_config(TINY).psychophysics is None
    # (tiny-gaussian has 50 evaluation images: 20 + 5 pairs at most; the default 149 is refused at planning)
    cfg = resolve_config({**TINY, "psychophysics": {"study": "tiny-gaussian", "pairs": 20}})
    assert cfg.psychophysics == {"study": "tiny-gaussian", "pairs": 20, "practice": 5, "rule": "strict", "seed": 0,
                                 "breaks_every": 50, "shuffle": True, "display_size": 224, "label_issues": None,
                                 "responses": None, "iti_ms": 300, "fixation_mark": "+", "fixation_ms": 500,
                                 "stimulus_ms": None, "max_response_ms": None, "fullscreen": False}
    with pytest.raises(ConfigError, match="max_response_ms: 500 ms is shorter than stimulus_ms"):
        resolve_config({**TINY, "psychophysics": {"study": "tiny-gaussian", "pairs": 20, "stimulus_ms": 800,
                                                  "max_response_ms": 500}})
    with pytest.raises(ConfigError, match=r"psychophysics.study: unknown study 'nope'; configured studies: tiny-gaussian"):
        resolve_config({**TINY, "psychophysics": {"study": "nope"}})
    ext = tmp_path / "m.csv"
    ext.write_text("image_id,correct\na,1\n")
    config = {**TINY, "studies": {**TINY["studies"], "imp": {"external": {"format": "csv", "files": [str(ext)]}}},
              "run": ["tiny-gaussian", "imp"]}
    with pytest.raises(ConfigError, match="'imp' is a study of kind 'external'.*choose a study with a dataset \\(tiny-gaussian\\)"):
        resolve_config({**config, "psychophysics": {"study": "imp"}})
    with pytest.raises(ConfigError, match="label_issues: .*missing.txt is not a file"):
        resolve_config({**TINY, "psychophysics": {"study": "tiny-gaussian", "pairs": 20,
                                                  "label_issues": str(tmp_path / "missing.txt")}})
    folder = tmp_path / "responses"
    folder.mkdir()
    with pytest.raises(ConfigError, match="responses: .* holds no .csv file"):
        resolve_config({**TINY, "psychophysics": {"study": "tiny-gaussian", "pairs": 20, "responses": str(folder)}})
    with pytest.raises(ConfigError, match="responses: .*elsewhere is not a folder"):
        resolve_config({**TINY, "psychophysics": {"study": "tiny-gaussian", "pairs": 20,
                                                  "responses": str(tmp_path / "elsewhere")}})
    (folder / "b.csv").write_text("x")
    (folder / "a.CSV").write_text("x")
    (folder / ".hidden.csv").write_text("x")
    cfg = resolve_config({**TINY, "psychophysics": {"study": "tiny-gaussian", "pairs": 20, "responses": str(folder)}})
    assert cfg.psychophysics["response_files"] == [str(folder / "a.CSV"), str(folder / "b.csv")]
    assert R.response_files(folder) == cfg.psychophysics["response_files"]


def test_schema_documents_every_key():
    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
    block = schema["properties"]["psychophysics"]
    assert block["additionalProperties"] is False
    from ddd.config.resolve import PSYCHOPHYSICS_DEFAULTS
    assert set(block["properties"]) == set(PSYCHOPHYSICS_DEFAULTS)
    for key, spec in block["properties"].items():
        assert spec["description"] and spec["default"] == PSYCHOPHYSICS_DEFAULTS[key], key


def test_schema_checks_the_timing_keys():
    """The trial's timing keys (issue 18): numbers of ms in range, null where allowed, a short mark."""
    from ddd.config.schema import check_schema
    schema = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")
    good = {"study": "tiny-gaussian", "iti_ms": 250, "fixation_mark": "•", "fixation_ms": 400.5, "stimulus_ms": 200,
            "max_response_ms": 4000, "fullscreen": True}
    check_schema({**TINY, "psychophysics": good}, schema)
    check_schema({**TINY, "psychophysics": {**good, "stimulus_ms": None, "max_response_ms": None, "fixation_mark": ""}},
                 schema)
    for key, bad in [("iti_ms", -1), ("fixation_ms", "500"), ("stimulus_ms", 0), ("max_response_ms", -5),
                     ("fixation_mark", "+++++"), ("fullscreen", "yes"), ("iti_ms", None), ("fixation_ms", 10 ** 7)]:
        with pytest.raises(Exception, match=key):
            check_schema({**TINY, "psychophysics": {**good, key: bad}}, schema)


def test_timing_options_in_trials_js(tmp_path):
    """write_site checks the timing options and writes them into trials.js (the page's description of
    the experiment), with the defaults for the keys not given."""
    manifest = tiny_manifest(tmp_path / "m0.csv")
    site_dir = tmp_path / "site"
    (site_dir / "images").mkdir(parents=True)
    for rel in list(manifest["left_image"]) + list(manifest["right_image"]):
        (site_dir / rel).write_bytes(b"png")
    exp = SITE.write_site(site_dir, manifest, study="tiny", timing={"iti_ms": 250, "stimulus_ms": 300,
                                                                    "fullscreen": True})
    got = SITE.read_experiment(site_dir)
    assert {k: got[k] for k in SITE.TIMING_DEFAULTS} == {**SITE.TIMING_DEFAULTS, "iti_ms": 250, "stimulus_ms": 300,
                                                         "fullscreen": True}
    assert exp["fixation_ms"] == 500 and exp["fixation_mark"] == "+" and exp["max_response_ms"] is None
    for bad, msg in [({"iti_ms": -1}, "iti_ms"), ({"stimulus_ms": 0}, "stimulus_ms must be > 0"),
                     ({"fixation_mark": "long mark"}, "fixation_mark"), ({"fullscreen": 1}, "fullscreen"),
                     ({"stimulus_ms": 900, "max_response_ms": 500}, "shorter than stimulus_ms"),
                     ({"fixation": 1}, "unknown timing options")]:
        with pytest.raises(ValueError, match=msg):
            SITE.write_site(site_dir, manifest, study="tiny", timing=bad)


def test_figure_shows_the_papers_values():
    """The psychophysics figure draws the paper's mean accuracy and range, and its mean kappa, as lines."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ddd.psychophysics.report import PAPER, plot_observers
    correct = np.array([[1, 1, 0, 1, 1, 0, 1, 1], [1, 0, 0, 1, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0, 1, 1]], dtype=bool)
    table, summary, kappa = A.summarize_observers(correct, observers=["a", "b", "c"])
    fig = plot_observers(table, kappa, summary)
    try:
        ax = fig.axes[0]
        labels = [line.get_label() for line in ax.get_lines()]
        assert "paper: mean 81.4 %" in labels and "paper: range 71.8 – 88.6 %" in labels
        ys = {round(float(line.get_ydata()[0]), 2) for line in ax.get_lines() if len(line.get_ydata()) == 2}
        assert {81.36, 71.81, 88.59} <= ys
        cbar = fig.axes[-1]  # the colour bar of the kappa matrix: the paper's mean, lowest and highest kappa
        cys = {round(float(line.get_ydata()[0]), 4) for line in cbar.get_lines()}
        assert {PAPER["kappa_mean"], PAPER["kappa_min"], PAPER["kappa_max"]} <= cys
    finally:
        plt.close(fig)


def test_markdown_tables_as_html(tmp_path):
    """The report shows the tables inline: the Markdown written as HTML, text escaped."""
    from ddd.psychophysics.report import markdown_to_html, write_html
    md = ("# tiny: psychophysics\n\nSome <b>note</b> here.\n\n| Quantity | Value |\n|:---|---:|\n"
          "| a \\| b | 1 % |\n| κ | – |\n")
    html = markdown_to_html(md)
    assert "<h1>tiny: psychophysics</h1>" in html and "<p>Some &lt;b&gt;note&lt;/b&gt; here.</p>" in html
    assert '<th style="text-align:left">Quantity</th><th style="text-align:right">Value</th>' in html
    assert '<td style="text-align:left">a | b</td>' in html and html.count("<tr>") == 3
    (tmp_path / "t.md").write_text(md)
    write_html(tmp_path / "t.md", tmp_path / "out" / "t.html", title="T")
    page = (tmp_path / "out" / "t.html").read_text()
    assert page.startswith("<!doctype html>") and "<title>T</title>" in page and "<table>" in page


def _snakemake(wd: Path, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "workflow" / "Snakefile"),
                           "--directory", str(wd), "--cores", "1", *args, "--configfile", str(wd / "config.yaml"),
                           "--allowed-rules", "psychophysics_stimuli", "psychophysics_analysis"],
                          capture_output=True, text=True, timeout=timeout)


def test_rules_build_the_site_and_analyse(tmp_path):
    """The two rules on the tiny config, with a given split.tsv (training is not allowed to run)."""
    wd = tmp_path
    (wd / "results" / "tiny-gaussian").mkdir(parents=True)
    synthetic_split(wd / "results" / "tiny-gaussian" / "split.tsv")
    config = {**TINY, "psychophysics": {"study": "tiny-gaussian", "pairs": 10, "practice": 2, "seed": 1,
                                        "fixation_ms": 250, "stimulus_ms": 400, "fullscreen": True}}
    (wd / "config.yaml").write_text(yaml.safe_dump(config))
    site = wd / "results" / "tiny-gaussian" / "psychophysics"
    targets = [f"results/tiny-gaussian/psychophysics/{f}" for f in ("manifest.csv", "trials.js", "index.html")]
    res = _snakemake(wd, *targets)
    assert res.returncode == 0, res.stderr[-3000:]
    manifest = SITE.read_manifest(site / "manifest.csv")
    assert len(manifest) == 12 and len(list((site / "images").glob("*.png"))) == 24
    assert (wd / "logs" / "tiny-gaussian" / "psychophysics_stimuli.log").exists()
    exp = SITE.read_experiment(site)  # the config's timing keys reach the page
    assert (exp["fixation_ms"], exp["stimulus_ms"], exp["fullscreen"], exp["iti_ms"]) == (250, 400, True, 300)
    folder = wd / "collected"
    folder.mkdir()
    main = manifest[~manifest["practice"]]
    # the settings in force are in the manifest, and must be on every response line
    assert SITE.manifest_timing(manifest) == {"iti_ms": 300, "fixation_mark": "+", "fixation_ms": 250,
                                              "stimulus_ms": 400, "max_response_ms": None, "fullscreen": True}
    assert (site / "manifest.csv").read_text().splitlines()[0].endswith(
        "iti_ms,fixation_mark,fixation_ms,stimulus_ms,max_response_ms,fullscreen")
    for k, obs in enumerate(["o1", "o2"]):  # o2: a file of the previous header (no settings: refused)
        write_responses(folder / f"{obs}.csv", manifest, obs, np.arange(len(main)) % (k + 2) != 0,
                        study="tiny-gaussian", settings=("400", "", "0"), previous=obs == "o2")
    config["psychophysics"]["responses"] = str(folder)
    (wd / "config.yaml").write_text(yaml.safe_dump(config))
    outs = ["results/tiny-gaussian/tables/psychophysics_summary.csv", "results/tiny-gaussian/figures/psychophysics.png"]
    res = _snakemake(wd, *outs)
    assert res.returncode != 0 and re.search(r"stimulus_ms differs from the manifest's 400 on \S*o2\.csv, lines 2, 3",
                                             res.stderr), res.stderr[-3000:]
    write_responses(folder / "o2.csv", manifest, "o2", np.arange(len(main)) % 3 != 0, study="tiny-gaussian",
                    settings=("400", "", "0"))
    res = _snakemake(wd, *outs)
    assert res.returncode == 0, res.stderr[-3000:]
    obs = pd.read_csv(wd / "results/tiny-gaussian/tables/psychophysics_observers.csv")
    assert list(obs["n_correct"]) == [5, 6]  # every 2nd / 3rd of 10 wrong
    power = pd.read_csv(wd / "results/tiny-gaussian/tables/psychophysics_power.csv")
    assert (power["n"] == 10).all() and power["p_a"].iloc[0] == pytest.approx(0.55)
    assert (wd / "results/tiny-gaussian/tables/psychophysics_power.md").stat().st_size > 0
    assert (wd / "results/tiny-gaussian/figures/psychophysics.pdf").stat().st_size > 0
    for name in ("summary", "observers", "power"):  # shown inline in the report
        assert "<table>" in (wd / f"results/tiny-gaussian/tables/psychophysics_{name}.html").read_text()
    res = _snakemake(wd, *outs, "--report", str(wd / "report.html"))
    assert res.returncode == 0, res.stderr[-3000:]
    report = (wd / "report.html").read_text()
    for name in ("summary", "observers", "power"):  # the HTML tables (the report shows HTML inline)
        assert f"psychophysics_{name}.html" in report
    assert "orange dash-dot: the paper" in report  # the figure's caption


# --- integrity of the observers' files (issue 15) ---------------------------------------------------


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")


def test_server_sets_a_partial_last_line_aside_at_start(site):
    """Issue 15, failure 7: a file ending without a newline (power loss, full disk) got the next trial
    glued to its last line, and the analysis then refused the file."""
    folder = site / "responses"
    folder.mkdir()
    header = ",".join(R.RESPONSE_COLUMNS) + "\n"
    full = ",".join(R.format_row(R.parse_record(trial_record(site, "1")))) + "\n"
    cut = ",".join(R.format_row(R.parse_record(trial_record(site, "2", trial=2))))[:40]
    (folder / "obs1.csv").write_text(header + full + cut)
    (folder / "obs2.csv").write_text(header[:30])  # cut inside the header
    (folder / "obs3.csv").write_text(header + full)  # a complete file: untouched
    srv = make_server(site, port=0, quiet=True)
    try:
        # set aside at start, kept in a side file that the analysis does not read, and reported
        assert (folder / "obs1.csv").read_text() == header + full
        side = [p for p in folder.iterdir() if p.name.startswith("obs1.csv.partial")]
        assert len(side) == 1 and side[0].read_text() == cut
        assert not side[0].name.endswith(".csv") and R.response_files(folder) == [
            str(folder / f"obs{k}.csv") for k in (1, 2, 3)]
        assert sorted((os.path.basename(p), os.path.basename(s)) for p, s in srv.set_aside) == sorted(
            [("obs1.csv", side[0].name), ("obs2.csv", next(p.name for p in folder.iterdir()
                                                           if p.name.startswith("obs2.csv.partial")))])
        assert (folder / "obs3.csv").read_text() == header + full
        assert srv.start({"observer": "obs1", "session": "s1"})["recorded"] == ["1"]
        assert srv.record(trial_record(site, "2", trial=2))[0] == 201  # the cut trial, sent again
        df = R.read_responses(folder / "obs1.csv")
        assert list(df["pair"]) == ["1", "2"]
        assert srv.start({"observer": "obs2", "session": "s1"})["recorded"] == []
        assert srv.record(trial_record(site, observer="obs2"))[0] == 201
        assert list(R.read_responses(folder / "obs2.csv")["pair"]) == ["1"]
    finally:
        srv.server_close()


def test_server_sets_a_partial_line_aside_when_it_opens_or_appends(server, site):
    """A partial last line that appears while the server runs (a file copied in, another writer, a
    write cut off) is set aside when the file is first opened, and before any append."""
    folder = site / "responses"
    header = ",".join(R.RESPONSE_COLUMNS) + "\n"
    (folder / "obs2.csv").write_text(header + "tiny,obs2,s1,1,1,0,n0")  # after the server started
    assert request(server, "POST", "/api/start", {"observer": "obs2", "session": "s1"})[1]["recorded"] == []
    assert (folder / "obs2.csv").read_text() == header
    assert request(server, "POST", "/api/start", {"observer": "obs1", "session": "s1"})[0] == 200
    assert request(server, "POST", "/api/trial", trial_record(site))[0] == 201
    with open(folder / "obs1.csv", "ab") as fh:  # cut off after the server had read the file
        fh.write(b"tiny,obs1,s1,2,2,0,left")
    assert request(server, "POST", "/api/trial", trial_record(site, "2", trial=2))[0] == 201
    assert _lines(folder / "obs1.csv")[-1] == b"" and list(R.read_responses(folder / "obs1.csv")["pair"]) == ["1", "2"]
    sides = sorted(p.name for p in folder.iterdir() if ".partial" in p.name)
    assert [s.split(".partial")[0] for s in sides] == ["obs1.csv", "obs2.csv"]
    assert (folder / sides[0]).read_bytes() == b"tiny,obs1,s1,2,2,0,left"
    assert len(server.set_aside) == 2


def test_a_write_cut_off_is_undone_and_answered(server, site, monkeypatch):
    """A full disk while appending: the partial line is cut off again and the client gets a 507 with
    the path, not a dropped connection; the next trial is appended cleanly."""
    import errno
    assert request(server, "POST", "/api/start", {"observer": "obs1", "session": "s1"})[0] == 200
    path = site / "responses" / "obs1.csv"
    before = path.read_bytes()
    real_write = R._os_write

    def short_write(fd, data):  # half of the line reaches the disk, then the disk is full
        if len(data) > 10:
            real_write(fd, bytes(data[:len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(R, "_os_write", short_write)
    code, err = request(server, "POST", "/api/trial", trial_record(site))
    assert code == 507 and str(path) in err["error"] and "No space left" in err["error"]
    assert path.read_bytes() == before
    monkeypatch.undo()
    assert request(server, "POST", "/api/trial", trial_record(site))[0] == 201
    assert list(R.read_responses(path)["pair"]) == ["1"]


def _unwritable_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    if not os.access(folder, os.W_OK):
        return folder
    folder.chmod(0o755)  # root writes anyway: sysfs refuses new files even to root
    if os.path.isdir("/sys") and not os.access("/sys", os.W_OK) or _cannot_create("/sys"):
        return Path("/sys")
    pytest.skip("no unwritable folder available")


def _cannot_create(folder) -> bool:
    import tempfile
    try:
        fd, name = tempfile.mkstemp(dir=folder)
    except OSError:
        return True
    os.close(fd)
    os.unlink(name)
    return False


def test_unwritable_responses_folder_stops_the_server_at_start(site, tmp_path):
    folder = _unwritable_folder(tmp_path)
    with pytest.raises(PermissionError, match=rf"responses folder {folder} is not writable"):
        make_server(site, port=0, quiet=True, responses_dir=folder)
    bad = subprocess.run([sys.executable, "-m", "ddd.psychophysics", "serve", str(site), "--port", "0",
                          "--responses", str(folder)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert bad.returncode == 2 and f"responses folder {folder} is not writable" in bad.stderr, bad.stderr
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(OSError, match=r"a-file/responses"):
        make_server(site, port=0, quiet=True, responses_dir=tmp_path / "a-file" / "responses")


def test_a_recorded_main_pair_is_refused_in_a_new_session(server, site):
    """The analysis refuses an observer with a main pair answered in two sessions; the server refuses
    the second answer (409) instead of recording it."""
    assert request(server, "POST", "/api/start", {"observer": "obs1", "session": "s1"})[0] == 200
    assert request(server, "POST", "/api/trial", trial_record(site))[0] == 201
    assert request(server, "POST", "/api/trial", trial_record(site, "P1", trial=1))[0] == 201
    assert request(server, "POST", "/api/start", {"observer": "obs1", "session": "s2"}) == (
        200, {"observer": "obs1", "session": "s2", "recorded": []})
    code, err = request(server, "POST", "/api/trial", trial_record(site, session="s2"))
    assert code == 409 and "pair '1' is already recorded for observer 'obs1' in session 's1'" in err["error"]
    code, err = request(server, "POST", "/api/trial", trial_record(site, session="s2", right=False))
    assert code == 409
    # practice pairs may be repeated (the analysis leaves them out); other main pairs are recorded
    assert request(server, "POST", "/api/trial", trial_record(site, "P1", trial=1, session="s2"))[0] == 201
    assert request(server, "POST", "/api/trial", trial_record(site, "2", trial=2, session="s2"))[0] == 201
    path = site / "responses" / "obs1.csv"
    df = R.read_responses(path)
    assert list(zip(df["session"], df["pair"])) == [("s1", "1"), ("s1", "P1"), ("s2", "P1"), ("s2", "2")]
    # another observer may answer the pair; a restarted server knows what was recorded
    assert request(server, "POST", "/api/start", {"observer": "obs2", "session": "s2"})[0] == 200
    assert request(server, "POST", "/api/trial", trial_record(site, observer="obs2", session="s2"))[0] == 201
    again = make_server(site, port=0, quiet=True)
    try:
        with pytest.raises(RecordError, match="already recorded for observer 'obs1' in session 's1'") as e:
            again.record(trial_record(site, session="s3"))
        assert e.value.status == 409
    finally:
        again.server_close()
    # what the server accepted, the analysis accepts (the manifest's other pairs missing aside)
    with pytest.raises(A.ResponseMismatchError) as e:
        A.response_matrix([path], site / "manifest.csv")
    assert "more than once" not in str(e.value) and "main pairs missing" in str(e.value)


def test_a_file_removed_while_serving_is_started_afresh(server, site):
    assert request(server, "POST", "/api/start", {"observer": "obs1", "session": "s1"})[0] == 200
    assert request(server, "POST", "/api/trial", trial_record(site))[0] == 201
    (site / "responses" / "obs1.csv").unlink()
    assert request(server, "POST", "/api/trial", trial_record(site, "2", trial=2))[0] == 403  # the page restarts
    assert request(server, "POST", "/api/start", {"observer": "obs1", "session": "s1"})[1]["recorded"] == []
    assert request(server, "POST", "/api/trial", trial_record(site, "2", trial=2))[0] == 201
    assert list(R.read_responses(site / "responses" / "obs1.csv")["pair"]) == ["2"]


# ---------------------------------------------------------------------------------------------
# Timing settings: in the manifest and on every response line (issue 18)


def test_manifest_holds_the_timing_settings(tmp_path):
    """write_manifest writes the settings on every row; read_manifest reads them back (attrs), and
    a manifest written before the timing columns existed gets trials.js's settings, else the defaults."""
    manifest = tiny_manifest(tmp_path / "m0.csv")
    assert SITE.manifest_timing(manifest) == SITE.TIMING_DEFAULTS
    site_dir = tmp_path / "site"
    (site_dir / "images").mkdir(parents=True)
    for rel in list(manifest["left_image"]) + list(manifest["right_image"]):
        (site_dir / rel).write_bytes(b"png")
    timing = {"iti_ms": 250, "stimulus_ms": 300.5, "max_response_ms": 4000, "fixation_mark": "",
              "fullscreen": True}
    SITE.write_site(site_dir, manifest, study="tiny", timing=timing)
    path = site_dir / "manifest.csv"
    table = rows(path)
    assert table[0] == [*SITE.MANIFEST_COLUMNS, *SITE.TIMING_COLUMNS]
    assert all(r[-6:] == ["250", "", "500", "300.5", "4000", "true"] for r in table[1:])
    back = SITE.read_manifest(path)
    assert list(back.columns) == list(SITE.MANIFEST_COLUMNS)
    assert SITE.manifest_timing(back) == {**SITE.TIMING_DEFAULTS, **timing}
    SITE.write_manifest(back, tmp_path / "again.csv")  # the settings travel with the frame
    assert (tmp_path / "again.csv").read_bytes() == path.read_bytes()
    # the previous layout: trials.js next to it, else the defaults
    old = pd.read_csv(path, dtype=str, keep_default_na=False).loc[:, list(SITE.MANIFEST_COLUMNS)]
    old.to_csv(path, index=False, lineterminator="\n")
    assert SITE.manifest_timing(SITE.read_manifest(path)) == {**SITE.TIMING_DEFAULTS, **timing}
    old.to_csv(tmp_path / "alone.csv", index=False, lineterminator="\n")
    assert SITE.manifest_timing(SITE.read_manifest(tmp_path / "alone.csv")) == SITE.TIMING_DEFAULTS
    # refused: some of the columns, settings that differ between rows, a bad value
    for change, msg in [(lambda t: t.drop(columns=["fullscreen"]), r"timing columns \['fullscreen'\] missing"),
                        (lambda t: t.assign(stimulus_ms=["300"] + ["400"] * (len(t) - 1)),
                         "line 3: the timing settings differ"),
                        (lambda t: t.assign(max_response_ms="soon"), "line 2: max_response_ms 'soon' is not a number"),
                        (lambda t: t.assign(fullscreen="yes"), "line 2: fullscreen must be true or false")]:
        t = pd.read_csv(tmp_path / "again.csv", dtype=str, keep_default_na=False)
        change(t).to_csv(tmp_path / "bad.csv", index=False, lineterminator="\n")
        with pytest.raises(ValueError, match=msg):
            SITE.read_manifest(tmp_path / "bad.csv")


def test_previous_header_is_read_with_documented_defaults(tmp_path):
    manifest = tiny_manifest(tmp_path / "manifest.csv")
    old = write_responses(tmp_path / "old.csv", manifest, "anna", PLAN["anna"], previous=True)
    new = write_responses(tmp_path / "new.csv", manifest, "anna", PLAN["anna"])
    a, b = R.read_responses(old), R.read_responses(new)
    pd.testing.assert_frame_equal(a.drop(columns="file"), b.drop(columns="file"))
    assert a["stimulus_ms"].isna().all() and a["max_response_ms"].isna().all() and (a["timeouts"] == 0).all()
    # a header with only some of the new columns is refused, naming the file
    text = new.read_text().splitlines()
    cut = [",".join(line.split(",")[:-1]) for line in text]
    (tmp_path / "cut.csv").write_text("\n".join(cut) + "\n")
    with pytest.raises(R.ResponseFileError, match=r"cut\.csv, line 1: missing columns \['timeouts'\]"):
        R.read_responses(tmp_path / "cut.csv")


def test_analysis_refuses_rows_whose_settings_disagree_with_the_manifest(tmp_path):
    manifest = tiny_manifest(tmp_path / "manifest.csv")
    manifest.attrs["timing"] = SITE.check_timing({"stimulus_ms": 200, "max_response_ms": 3000})
    SITE.write_manifest(manifest, tmp_path / "manifest.csv")
    m = tmp_path / "manifest.csv"
    files = [write_responses(tmp_path / f"{o}.csv", manifest, o, PLAN[o], settings=("200", "3000", "0"))
             for o in ("anna", "ben")]
    # a pair that timed out twice before its answer: recognisable, and analysed like any other
    table = rows(files[0])
    j = table[0].index("timeouts")
    table[5][j] = "2"
    with open(files[0], "w", newline="") as fh:
        csv.writer(fh).writerows(table)
    df = R.read_responses(files[0])
    assert df.loc[df["line"] == 6, "timeouts"].tolist() == [2] and df["timeouts"].sum() == 2
    correct, *_ = A.response_matrix(files, m)
    assert correct.shape == (2, 10)
    # another limit on one line, and a file of the previous header (no settings recorded)
    table[8][table[0].index("max_response_ms")] = "5000"
    with open(files[0], "w", newline="") as fh:
        csv.writer(fh).writerows(table)
    with pytest.raises(A.ResponseMismatchError,
                       match=r"max_response_ms differs from the manifest's 3000 on \S*anna\.csv, line 9 "):
        A.response_matrix(files, m)
    old = write_responses(tmp_path / "anna.csv", manifest, "anna", PLAN["anna"], previous=True)
    with pytest.raises(A.ResponseMismatchError, match=r"stimulus_ms differs from the manifest's 200 on "
                                                      r"\S*anna\.csv, lines 2, 3, 4, 5, 6 \(and 7 more\)"):
        A.response_matrix([old, files[1]], m)


def test_server_refuses_to_append_to_a_file_of_the_previous_header(site):
    """An observer file of the previous header: its incomplete last line is still set aside at start,
    and the server refuses to append to it, naming the file (the analysis still reads it)."""
    folder = site / "responses"
    folder.mkdir()
    header = ",".join(R.PREVIOUS_COLUMNS) + "\n"
    full = ",".join(R.format_row(R.parse_record(trial_record(site, "1")))[:13]) + "\n"
    cut = full[:40]
    (folder / "obs1.csv").write_text(header + full + cut)
    srv = make_server(site, port=0, quiet=True)
    try:
        assert (folder / "obs1.csv").read_text() == header + full
        side = [p for p in folder.iterdir() if p.name.startswith("obs1.csv.partial")]
        assert len(side) == 1 and side[0].read_text() == cut
        assert [os.path.basename(p) for p, _ in srv.set_aside] == ["obs1.csv"]
        with pytest.raises(RecordError, match=r"obs1\.csv, line 1: written with the previous header") as err:
            srv.start({"observer": "obs1", "session": "s1"})
        assert err.value.status == 409
        with pytest.raises(RecordError, match="previous header"):
            srv.record(trial_record(site, "2", trial=2))
        assert (folder / "obs1.csv").read_text() == header + full  # untouched
        df = R.read_responses(folder / "obs1.csv")
        assert list(df["pair"]) == ["1"] and df["timeouts"].tolist() == [0]
        # moved away as the message says: the observer goes on in a new file
        (folder / "obs1.csv").rename(folder / "obs1-1.csv")
        assert srv.start({"observer": "obs1", "session": "s1"})["recorded"] == []
        assert srv.record(trial_record(site, "2", trial=2))[0] == 201
        assert rows(folder / "obs1.csv")[0] == list(R.RESPONSE_COLUMNS)
    finally:
        srv.server_close()
