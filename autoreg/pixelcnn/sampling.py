"""Pixel-by-pixel sampling from a PixelCNN, exact and fast, plus its benchmark.

A PixelCNN draws one pixel at a time in raster order: run the model, read the
distribution at pixel (r, c), draw a level, write it into the image, move on. Done
naively that is one full forward of the whole image per pixel (784 for 28x28).

The fast path computes each layer once per pixel instead (``incremental.py``): the
masks guarantee that every feature at pixel q depends only on pixels before q, so once
those are drawn it is final, and the model's output at q needs only q's own features
plus cached ones from earlier positions. The logits equal the full forward's up to float
rounding. Both paths draw with the same uniform numbers from the same
``torch.Generator``, so for one seed they yield the same samples.

Reference: van den Oord et al., "Pixel Recurrent Neural Networks" (2016), section 2;
pytorch-generative's ``sample(conditioned_on=...)`` for the known-pixel convention.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from autoreg.pixelcnn.incremental import make_cache
from autoreg.pixelcnn.models import GatedPixelCNN, PixelCNN

Model = PixelCNN | GatedPixelCNN


@dataclass(frozen=True)
class PixelStep:
    """One sampled pixel.

    Args:
        row, col: the pixel just drawn.
        probs: the predictive distribution over levels at that pixel ``[n, L]``
            (after temperature).
        level: the level now in each image ``[n]`` (drawn, or kept where it was known).
        images: all images so far ``[n, H, W]`` (a copy; later pixels are still 0 or
            their known values).
    """

    row: int
    col: int
    probs: torch.Tensor
    level: torch.Tensor
    images: torch.Tensor

    @property
    def entropy(self) -> torch.Tensor:
        """Entropy of ``probs`` in bits ``[n]``: how unsure the model is at this pixel."""
        return entropy_bits(self.probs)


def entropy_bits(probs: torch.Tensor) -> torch.Tensor:
    """Entropy in bits along the last axis (0 log 0 = 0)."""
    p = probs.clamp_min(1e-12)
    return -(probs * torch.log2(p)).sum(-1)


def _prepare_start(
    model: Model, n: int, start: tuple[torch.Tensor, torch.Tensor] | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``[n, H, W]`` (long) and known mask ``[n, H, W]`` (bool) to start from."""
    cfg = model.config
    size, levels = cfg.image_size, cfg.levels
    if start is None:
        return torch.zeros(n, size, size, dtype=torch.long), torch.zeros(
            n, size, size, dtype=torch.bool
        )
    try:
        image, known = start
    except (TypeError, ValueError):
        raise ValueError("start must be None or a pair (image, known_mask).") from None
    image, known = torch.as_tensor(image), torch.as_tensor(known).bool()
    if image.shape[-2:] != (size, size) or known.shape[-2:] != (size, size):
        raise ValueError(
            f"start image and mask must be {size}x{size} for this model, got "
            f"{tuple(image.shape)} and {tuple(known.shape)}."
        )
    if image.dim() not in (2, 3) or known.dim() not in (2, 3):
        raise ValueError("start image and mask must be [H, W] or [n, H, W].")
    if image.is_floating_point():
        raise ValueError("start image must hold integer levels, not floats.")
    if image.numel() and (image.min() < 0 or image.max() >= levels):
        raise ValueError(f"start image levels must be in 0..{levels - 1}.")
    for t in (image, known):
        if t.dim() == 3 and t.shape[0] not in (1, n):
            raise ValueError(f"start holds {t.shape[0]} images but n={n}.")
    image = image.long().expand(n, size, size).clone()
    known = known.expand(n, size, size).clone()
    image[~known] = 0
    return image, known


@torch.no_grad()
def sample_pixels(
    model: Model,
    n: int = 16,
    start: tuple[torch.Tensor, torch.Tensor] | None = None,
    temperature: float = 1.0,
    seed: int = 0,
    fast: bool = True,
) -> Iterator[PixelStep]:
    """Generate ``n`` images pixel by pixel in raster order, yielding every drawn pixel.

    Args:
        model: a PixelCNN or GatedPixelCNN (put in eval mode for the duration).
        n: images in the batch.
        start: ``None`` for blank images, or ``(image, known_mask)`` (``[H, W]`` or
            ``[n, H, W]``): known pixels are kept, the others are filled in raster order.
        temperature: > 0; logits are divided by it (low = safer, high = wilder).
        seed: seeds a ``torch.Generator`` local to this call (reruns reproduce).
        fast: compute each layer once per pixel from cached features (exact);
            ``False`` runs one full forward per pixel. A model with masks disabled always
            uses the full forward.

    Yields:
        :class:`PixelStep` for every pixel that is unknown in at least one image.
    """
    if not 1 <= n <= 1024:
        raise ValueError(f"n must be in 1..1024, got {n!r}.")
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}.")
    cfg = model.config
    images, known = _prepare_start(model, n, start)
    gen = torch.Generator().manual_seed(int(seed))
    size = cfg.image_size
    was_training = model.training
    model.eval()
    cache = make_cache(model, images) if fast and cfg.masked else None
    try:
        for r in range(size):
            for c in range(size):
                if cache is not None:
                    logits = cache.logits(r, c)  # (n, L); computed at known pixels too
                if bool(known[:, r, c].all()):
                    if cache is not None:
                        cache.write(r, c, images[:, r, c])
                    continue
                if cache is None:
                    logits = model(images)[:, :, r, c]  # (n, L)
                probs = torch.softmax(logits.double() / temperature, dim=-1)  # (n, L)
                u = torch.rand(n, generator=gen, dtype=torch.float64)  # (n,)
                drawn = (u[:, None] > probs.cumsum(-1)).sum(-1).clamp(max=cfg.levels - 1)
                level = torch.where(known[:, r, c], images[:, r, c], drawn)
                images[:, r, c] = level
                if cache is not None:
                    cache.write(r, c, level)
                yield PixelStep(r, c, probs.float(), level, images.clone())
    finally:
        model.train(was_training)


def sample_images(model: Model, **kwargs) -> torch.Tensor:
    """Run :func:`sample_pixels` to the end and return the final images ``[n, H, W]``."""
    last = None
    for last in sample_pixels(model, **kwargs):  # noqa: B007
        pass
    if last is None:  # every pixel was known
        n = kwargs.get("n", 16)
        return _prepare_start(model, n, kwargs.get("start"))[0]
    return last.images
