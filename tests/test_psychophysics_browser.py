"""The experiment page in a real browser (issue 8): Playwright drives Debian's Chromium.

Two observers do a whole (small) experiment with scripted key presses and clicks, each reloading
the page in the middle: ``anna`` from ``file://`` (the page's CSV export is downloaded), ``ben``
through the collection server (each trial lands in the server's file as it is answered). The
analysis then runs on the two files and its numbers are checked against the scripted answers.
A screenshot of every screen is saved (``DDD_SCREENSHOTS=<dir>`` keeps them; default: a temp dir).

Needs ``/usr/bin/chromium`` (``.ci/browser-up.sh`` installs Debian's package with apt-get when it is
missing; Playwright's own browser downloads are never used) and the ``playwright`` package (the
``test`` extra). Where they cannot be had, the test is skipped with the reason, and in CI
(``CI=true``) it fails instead.
"""
from __future__ import annotations

import csv
import os
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ddd.psychophysics import analysis as A
from ddd.psychophysics import responses as R
from ddd.psychophysics import site as SITE
from ddd.psychophysics import stimuli as S
from ddd.psychophysics.server import make_server
from ddd.results.study import write_split

ROOT = Path(__file__).resolve().parents[1]
BROWSER_UP = ROOT / ".ci" / "browser-up.sh"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IN_CI = os.environ.get("CI", "").lower() in {"true", "1", "yes"}
GAUSS = {"name": "gaussian", "kind": "gaussian", "n_classes": 5, "image_size": 8, "train_per_class": 4,
         "val_per_class": 10, "seed": 1312}
N_MAIN, N_PRACTICE, BREAKS = 12, 2, 5
#: The scripted observers: the main pairs each answers wrongly, and the trials (1-based, in the
#: order shown) answered with a click instead of a key.
WRONG = {"anna": {"3", "8"}, "ben": {"3", "5", "11"}}
CLICKS = {"anna": {2, 9}, "ben": {1, 12}}
TIMEOUT_MS = 15_000


def _cannot_run(reason: str):
    if IN_CI:
        pytest.fail(f"the browser test must run in CI but cannot: {reason}")
    pytest.skip(f"browser test skipped: {reason}")


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    """A Playwright Chromium context on Debian's /usr/bin/chromium with a fresh profile."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _cannot_run("the Python package playwright is not installed (pip install -e '.[test]')")
    if not os.access(CHROMIUM, os.X_OK):
        res = subprocess.run(["bash", str(BROWSER_UP)], capture_output=True, text=True, timeout=900)
        if res.returncode == 2:
            _cannot_run(res.stderr.strip().splitlines()[-1] if res.stderr.strip() else "browser-up.sh: exit 2")
        assert res.returncode == 0, f"browser-up.sh failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1100, "height": 720}, accept_downloads=True)
        ctx.set_default_timeout(TIMEOUT_MS)
        try:
            yield ctx
        finally:
            ctx.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("experiment")
    ids = np.arange(50)
    cats = np.where(ids < 20, "trivial", np.where(ids < 40, "impossible", "in_between"))
    write_split(pd.DataFrame({"image_id": ids.astype(str), "target": ids // 10, "n_correct": 0, "strict": cats}),
                tmp / "split.tsv")
    S.write_stimuli(tmp / "split.tsv", GAUSS, tmp / "site", study="tiny", n_pairs=N_MAIN, n_practice=N_PRACTICE,
                    seed=2, breaks_every=BREAKS)
    return tmp / "site"


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = Path(os.environ.get("DDD_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _visible(page, screen: str) -> None:
    page.wait_for_selector(f"#screen-{screen}:not([hidden])", state="visible")


def _wait_ready(page) -> str:
    """Wait until a pair accepts a response, or a message / the end screen shows; return which."""
    page.wait_for_function("document.body.dataset.accepting === '1' || "
                           "!document.getElementById('screen-message').hidden || "
                           "!document.getElementById('screen-end').hidden")
    return page.evaluate("document.body.dataset.accepting === '1' ? 'trial' : "
                         "(document.getElementById('screen-end').hidden ? 'message' : 'end')")


def _answerer(page, manifest: pd.DataFrame):
    """``answer(pair, right, click)``: pick the impossible (or the other) image by key or click."""
    sides = manifest.set_index("pair")["impossible_side"]
    other = {"left": "right", "right": "left"}

    def answer(pair: str, right: bool, click: bool) -> None:
        side = sides[pair] if right else other[sides[pair]]
        if click:
            page.click(f"#stim-{side}")
        else:
            page.keyboard.press("ArrowLeft" if side == "left" else "ArrowRight")
    return answer


def _consent_and_practice(page, url: str, observer: str, answer, *, shots: Path, tag: str) -> None:
    """From the consent screen to the end of the practice (the first answer right, the second wrong)."""
    page.goto(url)
    _visible(page, "consent")
    assert page.input_value("#observer") == observer  # from ?observer=
    assert page.is_disabled("#consent-continue")  # not before consent is given
    page.screenshot(path=shots / f"{tag}-01-consent.png", full_page=True)
    page.check("#consent")
    page.click("#consent-continue")
    _visible(page, "instructions")
    page.screenshot(path=shots / f"{tag}-02-instructions.png", full_page=True)
    page.click("#instructions-continue")

    for k in range(N_PRACTICE):  # the first practice answer right, the second wrong: both feedbacks
        assert _wait_ready(page) == "trial"
        pair = page.get_attribute("#pair", "data-pair")
        assert pair == f"P{k + 1}" and page.text_content("#progress-text") == f"Practice {k + 1} of {N_PRACTICE}"
        if k == 0:
            page.screenshot(path=shots / f"{tag}-03-practice-trial.png")
        answer(pair, right=k == 0, click=False)
        page.wait_for_selector("#feedback.good" if k == 0 else "#feedback.bad")
        page.screenshot(path=shots / f"{tag}-04-practice-feedback-{'right' if k == 0 else 'wrong'}.png")
    assert _wait_ready(page) == "message"
    assert page.text_content("#message-title") == "Practice done"
    page.screenshot(path=shots / f"{tag}-05-practice-done.png")
    page.click("#message-continue")


def _reload_and_resume(page, observer: str, reload_after: int, *, shots: Path, tag: str) -> None:
    """Progress survives a reload: the page resumes after the last answered trial."""
    assert reload_after % BREAKS, "a reload at a break shows the break again, not the resume screen"
    page.reload()
    assert _wait_ready(page) == "message"
    assert page.text_content("#message-title") == f"Welcome back, {observer}"
    assert f"completed {reload_after} of {N_MAIN}" in page.text_content("#message-text")
    page.screenshot(path=shots / f"{tag}-08-resume.png")
    page.click("#message-continue")


def run_observer(page, url: str, observer: str, manifest: pd.DataFrame, *, shots: Path, tag: str, reload_after: int,
                 on_trial=None) -> list[str]:
    """Do the whole experiment as ``observer``; return the main pairs in the order shown."""
    answer = _answerer(page, manifest)
    _consent_and_practice(page, url, observer, answer, shots=shots, tag=tag)
    shown, breaks = [], 0
    while len(shown) < N_MAIN:
        what = _wait_ready(page)
        if what == "message":
            breaks += 1
            assert page.text_content("#message-title") == "Time for a short break"
            assert f"completed {len(shown)} of {N_MAIN}" in page.text_content("#message-text")
            if breaks == 1:
                page.screenshot(path=shots / f"{tag}-07-break.png")
            page.click("#message-continue")
            continue
        assert what == "trial"
        pair = page.get_attribute("#pair", "data-pair")
        assert page.get_attribute("#pair", "data-practice") == "0" and pair not in shown
        assert page.text_content("#progress-text") == f"Trial {len(shown) + 1} of {N_MAIN}"
        if len(shown) == 0:
            page.screenshot(path=shots / f"{tag}-06-trial.png")
        if on_trial:
            on_trial(len(shown) + 1)
        answer(pair, right=pair not in WRONG[observer], click=len(shown) + 1 in CLICKS[observer])
        shown.append(pair)
        if len(shown) == reload_after:
            _reload_and_resume(page, observer, reload_after, shots=shots, tag=tag)
    assert breaks == (N_MAIN - 1) // BREAKS  # after trials 5 and 10
    assert _wait_ready(page) == "end"
    return shown


def download_csv(page, path: Path) -> Path:
    with page.expect_download() as dl:
        page.click("#download")
    dl.value.save_as(path)
    return path


def expected(observer: str, pairs: list[str]) -> np.ndarray:
    return np.array([p not in WRONG[observer] for p in pairs])


def _observer_from_file(page, site: Path, manifest: pd.DataFrame, pairs: list[str], *, shots: Path,
                        tmp_path: Path) -> Path:
    """anna, from file://: no server, progress in localStorage, the CSV downloaded at the end."""
    shown = run_observer(page, (site / "index.html").as_uri() + "?observer=anna&iti=0&feedback=1200", "anna",
                         manifest, shots=shots, tag="file", reload_after=7)
    assert page.get_attribute("body", "data-mode") == "local"
    assert sorted(shown, key=int) == pairs and shown != pairs  # every pair once, in a shuffled order
    assert "kept in this browser" in page.text_content("#end-server")
    page.screenshot(path=shots / "file-09-end.png")
    anna = download_csv(page, tmp_path / "anna.csv")
    df = R.read_responses(anna)
    assert len(df) == N_PRACTICE + N_MAIN and df["practice"].sum() == N_PRACTICE
    assert list(df.loc[~df["practice"], "pair"]) == shown and list(df["trial"]) == [1, 2] + list(range(1, 13))
    assert (df["rt_ms"] > 0).all() and df["observer"].eq("anna").all() and df["session"].nunique() == 1
    assert list(df.loc[df["practice"], "correct"]) == [True, False]
    return anna


def _observer_through_server(page, site: Path, manifest: pd.DataFrame, pairs: list[str], *, shots: Path,
                             tmp_path: Path) -> Path:
    """ben, through the collection server: every trial on disk as it is answered."""
    srv = make_server(site, responses_dir=tmp_path / "collected", port=0, quiet=True)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    server_file = tmp_path / "collected" / "ben.csv"

    def rows_on_disk() -> int:
        with open(server_file, newline="") as fh:
            return len(list(csv.reader(fh))) - 1

    def check_saved(k: int) -> None:  # before main trial k: the practice and k - 1 main trials are on disk
        end = time.monotonic() + 10
        while rows_on_disk() != N_PRACTICE + k - 1 and time.monotonic() < end:
            time.sleep(0.05)
        assert rows_on_disk() == N_PRACTICE + k - 1
        if k == 2:  # the page on a phone-sized screen
            page.set_viewport_size({"width": 420, "height": 760})
            page.screenshot(path=shots / "server-06-trial-narrow.png")
            page.set_viewport_size({"width": 1100, "height": 720})

    try:
        run_observer(page, srv.url + "index.html?observer=ben&iti=0&feedback=1200", "ben", manifest,
                     shots=shots, tag="server", reload_after=4, on_trial=check_saved)
        assert page.get_attribute("body", "data-mode") == "server"
        page.wait_for_function("document.getElementById('end-server').classList.contains('ok')")
        assert page.text_content("#end-server") == (f"All your answers ({N_PRACTICE + N_MAIN}, with the practice) are "
                                                     "saved on the experimenter's computer.")
        page.screenshot(path=shots / "server-09-end.png")
        ben_download = download_csv(page, tmp_path / "ben-download.csv")
    finally:
        srv.shutdown()
        srv.server_close()
    assert rows_on_disk() == N_PRACTICE + N_MAIN
    on_disk, exported = R.read_responses(server_file), R.read_responses(ben_download)
    cols = ["session", "trial", "pair", "practice", "response", "correct", "rt_ms", "timestamp"]
    pd.testing.assert_frame_equal(on_disk[cols], exported[cols])  # the server's file = the page's export
    assert sorted(on_disk.loc[~on_disk["practice"], "pair"], key=int) == pairs
    return server_file


def _check_analysis(files: list[Path], site: Path, pairs: list[str], tmp_path: Path) -> None:
    """The analysis of the two observers' files, against the scripted answers."""
    out = {k: tmp_path / "analysis" / f for k, f in dict(
        summary_csv="s.csv", summary_md="s.md", observers_csv="o.csv", observers_md="o.md", kappa_csv="k.csv",
        png="f.png", pdf="f.pdf").items()}
    summary = A.analyse(files, site / "manifest.csv", study="tiny", **out)
    obs = pd.read_csv(out["observers_csv"]).set_index("observer")
    assert obs.loc["anna", "n_correct"] == 10 and obs.loc["ben", "n_correct"] == 9
    assert obs.loc["anna", "p_value"] == pytest.approx(stats.binom.sf(9, 12, 0.5))  # 79 / 4096
    assert obs.loc["ben", "p_value"] == pytest.approx(299 / 4096)
    assert summary["accuracy_mean"] == pytest.approx(19 / 24)
    a, b = expected("anna", pairs), expected("ben", pairs)
    c_obs, c_exp = (a == b).mean(), a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean())
    assert (c_obs, c_exp) == pytest.approx((9 / 12, 96 / 144))
    assert summary["kappa_mean"] == pytest.approx((c_obs - c_exp) / (1 - c_exp)) == pytest.approx(0.25)
    assert summary["n_kappa_pairs"] == 1


def test_whole_experiment_from_file_and_through_the_server(chromium, site, shots, tmp_path):
    manifest = SITE.read_manifest(site / "manifest.csv")
    pairs = manifest.loc[~manifest["practice"], "pair"].tolist()
    page = chromium.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: d.accept())
    anna = _observer_from_file(page, site, manifest, pairs, shots=shots, tmp_path=tmp_path)
    page.click("#restart")  # a new observer in the same browser starts from the consent screen
    _visible(page, "consent")
    ben = _observer_through_server(page, site, manifest, pairs, shots=shots, tmp_path=tmp_path)
    assert not errors, errors
    _check_analysis([anna, ben], site, pairs, tmp_path)
    for name in ("consent", "instructions", "practice-trial", "practice-feedback-right", "practice-feedback-wrong",
                 "practice-done", "trial", "break", "resume", "end"):
        assert len(list(shots.glob(f"*-[0-9][0-9]-{name}.png"))) == 2, name
    print(f"screenshots in {shots}")
