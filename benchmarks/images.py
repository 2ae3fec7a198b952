"""Speed and memory of the per-image table (issue 19: images.tsv at 1,000 decision makers x 50,000 images
x 91 epochs in <= 60 s and <= 1 GB, beside the engine's benchmark).

Writes ``--makers`` synthetic decisions files (``--epochs`` + 1 rows of ``--images`` predictions over
1,000 classes; each network learns an image at a random epoch and sometimes forgets it) with
``ddd.results.decisions.write_decisions`` into a temporary folder (or ``--workdir``, reused when it
holds files of the same size), a split table for them, and times ``ddd.analysis.images.study_images``
(reading every file, learning dynamics, most frequent answers, the Rasch fit, writing images.tsv) in
a child process, whose peak resident memory (``ru_maxrss``) and peak traced allocations
(``tracemalloc``) are its own. The reference, in the same run and its own child, is the bare read
the table needs: every network's correctness at every evaluation through
``ddd.results.decisions.EpochReader.words`` (bit-packed, what the learning dynamics read) plus the
final predictions (``read_final``). ``--reference`` also times the implementation before issue 19
(``tests/reference/images_v1.py``) on the same files and checks that the tables are equal.

Cost: reading is O(M E N); the dynamics O(M E N) with a few bytes per network and image; the most
frequent answers O(M N log M); the Rasch fit one girth fit per distinct number right (<= M).
Everything is linear in N, so ``--images 5000`` at 1,000 decision makers (files written 10x faster)
extrapolates to 50,000 by x10 (``extrapolated_50000_images_s``).

    python benchmarks/images.py [--makers 33|1000] [--images 50000] [--epochs 91] [--workdir D] [--reference]
    python benchmarks/images.py --files D --workdir D2   # the 1,000 x 50,000 x 91 files of benchmarks/consistency.py

Prints JSON and writes it to ``benchmarks/results/images.json`` (key ``makers_<M>_images_<N>``).
"""
import argparse
import importlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
sys.path.insert(0, SRC)


def write_study(root: str, makers: int, images: int, epochs: int, seed: int = 0) -> list:
    from ddd.analysis.summary import summarize
    from ddd.results.decisions import write_decisions
    from ddd.results.study import write_split

    rng = np.random.default_rng(seed)
    targets = rng.integers(0, 1000, images)
    ids = [f"img{i:06d}" for i in range(images)]
    difficulty = rng.random(images)
    entries = []
    for m in range(makers):
        learned = np.minimum((difficulty * 1.5 + rng.random(images) * 0.5) * epochs, epochs + 1).astype(int)
        e = np.arange(epochs + 1)[:, None]
        correct = (e >= learned[None, :]) & (rng.random((epochs + 1, images)) > 0.05)
        wrong = (targets[None, :] + 1 + rng.integers(0, 3, (epochs + 1, images))) % 1000
        path = os.path.join(root, f"m{m:03d}.h5")
        write_decisions(path, np.where(correct, targets[None, :], wrong), targets, ids, recipe={"benchmark": True})
        entries.append({"name": f"m{m:03d}", "condition": f"m{m:03d}", "path": path, "epoch": epochs})
    _, split, _ = summarize(entries, study="benchmark")
    write_split(split, os.path.join(root, "split.tsv"))
    return entries


def study_of_files(root: str, files: str) -> list:
    """Entries and split for existing decisions files (``files/*.h5``, e.g. ``benchmarks/consistency.py
    --part b-generate --workdir files``), each decision maker at its file's last stored epoch."""
    import glob

    from ddd.analysis.summary import summarize
    from ddd.results.decisions import read_file_info
    from ddd.results.study import write_split

    entries = []
    for path in sorted(glob.glob(os.path.join(files, "*.h5"))):
        name = os.path.splitext(os.path.basename(path))[0]
        entries.append({"name": name, "condition": name, "path": os.path.abspath(path),
                        "epoch": int(read_file_info(path).epochs.max())})
    if len(entries) < 2:
        raise SystemExit(f"--files {files}: need at least 2 decisions files (*.h5), found {len(entries)}")
    _, split, _ = summarize(entries, study="benchmark")
    write_split(split, os.path.join(root, "split.tsv"))
    return entries


def child(root: str, what: str) -> dict:
    """Run ``what`` (images | read | reference) in this process and report time and peak memory."""
    with open(os.path.join(root, "entries.json")) as fh:
        entries = json.load(fh)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
    importlib.import_module("girth")  # imports before the clock: they are not the table's cost
    from reference import images_v1
    from ddd.analysis import images
    from ddd.results.decisions import EpochReader, read_file_info, read_final
    extra = {}
    tracemalloc.start()
    t0 = time.perf_counter()
    if what in ("images", "reference"):
        module = images if what == "images" else images_v1
        name = "images.tsv" if what == "images" else "images_v1.tsv"
        info = module.study_images(entries, os.path.join(root, "split.tsv"), images_path=os.path.join(root, name))
        extra = {"irt": info["irt"]}
    else:
        read_final(entries)
        paths = list(dict.fromkeys(e["path"] for e in entries))
        last = {p: max(e["epoch"] for e in entries if e["path"] == p) for p in paths}
        stored = {p: [int(x) for x in read_file_info(p).epochs if 1 <= x <= last[p]] for p in paths}
        reader = EpochReader()
        for epoch in sorted({x for v in stored.values() for x in v}):
            held = [p for p in paths if epoch in stored[p]]
            reader.words(held, [epoch] * len(held))
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    return {"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "peak_traced_mb": peak / 2 ** 20, **extra}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--makers", type=int, default=33)
    ap.add_argument("--images", type=int, default=50_000)
    ap.add_argument("--epochs", type=int, default=91)
    ap.add_argument("--workdir", help="folder for the synthetic files (default: a temporary one, removed); "
                                      "files of the same size already there are reused")
    ap.add_argument("--files", help="time existing decisions files (*.h5 in this folder, e.g. benchmarks/"
                                    "consistency.py's 1,000 x 50,000 x 91 of --part b-generate) instead of "
                                    "writing synthetic ones; --makers, --images, --epochs are then theirs")
    ap.add_argument("--reference", action="store_true", help="also time the implementation before issue 19")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    root = args.workdir or tempfile.mkdtemp(prefix="ddd-images-")
    os.makedirs(root, exist_ok=True)
    stamp = os.path.join(root, "generated.json")
    from ddd.results.decisions import FORMAT_VERSION, read_file_info
    size = [args.makers, args.images, args.epochs, FORMAT_VERSION, os.path.abspath(args.files or "")]
    try:
        if os.path.exists(stamp) and json.load(open(stamp))["size"] == size:
            written = json.load(open(stamp))["seconds"]
        else:
            t0 = time.perf_counter()
            if args.files:
                entries = study_of_files(root, args.files)
            else:
                entries = write_study(root, args.makers, args.images, args.epochs)
            written = time.perf_counter() - t0
            with open(os.path.join(root, "entries.json"), "w") as fh:
                json.dump(entries, fh)
            json.dump({"size": size, "seconds": written}, open(stamp, "w"))
        runs = {}
        for what in ("read", "images", *(["reference"] if args.reference else [])):
            out = subprocess.run([sys.executable, __file__, "--child", root, what], capture_output=True, text=True,
                                 check=True)
            runs[what] = json.loads(out.stdout.strip().splitlines()[-1])
        equal = None
        if args.reference:
            import pandas as pd
            a = pd.read_csv(os.path.join(root, "images.tsv"), sep="\t", dtype=str, keep_default_na=False)
            b = pd.read_csv(os.path.join(root, "images_v1.tsv"), sep="\t", dtype=str, keep_default_na=False)
            equal = bool(a.equals(b))
    finally:
        if not args.workdir:
            shutil.rmtree(root, ignore_errors=True)
    if args.files:  # the study's size is the files'
        entries = json.load(open(os.path.join(root, "entries.json")))
        info = read_file_info(entries[0]["path"])
        args.makers, args.images, args.epochs = len(entries), info.n_images, int(info.epochs.max())
    img, read = runs["images"], runs["read"]
    result = {"makers": args.makers, "images": args.images, "epochs": args.epochs,
              "seconds_writing_files": round(written, 1),
              "seconds_images_tsv": round(img["seconds"], 1),
              "peak_rss_mb_images_tsv": round(img["peak_rss_mb"]),
              "peak_traced_mb_images_tsv": round(img["peak_traced_mb"]),
              "seconds_bare_read": round(read["seconds"], 1),
              "peak_rss_mb_bare_read": round(read["peak_rss_mb"]),
              "ratio_to_bare_read": round(img["seconds"] / read["seconds"], 2),
              "seconds_beyond_reading": round(img["seconds"] - read["seconds"], 1),
              "irt": img["irt"], "goal": "<= 60 s and <= 1 GB at 1,000 x 50,000 x 91",
              "machine": f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at the end"}
    if args.images != 50_000:
        result["extrapolated_50000_images_s"] = round(img["seconds"] * 50_000 / args.images, 0)
        result["extrapolated_50000_images_peak_traced_mb"] = round(img["peak_traced_mb"] * 50_000 / args.images)
    if args.reference:
        ref = runs["reference"]
        result.update(seconds_before=round(ref["seconds"], 1), peak_rss_mb_before=round(ref["peak_rss_mb"]),
                      peak_traced_mb_before=round(ref["peak_traced_mb"]), tables_equal=equal)
    print(json.dumps(result, indent=1))
    print(f"ratio to the bare read: {result['ratio_to_bare_read']}", file=sys.stderr)
    out = os.path.join(os.path.dirname(__file__), "results", "images.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    saved = json.load(open(out)) if os.path.exists(out) else {}
    saved = saved if all(k.startswith("makers_") for k in saved) else {}
    saved[f"makers_{args.makers}_images_{args.images}"] = result
    with open(out, "w") as fh:
        json.dump(saved, fh, indent=1)


if __name__ == "__main__":
    main()
