"""Receptive fields and blind spots of PixelCNNs, measured by autograd (not drawn by hand).

The receptive field of output pixel (r, c) is the set of input pixels whose value changes
the logits at (r, c): exactly the inputs with a non-zero gradient. Masked weights are
multiplied by exact zeros, so "cannot see" shows up as a gradient of exactly 0.0.

The plain PixelCNN has a *blind spot*: stacking mask-B 3x3 kernels grows the field up
and to the left, but each layer reaches only one column further right per row up, so a
wedge of pixels above and to the right of (r, c) is never seen even though it lies
before (r, c) in raster order. With n mask-B 3x3 layers after the first layer, that
wedge holds n(n+1)/2 pixels (1 + 2 + ... + n). The Gated PixelCNN's vertical stack sees
full rows above, so it has none.

Reference: van den Oord et al., "Conditional Image Generation with PixelCNN Decoders"
(2016), figure 1.
"""

from __future__ import annotations

import torch

from autoreg.pixelcnn.models import GatedPixelCNN, PixelCNN, PixelCNNConfig, build_model

Model = PixelCNN | GatedPixelCNN


def _check_pixel(row: int, col: int, size: int) -> None:
    if not (0 <= row < size and 0 <= col < size):
        raise ValueError(f"Pixel ({row}, {col}) is outside a {size}x{size} image.")


def _gradient_maps(
    model: Model, row: int, col: int, size: int | None, stages: bool, probes: int
) -> list[torch.Tensor]:
    """|d out(row, col) / d input| summed over random probes, per stage or for the logits."""
    size = size or model.config.image_size
    _check_pixel(row, col, size)
    gen = torch.Generator().manual_seed(0)
    # Random inputs and output weights, so no ReLU is dead everywhere and no sum cancels.
    x = torch.randn(probes, size, size, generator=gen).requires_grad_(True)  # (P, H, W)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            outs = model.features(x) if stages else [model(x)]
            maps = []
            for out in outs:  # (P, C, H, W)
                w = torch.randn(out.shape[1], generator=gen)
                target = (out[:, :, row, col] * w).sum()
                (g,) = torch.autograd.grad(target, x, retain_graph=True)
                maps.append(g.abs().sum(0))  # (H, W)
    finally:
        model.train(was_training)
    return maps


def receptive_field(
    model: Model, row: int, col: int, size: int | None = None, probes: int = 8
) -> torch.Tensor:
    """Bool ``[size, size]``: the input pixels whose value changes the logits at (row, col).

    Args:
        model: any PixelCNN or GatedPixelCNN (it is convolutional, so ``size`` may differ
            from the training size; default: ``model.config.image_size``).
        row, col: the output pixel.
        probes: random inputs to probe with (more = safer against a dead ReLU hiding a path).
    """
    return _gradient_maps(model, row, col, size, False, probes)[0] > 0


def receptive_fields_by_depth(
    model: Model, row: int, col: int, size: int | None = None, probes: int = 8
) -> list[torch.Tensor]:
    """Receptive field of (row, col) after each stage (first layer, each block, head)."""
    return [g > 0 for g in _gradient_maps(model, row, col, size, True, probes)]


def probe_model(
    n_layers: int, kind: str, first_kernel: int, kernel: int, size: int
) -> PixelCNN | GatedPixelCNN:
    """A small random model whose receptive fields show the geometry of its masks.

    Layer 1 is the mask-A layer; each further layer is a residual block (pixelcnn) or a
    gated layer. Weights are random but fixed (seed 0, the shared global RNG restored):
    fields depend only on the masks, and 16 channels keep random ReLUs from closing
    every path.
    """
    if not 1 <= n_layers <= 12:
        raise ValueError(f"n_layers must be in 1..12, got {n_layers!r}.")
    cfg = PixelCNNConfig(
        kind=kind,
        image_size=size,
        levels=2,
        channels=16,
        n_blocks=n_layers - 1,
        first_kernel=first_kernel,
        kernel=kernel,
        n_head=0,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return build_model(cfg)


def stack_receptive_fields(
    n_layers: int,
    kind: str = "pixelcnn",
    first_kernel: int = 3,
    kernel: int = 3,
    size: int = 15,
    row: int | None = None,
    col: int | None = None,
) -> list[torch.Tensor]:
    """Fields after 1, 2, ... ``n_layers`` layers of a small random model (Masks page).

    Layer 1 is the mask-A layer; each further layer is one residual block (pixelcnn) or
    gated layer. ``row``/``col`` default to the centre pixel.
    """
    model = probe_model(n_layers, kind, first_kernel, kernel, size)
    row = size // 2 if row is None else row
    col = size // 2 if col is None else col
    return receptive_fields_by_depth(model, row, col, size)


def past_pixels(row: int, col: int, size: int) -> torch.Tensor:
    """Bool ``[size, size]``: pixels strictly before (row, col) in raster order."""
    _check_pixel(row, col, size)
    order = torch.arange(size * size).reshape(size, size)
    return order < row * size + col


def reach_window(config: PixelCNNConfig, row: int, col: int, size: int) -> torch.Tensor:
    """Bool ``[size, size]``: past pixels within the model's reach (kernel radii summed)."""
    window = torch.zeros(size, size, dtype=torch.bool)
    up, side = config.vertical_reach, config.horizontal_reach
    window[max(0, row - up) : row + 1, max(0, col - side) : col + side + 1] = True
    return window & past_pixels(row, col, size)


def blind_spot(
    model: Model, row: int, col: int, size: int | None = None, probes: int = 8
) -> torch.Tensor:
    """Bool ``[size, size]``: past pixels within the model's reach that it cannot see.

    For a plain PixelCNN with n 3x3 mask-B blocks, away from the borders, this is the
    n(n+1)/2-pixel wedge to the upper right; for a Gated PixelCNN it is empty.
    """
    size = size or model.config.image_size
    field = receptive_field(model, row, col, size, probes)
    return reach_window(model.config, row, col, size) & ~field


def blind_spot_size(n_blocks: int, kernel: int = 3) -> int:
    """Predicted blind-spot size of a PixelCNN with ``n_blocks`` 3x3 mask-B layers."""
    if kernel != 3:
        raise ValueError("The closed form holds for 3x3 mask-B kernels only.")
    return n_blocks * (n_blocks + 1) // 2
