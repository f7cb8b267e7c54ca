"""A recorded pixel-by-pixel generation packed for the in-browser player.

The Generate pixels page samples on the server (``GenerationRun``: a background thread
draws one pixel of every image of the batch at a time). Replaying it, scrubbing back
and forth, pausing on a pixel, is a cursor over what is already drawn, so the record
goes to the browser (``autoreg.ui.player``, view ``static/pixels.js``) and every frame
is drawn there: the image so far, the current pixel's distribution over the levels, the
receptive-field tint of that pixel, the entropy map and the batch grid.

What is sent is what the sampler computed, nothing rounded:

    pos (total, 2) i2        the raster order of the pixels to draw (row, col)
    image0, known (n, H, W)  the start and which pixels it gives (kept, never drawn)
    final (n, H, W) i2       the batch after the last computed step: each pixel's drawn
                             level (a pixel is drawn once, so the image at step s is
                             image0 with the first s positions taken from final)
    probs (S, n, L) f4       the predictive distribution of the s-th pixel, as sampled
    entropy (S, n) f4        its entropy in bits (``sampling.entropy_bits``, float32)
    field (F, F) i2          the receptive-field stencil (``FieldStencil``): the field of
                             (r, c) is the stencil moved so its centre lands on (r, c)

S is the number of pixels computed so far: a payload can be sent while the generation
is still running, and again, larger, under the same id (the browser keeps its cursor).
``raster_payload`` packs the Masks page's raster order (one image, revealed in order).
No Streamlit, no plotly.
"""

from __future__ import annotations

import numpy as np
import torch

from autoreg.pixelcnn.generation import FieldStencil, GenerationRun
from autoreg.pixelcnn.sampling import entropy_bits
from autoreg.seq.payload import _digest, pack


def level_names(levels: int) -> list[str]:
    """``"0 black"``, ``"3 white"`` and plain numbers in between."""
    return [
        "0 black" if i == 0 else f"{i} white" if i == levels - 1 else str(i) for i in range(levels)
    ]


def run_id(run: GenerationRun) -> str:
    """A short id for one generation: the same run keeps it as it fills in.

    ``run.uid`` (set by whoever starts runs) tells apart two runs with the same settings.
    """
    uid = getattr(run, "uid", None) or id(run)
    return _digest("pixels", uid, run.seed, run.temperature, run.n, run.image0.numpy())


def replay_payload(
    run: GenerationRun,
    stencil: FieldStencil,
    *,
    model: str = "",
    upto: int | None = None,
) -> bytes:
    """The first ``upto`` computed pixels of ``run`` (all computed ones by default).

    Args:
        run: the generation (it may still be running; only computed steps are read).
        stencil: the model's receptive-field stencil.
        model: the model's name, for captions.
        upto: how many steps to include (clamped to what is computed).
    """
    computed = run.computed if upto is None else max(0, min(int(upto), run.computed))
    n, size, levels = run.n, run.size, run.levels
    probs = [run.probs_at(s) for s in range(1, computed + 1)]
    p = torch.stack(probs).float() if probs else torch.zeros(0, n, levels)  # (S, n, L)
    field = stencil.field.numpy().astype(np.int16)
    meta = {
        "view": "pixels",
        "id": run_id(run),
        "n_steps": computed + 1,  # step 0 is the start
        "computed": computed,
        "total": run.total,
        "done": computed >= run.total,
        "stopped": bool(run.stopped) and computed >= run.computed,
        "n": n,
        "size": size,
        "levels": levels,
        "level_names": level_names(levels),
        "temperature": f"{run.temperature:g}",
        "seed": int(run.seed),
        "model": model,
        "centre": int(stencil.centre),
        "max_bits": float(np.log2(levels)),
    }
    arrays = {
        "pos": np.asarray(run.positions, dtype=np.int16).reshape(-1, 2),
        "image0": run.image0.numpy().astype(np.int16),
        "known": run.known.numpy().astype(np.int16),
        "final": run.images_at(computed).numpy().astype(np.int16),
        "probs": p.numpy().astype(np.float32),
        "entropy": entropy_bits(p).numpy().astype(np.float32),
        "field": field,
    }
    return pack(meta, arrays)


def raster_payload(image: torch.Tensor, levels: int) -> bytes:
    """The Masks page's raster order: one image revealed pixel by pixel (step s shows the
    first s pixels; the next one is the pixel predicted from them)."""
    img = torch.as_tensor(image).long()
    if img.dim() != 2 or img.shape[0] != img.shape[1]:
        raise ValueError(f"A square [H, W] image is needed, got {tuple(img.shape)}.")
    size = int(img.shape[0])
    meta = {
        "view": "masks",
        "id": _digest("raster", img.numpy(), levels),
        "n_steps": size * size + 1,
        "size": size,
        "levels": int(levels),
        "level_names": level_names(int(levels)),
    }
    return pack(meta, {"image": img.numpy().astype(np.int16)})
