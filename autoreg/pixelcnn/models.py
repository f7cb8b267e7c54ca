"""PixelCNN and Gated PixelCNN over L intensity levels, built from one frozen config.

References:
    van den Oord et al., "Pixel Recurrent Neural Networks" (2016) and "Conditional Image
    Generation with PixelCNN Decoders" (2016); Foster, *Generative Deep Learning* (2nd ed.),
    chapter 5, whose PixelCNN is the default here: 16x16 images, 4 levels, a 7x7 mask-A
    convolution, 5 residual blocks (1x1 -> 3x3 mask B -> 1x1 at half width), two 1x1
    mask-B convolutions and a softmax over the levels.

Both models share one contract: ``forward(x)`` takes images ``[B, H, W]`` (integer levels
``0 .. L-1``, or floats already scaled to [0, 1], which is what autograd probes use) and
returns logits ``[B, L, H, W]``: at every pixel, a distribution over its L levels given
the pixels before it in raster order.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from autoreg.checkpoints import Checkpoint, load_state_strict
from autoreg.pixelcnn.layers import GatedLayer, MaskedConv2d, ResidualBlock

KINDS = ("pixelcnn", "gated")


@dataclass(frozen=True)
class PixelCNNConfig:
    """Everything needed to rebuild a PixelCNN; saved in the checkpoint card.

    Args:
        kind: ``"pixelcnn"`` (residual blocks, has a blind spot) or ``"gated"``.
        image_size: side length H = W of the images.
        levels: intensity levels L (softmax size); 2 = binarised.
        channels: feature maps (the book uses 128).
        n_blocks: residual blocks (pixelcnn) or gated layers after the first (gated).
        first_kernel: odd size of the first, mask-A convolution.
        kernel: odd size of the later mask-B convolutions.
        n_head: 1x1 mask-B convolutions before the output layer.
        masked: ``False`` disables every mask (a model that cheats; demo only).
    """

    kind: str = "pixelcnn"  # "pixelcnn" | "gated"
    image_size: int = 16  # H = W
    levels: int = 4  # softmax over this many intensity levels
    channels: int = 128  # feature maps
    n_blocks: int = 5  # residual blocks / gated layers after the first
    first_kernel: int = 7  # mask-A kernel
    kernel: int = 3  # mask-B kernel inside the blocks
    n_head: int = 2  # 1x1 mask-B convolutions before the output
    masked: bool = True  # False only for the "disable the mask" demo

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}.")
        if not 2 <= self.levels <= 256:
            raise ValueError(f"levels must be in 2..256, got {self.levels!r}.")
        if not 2 <= self.image_size <= 128:
            raise ValueError(f"image_size must be in 2..128, got {self.image_size!r}.")
        for name in ("first_kernel", "kernel"):
            k = getattr(self, name)
            if k < 1 or k % 2 == 0:
                raise ValueError(f"{name} must be a positive odd number, got {k!r}.")
        if self.channels < 2 or self.n_blocks < 0 or self.n_head < 0:
            raise ValueError("channels must be >= 2 and n_blocks, n_head >= 0.")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> PixelCNNConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"Unknown PixelCNN config keys: {unknown}.")
        return cls(**d)

    @property
    def vertical_reach(self) -> int:
        """How many rows above a pixel can influence it (bounds its receptive field)."""
        if self.kind == "gated":
            return (self.first_kernel // 2) + 1 + self.n_blocks * (self.kernel // 2)
        return self.first_kernel // 2 + self.n_blocks * (self.kernel // 2)

    @property
    def horizontal_reach(self) -> int:
        """How many columns left or right of a pixel can influence it."""
        return self.first_kernel // 2 + self.n_blocks * (self.kernel // 2)


def nll_bits(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean NLL in bits per pixel of integer images ``x`` under ``logits`` (B, L, H, W).

    Apart from the model so that training can call the model through a wrapper
    (``DistributedDataParallel``) and still score it the same way.
    """
    return F.cross_entropy(logits, x.long()) / math.log(2)


class _Base(nn.Module):
    """Shared input scaling, NLL and parameter count."""

    config: PixelCNNConfig

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``[B, H, W]`` or ``[B, 1, H, W]`` -> float ``[B, 1, H, W]`` in [0, 1]."""
        if x.dim() == 3:
            x = x[:, None]  # (B, 1, H, W)
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"Expected images [B, H, W], got shape {tuple(x.shape)}.")
        if not torch.is_floating_point(x):
            x = x.float() / (self.config.levels - 1)
        return x

    def nll(self, x: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood in bits per dimension (pixel) of integer images."""
        return nll_bits(self(x), x)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


class PixelCNN(_Base):
    """PixelCNN: mask-A conv, residual blocks, 1x1 mask-B head, logits over L levels.

    Args:
        config: a :class:`PixelCNNConfig` with ``kind="pixelcnn"`` (defaults: the book's).
    """

    def __init__(self, config: PixelCNNConfig | None = None) -> None:
        super().__init__()
        config = config or PixelCNNConfig()
        if config.kind != "pixelcnn":
            raise ValueError(f"PixelCNN needs kind='pixelcnn', got {config.kind!r}.")
        self.config = config
        c, m = config.channels, config.masked
        self.first = MaskedConv2d(1, c, config.first_kernel, "A", m)
        self.blocks = nn.ModuleList(
            ResidualBlock(c, config.kernel, m) for _ in range(config.n_blocks)
        )
        self.head = nn.ModuleList(MaskedConv2d(c, c, 1, "B", m) for _ in range(config.n_head))
        self.out = nn.Conv2d(c, config.levels, 1)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps after each stage (first conv, each block, each head conv)."""
        h = F.relu(self.first(self._prepare(x)))  # (B, C, H, W)
        feats = [h]
        for block in self.blocks:
            h = block(h)  # the residual is added inside the block, once
            feats.append(h)
        for conv in self.head:
            h = F.relu(conv(h))
            feats.append(h)
        return feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x)[-1])  # (B, L, H, W)


class GatedPixelCNN(_Base):
    """Gated PixelCNN: vertical and horizontal stacks with gates; no blind spot.

    Args:
        config: a :class:`PixelCNNConfig` with ``kind="gated"``.
    """

    def __init__(self, config: PixelCNNConfig | None = None) -> None:
        super().__init__()
        config = config or PixelCNNConfig(kind="gated")
        if config.kind != "gated":
            raise ValueError(f"GatedPixelCNN needs kind='gated', got {config.kind!r}.")
        self.config = config
        c, m = config.channels, config.masked
        self.first = GatedLayer(1, c, config.first_kernel, "A", residual=False, masked=m)
        self.layers = nn.ModuleList(
            GatedLayer(c, c, config.kernel, "B", residual=True, masked=m)
            for _ in range(config.n_blocks)
        )
        self.head = nn.ModuleList(MaskedConv2d(c, c, 1, "B", m) for _ in range(config.n_head))
        self.out = nn.Conv2d(c, config.levels, 1)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Horizontal-stack feature maps after each layer and head conv."""
        x = self._prepare(x)
        v, h = self.first(x, x)
        feats = [h]
        for layer in self.layers:
            v, h = layer(v, h)
            feats.append(h)
        h = F.relu(h)
        for conv in self.head:
            h = F.relu(conv(h))
            feats.append(h)
        return feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x)[-1])  # (B, L, H, W)


def build_model(config: PixelCNNConfig) -> PixelCNN | GatedPixelCNN:
    """The model class a config names, freshly initialised."""
    return GatedPixelCNN(config) if config.kind == "gated" else PixelCNN(config)


def without_masks(model: PixelCNN | GatedPixelCNN) -> PixelCNN | GatedPixelCNN:
    """A copy of ``model`` with the same weights and every mask disabled (it sees the future).

    For the Masks page's demo: the copy's loss drops because it reads the answer. The
    original model is not touched.
    """
    cfg = dataclasses.replace(model.config, masked=False)
    copy = build_model(cfg)
    copy.load_state_dict(model.state_dict())
    return copy.eval()


def model_from_checkpoint(ckpt: Checkpoint) -> PixelCNN | GatedPixelCNN:
    """Build and load a model from an ``autoreg.checkpoints.Checkpoint`` (kind pixelcnn)."""
    config = PixelCNNConfig.from_dict(ckpt.card["config"])
    model = build_model(config)
    load_state_strict(model, ckpt.tensors)
    return model.eval()
