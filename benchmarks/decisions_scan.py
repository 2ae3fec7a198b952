"""Single-byte corruption scan of a decisions file (issue 15, failure 1).

Writes a small decisions file (``--epochs`` evaluation epochs after epoch 0, ``--images`` images,
``--classes`` classes, with decision margins, probabilities, features, ``class_names`` and an
``image_info`` column),
then, for every chosen byte offset, a copy with that one byte changed (XOR ``--xor``, default 0xff),
and reads the copy with every reader of :mod:`ddd.results.decisions` (``read_decisions``,
``read_correct``, ``read_ids_epochs``, ``read_image_info``, ``read_final``, ``read_correct_rows``,
``read_margins``, ``read_file_info``, ``EpochReader.read`` and ``EpochReader.rows``). Each reader's
result is compared with the same reader's result on the intact file:

``same``     identical decoded arrays and attributes;
``named``    an error whose message names the flipped file (and, for ``--strict``, is a
             ``DecisionsFormatError`` or ``FileNotFoundError``);
``unnamed``  any other error;
``changed``  the reader returned something else than for the intact file: a silent wrong result.

A flip counts as ``no_effect`` if every reader gave ``same``, ``error_named`` if some gave ``named``
and the rest ``same``, else ``error_unnamed``, ``silent`` (some ``changed``), or ``crash`` (the
reading process died, e.g. a segfault inside HDF5) / ``hang`` (no answer within ``--timeout`` s).
The reads run in worker subprocesses (``--workers`` lanes, many flips each); a worker that dies is
restarted after the offset it died on, so one crash costs one offset.

    python benchmarks/decisions_scan.py [--stride 1 | --first B --sample K --seed S] [--max-offsets 0]
                                        [--workers 2] [--xor 0xff] [--strict] [--src DIR]

Prints the counts (and the offsets of every flip that is not ``no_effect``/``error_named``) as JSON.
The ``ddd`` under test is the one of this checkout (``src``), or ``--src DIR`` (e.g. an older checkout's
``src``, to measure how it did). ``tests/test_decisions_integrity.py`` runs :func:`scan` in CI: every byte of the file's head and a
random sample of the rest (every byte with ``DDD_FULL_SCAN=1``).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import selectors
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

SRC = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
OUTCOMES = ("no_effect", "error_named", "error_unnamed", "silent", "crash", "hang")


def _use_src(src: str) -> None:
    if src not in sys.path:
        sys.path.insert(0, src)


def write_reference(path: str, *, epochs: int = 3, images: int = 50, classes: int = 5, seed: int = 0) -> None:
    """A small but complete decisions file: every dataset and kind of attribute the writers produce."""
    from ddd.results.decisions import write_decisions

    rng = np.random.default_rng(seed)
    targets = rng.integers(0, classes, images)
    probs = rng.dirichlet(np.ones(classes), size=images)
    preds = rng.integers(0, classes, (epochs + 1, images))
    preds[-1] = probs.argmax(1)
    ids = np.array([f"img{i:04d}.png" for i in range(images)])
    margins = rng.normal(0, 3, (epochs + 1, images))
    margins[0, 0] = np.nan  # an image without a margin
    write_decisions(path, preds, targets, ids, epochs=np.arange(epochs + 1),
                    recipe={"arch": "resnet18", "lr": 0.1, "epochs": epochs, "aug": ["flip", "crop"]},
                    probabilities=probs, margins=margins, features=rng.normal(size=(4, 3)),
                    feature_ids=ids[[1, 5, 7, 11]],
                    image_info={"condition": np.array(["a", "b"] * (images // 2) + ["a"] * (images % 2)),
                                "level": np.arange(images, dtype=np.int64) % 3},
                    attrs={"kind": "trained", "class_names": [f"class{c}" for c in range(classes)], "seed": 7,
                           "dataset": {"name": "gauss"}, "wall_time_s": 1.5, "deterministic_hardware": True})


def _readers(path: str) -> dict:
    """Name -> zero-argument call of every reader on ``path``."""
    from ddd.results import decisions as dec

    def epoch_reader():
        reader, eps = dec.EpochReader(), _EPOCHS
        return [reader.read([path], [e]) for e in eps]

    def epoch_rows():
        reader = dec.EpochReader()
        return [tuple(np.copy(a) for a in reader.rows([path], [e])) for e in _EPOCHS]

    maker = {"name": "m", "condition": "c", "path": path, "epoch": int(_EPOCHS[-1])}
    return {
        "read_decisions": lambda: dec.read_decisions(path),
        "read_correct": lambda: dec.read_correct(path),
        "read_correct_epoch1": lambda: dec.read_correct(path, int(_EPOCHS[1])),
        "read_ids_epochs": lambda: dec.read_ids_epochs(path),
        "read_ids_epochs_raw": lambda: dec.read_ids_epochs(path, decode=False),
        "read_image_info": lambda: dec.read_image_info(path),
        "read_final": lambda: tuple(dec.read_final([maker])),
        "read_correct_rows": lambda: dec.read_correct_rows([path], [int(_EPOCHS[1])]),
        "epoch_reader": epoch_reader,
        "epoch_rows": epoch_rows,
        "read_margins": lambda: dec.read_margins(path),
        "read_margins_epoch1": lambda: dec.read_margins(path, int(_EPOCHS[1])),
        "read_file_info": lambda: tuple(dec.read_file_info(path)),
    }


_EPOCHS: list = []


def _plain(value):
    """Comparable form: dataclasses as dicts without their path, arrays as (dtype, shape, bytes)."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name != "path"}
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape,
                value.tobytes() if value.dtype.kind != "O" else repr(value.tolist()))
    if isinstance(value, np.generic):
        return ("scalar", value.dtype.str, value.tobytes())
    if isinstance(value, dict):
        return ("dict", sorted((k, _plain(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_plain(v) for v in value])
    return (type(value).__name__, repr(value))


def select_offsets(size: int, *, stride: int = 1, first: int = 0, sample: int = 0, seed: int = 0) -> list[int]:
    """Every ``stride``-th offset; or, with ``first``/``sample``, every offset below ``first`` (the
    superblock, root object header and attributes come first) and ``sample`` offsets drawn at
    random (``seed``) from the rest."""
    if not first and not sample:
        return list(range(0, size, stride))
    head = list(range(min(first, size)))
    rest = np.arange(min(first, size), size)
    picked = np.random.default_rng(seed).choice(rest, size=min(sample, rest.size), replace=False)
    return head + sorted(int(o) for o in picked)


def _run_all(path: str) -> dict:
    out = {}
    for name, call in _readers(path).items():
        try:
            out[name] = ("value", _plain(call()))
        except Exception as e:  # noqa: BLE001 (every failure is classified)
            out[name] = ("error", type(e).__name__, str(e))
    return out


def _classify(ref: dict, got: dict, path: str, strict: bool) -> tuple[str, dict]:
    """Outcome of one flip and, for readers that did not give ``same``, what they gave."""
    per = {}
    for name, result in got.items():
        if result[0] == "value":
            if result != ref[name]:
                per[name] = "changed"
        elif path in result[2] and (not strict or result[1] in ("DecisionsFormatError", "FileNotFoundError")):
            per[name] = f"named {result[1]}: {result[2][:300]}"
        else:
            per[name] = f"unnamed {result[1]}: {result[2][:300]}"
    kinds = {v.split(" ")[0] for v in per.values()}
    outcome = ("silent" if "changed" in kinds else "error_unnamed" if "unnamed" in kinds
               else "error_named" if "named" in kinds else "no_effect")
    return outcome, per


def worker(reference: str, offsets: list[int], xor: int, tmpdir: str, strict: bool, crash_at: int = -1) -> None:
    """Read a flipped copy per offset; one JSON line per offset on stdout, flushed before the next.
    ``crash_at``: die of a segfault at that offset (to test the harness)."""
    from ddd.results import decisions as dec

    _EPOCHS[:] = [int(e) for e in dec.read_ids_epochs(reference)[1]]
    intact = os.path.join(tmpdir, f"intact{os.getpid()}.h5")
    with open(reference, "rb") as fh:
        data = bytearray(fh.read())
    with open(intact, "wb") as fh:
        fh.write(data)
    ref = _run_all(intact)
    bad = {k: v for k, v in ref.items() if v[0] != "value"}
    if bad:
        raise SystemExit(f"the intact file does not read: {bad}")
    for offset in offsets:
        path = os.path.join(tmpdir, f"flip{offset:07d}.h5")
        flipped = bytearray(data)
        flipped[offset] ^= xor
        with open(path, "wb") as fh:
            fh.write(flipped)
        if offset == crash_at:
            import ctypes
            ctypes.string_at(0)
        outcome, per = _classify(ref, _run_all(path), path, strict)
        os.remove(path)
        sys.stdout.write(json.dumps({"offset": offset, "outcome": outcome, "readers": per}) + "\n")
        sys.stdout.flush()
    os.remove(intact)


def _lane(cmd_base: list, offsets: list[int], results: dict, timeout: float, env: dict) -> None:
    """Run workers over ``offsets`` until every offset has a result, restarting after a crash or hang."""
    todo = list(offsets)
    while todo:
        proc = subprocess.Popen([*cmd_base, "--offsets", ",".join(map(str, todo))], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, text=True)
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        done, hung = 0, False
        while True:
            if not sel.select(timeout):
                hung = True
                proc.kill()
                break
            line = proc.stdout.readline()
            if not line:
                break
            item = json.loads(line)
            results[item["offset"]] = item
            done += 1
        rc = proc.wait()
        stderr = proc.stderr.read()
        sel.close()
        todo = todo[done:]
        if not todo:
            break
        if rc == 0 and not hung:
            raise RuntimeError(f"worker ended without answering offsets {todo[:5]}...; stderr: {stderr[-2000:]}")
        if rc > 0 and not hung:
            raise RuntimeError(f"worker failed (rc {rc}) at offset {todo[0]}: {stderr[-2000:]}")
        results[todo[0]] = {"offset": todo[0], "outcome": "hang" if hung else "crash",
                            "readers": {"process": f"rc {rc}"}}
        todo = todo[1:]


def scan(reference: str, offsets, *, xor: int = 0xFF, workers: int = 2, src: str = SRC, timeout: float = 60.0,
         strict: bool = True, tmpdir: str | None = None, crash_at: int = -1) -> dict:
    """Flip each offset of ``reference`` (XOR ``xor``) and classify every reader's result (module docstring).

    Returns ``{"counts": {outcome: n}, "flips": n, "results": {offset: {...}}}``.
    """
    offsets = [int(o) for o in offsets]
    own_tmp = tmpdir is None
    tmpdir = tmpdir or tempfile.mkdtemp(prefix="ddd-scan-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--reference", reference, "--xor", str(xor),
           "--tmpdir", tmpdir, "--src", src, "--crash-at", str(crash_at)] + (["--strict"] if strict else [])
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONFAULTHANDLER="", PYTHONDONTWRITEBYTECODE="1")
    results: dict = {}
    errors = []

    def lane(part):
        try:
            _lane(cmd, part, results, timeout, env)
        except BaseException as e:  # noqa: BLE001 (re-raised below)
            errors.append(e)
    threads = [threading.Thread(target=lane, args=(offsets[i::workers],)) for i in range(max(1, workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if own_tmp:
        for name in os.listdir(tmpdir):
            os.remove(os.path.join(tmpdir, name))
        os.rmdir(tmpdir)
    if errors:
        raise errors[0]
    counts = {k: 0 for k in OUTCOMES}
    for item in results.values():
        counts[item["outcome"]] += 1
    return {"flips": len(results), "counts": counts, "results": dict(sorted(results.items()))}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", default=SRC, help="the src folder whose ddd is tested")
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--max-offsets", type=int, default=0, help="0: every offset (at --stride)")
    ap.add_argument("--first", type=int, default=0, help="with --sample: every offset below this one ...")
    ap.add_argument("--sample", type=int, default=0, help="... and this many drawn from the rest (--seed)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--xor", type=lambda s: int(s, 0), default=0xFF)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--strict", action="store_true", help="named errors must be DecisionsFormatError/FileNotFoundError")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--images", type=int, default=50)
    ap.add_argument("--keep", help="also write the reference file here")
    # worker mode
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--reference", help=argparse.SUPPRESS)
    ap.add_argument("--offsets", help=argparse.SUPPRESS)
    ap.add_argument("--tmpdir", help=argparse.SUPPRESS)
    ap.add_argument("--crash-at", type=int, default=-1, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    _use_src(os.path.abspath(args.src))
    if args.worker:
        worker(args.reference, [int(o) for o in args.offsets.split(",")], args.xor, args.tmpdir, args.strict,
               args.crash_at)
        return
    with tempfile.TemporaryDirectory(prefix="ddd-scan-ref-") as tmp:
        reference = os.path.join(tmp, "reference.h5")
        write_reference(reference, epochs=args.epochs, images=args.images)
        if args.keep:
            with open(reference, "rb") as src, open(args.keep, "wb") as dst:
                dst.write(src.read())
        size = os.path.getsize(reference)
        offsets = select_offsets(size, stride=args.stride, first=args.first, sample=args.sample, seed=args.seed)
        if args.max_offsets:
            offsets = offsets[:args.max_offsets]
        start = time.perf_counter()
        out = scan(reference, offsets, xor=args.xor, workers=args.workers, src=os.path.abspath(args.src),
                   timeout=args.timeout, strict=args.strict)
    seconds = time.perf_counter() - start
    import ddd.results.decisions as dec
    report = {"file_bytes": size, "flips": out["flips"], "xor": hex(args.xor), "seconds": round(seconds, 1),
              "format_version": dec.FORMAT_VERSION, "src": os.path.abspath(args.src), "counts": out["counts"],
              "not_ok": {o: r for o, r in out["results"].items()
                         if r["outcome"] not in ("no_effect", "error_named")}}
    print(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
