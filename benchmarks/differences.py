"""Speed of the differences of error consistency (issue: a study of 33 decision makers x 50,000 images
with 1,000 bootstrap resamples in under a minute, against a per-pair loop).

A synthetic study shaped like the paper's default family: a base, five runs each of five
multi-instance conditions, five one-run conditions and the two halves of different data (33
decision makers), each copying the base's correctness with its own probability (copy model),
50,000 images, a 30 % in-between subset. ``ddd.analysis.differences.study_differences`` computes
every difference (decision-maker and condition level, all and in-between images) with ``--boot``
resamples and ``--perm`` swap permutations, timed once. The reference is a per-pair loop written the
plain way: for each comparison, for each resample, index the images and call
``ddd.analysis.kappa.error_consistency`` twice. It is timed on ``--loop-sample`` comparisons and
scaled to all of them (stated in the output), because the whole loop takes hours.

    python benchmarks/differences.py [--images 50000] [--boot 1000] [--perm 1000] [--loop-sample 3]

Prints JSON and writes it to ``benchmarks/results/differences.json``.
"""
import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from ddd.analysis.differences import study_differences  # noqa: E402
from ddd.analysis.kappa import error_consistency  # noqa: E402

MULTI = ("init", "learning_rate", "hardware", "data_order", "combined")
SINGLE = ("plus_1_epoch", "plus_10_epochs", "optimizer", "batch_size", "architecture")


def synthetic_study(n_images: int, seed: int = 0):
    """``(correct (33, N), names, comparisons, in_between (N,))`` of a copy-model family."""
    rng = np.random.default_rng(seed)
    base = rng.random(n_images) < 0.7
    rows, names, comps = [base], ["base"], [("base", "base", "base")]
    for cond in MULTI + SINGLE + ("different_data",):
        k = 5 if cond in MULTI else 2 if cond == "different_data" else 1
        for i in range(1, k + 1):
            copy = rng.uniform(0.3, 0.8)
            rows.append(np.where(rng.random(n_images) < copy, base, rng.random(n_images) < 0.7))
            names.append(f"{cond}/{i}")
            comps.append(("half_data" if cond == "different_data" else cond, names[-1], "base"))
    comps.append(("different_data", "different_data/1", "different_data/2"))
    return (np.stack(rows), names, pd.DataFrame(comps, columns=["condition", "name", "other"]),
            rng.random(n_images) < 0.3)


def loop_one(c, first, second, mask_first, mask_second, *, n_boot: int, seed: int) -> np.ndarray:
    """One comparison's resampled Δκ, the plain way (a Python loop over resamples)."""
    rng = np.random.default_rng(seed)
    n = c.shape[1]
    out = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        k1 = idx[mask_first[idx]] if mask_first is not None else idx
        k2 = idx[mask_second[idx]] if mask_second is not None else idx
        out[b] = (error_consistency(c[first[0], k1], c[first[1], k1])
                  - error_consistency(c[second[0], k2], c[second[1], k2]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=50_000)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--perm", type=int, default=1000)
    ap.add_argument("--loop-sample", type=int, default=3)
    args = ap.parse_args()
    c, names, comps, in_between = synthetic_study(args.images)
    t0 = time.perf_counter()
    table, per = study_differences(c, names, comps, in_between=in_between, n_boot=args.boot, n_perm=args.perm)
    engine = time.perf_counter() - t0
    sample = table[table.level == "decision_maker"].head(args.loop_sample)
    idx = {n: k for k, n in enumerate(names)}
    t0 = time.perf_counter()
    for row in sample.itertuples():
        a = [idx[x] for x in row.first.split(" vs ")]
        b = [idx[x] for x in row.second.split(" vs ")]
        loop_one(c, a, b, None if row.first_subset == "all" else in_between,
                 None if row.second_subset == "all" else in_between, n_boot=args.boot, seed=0)
    per_comparison = (time.perf_counter() - t0) / max(1, len(sample))
    loop = per_comparison * len(table)
    result = {"decision_makers": len(names), "images": args.images, "n_boot": args.boot, "n_perm": args.perm,
              "comparisons": len(table), "conditions_rows": len(per),
              "seconds_differences": round(engine, 2),
              "seconds_loop_per_comparison": round(per_comparison, 2),
              "seconds_loop_all_extrapolated": round(loop, 0),
              "loop_note": f"per-pair loop timed on {len(sample)} comparisons (bootstrap only, no swap test) "
                           "and scaled to all comparisons",
              "speedup": round(loop / engine, 1), "goal_seconds": 60,
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs"}
    print(json.dumps(result, indent=1))
    out = os.path.join(os.path.dirname(__file__), "results", "differences.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as fh:
        json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
