"""Where a workflow run spent its time: every job's Snakemake benchmark file.

Reads ``benchmarks/<study>/<rule>.tsv`` and ``benchmarks/<study>/<rule>/...tsv`` (the rules'
``benchmark:`` files, one per job, written
by the last run of that job) and prints each job's wall and CPU seconds, the totals per rule and
per study, and the lower bound on the run's wall time that the CPU seconds set on ``--cores``
cores (CPU seconds / cores; a run also waits for its longest chain of jobs and for Snakemake
itself). With ``--wall`` (the run's measured wall seconds) it also prints how much of the cores the
jobs kept busy. Writes the numbers to ``benchmarks/results/jobs.json``.

    python benchmarks/jobs.py [--root benchmarks] [--cores 2] [--study NAME ...] [--wall SECONDS]
"""
import argparse
import csv
import glob
import json
import os
from collections import defaultdict


def read_jobs(root: str, studies=()) -> list[dict]:
    jobs = []
    for path in sorted(glob.glob(os.path.join(root, "*", "**", "*.tsv"), recursive=True)):
        rel = os.path.relpath(path, root)
        parts = rel[:-4].split(os.sep)
        study, rule = parts[0], parts[1]  # <study>/<rule>.tsv or <study>/<rule>/<job>.tsv
        if studies and study not in studies:
            continue
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        if not rows or "cpu_time" not in rows[-1]:
            continue  # not a Snakemake benchmark file
        row = rows[-1]
        jobs.append({"job": rel[:-4], "study": study, "rule": rule, "wall_s": float(row["s"]),
                     "cpu_s": float(row["cpu_time"]), "max_rss_mb": float(row["max_rss"])})
    return jobs


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default="benchmarks")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--study", action="append", default=[], help="only these studies (default: all)")
    p.add_argument("--wall", type=float, default=None, help="the run's measured wall seconds")
    p.add_argument("--out", default="benchmarks/results/jobs.json")
    a = p.parse_args()
    jobs = read_jobs(a.root, a.study)
    if not jobs:
        raise SystemExit(f"no Snakemake benchmark files under {a.root}/<study>/<rule>/ (run the workflow first)")
    by_rule, by_study = defaultdict(float), defaultdict(float)
    for j in sorted(jobs, key=lambda j: -j["cpu_s"]):
        by_rule[j["rule"]] += j["cpu_s"]
        by_study[j["study"]] += j["cpu_s"]
        print(f"{j['job']:60s} wall {j['wall_s']:7.1f} s  cpu {j['cpu_s']:7.1f} s")
    total = sum(j["cpu_s"] for j in jobs)
    print("\nper rule:", ", ".join(f"{r} {s:.0f} s" for r, s in sorted(by_rule.items(), key=lambda x: -x[1])))
    print("per study:", ", ".join(f"{r} {s:.0f} s" for r, s in sorted(by_study.items(), key=lambda x: -x[1])))
    bound = total / a.cores
    print(f"{len(jobs)} jobs, {total:.0f} CPU s; on {a.cores} cores at least {bound:.0f} s ({bound / 60:.1f} min)")
    result = {"jobs": jobs, "cpu_s": total, "cores": a.cores, "cpu_bound_wall_s": bound,
              "cpu_s_by_rule": dict(by_rule), "cpu_s_by_study": dict(by_study)}
    if a.wall:
        result["wall_s"] = a.wall
        result["core_utilisation"] = total / (a.wall * a.cores)
        print(f"measured wall {a.wall:.0f} s: the jobs kept {100 * result['core_utilisation']:.0f} % of the cores busy")
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
