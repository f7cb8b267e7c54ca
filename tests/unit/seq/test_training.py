"""Training: the loop learns, reports, stops on request; the CLI checkpoints and resumes."""

from __future__ import annotations

import argparse
import itertools
import math
import threading
from dataclasses import replace

import pytest
import torch

from autoreg import checkpoints
from autoreg import train as train_cli
from autoreg.checkpoints import load_checkpoint
from autoreg.pretrained import model_from_checkpoint
from autoreg.seq import corpora, training
from autoreg.seq.tokenizers import UNK, CharTokenizer
from autoreg.seq.training import (
    TrainConfig,
    add_arguments,
    batchify,
    brackets_accuracy,
    build_tokenizer,
    get_lr,
    heldout_metrics,
    load_resume,
    main,
    ngram_baselines,
    recall_accuracy,
    resume_path,
    save_resume,
    train,
)

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


# Exact resume: a run stopped at any step and resumed from its file is the same run.
#
# Tolerance: weights and metrics are compared with atol=rtol=0 (bitwise). On one machine
# with one thread the resumed run repeats the same float32 operations in the same order
# from bit-identical weights, Adam moments, recurrent state and data offset, so anything
# short of equality is a lost or altered piece of state, not rounding.


class FakeClock:
    """``time`` for the training module: each reading advances one second, so a time
    budget or checkpoint clock fires after a fixed number of steps."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += 1.0
        return self.now


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _assert_same_run(a, b) -> None:
    wa, wb = _weights(a.model), _weights(b.model)
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=0, atol=0, msg=k)
    ma = {k: v for k, v in a.metrics.items()}
    mb = {k: v for k, v in b.metrics.items()}
    assert ma == mb
    assert [(h.epoch, h.train_bits, h.val_bits) for h in a.history] == [
        (h.epoch, h.train_bits, h.val_bits) for h in b.history
    ]


TEXTS = {"train": TEXT[:2400], "val": TEXT[2400:2700], "test": TEXT[2700:]}


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_resume_after_a_stop_mid_epoch_is_exact(tmp_path, cell) -> None:
    cfg = _cfg(cell=cell, epochs=3)
    whole = train(cfg, texts=TEXTS)
    assert whole.metrics["steps"] == 45  # 15 windows an epoch: step 20 is mid-epoch 2

    stop = threading.Event()
    path = tmp_path / "run.resume.safetensors"

    def on_step(s) -> None:
        if s.step == 20:
            stop.set()

    first = train(cfg, texts=TEXTS, on_step=on_step, stop=stop,
                  on_checkpoint=lambda snap: save_resume(path, cfg, snap))  # fmt: skip
    assert first.stopped_early and first.metrics["steps"] == 20
    saved, resume = load_resume(path)
    assert saved == cfg
    assert (resume.progress.step, resume.progress.epoch, resume.progress.offset) == (20, 2, 100)
    assert len(resume.progress.history) == 1  # epoch 1 done; epoch 2 in progress
    rest = train(saved, texts=TEXTS, resume=resume)
    assert not rest.stopped_early and rest.metrics["steps"] == 45
    _assert_same_run(whole, rest)
    assert rest.seconds >= first.seconds  # training time adds up over the two runs


def test_resume_after_the_time_budget_is_exact(tmp_path, monkeypatch) -> None:
    cfg = _cfg(epochs=3)
    whole = train(cfg, texts=TEXTS)
    path = tmp_path / "run.resume.safetensors"
    monkeypatch.setattr(training, "time", FakeClock())  # 1 s a reading: 0.5 min = some steps
    first = train(replace(cfg, max_minutes=0.5), texts=TEXTS,
                  on_checkpoint=lambda snap: save_resume(path, cfg, snap))  # fmt: skip
    assert first.stopped_early and 0 < first.metrics["steps"] < 45
    saved, resume = load_resume(path)
    assert resume.progress.step == first.metrics["steps"]
    rest = train(saved, texts=TEXTS, resume=resume)
    _assert_same_run(whole, rest)
    assert resume_path("runs/m") == resume_path("runs/m.safetensors")
    assert resume_path("runs/m").name == "m.resume.safetensors"


def test_clock_checkpoints_fire_mid_epoch(monkeypatch) -> None:
    monkeypatch.setattr(training, "time", FakeClock())
    per_epoch, clocked = [], []

    def where(seen):
        return lambda snap: seen.append((snap.progress.epoch, snap.progress.offset))

    train(_cfg(epochs=2), texts=TEXTS, on_checkpoint=where(per_epoch))
    assert per_epoch == [(2, 0), (3, 0)]  # checkpoint_minutes = 0: only after each epoch
    # every 0.1 min = 6 readings of the fake clock, about every other step
    train(_cfg(epochs=2, checkpoint_minutes=0.1), texts=TEXTS, on_checkpoint=where(clocked))
    mid = [c for c in clocked if c[1] != 0]
    assert len(mid) >= 4 and {e for e, _ in mid} == {1, 2}  # several in each epoch
    assert clocked[-1] == (3, 0)


def test_resume_file_is_written_atomically(tmp_path, monkeypatch) -> None:
    cfg = _cfg(epochs=1)
    path = tmp_path / "run.resume.safetensors"
    train(cfg, texts=TEXTS, on_checkpoint=lambda snap: save_resume(path, cfg, snap))
    good = path.read_bytes()
    _, before = load_resume(path)

    def dies_before_the_rename(fd):  # every byte is in the temporary file, then it fails
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(checkpoints.os, "fsync", dies_before_the_rename)
    with pytest.raises(OSError, match="Input/output error"):
        train(cfg, texts=TEXTS, on_checkpoint=lambda snap: save_resume(path, cfg, snap))
    monkeypatch.undo()
    assert path.read_bytes() == good  # the previous resume file is untouched
    _, after = load_resume(path)
    assert after.progress == before.progress
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no torn temporary file
    with pytest.raises(ValueError, match="not a readable resume file"):
        load_resume(tmp_path / "missing.resume.safetensors")


def _cli(tmp_path, *extra: str) -> list[str]:
    corpus = tmp_path / "toy.txt"
    corpus.write_text(TEXT)
    return ["seq", "--corpus", str(corpus), "--cell", "lstm", "--epochs", "3",
            "--hidden-size", "16", "--embed-size", "4", "--batch-size", "8", "--bptt", "16",
            "--warmup-steps", "5", "--threads", "1", *extra]  # fmt: skip


def test_cli_resume_continues_the_run_and_the_card_says_how(tmp_path, monkeypatch, capsys):
    whole = tmp_path / "whole"
    assert train_cli.main(_cli(tmp_path, "--out", str(whole))) == 0
    part = tmp_path / "part"
    with monkeypatch.context() as m:  # the first run stops on its (fake) time budget
        m.setattr(training, "time", FakeClock())
        assert train_cli.main(_cli(tmp_path, "--max-minutes", "1", "--out", str(part))) == 0
    assert "stopped early" in capsys.readouterr().out
    assert resume_path(part).exists()
    stopped_at = load_resume(resume_path(part))[1].progress.step
    assert 0 < stopped_at < 3 * 17
    argv = _cli(tmp_path, "--resume", "--out", str(part))
    assert train_cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert f"resuming {resume_path(part)}" in printed and f"step {stopped_at}" in printed
    a = load_checkpoint(whole.with_suffix(".safetensors"))
    b = load_checkpoint(part.with_suffix(".safetensors"))
    for k in a.tensors:
        torch.testing.assert_close(a.tensors[k], b.tensors[k], rtol=0, atol=0, msg=k)
    assert a.card["metrics"] == b.card["metrics"]
    assert b.card["command"] == "python -m autoreg.train " + " ".join(argv)
    assert b.card["device"].startswith("cpu ") and "1 threads" in b.card["device"]
    assert b.card["training"]["max_minutes"] == 0  # a resume may lift the time budget


def test_cli_resume_without_a_file_starts_fresh(tmp_path, capsys) -> None:
    out = tmp_path / "fresh"
    assert train_cli.main(_cli(tmp_path, "--epochs", "1", "--resume", "--out", str(out))) == 0
    assert "resuming" not in capsys.readouterr().out
    assert load_checkpoint(out.with_suffix(".safetensors")).card["metrics"]["epochs_done"] == 1


def test_min_char_count_turns_rare_characters_into_unk() -> None:
    text = "aaaa bbb cc d\n"
    assert CharTokenizer.fit(text).itos == [UNK, "\n", " ", "a", "b", "c", "d"]
    tok = CharTokenizer.fit(text, min_count=3)
    assert tok.itos == [UNK, " ", "a", "b"]  # each kept character is seen at least 3 times
    assert tok.decode(tok.encode("abcd")) == "ab" + UNK + UNK
    assert build_tokenizer(_cfg(min_char_count=3), text).itos == tok.itos
    assert CharTokenizer.fit(text, min_count=0).itos == CharTokenizer.fit(text).itos


def test_heldout_metrics_and_a_test_split_reach_the_card() -> None:
    result = train(_cfg(epochs=1), texts=TEXTS)
    m = result.metrics
    for key in ("test_bits_per_token", "test_unigram_bits_per_token",
                "test_bigram_bits_per_token", "test_tokens", "test_unknown_tokens"):  # fmt: skip
        assert key in m
    assert m["test_tokens"] == len(TEXTS["test"]) and m["test_unknown_tokens"] == 0
    model = result.model
    train_ids = model.encode(TEXTS["train"])
    extra = heldout_metrics(model, train_ids, "other", "abcabdabe\n" * 40 + "xyz")
    assert extra["other_unknown_tokens"] == 3 and model.tokenizer.vocab_size == 7  # x, y, z: unseen
    base = ngram_baselines(train_ids, model.encode("abcabdabe\n" * 40 + "xyz"), 7)
    assert extra["other_unigram_bits_per_token"] == base["unigram_bits_per_token"]
    assert extra["other_bits_per_token"] < extra["other_unigram_bits_per_token"]
