"""Speed and memory of the all-pairs error-consistency engine (issue: >= 100x a per-pair loop).

(a) ``ddd.analysis.engine.all_pairs`` (reading 1-epoch decisions files) and ``ddd.analysis.uncertainty.pairwise`` (in
    memory) against a straightforward per-pair pandas loop written the way model-vs-human computes
    error consistency (``modelvshuman/plotting/analyses.py::ErrorConsistency.analysis``: per pair,
    accuracies from DataFrames, sort both by image id, compare ``is_correct``), on ``--loop-makers``
    decision makers x ``--images`` images (default 100 x 50,000; trials in a different order per
    decision maker). Reports seconds (engine and pairwise: best of 3 runs, all listed; the loop:
    one run, itself an average over its 4,950 pairs), the speed ratio and the largest difference of
    p_a, p_b, c_obs, c_exp and kappa over all pairs (must be <= 1e-12).
(b) every pair of ``--makers`` x ``--images`` x ``--epochs`` (default 1,000 x 50,000 x 91) read epoch
    by epoch from synthetic decisions files (written with ``ddd.results.decisions.write_decisions`` in a
    temporary directory, or ``--workdir``), on the whole set and one 40 % subset, summary per
    epoch, subset and 13 groups (no pairs TSV: 91 M rows would be ~15 GB), error consistency only
    (``agreement=False``: what the issue's goal measures; ``--agreement`` adds a run with the
    agreement beyond kappa, which reads every prediction). Each measurement runs in its own child
    process so that its peak resident memory (``ru_maxrss``) and peak traced allocations
    (``tracemalloc``, numpy arrays included) are its own. In the same run, two references:
    the bare read (plain h5py reading every file's ``correct_bits``, all epochs, no checks) and the
    bare products (float32 ``x @ x.T`` of one epoch's 0/1 matrix, split into the subset's columns
    and the rest, timed over ``--product-reps`` epochs and scaled to all: the issue's reference);
    the engine's ratio to their sum is the goal (<= 1.5). The engine itself counts by population
    count over bit-packed rows (``ddd.analysis.bitcount``), about 10x less arithmetic time than those
    products, so a third child times that too (``bare_popcount``: the whole set and the subset per
    epoch, as the engine counts) and the ratio to the bare read plus it is reported beside the
    goal's. A check child compares the engine's p_a, p_b, c_obs, c_exp and kappa of every pair at the
    first and last epoch with ``ddd.analysis.kappa.pair_table`` of counts from float64 BLAS products
    of the correctness computed from the stored predictions (independent of the population count;
    must be identical).

    python benchmarks/consistency.py [--part a|b|all] [--makers 1000] [--epochs 91] [--images 50000]

Prints the JSON result and writes it to ``benchmarks/results/consistency.json`` (parts run now
replace those keys; others are kept).
"""
import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from ddd.analysis.uncertainty import pairwise  # noqa: E402
from ddd.experiment.makers import DecisionMaker  # noqa: E402
from ddd.results.decisions import FORMAT_VERSION, write_decisions  # noqa: E402
from ddd.analysis.engine import all_pairs, iter_pairs  # noqa: E402

RESULT = os.path.join(os.path.dirname(__file__), "results", "consistency.json")
CLASSES = 1000


def synthetic(rng, n_makers: int, n_images: int, n_epochs: int, difficulty: np.ndarray, targets: np.ndarray):
    """Yield (E, N) int16 predictions per decision maker: right with probability sigmoid(skill - difficulty)."""
    for _ in range(n_makers):
        skill = rng.normal(1.0, 0.3) + np.linspace(-2.0, 0.0, n_epochs)[:, None]
        right = rng.random((n_epochs, n_images), dtype=np.float32) < 1 / (1 + np.exp(difficulty[None] - skill))
        wrong = (targets + rng.integers(1, CLASSES, size=n_images)) % CLASSES
        yield np.where(right, targets[None], wrong[None]).astype(np.int16)


def mvh_loop(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Error consistency of every pair, one pair at a time with pandas (model-vs-human's way)."""
    rows = []
    for x in range(len(frames)):
        for y in range(x + 1, len(frames)):
            df1, df2 = frames[x], frames[y]
            p1 = len(df1.loc[df1.object_response == df1.category]) / len(df1)
            p2 = len(df2.loc[df2.object_response == df2.category]) / len(df2)
            expected = p1 * p2 + (1 - p1) * (1 - p2)
            df1 = df1.sort_values(by="image_id").reset_index()
            df2 = df2.sort_values(by="image_id").reset_index()
            assert df1["image_id"].equals(df2["image_id"])
            df1["is_correct"] = df1.object_response == df1.category
            df2["is_correct"] = df2.object_response == df2.category
            observed = (df1.is_correct == df2.is_correct).sum() / len(df1)
            kappa = 1.0 if observed == 1.0 else (observed - expected) / (1.0 - expected)
            rows.append((x, y, p1, p2, observed, expected, kappa))
    return pd.DataFrame(rows, columns=["a", "b", "p_a", "p_b", "c_obs", "c_exp", "kappa"])


def part_a(args, work: str) -> dict:
    rng = np.random.default_rng(0)
    m, n = args.loop_makers, args.images
    ids = np.array([f"n{i // 50:05d}_{i:06d}.JPEG" for i in range(n)])
    targets = rng.integers(0, CLASSES, n)
    preds = np.concatenate(list(synthetic(rng, m, n, 1, rng.normal(0, 1.5, n), targets)))
    makers = []
    for k in range(m):
        path = os.path.join(work, f"a{k:03d}.h5")
        write_decisions(path, preds[k:k + 1], targets, ids, recipe={})
        makers.append(DecisionMaker(f"m{k:03d}", "c", path, 0))
    engine_s, memory_s = [], []
    for _ in range(3):  # the fast ones: best of 3 (the loop is an average over its pairs already)
        t0 = time.perf_counter()
        all_pairs(makers, pairs_path=os.path.join(work, "a_pairs.tsv"))
        engine_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        mem = pairwise(preds == targets[None])
        memory_s.append(time.perf_counter() - t0)
    t_engine, t_memory = min(engine_s), min(memory_s)
    engine = pd.read_csv(os.path.join(work, "a_pairs.tsv"), sep="\t")  # values as written (full precision)
    frames = []
    for k in range(m):  # each decision maker's trials in its own order, as in model-vs-human raw data
        order = rng.permutation(n)
        frames.append(pd.DataFrame({"image_id": ids[order], "object_response": preds[k, order],
                                    "category": targets[order]}))
    t0 = time.perf_counter()
    loop = mvh_loop(frames)
    t_loop = time.perf_counter() - t0
    cols = ["p_a", "p_b", "c_obs", "c_exp", "kappa"]
    diff_file = float(np.max(np.abs(engine[cols].to_numpy() - loop[cols].to_numpy())))
    diff_memory = float(np.max(np.abs(mem[cols].to_numpy() - loop[cols].to_numpy())))
    return {"decision_makers": m, "images": n, "pairs": len(loop), "loop_s": round(t_loop, 3),
            "engine_from_hdf5_s": round(t_engine, 3), "pairwise_in_memory_s": round(t_memory, 3),
            "engine_from_hdf5_runs_s": [round(t, 3) for t in engine_s],
            "pairwise_in_memory_runs_s": [round(t, 3) for t in memory_s],
            "speedup_engine_from_hdf5": round(t_loop / t_engine, 1),
            "speedup_pairwise_in_memory": round(t_loop / t_memory, 1),
            "max_abs_diff_engine": diff_file, "max_abs_diff_pairwise": diff_memory,
            "identical_to_1e-12": bool(max(diff_file, diff_memory) <= 1e-12)}


def generate_b(args, work: str) -> dict:
    m, n, e = args.makers, args.images, args.epochs
    stamp = os.path.join(work, "generated.json")
    key = [m, n, e, FORMAT_VERSION]
    if os.path.exists(stamp) and json.load(open(stamp))["size"] == key:  # --workdir reused
        return json.load(open(stamp))["info"]
    rng = np.random.default_rng(1)
    ids = np.array([f"img{i:06d}" for i in range(n)])
    targets = rng.integers(0, CLASSES, n)
    difficulty = rng.normal(0, 1.5, n)
    np.save(os.path.join(work, "subset.npy"), np.abs(difficulty - 1.0) < 0.8)  # ~40 % of the images
    t0 = time.perf_counter()
    for k, preds in enumerate(synthetic(rng, m, n, e, difficulty, targets)):
        write_decisions(os.path.join(work, f"b{k:04d}.h5"), preds, targets, ids, recipe={})
        if k % 100 == 99:
            print(f"  wrote {k + 1}/{m} files, {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
    size = sum(os.path.getsize(os.path.join(work, f)) for f in os.listdir(work) if f.startswith("b"))
    info = {"generate_s": round(time.perf_counter() - t0, 1), "files_gb": round(size / 1e9, 2)}
    json.dump({"size": key, "info": info}, open(stamp, "w"))
    return info


def _makers(args, work: str) -> list:
    return [DecisionMaker(f"m{k:04d}", "c", os.path.join(work, f"b{k:04d}.h5"), args.epochs - 1)
            for k in range(args.makers)]


def _measured(fn) -> dict:
    """Seconds, peak resident and peak traced memory of ``fn()`` (in this child process)."""
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn() or {}
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    return {"seconds": round(seconds, 1), **out,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "peak_traced_mb": round(peak / 2 ** 20, 1)}


def run_b(args, work: str) -> dict:
    """In a child process: the engine alone, with its time and peak memory."""
    makers = _makers(args, work)
    subset = np.load(os.path.join(work, "subset.npy"))
    groups = {m.name: f"condition{k % 13:02d}" for k, m in enumerate(makers)}

    def engine():
        summary = all_pairs(makers, subsets={"in_between": subset}, groups=groups, agreement=args.agreement,
                            summary_path=os.path.join(work, f"b_summary_{int(args.agreement)}.tsv"))
        return {"summary_rows": len(summary)}
    out = _measured(engine)
    out["seconds_per_epoch"] = round(out["seconds"] / args.epochs, 2)
    out["pair_rows"] = args.makers * (args.makers - 1) // 2 * args.epochs * 2
    return out


def bare_read(args, work: str) -> dict:
    """In a child process: every file's correct_bits (all epochs) with plain h5py, nothing checked."""
    import h5py

    def read():
        total = 0
        for k in range(args.makers):
            with h5py.File(os.path.join(work, f"b{k:04d}.h5"), "r") as f:
                total += f["correct_bits"][()].nbytes
        return {"bytes_read_mb": round(total / 2 ** 20, 1)}
    return _measured(read)


def bare_products(args, work: str) -> dict:
    """In a child process: float32 products of one epoch (subset columns and the rest), scaled to all epochs."""
    subset = np.load(os.path.join(work, "subset.npy"))
    rng = np.random.default_rng(2)
    parts = [(rng.random((args.makers, int(k)), dtype=np.float32) < 0.6).astype(np.float32)
             for k in (subset.sum(), (~subset).sum())]
    times = []
    for _ in range(args.product_reps):
        t0 = time.perf_counter()
        for x in parts:
            x @ x.T
        times.append(time.perf_counter() - t0)
    per_epoch = float(np.median(times))
    return {"seconds": round(per_epoch * args.epochs, 1), "seconds_per_epoch": round(per_epoch, 3),
            "epochs_timed": args.product_reps}


def bare_popcount(args, work: str) -> dict:
    """In a child process: the population counts the engine does per epoch (whole set and the subset, on
    bit-packed rows: ``ddd.analysis.bitcount.both_counts``), timed like the float32 products, scaled to all epochs."""
    from ddd.analysis.bitcount import both_counts, pack

    subset = np.load(os.path.join(work, "subset.npy"))
    rng = np.random.default_rng(2)
    words, mask = pack(rng.random((args.makers, args.images), dtype=np.float32) < 0.6), pack(subset)
    both_counts(words[:8])  # numba's import and compilation (or cache load) once per process, not per epoch
    times = []
    for _ in range(args.product_reps):
        t0 = time.perf_counter()
        both_counts(words)
        both_counts(words, mask=mask)
        times.append(time.perf_counter() - t0)
    per_epoch = float(np.median(times))
    return {"seconds": round(per_epoch * args.epochs, 1), "seconds_per_epoch": round(per_epoch, 4),
            "epochs_timed": args.product_reps}


def check_b(args, work: str) -> dict:
    """In a child process: the engine's pair columns at the first and last epoch against ``pair_table`` of counts
    made independently of the engine's population counts (float64 BLAS products of the correctness computed
    from the stored predictions, exact integers)."""
    import h5py

    from ddd.analysis.kappa import pair_table

    makers = _makers(args, work)
    worst = 0.0
    for epoch in (0, args.epochs - 1):
        frame = next(iter_pairs(makers, epochs=[epoch], agreement=False))
        correct = []
        for m in makers:
            with h5py.File(m.path, "r") as f:
                correct.append(f["predictions"][epoch] == f["targets"][()])
        x = np.array(correct, dtype=np.float64)
        both = np.rint(x @ x.T).astype(np.int64)
        i, j = np.triu_indices(len(makers), k=1)
        want = pair_table(x.shape[1], both[i, i], both[j, j], both[i, j])
        for col in ("p_a", "p_b", "c_obs", "c_exp", "kappa"):
            a, b = frame[col].to_numpy(), np.asarray(want[col])
            same_nan = np.isnan(a) == np.isnan(b)
            worst = max(worst, float(np.nanmax(np.abs(a - b))) if same_nan.all() else np.inf)
    return {"epochs_checked": [0, args.epochs - 1], "max_abs_diff": worst, "identical": worst == 0.0}


def _child(args, work: str, part: str, *extra) -> dict:
    cmd = [sys.executable, __file__, "--part", part, "--workdir", work, "--makers", str(args.makers),
           "--images", str(args.images), "--epochs", str(args.epochs), "--product-reps", str(args.product_reps),
           *extra]
    child = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(child.stdout)


def part_b(args, work: str) -> dict:
    out = {"decision_makers": args.makers, "images": args.images, "epochs": args.epochs,
           "subsets": ["all", "in_between"], "decisions_format_version": FORMAT_VERSION}
    out.update(generate_b(args, work))
    out["bare_read"] = _child(args, work, "b-read")
    out["bare_products"] = _child(args, work, "b-products")
    out["bare_popcount"] = _child(args, work, "b-popcount")
    out["engine"] = _child(args, work, "b-run")
    bare = out["bare_read"]["seconds"] + out["bare_products"]["seconds"]
    out["ratio_to_bare_read_plus_products"] = round(out["engine"]["seconds"] / bare, 2)
    out["ratio_to_bare_read_plus_popcount"] = round(
        out["engine"]["seconds"] / (out["bare_read"]["seconds"] + out["bare_popcount"]["seconds"]), 2)
    out["goal"] = "engine <= 60 s, <= 1 GB peak, ratio <= 1.5 (issue 19)"
    out["goal_met"] = bool(out["engine"]["seconds"] <= 60 and out["engine"]["peak_rss_mb"] <= 1024
                           and out["ratio_to_bare_read_plus_products"] <= 1.5)
    if not args.no_check:
        out["check_against_blas_counts"] = _child(args, work, "b-check")
    if args.agreement:
        out["engine_with_agreement"] = _child(args, work, "b-run", "--agreement")
    full = (1000, 50000, 91)
    if (args.makers, args.images, args.epochs) != full:  # reading ~ M E N, products ~ M^2 E N
        out["note"] = "reduced size; extrapolation to 1000 x 50000 x 91 assumes time ~ M^2 x N x E (upper bound)"
        out["extrapolated_full_s"] = round(out["engine"]["seconds"] * (1000 / args.makers) ** 2
                                           * (50000 / args.images) * (91 / args.epochs), 0)
    print(f"engine {out['engine']['seconds']} s, {out['engine']['peak_rss_mb']} MB peak; bare read "
          f"{out['bare_read']['seconds']} s + bare products {out['bare_products']['seconds']} s; ratio "
          f"{out['ratio_to_bare_read_plus_products']} (to the bare read + bare population counts "
          f"{out['bare_popcount']['seconds']} s: {out['ratio_to_bare_read_plus_popcount']})", file=sys.stderr)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=["a", "b", "all", "b-generate", "b-run", "b-read", "b-products", "b-popcount", "b-check"], default="all")
    p.add_argument("--loop-makers", type=int, default=100)
    p.add_argument("--makers", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=91)
    p.add_argument("--images", type=int, default=50000)
    p.add_argument("--product-reps", type=int, default=5, help="epochs of bare products timed (part b)")
    p.add_argument("--agreement", action="store_true", help="part b: also run the engine with agreement")
    p.add_argument("--no-check", action="store_true", help="part b: skip the check against pairwise")
    p.add_argument("--workdir", help="directory for the synthetic files (default: a temporary one, removed); "
                                     "files of the same size already there are reused")
    args = p.parse_args()
    children = {"b-run": run_b, "b-read": bare_read, "b-products": bare_products, "b-popcount": bare_popcount,
                "b-check": check_b}
    if args.part in children:
        print(json.dumps(children[args.part](args, args.workdir)))
        return
    work = args.workdir or tempfile.mkdtemp(prefix="ddd-bench-")
    os.makedirs(work, exist_ok=True)
    if args.part == "b-generate":  # the files only (into --workdir), for later runs of part b
        print(json.dumps(generate_b(args, work)))
        return
    result = json.load(open(RESULT)) if os.path.exists(RESULT) else {}
    result["machine"] = {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg(),
                         "python": platform.python_version(), "numpy": np.__version__}
    try:
        if args.part in ("a", "all"):
            result["a_engine_vs_per_pair_loop"] = part_a(args, work)
        if args.part in ("b", "all"):
            result["b_all_pairs_streaming"] = part_b(args, work)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.dirname(RESULT), exist_ok=True)
    with open(RESULT, "w") as fh:
        json.dump(result, fh, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
