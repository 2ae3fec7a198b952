"""Speed and memory of the per-image table (issue: images.tsv for 33 decision makers x 50,000 images x
91 epochs in under two minutes and 2 GB).

Writes ``--makers`` synthetic decisions files (``--epochs`` + 1 rows of ``--images`` predictions over
1,000 classes; each network learns an image at a random epoch and sometimes forgets it) with
``ddd.results.decisions.write_decisions`` into a temporary folder, a split table for them, and
times ``ddd.analysis.images.study_images`` (reading every file, learning dynamics, most frequent
answers, the Rasch fit, writing images.tsv) in a child process, whose peak resident memory
(``ru_maxrss``) is its own. The reference is the bare cost of reading the same files'
predictions once (``read_decisions``, every checksum verified), measured in the same run.

    python benchmarks/images.py [--makers 33] [--images 50000] [--epochs 91]

Prints JSON and writes it to ``benchmarks/results/images.json``.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

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


def child(root: str, what: str) -> dict:
    """Run ``what`` (images | read) in this process and report time and peak memory."""
    with open(os.path.join(root, "entries.json")) as fh:
        entries = json.load(fh)
    t0 = time.perf_counter()
    if what == "images":
        from ddd.analysis.images import study_images
        info = study_images(entries, os.path.join(root, "split.tsv"), images_path=os.path.join(root, "images.tsv"))
        extra = {"irt": info["irt"]}
    else:
        from ddd.results.decisions import read_decisions
        for e in entries:
            read_decisions(e["path"], load_probabilities=False)
        extra = {}
    return {"seconds": time.perf_counter() - t0,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--makers", type=int, default=33)
    ap.add_argument("--images", type=int, default=50_000)
    ap.add_argument("--epochs", type=int, default=91)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    with tempfile.TemporaryDirectory() as root:
        t0 = time.perf_counter()
        entries = write_study(root, args.makers, args.images, args.epochs)
        written = time.perf_counter() - t0
        with open(os.path.join(root, "entries.json"), "w") as fh:
            json.dump(entries, fh)
        runs = {}
        for what in ("read", "images"):
            out = subprocess.run([sys.executable, __file__, "--child", root, what], capture_output=True, text=True,
                                 check=True)
            runs[what] = json.loads(out.stdout.strip().splitlines()[-1])
    result = {"makers": args.makers, "images": args.images, "epochs": args.epochs,
              "seconds_writing_files": round(written, 1),
              "seconds_images_tsv": round(runs["images"]["seconds"], 1),
              "peak_rss_mb_images_tsv": round(runs["images"]["peak_rss_mb"]),
              "seconds_bare_read": round(runs["read"]["seconds"], 1),
              "ratio_to_bare_read": round(runs["images"]["seconds"] / runs["read"]["seconds"], 2),
              "irt": runs["images"]["irt"], "goal": "<= 120 s and <= 2 GB"}
    print(json.dumps(result, indent=1))
    out = os.path.join(os.path.dirname(__file__), "results", "images.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as fh:
        json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
