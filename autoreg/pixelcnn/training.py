"""Train a PixelCNN or Gated PixelCNN on an image dataset: the library loop.

The loop never prints: it calls ``on_step(StepInfo)`` after every optimiser step and
stops early when ``stop`` (a ``threading.Event``) is set, so the same function drives the
CLI (``autoreg.pixelcnn.cli``, which prints) and the browser's Train page (which updates a
progress bar from a background thread). Evaluation runs under no-grad and restores train
mode. The augmentations it can apply live in ``autoreg.pixelcnn.augment``; the
regularisers that act on the model (block dropout, a weight average) live here, since
they hook into the model while it trains.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from autoreg.distributed import SINGLE, World
from autoreg.pixelcnn.augment import jittered, shift_images
from autoreg.pixelcnn.data import ImageDataset, native_train_images, quantise, resize
from autoreg.pixelcnn.layers import ResidualBlock
from autoreg.pixelcnn.models import GatedPixelCNN, PixelCNN, nll_bits


@dataclass(frozen=True)
class PixelTrainConfig:
    """One training run (saved in the card next to the model config)."""

    epochs: int = 10  # passes over the training images
    batch_size: int = 64  # images per step
    lr: float = 1e-3  # Adam learning rate (cosine decay to 10% over the run)
    max_minutes: float | None = None  # wall-clock cap; stops after the current step
    seed: int = 0  # initialisation and shuffling
    grad_clip: float = 1.0  # max gradient norm
    augment_shift: int = 0  # shift each training image by up to this many pixels (0: off)
    augment_affine: bool = False  # small random rotation/scale/shift at native resolution
    augment_elastic: float = 0.0  # Simard's alpha for an elastic warp (0: off); see augment
    ema: float = 0.0  # decay of a moving average of the weights (0: off); see WeightAverage
    dropout: float = 0.0  # inside each residual block while training (0: off); see block_dropout


@dataclass
class StepInfo:
    """What ``on_step`` receives after each optimiser step."""

    step: int
    total_steps: int
    epoch: int
    loss_bits: float  # training NLL of this batch, bits per dimension
    lr: float
    step_time: float  # seconds
    test_bits: float | None = None  # set on the last step of an epoch
    extra: dict = field(default_factory=dict)


def lr_at(step: float, total: float, base: float) -> float:
    """Cosine decay from ``base`` to ``base/10`` over ``total`` (a pure function of progress)."""
    frac = min(1.0, step / max(1, total))
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))


@contextmanager
def block_dropout(model: PixelCNN | GatedPixelCNN, p: float) -> Iterator[None]:
    """Drop features inside every residual block while training, as PixelCNN++ does.

    With 4,500 training digits the plain PixelCNN overfits. Dropout on the input of each
    block's masked k×k convolution regularises it without changing the architecture:
    it is a forward pre-hook that exists only inside this context and is the identity in
    eval mode, so the saved weights, the fast sampler and the pages see the plain model.
    Its masks come from torch's global generator: seed it (the CLI does) to repeat a run.
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout must be in [0, 1), e.g. 0.1, not {p}.")
    blocks = [m for m in model.modules() if isinstance(m, ResidualBlock)]
    if p and not blocks:
        raise ValueError(
            "dropout acts inside a plain PixelCNN's residual blocks; this model has none."
        )

    def drop(conv: torch.nn.Module, args: tuple) -> tuple:
        return (F.dropout(args[0], p, conv.training),)

    handles = [b.net[2].register_forward_pre_hook(drop) for b in blocks] if p else []
    try:
        yield
    finally:
        for h in handles:
            h.remove()


class WeightAverage:
    """An exponential moving average of a model's parameters (Polyak averaging).

    PixelCNN++ evaluates and samples with such an average (decay 0.9995): the weights
    of the last steps jitter around a minimum, and their average sits closer to it. It
    matters most while the learning rate is still high (a resumed 16×16 run measured a
    sample FD of 82 raw, 61 averaged, at the same step); once a cosine schedule has decayed, the raw
    weights have mostly caught up. The decay warms up as
    ``min(decay, (1 + t) / (10 + t))`` after ``t`` updates, so the average of a fresh
    run is not dominated by its random initialisation.
    """

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"The weight-average decay must be between 0 and 1, not {decay}.")
        self.decay = decay
        self.params = list(model.parameters())
        self.average = [p.detach().clone() for p in self.params]
        self.updates = 0

    @torch.no_grad()
    def update(self) -> None:
        """Fold the current parameters into the average (call after each optimiser step)."""
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for a, p in zip(self.average, self.params, strict=True):
            a.lerp_(p, 1.0 - d)
        self.updates += 1

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Inside the block the model holds the averaged weights; the raw ones come back after."""
        raw = [p.detach().clone() for p in self.params]
        self.copy_to_model()
        try:
            yield
        finally:
            with torch.no_grad():
                for p, r in zip(self.params, raw, strict=True):
                    p.copy_(r)

    @torch.no_grad()
    def copy_to_model(self) -> None:
        """Overwrite the model's parameters with the average (at the end of training)."""
        for p, a in zip(self.params, self.average, strict=True):
            p.copy_(a)


@torch.no_grad()
def evaluate_bits(model: PixelCNN | GatedPixelCNN, images: torch.Tensor, batch: int = 256) -> float:
    """Mean test NLL in bits per dimension over all ``images`` (restores train mode)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for i in range(0, len(images), batch):
        x = images[i : i + batch].to(device).long()
        logits = model(x)  # (B, L, H, W)
        total += F.cross_entropy(logits, x, reduction="sum").item()
        count += x.numel()
    model.train(was_training)
    return total / count / math.log(2)


def baseline_bits(train: torch.Tensor, test: torch.Tensor, levels: int) -> float:
    """Test NLL (bits/dim) of an independent categorical per pixel fitted on ``train``.

    The simplest density model: every pixel has its own histogram over levels (add-one
    smoothed), and pixels are independent. A PixelCNN must beat it to have learned any
    dependence between pixels.
    """
    onehot = F.one_hot(train.long(), levels).float()  # (N, H, W, L)
    probs = (onehot.sum(0) + 1) / (len(train) + levels)  # (H, W, L)
    table = torch.log2(probs).expand(len(test), -1, -1, -1)  # (N_test, H, W, L)
    logp = table.gather(-1, test.long()[..., None])  # (N_test, H, W, 1)
    return float(-logp.mean())


def train(
    model: PixelCNN | GatedPixelCNN,
    data: ImageDataset,
    cfg: PixelTrainConfig,
    on_step: Callable[[StepInfo], None] | None = None,
    stop: threading.Event | None = None,
    on_epoch: Callable[[int, float], None] | None = None,
    world: World = SINGLE,
) -> dict:
    """Train ``model`` in place on ``data.train``; returns metrics (bits/dim and timing).

    Runs on whatever device the model's parameters are on (move the model first).

    Args:
        on_step: called after every step with a :class:`StepInfo`.
        stop: set it from another thread to stop after the current step.
        on_epoch: called as ``on_epoch(epoch, test_bits)`` after each epoch (checkpoints).

    With ``cfg.ema`` set, test NLL, ``on_epoch`` and the returned model use the
    :class:`WeightAverage`; the optimiser keeps stepping the raw weights in between.

    Across processes (``world``, see ``autoreg.distributed``) every rank draws the same
    global batch, augmentations included, and scores its slice of it, weighted so that
    the averaged gradient is the global batch's: the steps are those of one process.
    The callbacks run on rank 0 only.
    """
    if data.size != model.config.image_size or data.levels != model.config.levels:
        raise ValueError(
            f"Dataset is {data.size}x{data.size} with {data.levels} levels but the model "
            f"expects {model.config.image_size}x{model.config.image_size} with "
            f"{model.config.levels} levels."
        )
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    net = world.wrap(model)  # what the steps call; ``model`` is what is saved
    average = WeightAverage(model, cfg.ema) if cfg.ema else None

    def averaged():  # the weights evaluation and checkpoints see
        return average.applied() if average is not None else nullcontext()

    device = next(model.parameters()).device
    images = data.train.to(device)
    jitter = cfg.augment_affine or cfg.augment_elastic > 0
    native = native_train_images(data).to(device) if jitter else None
    n = len(images)
    steps_per_epoch = max(1, math.ceil(n / cfg.batch_size))
    total = steps_per_epoch * cfg.epochs
    start, step, test_bits, epochs_done = time.perf_counter(), 0, float("nan"), 0
    stopped = False

    def elapsed_s() -> float:
        return time.perf_counter() - start

    if world.size > 1 and 0 < n % cfg.batch_size < world.size:
        raise ValueError(
            f"The last batch of each epoch would hold {n % cfg.batch_size} images, fewer than "
            f"the {world.size} processes: choose another --batch-size."
        )
    clock = 0.0  # training seconds all ranks agree on (rank 0's), for the time-based lr

    with block_dropout(model, cfg.dropout):  # hooks live only while training
        model.train()
        for epoch in range(cfg.epochs):
            perm = torch.randperm(n, generator=gen)
            for i in range(steps_per_epoch):
                t0 = time.perf_counter()
                # progress = the larger of steps done and time used, so a --max-minutes run
                # still decays its learning rate fully before the clock stops it
                frac = step / total
                if cfg.max_minutes:
                    now = elapsed_s() if world.size == 1 else clock
                    frac = max(frac, now / (60 * cfg.max_minutes))
                lr = lr_at(frac, 1, cfg.lr)
                for g in opt.param_groups:
                    g["lr"] = lr
                idx = perm[i * cfg.batch_size : (i + 1) * cfg.batch_size].to(device)
                if native is None:
                    x = images[idx]
                else:  # jitter the full-size digit, then pool and quantise as the dataset does
                    x = quantise(resize(jittered(native[idx], cfg, gen), data.size), data.levels)
                x = shift_images(x, cfg.augment_shift, gen).long()
                loss = _local_loss(net, x, world)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                opt.step()
                if average is not None:
                    average.update()
                step += 1
                over_time = cfg.max_minutes is not None and elapsed_s() > 60 * cfg.max_minutes
                asked = stop is not None and stop.is_set()
                loss_bits, halt, clock = world.sum(
                    [loss.item() / world.size, float(asked or over_time), elapsed_s() * world.main]
                )
                stopped = halt > 0  # every rank stops at the same step, with the same lr next
                last = i == steps_per_epoch - 1 or stopped
                if last:
                    with averaged():
                        test_bits = evaluate_bits(model, data.test)
                if on_step is not None and world.main:
                    on_step(
                        StepInfo(
                            step,
                            total,
                            epoch,
                            loss_bits,
                            lr,
                            time.perf_counter() - t0,
                            test_bits if last else None,
                        )
                    )
                if not stopped and world.sum([float(stop is not None and stop.is_set())])[0]:
                    stopped = True  # set by on_step itself
                    with averaged():
                        test_bits = evaluate_bits(model, data.test)
                if stopped:
                    break
            epochs_done = epoch + 1
            if on_epoch is not None and world.main:
                with averaged():
                    on_epoch(epoch, test_bits)
            if stopped:
                break
    if average is not None:
        average.copy_to_model()
    model.eval()
    return {
        "test_bits_per_dim": test_bits,
        "steps": step,
        "epochs": epochs_done,
        "stopped_early": stopped,
        "train_seconds": round(time.perf_counter() - start, 1),
    }


def _local_loss(net: torch.nn.Module, x: torch.Tensor, world: World) -> torch.Tensor:
    """This rank's share of the global batch's mean NLL (bits/dim), scaled so that the
    ranks' average, which is what ``DistributedDataParallel`` takes of the gradients, is
    the mean over the whole batch even when the shares differ by an image."""
    if world.size == 1:
        return nll_bits(net(x), x)
    if len(x) < world.size:
        raise ValueError(
            f"A batch of {len(x)} images cannot give each of {world.size} processes one."
        )
    part = torch.tensor_split(x, world.size)[world.rank]
    return nll_bits(net(part), part) * (len(part) * world.size / len(x))


def make_card(
    model: PixelCNN | GatedPixelCNN,
    data: ImageDataset,
    tcfg: PixelTrainConfig,
    metrics: dict,
    command: str | None = None,
    processes: int = 1,
) -> dict:
    """The JSON card: config, dataset, training settings, metrics (with the baseline), and
    the command line that trained it (``python -m autoreg.train pixel ...``), so a card
    says how to make its weights again."""
    cfg = model.config
    dims = cfg.image_size**2
    base = baseline_bits(data.train, data.test, cfg.levels)
    m = dict(metrics)
    m["baseline_bits_per_dim"] = base
    m["baseline"] = "independent categorical per pixel (add-one smoothed, fitted on train)"
    if cfg.levels == 2:  # nats per image is the number papers report for binarised MNIST
        for key, bits in (("test", m["test_bits_per_dim"]), ("baseline", base)):
            m[f"{key}_nats_per_image"] = bits * math.log(2) * dims
    return {
        "format": "autoreg",
        "version": 1,
        "kind": "pixelcnn",
        "config": cfg.to_dict(),
        "dataset": {
            "name": data.name,
            "size": data.size,
            "levels": data.levels,
            "n_train": len(data.train),
            "n_test": len(data.test),
        },
        "training": {
            "epochs": tcfg.epochs,
            "batch_size": tcfg.batch_size,
            "lr": tcfg.lr,
            "seed": tcfg.seed,
            "augment_shift": tcfg.augment_shift,
            "augment_affine": tcfg.augment_affine,
            "augment_elastic": tcfg.augment_elastic,
            "ema": tcfg.ema,
            "dropout": tcfg.dropout,
            "device": next(model.parameters()).device.type,
            "processes": processes,  # torchrun's --nproc_per_node; 1 without it
        },
        "metrics": m,
        "command": command,
        "num_params": model.num_params(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
