"""``python -m autoreg.train pixel``: train a PixelCNN or Gated PixelCNN from the shell.

Prints progress from the loop's ``on_step`` and saves a checkpoint (safetensors and its
JSON card) after every epoch, so a stopped run still leaves a usable model.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from autoreg import distributed
from autoreg.checkpoints import load_checkpoint, save_checkpoint
from autoreg.pixelcnn.data import list_datasets, load_images
from autoreg.pixelcnn.models import PixelCNNConfig, build_model, model_from_checkpoint
from autoreg.pixelcnn.training import PixelTrainConfig, StepInfo, make_card, train

DESCRIPTION = "Train a PixelCNN or Gated PixelCNN on an image dataset and save it as a checkpoint."

EPILOG = """\
Images are resized to --size pixels a side and quantised to --levels intensities; the
model learns one softmax over the levels per pixel, in raster order. Metrics are test
negative log-likelihood in bits per dimension (per pixel), beside a baseline that draws
every pixel alone from its training histogram. After every epoch it writes
<out>.safetensors and <out>.json (config, dataset, training settings, metrics). Under
torchrun (--nproc_per_node N) the N processes share each batch and take the steps of one
process; rank 0 prints and writes the same files.

examples:
  # the book's model: 16x16 digits, 4 levels, 5 residual blocks, 128 channels
  python -m autoreg.train pixel --dataset mnist-5k --size 16 --levels 4 --epochs 10 \\
      --out runs/pixelcnn-mnist16
  # a Gated PixelCNN on binarised 28x28 digits, with a weight average, 30 minutes at most
  python -m autoreg.train pixel --model gated --size 28 --levels 2 --ema 0.999 \\
      --max-minutes 30 --out runs/gated-mnist28
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``python -m autoreg.train pixel``, grouped as ``--help`` shows them."""
    d, t = PixelCNNConfig(), PixelTrainConfig()
    data = p.add_argument_group("data")
    data.add_argument(
        "--dataset",
        metavar="NAME",
        default="mnist-5k",
        help=f"one of {', '.join(list_datasets())} (mnist and fashion-mnist are downloaded "
        "once) (default: %(default)s)",
    )
    data.add_argument(
        "--size",
        metavar="PIXELS",
        type=int,
        default=d.image_size,
        help="image side in pixels after pooling (default: %(default)s)",
    )
    data.add_argument(
        "--levels",
        metavar="N",
        type=int,
        default=d.levels,
        help="intensity levels per pixel: 2, 4, 8, 16 or 256 (default: %(default)s)",
    )
    model = p.add_argument_group("model (ignored with --resume: the checkpoint's config wins)")
    model.add_argument(
        "--model",
        choices=["pixelcnn", "gated"],
        default="pixelcnn",
        help="plain PixelCNN (residual blocks, has a blind spot) or Gated PixelCNN "
        "(default: %(default)s)",
    )
    model.add_argument(
        "--channels",
        metavar="N",
        type=int,
        default=d.channels,
        help="feature maps (default: %(default)s)",
    )
    model.add_argument(
        "--blocks",
        metavar="N",
        type=int,
        default=d.n_blocks,
        help="residual blocks, or gated layers after the first (default: %(default)s)",
    )
    model.add_argument(
        "--first-kernel",
        metavar="K",
        type=int,
        default=d.first_kernel,
        help="side of the first, mask-A convolution, pixels, odd (default: %(default)s)",
    )
    model.add_argument(
        "--kernel",
        metavar="K",
        type=int,
        default=d.kernel,
        help="side of the later mask-B convolutions, pixels, odd (default: %(default)s)",
    )
    opt = p.add_argument_group("optimisation")
    opt.add_argument(
        "--epochs",
        metavar="N",
        type=int,
        default=t.epochs,
        help="passes over the training images (default: %(default)s)",
    )
    opt.add_argument(
        "--batch-size",
        metavar="IMAGES",
        type=int,
        default=t.batch_size,
        help="images per step (default: %(default)s)",
    )
    opt.add_argument(
        "--lr",
        metavar="LR",
        type=float,
        default=t.lr,
        help="Adam learning rate, cosine-decayed to a tenth (default: %(default)s)",
    )
    opt.add_argument(
        "--seed", metavar="N", type=int, default=t.seed, help="random seed (default: %(default)s)"
    )
    reg = p.add_argument_group("augmentation and regularisation (all off by default)")
    reg.add_argument(
        "--augment-shift",
        type=int,
        default=t.augment_shift,
        metavar="PIXELS",
        help="shift training images by up to this many pixels (default: %(default)s = off)",
    )
    reg.add_argument(
        "--augment-affine",
        action="store_true",
        help="jitter training digits at full size: rotation ±10°, zoom ±10%%, shift ±5%% "
        "(default: off)",
    )
    reg.add_argument(
        "--augment-elastic",
        type=float,
        default=t.augment_elastic,
        metavar="ALPHA",
        help="elastic warp of training digits (Simard's alpha at 28x28: 34 moves pixels "
        "about 1.2 px RMS) (default: %(default)s = off)",
    )
    reg.add_argument(
        "--ema",
        type=float,
        default=t.ema,
        metavar="DECAY",
        help="evaluate and save a moving average of the weights, e.g. 0.9995 "
        "(default: %(default)s = off)",
    )
    reg.add_argument(
        "--dropout",
        type=float,
        default=t.dropout,
        metavar="P",
        help="dropout probability inside each residual block while training, e.g. 0.1 "
        "(default: %(default)s = off)",
    )
    run = p.add_argument_group("run and output")
    run.add_argument(
        "--out", metavar="PATH", required=True, help="checkpoint path, without suffix (required)"
    )
    run.add_argument(
        "--resume",
        default=None,
        metavar="CHECKPOINT",
        help="continue training this .safetensors checkpoint (default: a fresh model)",
    )
    run.add_argument(
        "--max-minutes",
        metavar="MIN",
        type=float,
        default=None,
        help="stop after this many minutes, wall clock; the learning rate decays over them "
        "(default: no limit)",
    )
    run.add_argument(
        "--device",
        default="auto",
        metavar="{auto,cpu,cuda}",
        help="auto is cuda when torch sees a GPU, else cpu; cuda:N picks one "
        "(default: %(default)s)",
    )
    run.add_argument(
        "--threads",
        metavar="N",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's choice)",
    )


def main(args: argparse.Namespace) -> int:
    """Train from CLI arguments, print progress, checkpoint after every epoch."""
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
    device = distributed.pick_device(args.device)
    world = distributed.setup(device)
    try:
        code = _train_and_save(args, model, tcfg, previous, device, world)
        world.barrier()  # the ranks leave together, once rank 0 has saved
        return code
    finally:
        distributed.teardown(world)


def _train_and_save(
    args: argparse.Namespace,
    model: torch.nn.Module,
    tcfg: PixelTrainConfig,
    previous: dict,
    device: str,
    world: distributed.World,
) -> int:
    """Train on ``device`` (as one of ``world``'s processes); rank 0 prints and saves."""
    model.to(device)
    cfg = model.config
    data = load_images(args.dataset, size=cfg.image_size, levels=cfg.levels)
    out = Path(args.out)
    command = getattr(args, "command_line", None)  # set by autoreg.train: goes in the card

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
        card = make_card(model, data, tcfg, totals(metrics), command, world.size)
        save_checkpoint(out, model.state_dict(), card)

    metrics = train(model, data, tcfg, on_step=on_step, on_epoch=on_epoch, world=world)
    if not world.main:  # the other ranks hold the same model; rank 0 saves it
        return 0
    card = make_card(model, data, tcfg, totals(metrics), command, world.size)
    path = save_checkpoint(out, model.state_dict(), card)
    print(
        f"saved {path}: test {metrics['test_bits_per_dim']:.4f} bits/dim, baseline "
        f"{card['metrics']['baseline_bits_per_dim']:.4f}",
        flush=True,
    )
    return 0
