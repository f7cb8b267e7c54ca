"""The numbers behind the Masks page: a masked dot product, stacked receptive fields,
raster order, and what goes wrong when the masks are switched off.

Everything here is computed by the real layers (``MaskedConv2d``, ``receptive_field``,
the training loop), so the page never draws a hand-made picture. No Streamlit, no plotly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from autoreg.pixelcnn.data import load_images
from autoreg.pixelcnn.layers import MaskedConv2d
from autoreg.pixelcnn.models import PixelCNN, PixelCNNConfig, build_model
from autoreg.pixelcnn.receptive import (
    past_pixels,
    probe_model,
    reach_window,
    receptive_field,
    receptive_fields_by_depth,
)
from autoreg.pixelcnn.training import PixelTrainConfig, train


@dataclass(frozen=True)
class DotProduct:
    """One output of a 1-channel masked convolution, spelled out tap by tap.

    Args:
        patch: the k x k input window around the pixel ``[k, k]`` (intensities in [0, 1]).
        weight: the kernel ``[k, k]`` (as stored; the mask is applied on the fly).
        mask: the 0/1 mask ``[k, k]``.
        bias: the layer's bias.
        output: what ``MaskedConv2d`` itself computes at the centre pixel.
    """

    patch: torch.Tensor
    weight: torch.Tensor
    mask: torch.Tensor
    bias: float
    output: float

    @property
    def products(self) -> torch.Tensor:
        """``mask * weight * patch`` per tap ``[k, k]`` (their sum plus bias is the output)."""
        return self.mask * self.weight * self.patch

    @property
    def unmasked_output(self) -> float:
        """What a plain convolution would compute (it reads the centre and the future)."""
        return float((self.weight * self.patch).sum() + self.bias)


def dot_product_example(
    image: torch.Tensor, row: int, col: int, kernel_size: int, mask_type: str, seed: int = 0
) -> DotProduct:
    """Run a seeded 1-channel ``MaskedConv2d`` on ``image`` and take its output at (row, col).

    ``image`` is float ``[H, W]`` in [0, 1]; weights are random (seeded) and rounded to two
    decimals so they can be printed exactly.
    """
    size = image.shape[-1]
    if not (0 <= row < size and 0 <= col < size):
        raise ValueError(f"Pixel ({row}, {col}) is outside a {size}x{size} image.")
    with torch.random.fork_rng(devices=[]):  # seeded init; the shared global RNG is restored
        torch.manual_seed(seed)
        conv = MaskedConv2d(1, 1, kernel_size, mask_type)
    with torch.no_grad():
        conv.weight.copy_(torch.round(conv.weight * 400) / 100)  # (1, 1, k, k), 2 decimals
        conv.bias.copy_(torch.round(conv.bias * 100) / 100)
        out = conv(image.float()[None, None])[0, 0, row, col]  # scalar
    k, r = kernel_size, kernel_size // 2
    padded = torch.nn.functional.pad(image.float(), (r, r, r, r))  # zero padding, as the conv
    patch = padded[row : row + k, col : col + k]  # (k, k)
    return DotProduct(
        patch, conv.weight[0, 0].detach(), conv.mask[0, 0], float(conv.bias.detach()), float(out)
    )


def raster_order(size: int) -> torch.Tensor:
    """``[size, size]`` long: the step at which each pixel is generated (0 = top left)."""
    if size < 1:
        raise ValueError(f"size must be positive, got {size!r}.")
    return torch.arange(size * size).reshape(size, size)


@dataclass(frozen=True)
class StackFields:
    """Receptive fields of one pixel after each layer of a small random model.

    Args:
        fields: bool ``[depth, size, size]``; ``fields[l]`` after layer ``l + 1``.
        blind: bool ``[depth, size, size]``: past pixels within reach that are not seen.
        config: the model's config (layer 1 is mask A, the rest mask B).
    """

    fields: torch.Tensor
    blind: torch.Tensor
    config: PixelCNNConfig

    @property
    def first_layer(self) -> torch.Tensor:
        """``[size, size]`` int: the layer (1-based) at which each pixel enters; 0 = never."""
        seen = self.fields.any(0)
        return torch.where(seen, self.fields.int().argmax(0) + 1, 0)


def stack_fields(depth: int, kind: str, kernel: int, size: int, row: int, col: int) -> StackFields:
    """Receptive field of (row, col) after each of ``depth`` k x k layers (autograd).

    Layer 1 is the mask-A layer; each further layer is a residual block (``pixelcnn``) or
    a gated layer (``gated``). Weights are random but fixed (seed 0): the field depends
    only on the masks, not on the values.
    """
    if not 1 <= depth <= 12:
        raise ValueError(f"depth must be in 1..12, got {depth!r}.")
    model = probe_model(depth, kind, kernel, kernel, size)
    cfg = model.config
    fields = torch.stack(receptive_fields_by_depth(model, row, col, size, probes=8))  # (L, H, W)
    blind = []
    for layer in range(depth):
        sub = PixelCNNConfig(**{**cfg.to_dict(), "n_blocks": layer})
        blind.append(reach_window(sub, row, col, size) & ~fields[layer])
    return StackFields(fields, torch.stack(blind), cfg)


@dataclass
class MaskDemo:
    """Two identical tiny PixelCNNs trained the same way, one with its masks switched off.

    Args:
        masked / unmasked: the trained models (eval mode).
        train_bits / test_bits: per-epoch NLL in bits per pixel, ``{"masked": [...], ...}``.
        samples: ``{"masked", "unmasked"}``: ``[n, H, W]`` drawn in raster order from a
            blank canvas; ``"masked-noise"``, ``"unmasked-noise"``: from a canvas of noise.
        seconds: how long training took.
        dataset: the dataset name.
    """

    masked: PixelCNN
    unmasked: PixelCNN
    train_bits: dict[str, list[float]]
    test_bits: dict[str, list[float]]
    samples: dict[str, torch.Tensor]
    seconds: float
    dataset: str = "digits-8x8"

    def field_of(self, name: str, row: int, col: int) -> torch.Tensor:
        """Receptive field (autograd) of one of the two models at (row, col)."""
        return receptive_field(getattr(self, name), row, col)


@torch.no_grad()
def sample_on_canvas(model: PixelCNN, canvas: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Raster-order sampling that starts from ``canvas`` ``[n, H, W]`` instead of zeros.

    One full forward per pixel. A masked model never reads an undrawn pixel, so the
    starting canvas cannot change its samples; a model without masks reads it.
    """
    images = canvas.clone().long()  # (n, H, W)
    gen = torch.Generator().manual_seed(int(seed))
    size = images.shape[-1]
    for r in range(size):
        for c in range(size):
            probs = torch.softmax(model(images)[:, :, r, c].double(), -1)  # (n, L)
            images[:, r, c] = torch.multinomial(probs, 1, generator=gen)[:, 0]
    return images


def train_mask_demo(epochs: int = 10, n_samples: int = 16, seed: int = 0) -> MaskDemo:
    """Train the masked and the unmasked twin on digits-8x8 (4 levels) and sample both.

    Small on purpose (16 channels, 2 blocks): a few seconds on a laptop CPU. The unmasked
    twin reads the pixel it is asked to predict, so its loss collapses towards 0; at
    sampling time that pixel is still blank, so what it learned to copy is not there.
    """
    import time

    data = load_images("digits-8x8", size=8, levels=4)
    tcfg = PixelTrainConfig(epochs=epochs, batch_size=64, lr=3e-3, seed=seed)
    models, train_bits, test_bits, samples = {}, {}, {}, {}
    gen = torch.Generator().manual_seed(seed + 1)
    noise = torch.randint(0, 4, (n_samples, 8, 8), generator=gen)  # (n, H, W) starting canvas
    t0 = time.perf_counter()
    for name, masked in (("masked", True), ("unmasked", False)):
        cfg = PixelCNNConfig(
            image_size=8, levels=4, channels=16, n_blocks=2, first_kernel=5, masked=masked
        )
        with torch.random.fork_rng(devices=[]):  # seeded init; global RNG restored after
            torch.manual_seed(seed)
            model = build_model(cfg)
        per_epoch: list[float] = []
        tests: list[float] = []
        batch_losses: list[float] = []

        def on_step(s, batch_losses=batch_losses, per_epoch=per_epoch, tests=tests) -> None:
            batch_losses.append(s.loss_bits)
            if s.test_bits is not None:
                per_epoch.append(sum(batch_losses) / len(batch_losses))
                batch_losses.clear()
                tests.append(float(s.test_bits))

        train(model, data, tcfg, on_step=on_step)
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        models[name], train_bits[name], test_bits[name] = model, per_epoch, tests
        samples[name] = sample_on_canvas(model, torch.zeros_like(noise), seed)
        samples[name + "-noise"] = sample_on_canvas(model, noise, seed)
    return MaskDemo(
        models["masked"],
        models["unmasked"],
        train_bits,
        test_bits,
        samples,
        time.perf_counter() - t0,
    )


__all__ = [
    "DotProduct",
    "MaskDemo",
    "StackFields",
    "dot_product_example",
    "past_pixels",
    "raster_order",
    "sample_on_canvas",
    "stack_fields",
    "train_mask_demo",
]
