"""Building blocks of PixelCNN and Gated PixelCNN: masked convolutions and their blocks.

References:
    van den Oord, Kalchbrenner, Kavukcuoglu, "Pixel Recurrent Neural Networks" (2016),
    section 3.4 (masks A and B); van den Oord et al., "Conditional Image Generation with
    PixelCNN Decoders" (2016), section 2 (gated layer, vertical and horizontal stacks);
    Foster, *Generative Deep Learning* (2nd ed.), chapter 5 (residual block).

A PixelCNN predicts pixel (i, j) from the pixels before it in raster order (rows above,
and the pixels to the left in the same row). A convolution sees a square window, so its
kernel is multiplied by a fixed 0/1 mask that zeroes every tap at or after the centre.
The mask is a buffer, applied on every forward as ``weight * mask``: the parameters are
never modified, so an optimiser step can never leak the future into the model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MASK_TYPES = ("A", "B")


def causal_mask(kernel_size: int, mask_type: str, enabled: bool = True) -> torch.Tensor:
    """The 0/1 mask ``[k, k]`` of a masked convolution (see :class:`MaskedConv2d`)."""
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd number, got {kernel_size!r}.")
    if mask_type not in MASK_TYPES:
        raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}.")
    mask = torch.ones(kernel_size, kernel_size)
    if not enabled:
        return mask
    c = kernel_size // 2
    mask[c, c + (mask_type == "B") :] = 0  # centre row: A hides the centre, B keeps it
    mask[c + 1 :, :] = 0  # every row below the centre
    return mask


class MaskedConv2d(nn.Conv2d):
    """A same-size 2-D convolution whose kernel only sees earlier pixels in raster order.

    The kernel is multiplied by a mask (5x5 shown; ``x`` = 1, ``.`` = 0)::

        mask A          mask B
        x x x x x       x x x x x
        x x x x x       x x x x x
        x x . . .       x x x . .      <- centre row: A hides the centre, B keeps it
        . . . . .       . . . . .
        . . . . .       . . . . .

    Mask A is for the first layer (its output at a pixel must not see that pixel's own
    value); mask B is for all later layers (the centre feature there already depends
    only on earlier pixels). These are the paper's names.

    Args:
        in_channels: input feature maps.
        out_channels: output feature maps.
        kernel_size: odd window size k (padding k//2 keeps the image size).
        mask_type: ``"A"`` (centre excluded) or ``"B"`` (centre included).
        masked: ``False`` builds an all-ones mask, a plain convolution that sees the future
            (for the "disable the mask" demo only).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        mask_type: str = "B",
        masked: bool = True,
        bias: bool = True,
    ) -> None:
        mask = causal_mask(kernel_size, mask_type, enabled=masked)
        super().__init__(
            in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias
        )
        self.mask_type = mask_type
        # Not persistent: a mask follows from the config, so checkpoints hold weights only
        # and a trained model can be rebuilt with its masks disabled.
        self.register_buffer("mask", mask[None, None].clone(), persistent=False)  # (1,1,k,k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", mask_type={self.mask_type}"


class ResidualBlock(nn.Module):
    """The book's residual block: 1x1 -> 3x3 mask B -> 1x1 at half width, plus the input.

    ``forward(x) = x + net(x)``; the residual is added here and nowhere else (a model
    that also adds ``x`` outside would compute ``2x + net(x)``).

    Args:
        channels: feature maps in and out (the inside uses ``channels // 2``).
        kernel_size: the masked middle convolution's size.
        masked: pass ``False`` to disable the mask (demo only).
    """

    def __init__(self, channels: int, kernel_size: int = 3, masked: bool = True) -> None:
        super().__init__()
        half = max(1, channels // 2)
        self.net = nn.Sequential(
            MaskedConv2d(channels, half, 1, "B", masked),
            nn.ReLU(),
            MaskedConv2d(half, half, kernel_size, "B", masked),
            nn.ReLU(),
            MaskedConv2d(half, channels, 1, "B", masked),
            nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


def _shift_down(x: torch.Tensor) -> torch.Tensor:
    """Move feature maps one row down (zero row on top): row i now holds row i-1."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1, :]  # (B, C, H, W)


class GatedLayer(nn.Module):
    """One Gated PixelCNN layer: a vertical and a horizontal stack with tanh·σ gates.

    The vertical stack sees every row at or above the current one (a kxk kernel with the
    rows below masked out); shifted one row down it feeds the horizontal stack, which
    sees the current row to the left (a 1xk kernel, mask A or B on the centre). Together
    they cover everything above and to the left: no blind spot. Information flows only
    vertical -> horizontal; the reverse would let the vertical stack see the current row.

    ``v' = tanh(Wv*v) ⊙ σ(Gv*v)``;
    ``h' = h + 1x1(tanh(Wh*h + L·shift(Wv*v)) ⊙ σ(Gh*h + L·shift(Gv*v)))``
    (the residual ``h +`` only when ``residual`` is true, i.e. after the first layer).

    Args:
        in_channels / channels: feature maps in and out of both stacks.
        kernel_size: odd k of the kxk vertical and 1xk horizontal kernels.
        mask_type: ``"A"`` for the first layer (horizontal hides the centre), else ``"B"``.
        residual: add the horizontal input to its output (needs in == out channels).
        masked: ``False`` disables the masks (demo only).
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        kernel_size: int = 3,
        mask_type: str = "B",
        residual: bool = True,
        masked: bool = True,
    ) -> None:
        super().__init__()
        if residual and in_channels != channels:
            raise ValueError("A residual gated layer needs in_channels == channels.")
        k = kernel_size
        self.residual = residual
        self.v_conv = nn.Conv2d(in_channels, 2 * channels, k, padding=k // 2)
        self.h_conv = nn.Conv2d(in_channels, 2 * channels, (1, k), padding=(0, k // 2))
        self.link = nn.Conv2d(2 * channels, 2 * channels, 1)  # vertical -> horizontal
        self.h_out = nn.Conv2d(channels, channels, 1)
        v_mask = causal_mask(k, "B", enabled=masked)
        v_mask[k // 2, :] = 1  # the whole centre row: made causal by the shift below
        h_mask = causal_mask(k, mask_type, enabled=masked)[k // 2 : k // 2 + 1]  # (1, k)
        self.register_buffer("v_mask", v_mask[None, None].clone(), persistent=False)
        self.register_buffer("h_mask", h_mask[None, None].clone(), persistent=False)
        self.shift = masked

    @staticmethod
    def _gate(x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)  # (B, C, H, W) each
        return torch.tanh(a) * torch.sigmoid(b)

    def forward(self, v: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v_pre = F.conv2d(v, self.v_conv.weight * self.v_mask, self.v_conv.bias, padding="same")
        h_pre = F.conv2d(h, self.h_conv.weight * self.h_mask, self.h_conv.bias, padding="same")
        to_h = _shift_down(v_pre) if self.shift else v_pre
        h_new = self.h_out(self._gate(h_pre + self.link(to_h)))
        return self._gate(v_pre), (h + h_new if self.residual else h_new)
