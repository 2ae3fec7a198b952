"""Speed and memory of the differences of error consistency (issue 19: the 33-decision-maker study in
seconds, and the same tests at 1,000 decision makers with bounded memory).

A synthetic study shaped like the paper's default family: with ``--makers 33`` (default) a base,
five runs each of five multi-instance conditions, five one-run conditions and the two halves of
different data; with more decision makers a base and conditions of 25 runs each (``--makers 1000``:
999 runs in 40 conditions). Each run copies the base's correctness with its own probability (copy
model); 50,000 images, a 30 % in-between subset. ``ddd.analysis.differences.study_differences``
computes every difference (decision-maker and condition level, all and in-between images) with
``--boot`` resamples and ``--perm`` swap permutations, in a child process whose peak resident memory
(``ru_maxrss``) and peak traced allocations (``tracemalloc``, numpy included) are its own.

What it compares (R runs compared with the base, M decision makers):
- decision makers, ``vs_base``: every two runs, κ(base, A) − κ(base, B), on all and on the
  in-between images: R (R − 1) comparisons, each with n_boot resamples and n_perm permutations
  (pairs of pairs: quadratic in R; the counts are only R products per resample);
- decision makers, ``in_between_vs_all``: every pair, κ on the in-between images − on all:
  M (M − 1) / 2 comparisons, whose resampled counts are n_boot weighted Gram matrices
  (n_boot x N x M² / 2 multiply-adds: the arithmetic that dominates at 1,000 decision makers);
- conditions: every two conditions and each against itself (two-stage bootstrap).

Reference (``bare_products_s``): the float32 products the method needs, timed in the same run as
GEMMs of the same shapes (resample chunk x N) @ (N x partners) and scaled to the multiply-adds of the
study; the ratio ``seconds / bare_products_s`` is printed. At 33 decision makers a per-pair loop
(``loop_one``: for each comparison and resample, index the images and call
``ddd.analysis.kappa.error_consistency`` twice) is timed on ``--loop-sample`` comparisons and scaled.

    python benchmarks/differences.py [--makers 33|1000] [--images 50000] [--boot 1000] [--perm 1000]

Prints JSON and writes it to ``benchmarks/results/differences.json`` (key ``makers_<M>``).
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from ddd.analysis.differences import study_differences  # noqa: E402
from ddd.analysis.kappa import error_consistency  # noqa: E402

MULTI = ("init", "learning_rate", "hardware", "data_order", "combined")
SINGLE = ("plus_1_epoch", "plus_10_epochs", "optimizer", "batch_size", "architecture")


def synthetic_study(n_images: int, seed: int = 0, makers: int = 33):
    """``(correct (M, N), names, comparisons, in_between (N,))`` of a copy-model family of ``makers``."""
    rng = np.random.default_rng(seed)
    base = rng.random(n_images) < 0.7
    rows, names, comps = [base], ["base"], [("base", "base", "base")]
    if makers == 33:
        plan = [(cond, 5 if cond in MULTI else 2 if cond == "different_data" else 1)
                for cond in MULTI + SINGLE + ("different_data",)]
    else:
        plan = [(f"condition{k:02d}", min(25, makers - 1 - 25 * k)) for k in range(-(-(makers - 1) // 25))]
    for cond, k in plan:
        for i in range(1, k + 1):
            copy = rng.uniform(0.3, 0.8)
            rows.append(np.where(rng.random(n_images) < copy, base, rng.random(n_images) < 0.7))
            names.append(f"{cond}/{i}")
            comps.append(("half_data" if cond == "different_data" else cond, names[-1], "base"))
    if makers == 33:
        comps.append(("different_data", "different_data/1", "different_data/2"))
    return (np.stack(rows), names, pd.DataFrame(comps, columns=["condition", "name", "other"]),
            rng.random(n_images) < 0.3)


def bare_products(c, in_between, n_boot: int, n_perm: int, runs: int, pairs: int) -> dict:
    """Seconds of the float32 products of the study, from GEMMs of its shapes timed here."""
    from ddd.analysis.differences import _CHUNK_CELLS

    m, n = c.shape
    chunk = max(1, _CHUNK_CELLS // n)
    x = np.random.default_rng(0).integers(0, 3, (chunk, n)).astype(np.float32)
    cf = c.astype(np.float32)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        x @ cf.T
        times.append(time.perf_counter() - t0)
    per_fma = min(times) / (chunk * n * m)
    n_in = int(in_between.sum())
    # bootstrap: singles (M) + the in_between_vs_all pairs (every pair, M^2/2, or the R compared ones) + the
    # base's R partners, per image and resample; swap test: two products per permutation over the R runs, per subset.
    fma = n_boot * n * (m + pairs + runs) + n_perm * 2 * runs * (n + n_in)
    return {"bare_products_s": round(fma * per_fma, 3), "multiply_adds": float(fma),
            "gemm_gflops": round(2 / per_fma / 1e9, 1)}


def child(args) -> dict:
    """In the child process: the study alone, with its time and peak memory."""
    c, names, comps, in_between = synthetic_study(args.images, makers=args.makers)
    tracemalloc.start()
    t0 = time.perf_counter()
    table, per = study_differences(c, names, comps, in_between=in_between, n_boot=args.boot, n_perm=args.perm,
                                   scope=args.scope)
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    counts = table.groupby(["level", "comparison"]).size()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(rss),
            "peak_traced_mb": round(peak / 2 ** 20), "comparisons": len(table), "conditions_rows": len(per),
            "by_family": {f"{a}/{b}": int(v) for (a, b), v in counts.items()},
            "first_rows_checksum": float(np.nansum(table["delta"].to_numpy()[:1000]))}


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
    ap.add_argument("--makers", type=int, default=33)
    ap.add_argument("--images", type=int, default=50_000)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--perm", type=int, default=1000)
    ap.add_argument("--loop-sample", type=int, default=3)
    ap.add_argument("--scope", default="auto", choices=["auto", "all", "focused"],
                    help="study_differences' scope of the decision-maker rows (auto: all up to 100 decision makers)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    cmd = [sys.executable, __file__, "--child", "--makers", str(args.makers), "--images", str(args.images),
           "--boot", str(args.boot), "--perm", str(args.perm), "--scope", args.scope]
    run = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
    c, names, comps, in_between = synthetic_study(args.images, makers=args.makers)
    runs = int((comps["name"] != comps["other"]).sum())
    pairs = run["by_family"].get("decision_maker/in_between_vs_all", 0)
    bare = bare_products(c, in_between, args.boot, args.perm, runs, pairs)
    result = {"decision_makers": len(names), "images": args.images, "n_boot": args.boot, "n_perm": args.perm,
              "scope": args.scope,
              **run, **bare, "ratio_to_bare_products": round(run["seconds"] / bare["bare_products_s"], 2),
              "goal": "<= 60 s and <= 1 GB where the products allow",
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at the end"}
    if args.makers <= 100 and args.loop_sample:
        table, _ = study_differences(c, names, comps, in_between=in_between, n_boot=2, n_perm=0)
        sample = table[table.level == "decision_maker"].head(args.loop_sample)
        idx = {nm: k for k, nm in enumerate(names)}
        t0 = time.perf_counter()
        for row in sample.itertuples():
            a = [idx[x] for x in row.first.split(" vs ")]
            b = [idx[x] for x in row.second.split(" vs ")]
            loop_one(c, a, b, None if row.first_subset == "all" else in_between,
                     None if row.second_subset == "all" else in_between, n_boot=args.boot, seed=0)
        per_comparison = (time.perf_counter() - t0) / max(1, len(sample))
        result.update(seconds_loop_per_comparison=round(per_comparison, 2),
                      seconds_loop_all_extrapolated=round(per_comparison * run["comparisons"], 0),
                      loop_note=f"per-pair loop timed on {len(sample)} comparisons (bootstrap only, no swap test) "
                                "and scaled to all comparisons",
                      speedup=round(per_comparison * run["comparisons"] / run["seconds"], 1))
    print(json.dumps(result, indent=1))
    print(f"ratio to the bare products: {result['ratio_to_bare_products']}", file=sys.stderr)
    out = os.path.join(os.path.dirname(__file__), "results", "differences.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    saved = json.load(open(out)) if os.path.exists(out) else {}
    saved = saved if all(k.startswith("makers_") for k in saved) else {}
    saved[f"makers_{len(names)}"] = result
    with open(out, "w") as fh:
        json.dump(saved, fh, indent=1)


if __name__ == "__main__":
    main()
