"""A recorded pixel-by-pixel generation: starts, replay, resampling and export.

``sample_pixels`` yields one pixel at a time. The Generate pixels page wants more than
the last image: it replays the generation at any speed, scrubs back, shows the
distribution and entropy at every pixel, resamples from any pixel, and exports a PNG
and a GIF. ``GenerationRun`` records every step (thread-safe, so it can fill in from a
background thread while the page reads it) and answers those questions by step index.

Step ``s`` means "after ``s`` pixels were drawn": step 0 is the start image, step
``total`` the finished one. Known pixels of a partial start are never drawn, so
``total`` is the number of pixels unknown in at least one image of the batch.
No Streamlit, no plotly.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from autoreg.pixelcnn.models import GatedPixelCNN, PixelCNN
from autoreg.pixelcnn.receptive import receptive_field
from autoreg.pixelcnn.sampling import entropy_bits, sample_pixels

Model = PixelCNN | GatedPixelCNN
REGIONS = ("bottom half", "right half", "box")

EXPORT_MIN_SIDE = 512  # pixels: exported PNG/GIF grids are at least this wide
ORPHAN_GRACE_S = 10.0  # a run whose watcher is gone this long stops (start_background)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Start:
    """Where a generation starts: an image of levels and which pixels are given.

    Args:
        image: long ``[H, W]`` levels (unknown pixels hold 0).
        known: bool ``[H, W]``: given pixels, kept as they are.
    """

    image: torch.Tensor
    known: torch.Tensor

    @classmethod
    def blank(cls, size: int) -> Start:
        return cls(torch.zeros(size, size, dtype=torch.long), torch.zeros(size, size, dtype=bool))


def erase(image: torch.Tensor, region: str, box: tuple[int, int, int, int] | None = None) -> Start:
    """Keep ``image`` except ``region``: "bottom half", "right half" or "box".

    ``box`` is ``(row0, row1, col0, col1)``, inclusive, for ``region="box"``.
    """
    size = image.shape[-1]
    erased = torch.zeros(size, size, dtype=torch.bool)
    if region == "bottom half":
        erased[size // 2 :, :] = True
    elif region == "right half":
        erased[:, size // 2 :] = True
    elif region == "box":
        if box is None:
            raise ValueError("region='box' needs box=(row0, row1, col0, col1).")
        r0, r1, c0, c1 = box
        if not (0 <= r0 <= r1 < size and 0 <= c0 <= c1 < size):
            raise ValueError(f"box {box} does not fit a {size}x{size} image.")
        erased[r0 : r1 + 1, c0 : c1 + 1] = True
    else:
        raise ValueError(f"region must be one of {REGIONS}, got {region!r}.")
    image = image.long().clone()
    image[erased] = 0
    return Start(image, ~erased)


def drawn_start(pixels: torch.Tensor, levels: int, keep: str = "rows") -> Start:
    """A start from a drawing ``[H, W]`` in [0, 1] (0 = background, 1 = full ink).

    ``keep="rows"``: every pixel down to the last row with ink is given (ink and
    background), the rows below are generated. ``keep="ink"``: only inked pixels are given.
    """
    pixels = torch.as_tensor(pixels, dtype=torch.float32)
    if pixels.dim() != 2 or pixels.shape[0] != pixels.shape[1] or pixels.numel() == 0:
        raise ValueError(f"A drawing must be a square [H, W] grid, got {tuple(pixels.shape)}.")
    if not torch.isfinite(pixels).all():
        raise ValueError("A drawing must hold finite ink values in [0, 1] (found NaN or inf).")
    image = torch.clamp((pixels * levels).floor(), 0, levels - 1).long()  # same bins as quantise
    ink = pixels > 0
    if keep == "ink":
        known = ink
    elif keep == "rows":
        rows = torch.nonzero(ink.any(1))
        known = torch.zeros_like(ink)
        if len(rows):
            known[: int(rows.max()) + 1] = True
    else:
        raise ValueError(f"keep must be 'rows' or 'ink', got {keep!r}.")
    return Start(torch.where(known, image, 0), known)


class GenerationRun:
    """Every step of one ``sample_pixels`` call, recorded for replay.

    Args:
        model: the PixelCNN (inference only; it is never modified).
        n: images in the batch.
        start: a :class:`Start` (the same for every image) or ``None`` for blank.
        known / image: alternatively, per-image ``[n, H, W]`` starts (used by resampling).
        temperature, seed: passed to ``sample_pixels``.
    """

    def __init__(
        self,
        model: Model,
        n: int,
        start: Start | None = None,
        temperature: float = 1.0,
        seed: int = 0,
        image: torch.Tensor | None = None,
        known: torch.Tensor | None = None,
    ) -> None:
        size = model.config.image_size
        start = start or Start.blank(size)
        self.levels = model.config.levels
        self.image0 = (start.image if image is None else image).expand(n, size, size).clone()
        self.known = (start.known if known is None else known).expand(n, size, size).clone()
        self.image0[~self.known] = 0
        self.n, self.size, self.temperature, self.seed = n, size, temperature, seed
        order = [(r, c) for r in range(size) for c in range(size)]
        self.positions = [(r, c) for r, c in order if not bool(self.known[:, r, c].all())]
        self.total = len(self.positions)
        self._index = {p: i for i, p in enumerate(self.positions)}
        self._frames: list[torch.Tensor] = []  # uint8 (n, H, W) after each step
        self._probs: list[torch.Tensor] = []  # (n, L) at each step
        self._lock = threading.Lock()
        self._advance_lock = threading.Lock()  # one thread draws pixels at a time
        self._iter = sample_pixels(
            model, n=n, start=(self.image0, self.known), temperature=temperature, seed=seed
        )
        self.stop_event = threading.Event()
        self.error: str | None = None
        self.orphaned = False  # stopped because its session went away (start_background)
        self._thread: threading.Thread | None = None
        self._exports: dict[tuple, bytes] = {}

    # --- filling in -------------------------------------------------------------------
    @property
    def computed(self) -> int:
        return len(self._frames)

    @property
    def done(self) -> bool:
        return self.computed >= self.total

    @property
    def stopped(self) -> bool:
        return self.stop_event.is_set() and not self.done

    def advance(self, k: int) -> int:
        """Compute up to ``k`` more pixels in this thread; returns how many were added."""
        added = 0
        # The page's Step button and the background thread may both advance one run: a
        # generator cannot be resumed from two threads at once, so drawing is serialised.
        with self._advance_lock:
            while added < k and not self.done and not self.stop_event.is_set():
                step = next(self._iter)
                with self._lock:
                    self._frames.append(step.images.to(torch.uint8))
                    self._probs.append(step.probs)
                added += 1
        return added

    def _work(self, alive: Callable[[], bool] | None, grace: float) -> None:
        gone_since: float | None = None  # when ``alive`` first said no, in a row
        try:
            while not self.done and not self.stop_event.is_set():
                if alive is not None:
                    if alive():
                        gone_since = None
                    elif gone_since is None:
                        gone_since = time.monotonic()
                    elif time.monotonic() - gone_since > grace:
                        self.orphaned = True
                        self.stop_event.set()  # nobody will look at these pixels
                        log.warning(
                            "Stopped a pixel generation at %d of %d pixels: the browser "
                            "session that started it has been gone for %.0f s.",
                            self.computed,
                            self.total,
                            grace,
                        )
                        break
                self.advance(8)
                # Python's locks are not fair: without a pause this loop takes the lock
                # straight back, and a Step click waiting on it (advance from the page)
                # waited for the whole generation on a busy server
                time.sleep(0.001)
        except Exception as exc:  # surfaced on the page; a thread cannot raise into it
            self.error = f"{type(exc).__name__}: {exc}"

    def start_background(
        self, alive: Callable[[], bool] | None = None, grace: float = ORPHAN_GRACE_S
    ) -> None:
        """Fill in every pixel from a daemon thread (``stop()`` ends it early).

        ``alive`` says whether anyone still watches this run (the page passes "its
        browser session is connected"). When it has said no for ``grace`` seconds in a
        row, the thread stops and frees the model and its lock: a closed tab must not
        keep a core busy drawing a batch nobody sees, while a brief reconnect does not
        cost the user the run.
        """
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, args=(alive, grace), daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self.stop_event.set()

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    # --- reading back -------------------------------------------------------------------
    def clamp(self, step: int) -> int:
        return max(0, min(int(step), self.computed))

    def images_at(self, step: int) -> torch.Tensor:
        """Long ``[n, H, W]``: the batch after ``step`` pixels (step 0 = the start)."""
        step = self.clamp(step)
        with self._lock:
            return self.image0.clone() if step == 0 else self._frames[step - 1].long()

    def position(self, step: int) -> tuple[int, int] | None:
        """The pixel drawn at step ``step`` (1-based: the ``step``-th pixel), or None."""
        return self.positions[step - 1] if 1 <= step <= self.total else None

    def probs_at(self, step: int) -> torch.Tensor | None:
        """``[n, L]``: the predictive distribution of the ``step``-th pixel."""
        step = self.clamp(step)
        return self._probs[step - 1] if step >= 1 else None

    def step_of(self, row: int, col: int) -> int | None:
        """The step that draws pixel (row, col), or None for a pixel given in every image."""
        i = self._index.get((int(row), int(col)))
        return None if i is None else i + 1

    def entropy_map(self, step: int) -> torch.Tensor:
        """Float ``[n, H, W]``: entropy in bits of each pixel drawn so far; NaN elsewhere."""
        step = self.clamp(step)
        out = torch.full((self.n, self.size, self.size), float("nan"))
        if step:
            with self._lock:
                ent = entropy_bits(torch.stack(self._probs[:step]))  # (step, n)
            rows = torch.tensor([p[0] for p in self.positions[:step]])
            cols = torch.tensor([p[1] for p in self.positions[:step]])
            out[:, rows, cols] = ent.T
            out[self.known] = float("nan")  # given pixels were kept, not drawn
        return out

    def drawn_mask(self, step: int) -> torch.Tensor:
        """Bool ``[H, W]``: pixels drawn in the first ``step`` steps."""
        mask = torch.zeros(self.size, self.size, dtype=torch.bool)
        for r, c in self.positions[: self.clamp(step)]:
            mask[r, c] = True
        return mask

    def resample_from(self, step: int, model: Model, seed: int) -> GenerationRun:
        """A new run that keeps the batch as it is after ``step`` and redraws the rest."""
        known = self.known | self.drawn_mask(step)[None]  # (n, H, W)
        return GenerationRun(
            model, self.n, None, self.temperature, seed, image=self.images_at(step), known=known
        )

    # --- export ---------------------------------------------------------------------------
    def export_scale(self, scale: int = 8, min_side: int = EXPORT_MIN_SIDE) -> int:
        """``scale``, raised until the grid is at least ``min_side`` pixels wide: a batch of
        four 8x8 digits at scale 8 is a 129-pixel thumbnail, too small to project."""
        cols = int(np.ceil(np.sqrt(self.n)))
        return max(scale, int(np.ceil(min_side / (cols * self.size))))

    def png(self, step: int, scale: int = 8) -> bytes:
        """The batch after ``step`` as one PNG grid (grey levels, nearest-neighbour scaled)."""
        scale = self.export_scale(scale)
        key = ("png", self.clamp(step), scale)
        if key not in self._exports:
            self._exports[key] = _encode([tile(self.images_at(step), self.levels, scale)])
        return self._exports[key]

    def gif(self, scale: int = 8, max_frames: int = 120, ms: int = 60) -> bytes:
        """The generation so far as an animated GIF of the batch grid (at most ``max_frames``)."""
        scale = self.export_scale(scale)
        steps = np.unique(np.linspace(0, self.computed, min(max_frames, self.computed + 1)))
        key = ("gif", self.computed, scale, max_frames)
        if key not in self._exports:
            frames = [tile(self.images_at(int(s)), self.levels, scale) for s in steps]
            self._exports[key] = _encode(frames, ms)
        return self._exports[key]


class FieldStencil:
    """The receptive field of one pixel, measured once by autograd, shifted to any pixel.

    A convolution treats every position alike, so the field of (r, c) is the field of the
    centre of a large canvas moved to (r, c) and cut at the borders. One autograd call
    per model instead of one per pixel (tests check it against ``receptive_field``).
    """

    def __init__(self, model: Model) -> None:
        cfg = model.config
        self.up, self.side = cfg.vertical_reach, cfg.horizontal_reach
        canvas = 2 * max(self.up, self.side) + 3
        self.centre = canvas // 2
        self.field = receptive_field(model, self.centre, self.centre, canvas)  # (S, S)

    def at(self, row: int, col: int, size: int) -> torch.Tensor:
        """Bool ``[size, size]``: the pixels that reach (row, col)."""
        pad = self.centre
        big = torch.zeros(size + 2 * pad, size + 2 * pad, dtype=torch.bool)
        s = self.field.shape[0]
        big[row : row + s, col : col + s] = self.field  # centre lands on (row+pad, col+pad)
        return big[pad : pad + size, pad : pad + size]


def tile(images: torch.Tensor, levels: int, scale: int = 8, gap: int = 1) -> np.ndarray:
    """Uint8 grey ``[rows*(H*scale+gap), ...]``: the batch laid out on a near-square grid."""
    n, h, w = images.shape
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    grey = (images.float() * (255 / max(1, levels - 1))).to(torch.uint8).numpy()  # (n, H, W)
    hs, ws = h * scale, w * scale
    out = np.full((rows * (hs + gap) - gap, cols * (ws + gap) - gap), 128, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        big = grey[i].repeat(scale, 0).repeat(scale, 1)
        out[r * (hs + gap) : r * (hs + gap) + hs, c * (ws + gap) : c * (ws + gap) + ws] = big
    return out


def _encode(frames: list[np.ndarray], ms: int = 60) -> bytes:
    from PIL import Image

    images = [Image.fromarray(f, mode="L") for f in frames]
    buf = io.BytesIO()
    if len(images) == 1:
        images[0].save(buf, format="PNG")
    else:
        images[0].save(
            buf, format="GIF", save_all=True, append_images=images[1:], duration=ms, loop=0
        )
    return buf.getvalue()
