"""Data augmentation for PixelCNN training: shifts, affine jitter and elastic warps.

4,500 training digits are few for a PixelCNN, which overfits them. Each function here
makes more distinct digits out of the same ones, drawn from an explicit CPU
``torch.Generator`` so a seeded run draws the same augmentations on any device. The
training loop (``autoreg.pixelcnn.training``) applies ``jittered`` to the full-size
digits, pools and quantises them as the dataset does, then ``shift_images``.
"""

from __future__ import annotations

import math
from typing import Protocol

import torch
import torch.nn.functional as F


class AugmentSettings(Protocol):
    """What ``jittered`` reads of a training config (``PixelTrainConfig`` has both)."""

    augment_affine: bool  # small random rotation/scale/shift at native resolution
    augment_elastic: float  # Simard's alpha for an elastic warp at 28x28 (0: off)


def shift_images(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each image by its own random offset in ``[-max_shift, max_shift]`` per axis.

    Why: 4,500 training digits are few for a PixelCNN, which overfits them after some 60
    epochs. A digit moved by a pixel or two is still a digit, so small translations give
    the model more distinct images. Measured on the book's configuration, this slows the
    overfitting but does not stop it (docs/training.md). Pixels moved in from
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


def jittered(native: torch.Tensor, cfg: AugmentSettings, gen: torch.Generator) -> torch.Tensor:
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
