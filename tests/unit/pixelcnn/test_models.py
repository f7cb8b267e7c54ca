"""PixelCNN / GatedPixelCNN: shapes, the book's configuration, NLL, checkpoints."""

import math

import pytest
import torch

from autoreg.checkpoints import checkpoint_bytes, parse_checkpoint
from autoreg.pixelcnn import (
    GatedPixelCNN,
    MaskedConv2d,
    PixelCNN,
    PixelCNNConfig,
    ResidualBlock,
    build_model,
    model_from_checkpoint,
    without_masks,
)

# Tiny models: one thread avoids oversubscribing the shared CPU (much faster here).


def test_default_is_the_books_model():
    m = PixelCNN()
    cfg = m.config
    assert (cfg.image_size, cfg.levels, cfg.channels, cfg.n_blocks) == (16, 4, 128, 5)
    assert isinstance(m.first, MaskedConv2d) and m.first.mask_type == "A"
    assert m.first.kernel_size == (7, 7)
    assert len(m.blocks) == 5 and all(isinstance(b, ResidualBlock) for b in m.blocks)
    assert [b.net[2].kernel_size for b in m.blocks] == [(3, 3)] * 5
    assert all(b.net[2].mask_type == "B" for b in m.blocks)
    assert len(m.head) == 2
    assert all(h.kernel_size == (1, 1) and h.mask_type == "B" for h in m.head)
    assert m.out.out_channels == 4


@pytest.mark.parametrize("kind", ["pixelcnn", "gated"])
def test_forward_shapes_int_and_float(kind):
    torch.manual_seed(0)
    cfg = PixelCNNConfig(kind=kind, image_size=8, levels=4, channels=8, n_blocks=2)
    m = build_model(cfg)
    x = torch.randint(0, 4, (3, 8, 8))
    logits = m(x)
    assert logits.shape == (3, 4, 8, 8)
    assert torch.allclose(logits, m(x.float() / 3))  # ints are scaled to [0, 1]


@pytest.mark.parametrize("kind", ["pixelcnn", "gated"])
def test_nll_bits_matches_cross_entropy(kind):
    torch.manual_seed(0)
    m = build_model(PixelCNNConfig(kind=kind, image_size=6, levels=4, channels=8, n_blocks=1))
    x = torch.randint(0, 4, (2, 6, 6))
    ce = torch.nn.functional.cross_entropy(m(x), x)
    assert torch.allclose(m.nll(x), ce / math.log(2))
    # untrained ~ uniform over 4 levels = 2 bits
    assert 1.0 < m.nll(x).item() < 3.0


def test_gated_has_gates_and_classes_check_kind():
    g = GatedPixelCNN(PixelCNNConfig(kind="gated", image_size=8, channels=8, n_blocks=2))
    assert len(g.layers) == 2 and g.layers[0].residual and not g.first.residual
    with pytest.raises(ValueError):
        PixelCNN(PixelCNNConfig(kind="gated"))
    with pytest.raises(ValueError):
        GatedPixelCNN(PixelCNNConfig(kind="pixelcnn"))


def test_gated_residual_on_horizontal_stack():
    torch.manual_seed(0)
    g = GatedPixelCNN(PixelCNNConfig(kind="gated", image_size=6, channels=4, n_blocks=1))
    layer = g.layers[0]
    v, h = torch.randn(1, 4, 6, 6), torch.randn(1, 4, 6, 6)
    _, h1 = layer(v, h)
    layer.residual = False
    _, h2 = layer(v, h)
    assert torch.allclose(h1 - h, h2, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "lstm"},
        {"levels": 1},
        {"levels": 300},
        {"image_size": 1},
        {"first_kernel": 4},
        {"kernel": 0},
        {"channels": 1},
    ],
)
def test_bad_config_raises(kwargs):
    with pytest.raises(ValueError):
        PixelCNNConfig(**kwargs)


def test_bad_input_shape_raises():
    m = PixelCNN(PixelCNNConfig(image_size=8, channels=4, n_blocks=1))
    with pytest.raises(ValueError, match="Expected images"):
        m(torch.zeros(2, 3, 8, 8))


@pytest.mark.parametrize("kind", ["pixelcnn", "gated"])
def test_checkpoint_round_trip(kind):
    torch.manual_seed(0)
    m = build_model(PixelCNNConfig(kind=kind, image_size=8, channels=8, n_blocks=2)).eval()
    card = {"format": "autoreg", "version": 1, "kind": "pixelcnn", "config": m.config.to_dict()}
    ckpt = parse_checkpoint(checkpoint_bytes(m.state_dict(), card))
    m2 = model_from_checkpoint(ckpt)
    x = torch.randint(0, 4, (2, 8, 8))
    assert type(m2) is type(m) and not m2.training
    assert torch.equal(m(x), m2(x))


def test_checkpoint_with_wrong_config_raises():
    m = PixelCNN(PixelCNNConfig(image_size=8, channels=8, n_blocks=2))
    cfg = dict(m.config.to_dict(), channels=16)
    card = {"format": "autoreg", "version": 1, "kind": "pixelcnn", "config": cfg}
    with pytest.raises(ValueError, match="do not match"):
        model_from_checkpoint(parse_checkpoint(checkpoint_bytes(m.state_dict(), card)))
    card["config"] = dict(m.config.to_dict(), bogus=1)
    with pytest.raises(ValueError, match="Unknown PixelCNN config"):
        model_from_checkpoint(parse_checkpoint(checkpoint_bytes(m.state_dict(), card)))


@pytest.mark.parametrize("kind", ["pixelcnn", "gated"])
def test_without_masks_copies_weights_and_cheats(kind):
    torch.manual_seed(0)
    m = build_model(PixelCNNConfig(kind=kind, image_size=6, channels=8, n_blocks=1)).eval()
    cheat = without_masks(m)
    assert m.config.masked and not cheat.config.masked
    assert all(torch.equal(a, b) for a, b in zip(m.parameters(), cheat.parameters(), strict=True))
    x = torch.rand(1, 6, 6, requires_grad=True)
    cheat(x)[0, :, 2, 2].sum().backward()
    assert x.grad[0, 2, 2] != 0  # it reads the pixel it predicts
    assert all(torch.all(b == 1) for _, b in cheat.named_buffers())
    assert any(torch.any(b == 0) for n, b in m.named_buffers() if n.endswith("mask"))


def test_num_params_counts_parameters():
    m = PixelCNN(PixelCNNConfig(image_size=8, channels=8, n_blocks=1))
    assert m.num_params() == sum(p.numel() for p in m.parameters()) > 0
