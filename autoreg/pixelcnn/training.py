"""Train a PixelCNN or Gated PixelCNN on an image dataset; library function plus CLI.

``python -m autoreg.train pixel --model pixelcnn --dataset mnist-5k --size 16 --levels 4
--out assets/pixelcnn-mnist16 --epochs 10 --max-minutes 12``

The loop never prints: it calls ``on_step(StepInfo)`` after every optimiser step and
stops early when ``stop`` (a ``threading.Event``) is set, so the same function drives the
CLI (which prints) and the browser's Train page (which updates a progress bar from a
background thread). Evaluation runs under no-grad and restores train mode.
"""

from __future__ import annotations

import argparse
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from autoreg.pixelcnn.data import ImageDataset, load_images, native_train_images, quantise, resize
from autoreg.pixelcnn.layers import ResidualBlock
from autoreg.pixelcnn.models import GatedPixelCNN, PixelCNN, PixelCNNConfig, build_model


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
    augment_elastic: float = 0.0  # Simard's alpha for an elastic warp (0: off); see jittered
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


def shift_images(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each image by its own random offset in ``[-max_shift, max_shift]`` per axis.

    Why: 4,500 training digits are few for a PixelCNN, which overfits them after some 60
    epochs. A digit moved by a pixel or two is still a digit, so small translations give
    the model more distinct images. Measured on the book's configuration, this slows the
    overfitting but does not stop it (README, "Shipped PixelCNNs"). Pixels moved in from
    outside are level 0 (the background), never wrapped from the opposite edge.
    Offsets come from ``gen`` (CPU), so a seeded run draws the same shifts on any device.
    """
    if max_shift <= 0:
        return x
    b, h, w = x.shape
    k = max_shift
    dy, dx = (torch.randint(0, 2 * k + 1, (2, b), generator=gen).to(x.device)).unbind(0)
    padded = F.pad(x, (k, k, k, k))  # zeros = background level
    rows = dy[:, None] + torch.arange(h, device=x.device)  # (B, H)
    cols = dx[:, None] + torch.arange(w, device=x.device)  # (B, W)
    batch = torch.arange(b, device=x.device)[:, None, None]
    return padded[batch, rows[:, :, None], cols[:, None, :]]


def affine_jitter(
    native: torch.Tensor,
    gen: torch.Generator,
    degrees: float = 10.0,
    scale: float = 0.1,
    shift: float = 0.1,
    elastic: float = 0.0,
    sigma: float = 4.0,
) -> torch.Tensor:
    """Rotate, scale, move and optionally warp each uint8 image ``[B, S, S]`` -> [0, 1] floats.

    Each image draws its own rotation in ``±degrees``, zoom in ``1 ± scale`` and shift in
    ``±shift`` of the half-width (0.1 is 1.4 pixels at 28x28), uniformly, from ``gen``.
    ``elastic`` adds Simard et al.'s (2003) elastic distortion: a field of uniform random
    displacements, smoothed by a Gaussian of ``sigma`` pixels and scaled by ``elastic``
    (their MNIST setting is 34 and 4: about 1.2 pixels of smooth wobble, RMS), so strokes
    bend the way handwriting varies rather than the whole digit turning. Both act in one
    bilinear resampling at full resolution, zeros (background) outside: the result is then
    pooled and quantised like the dataset itself, so a jittered digit looks like a real one
    at the model's size. All zeros gives the images back unchanged.
    """
    b, s = native.shape[0], native.shape[-1]
    u = (torch.rand(4, b, generator=gen) * 2 - 1).to(native.device)  # uniform in [-1, 1]
    angle = u[0] * math.radians(degrees)
    zoom = 1 + u[1] * scale
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos, -sin, u[2] * shift], -1), torch.stack([sin, cos, u[3] * shift], -1)],
        1,
    )  # (B, 2, 3): output coordinates -> input coordinates
    grid = F.affine_grid(theta, [b, 1, s, s], align_corners=False)
    if elastic > 0:
        grid = grid + elastic_field(b, s, elastic, sigma, gen).to(grid.device)
    x = native.float()[:, None] / 255
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[:, 0]


def jittered(native: torch.Tensor, cfg: PixelTrainConfig, gen: torch.Generator) -> torch.Tensor:
    """The augmentations ``cfg`` asks for, applied to full-size uint8 digits ``[B, S, S]``.

    ``cfg.augment_elastic`` is Simard's alpha for a 28x28 digit, with his sigma of 4
    pixels: alpha 20 moves pixels by about 0.73 of a pixel (RMS), 34 by about 1.2. At
    another native size S both scale (sigma by S/28, alpha by (S/28)^2, since the blurred
    noise grows as sigma shrinks), so the warp is the same fraction of the digit.
    """
    f = native.shape[-1] / 28
    warp = {"elastic": cfg.augment_elastic * f * f, "sigma": 4 * f}
    if cfg.augment_affine:
        return affine_jitter(native, gen, **warp)
    return affine_jitter(native, gen, degrees=0, scale=0, shift=0, **warp)


def elastic_field(b: int, s: int, alpha: float, sigma: float, gen: torch.Generator) -> torch.Tensor:
    """``b`` smooth random displacement fields ``(B, S, S, 2)`` in grid units (2/S per pixel).

    Uniform noise in [-1, 1] per pixel and axis, blurred by a normalised Gaussian of
    ``sigma`` pixels (zero padding), times ``alpha``: displacements in pixels.
    """
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    noise = torch.rand(b * 2, 1, s, s, generator=gen) * 2 - 1
    noise = F.conv2d(noise, k.view(1, 1, 1, -1), padding=(0, radius))  # blur along x
    noise = F.conv2d(noise, k.view(1, 1, -1, 1), padding=(radius, 0))  # then along y
    return (noise.view(b, 2, s, s).permute(0, 2, 3, 1) * alpha * 2 / s).contiguous()


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
    matters most while the learning rate is still high (the README's 16×16 resume: FD 82
    raw, 61 averaged at the same step); once a cosine schedule has decayed, the raw
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
) -> dict:
    """Train ``model`` in place on ``data.train``; returns metrics (bits/dim and timing).

    Runs on whatever device the model's parameters are on (move the model first).

    Args:
        on_step: called after every step with a :class:`StepInfo`.
        stop: set it from another thread to stop after the current step.
        on_epoch: called as ``on_epoch(epoch, test_bits)`` after each epoch (checkpoints).

    With ``cfg.ema`` set, test NLL, ``on_epoch`` and the returned model use the
    :class:`WeightAverage`; the optimiser keeps stepping the raw weights in between.
    """
    if data.size != model.config.image_size or data.levels != model.config.levels:
        raise ValueError(
            f"Dataset is {data.size}x{data.size} with {data.levels} levels but the model "
            f"expects {model.config.image_size}x{model.config.image_size} with "
            f"{model.config.levels} levels."
        )
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
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
                    frac = max(frac, elapsed_s() / (60 * cfg.max_minutes))
                lr = lr_at(frac, 1, cfg.lr)
                for g in opt.param_groups:
                    g["lr"] = lr
                idx = perm[i * cfg.batch_size : (i + 1) * cfg.batch_size].to(device)
                if native is None:
                    x = images[idx]
                else:  # jitter the full-size digit, then pool and quantise as the dataset does
                    x = quantise(resize(jittered(native[idx], cfg, gen), data.size), data.levels)
                x = shift_images(x, cfg.augment_shift, gen).long()
                loss = model.nll(x)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                opt.step()
                if average is not None:
                    average.update()
                step += 1
                over_time = cfg.max_minutes is not None and elapsed_s() > 60 * cfg.max_minutes
                stopped = (stop is not None and stop.is_set()) or over_time
                last = i == steps_per_epoch - 1 or stopped
                if last:
                    with averaged():
                        test_bits = evaluate_bits(model, data.test)
                if on_step is not None:
                    on_step(
                        StepInfo(
                            step,
                            total,
                            epoch,
                            loss.item(),
                            lr,
                            time.perf_counter() - t0,
                            test_bits if last else None,
                        )
                    )
                if not stopped and stop is not None and stop.is_set():  # set by on_step itself
                    stopped = True
                    with averaged():
                        test_bits = evaluate_bits(model, data.test)
                if stopped:
                    break
            epochs_done = epoch + 1
            if on_epoch is not None:
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


def make_card(
    model: PixelCNN | GatedPixelCNN, data: ImageDataset, tcfg: PixelTrainConfig, metrics: dict
) -> dict:
    """The JSON card: config, dataset, training settings, metrics (with the baseline)."""
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
        },
        "metrics": m,
        "num_params": model.num_params(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``python -m autoreg.train pixel``."""
    d, t = PixelCNNConfig(), PixelTrainConfig()
    p.add_argument("--model", choices=["pixelcnn", "gated"], default="pixelcnn")
    p.add_argument("--dataset", default="mnist-5k", help="mnist-5k, digits-8x8, mnist, ...")
    p.add_argument("--size", type=int, default=d.image_size, help="image side after pooling")
    p.add_argument("--levels", type=int, default=d.levels, help="2, 4, 8, 16 or 256")
    p.add_argument("--channels", type=int, default=d.channels)
    p.add_argument("--blocks", type=int, default=d.n_blocks)
    p.add_argument("--first-kernel", type=int, default=d.first_kernel)
    p.add_argument("--kernel", type=int, default=d.kernel)
    p.add_argument("--epochs", type=int, default=t.epochs)
    p.add_argument("--batch-size", type=int, default=t.batch_size)
    p.add_argument("--lr", type=float, default=t.lr)
    p.add_argument("--max-minutes", type=float, default=None)
    p.add_argument(
        "--augment-shift",
        type=int,
        default=t.augment_shift,
        help="shift training images by up to K pixels (0: off)",
    )
    p.add_argument(
        "--augment-affine",
        action="store_true",
        help="jitter training digits at full size: rotation ±10°, zoom ±10%%, shift ±5%%",
    )
    p.add_argument(
        "--augment-elastic",
        type=float,
        default=t.augment_elastic,
        metavar="ALPHA",
        help="elastic warp of training digits (Simard's alpha at 28x28: 34 moves pixels "
        "about 1.2 px RMS; 0: off)",
    )
    p.add_argument(
        "--ema",
        type=float,
        default=t.ema,
        metavar="DECAY",
        help="evaluate and save a moving average of the weights, e.g. 0.9995 (0: off)",
    )
    p.add_argument(
        "--dropout",
        type=float,
        default=t.dropout,
        help="dropout inside each residual block while training, e.g. 0.1 (0: off)",
    )
    p.add_argument("--device", default="auto", help="auto (cuda when present), cpu, cuda")
    p.add_argument("--seed", type=int, default=t.seed)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    p.add_argument("--out", required=True, help="output path (.safetensors and .json)")
    p.add_argument(
        "--resume",
        default=None,
        help="continue from this checkpoint (its config wins over the model options)",
    )


def main(args: argparse.Namespace) -> int:
    """Train from CLI arguments, print progress, checkpoint after every epoch."""
    from autoreg.checkpoints import save_checkpoint

    if args.augment_shift < 0:
        raise ValueError(f"--augment-shift must be 0 or more, not {args.augment_shift}.")
    if args.augment_elastic < 0:
        raise ValueError(f"--augment-elastic must be 0 or more, not {args.augment_elastic}.")
    if not 0.0 <= args.ema < 1.0:
        raise ValueError(f"--ema must be a decay in [0, 1), e.g. 0.9995, not {args.ema}.")
    if not 0.0 <= args.dropout < 1.0:
        raise ValueError(f"--dropout must be in [0, 1), e.g. 0.1, not {args.dropout}.")
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    tcfg = PixelTrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        max_minutes=args.max_minutes,
        seed=args.seed,
        augment_shift=args.augment_shift,
        augment_affine=args.augment_affine,
        augment_elastic=args.augment_elastic,
        ema=args.ema,
        dropout=args.dropout,
    )
    previous: dict = {}
    if args.resume:  # continue a checkpoint: its config wins over the model options
        from autoreg.checkpoints import load_checkpoint
        from autoreg.pixelcnn.models import model_from_checkpoint

        ckpt = load_checkpoint(args.resume)
        model = model_from_checkpoint(ckpt)
        trained_on = ckpt.card.get("dataset", {}).get("name")
        if trained_on not in (None, args.dataset):
            raise ValueError(f"{args.resume} was trained on {trained_on}, not {args.dataset}.")
        m = ckpt.card.get("metrics", {})
        previous = {
            "epochs": m.get("epochs_total", m.get("epochs", 0)),
            "train_seconds": m.get("train_seconds_total", m.get("train_seconds", 0.0)),
        }
    else:
        model = build_model(
            PixelCNNConfig(
                kind=args.model,
                image_size=args.size,
                levels=args.levels,
                channels=args.channels,
                n_blocks=args.blocks,
                first_kernel=args.first_kernel,
                kernel=args.kernel,
            )
        )
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: torch sees no CUDA GPU here; use --device cpu.")
    model.to(device)
    cfg = model.config
    data = load_images(args.dataset, size=cfg.image_size, levels=cfg.levels)
    out = Path(args.out)

    def totals(metrics: dict) -> dict:
        """Cumulative epochs and seconds over this run and the runs it resumed."""
        if previous:
            metrics["resumed_from_epochs"] = previous["epochs"]
        metrics["epochs_total"] = previous.get("epochs", 0) + metrics["epochs"]
        metrics["train_seconds_total"] = round(
            previous.get("train_seconds", 0.0) + metrics["train_seconds"], 1
        )
        return metrics

    t_start = time.perf_counter()

    def on_step(s: StepInfo) -> None:
        if s.step % 20 == 0 or s.test_bits is not None:
            msg = f"step {s.step}/{s.total_steps} epoch {s.epoch} loss {s.loss_bits:.4f} b/d"
            msg += f" lr {s.lr:.2e} {s.step_time * 1000:.0f} ms"
            if s.test_bits is not None:
                msg += f" | test {s.test_bits:.4f} bits/dim"
            print(msg, flush=True)

    def on_epoch(epoch: int, test_bits: float) -> None:
        metrics = {
            "test_bits_per_dim": test_bits,
            "epochs": epoch + 1,
            "train_seconds": round(time.perf_counter() - t_start, 1),
        }
        save_checkpoint(out, model.state_dict(), make_card(model, data, tcfg, totals(metrics)))

    metrics = train(model, data, tcfg, on_step=on_step, on_epoch=on_epoch)
    card = make_card(model, data, tcfg, totals(metrics))
    path = save_checkpoint(out, model.state_dict(), card)
    print(
        f"saved {path}: test {metrics['test_bits_per_dim']:.4f} bits/dim, baseline "
        f"{card['metrics']['baseline_bits_per_dim']:.4f}",
        flush=True,
    )
    return 0
