"""Issue 15, failure 1: one changed byte of a decisions file is never read as data.

Bytes of a small decisions file (3 epochs after epoch 0, 50 images, 5 classes, decision margins,
probabilities, features, image_info and the attributes a training run writes; about 13 KB) are flipped in turn
(XOR 0xff): every byte of its first KB (superblock, root object header, attributes, the first
dataset headers) and 1,000 drawn at random (fixed seed) from the rest, or every byte with
``DDD_FULL_SCAN=1`` (about 7 minutes on 2 cores; the script reports the same). Each copy is read by every reader of :mod:`ddd.results.decisions` in worker subprocesses
(``benchmarks/decisions_scan.py``, which also runs as a script). Each reader must return exactly
what it returns for the intact file, or raise DecisionsFormatError naming the copy: no silent
change, no unnamed error, no crash (a worker that dies, e.g. of a segfault inside HDF5, is
restarted after the offset it died on, and that offset counts as a crash).
"""
import importlib.util
import os
from pathlib import Path

import pytest

from ddd.results.decisions import FORMAT_VERSION

SCAN = Path(__file__).resolve().parents[1] / "benchmarks" / "decisions_scan.py"


@pytest.fixture(scope="module")
def scanner():
    spec = importlib.util.spec_from_file_location("decisions_scan", SCAN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _not_ok(out):
    return {o: r for o, r in out["results"].items() if r["outcome"] not in ("no_effect", "error_named")}


def test_every_single_byte_flip_is_without_effect_or_an_error_naming_the_file(scanner, tmp_path):
    reference = str(tmp_path / "reference.h5")
    scanner.write_reference(reference)
    size = os.path.getsize(reference)
    full = os.environ.get("DDD_FULL_SCAN", "") not in ("", "0")
    offsets = scanner.select_offsets(size) if full else scanner.select_offsets(size, first=1024, sample=1000)
    out = scanner.scan(reference, offsets, workers=2, strict=True)
    counts = out["counts"]
    print(f"\n{len(offsets)} single-byte flips of a {size}-byte decisions file (format version {FORMAT_VERSION}): {counts}")
    assert out["flips"] == len(offsets)
    bad = _not_ok(out)
    assert not bad, f"{len(bad)} flips neither harmless nor a named error, e.g. {list(bad.items())[:5]}"
    assert counts["error_named"] > len(offsets) // 3  # the checks do fire (data, metadata and checksums)


def test_the_scan_reports_a_crash_and_goes_on(scanner, tmp_path):
    """The harness itself: a worker that dies at one offset costs that offset only."""
    reference = str(tmp_path / "reference.h5")
    scanner.write_reference(reference)
    out = scanner.scan(reference, [0, 1, 2, 3], workers=1, crash_at=2)
    assert out["results"][2]["outcome"] == "crash" and out["results"][2]["readers"]["process"].startswith("rc -")
    assert [out["results"][o]["outcome"] != "crash" for o in (0, 1, 3)] == [True] * 3
    assert out["counts"]["crash"] == 1 and out["flips"] == 4
