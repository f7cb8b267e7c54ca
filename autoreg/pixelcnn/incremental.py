"""Exact incremental evaluation of a PixelCNN: every layer computed once per pixel.

Sampling draws pixel q from the logits at q, writes it, and moves to the next pixel.
Done naively that is one forward of the whole image per pixel, although almost nothing
changed. The masks say exactly what did not: every feature at position q depends only
on the input pixels before q (mask A in the first layer, mask B after it). Once those
are drawn, each layer's feature at q is final. So each layer is computed at q once,
reading the features it needs from caches of earlier positions. That is a few small
matrix products per pixel instead of a forward over the image. The idea is
Ramachandran et al., "Fast Generation for Convolutional Autoregressive Models" (2017).

The caches hold zero padding where the convolutions pad with zeros, and they hold the
same weights (times their masks), so the logits equal the full forward's up to float
rounding. ``tests/unit/test_pixel_sampling.py`` checks that at every pixel.

Gated PixelCNN: its vertical stack at row r reads all of row r (its kernel's centre row
is unmasked) and is made causal by shifting it one row down before the horizontal stack
reads it. So the vertical stack is computed a row at a time, once a row is complete, and
the horizontal stack of row r reads the vertical features of row r - 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from autoreg.pixelcnn.layers import GatedLayer
from autoreg.pixelcnn.models import GatedPixelCNN, PixelCNN


def _taps(conv: nn.Conv2d, mask: torch.Tensor, rows: int) -> torch.Tensor:
    """A masked kernel's top ``rows`` rows as a matrix ``[out, in * rows * k]``.

    The rows below a kernel's centre are masked in every PixelCNN layer, so they are
    dropped: the cache windows start ``rows - 1`` rows above the output row.
    """
    w = (conv.weight * mask)[:, :, :rows, :]  # (out, in, rows, k)
    return w.reshape(w.shape[0], -1)


def _pointwise(conv: nn.Conv2d) -> torch.Tensor:
    """A 1x1 convolution's weight as a matrix ``[out, in]`` (its mask B is all ones)."""
    return conv.weight[:, :, 0, 0]


def _gate(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=1)  # (n, C) each
    return torch.tanh(a) * torch.sigmoid(b)


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
        self.scale = 1.0 / (cfg.levels - 1)
        self.p0 = p0 = cfg.first_kernel // 2
        # the input, zero-padded as the first conv pads: p0 rows on top, p0 columns a side
        self.image = F.pad(images.float()[:, None] * self.scale, (p0, p0, p0, 0))
        self.first = (_taps(model.first, model.first.mask, p0 + 1), model.first.bias)
        self.p = p = cfg.kernel // 2
        self.blocks = []
        for block in model.blocks:
            into, mid, out = block.net[0], block.net[2], block.net[4]
            buf = torch.zeros(n, mid.in_channels, size + p, size + 2 * p)  # (n, C/2, ...)
            self.blocks.append(
                (
                    (_pointwise(into), into.bias),
                    (_taps(mid, mid.mask, p + 1), mid.bias),
                    (_pointwise(out), out.bias),
                    buf,
                )
            )
        self.head = [(_pointwise(conv), conv.bias) for conv in model.head]
        self.out = (_pointwise(model.out), model.out.bias)

    def logits(self, r: int, c: int) -> torch.Tensor:
        """Logits ``[n, L]`` at (r, c); every pixel before it must have been written."""
        p0, p = self.p0, self.p
        window = self.image[:, :, r : r + p0 + 1, c : c + 2 * p0 + 1]  # rows r-p0..r
        x = F.relu(F.linear(window.reshape(len(window), -1), *self.first))  # (n, C)
        for into, mid, out, buf in self.blocks:
            buf[:, :, r + p, c + p] = F.relu(F.linear(x, *into))  # (n, C/2)
            window = buf[:, :, r : r + p + 1, c : c + 2 * p + 1]
            inner = F.relu(F.linear(window.reshape(len(window), -1), *mid))
            x = x + F.relu(F.linear(inner, *out))  # the block's residual
        for head in self.head:
            x = F.relu(F.linear(x, *head))
        return F.linear(x, *self.out)  # (n, L)

    def write(self, r: int, c: int, level: torch.Tensor) -> None:
        """Record the level now at (r, c) in every image ``[n]``."""
        self.image[:, 0, r + self.p0, c + self.p0] = level.float() * self.scale


class GatedPixelCNNCache:
    """Step a :class:`GatedPixelCNN` through pixels in raster order (see the module doc).

    Same contract as :class:`PixelCNNCache`.
    """

    def __init__(self, model: GatedPixelCNN, images: torch.Tensor) -> None:
        cfg = model.config
        n, self.size, _ = images.shape
        self.scale = 1.0 / (cfg.levels - 1)
        self.layers: list[GatedLayer] = [model.first, *model.layers]
        kernels = [cfg.first_kernel] + [cfg.kernel] * cfg.n_blocks
        self.pads = [k // 2 for k in kernels]
        channels = [1] + [cfg.channels] * cfg.n_blocks  # each layer's input channels
        # vertical-stack inputs: rows above zero-padded, columns zero-padded both sides;
        # the first holds the image itself
        self.v_in = [
            torch.zeros(n, ch, self.size + p, self.size + 2 * p)
            for ch, p in zip(channels, self.pads, strict=True)
        ]
        p0 = self.pads[0]
        self.v_in[0][:, 0, p0:, p0 : p0 + self.size] = images.float() * self.scale
        # horizontal-stack inputs of the current row (layer 0 reads the image row)
        self.h_in = [None] + [
            torch.zeros(n, ch, self.size + 2 * p)
            for ch, p in zip(channels[1:], self.pads[1:], strict=True)
        ]
        self.v_taps = [
            (_taps(layer.v_conv, layer.v_mask, p + 1), layer.v_conv.bias)
            for layer, p in zip(self.layers, self.pads, strict=True)
        ]
        self.h_taps = [
            (_taps(layer.h_conv, layer.h_mask, 1), layer.h_conv.bias) for layer in self.layers
        ]
        # the vertical stack's contribution to row r's horizontal stack, per layer:
        # link(v_pre of row r - 1), which for row 0 is link(0) = the link's bias
        self.link_row = [
            layer.link.bias[None, :, None].expand(n, -1, self.size).clone() for layer in self.layers
        ]
        self.head = [(_pointwise(conv), conv.bias) for conv in model.head]
        self.out = (_pointwise(model.out), model.out.bias)

    def logits(self, r: int, c: int) -> torch.Tensor:
        """Logits ``[n, L]`` at (r, c); every pixel before it must have been written."""
        h = None
        for i, layer in enumerate(self.layers):
            p = self.pads[i]
            if i == 0:
                row = self.v_in[0][:, :, r + p, c : c + 2 * p + 1]  # (n, 1, k) image row r
            else:
                self.h_in[i][:, :, c + p] = h
                row = self.h_in[i][:, :, c : c + 2 * p + 1]  # (n, C, k)
            pre = F.linear(row.reshape(len(row), -1), *self.h_taps[i])  # (n, 2C)
            gated = _gate(pre + self.link_row[i][:, :, c])  # (n, C)
            h_new = F.linear(gated, _pointwise(layer.h_out), layer.h_out.bias)
            h = h + h_new if layer.residual else h_new
        x = F.relu(h) if self.head else h  # as GatedPixelCNN.features: relu feeds the head
        for head in self.head:
            x = F.relu(F.linear(x, *head))
        return F.linear(x, *self.out)  # (n, L)

    def write(self, r: int, c: int, level: torch.Tensor) -> None:
        """Record the level at (r, c); the last pixel of a row runs the vertical stack."""
        p0 = self.pads[0]
        self.v_in[0][:, 0, r + p0, c + p0] = level.float() * self.scale
        if c == self.size - 1:
            self._vertical_row(r)

    def _vertical_row(self, r: int) -> None:
        """Vertical stack of every layer at row r, now that the row is complete."""
        for i, layer in enumerate(self.layers):
            p = self.pads[i]
            w, b = self.v_taps[i]
            rows = self.v_in[i][:, :, r : r + p + 1, :]  # (n, C_in, p+1, W+2p): rows r-p..r
            kernel = w.reshape(w.shape[0], -1, p + 1, 2 * p + 1)
            pre = F.conv2d(rows, kernel, b)[:, :, 0, :]  # (n, 2C, W)
            self.link_row[i] = F.conv1d(pre, layer.link.weight[:, :, 0], layer.link.bias)
            if i + 1 < len(self.layers):
                q = self.pads[i + 1]
                self.v_in[i + 1][:, :, r + q, q : q + self.size] = _gate(pre)


def make_cache(
    model: PixelCNN | GatedPixelCNN, images: torch.Tensor
) -> PixelCNNCache | GatedPixelCNNCache:
    """The incremental evaluator for ``model`` (masked models only), started at ``images``."""
    if not model.config.masked:
        raise ValueError("An unmasked model sees the future: it has no incremental form.")
    if isinstance(model, GatedPixelCNN):
        return GatedPixelCNNCache(model, images)
    return PixelCNNCache(model, images)
