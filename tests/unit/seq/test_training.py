"""Training: the loop learns, reports, stops on request; the CLI checkpoints and resumes."""

from __future__ import annotations

import argparse
import itertools
import math
import threading

import pytest
import torch

from autoreg.checkpoints import load_checkpoint
from autoreg.pretrained import model_from_checkpoint
from autoreg.seq import corpora
from autoreg.seq.training import (
    TrainConfig,
    add_arguments,
    batchify,
    brackets_accuracy,
    get_lr,
    main,
    ngram_baselines,
    recall_accuracy,
    train,
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models: extra threads only contend with each other on a shared machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


TEXT = "abcabdabe\n" * 300  # after "b", only a longer context than a bigram tells c/d/e


def _cfg(**kw) -> TrainConfig:
    base = dict(corpus="toy", cell="gru", embed_size=8, hidden_size=32, batch_size=8, bptt=20,
                epochs=3, lr=1e-2, warmup_steps=5, eval_batches=0)  # fmt: skip
    base.update(kw)
    return TrainConfig(**base)


def test_lr_schedule_is_a_pure_function() -> None:
    cfg = _cfg(lr=1.0, min_lr=0.1, warmup_steps=10)
    assert get_lr(0, 100, cfg) == pytest.approx(0.1)
    assert get_lr(9, 100, cfg) == pytest.approx(1.0)
    assert get_lr(100, 100, cfg) == pytest.approx(0.1)
    lrs = [get_lr(s, 100, cfg) for s in range(10, 101)]
    assert all(a >= b for a, b in itertools.pairwise(lrs))  # decays monotonically


def test_batchify_layout() -> None:
    data = batchify(torch.arange(10), 3)
    assert data.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    with pytest.raises(ValueError, match="too short"):
        batchify(torch.arange(3), 4)


def test_ngram_baselines() -> None:
    res = ngram_baselines([1, 2] * 50, [1, 2] * 10, 3)
    assert res["unigram_bits_per_token"] == pytest.approx(-math.log2(51 / 103), rel=1e-6)
    assert res["bigram_bits_per_token"] < 0.05  # 1 -> 2 -> 1 is deterministic


def test_train_learns_and_reports() -> None:
    steps, epochs = [], []
    cfg = _cfg(epochs=6)
    result = train(cfg, TEXT, on_step=steps.append, on_epoch=lambda e, m: epochs.append(e))
    assert len(epochs) == 6 and steps[-1].step == result.metrics["steps"] == steps[-1].total_steps
    assert all(s.step_time > 0 and s.lr > 0 for s in steps)
    m = result.metrics
    assert m["val_bits_per_token"] < m["bigram_bits_per_token"] < m["unigram_bits_per_token"]
    assert epochs[-1].val_bits < epochs[0].val_bits
    assert not result.model.training and result.seconds > 0


def test_stop_flag_and_time_budget_stop_early() -> None:
    stop = threading.Event()
    stop.set()
    result = train(_cfg(), TEXT, stop=stop)
    assert result.stopped_early and result.metrics["steps"] == 0
    seen = []

    def on_step(s) -> None:
        seen.append(s.step)
        if s.step == 4:
            stop2.set()

    stop2 = threading.Event()
    result = train(_cfg(), TEXT, on_step=on_step, stop=stop2)
    assert seen == [1, 2, 3, 4] and result.stopped_early
    assert len(result.history) == 1  # the interrupted epoch is still evaluated
    assert train(_cfg(max_minutes=1e-9), TEXT).stopped_early


def test_word_level_training_runs() -> None:
    text = "the cat sat on the mat . the dog sat on the log .\n" * 60
    result = train(_cfg(tokenizer="word", max_vocab=8, cell="lstm", epochs=2), text)
    assert result.model.tokenizer.vocab_size == 8
    assert result.metrics["val_bits_per_token"] < result.metrics["unigram_bits_per_token"]


def test_task_accuracies_are_fractions() -> None:
    result = train(_cfg(corpus="recall", epochs=1), corpora.recall_task(200, 1, max_lag=3))
    assert "recall_accuracy" in result.metrics
    assert 0.0 <= recall_accuracy(result.model, 3, n=20) <= 1.0
    res = train(_cfg(corpus="brackets", epochs=1), corpora.brackets_task(300, 4))
    assert 0.0 <= brackets_accuracy(res.model, 3, n=10) <= 1.0


def test_cli_trains_checkpoints_and_writes_the_card(tmp_path, capsys) -> None:
    corpus = tmp_path / "toy.txt"
    corpus.write_text(TEXT)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    out = tmp_path / "m"
    args = parser.parse_args(["--corpus", str(corpus), "--cell", "lstm", "--epochs", "2",
                              "--hidden-size", "16", "--embed-size", "4", "--batch-size", "8",
                              "--bptt", "16", "--out", str(out), "--threads", "1"])  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "epoch 1: train" in printed and "val" in printed and "bigram" in printed
    ckpt = load_checkpoint(out.with_suffix(".safetensors"))
    card = ckpt.card
    assert card["corpus"] == {"name": "toy.txt", "sha256": corpora.sha256(TEXT)}
    assert card["training"]["epochs"] == 2 and card["training_seconds"] >= 0
    for key in ("val_bits_per_token", "unigram_bits_per_token", "bigram_bits_per_token"):
        assert key in card["metrics"]
    assert card["torch_version"] == torch.__version__ and card["num_params"] > 0
    model = model_from_checkpoint(ckpt)
    assert model.tokenizer.decode(model.tokenizer.encode("abc")) == "abc"
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave nothing behind


@pytest.mark.slow
def test_ctrl_c_leaves_a_complete_checkpoint(tmp_path) -> None:
    """SIGINT mid-run stops after the current step and still saves weights and card."""
    import os
    import signal
    import subprocess
    import sys
    import time

    corpus = tmp_path / "toy.txt"
    corpus.write_text(TEXT * 20)
    out = tmp_path / "interrupted"
    cmd = [sys.executable, "-m", "autoreg.train", "seq", "--corpus", str(corpus),
           "--epochs", "50", "--hidden-size", "16", "--embed-size", "4", "--batch-size", "4",
           "--bptt", "8", "--threads", "1", "--out", str(out)]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    try:
        for line in proc.stdout:  # wait until training is really under way
            if "step" in line:
                break
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert "stopped early" in rest
    card = load_checkpoint(out.with_suffix(".safetensors")).card
    assert card["metrics"]["epochs_done"] < 50
    assert "bigram_bits_per_token" in card["metrics"]
