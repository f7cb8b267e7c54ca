"""Exact incremental evaluation of a PixelCNN: every layer computed once per pixel.

Sampling draws pixel q from the logits at q, writes it, and moves to the next pixel.
Done naively that is one forward of the whole image per pixel, although almost nothing
changed. The masks say exactly what did not: every feature at position q depends only
on the input pixels before q (mask A in the first layer, mask B after it). Once those
are drawn, each layer's feature at q is final. So each layer is computed at q once,
reading the features it needs from caches of earlier positions. That is a few small
matrix products per pixel instead of a forward over the image. The idea is
Ramachandran et al., "Fast Generation for Convolutional Autoregressive Models" (2017).

A layer with a k x k kernel reads only the current row and the k//2 rows above it, so
each layer's cache keeps just those k//2 + 1 rows (``_RowWindow``): feature memory grows
with depth and width, not with the image height (the one-channel input image is kept
whole). The caches hold zeros where the convolutions pad with zeros, and
the same weights (times their masks), so the logits equal the full forward's up to float
rounding. ``tests/unit/test_pixel_sampling.py`` checks that at every pixel.

Gated PixelCNN: its vertical stack at row r reads all of row r (its kernel's centre row
is unmasked) and is made causal by shifting it one row down before the horizontal stack
reads it. So the vertical stack is computed a row at a time, once a row is complete, and
the horizontal stack of row r reads the vertical features of row r - 1.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from autoreg.pixelcnn.layers import GatedLayer
from autoreg.pixelcnn.models import GatedPixelCNN, PixelCNN


def _taps(conv: nn.Conv2d, mask: torch.Tensor, rows: int) -> torch.Tensor:
    """A masked kernel's top ``rows`` rows as a matrix ``[out, in * rows * k]``.

    In a masked model the rows below a kernel's centre are zero in every layer, so they
    are dropped: the cache windows start ``rows - 1`` rows above the output row. (An
    unmasked model has no incremental form; ``make_cache`` refuses it.)
    """
    w = (conv.weight * mask)[:, :, :rows, :]  # (out, in, rows, k)
    return w.reshape(w.shape[0], -1)


def _pointwise(conv: nn.Conv2d) -> torch.Tensor:
    """A 1x1 convolution's weight as a matrix ``[out, in]`` (its mask B is all ones)."""
    return conv.weight[:, :, 0, 0]


class _RowWindow:
    """The latest ``rows`` rows of a feature map, zero-padded by ``pad`` columns a side.

    A layer with a k x k kernel reads only rows r - k//2 .. r, so keeping those rows
    (not the whole map) bounds the cache at ``n * C * rows * W`` per layer, whatever the
    image height. Rows above the image start as zeros, as the convolution pads them.
    """

    def __init__(self, n: int, channels: int, rows: int, width: int, pad: int) -> None:
        self.t = torch.zeros(n, channels, rows, width + 2 * pad)
        self.pad = pad

    def next_row(self) -> None:
        """Move every row up one; the new last row (the current image row) is zeros."""
        self.t[:, :, :-1] = self.t[:, :, 1:].clone()
        self.t[:, :, -1] = 0

    def write(self, col: int, value: torch.Tensor) -> None:
        """Set the current row at column ``col`` to ``value`` ``[n, C]``."""
        self.t[:, :, -1, col + self.pad] = value

    def window(self, col: int) -> torch.Tensor:
        """Every kept row, columns ``col - pad .. col + pad``, flattened ``[n, C*rows*k]``."""
        w = self.t[:, :, :, col : col + 2 * self.pad + 1]
        return w.reshape(len(w), -1)


class _BlockCache(NamedTuple):
    """One residual block's weights as matrices, and the rows its 3x3 conv reads."""

    into: tuple[torch.Tensor, torch.Tensor]  # 1x1, C -> C/2: (weight, bias)
    mid: tuple[torch.Tensor, torch.Tensor]  # masked kxk, C/2 -> C/2, top rows only
    out: tuple[torch.Tensor, torch.Tensor]  # 1x1, C/2 -> C
    rows: _RowWindow  # the mid conv's input, (n, C/2, k//2 + 1, W + 2 * (k//2))


_gate = GatedLayer._gate  # tanh(a) * sigmoid(b) over the two channel halves


class PixelCNNCache:
    """Step a :class:`PixelCNN` through pixels in raster order, one position at a time.

    Call :meth:`logits` at every position in raster order (known pixels included: their
    features feed later positions), then :meth:`write` the level that position holds.

    Args:
        model: a masked PixelCNN (eval mode, no autograd: the caller's business).
        images: the starting images ``[n, H, W]`` (long levels; unknown pixels 0). Only
            pixels before the current position are ever read.
    """

    def __init__(self, model: PixelCNN, images: torch.Tensor) -> None:
        cfg = model.config
        n, size, _ = images.shape
        self.levels = cfg.levels
        self.p0 = p0 = cfg.first_kernel // 2
        # the input, scaled as the model scales it (level / (L-1)) and zero-padded as the
        # first conv pads: p0 rows on top, p0 columns a side
        self.image = F.pad(images.float()[:, None] / (cfg.levels - 1), (p0, p0, p0, 0))
        self.first = (_taps(model.first, model.first.mask, p0 + 1), model.first.bias)
        self.p = p = cfg.kernel // 2
        self.blocks = []
        for block in model.blocks:
            into, mid, out = block.net[0], block.net[2], block.net[4]
            self.blocks.append(
                _BlockCache(
                    into=(_pointwise(into), into.bias),
                    mid=(_taps(mid, mid.mask, p + 1), mid.bias),
                    out=(_pointwise(out), out.bias),
                    rows=_RowWindow(n, mid.in_channels, p + 1, size, p),
                )
            )
        self.head = [(_pointwise(conv), conv.bias) for conv in model.head]
        self.out = (_pointwise(model.out), model.out.bias)

    def logits(self, r: int, c: int) -> torch.Tensor:
        """Logits ``[n, L]`` at (r, c); every pixel before it must have been written.

        This also fills the caches at (r, c), so call it exactly once per position, in
        raster order, known pixels included (later positions read their features).
        """
        p0 = self.p0
        window = self.image[:, :, r : r + p0 + 1, c : c + 2 * p0 + 1]  # rows r-p0..r
        x = F.relu(F.linear(window.reshape(len(window), -1), *self.first))  # (n, C)
        for block in self.blocks:
            if c == 0:
                block.rows.next_row()
            block.rows.write(c, F.relu(F.linear(x, *block.into)))  # (n, C/2)
            inner = F.relu(F.linear(block.rows.window(c), *block.mid))
            x = x + F.relu(F.linear(inner, *block.out))  # the block's residual
        for head in self.head:
            x = F.relu(F.linear(x, *head))
        return F.linear(x, *self.out)  # (n, L)

    def write(self, r: int, c: int, level: torch.Tensor) -> None:
        """Record the level now at (r, c) in every image ``[n]``."""
        self.image[:, 0, r + self.p0, c + self.p0] = level.float() / (self.levels - 1)


class GatedPixelCNNCache:
    """Step a :class:`GatedPixelCNN` through pixels in raster order (see the module doc).

    Same contract as :class:`PixelCNNCache`.
    """

    def __init__(self, model: GatedPixelCNN, images: torch.Tensor) -> None:
        cfg = model.config
        n, self.size, _ = images.shape
        self.levels = cfg.levels
        self.layers: list[GatedLayer] = [model.first, *model.layers]
        kernels = [cfg.first_kernel] + [cfg.kernel] * cfg.n_blocks
        self.pads = [k // 2 for k in kernels]
        # the image, zero-padded as the first layer pads it; both of its stacks read it
        p0 = self.pads[0]
        self.image = F.pad(images.float()[:, None] / (cfg.levels - 1), (p0, p0, p0, 0))
        # the later layers' inputs: vertical (the rows their kernel reads), and horizontal
        # (the current row)
        p, ch = cfg.kernel // 2, cfg.channels
        self.v_in = [None] + [_RowWindow(n, ch, p + 1, self.size, p) for _ in self.layers[1:]]
        self.h_in = [None] + [_RowWindow(n, ch, 1, self.size, p) for _ in self.layers[1:]]
        self.v_taps = [
            (_taps(layer.v_conv, layer.v_mask, p + 1), layer.v_conv.bias)
            for layer, p in zip(self.layers, self.pads, strict=True)
        ]
        self.h_taps = [
            (_taps(layer.h_conv, layer.h_mask, 1), layer.h_conv.bias) for layer in self.layers
        ]
        self.h_out = [(_pointwise(layer.h_out), layer.h_out.bias) for layer in self.layers]
        # the vertical stack's contribution to row r's horizontal stack, per layer:
        # link(v_pre of row r - 1), which for row 0 is link(0) = the link's bias
        self.link_row = [
            layer.link.bias[None, :, None].expand(n, -1, self.size).clone() for layer in self.layers
        ]
        self.head = [(_pointwise(conv), conv.bias) for conv in model.head]
        self.out = (_pointwise(model.out), model.out.bias)

    def logits(self, r: int, c: int) -> torch.Tensor:
        """Logits ``[n, L]`` at (r, c): once per position, in raster order (as above)."""
        h = None
        for i, layer in enumerate(self.layers):
            if i == 0:  # the image row r, columns c - p0 .. c + p0
                row = self.image[:, :, r + self.pads[0], c : c + 2 * self.pads[0] + 1]
                row = row.reshape(len(row), -1)  # (n, k)
            else:
                if c == 0:
                    self.h_in[i].next_row()
                self.h_in[i].write(c, h)
                row = self.h_in[i].window(c)  # (n, C * k)
            pre = F.linear(row, *self.h_taps[i])  # (n, 2C)
            gated = _gate(pre + self.link_row[i][:, :, c])  # (n, C)
            h_new = F.linear(gated, *self.h_out[i])
            h = h + h_new if layer.residual else h_new
        x = F.relu(h) if self.head else h  # as GatedPixelCNN.features: relu feeds the head
        for head in self.head:
            x = F.relu(F.linear(x, *head))
        return F.linear(x, *self.out)  # (n, L)

    def write(self, r: int, c: int, level: torch.Tensor) -> None:
        """Record the level at (r, c); the last pixel of a row runs the vertical stack."""
        p0 = self.pads[0]
        self.image[:, 0, r + p0, c + p0] = level.float() / (self.levels - 1)
        if c == self.size - 1:
            self._vertical_row(r)

    def _vertical_row(self, r: int) -> None:
        """Vertical stack of every layer at row r, now that the row is complete."""
        for i, layer in enumerate(self.layers):
            p = self.pads[i]
            w, b = self.v_taps[i]
            rows = self.image[:, :, r : r + p + 1] if i == 0 else self.v_in[i].t
            kernel = w.reshape(w.shape[0], -1, p + 1, 2 * p + 1)  # (2C, C_in, p+1, k)
            pre = F.conv2d(rows, kernel, b)[:, :, 0, :]  # (n, 2C, W): row r
            self.link_row[i] = F.conv1d(pre, layer.link.weight[:, :, 0], layer.link.bias)
            if i + 1 < len(self.layers):
                nxt = self.v_in[i + 1]
                nxt.next_row()
                nxt.t[:, :, -1, nxt.pad : nxt.pad + self.size] = _gate(pre)


def make_cache(
    model: PixelCNN | GatedPixelCNN, images: torch.Tensor
) -> PixelCNNCache | GatedPixelCNNCache:
    """The incremental evaluator for ``model`` (masked models only), started at ``images``."""
    if not model.config.masked:
        raise ValueError("An unmasked model sees the future: it has no incremental form.")
    if isinstance(model, GatedPixelCNN):
        return GatedPixelCNNCache(model, images)
    return PixelCNNCache(model, images)
