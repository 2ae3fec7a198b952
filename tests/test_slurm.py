"""The SLURM profile against a real Slurm (issue 7).

`.ci/slurm-up.sh` brings up a single-node Slurm 22.05 from Debian's packages (munge, MariaDB +
slurmdbd accounting, slurmctld, slurmd, four fake GPUs); `.ci/slurm-down.sh` stops every daemon by
the PID it recorded, also when a test fails. One Snakemake run then sends, through
`profiles/slurm`, every job of the tiny config to Slurm, plus one training run
(`.test/config/slurm-timelimit.yaml`) whose first job gets a 1-minute time limit: Slurm kills it,
Snakemake resubmits it (`retries`) and it resumes from its last checkpoint. Meanwhile the same
runs are trained locally, uninterrupted, as the reference.

From `sacct` the tests check that every job ran as a Slurm job (its rule inside a job step) with
the CPUs, memory, time limit and GPUs its rule asked for; that the decisions equal the local ones
bit for bit; and that impossible requests fail fast with Slurm's message.

Needs root and apt-get (or Slurm already installed): otherwise skipped with the reason, and in CI
(``CI=true``) failed instead.
"""
from __future__ import annotations

import fcntl
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from ddd.results.decisions import read_decisions

ROOT = Path(__file__).resolve().parents[1]
SNAKEFILE = ROOT / "workflow" / "Snakefile"
PROFILE = ROOT / "profiles" / "slurm"
TINY = ROOT / ".test" / "config" / "config.yaml"
TIMELIMIT = ROOT / ".test" / "config" / "slurm-timelimit.yaml"   # adds the study `timelimit`
TL_RUN = "results/timelimit/runs/base/1.h5"
UP, DOWN = ROOT / ".ci" / "slurm-up.sh", ROOT / ".ci" / "slurm-down.sh"
IN_CI = os.environ.get("CI", "").lower() in {"true", "1", "yes"}
# DDD_SLURM_TEST=0 skips it (e.g. while another Slurm runs on this machine); CI never sets it.
if os.environ.get("DDD_SLURM_TEST", "") == "0":
    pytest.skip("the real-Slurm test is switched off with DDD_SLURM_TEST=0", allow_module_level=True)
# The CI cluster's account (slurm-up.sh creates it) and partition, set as a user sets them.
SLURM_ENV = {"DDD_SLURM_ACCOUNT": "ciacct", "DDD_SLURM_PARTITION": "debug"}
RUN_LIMIT_S = 900   # `timeout -k` around the Snakemake run: a hang fails the test, it cannot stall CI

# What the CI run changes in profiles/slurm, and why:
CI_PROFILE = {
    # 1 training thread: CI machines have few cores, and on a CPU the decisions depend on the
    # thread count, so the local reference (the rule's 1 thread) is comparable
    "set-threads": {"train_run": 1},
    # the time-limit run's first job gets 1 minute (Slurm's minimum); its retry the rule's 10; both
    # go first in the queue
    "set-resources.train_run.runtime": "1 if wildcards.study == 'timelimit' and attempt == 1 else 10",
    "set-resources.train_run.slurm_extra": "'--nice=-1000' if wildcards.study == 'timelimit' else ''",
    # the first status check after 5 s (the profile's 20 s suits real clusters)
    "slurm-init-seconds-before-status-checks": 5,
}


def _cannot_run(reason: str):
    if IN_CI:
        pytest.fail(f"the Slurm test must run in CI but cannot: {reason}")
    pytest.skip(f"Slurm test skipped: {reason}")


def _check_can_run():
    if os.geteuid() != 0:
        _cannot_run("needs root (installs Debian's Slurm packages, starts munged/slurmdbd/slurmctld/slurmd)")
    if not shutil.which("apt-get") and not shutil.which("slurmctld"):
        _cannot_run("Slurm is not installed and there is no apt-get to install it")


def _daemon_logs() -> str:
    out = []
    for name in ("slurmctld", "slurmd", "slurmdbd"):
        p = Path(f"/var/log/slurm/{name}.log")
        if p.exists():
            out.append(f"== {p} (tail)\n" + "\n".join(p.read_text(errors="replace").splitlines()[-12:]))
    return "\n".join(out)


class _Proc:
    """A command in the background, in its own process group, its output in a file."""

    def __init__(self, cmd, log: Path, env=None):
        self.cmd, self.log, self.t0 = [str(c) for c in cmd], log, time.monotonic()
        self._fh = open(log, "w")
        self.p = subprocess.Popen(self.cmd, cwd=ROOT, env={**os.environ, **(env or {})}, text=True,
                                  stdout=self._fh, stderr=subprocess.STDOUT, start_new_session=True)
        self.seconds = None

    def wait(self, timeout):
        """(returncode, output); -9/124/137 mean killed by a timeout."""
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            rc = self.p.returncode
        self._fh.close()
        if self.seconds is None:
            self.seconds = time.monotonic() - self.t0
        return rc, self.log.read_text(errors="replace")

    def stop(self):
        """End the command and its children: SIGTERM (Snakemake then cancels its Slurm jobs), and
        SIGKILL 20 s later."""
        for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
            if self.p.poll() is not None:
                break
            try:
                os.killpg(self.p.pid, sig)
                self.p.wait(timeout=grace)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        if not self._fh.closed:
            self._fh.close()


REFERENCE = """
import sys, time, yaml
t0 = time.monotonic()
sys.path.insert(0, sys.argv[1])
from ddd.config import resolve_config
from ddd.training.run import train_run
cfg = resolve_config(yaml.safe_load(open(sys.argv[2])))
for study in sorted(cfg.studies, key=lambda s: s != "timelimit"):  # the long one first
    for run in cfg.study(study).runs():
        p = f"{sys.argv[3]}/{study}/runs/{run}"
        train_run(cfg.study(study).recipe(run), cfg.dataset(study),
                  output=p + ".h5", network_output=p + ".pt", checkpoint_dir=p + ".ckpt",
                  device=cfg.device, threads=1, progress=False)
print(f"reference done in {time.monotonic() - t0:.0f} s")
"""


def _merged_config(path: Path) -> Path:
    """The tiny config plus the time-limit study, merged as Snakemake merges --configfile's."""
    from snakemake.utils import update_config
    config = yaml.safe_load(TINY.read_text())
    update_config(config, yaml.safe_load(TIMELIMIT.read_text()))
    path.write_text(yaml.safe_dump(config))
    return path


def _ci_profile(path: Path) -> Path:
    """profiles/slurm with CI_PROFILE's changes, nothing else."""
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    for key, value in CI_PROFILE.items():
        *parents, leaf = key.split(".")
        node = profile
        for k in parents:
            node = node[k]
        node[leaf] = value
    path.mkdir(parents=True)
    (path / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return path


def _snakemake(workdir: Path, *args, profile: Path = PROFILE, limit=RUN_LIMIT_S) -> list:
    """A Snakemake call through a Slurm profile (not the local profiles/default), killed if it
    outlives `limit`; the configs are the workdir's config/*.yaml."""
    configs = sorted((workdir / "config").glob("*.yaml"), key=lambda p: p.name != "config.yaml")
    return ["timeout", "-k", "10", str(limit), sys.executable, "-m", "snakemake", "-s", SNAKEFILE,
            "--directory", workdir, "--configfile", *configs, "--profile", profile,
            "--workflow-profile", "none", *args]


def _workdir(path: Path, *configs: Path) -> Path:
    (path / "config").mkdir(parents=True)
    for c in configs:
        shutil.copy(c, path / "config" / c.name)
    return path


def _job_blocks(log: str) -> dict:
    """Snakemake's job blocks in a log: jobid -> {rule, wildcards, threads, resources, input}."""
    jobs = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", log):
        m = re.match(r"(local)?rule (\w+):\n", block)
        jobid = re.search(r"^\s+jobid: (\d+)$", block, re.M)
        if not m or not jobid:
            continue

        def field(name):
            f = re.search(rf"^\s+{name}: (.*)$", block, re.M)
            return f.group(1) if f else ""

        jobs[int(jobid.group(1))] = {
            "rule": m.group(2), "local": bool(m.group(1)),
            "wildcards": dict(kv.split("=", 1) for kv in field("wildcards").split(", ") if kv),
            "threads": int(field("threads") or 1),
            "resources": dict(kv.split("=", 1) for kv in field("resources").split(", ") if kv),
            "input": field("input").split(", "),
        }
    return jobs


def _slurm_jobs(log: str) -> dict:
    """Slurm job id -> Snakemake job (with `attempt`: 1, 2, ... in submission order)."""
    blocks, seen, out, pos = {}, {}, {}, 0
    for m in re.finditer(r"Job (\d+) has been submitted with SLURM jobid (\d+)", log):
        blocks.update(_job_blocks(log[pos:m.start()]))  # the block printed just before submission
        pos = m.end()
        jobid, sid = m.groups()
        seen[jobid] = seen.get(jobid, 0) + 1
        out[sid] = {**blocks[int(jobid)], "attempt": seen[jobid]}
    return out


SACCT_FIELDS = ("JobIDRaw,Comment,State,ExitCode,AllocCPUS,ReqMem,Timelimit,AllocTRES,Partition,"
                "Account,SubmitLine").split(",")


def _sacct(*job_ids, fields=SACCT_FIELDS) -> dict:
    """sacct's records of these jobs (allocations and their steps) by JobIDRaw; waits (up to 20 s)
    until the accounting database has all of them, finished."""
    for _ in range(40):
        res = subprocess.run(["sacct", "-P", "-n", "--format", ",".join(fields), "-j", ",".join(job_ids)],
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        recs = {}
        for line in res.stdout.splitlines():
            if line.count("|") >= len(fields) - 1:  # the last field (SubmitLine) may hold "|" itself
                rec = dict(zip(fields, line.split("|", len(fields) - 1)))
                recs[rec["JobIDRaw"]] = rec
        if all(j in recs and recs[j].get("State", "COMPLETED") not in ("RUNNING", "PENDING") for j in job_ids):
            break
        time.sleep(0.5)
    return recs


def _seconds(duration: str) -> float:
    """sacct's [DD-][HH:]MM:SS[.mmm] in seconds."""
    days, _, rest = duration.rpartition("-")
    parts = [float(x) for x in rest.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0.0)
    return int(days or 0) * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2]


def _gpus(tres: str) -> int:
    m = re.search(r"gres/gpu=(\d+)", tres)
    return int(m.group(1)) if m else 0


def _minutes(limit: str) -> int:
    days, _, hms = limit.rpartition("-")
    h, m, s = (int(x) for x in hms.split(":"))
    return int(days or 0) * 1440 + h * 60 + m + (s > 0)


@pytest.fixture(scope="module")
def targets(tmp_path_factory):
    """Started first, while Slurm comes up: a dry run that lists the tiny config's jobs and what its
    default target asks for."""
    _check_can_run()
    base = tmp_path_factory.mktemp("dry")
    dry = _Proc([sys.executable, "-m", "snakemake", "-s", SNAKEFILE, "--directory", base,
                 "--configfile", TINY, "--workflow-profile", "none", "--cores", "1", "-n"], base / "dry.log")
    yield dry
    dry.stop()


@pytest.fixture(scope="module")
def slurm():
    """A running single-node Slurm; all its daemons are stopped by PID afterwards, whatever happens.
    One test session at a time per machine (a lock file): there is one Slurm per machine."""
    _check_can_run()
    with open("/run/slurm-ci.lock", "w") as lock:
        end = time.monotonic() + 900
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > end:
                    pytest.fail("another test session kept the CI Slurm (/run/slurm-ci.lock) for 15 minutes")
                time.sleep(2)
        t0 = time.monotonic()
        try:
            res = subprocess.run(["bash", str(UP)], capture_output=True, text=True, timeout=900)
            if res.returncode == 2:
                _cannot_run(res.stderr.strip().splitlines()[-1] if res.stderr.strip() else "slurm-up.sh: exit 2")
            assert res.returncode == 0, f"slurm-up.sh failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
            yield {"up_s": time.monotonic() - t0, "up_log": res.stdout}
        finally:
            subprocess.run(["bash", str(DOWN)], timeout=300)


def _pin_running_job(comment: str, cpu: int, timeout: float) -> bool:
    """Pin every process (every thread) of the running job with this comment to `cpu`, until its
    rule's script runs pinned (its children inherit the pinning). False if it never ran."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        out = subprocess.run(["squeue", "-h", "-t", "R", "-o", "%i %k"], capture_output=True, text=True).stdout
        jobid = next((line.split()[0] for line in out.splitlines() if line.split()[1:] == [comment]), None)
        if jobid:
            pids = subprocess.run(["scontrol", "listpids", jobid], capture_output=True, text=True).stdout
            script_pinned = False
            for pid in re.findall(r"^(\d+)\s", pids, re.M):
                try:
                    for tid in os.listdir(f"/proc/{pid}/task"):
                        os.sched_setaffinity(int(tid), {cpu})
                    script_pinned |= "train_run.py" in Path(f"/proc/{pid}/cmdline").read_text()
                except OSError:  # gone meanwhile
                    continue
            if script_pinned:
                return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="module")
def run(targets, slurm, tmp_path_factory):
    """The tiny config plus the time-limit study, through the profile, every job a Slurm job; and
    the same runs trained locally, uninterrupted, as the reference.

    The time-limit job and the reference are pinned to one core, which they share (with whatever
    else lands there): the training, about 60 CPU-seconds, then takes at least two minutes in its
    job, past its 1-minute limit on any machine."""
    rc, dry = targets.wait(300)
    assert rc == 0, dry[-3000:]
    tiny_all = next(j for j in _job_blocks(dry).values() if j["rule"] == "all")["input"]
    base = tmp_path_factory.mktemp("slurm")
    wd = _workdir(base / "wd", TINY, TIMELIMIT)
    config = _merged_config(base / "merged.yaml")
    snakemake = _Proc(_snakemake(wd, "--", *tiny_all, TL_RUN, profile=_ci_profile(base / "profile")),
                      base / "snakemake.log", env=SLURM_ENV)
    reference, cpu = None, max(os.sched_getaffinity(0))
    try:
        reference = _Proc(["taskset", "-c", str(cpu), sys.executable, "-c", REFERENCE, ROOT / "src", config,
                           base / "local"], base / "reference.log")
        pinned = _pin_running_job("rule_train_run_wildcards_timelimit_base_1", cpu, timeout=180)
        assert pinned, f"the time-limit job did not start:\n{snakemake.log.read_text()[-3000:]}"
        rc, log = snakemake.wait(RUN_LIMIT_S + 60)
        rc_ref, log_ref = reference.wait(600)
    finally:
        snakemake.stop()
        if reference:
            reference.stop()
    jobs = _slurm_jobs(log)
    cpu_jobs = sum(_seconds(r["TotalCPU"]) for r in _sacct(*jobs, fields=("JobIDRaw", "TotalCPU")).values()
                   if "." not in r["JobIDRaw"])
    cpu_here = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"\nslurm-up {slurm['up_s']:.0f} s; Slurm run {snakemake.seconds:.0f} s ({len(jobs)} Slurm jobs, "
          f"{cpu_jobs:.0f} CPU-s in them); local {log_ref.strip().splitlines()[-1]} on CPU {cpu}; CPU-s of "
          f"this process's children so far {cpu_here.ru_utime + cpu_here.ru_stime:.0f}")
    assert rc_ref == 0, log_ref[-3000:]
    assert rc == 0, (f"Slurm run failed (rc {rc}; -9/124/137: killed after {RUN_LIMIT_S} s):\n{log[-8000:]}\n"
                     f"{_daemon_logs()}")
    return {"wd": wd, "log": log, "jobs": jobs, "expected": _job_blocks(dry), "local": base / "local"}


@pytest.mark.slow
def test_every_job_ran_in_slurm_with_its_rules_resources(run):
    jobs, recs = run["jobs"], _sacct(*run["jobs"])
    key = lambda j: (j["rule"], tuple(sorted(j["wildcards"].items())))  # noqa: E731
    expected = {key(j) for j in run["expected"].values() if j["rule"] != "all"}  # `all` is a localrule
    submitted = {key(j) for j in jobs.values() if j["wildcards"].get("study") != "timelimit"}
    assert submitted == expected  # every job of the tiny config went to Slurm (`all` is local)
    for sid, job in jobs.items():
        rec, res = recs[sid], job["resources"]
        where = f"{job['rule']} {job['wildcards']} attempt {job['attempt']} (Slurm job {sid}): {rec}"
        wildcards = "_".join(job["wildcards"].values())
        assert rec["Comment"] == f"rule_{job['rule']}_wildcards_{wildcards}", where
        assert rec["Account"] == "ciacct" and rec["Partition"] == "debug", where
        assert int(rec["AllocCPUS"]) == job["threads"], where
        assert rec["ReqMem"] == f"{res['mem_mb']}M", where
        assert _gpus(rec["AllocTRES"]) == int(res.get("gpu", 0)), where
        if job["wildcards"].get("study") == "timelimit":
            continue  # its states and time limits: test_time_limit_...
        assert _minutes(rec["Timelimit"]) == int(res["runtime"]), where
        assert rec["State"] == "COMPLETED" and rec["ExitCode"] == "0:0", where
        # the rule itself ran inside the allocation as job step 0 (srun), and succeeded
        assert recs.get(f"{sid}.0", {}).get("State") == "COMPLETED", where
        if job["rule"] == "train_run":  # the profile's gpu=1 (device: cpu alone would ask for none)
            assert res["gpu"] == "1" and "--gpus=1" in rec["SubmitLine"].split(), where
            assert _gpus(rec["AllocTRES"]) == 1 and _gpus(recs[f"{sid}.0"]["AllocTRES"]) == 1, where
        else:  # no GPU (RSA asks for gpu=0 with device: cpu, as training would without the profile)
            assert res.get("gpu", "0") == "0" and "--gpus" not in rec["SubmitLine"], where
            assert _gpus(rec["AllocTRES"]) == 0, where
    summarize = next(s for s, j in jobs.items() if j["rule"] == "summarize_study")
    # the profile's memory and time for the analysis (threads -> --cpus-per-task: test_impossible_...)
    assert recs[summarize]["ReqMem"] == "8000M" and _minutes(recs[summarize]["Timelimit"]) == 60


@pytest.mark.slow
def test_results_equal_a_local_run(run):
    study = "tiny-gaussian"
    local = run["local"] / study / "runs"
    files = sorted(local.rglob("*.h5"))
    assert len(files) == sum(j["rule"] == "train_run" for j in run["expected"].values()) == 16
    for ref in files:
        got = read_decisions(run["wd"] / "results" / study / "runs" / ref.relative_to(local))
        np.testing.assert_array_equal(got.predictions, read_decisions(ref).predictions, err_msg=str(ref))
        assert got.attrs["device"] == "cpu"  # a (fake) GPU was allocated, but the config says cpu
    for target in next(j for j in run["expected"].values() if j["rule"] == "all")["input"]:
        assert (run["wd"] / target).stat().st_size > 0, target


@pytest.mark.slow
def test_time_limit_kills_training_and_the_retry_resumes(run):
    attempts = {sid: j for sid, j in run["jobs"].items() if j["wildcards"].get("study") == "timelimit"}
    recs = _sacct(*attempts)
    (first, j1), (second, j2) = sorted(attempts.items(), key=lambda kv: kv[1]["attempt"])
    assert (j1["attempt"], j2["attempt"]) == (1, 2) and len(attempts) == 2, attempts
    # killed by Slurm at its 1-minute limit, and reported as such
    assert recs[first]["State"] == "TIMEOUT" and _minutes(recs[first]["Timelimit"]) == 1, recs[first]
    assert f"SLURM-job '{first}' failed, SLURM status is: 'TIMEOUT'" in run["log"]
    # resubmitted by Snakemake (retries) with the rule's runtime, and finished
    assert recs[second]["State"] == "COMPLETED" and _minutes(recs[second]["Timelimit"]) == 10, recs[second]
    log = (run["wd"] / "logs" / "timelimit" / "train_run" / "base" / "1.log").read_text()
    resumed = [int(e) for e in re.findall(r"resuming from checkpoint at epoch (\d+) of 150", log)]
    assert len(resumed) == 1 and 1 <= resumed[0] < 150, log[-2000:]
    got = read_decisions(run["wd"] / TL_RUN)
    want = read_decisions(run["local"] / "timelimit" / "runs" / "base" / "1.h5")
    assert got.predictions.shape == want.predictions.shape == (151, 50)
    np.testing.assert_array_equal(got.predictions, want.predictions)  # as if never interrupted
    assert not list((run["wd"] / "checkpoints").rglob("*.pt"))  # removed after success


IMPOSSIBLE = {  # what the CI node cannot give, and Slurm's answer
    "gpus": (["--set-resources", "train_run:gpu=99"], "Requested node configuration is not available"),
    "memory": (["--set-resources", "train_run:mem_mb=100000000"], "Memory specification can not be satisfied"),
    # threads become --cpus-per-task
    "cpus": (["--set-threads", "train_run=99"], "More processors requested than permitted"),
}


@pytest.fixture(scope="module")
def impossible(slurm, tmp_path_factory):
    """The three impossible requests at once, each a Snakemake run of one training job; without
    DDD_SLURM_ACCOUNT/PARTITION (the cluster's defaults)."""
    base = tmp_path_factory.mktemp("impossible")
    env = {k: "" for k in SLURM_ENV}  # empty: the cluster's default account and partition
    procs = {}
    for name, (args, _) in IMPOSSIBLE.items():
        wd = _workdir(base / name, TINY)
        if "--set-threads" not in args:
            args = [*args, "--set-threads", "train_run=1"]
        cmd = _snakemake(wd, *args, "--slurm-init-seconds-before-status-checks", "2", "--",
                         "results/tiny-gaussian/runs/base/1.h5", limit=120)
        procs[name] = (wd, _Proc(cmd, base / f"{name}.log", env=env))
    out = {}
    for name, (wd, proc) in procs.items():
        rc, log = proc.wait(180)
        out[name] = (wd, log, rc, proc.seconds)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("ask", list(IMPOSSIBLE))
def test_impossible_request_fails_fast_with_slurms_message(impossible, ask):
    """More GPUs, memory or CPUs than the partition has: sbatch refuses, Snakemake shows Slurm's
    message and stops, in seconds."""
    wd, out, rc, seconds = impossible[ask]
    assert rc == 1, out[-3000:]
    assert "SLURM sbatch failed" in out and "sbatch: error: " in out, out[-3000:]
    assert IMPOSSIBLE[ask][1] in out, out[-3000:]
    assert f"--cpus-per-task={99 if ask == 'cpus' else 1}" in out  # the rule's threads
    assert seconds < 60
    assert not (wd / "results").exists()


def test_unknown_plugin_option_fails_fast(tmp_path):
    """A profile with a setting the plugin does not have is refused before anything runs (needs
    no Slurm, so it runs everywhere)."""
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    profile["slurm-no-such-option"] = True
    (tmp_path / "profile").mkdir()
    (tmp_path / "profile" / "config.yaml").write_text(yaml.safe_dump(profile))
    wd = _workdir(tmp_path / "wd", TINY)
    res = subprocess.run(_snakemake(wd, "-n", profile=tmp_path / "profile", limit=60),
                         cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert res.returncode == 2, res.stderr[-2000:]
    assert "unrecognized arguments: --slurm-no-such-option" in res.stderr, res.stderr[-2000:]
    assert not (wd / "results").exists()
