"""Checkpoints are verified before they are loaded, stale ones of another recipe cannot push out a
run's own, and one checkpoint folder has one trainer (issue 15, failures 2, 3 and 8).

Each test reproduces a failure of the unverified, unlocked checkpoints first: with those, the
damaged checkpoint is trained on, the rerun starts from scratch, the second trainer writes the
same folder.
"""
import glob
import io
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
import zipfile
import zlib

import numpy as np
import pytest
import torch

import ddd
from ddd.experiment import recipes
from ddd.results.decisions import read_decisions
from ddd.training.run import train_run
from test_train import DATASET, FAMILY

SRC = os.path.dirname(os.path.dirname(ddd.__file__))  # for subprocesses: this checkout's ddd
BASE = recipes.resolve(FAMILY, "base", 1)  # E = 3 epochs and 10 extra: 13 in all
ORDER = recipes.resolve(FAMILY, "data_order", 1)  # 3 epochs


def _train(tmp_path, name, recipe, ckpt="ckpt", **kw):
    out = tmp_path / f"{name}.h5"
    train_run(recipe, DATASET, output=str(out), network_output=str(tmp_path / f"{name}.pt"),
              checkpoint_dir=str(tmp_path / ckpt), device="cpu", progress=False, **kw)
    return out


def _checkpoints(folder):
    return sorted(glob.glob(os.path.join(folder, "epoch_*.pt")))


def _same_weights(a, b):
    a, b = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """An uninterrupted run of ORDER: its decisions and network."""
    tmp = tmp_path_factory.mktemp("full")
    return read_decisions(_train(tmp, "full", ORDER, ckpt="ckpt_full")), tmp / "full.pt"


def _records(path):
    """``(name, offset of its data, size)`` of every record of the zip archive at ``path``."""
    with open(path, "rb") as fh:
        data = fh.read()
    out = []
    for info in zipfile.ZipFile(io.BytesIO(data)).infolist():
        n, m = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
        out.append((info.filename, info.header_offset + 30 + n + m, info.file_size))
    return out


def _largest_tensor(path):
    return max((r for r in _records(path) if "/data/" in r[0] and not r[0].endswith(".pkl")), key=lambda r: r[2])


def _resume_damaged(tmp_path, caplog, full, damage):
    """Stop after epoch 2, ``damage`` the newest checkpoint, resume: the resumed decisions."""
    _train(tmp_path, "cut", ORDER, stop_after=2)
    newest = _checkpoints(tmp_path / "ckpt")[-1]
    assert newest.endswith("epoch_0002.pt")
    damage(newest)
    with caplog.at_level("INFO"):
        resumed = read_decisions(_train(tmp_path, "cut", ORDER))
    np.testing.assert_array_equal(full[0].predictions, resumed.predictions)
    np.testing.assert_array_equal(full[0].probabilities, resumed.probabilities)
    assert "resuming from checkpoint at epoch 1 " in caplog.text  # the previous one
    assert _same_weights(full[1], tmp_path / "cut.pt")
    assert not (tmp_path / "ckpt").exists()  # removed after success, the damaged one too
    return newest


def test_sixteen_changed_bytes_are_caught(tmp_path, caplog, full):
    def change(path):
        with open(path, "r+b") as fh:  # sixteen bytes in the middle of the file, inverted
            middle = os.path.getsize(path) // 2
            fh.seek(middle)
            chunk = fh.read(16)
            fh.seek(middle)
            fh.write(bytes(b ^ 0xFF for b in chunk))

    newest = _resume_damaged(tmp_path, caplog, full, change)
    assert f"checkpoint {newest} is unusable" in caplog.text
    assert "fails its zip CRC" in caplog.text or "SHA-256" in caplog.text


def test_a_rewritten_record_fails_its_crc(tmp_path, caplog, full):
    def rewrite(path):
        name, offset, size = _largest_tensor(path)
        with open(path, "r+b") as fh:  # the record rewritten in place: every float32's sign flipped
            fh.seek(offset)
            values = bytearray(fh.read(size))
            values[3::4] = bytes(b ^ 0x80 for b in values[3::4])
            fh.seek(offset)
            fh.write(values)
        rewrite.name = name

    newest = _resume_damaged(tmp_path, caplog, full, rewrite)
    assert f"checkpoint {newest} is unusable (its record {rewrite.name!r} fails its zip CRC)" in caplog.text


def test_a_record_rewritten_with_a_matching_crc_fails_the_hash(tmp_path, caplog, full):
    def rewrite_with_crc(path):
        name, offset, size = _largest_tensor(path)
        with open(path, "r+b") as fh:
            data = fh.read()
            values = (-torch.frombuffer(bytearray(data[offset:offset + size]), dtype=torch.float32)).numpy().tobytes()
            crc = struct.pack("<I", zlib.crc32(values))
            fh.seek(offset)
            fh.write(values)
            archive = zipfile.ZipFile(io.BytesIO(data))
            info = archive.getinfo(name)
            if info.flag_bits & 0x08:  # the CRC follows the data, in a data descriptor
                fh.seek(offset + size + (4 if data[offset + size:offset + size + 4] == b"PK\x07\x08" else 0))
            else:  # in the local header
                fh.seek(info.header_offset + 14)
            fh.write(crc)
            central = archive.start_dir
            while data[central + 46:central + 46 + len(name)] != name.encode():  # the central directory's
                n, m, k = struct.unpack("<HHH", data[central + 28:central + 34])
                central += 46 + n + m + k
            fh.seek(central + 16)
            fh.write(crc)
        assert zipfile.ZipFile(path).testzip() is None and os.path.getsize(path) == len(data)

    newest = _resume_damaged(tmp_path, caplog, full, rewrite_with_crc)
    assert (f"checkpoint {newest} is unusable (its SHA-256 differs from the one recorded when it was written)"
            in caplog.text)


def test_without_a_valid_checkpoint_training_starts_afresh(tmp_path, caplog, full):
    _train(tmp_path, "cut", ORDER, stop_after=2)
    first, second = _checkpoints(tmp_path / "ckpt")
    os.remove(second + ".json")  # as if killed between the checkpoint and its checksum
    with open(first, "r+b") as fh:
        fh.seek(os.path.getsize(first) // 2)
        fh.write(b"\0" * 16)
    with caplog.at_level("INFO"):
        resumed = read_decisions(_train(tmp_path, "cut", ORDER))
    assert f"checkpoint {second} is unusable (its checksum file epoch_0002.pt.json is missing)" in caplog.text
    assert f"checkpoint {first} is unusable" in caplog.text
    assert "training from scratch" in caplog.text
    np.testing.assert_array_equal(full[0].predictions, resumed.predictions)


def test_stale_checkpoints_of_another_recipe_do_not_push_out_the_runs_own(tmp_path, caplog):
    full = read_decisions(_train(tmp_path, "full", BASE, ckpt="ckpt_full"))
    stale = dict(BASE, lr=BASE["lr"] * 2)  # an earlier run of the folder with another recipe
    _train(tmp_path, "stale", stale, stop_after=6)
    assert [os.path.basename(p) for p in _checkpoints(tmp_path / "ckpt")] == ["epoch_0005.pt", "epoch_0006.pt"]
    with caplog.at_level("INFO"):
        _train(tmp_path, "cut", BASE, stop_after=4)  # killed in epoch 5
    assert "training from scratch" in caplog.text
    assert caplog.text.count("belongs to another recipe") == 2  # both stale ones, set aside
    assert [os.path.basename(p) for p in _checkpoints(tmp_path / "ckpt")] == ["epoch_0003.pt", "epoch_0004.pt"]
    caplog.clear()
    with caplog.at_level("INFO"):
        resumed = read_decisions(_train(tmp_path, "cut", BASE))
    assert "resuming from checkpoint at epoch 4 " in caplog.text  # at most the epoch it was in is lost
    np.testing.assert_array_equal(full.predictions, resumed.predictions)
    np.testing.assert_array_equal(full.probabilities, resumed.probabilities)
    assert _same_weights(tmp_path / "full.pt", tmp_path / "cut.pt")
    assert not (tmp_path / "ckpt").exists()  # the stale ones set aside are removed with the folder


_ORPHAN = textwrap.dedent("""
    import sys, time
    import ddd.training.run as run
    from test_train import DATASET, FAMILY
    from ddd.experiment import recipes

    save = run.save_checkpoint
    def save_and_hang(*args, **kw):  # a trainer that goes on and on after its first checkpoint
        save(*args, **kw)
        print("saved", flush=True)
        time.sleep(600)
    run.save_checkpoint = save_and_hang
    out = sys.argv[1]
    run.train_run(recipes.resolve(FAMILY, "data_order", 1), DATASET, output=out + "/orphan.h5",
                  network_output=out + "/orphan.pt", checkpoint_dir=out + "/ckpt", device="cpu", progress=False)
""")


def test_a_second_trainer_refuses_while_another_holds_the_folder(tmp_path, caplog, full):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [SRC, os.path.dirname(__file__)]))
    orphan = subprocess.Popen([sys.executable, "-c", _ORPHAN, str(tmp_path)], env=env, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert orphan.stdout.readline().strip() == "saved"  # it trains, its checkpoint of epoch 1 written
        written = {p: os.path.getmtime(p) for p in _checkpoints(tmp_path / "ckpt")}
        with pytest.raises(RuntimeError) as refused:
            _train(tmp_path, "second", ORDER)
        message = str(refused.value)
        assert type(refused.value).__name__ == "CheckpointFolderInUse"
        assert str(tmp_path / "ckpt") in message and f"pid {orphan.pid} " in message
        assert {p: os.path.getmtime(p) for p in _checkpoints(tmp_path / "ckpt")} == written  # untouched
        assert not (tmp_path / "second.h5").exists()
    finally:
        orphan.send_signal(signal.SIGKILL)
        orphan.wait()
    with caplog.at_level("INFO"):  # its lock died with it: the job runs, resuming from its checkpoint
        resumed = read_decisions(_train(tmp_path, "second", ORDER))
    assert "resuming from checkpoint at epoch 1 " in caplog.text
    np.testing.assert_array_equal(full[0].predictions, resumed.predictions)


def test_the_lock_is_held_throughout_and_released_however_the_run_ends(tmp_path, monkeypatch):
    from ddd.training import run
    from ddd.training.checkpoints import CheckpointFolderInUse, folder_lock

    folder = str(tmp_path / "ckpt")
    epoch, refusals = run._epoch, []

    def epoch_trying_the_lock(*args):
        try:
            with folder_lock(folder):
                pass
        except CheckpointFolderInUse as err:
            refusals.append(str(err))
        return epoch(*args)

    monkeypatch.setattr(run, "_epoch", epoch_trying_the_lock)
    _train(tmp_path, "a", ORDER, stop_after=1)  # stopped
    assert len(refusals) == 1 and f"pid {os.getpid()} " in refusals[0]
    with folder_lock(folder):  # released
        pass
    _train(tmp_path, "a", ORDER)  # resumed and finished: the folder, lock file included, removed
    assert len(refusals) == 3 and not os.path.exists(folder)

    def failing_epoch(*args):
        raise OSError("disk full")

    monkeypatch.setattr(run, "_epoch", failing_epoch)
    with pytest.raises(OSError, match="disk full"):
        _train(tmp_path, "b", ORDER)
    with folder_lock(folder):  # released after a failure too
        pass


def test_the_lock_is_released_when_its_holder_is_killed(tmp_path):
    from ddd.training.checkpoints import CheckpointFolderInUse, folder_lock

    folder = str(tmp_path / "ckpt")
    env = dict(os.environ, PYTHONPATH=SRC)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom ddd.training.checkpoints import folder_lock\n"
         "with folder_lock(sys.argv[1]):\n    print('locked', flush=True)\n    time.sleep(600)\n", folder],
        env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        start = time.monotonic()
        with pytest.raises(CheckpointFolderInUse, match=f"{folder} is in use by another training process "
                                                        f"\\(pid {holder.pid} on host "):
            with folder_lock(folder):
                pass
        assert time.monotonic() - start < 1  # refused at once, no waiting
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with folder_lock(folder):
        with open(os.path.join(folder, "trainer.lock")) as fh:
            assert fh.read().startswith(f"pid {os.getpid()} ")
