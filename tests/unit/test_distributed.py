"""Training across processes: ``torchrun --nproc_per_node 2`` takes the steps of one process.

Two CPU processes (gloo) train a tiny model on a shared global batch, and their result
is compared with one process training on the same global batch.

Tolerance: 1e-5 on weights and bits. The two runs do the same arithmetic except that the
gradient of the global batch is summed as two half-batch gradients averaged by an
all-reduce, which reorders float32 additions (differences of order 1e-7 per step that
Adam carries forward). A lost or duplicated share of the batch, an unsynchronised
gradient or a wrong loss weight moves the weights by 1e-3 or more after a few steps.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from autoreg import distributed
from autoreg.checkpoints import load_checkpoint
from autoreg.pretrained import model_from_checkpoint
from autoreg.seq.trace import trace

ROOT = Path(__file__).resolve().parents[2]
TOL = 1e-5


def _run(args: list[str], processes: int) -> subprocess.CompletedProcess:
    launcher = [sys.executable]
    if processes > 1:  # what the torchrun script runs
        launcher += ["-m", "torch.distributed.run", "--standalone"]
        launcher += ["--nproc_per_node", str(processes)]
    launcher += ["-m", "autoreg.train"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    # a session of its own: on a timeout the launcher and its workers go together
    proc = subprocess.Popen(
        launcher + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env, cwd=ROOT, start_new_session=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, out[-2000:] + err[-4000:]
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=TOL, msg=k)


def test_world_shards_and_refuses_unequal_shares(monkeypatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    worlds = [distributed.World(rank=r, size=4) for r in range(4)]
    rows = [list(range(8))[w.shard(8)] for w in worlds]
    assert rows == [[0, 1], [2, 3], [4, 5], [6, 7]]  # every row once, in rank order
    with pytest.raises(ValueError, match="multiple of 4"):
        worlds[0].shard(6)
    single = distributed.SINGLE
    assert single.main and single.shard(5) == slice(0, 5) and single.sum([1.5, 2.0]) == [1.5, 2.0]
    model = torch.nn.Linear(2, 2)
    assert single.wrap(model) is model  # one process trains the bare model
    assert not distributed.launched()


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_two_processes_train_a_sequence_model_like_one(tmp_path, monkeypatch, cell) -> None:
    corpus = tmp_path / "text.txt"
    corpus.write_text(Path(torch.__file__).with_name("functional.py").read_text()[:24000])
    common = ["seq", "--corpus", str(corpus), "--cell", cell, "--embed-size", "8",
              "--hidden-size", "16", "--batch-size", "8", "--bptt", "16", "--epochs", "2",
              "--warmup-steps", "5", "--eval-batches", "0", "--threads", "1",
              "--checkpoint-minutes", "0.001"]  # fmt: skip
    _run([*common, "--out", str(tmp_path / "one")], 1)
    two = _run([*common, "--out", str(tmp_path / "two")], 2)
    assert two.stdout.count("saved ") == 1  # rank 0 speaks and saves; rank 1 is silent

    a = load_checkpoint(tmp_path / "one.safetensors")
    b = load_checkpoint(tmp_path / "two.safetensors")
    _assert_same_weights(a.tensors, b.tensors)
    ha, hb = a.card["history"], b.card["history"]
    assert len(ha) == len(hb) == 2
    for ea, eb in zip(ha, hb, strict=True):
        assert ea["train_bits"] == pytest.approx(eb["train_bits"], abs=TOL)
        assert ea["val_bits"] == pytest.approx(eb["val_bits"], abs=TOL)
    assert a.card["metrics"]["steps"] == b.card["metrics"]["steps"]
    assert "2 processes" in b.card["device"] and "processes" not in a.card["device"]

    # the clock checkpoints hold the whole batch's recurrent state, gathered from both ranks
    from autoreg.seq.training import load_resume

    _, resume = load_resume(tmp_path / "two.resume.safetensors")
    assert all(s.shape[1] == 8 for s in resume.rnn_state)  # (layers, B, H), B = 8 streams

    # the checkpoint is an ordinary one: the loader every page uses opens and traces it
    model = model_from_checkpoint(b)
    tr = trace(model, "def f(x):\n    return x")
    assert tr.probs.shape[0] == len(tr.tokens)
    if cell == "lstm":
        _opens_on_every_sequence_page(tmp_path / "two.safetensors", monkeypatch, tmp_path)


def _opens_on_every_sequence_page(path: Path, monkeypatch, tmp_path: Path) -> None:
    """Opened on the Train page like any checkpoint, the model is offered and drawn by
    Step through, Units, Generate text and Memory (AppTest, the real app)."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("AUTOREG_CACHE_DIR", str(tmp_path / "cache"))  # never the user's
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("pages/train.py").run()
    at.file_uploader(key="train_ckpt").upload(
        "two.safetensors", path.read_bytes(), "application/octet-stream"
    ).run()
    assert not at.exception, at.exception
    name = "session:two (uploaded)"
    pages = {"step": "step_model", "units": "units_model", "generate": "gen_model",
             "memory": "memory_model_lstm"}  # fmt: skip
    for page, key in pages.items():
        at.switch_page(f"pages/{page}.py").run()
        at.selectbox(key=key).set_value(name).run()
        assert not at.exception, (page, at.exception)
        assert at.selectbox(key=key).value == name, page


@pytest.mark.slow
def test_two_processes_train_a_pixelcnn_like_one(tmp_path) -> None:
    common = ["pixel", "--dataset", "digits-8x8", "--size", "8", "--levels", "4",
              "--channels", "8", "--blocks", "1", "--epochs", "1", "--batch-size", "100",
              "--device", "cpu", "--threads", "1"]  # fmt: skip
    _run([*common, "--out", str(tmp_path / "one")], 1)
    _run([*common, "--out", str(tmp_path / "two")], 2)
    a = load_checkpoint(tmp_path / "one.safetensors")
    b = load_checkpoint(tmp_path / "two.safetensors")
    _assert_same_weights(a.tensors, b.tensors)
    ma, mb = a.card["metrics"], b.card["metrics"]
    assert ma["steps"] == mb["steps"] > 10
    assert ma["test_bits_per_dim"] == pytest.approx(mb["test_bits_per_dim"], abs=TOL)
    assert (a.card["training"]["processes"], b.card["training"]["processes"]) == (1, 2)
    model = model_from_checkpoint(b)
    assert model.config.image_size == 8
