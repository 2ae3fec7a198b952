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
def browser():
    """Playwright's Chromium on Debian's /usr/bin/chromium (each context a fresh profile)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _cannot_run("the Python package playwright is not installed (pip install -e '.[test]')")
    if not os.access(CHROMIUM, os.X_OK):
        res = subprocess.run(["bash", str(BROWSER_UP)], capture_output=True, text=True, timeout=900)
        if res.returncode == 2:
            _cannot_run(res.stderr.strip().splitlines()[-1] if res.stderr.strip() else "browser-up.sh: exit 2")
        assert res.returncode == 0, f"browser-up.sh failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def new_context(browser, **kwargs):
    ctx = browser.new_context(**{"viewport": {"width": 1100, "height": 720}, "accept_downloads": True, **kwargs})
    ctx.set_default_timeout(TIMEOUT_MS)
    return ctx


@pytest.fixture
def chromium(browser):
    """A fresh browser context (its own localStorage), 1100 x 720."""
    ctx = new_context(browser)
    try:
        yield ctx
    finally:
        ctx.close()


def make_site(tmp: Path, study: str = "tiny", timing: dict | None = None) -> Path:
    """A tiny experiment site (N_MAIN pairs, N_PRACTICE practice pairs, 224-px images) in ``tmp/site``."""
    ids = np.arange(50)
    cats = np.where(ids < 20, "trivial", np.where(ids < 40, "impossible", "in_between"))
    write_split(pd.DataFrame({"image_id": ids.astype(str), "target": ids // 10, "n_correct": 0, "strict": cats}),
                tmp / "split.tsv")
    S.write_stimuli(tmp / "split.tsv", GAUSS, tmp / "site", study=study, n_pairs=N_MAIN, n_practice=N_PRACTICE,
                    seed=2, breaks_every=BREAKS, timing=timing)
    return tmp / "site"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return make_site(tmp_path_factory.mktemp("experiment"))


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
        if k == 2:  # a phone-sized window: no rescaled images, a message until the window is large enough
            page.set_viewport_size({"width": 420, "height": 760})
            page.wait_for_selector("#screen-small:not([hidden])")
            assert page.get_attribute("body", "data-accepting") is None
            page.screenshot(path=shots / "server-06-trial-narrow.png")
            page.set_viewport_size({"width": 1100, "height": 720})
            assert _wait_ready(page) == "trial"

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
    cols = ["session", "trial", "pair", "practice", "response", "correct", "rt_ms", "timestamp", "stimulus_ms",
            "max_response_ms", "timeouts"]
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
    page.click("#restart")  # a new observer in the same browser: asked first, then the consent screen
    _visible(page, "switch")
    page.click("#switch-new")  # anna's responses were downloaded: no question
    _visible(page, "consent")
    ben = _observer_through_server(page, site, manifest, pairs, shots=shots, tmp_path=tmp_path)
    assert not errors, errors
    _check_analysis([anna, ben], site, pairs, tmp_path)
    for name in ("consent", "instructions", "practice-trial", "practice-feedback-right", "practice-feedback-wrong",
                 "practice-done", "trial", "break", "resume", "end"):
        assert len(list(shots.glob(f"*-[0-9][0-9]-{name}.png"))) == 2, name
    print(f"screenshots in {shots}")


# ---------------------------------------------------------------------------------------------
# Bad input and faults (issue 18)


def _start_server(site: Path, responses: Path, port: int = 0):
    srv = make_server(site, responses_dir=responses, port=port, quiet=True)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return srv


def _stop_server(srv) -> None:
    srv.shutdown()
    srv.server_close()


def _watch(page) -> list[str]:
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def _begin(page, url: str, observer: str, *, practice_right=(True, False), click=False) -> None:
    """Consent, instructions and the practice (answers as given), up to the first main trial."""
    answer = _answerer(page, SITE.read_manifest(_site_of(url) / "manifest.csv"))
    page.goto(url)
    _visible(page, "consent")
    page.fill("#observer", observer)
    page.check("#consent")
    page.click("#consent-continue")
    _visible(page, "instructions")
    page.click("#instructions-continue")
    for right in practice_right:
        assert _wait_ready(page) == "trial"
        answer(page.get_attribute("#pair", "data-pair"), right=right, click=click)
    assert _wait_ready(page) == "message"
    page.click("#message-continue")


def _site_of(url: str) -> Path:
    if url.startswith("file://"):
        return Path(url.split("?")[0].removeprefix("file://")).parent
    return _SERVED[url.split("index.html")[0]]


_SERVED: dict[str, Path] = {}


def _main_trials(page, url: str, n: int, *, observer: str, on_response_screen: bool = False) -> list[str]:
    """Answer the next ``n`` main trials (by key; breaks passed; with ``on_response_screen`` only once
    the images are gone); return their pairs."""
    answer = _answerer(page, SITE.read_manifest(_site_of(url) / "manifest.csv"))
    shown = []
    while len(shown) < n:
        what = _wait_ready(page)
        if what == "message":
            page.click("#message-continue")
            continue
        assert what == "trial"
        pair = page.get_attribute("#pair", "data-pair")
        if on_response_screen:
            page.wait_for_selector("#pair.masked")
        answer(pair, right=pair not in WRONG.get(observer, set()), click=False)
        shown.append(pair)
    return shown


def _saved(page) -> dict:
    return page.evaluate("Object.keys(localStorage).filter(k => !k.endsWith(':active-tab'))"
                         ".map(k => JSON.parse(localStorage.getItem(k)))[0]")


def test_server_outage_mid_block_loses_nothing(browser, tmp_path, shots):
    """The server stops after main trial 3 and comes back after trial 6: the trials go on (images
    preloaded), a line says the connection is lost, and every answer lands in the server's file."""
    site = make_site(tmp_path, study="outage")
    responses = tmp_path / "collected"
    srv = _start_server(site, responses)
    port = srv.server_address[1]
    url = srv.url + "index.html?iti=0&feedback=300"
    _SERVED[srv.url] = site
    ctx = new_context(browser)
    page = ctx.new_page()
    errors = _watch(page)
    try:
        _begin(page, url, "cat")
        page.wait_for_function(f"performance.getEntriesByType('resource').filter(e => e.name.includes('/images/'))"
                               f".length >= {2 * (N_MAIN + N_PRACTICE)}")
        shown = _main_trials(page, url, 3, observer="cat")
        page.wait_for_function("document.body.dataset.connection === 'ok'")
        _stop_server(srv)
        shown += _main_trials(page, url, 3, observer="cat")
        page.wait_for_selector("#connection:not([hidden])")
        assert "Connection lost" in page.text_content("#connection")
        assert page.get_attribute("body", "data-connection") == "lost"
        assert page.get_attribute("body", "data-screen") == "trial" and _wait_ready(page) in ("trial", "message")
        page.screenshot(path=shots / "fault-connection-lost.png")
        assert len(_saved(page)["pending"]) >= 3
        srv = _start_server(site, responses, port=port)  # back on the same port
        page.wait_for_function("document.body.dataset.connection === 'ok'", timeout=15_000)
        assert page.is_hidden("#connection")
        shown += _main_trials(page, url, N_MAIN - 6, observer="cat")
        assert _wait_ready(page) == "end"
        page.wait_for_function("document.getElementById('end-server').classList.contains('ok')")
    finally:
        _stop_server(srv)
        ctx.close()
    df = R.read_responses(responses / "cat.csv")
    assert len(df) == N_PRACTICE + N_MAIN and list(df.loc[~df["practice"], "pair"]) == shown
    assert not errors, errors


def test_images_unreachable_wait_and_a_missing_file_is_named(browser, tmp_path, shots):
    """Images that cannot be fetched (connection refused) make the page wait and go on by itself; only
    a file that is really missing (404) blames the experiment folder."""
    site = make_site(tmp_path, study="waiting")
    srv = _start_server(site, tmp_path / "collected")
    _SERVED[srv.url] = site
    url = srv.url + "index.html?iti=0&feedback=300"
    ctx = new_context(browser)
    page = ctx.new_page()
    errors = _watch(page)
    try:
        page.route("**/images/**", lambda route: route.abort("connectionrefused"))  # the server unreachable
        page.route("**/images/P2-L.png*", lambda route: route.fulfill(status=404, body="not found"))  # gone
        page.goto(url)
        _visible(page, "consent")
        page.fill("#observer", "dan")
        page.check("#consent")
        page.click("#consent-continue")
        page.click("#instructions-continue")
        _visible(page, "waiting")
        assert "Connection to the experimenter's computer lost" in page.text_content("#waiting-text")
        assert page.get_attribute("body", "data-connection") == "lost"
        page.screenshot(path=shots / "fault-waiting.png")
        time.sleep(2.5)  # still waiting, not blaming the folder
        assert page.get_attribute("body", "data-screen") == "waiting"
        page.unroute("**/images/**")  # the connection is back: the trial goes on by itself
        assert _wait_ready(page) == "trial" and page.get_attribute("#pair", "data-pair") == "P1"
        page.keyboard.press("ArrowLeft")
        _visible(page, "error")  # P2-L.png answers 404: really missing, named
        text = page.text_content("#error-text")
        assert "images/P2-L.png" in text and "experiment folder" in text
        assert len(R.read_responses(tmp_path / "collected" / "dan.csv")) == 1  # the answer before it is kept
    finally:
        _stop_server(srv)
        ctx.close()
    assert not errors, errors


def test_missing_image_file_blames_the_folder(browser, tmp_path):
    """From file:// a missing image is a missing file: the error names it and the folder."""
    site = make_site(tmp_path, study="missing")
    (site / "images" / "P1-R.png").unlink()
    ctx = new_context(browser)
    page = ctx.new_page()
    try:
        page.goto((site / "index.html").as_uri() + "?observer=eli&iti=0")
        page.check("#consent")
        page.click("#consent-continue")
        page.click("#instructions-continue")
        _visible(page, "error")
        text = page.text_content("#error-text")
        assert "images/P1-R.png" in text and "experiment folder" in text
    finally:
        ctx.close()


def test_two_tabs_one_active_nothing_lost(browser, site, tmp_path, shots):
    """A second tab of the same experiment takes over; the first says so and refuses answers; going
    back to the first takes over again; every pair is answered once and nothing is lost."""
    url = (site / "index.html").as_uri() + "?iti=0&feedback=300"
    ctx = new_context(browser)
    first = ctx.new_page()
    errors = _watch(first)
    try:
        _begin(first, url, "eve")
        shown = _main_trials(first, url, 2, observer="eve")
        second = ctx.new_page()
        errors += _watch(second)
        second.goto(url)
        first.wait_for_selector("#screen-elsewhere:not([hidden])")
        first.screenshot(path=shots / "fault-other-tab.png")
        assert _wait_ready(second) == "message" and second.text_content("#message-title") == "Welcome back, eve"
        assert "completed 2 of" in second.text_content("#message-text")
        first.keyboard.press("ArrowLeft")  # ignored: this tab is not active
        second.click("#message-continue")
        shown += _main_trials(second, url, 2, observer="eve")
        first.bring_to_front()
        first.click("#elsewhere-here")  # the first tab again: the second stops
        second.wait_for_selector("#screen-elsewhere:not([hidden])")
        assert _wait_ready(first) == "message" and "completed 4 of" in first.text_content("#message-text")
        first.click("#message-continue")
        shown += _main_trials(first, url, N_MAIN - 4, observer="eve")
        assert _wait_ready(first) == "end"
        df = R.read_responses(download_csv(first, tmp_path / "eve.csv"))
    finally:
        ctx.close()
    assert len(df) == N_PRACTICE + N_MAIN and list(df.loc[~df["practice"], "pair"]) == shown
    assert sorted(shown, key=int) == sorted({*shown}, key=int)  # each pair once
    assert not errors, errors


def test_another_observer_is_asked_before_anything_is_resumed(browser, site, tmp_path, shots):
    url = (site / "index.html").as_uri() + "?iti=0&feedback=300"
    ctx = new_context(browser)
    page = ctx.new_page()
    errors = _watch(page)
    dialogs = []

    def on_dialog(d):
        dialogs.append(d.message)
        d.dismiss()
    page.on("dialog", on_dialog)
    try:
        _begin(page, url, "fay")
        _main_trials(page, url, 3, observer="fay")
        page.goto(url + "&observer=gus")
        _visible(page, "switch")
        text = page.text_content("#switch-text")
        assert "fay" in text and "gus" in text and "3 of 12" in text
        assert "Welcome" not in page.text_content("body")
        page.screenshot(path=shots / "fault-observer-switch.png")
        page.click("#switch-continue")  # fay goes on
        assert _wait_ready(page) == "message" and page.text_content("#message-title") == "Welcome back, fay"
        page.goto(url + "&observer=gus")
        _visible(page, "switch")
        page.click("#switch-new")  # not downloaded: asked, and dismissed
        assert len(dialogs) == 1 and "not downloaded" in dialogs[0]
        assert page.get_attribute("body", "data-screen") == "switch"
        with page.expect_download() as dl:
            page.click("#switch-download")
        dl.value.save_as(tmp_path / "fay.csv")
        assert len(R.read_responses(tmp_path / "fay.csv")) == N_PRACTICE + 3
        page.click("#switch-new")
        _visible(page, "consent")
        assert page.input_value("#observer") == "gus" and len(dialogs) == 1
    finally:
        ctx.close()
    assert not errors, errors


_CONTRAST = """() => {
  function lum(c) {
    const v = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(x => x / 255)
      .map(x => x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4));
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
  }
  function bg(el) {
    for (; el; el = el.parentElement) {
      const c = getComputedStyle(el).backgroundColor;
      const a = c.match(/[\\d.]+/g);
      if (a && (a.length < 4 || Number(a[3]) > 0.99)) { return c; }
    }
    return "rgb(255, 255, 255)";
  }
  const out = {};
  for (const sel of [".question", "#progress-text", "#feedback", ".hints span", ".touch-hint", "#mark-left",
                     "#mark-right", "#connection", "#response-prompt"]) {
    const el = document.querySelector(sel);
    if (!el || !el.textContent.trim() || el.offsetParent === null) { continue; }
    const a = lum(getComputedStyle(el).color), b = lum(bg(el));
    out[sel] = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  }
  return out;
}"""


def _feedback_check(page, side_wrong: str, side_right: str) -> None:
    """The wrong choice: red dashed border and a cross; the right image: green solid and a tick."""
    page.wait_for_selector("#feedback.bad")
    style = page.evaluate("s => { const c = getComputedStyle(document.getElementById('stim-' + s)); "
                          "return [c.borderTopColor, c.borderTopStyle]; }", side_wrong)
    assert style == ["rgb(255, 107, 97)", "dashed"], style
    good = page.evaluate("s => { const c = getComputedStyle(document.getElementById('stim-' + s)); "
                         "return [c.borderTopColor, c.borderTopStyle]; }", side_right)
    assert good == ["rgb(73, 209, 122)", "solid"], good
    assert page.text_content(f"#mark-{side_wrong}").startswith("\u2717")
    assert page.text_content(f"#mark-{side_right}").startswith("\u2713")
    assert page.text_content("#feedback").startswith("\u2717")
    ratios = page.evaluate(_CONTRAST)
    assert {"#feedback", ".question", "#progress-text", f"#mark-{side_wrong}"} <= set(ratios), ratios
    assert all(r >= 4.5 for r in ratios.values()), ratios  # WCAG AA for normal text


@pytest.mark.parametrize("how", ["mouse", "touch"])
def test_feedback_shows_for_mouse_and_touch(browser, site, shots, how):
    """A wrong practice answer by mouse (still hovering) or touch: the feedback border, not the hover
    colour; a tick and a cross besides the colours; text contrast at least 4.5:1 (WCAG AA)."""
    ctx = new_context(browser, **({"has_touch": True, "is_mobile": False} if how == "touch" else {}))
    page = ctx.new_page()
    errors = _watch(page)
    try:
        manifest = SITE.read_manifest(site / "manifest.csv").set_index("pair")
        page.goto((site / "index.html").as_uri() + f"?observer={how}&iti=0&feedback=60000")
        page.check("#consent")
        page.click("#consent-continue")
        page.click("#instructions-continue")
        assert _wait_ready(page) == "trial"
        assert all(r >= 4.5 for r in page.evaluate(_CONTRAST).values())
        right = manifest.loc[page.get_attribute("#pair", "data-pair"), "impossible_side"]
        wrong = {"left": "right", "right": "left"}[right]
        if how == "touch":
            page.tap(f"#stim-{wrong}")
        else:
            page.click(f"#stim-{wrong}")
            page.hover(f"#stim-{wrong}")
        _feedback_check(page, wrong, right)
        page.screenshot(path=shots / f"fault-feedback-{how}.png")
    finally:
        ctx.close()
    assert not errors, errors


def test_small_window_refuses_instead_of_rescaling(browser, site, shots):
    """390 x 844: a message instead of the trial (never smaller images); enlarged, the trial shows the
    images at exactly 224 CSS pixels; made small during a trial, the message comes back."""
    ctx = new_context(browser, viewport={"width": 390, "height": 844})
    page = ctx.new_page()
    errors = _watch(page)
    try:
        page.goto((site / "index.html").as_uri() + "?observer=hal&iti=0")
        page.check("#consent")
        page.click("#consent-continue")
        page.click("#instructions-continue")
        _visible(page, "small")
        small = page.text_content("#small-text")
        assert "224 \u00d7 224" in small and "390 \u00d7 844" in small
        page.screenshot(path=shots / "fault-small-window.png")
        time.sleep(0.5)
        assert page.get_attribute("body", "data-accepting") is None
        page.set_viewport_size({"width": 1100, "height": 720})
        assert _wait_ready(page) == "trial"
        sizes = page.evaluate("['left', 'right'].map(s => { const i = document.getElementById('img-' + s), "
                              "r = i.getBoundingClientRect(); return [r.width, r.height, i.naturalWidth]; })")
        assert sizes == [[224, 224, 224], [224, 224, 224]]  # one CSS pixel per image pixel, as written
        page.set_viewport_size({"width": 500, "height": 720})
        _visible(page, "small")
        assert page.get_attribute("body", "data-accepting") is None
    finally:
        ctx.close()
    assert not errors, errors


FRAME_MS = 1000 / 60


def test_timing_keys_are_honoured(browser, tmp_path, shots):
    """ITI, fixation and stimulus duration measured in the page: within one frame at 60 Hz of the
    configured values; the response screen after the images; a trial left unanswered past
    max_response_ms comes again at the end of its block; fullscreen is asked for; every pair answered
    exactly once in the CSV."""
    timing = {"iti_ms": 400, "fixation_ms": 300, "fixation_mark": "+", "stimulus_ms": 250, "max_response_ms": 2000,
              "fullscreen": True}
    site = make_site(tmp_path, study="timing", timing=timing)
    ctx = new_context(browser)
    page = ctx.new_page()
    errors = _watch(page)
    try:
        url = (site / "index.html").as_uri() + "?feedback=1500"
        _begin(page, url, "ivy")
        assert page.get_attribute("body", "data-fullscreen") in ("requested", "refused")
        assert page.text_content("#fixation") == "+"  # shown before each pair (measured in DDD_TIMING below)
        assert _wait_ready(page) == "trial"
        late = page.get_attribute("#pair", "data-pair")  # left unanswered
        page.wait_for_selector("#pair.masked")  # after 250 ms: the response screen
        assert page.is_visible("#response-prompt") and page.get_attribute("body", "data-accepting") == "1"
        page.screenshot(path=shots / "timing-response-screen.png")
        page.wait_for_function(f"document.getElementById('feedback').classList.contains('late') || "
                               f"(document.body.dataset.accepting === '1' && "
                               f"document.getElementById('pair').dataset.pair !== '{late}')", timeout=8000)
        if "late" in page.get_attribute("#feedback", "class"):
            assert page.text_content("#feedback").startswith("\u23f1 Too slow")
            page.screenshot(path=shots / "timing-too-slow.png")
        assert _saved(page)["timeouts"] == 1
        shown = _main_trials(page, url, N_MAIN, observer="ivy", on_response_screen=True)
        assert shown[-1] == late and shown.count(late) == 1
        assert _wait_ready(page) == "end"
        log = page.evaluate("window.DDD_TIMING")
        df = R.read_responses(download_csv(page, tmp_path / "ivy.csv"))
    finally:
        ctx.close()
    assert sorted(df.loc[~df["practice"], "pair"], key=int) == sorted(shown, key=int) and len(set(shown)) == N_MAIN
    # every row: the settings in force and how often its pair timed out before the answer
    main = df[~df["practice"]]
    assert (df["stimulus_ms"] == 250).all() and (df["max_response_ms"] == 2000).all()
    assert main.loc[main["pair"] == late, "timeouts"].tolist() == [1] and df["timeouts"].sum() == 1
    assert A.response_matrix([tmp_path / "ivy.csv"], site / "manifest.csv")[0].shape == (1, N_MAIN)
    assert [r["pair"] for r in log].count(late) == 2 and len(log) == N_PRACTICE + N_MAIN + 1, log  # late: twice
    for key, want in (("iti_ms", 400), ("fixation_ms", 300), ("stimulus_ms", 250)):
        got = np.array([r[key] for r in log if key in r])
        assert len(got) >= N_MAIN, key
        assert np.all(np.abs(got - want) <= FRAME_MS + 0.5), (key, got)
    assert not errors, errors


def test_invalid_observer_id_says_why(browser, site, shots):
    """Continue stays disabled for an invalid observer id, and the reason is shown next to the field."""
    ctx = new_context(browser)
    page = ctx.new_page()
    try:
        page.goto((site / "index.html").as_uri() + "?observer=obs%2001!")
        _visible(page, "consent")
        page.check("#consent")
        assert page.is_disabled("#consent-continue")
        reason = page.text_content("#observer-error")
        assert "spaces" in reason and "\u201c!\u201d" in reason
        assert "observer-error" in page.get_attribute("#observer", "aria-describedby")
        page.screenshot(path=shots / "fault-invalid-observer.png")
        for text, why in (("-obs", "must start with a letter or a digit"),
                          ("obs/1", "Not allowed in an ID: \u201c/\u201d"),
                          ("", "Enter the observer ID")):
            page.fill("#observer", text)
            assert why in page.text_content("#observer-error") and page.is_disabled("#consent-continue")
        page.fill("#observer", "obs01")
        assert page.text_content("#observer-error") == "" and page.is_enabled("#consent-continue")
        page.uncheck("#consent")
        assert "Tick the box" in page.text_content("#observer-error") and page.is_disabled("#consent-continue")
    finally:
        ctx.close()
