"""PixelCNN and Gated PixelCNN: masked convolutions, models, receptive fields, sampling.

``from autoreg.pixelcnn import MaskedConv2d, PixelCNN, GatedPixelCNN, receptive_field``;
``for step in sample_pixels(model, n=16, start=None, temperature=1.0, seed=0): ...``
"""

from autoreg.pixelcnn.layers import GatedLayer, MaskedConv2d, ResidualBlock, causal_mask
from autoreg.pixelcnn.models import (
    GatedPixelCNN,
    PixelCNN,
    PixelCNNConfig,
    build_model,
    model_from_checkpoint,
    without_masks,
)
from autoreg.pixelcnn.receptive import (
    blind_spot,
    blind_spot_size,
    receptive_field,
    receptive_fields_by_depth,
    stack_receptive_fields,
)
from autoreg.pixelcnn.sampling import PixelStep, entropy_bits, sample_images, sample_pixels

__all__ = [
    "GatedLayer",
    "GatedPixelCNN",
    "MaskedConv2d",
    "PixelCNN",
    "PixelCNNConfig",
    "PixelStep",
    "ResidualBlock",
    "blind_spot",
    "blind_spot_size",
    "build_model",
    "causal_mask",
    "entropy_bits",
    "model_from_checkpoint",
    "receptive_field",
    "receptive_fields_by_depth",
    "sample_images",
    "sample_pixels",
    "stack_receptive_fields",
    "without_masks",
]
