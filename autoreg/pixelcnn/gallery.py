"""PNG grids of samples and half-image completions for the shipped PixelCNNs.

``python -m autoreg.pixelcnn.gallery pixelcnn-mnist16 gated-mnist16 ...`` writes
``assets/<name>-samples.png`` (16 samples from blank images) and
``assets/<name>-completions.png`` (for 8 test digits: the top half kept, the bottom half
erased and sampled; rows: original, the visible half, two completions). Pillow is
imported lazily: the core package does not need it.

It also measures how digit-like the model's samples are (``evaluation.sample_quality``
on 500 samples) and records that in the model's card under ``"samples"``, so the README
table built from the cards shows it beside the likelihood.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from autoreg.checkpoints import load_checkpoint, save_checkpoint, tensors_digest
from autoreg.pixelcnn.data import load_images
from autoreg.pixelcnn.evaluation import sample_quality, train_judge
from autoreg.pixelcnn.sampling import sample_images
from autoreg.pretrained import ASSETS, load_pretrained, model_from_checkpoint, pretrained_card

QUALITY_SAMPLES = 500  # samples per seed behind the Fréchet distance in each card
QUALITY_SEEDS = (0, 1, 2)  # the card's distance is the mean over these sample sets


def grid(images: torch.Tensor, levels: int, cols: int, cell: int = 56, pad: int = 2):
    """Integer images ``[N, H, W]`` -> a PIL grayscale grid, each upscaled to ``cell`` px."""
    from PIL import Image

    n = len(images)
    rows = (n + cols - 1) // cols
    canvas = Image.new("L", (cols * (cell + pad) + pad, rows * (cell + pad) + pad), 128)
    arr = (images.float() / (levels - 1) * 255).round().clamp(0, 255).byte().numpy()
    for i in range(n):
        tile = Image.fromarray(np.ascontiguousarray(arr[i])).resize((cell, cell), Image.NEAREST)
        canvas.paste(tile, (pad + (i % cols) * (cell + pad), pad + (i // cols) * (cell + pad)))
    return canvas


def half_mask(size: int) -> torch.Tensor:
    """Known-pixel mask ``[size, size]``: the top half is known, the bottom half erased."""
    known = torch.zeros(size, size, dtype=torch.bool)
    known[: size // 2] = True
    return known


def make_gallery(name: str, out_dir: Path = ASSETS, seed: int = 0) -> tuple[Path, Path]:
    """Write the samples and completions PNGs for one shipped model; returns their paths."""
    model = load_pretrained(name)
    cfg = model.config
    card = pretrained_card(name)
    samples = sample_images(model, n=16, seed=seed)  # (16, H, W)
    p_samples = out_dir / f"{name}-samples.png"
    grid(samples, cfg.levels, cols=8).save(p_samples, optimize=True)

    data = load_images(card["dataset"]["name"], size=cfg.image_size, levels=cfg.levels)
    originals = data.test[:8].long()  # (8, H, W)
    known = half_mask(cfg.image_size).expand(8, -1, -1)
    visible = originals * known
    comps = [sample_images(model, n=8, start=(originals, known), seed=seed + k) for k in (1, 2)]
    rows = torch.cat([originals, visible, *comps])  # (32, H, W): one row each
    p_comp = out_dir / f"{name}-completions.png"
    grid(rows, cfg.levels, cols=8).save(p_comp, optimize=True)
    return p_samples, p_comp


def measure_samples(
    name: str, assets: Path = ASSETS, seeds: tuple[int, ...] = QUALITY_SEEDS,
    temperature: float = 1.0,
) -> dict:  # fmt: skip
    """Judge ``QUALITY_SAMPLES`` samples per seed of a shipped model; record it in its card.

    The distance in the card is the mean over ``seeds`` (each its own set of samples,
    one judge): with one set of 500 it moves by up to 15% from seed to seed, more than
    some differences between models, so one seed alone would say too little.
    The card lives twice (the ``.json`` and the safetensors header); both are rewritten
    together by ``save_checkpoint``, with the weights unchanged, and only when the record
    changed, so redrawing the grids does not put another copy of the weights in git. The
    record names the weights it measured (``weights_digest``), so a retrained model cannot
    inherit it.
    """
    path = assets / f"{name}.safetensors"
    ckpt = load_checkpoint(path)
    model = model_from_checkpoint(ckpt)
    cfg = model.config
    data = load_images(ckpt.card["dataset"]["name"], size=cfg.image_size, levels=cfg.levels)
    judge = train_judge(data, seed=0)
    per_seed = [
        sample_quality(
            judge, data, sample_images(model, n=QUALITY_SAMPLES, seed=s, temperature=temperature)
        )
        for s in seeds
    ]
    distances = [q["frechet_distance"] for q in per_seed]
    quality = {
        **per_seed[0],  # the references and the judge's accuracy do not depend on the seed
        "frechet_distance": round(sum(distances) / len(distances), 1),
        "frechet_distances": distances,
        "temperature": temperature,
        "seeds": list(seeds),
        "weights_digest": tensors_digest(ckpt.tensors),
    }
    if ckpt.card.get("samples") != quality:  # unchanged: keep the file (and git) as it is
        save_checkpoint(path, ckpt.tensors, {**ckpt.card, "samples": quality})
    return quality


EPILOG = """\
It writes assets/<name>-samples.png and assets/<name>-completions.png and records the
sample distance (mean over seeds 0-2, 500 samples each) in the model's card; run
'python -m autoreg.cards' afterwards to refresh the README's tables.

examples:
  python -m autoreg.pixelcnn.gallery pixelcnn-mnist16
  python -m autoreg.pixelcnn.gallery gated-mnist16 gated-mnist28-binary --seed 1
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autoreg.pixelcnn.gallery",
        description="Draw the sample and completion grids of shipped PixelCNNs and score "
        "their samples.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="+", metavar="NAME", help="shipped model names")
    grids = parser.add_argument_group("grids")
    grids.add_argument(
        "--seed", type=int, default=0, metavar="N", help="seed of the grids (default: %(default)s)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # One thread: float sums then come out the same from run to run, so the judge and the
    # distances in the cards are reproducible (with 2 threads they moved by about 5%).
    torch.set_num_threads(1)
    for name in args.names:
        for path in make_gallery(name, seed=args.seed):
            print(path)
        print(name, measure_samples(name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
