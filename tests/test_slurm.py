"""The SLURM profile against a real Slurm (issue 7).

`.ci/slurm-up.sh` brings up a single-node Slurm 22.05 from Debian's packages (munge, MariaDB +
slurmdbd accounting, slurmctld, slurmd, two fake GPUs); `.ci/slurm-down.sh` stops every daemon by
the PID it recorded, also when a test fails. Then, at the same time:

* the tiny config runs through ``--profile profiles/slurm`` (every job a Slurm job);
* the time-limit config runs through the same profile with a 1-minute runtime for training: Slurm
  kills the job, Snakemake resubmits it (``retries``) and it resumes from its checkpoint;
* both configs are trained locally, uninterrupted (the references).

The tests check from ``sacct`` that every job ran as a Slurm job (its rule inside a job step)
with the CPUs, memory, time limit and GPUs its rule asked for, that the results equal the local
ones bit for bit, and that bad requests fail fast with Slurm's message.

Needs root and apt-get (or Slurm already installed); otherwise skipped with the reason, and in CI
(``CI=true``) failed instead. Adds about 3 minutes (2 cores).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from ddd.decisions import read_decisions

ROOT = Path(__file__).resolve().parents[1]
SNAKEFILE = ROOT / "workflow" / "Snakefile"
PROFILE = ROOT / "profiles" / "slurm"
TINY = ROOT / ".test" / "config" / "config.yaml"
TIMELIMIT = ROOT / ".test" / "config" / "slurm-timelimit.yaml"
UP, DOWN = ROOT / ".ci" / "slurm-up.sh", ROOT / ".ci" / "slurm-down.sh"
IN_CI = os.environ.get("CI", "").lower() in {"true", "1", "yes"}
# The CI cluster's account (created by slurm-up.sh) and partition, as a user would set them.
SLURM_ENV = {"DDD_SLURM_ACCOUNT": "ciacct", "DDD_SLURM_PARTITION": "debug"}
RUN_LIMIT_S = 600     # `timeout -k` around every Snakemake call: a hang fails the test, not CI
FIRST_CHECK_S = 2     # the plugin's first status check (the profile's 20 s is for real clusters)

def _cannot_run(reason: str):
    if IN_CI:
        pytest.fail(f"the Slurm test must run in CI but cannot: {reason}")
    pytest.skip(f"Slurm test skipped: {reason}")


def _sh(*cmd, timeout=60, check=True) -> str:
    res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} -> {res.returncode}\n{res.stdout}\n{res.stderr}")
    return res.stdout


def _daemon_logs() -> str:
    out = []
    for name in ("slurmctld", "slurmd", "slurmdbd"):
        p = Path(f"/var/log/slurm/{name}.log")
        if p.exists():
            out.append(f"== {p} (tail)\n" + "\n".join(p.read_text(errors="replace").splitlines()[-15:]))
    return "\n".join(out)


@pytest.fixture(scope="module")
def slurm():
    """A running single-node Slurm; every daemon is stopped by PID afterwards, whatever happens."""
    if os.geteuid() != 0:
        _cannot_run("needs root (installs Debian's Slurm packages, starts munged/slurmdbd/slurmctld/slurmd)")
    if not shutil.which("apt-get") and not shutil.which("slurmctld"):
        _cannot_run("Slurm is not installed and there is no apt-get to install it")
    t0 = time.monotonic()
    try:
        res = subprocess.run(["bash", str(UP)], capture_output=True, text=True, timeout=600)
        if res.returncode == 2:
            _cannot_run(res.stderr.strip().splitlines()[-1] if res.stderr.strip() else "slurm-up.sh said so")
        assert res.returncode == 0, f"slurm-up.sh failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
        print(res.stdout)
        yield {"up_s": time.monotonic() - t0}
    finally:
        subprocess.run(["bash", str(DOWN)], timeout=120)


class _Proc:
    """A background command whose output goes to a file; `wait` returns (rc, output)."""

    def __init__(self, cmd, log: Path, cwd=ROOT, env=None):
        self.cmd, self.log = [str(c) for c in cmd], log
        self.t0 = time.monotonic()
        self._fh = open(log, "w")
        self.p = subprocess.Popen(self.cmd, cwd=cwd, env={**os.environ, **(env or {})},
                                  stdout=self._fh, stderr=subprocess.STDOUT, text=True)
        self.seconds = None

    def wait(self, timeout=RUN_LIMIT_S + 60):
        try:
            rc = self.p.wait(timeout=timeout)
        finally:
            if self.p.poll() is None:
                self.p.kill()
            self._fh.close()
        if self.seconds is None:
            self.seconds = time.monotonic() - self.t0
        return rc, self.log.read_text(errors="replace")


def _snakemake(workdir: Path, config: Path, *args, profile=PROFILE, limit=RUN_LIMIT_S, threads="train_run=1"):
    """A Snakemake call through a Slurm profile, killed (-k) if it outlives `limit`.

    CI-only settings on the command line: training with 1 thread (the CI node has 2 CPUs, and on
    a CPU the decisions depend on the thread count, so a local run with the rule's 1 thread is
    the reference), and a first status check after 2 s instead of the profile's 20."""
    return ["timeout", "-k", "10", str(limit), sys.executable, "-m", "snakemake", "-s", SNAKEFILE,
            "--directory", workdir, "--configfile", config, "--profile", profile,
            "--workflow-profile", "none", "--set-threads", *threads.split(),
            "--slurm-init-seconds-before-status-checks", str(FIRST_CHECK_S), *args]


def _workdir(path: Path, config: Path) -> tuple[Path, Path]:
    (path / "config").mkdir(parents=True)
    shutil.copy(config, path / "config" / config.name)
    return path, path / "config" / config.name


def _profile(path: Path, **changes) -> Path:
    """A copy of profiles/slurm with some top-level keys or train_run resources changed."""
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    for key, value in changes.items():
        if key == "train_run":
            profile["set-resources"]["train_run"].update(value)
        else:
            profile[key] = value
    path.mkdir(parents=True)
    (path / "config.yaml").write_text(yaml.safe_dump(profile))
    return path


REFERENCE = """
import sys, yaml
sys.path.insert(0, sys.argv[1])
from ddd.config import resolve_config
from ddd.train import train_run
out = sys.argv[2]
for config in sys.argv[3:]:
    cfg = resolve_config(yaml.safe_load(open(config)))
    for study in cfg.studies:
        for run in cfg.runs(study):
            p = f"{out}/{study}/runs/{run.path}"
            train_run(cfg.recipe(study, run.condition, run.instance), cfg.dataset(study),
                      output=p + ".h5", network_output=p + ".pt", checkpoint_dir=p + ".ckpt",
                      device=cfg.device, threads=1, progress=False)
"""


def _reference(out: Path, *configs: Path) -> list:
    """Train every run of the configs locally and uninterrupted, with the rule's parameters
    (ddd.config gives them; threads 1 as in a local run), in one process."""
    return [sys.executable, "-c", REFERENCE, ROOT / "src", out, *configs]


@pytest.fixture(scope="module")
def runs(slurm, tmp_path_factory):
    """Run everything at once: the tiny config through the profile; the time-limit config first
    with a 1-minute training runtime (killed), then again as a user would (resumes); the local
    references. The time-limit runs use the CI cluster's `priority` partition so that their jobs
    do not queue behind the tiny run's 16."""
    base = tmp_path_factory.mktemp("slurm")
    tiny, tiny_cfg = _workdir(base / "tiny", TINY)
    tl, tl_cfg = _workdir(base / "timelimit", TIMELIMIT)
    tl_env = {**SLURM_ENV, "DDD_SLURM_PARTITION": "priority"}
    too_short = _profile(base / "profile-1min", train_run={"runtime": 1}, retries=0)
    t0 = time.monotonic()
    killed = _Proc(_snakemake(tl, tl_cfg, profile=too_short), base / "timelimit-1.log", env=tl_env)
    procs = {
        "tiny": _Proc(_snakemake(tiny, tiny_cfg, threads="train_run=1 summarize_study=2"),
                      base / "tiny.log", env=SLURM_ENV),
        "reference": _Proc(_reference(base / "local", TIMELIMIT, TINY), base / "reference.log"),
    }
    out = {"killed": (*killed.wait(), killed.seconds)}
    checkpoints = sorted(p.name for p in (tl / "checkpoints").rglob("epoch_*.pt"))
    again = _Proc(_snakemake(tl, tl_cfg), base / "timelimit-2.log", env=tl_env)
    out["resumed"] = (*again.wait(), again.seconds)
    out.update({name: (*p.wait(), p.seconds) for name, p in procs.items()})
    times = {name: round(s) for name, (_, _, s) in out.items()}
    print(f"seconds: slurm-up {slurm['up_s']:.1f}, runs {times}, all runs {time.monotonic() - t0:.0f}")
    return {"tiny": tiny, "timelimit": tl, "local": base / "local", "checkpoints_after_kill": checkpoints,
            **out}


def _ok(runs, name):
    rc, log, _ = runs[name]
    assert rc == 0, f"{name} run failed (rc {rc}; 124/137 = killed by timeout):\n{log[-6000:]}\n{_daemon_logs()}"
    return log


def _snakemake_jobs(log: str) -> dict:
    """Snakemake's jobs in a run log: SLURM job id -> {rule, wildcards, threads, resources}."""
    jobs, slurm_ids = {}, {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", log):
        m = re.match(r"(?:local)?rule (\w+):\n", block)
        if not m:
            continue
        jobid = re.search(r"^\s+jobid: (\d+)$", block, re.M)
        if not jobid:
            continue
        wildcards = re.search(r"^\s+wildcards: (.*)$", block, re.M)
        threads = re.search(r"^\s+threads: (\d+)$", block, re.M)
        resources = re.search(r"^\s+resources: (.*)$", block, re.M)
        jobs[int(jobid.group(1))] = {
            "rule": m.group(1),
            "wildcards": dict(kv.split("=", 1) for kv in wildcards.group(1).split(", ")) if wildcards else {},
            "threads": int(threads.group(1)) if threads else 1,
            "resources": dict(kv.split("=", 1) for kv in resources.group(1).split(", ")) if resources else {},
        }
    for jobid, sid in re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", log):
        slurm_ids[sid] = jobs[int(jobid)]
    return slurm_ids


SACCT_FIELDS = ("JobIDRaw,JobName,Comment,State,ExitCode,AllocCPUS,ReqMem,Timelimit,AllocTRES,"
                "Partition,Account,SubmitLine").split(",")


def _sacct(*job_ids) -> dict:
    """sacct records of these jobs (allocations and their steps) by JobIDRaw."""
    out = _sh("sacct", "-P", "-n", "--format", ",".join(SACCT_FIELDS), "-j", ",".join(job_ids))
    recs = {}
    for line in out.splitlines():
        if line.count("|") >= len(SACCT_FIELDS) - 1:  # SubmitLine (last) may hold "|" itself
            rec = dict(zip(SACCT_FIELDS, line.split("|", len(SACCT_FIELDS) - 1)))
            recs[rec["JobIDRaw"]] = rec
    return recs


def _gpus(tres: str) -> int:
    m = re.search(r"gres/gpu=(\d+)", tres)
    return int(m.group(1)) if m else 0


def _minutes(limit: str) -> int:
    d, _, hms = limit.rpartition("-")
    h, m, s = (int(x) for x in hms.split(":"))
    return (int(d) if d else 0) * 1440 + h * 60 + m + (s > 0)


@pytest.mark.slow
def test_every_job_ran_in_slurm_with_its_rules_resources(runs):
    log = _ok(runs, "tiny")
    jobs = _snakemake_jobs(log)
    rules = sorted(j["rule"] for j in jobs.values())
    assert rules.count("train_run") == 16 and rules.count("summarize_study") == 1, rules
    assert len(jobs) == 19, rules  # 16 runs, the summary and 2 figures; `all` is a local rule
    recs = _sacct(*jobs)
    for sid, job in jobs.items():
        rec, res = recs[sid], job["resources"]
        where = f"{job['rule']} {job['wildcards']} (Slurm job {sid}): {rec}"
        assert rec["State"] == "COMPLETED" and rec["ExitCode"] == "0:0", where
        assert rec["Comment"].startswith(f"rule_{job['rule']}"), where
        assert rec["Account"] == "ciacct" and rec["Partition"] == "debug", where
        # the rule itself ran inside the allocation, as job step 0 (srun), and succeeded
        assert recs.get(f"{sid}.0", {}).get("State") == "COMPLETED", where
        assert int(rec["AllocCPUS"]) == job["threads"], where
        assert rec["ReqMem"] == f"{res['mem_mb']}M", where
        assert _minutes(rec["Timelimit"]) == int(res["runtime"]), where
        assert _gpus(rec["AllocTRES"]) == int(res.get("gpu", 0)), where
    # what the profile asks for: training on one GPU with 8 CPUs; the rest without a GPU
    for sid, job in jobs.items():
        rec = recs[sid]
        if job["rule"] == "train_run":  # the profile's gpu=1 (device: cpu would ask for none)
            assert job["resources"]["gpu"] == "1" and " --gpus=1 " in rec["SubmitLine"] + " ", rec
            assert _gpus(rec["AllocTRES"]) == 1 and _gpus(recs[f"{sid}.0"]["AllocTRES"]) == 1, rec
        else:
            assert "gpu" not in job["resources"] and "--gpus" not in rec["SubmitLine"], rec
            assert _gpus(rec["AllocTRES"]) == 0, rec
    summarize = next(s for s, j in jobs.items() if j["rule"] == "summarize_study")
    # threads -> --cpus-per-task (2 here, set on the command line); the profile's memory and time
    assert jobs[summarize]["threads"] == 2 and recs[summarize]["AllocCPUS"] == "2"
    assert recs[summarize]["ReqMem"] == "8000M" and _minutes(recs[summarize]["Timelimit"]) == 60


@pytest.mark.slow
def test_results_equal_a_local_run(runs):
    _ok(runs, "tiny")
    _ok(runs, "reference")
    study = "tiny-gaussian"
    files = sorted((runs["local"] / study / "runs").rglob("*.h5"))
    assert len(files) == 16
    for ref in files:
        got = read_decisions(runs["tiny"] / "results" / study / "runs" / ref.relative_to(runs["local"] / study / "runs"))
        want = read_decisions(ref)
        np.testing.assert_array_equal(got.predictions, want.predictions, err_msg=str(ref))
        # the job had a (fake) GPU, but the tiny config says device: cpu
        assert got.attrs["device"] == "cpu"
    for path in ("summary.json", "split.tsv", "kappa_vs_base.tsv",
                 "figures/fig02_correct_histogram.png", "figures/fig03_kappa_vs_base.pdf"):
        assert (runs["tiny"] / "results" / study / path).stat().st_size > 0, path


@pytest.mark.slow
def test_time_limit_kills_training_and_running_again_resumes(runs):
    rc, log, _ = runs["killed"]
    assert rc == 1, log[-4000:]  # Snakemake reports the killed job and exits with an error
    killed = _snakemake_jobs(log)
    assert len(killed) == 1, log[-4000:]
    (sid, job), = killed.items()
    rec = _sacct(sid)[sid]
    assert job["rule"] == "train_run" and rec["State"] == "TIMEOUT", rec
    assert _minutes(rec["Timelimit"]) == 1 and int(job["resources"]["runtime"]) == 1
    assert f"SLURM-job '{sid}' failed, SLURM status is: 'TIMEOUT'" in log
    assert runs["checkpoints_after_kill"], "the killed job left no checkpoint"

    log = _ok(runs, "resumed")  # the same command with the profile's runtime, as a user would
    (sid2, job2), = _snakemake_jobs(log).items()
    rec2 = _sacct(sid2)[sid2]
    assert rec2["State"] == "COMPLETED" and _minutes(rec2["Timelimit"]) == int(job2["resources"]["runtime"]) > 1
    train_log = (runs["timelimit"] / "logs" / "timelimit" / "train_run" / "base" / "1.log").read_text()
    resumed = [int(e) for e in re.findall(r"resuming from checkpoint at epoch (\d+)", train_log)]
    last_saved = max(int(re.search(r"\d+", c).group()) for c in runs["checkpoints_after_kill"])
    assert resumed == [last_saved], train_log[-3000:]
    _ok(runs, "reference")
    got = read_decisions(runs["timelimit"] / "results" / "timelimit" / "runs" / "base" / "1.h5")
    want = read_decisions(runs["local"] / "timelimit" / "runs" / "base" / "1.h5")
    assert got.predictions.shape == want.predictions.shape == (13, 200)
    np.testing.assert_array_equal(got.predictions, want.predictions)
    assert not list((runs["timelimit"] / "checkpoints").rglob("*.pt"))  # removed after success


@pytest.mark.slow
@pytest.mark.parametrize("request_", ["gpu=3", "mem_mb=100000000"])
def test_impossible_request_fails_fast_with_slurms_message(slurm, tmp_path, request_):
    """More GPUs or memory than the partition has: sbatch refuses, Snakemake says so and stops."""
    wd, cfg = _workdir(tmp_path, TINY)
    t0 = time.monotonic()
    res = subprocess.run(_snakemake(wd, cfg, "--set-resources", f"train_run:{request_}",
                                    "--", "results/tiny-gaussian/runs/base/1.h5", limit=120),
                         cwd=ROOT, env={**os.environ, **SLURM_ENV}, capture_output=True, text=True,
                         timeout=180)
    out = res.stdout + res.stderr
    assert res.returncode == 1, out[-3000:]
    assert "SLURM sbatch failed" in out, out[-3000:]
    assert "sbatch: error: " in out, out[-3000:]
    assert time.monotonic() - t0 < 60
    assert not (wd / "results").exists()


def test_unknown_plugin_option_fails_fast(tmp_path):
    """A profile with a setting the plugin does not have: refused before anything runs (no Slurm
    needed, so this runs everywhere)."""
    profile = _profile(tmp_path / "profile", **{"slurm-no-such-option": True})
    wd, cfg = _workdir(tmp_path / "wd", TINY)
    res = subprocess.run(_snakemake(wd, cfg, "-n", profile=profile, limit=60),
                         cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert res.returncode != 0
    assert "slurm-no-such-option" in res.stderr, res.stderr[-2000:]
    assert not (wd / "results").exists()
