"""Train an RNN/LSTM/GRU language model: library loop (for the Train page) and CLI.

``train(cfg, text)`` never prints. It reports through ``on_step`` (step, loss, lr, step
time) and ``on_epoch`` (train and validation bits per token), and stops cleanly at the
end of the current step when ``stop`` (a ``threading.Event``) is set or the time budget
runs out. The CLI (``python -m autoreg.train seq ...``) prints from those callbacks,
checkpoints after every epoch, and turns Ctrl-C into that same stop flag, so an
interrupted run still leaves a complete checkpoint.

Data layout, as PE's ``batchify``: the token stream is cut into ``batch_size`` parallel
streams, and training walks them ``bptt`` tokens at a time, carrying the recurrent state
from one window to the next but detaching it (truncated backpropagation through time)::

    stream 0: a b c d | e f g h | ...      window 1 = columns 0..bptt-1
    stream 1: m n o p | q r s t | ...      state flows right, gradients stop at "|"

Metrics are in bits per token (nats / ln 2). Baselines on the same split: the unigram and
bigram models with add-alpha smoothing fitted on the training text.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import platform
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from autoreg import distributed
from autoreg.checkpoints import write_atomic
from autoreg.distributed import SINGLE, World
from autoreg.seq import corpora
from autoreg.seq.model import SequenceConfig, SequenceModel, save_model
from autoreg.seq.tokenizers import CharTokenizer, Tokenizer, WordTokenizer, tokenizer_from_dict

LN2 = math.log(2.0)


@dataclass(frozen=True)
class TrainConfig:
    """One training run; saved in the card as ``training``."""

    corpus: str = "python-docs"  # registry name, or a label for user text
    tokenizer: str = "char"  # "char" or "word"
    max_vocab: int = 5000  # word-level vocabulary cap (<unk> included)
    min_char_count: int = 1  # char-level: rarer characters read as <unk>
    cell: str = "lstm"  # rnn | lstm | gru
    embed_size: int = 32
    hidden_size: int = 256
    num_layers: int = 1
    dropout: float = 0.0
    batch_size: int = 32  # parallel streams
    bptt: int = 100  # tokens per truncated-BPTT window
    epochs: int = 10
    lr: float = 3e-3  # peak learning rate (Adam)
    min_lr: float = 3e-4  # end of the cosine decay
    warmup_steps: int = 50
    grad_clip: float = 1.0  # max global gradient norm
    val_fraction: float = 0.1  # last part of the text is validation
    eval_batches: int = 50  # validation windows averaged per evaluation (0 = all)
    max_minutes: float = 0.0  # wall-clock budget; 0 = no limit
    checkpoint_minutes: float = 0.0  # also checkpoint mid-epoch on this clock; 0 = per epoch
    seed: int = 0

    def __post_init__(self) -> None:
        if self.tokenizer not in ("char", "word"):
            raise ValueError(f"tokenizer must be 'char' or 'word', got {self.tokenizer!r}.")
        for name in ("batch_size", "bptt", "epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}.")


@dataclass(frozen=True)
class StepInfo:
    step: int  # optimiser steps done so far (1-based)
    total_steps: int
    epoch: int
    loss: float  # training loss of this step, bits per token
    lr: float
    step_time: float  # seconds


@dataclass(frozen=True)
class EpochInfo:
    epoch: int
    train_bits: float  # mean training bits/token over the epoch
    val_bits: float
    elapsed: float  # seconds since training began


@dataclass
class TrainResult:
    model: SequenceModel
    history: list[EpochInfo] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    stopped_early: bool = False
    seconds: float = 0.0


@dataclass
class Progress:
    """Where a run stands, saved in the resume file so that ``--resume`` continues it
    exactly: same step, same window, same learning rate, same optimiser moments."""

    step: int = 0  # optimiser steps done
    epoch: int = 1  # the epoch in progress (1-based)
    offset: int = 0  # start of the next BPTT window in that epoch
    epoch_loss: float = 0.0  # bits summed over the epoch's windows so far
    epoch_tokens: int = 0
    elapsed: float = 0.0  # training seconds of the runs before this one
    history: list[EpochInfo] = field(default_factory=list)


@dataclass
class Resume:
    """A resumable run: model, optimiser, recurrent state and ``Progress``."""

    model: SequenceModel
    optimizer_state: dict
    rnn_state: tuple[torch.Tensor, ...]
    progress: Progress


def get_lr(step: int, total_steps: int, cfg: TrainConfig) -> float:
    """Linear warm-up then cosine decay from ``lr`` to ``min_lr`` (pure function, as nG)."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, total_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (cfg.lr - cfg.min_lr)


def build_tokenizer(cfg: TrainConfig, train_text: str) -> Tokenizer:
    if cfg.tokenizer == "char":
        return CharTokenizer.fit(train_text, min_count=cfg.min_char_count)
    return WordTokenizer.fit(train_text, max_vocab=cfg.max_vocab)


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """(N,) -> (batch_size, N // batch_size): parallel streams, the remainder dropped."""
    n = ids.numel() // batch_size
    if n < 2:
        raise ValueError(
            f"The text is too short: {ids.numel()} tokens for {batch_size} parallel streams."
        )
    return ids[: n * batch_size].view(batch_size, n)  # (B, N/B)


def _detach(state):
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


@torch.no_grad()
def evaluate(model: SequenceModel, data: torch.Tensor, bptt: int, max_batches: int = 0) -> float:
    """Mean bits per token over (up to ``max_batches``) windows of ``data`` (B, N)."""
    was_training = model.training
    model.eval()
    data = data.to(model.head.weight.device)
    state = model.init_state(data.size(0))
    total, count = 0.0, 0
    for k, i in enumerate(range(0, data.size(1) - 1, bptt)):
        if max_batches and k >= max_batches:
            break
        x = data[:, i : i + bptt]
        y = data[:, i + 1 : i + 1 + bptt]
        x = x[:, : y.size(1)]
        _, loss, state = model(x, y, state)
        total += loss.item() * y.numel()
        count += y.numel()
    model.train(was_training)
    return total / max(count, 1) / LN2


def evaluate_text(model: SequenceModel, text: str, bptt: int = 100, streams: int = 16) -> float:
    """Bits per token of ``text`` (encoded by the model's own tokenizer), every window."""
    ids = torch.tensor(model.encode(text), dtype=torch.long)
    streams = max(1, min(streams, ids.numel() // (bptt + 1)))
    return evaluate(model, batchify(ids, streams), bptt, 0)


def heldout_metrics(model: SequenceModel, train_ids: list[int], name: str, text: str) -> dict:
    """``{name}_bits_per_token`` of ``text`` and its unigram/bigram baselines (fitted on the
    training ids), for the card: the figures that say how far the model generalises."""
    tok = model.tokenizer
    ids = tok.encode(text)
    base = ngram_baselines(train_ids, ids, tok.vocab_size)
    return {
        f"{name}_bits_per_token": evaluate_text(model, text),
        f"{name}_unigram_bits_per_token": base["unigram_bits_per_token"],
        f"{name}_bigram_bits_per_token": base["bigram_bits_per_token"],
        f"{name}_tokens": len(ids),
        f"{name}_unknown_tokens": sum(1 for i in ids if i == 0),
    }


def ngram_baselines(train_ids: list[int], val_ids: list[int], vocab_size: int) -> dict:
    """Unigram and bigram bits/token on ``val_ids``, fitted on ``train_ids`` (add-alpha).

    alpha = 0.1 for the bigram (many pairs are unseen), 1 for the unigram (Laplace).
    """
    uni = Counter(train_ids)
    n = len(train_ids)
    p_uni = {t: (uni.get(t, 0) + 1.0) / (n + vocab_size) for t in range(vocab_size)}
    uni_bits = -sum(math.log2(p_uni[t]) for t in val_ids) / len(val_ids)
    alpha = 0.1
    pairs = Counter(itertools.pairwise(train_ids))
    ctx = Counter(train_ids[:-1])
    bits = 0.0
    for a, b in itertools.pairwise(val_ids):
        bits -= math.log2((pairs.get((a, b), 0) + alpha) / (ctx.get(a, 0) + alpha * vocab_size))
    return {
        "unigram_bits_per_token": uni_bits,
        "bigram_bits_per_token": bits / max(1, len(val_ids) - 1),
    }


@torch.no_grad()
def recall_accuracy(model: SequenceModel, lag: int, n: int = 200, seed: int = 1) -> float:
    """Share of recall lines (``corpora.recall_task``) whose last letter the model's argmax
    predicts, for one lag: the Memory page's accuracy-against-L curve."""
    text = corpora.recall_task(n, lag, seed=seed)
    ids = torch.tensor(model.encode(text)).unsqueeze(0)  # (1, T)
    logits, _, _ = model(ids)
    pos = torch.tensor(corpora.recall_targets(text))
    return (logits[0, pos - 1].argmax(-1) == ids[0, pos]).float().mean().item()


@torch.no_grad()
def brackets_accuracy(model: SequenceModel, depth: int, n: int = 50) -> float:
    """Share of ``a^depth b^depth`` lines whose forced part (every b after the first, then
    the newline) the model's argmax predicts entirely: counting, for the Memory page."""
    line = "a" * depth + "b" * depth + "\n"
    ids = torch.tensor(model.encode("\n" + line * n)).unsqueeze(0)  # (1, T)
    logits, _, _ = model(ids)
    pred = logits[0, :-1].argmax(-1)  # prediction for position t + 1
    span = len(line)
    ok = []
    for k in range(n):
        start = 1 + k * span  # index of the line's first "a"
        forced = range(start + depth + 1, start + span)  # b_2..b_depth and "\n"
        ok.append(all(pred[t - 1] == ids[0, t] for t in forced))
    return sum(ok) / n


def task_metrics(corpus: str, model: SequenceModel) -> dict:
    """Accuracy curves saved in the card of the synthetic-task models."""
    if corpus == "recall":
        return {
            "recall_accuracy": {
                str(L): recall_accuracy(model, L) for L in (1, 5, 10, 20, 30, 40, 60)
            }
        }
    if corpus == "brackets":
        return {
            "brackets_accuracy": {str(d): brackets_accuracy(model, d) for d in (2, 4, 8, 12, 16)}
        }
    return {}


def train(
    cfg: TrainConfig,
    text: str | None = None,
    on_step: Callable[[StepInfo], None] | None = None,
    on_epoch: Callable[[EpochInfo, SequenceModel], None] | None = None,
    stop: threading.Event | None = None,
    *,
    texts: dict[str, str] | None = None,
    resume: Resume | None = None,
    on_checkpoint: Callable[[Resume], None] | None = None,
    world: World = SINGLE,
    device: str | torch.device = "cpu",
) -> TrainResult:
    """Train a model on ``text`` (split by ``cfg.val_fraction``), on ``texts`` (a
    ``{"train", "val"[, "test"]}`` split), or by default on the corpus named in ``cfg``.

    ``resume`` continues a run where its ``Progress`` says. ``on_checkpoint`` receives the
    resumable state after every epoch and, with ``cfg.checkpoint_minutes``, on that clock
    mid-epoch, so a run stopped at any moment loses at most that many minutes.

    Across processes (``world``, see ``autoreg.distributed``) each rank trains on its
    share of the ``batch_size`` streams and the ranks agree on every stop and checkpoint,
    so the steps are those of one process; the callbacks run on rank 0 only.
    """
    torch.manual_seed(cfg.seed)
    if texts is None:
        if text is None:
            texts = corpora.load_split(cfg.corpus, cfg.val_fraction)
        else:
            train_part, val_part = corpora.split(text, cfg.val_fraction)
            texts = {"train": train_part, "val": val_part}
    if resume is not None:
        model, progress = resume.model, resume.progress
        tok = model.tokenizer
    else:
        tok = build_tokenizer(cfg, texts["train"])
        model = SequenceModel(
            SequenceConfig(
                cell=cfg.cell,
                vocab_size=tok.vocab_size,
                embed_size=cfg.embed_size,
                hidden_size=cfg.hidden_size,
                num_layers=cfg.num_layers,
                dropout=cfg.dropout,
            ),
            tok,
        )
        progress = Progress()
    model.to(device)
    train_ids = torch.tensor(tok.encode(texts["train"]), dtype=torch.long)
    val_ids = torch.tensor(tok.encode(texts["val"]), dtype=torch.long)
    train_data = batchify(train_ids, cfg.batch_size)  # (B, N/B), every rank the same
    rows = world.shard(cfg.batch_size)  # this rank's streams
    device = model.head.weight.device
    local_data = train_data[rows].to(device)
    val_data = batchify(val_ids, min(cfg.batch_size, max(1, val_ids.numel() // (cfg.bptt + 1))))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    net = world.wrap(model)  # what the steps call; ``model`` is what is saved
    local_streams = rows.stop - rows.start
    state = model.init_state(local_streams)
    if resume is not None:
        opt.load_state_dict(resume.optimizer_state)
        saved = tuple(s[:, rows].to(device) for s in resume.rnn_state)  # (layers, B/N, H)
        state = saved if isinstance(state, tuple) else saved[0]
    steps_per_epoch = math.ceil((train_data.size(1) - 1) / cfg.bptt)
    total = steps_per_epoch * cfg.epochs
    result = TrainResult(model=model, history=progress.history)
    t0 = time.perf_counter()
    deadline = t0 + cfg.max_minutes * 60 if cfg.max_minutes > 0 else math.inf
    every = cfg.checkpoint_minutes * 60 if cfg.checkpoint_minutes > 0 else math.inf
    last_checkpoint = t0

    earlier = progress.elapsed  # training seconds of the runs this one continues

    def snapshot() -> Resume:
        progress.elapsed = earlier + time.perf_counter() - t0
        flat = tuple(state) if isinstance(state, tuple) else (state,)
        whole = tuple(world.gather_rows(s.detach(), dim=1) for s in flat)  # (layers, B, H)
        return Resume(model, opt.state_dict(), whole, progress)

    def agree(*flags: bool) -> list[bool]:
        """Every rank stops and checkpoints at the same step (any rank's reason counts)."""
        return [v > 0 for v in world.sum([float(f) for f in flags])]

    # a snapshot gathers every rank's state: all take it when any rank wants checkpoints
    (checkpointing,) = agree(on_checkpoint is not None)

    model.train()
    while progress.epoch <= cfg.epochs:
        for i in range(progress.offset, train_data.size(1) - 1, cfg.bptt):
            (halt,) = agree((stop is not None and stop.is_set()) or time.perf_counter() > deadline)
            if halt:
                result.stopped_early = True
                break
            ts = time.perf_counter()
            lr = get_lr(progress.step, total, cfg)
            for g in opt.param_groups:
                g["lr"] = lr
            x = local_data[:, i : i + cfg.bptt]  # (B/N, T)
            y = local_data[:, i + 1 : i + 1 + cfg.bptt]
            x = x[:, : y.size(1)]
            state = _detach(state)
            _, loss, state = net(x, y, state)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            progress.step += 1
            progress.offset = i + cfg.bptt
            (bits,) = world.sum([loss.item() / LN2 / world.size])  # the global batch's mean
            tokens = y.numel() * world.size
            progress.epoch_loss += bits * tokens
            progress.epoch_tokens += tokens
            if on_step is not None and world.main:
                dt = time.perf_counter() - ts
                on_step(StepInfo(progress.step, total, progress.epoch, bits, lr, dt))
            due = checkpointing and time.perf_counter() - last_checkpoint > every
            if agree(due)[0]:
                last_checkpoint = time.perf_counter()
                snap = snapshot()
                if world.main and on_checkpoint is not None:
                    on_checkpoint(snap)
        if result.stopped_early:
            if progress.epoch_tokens:  # the interrupted epoch is still evaluated and reported
                info = EpochInfo(
                    epoch=progress.epoch,
                    train_bits=progress.epoch_loss / progress.epoch_tokens,
                    val_bits=evaluate(model, val_data, cfg.bptt, cfg.eval_batches),
                    elapsed=earlier + time.perf_counter() - t0,
                )
                result.history = [*progress.history, info]  # not in progress: resumed later
                if on_epoch is not None and world.main:
                    on_epoch(info, model)
            break
        if progress.epoch_tokens:
            info = EpochInfo(
                epoch=progress.epoch,
                train_bits=progress.epoch_loss / progress.epoch_tokens,
                val_bits=evaluate(model, val_data, cfg.bptt, cfg.eval_batches),
                elapsed=earlier + time.perf_counter() - t0,
            )
            progress.history.append(info)
            if on_epoch is not None and world.main:
                on_epoch(info, model)
        progress.epoch += 1
        progress.offset, progress.epoch_loss, progress.epoch_tokens = 0, 0.0, 0
        state = model.init_state(local_streams)
        if checkpointing:
            last_checkpoint = time.perf_counter()
            snap = snapshot()
            if world.main and on_checkpoint is not None:
                on_checkpoint(snap)
    if checkpointing and result.stopped_early:
        snap = snapshot()
        if world.main and on_checkpoint is not None:
            on_checkpoint(snap)
    model.eval()
    result.seconds = earlier + time.perf_counter() - t0
    train_list = train_ids.tolist()
    metrics = ngram_baselines(train_list, val_ids.tolist(), tok.vocab_size)
    metrics["val_bits_per_token"] = evaluate(model, val_data, cfg.bptt, 0)
    metrics["train_bits_per_token"] = result.history[-1].train_bits if result.history else None
    metrics["steps"] = progress.step
    metrics["epochs_done"] = len(result.history)
    metrics["val_unknown_tokens"] = int((val_ids == 0).sum())
    if texts.get("test"):
        metrics.update(heldout_metrics(model, train_list, "test", texts["test"]))
    model.to("cpu")  # the caller gets a model the pages and samplers can use as it is
    metrics.update(task_metrics(cfg.corpus, model))
    result.metrics = metrics
    return result


def resume_path(out: str | Path) -> Path:
    """Where the CLI keeps a run's resumable state: ``<out>.resume.safetensors``."""
    out = Path(out)
    return out.with_name(out.name.removesuffix(".safetensors") + ".resume.safetensors")


def save_resume(path: str | Path, cfg: TrainConfig, snap: Resume) -> None:
    """Write a resumable run (weights, Adam moments, recurrent state, progress) atomically.

    Tensors go in safetensors; everything else is JSON in its header, so resuming never
    unpickles. A temporary file renamed into place means a kill mid-write leaves the
    previous resume file intact.
    """
    tensors = {f"model.{k}": v for k, v in snap.model.state_dict().items()}
    opt = snap.optimizer_state
    for idx, st in opt["state"].items():
        for key, value in st.items():
            tensors[f"opt.{idx}.{key}"] = torch.as_tensor(value)
    for j, t in enumerate(snap.rnn_state):
        tensors[f"rnn.{j}"] = t
    meta = {
        "training": asdict(cfg),
        "model": asdict(snap.model.config),
        "tokenizer": snap.model.tokenizer.to_dict(),
        "param_groups": opt["param_groups"],
        "progress": asdict(snap.progress),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = st_save(
        {k: v.detach().cpu().contiguous() for k, v in tensors.items()},
        metadata={"resume": json.dumps(meta)},
    )
    write_atomic(path, data)


def load_resume(path: str | Path) -> tuple[TrainConfig, Resume]:
    """Read a resume file written by ``save_resume``.

    Raises:
        ValueError: the file is missing, corrupt or not a resume file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
        tensors = st_load(data)
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {})["resume"])
    except (OSError, KeyError, ValueError, SafetensorError) as exc:
        raise ValueError(f"{path} is not a readable resume file ({exc}).") from None
    cfg = TrainConfig(**meta["training"])
    model = SequenceModel(SequenceConfig(**meta["model"]), tokenizer_from_dict(meta["tokenizer"]))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    opt_state: dict = {"state": {}, "param_groups": meta["param_groups"]}
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, idx, name = key.split(".", 2)
            opt_state["state"].setdefault(int(idx), {})[name] = value
    rnn = tuple(tensors[f"rnn.{j}"] for j in range(sum(k.startswith("rnn.") for k in tensors)))
    raw = meta["progress"]
    history = [EpochInfo(**h) for h in raw.pop("history")]
    progress = Progress(**raw, history=history)
    return cfg, Resume(model, opt_state, rnn, progress)


def card_extras(cfg: TrainConfig, result: TrainResult, corpus_sha256: str, **facts: object) -> dict:
    """Facts for the checkpoint card beyond config and tokenizer."""
    return {
        "corpus": {"name": cfg.corpus, "sha256": corpus_sha256},
        "training": asdict(cfg),
        "training_seconds": round(result.seconds, 1),
        "metrics": result.metrics,
        "history": [asdict(h) for h in result.history],
        **facts,
    }


# Corpora whose models are also scored on third-party docstrings (technical English they
# never saw), beside their own held-out files.
HELD_OUT_ENGLISH = ("python-stdlib", "python-stdlib-english")

# Options that may change when a run is resumed; every other option comes from the file.
RESUME_OVERRIDES = ("epochs", "max_minutes", "checkpoint_minutes", "eval_batches")

OPTION_GROUPS = {
    "data": ("corpus", "tokenizer", "max_vocab", "min_char_count", "val_fraction"),
    "model": ("cell", "embed_size", "hidden_size", "num_layers", "dropout"),
    "optimisation": (
        "batch_size",
        "bptt",
        "epochs",
        "lr",
        "min_lr",
        "warmup_steps",
        "grad_clip",
        "seed",
    ),
    "run": ("eval_batches", "max_minutes", "checkpoint_minutes"),
}
OPTION_HELP = {
    "corpus": "a registered corpus ({corpora}) or a path to a UTF-8 text file",
    "tokenizer": "char (one token per character) or word (the book's: lower-case, "
    "punctuation as tokens)",
    "max_vocab": "word-level vocabulary size in tokens, <unk> included",
    "min_char_count": "char-level: characters seen fewer times in the training text read as <unk>",
    "val_fraction": "share (0-1) of a text file held out for validation, its tail; the "
    "python-stdlib corpora hold out whole files instead",
    "cell": "recurrent cell: a plain tanh RNN, an LSTM or a GRU",
    "embed_size": "embedding width, numbers per token",
    "hidden_size": "units per recurrent layer",
    "num_layers": "stacked recurrent layers",
    "dropout": "dropout probability (0-1) between layers and before the output layer",
    "batch_size": "parallel token streams per step",
    "bptt": "tokens per truncated-BPTT window",
    "epochs": "passes over the training text",
    "lr": "peak Adam learning rate, reached after the warm-up",
    "min_lr": "learning rate at the end of the cosine decay",
    "warmup_steps": "optimiser steps of linear warm-up",
    "grad_clip": "max global gradient norm (L2)",
    "seed": "random seed",
    "eval_batches": "validation windows averaged at each epoch's end (0 = all; the final "
    "figure always reads all)",
    "max_minutes": "stop after this many minutes of training, wall clock (0 = no limit)",
    "checkpoint_minutes": "minutes between resumable checkpoints inside an epoch (0 = only "
    "after each epoch)",
}

# How --help names each option's value: its unit, or its choices.
OPTION_METAVAR = {
    "corpus": "NAME|FILE",
    "tokenizer": "{char,word}",
    "max_vocab": "TOKENS",
    "min_char_count": "N",
    "val_fraction": "SHARE",
    "cell": "{rnn,lstm,gru}",
    "embed_size": "N",
    "hidden_size": "UNITS",
    "num_layers": "N",
    "dropout": "P",
    "batch_size": "STREAMS",
    "bptt": "TOKENS",
    "epochs": "N",
    "lr": "LR",
    "min_lr": "LR",
    "warmup_steps": "STEPS",
    "grad_clip": "NORM",
    "seed": "N",
    "eval_batches": "WINDOWS",
    "max_minutes": "MIN",
    "checkpoint_minutes": "MIN",
}
CHOICES = {"tokenizer": ("char", "word"), "cell": ("rnn", "lstm", "gru")}

DESCRIPTION = "Train an RNN, LSTM or GRU language model on a corpus and save it as a checkpoint."

EPILOG = """\
The token stream is cut into --batch-size parallel streams read --bptt tokens at a time;
the recurrent state flows from one window to the next, gradients stop between them.
Metrics are in bits per token, beside unigram and bigram baselines fitted on the
training text. After every epoch it writes <out>.safetensors and <out>.json (config,
tokenizer, metrics, the command and the device), and <out>.resume.safetensors (weights,
Adam moments, recurrent state, position) after every epoch and every
--checkpoint-minutes: Ctrl-C stops after the current step and saves both, and --resume
continues the run exactly where it stopped. Under torchrun (--nproc_per_node N) the N
processes share each batch's streams (--batch-size a multiple of N) and take the steps
of one process; rank 0 prints and writes the same files.

examples:
  # the book's word-level LSTM on the English of the standard library
  python -m autoreg.train seq --corpus python-stdlib-english --tokenizer word \\
      --max-vocab 10000 --embed-size 100 --hidden-size 128 --out runs/lstm-word
  # a character GRU on a text file: 10 minutes now, continued later by the same command
  python -m autoreg.train seq --corpus notes.txt --cell gru --max-minutes 10 \\
      --checkpoint-minutes 5 --resume --out runs/gru-notes
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m autoreg.train seq``: one per TrainConfig field, grouped."""
    defaults = asdict(TrainConfig())
    for group, names in OPTION_GROUPS.items():
        g = parser.add_argument_group(group)
        for name in names:
            value = defaults[name]
            text = OPTION_HELP[name].format(corpora=", ".join(corpora.list_corpora()))
            g.add_argument(
                "--" + name.replace("_", "-"),
                dest=name,
                default=value,
                type=type(value),
                choices=CHOICES.get(name),
                metavar=OPTION_METAVAR[name],
                help=f"{text} (default: %(default)s)",
            )
    out = parser.add_argument_group("output and machine")
    out.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="checkpoint path without suffix, e.g. runs/lstm (required)",
    )
    out.add_argument(
        "--resume",
        action="store_true",
        help="continue from <out>.resume.safetensors if it exists; its options win, except "
        + ", ".join("--" + o.replace("_", "-") for o in RESUME_OVERRIDES)
        + " (default: off, a fresh run)",
    )
    out.add_argument(
        "--threads",
        type=int,
        default=0,
        metavar="N",
        help="torch CPU threads (default: 0 = torch's choice)",
    )
    out.add_argument(
        "--device",
        default="cpu",
        metavar="{cpu,cuda,auto}",
        help="where to train: auto is cuda when torch sees a GPU, else cpu; cuda:N picks one "
        "(default: %(default)s)",
    )


def _device_line(device: str, world: World) -> str:
    where = (
        f"cuda {torch.cuda.get_device_name()}"
        if device.startswith("cuda")
        else f"cpu {platform.machine()}, {torch.get_num_threads()} threads"
    )
    processes = f", {world.size} processes" if world.size > 1 else ""
    return f"{where}{processes}, torch {torch.__version__}"


def main(args: argparse.Namespace) -> int:
    """CLI: train, print progress and per-epoch bits/token, checkpoint every epoch."""
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = distributed.pick_device(args.device)
    world = distributed.setup(device)
    try:
        code = _main(args, device, world)
        world.barrier()  # the ranks leave together, once rank 0 has saved
        return code
    finally:
        distributed.teardown(world)


def _main(args: argparse.Namespace, device: str, world: World) -> int:
    say = print if world.main else (lambda *a, **k: None)  # rank 0 speaks for the run
    fields = {k: getattr(args, k) for k in asdict(TrainConfig())}
    cfg = TrainConfig(**fields)
    resume = None
    rpath = resume_path(args.out)
    source = cfg.corpus  # a registered name or the text file this command line names
    if args.resume and rpath.exists():
        saved, resume = load_resume(rpath)
        cfg = replace(saved, **{k: fields[k] for k in RESUME_OVERRIDES})
        # a run on a text file saved the file's name only: the file comes from --corpus
        if cfg.corpus not in corpora.CORPORA and Path(source).name != cfg.corpus:
            raise SystemExit(
                f"{rpath} was trained on the text file {cfg.corpus!r}: pass that file again "
                f"as --corpus (got {source!r})."
            )
        say(
            f"resuming {rpath}: epoch {resume.progress.epoch}, step {resume.progress.step}",
            flush=True,
        )
    texts = None
    if cfg.corpus in corpora.CORPORA:
        texts = corpora.load_split(cfg.corpus, cfg.val_fraction)
        whole = "\n\n".join(texts[k] for k in ("train", "val", "test") if k in texts)
    else:
        path = Path(source)
        if not path.exists():
            raise SystemExit(f"Unknown corpus {cfg.corpus!r}: not registered and not a file.")
        whole = corpora.text_from_bytes(path.read_bytes())
        train_part, val_part = corpora.split(whole, cfg.val_fraction)
        texts = {"train": train_part, "val": val_part}
        cfg = replace(cfg, corpus=path.name)
    sha = corpora.sha256(whole)
    facts = {
        "command": getattr(args, "command_line", None),
        "device": _device_line(device, world),
        "split": {k: len(v) for k, v in texts.items()},
    }
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    tty = sys.stdout.isatty()  # a redrawn bar on a terminal, a line every 50 steps in a log

    def on_step(s: StepInfo) -> None:
        if s.step % (10 if tty else 50) == 0 or s.step == s.total_steps:
            done = int(30 * s.step / s.total_steps)
            print(
                ("\r" if tty else "") + f"[{'#' * done}{'.' * (30 - done)}] "
                f"step {s.step}/{s.total_steps} epoch {s.epoch} loss {s.loss:.3f} bits "
                f"lr {s.lr:.2e} {s.step_time * 1000:.0f} ms/step",
                end="" if tty else "\n",
                flush=True,
            )

    def on_epoch(e: EpochInfo, model: SequenceModel) -> None:
        print(
            ("\n" if tty else "") + f"epoch {e.epoch}: train {e.train_bits:.4f} bits/token, "
            f"val {e.val_bits:.4f} bits/token, {e.elapsed:.0f} s",
            flush=True,
        )
        epochs.append(e)
        partial = TrainResult(model=model, seconds=e.elapsed, history=list(epochs))
        partial.metrics = {"val_bits_per_token": e.val_bits, "epochs_done": e.epoch}
        save_model(args.out, model, **card_extras(cfg, partial, sha, **facts))

    epochs: list[EpochInfo] = list(resume.progress.history) if resume else []

    def on_checkpoint(snap: Resume) -> None:
        save_resume(rpath, cfg, snap)

    try:
        result = train(
            cfg,
            on_step=on_step,
            on_epoch=on_epoch,
            stop=stop,
            texts=texts,
            resume=resume,
            on_checkpoint=on_checkpoint,
            world=world,
            device=device,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    if not world.main:  # the other ranks hold the same model; rank 0 scores and saves it
        return 0
    if cfg.corpus in HELD_OUT_ENGLISH:
        result.metrics.update(
            heldout_metrics(
                result.model,
                result.model.encode(texts["train"]),
                "docstrings",
                corpora.third_party_docstrings(),
            )
        )
    save_model(args.out, result.model, **card_extras(cfg, result, sha, **facts))
    m = result.metrics
    print(
        ("\n" if tty else "") + f"saved {args.out}: val {m['val_bits_per_token']:.4f} bits/token "
        f"(unigram {m['unigram_bits_per_token']:.4f}, bigram {m['bigram_bits_per_token']:.4f}), "
        f"{result.seconds:.0f} s" + (" (stopped early)" if result.stopped_early else ""),
        flush=True,
    )
    return 0


if __name__ == "__main__":  # same as ``python -m autoreg.train seq ...``
    _parser = argparse.ArgumentParser(
        prog="python -m autoreg.train seq",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(_parser)
    sys.exit(main(_parser.parse_args()))
