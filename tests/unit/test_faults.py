"""Faults: a training run killed with SIGKILL, a full disk while saving, and a browser
that leaves in the middle of a pixel generation.

SIGKILL gives the process no chance to clean up, so what survives is only what the
atomic writes guarantee: every file on disk is either the previous complete version or
the new complete one. The full disk is real: the temporary file the save writes first
is made a link to ``/dev/full``, where every write fails with ENOSPC from the kernel.
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from autoreg import checkpoints, load_pretrained
from autoreg import train as train_cli
from autoreg.checkpoints import CheckpointWriteError, load_checkpoint, save_checkpoint
from autoreg.pixelcnn.generation import GenerationRun
from autoreg.seq.training import load_resume, resume_path

ROOT = Path(__file__).resolve().parents[2]
DEV_FULL = Path("/dev/full")
needs_dev_full = pytest.mark.skipif(not DEV_FULL.exists(), reason="no /dev/full here")


def _text() -> str:
    return Path(json.__file__).with_name("decoder.py").read_text() * 12  # ~150k characters


def _seq_args(corpus: Path, out: Path, *extra: str) -> list[str]:
    return ["seq", "--corpus", str(corpus), "--cell", "lstm", "--embed-size", "8",
            "--hidden-size", "16", "--batch-size", "4", "--bptt", "16", "--epochs", "2",
            "--eval-batches", "4", "--threads", "1", "--out", str(out), *extra]  # fmt: skip


def _popen(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "autoreg.train", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
    )


def _kill_when(proc: subprocess.Popen, ready, wait_s: float, timeout: float = 120) -> None:
    """SIGKILL ``proc`` ``wait_s`` seconds after ``ready()`` first holds."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "the run never reached the point to kill it at"
        time.sleep(0.05)
    time.sleep(wait_s)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_a_sequence_run_killed_mid_epoch_resumes_from_its_last_checkpoint(tmp_path) -> None:
    corpus = tmp_path / "text.txt"
    corpus.write_text(_text())
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert train_cli.main(_seq_args(corpus, whole)) == 0

    clock = ("--checkpoint-minutes", "0.002")  # a resume file every 0.12 s
    rpath = resume_path(killed)
    for round_ in range(2):  # killed twice at random moments, resumed each time
        seen = rpath.stat().st_mtime_ns if rpath.exists() else None

        def training(seen=seen) -> bool:  # this round has written its first resume file
            return rpath.exists() and rpath.stat().st_mtime_ns != seen

        proc = _popen(_seq_args(corpus, killed, *clock, "--resume"))
        try:
            _kill_when(proc, training, wait_s=random.Random(round_).uniform(0.5, 1.5))
        finally:
            proc.kill()
        _, snap = load_resume(rpath)  # complete and readable, never torn
        assert snap.progress.step > 0 and snap.progress.epoch <= 2
    # what the kills left: the corpus, the finished run, the resume file, the checkpoint
    # and its card once an epoch ended, and at most one temporary file per kill (a write
    # cut short), which nothing reads
    names = {p.name for p in tmp_path.iterdir()}
    done = {"text.txt", "whole.safetensors", "whole.json", resume_path(whole).name, rpath.name}
    assert done <= names
    rest = names - done - {"killed.safetensors", "killed.json"}
    assert len(rest) <= 2 and all(n.startswith(".") and n.endswith(".tmp") for n in rest), rest

    proc = _popen(_seq_args(corpus, killed, *clock, "--resume"))
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    assert f"resuming {rpath}" in out
    a = load_checkpoint(whole.with_suffix(".safetensors"))
    b = load_checkpoint(killed.with_suffix(".safetensors"))
    for k in a.tensors:  # the resumed run is the uninterrupted one, bit for bit
        torch.testing.assert_close(a.tensors[k], b.tensors[k], rtol=0, atol=0, msg=k)
    assert a.card["metrics"] == b.card["metrics"]


@pytest.mark.slow
def test_a_pixel_run_killed_mid_epoch_keeps_its_last_checkpoint(tmp_path) -> None:
    out = tmp_path / "pix"
    args = ["pixel", "--dataset", "digits-8x8", "--size", "8", "--levels", "4",
            "--channels", "16", "--blocks", "2", "--device", "cpu", "--threads", "1"]  # fmt: skip
    ckpt = out.with_suffix(".safetensors")
    proc = _popen([*args, "--epochs", "200", "--out", str(out)])
    try:
        _kill_when(proc, ckpt.exists, wait_s=1.3)
    finally:
        proc.kill()
    done = load_checkpoint(ckpt)  # the last epoch's checkpoint, whole
    epochs = done.card["metrics"]["epochs"]
    assert 1 <= epochs < 200
    copy = json.loads(ckpt.with_suffix(".json").read_text())["metrics"]["epochs"]
    assert copy in (epochs, epochs - 1)  # the card's copy follows the weights' rename
    more = tmp_path / "more"
    assert train_cli.main([*args, "--epochs", "1", "--resume", str(ckpt), "--out", str(more)]) == 0
    card = load_checkpoint(more.with_suffix(".safetensors")).card
    assert card["metrics"]["epochs_total"] == epochs + 1


def _weights(fill: float) -> dict[str, torch.Tensor]:
    return {"w": torch.full((256, 256), fill)}


CARD = {"format": "autoreg", "version": 1, "kind": "sequence", "config": {}}


@needs_dev_full
def test_a_full_disk_gives_a_clear_error_and_keeps_the_previous_checkpoint(tmp_path) -> None:
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, _weights(1.0), {**CARD, "step": 1})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    tmp = checkpoints._temporary(path)  # where this thread's next save writes first
    tmp.symlink_to(DEV_FULL)
    with pytest.raises(CheckpointWriteError) as exc:
        save_checkpoint(path, _weights(2.0), {**CARD, "step": 2})
    assert exc.value.errno == errno.ENOSPC
    message = str(exc.value)
    assert str(path) in message and "the disk is full" in message and "kept unchanged" in message
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # link gone too
    assert torch.equal(load_checkpoint(path).tensors["w"], _weights(1.0)["w"])


@needs_dev_full
def test_training_on_a_full_disk_stops_with_the_message_and_the_old_files(tmp_path, capsys) -> None:
    corpus = tmp_path / "text.txt"
    corpus.write_text(_text()[:20000])
    out = tmp_path / "run"
    args = _seq_args(corpus, out, "--epochs", "1")
    assert train_cli.main(args) == 0
    kept = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    capsys.readouterr()
    ckpt = out.with_suffix(".safetensors")
    checkpoints._temporary(ckpt).symlink_to(DEV_FULL)  # the disk fills up before the save
    assert train_cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Could not save") and "the disk is full" in err
    assert "Traceback" not in err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == kept


def test_a_generation_whose_browser_left_stops_and_frees_its_lock() -> None:
    model = load_pretrained("pixelcnn-mnist28-binary")  # 784 pixels: seconds to draw
    watched = threading.Event()
    watched.set()
    run = GenerationRun(model, n=16, seed=0)
    run.start_background(alive=watched.is_set, grace=0.3)
    deadline = time.monotonic() + 60
    while run.computed < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    watched.clear()  # the tab is closed
    run.wait(timeout=30)
    assert not run._thread.is_alive()
    assert run.orphaned and run.stopped and not run.done
    assert run._advance_lock.acquire(blocking=False)  # the lock is free again
    run._advance_lock.release()
    assert run.computed < run.total

    small = load_pretrained("pixelcnn-digits8")
    back = GenerationRun(small, n=1, seed=0)  # a session that comes back in time keeps it
    flaky = iter([False] * 3 + [True] * 10_000)
    back.start_background(alive=lambda: next(flaky, True), grace=5.0)
    back.wait(timeout=60)
    assert back.done and not back.orphaned
