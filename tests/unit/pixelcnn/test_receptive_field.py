"""Causality and receptive fields, by autograd, for every output pixel.

The exhaustive check runs one backward pass for all pixels at once: the batch holds one
copy of a random image per output pixel p, and copy p back-propagates only from pixel p,
so ``grad[p]`` is d out(p) / d input for that pixel alone (batch items never interact).
"""

import itertools

import pytest
import torch

from autoreg.pixelcnn import (
    PixelCNNConfig,
    blind_spot,
    blind_spot_size,
    build_model,
    receptive_field,
    receptive_fields_by_depth,
    stack_receptive_fields,
)
from autoreg.pixelcnn.receptive import past_pixels, reach_window

CONFIGS = [
    ("pixelcnn", 3, 3, 0),
    ("pixelcnn", 3, 3, 2),
    ("pixelcnn", 5, 3, 1),
    ("pixelcnn", 7, 5, 2),
    ("gated", 3, 3, 0),
    ("gated", 3, 3, 2),
    ("gated", 5, 3, 1),
    ("gated", 7, 5, 2),
]

# Tiny models: one thread avoids oversubscribing the shared CPU (much faster here).


def all_pixel_gradients(model, size: int, probes: int = 3) -> torch.Tensor:
    """|d logits(p) / d x| for every output pixel p, summed over probes: ``[H*W, H, W]``.

    Several random probes, so a ReLU that happens to be dead for one input cannot hide
    a path that exists.
    """
    g = torch.Generator().manual_seed(0)
    n = size * size
    total = torch.zeros(n, size, size)
    for _ in range(probes):
        x = torch.randn(n, size, size, generator=g).requires_grad_(True)
        logits = model(x)  # (n, L, H, W)
        w = torch.randn(logits.shape[1], generator=g)
        sel = (logits * w[None, :, None, None]).sum(1).reshape(n, n)  # (copy, pixel)
        sel.diagonal().sum().backward()
        total += x.grad.abs()
    return total


@pytest.mark.parametrize(("kind", "first", "k", "n"), CONFIGS)
def test_every_pixel_is_causal(kind, first, k, n):
    torch.manual_seed(n * 10 + first)
    size = 7
    cfg = PixelCNNConfig(
        kind=kind, image_size=size, levels=4, channels=16, n_blocks=n, first_kernel=first, kernel=k
    )
    grads = all_pixel_gradients(build_model(cfg).eval(), size).reshape(size * size, -1)
    order = torch.arange(size * size)
    future = order[None, :] >= order[:, None]  # (pixel, input): at or after the pixel
    assert torch.all(grads[future] == 0), "an output saw its own pixel or a later one"
    sees_past = (grads > 0).any(1)
    assert not sees_past[0]  # the first pixel has nothing before it
    assert torch.all(sees_past[1:]), "some pixel sees none of the pixels before it"


def _dilate(points: set, kernel: set) -> set:
    return {(a + c, b + d) for a, b in points for c, d in kernel}


def geometric_field(first: int, k: int, n: int) -> set:
    """Offsets a PixelCNN can see, by composing kernel supports (no autograd)."""

    def support(size, centre):
        r = size // 2
        s = {(dr, dc) for dr in range(-r, 0) for dc in range(-r, r + 1)}
        s |= {(0, dc) for dc in range(-r, 0)}
        return s | ({(0, 0)} if centre else set())

    field = support(first, False)
    for _ in range(n):
        field = _dilate(field, support(k, True))
    return field


@pytest.mark.parametrize(
    ("first", "k", "n"), [(3, 3, 0), (3, 3, 3), (5, 3, 2), (7, 3, 4), (3, 5, 2)]
)
def test_pixelcnn_field_matches_geometry(first, k, n):
    torch.manual_seed(0)
    size, row, col = 17, 12, 8
    cfg = PixelCNNConfig(
        image_size=size, levels=2, channels=16, n_blocks=n, first_kernel=first, kernel=k
    )
    field = receptive_field(build_model(cfg), row, col)
    expected = torch.zeros(size, size, dtype=torch.bool)
    for dr, dc in geometric_field(first, k, n):
        expected[row + dr, col + dc] = True
    assert torch.equal(field, expected)
    assert not (field & ~past_pixels(row, col, size)).any()


@pytest.mark.parametrize("first", [3, 5, 7])
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_blind_spot_size_matches_geometry(first, n):
    torch.manual_seed(n)
    cfg = PixelCNNConfig(image_size=17, levels=2, channels=16, n_blocks=n, first_kernel=first)
    spot = blind_spot(build_model(cfg), 12, 8)
    assert int(spot.sum()) == blind_spot_size(n) == n * (n + 1) // 2
    rows, cols = torch.nonzero(spot, as_tuple=True)
    assert torch.all(rows < 12) and torch.all(cols > 8)  # above and to the right


@pytest.mark.parametrize(("first", "n"), [(3, 1), (3, 3), (7, 2)])
def test_gated_has_no_blind_spot(first, n):
    torch.manual_seed(0)
    cfg = PixelCNNConfig(
        kind="gated", image_size=17, levels=2, channels=16, n_blocks=n, first_kernel=first
    )
    model = build_model(cfg)
    assert int(blind_spot(model, 12, 8).sum()) == 0
    assert torch.equal(receptive_field(model, 12, 8), reach_window(cfg, 12, 8, 17))


def test_without_masks_field_includes_future():
    from autoreg.pixelcnn import without_masks

    m = build_model(PixelCNNConfig(image_size=9, channels=8, n_blocks=1, first_kernel=3))
    field = receptive_field(without_masks(m), 4, 4)
    assert field[4, 4] and field[5, 4] and not receptive_field(m, 4, 4)[4, 4]


def test_fields_grow_with_depth():
    fields = stack_receptive_fields(4, first_kernel=3, size=15)
    sizes = [int(f.sum()) for f in fields]
    assert sizes == [4, 11, 21, 34]  # 3x3 A, then each 3x3 B layer adds a ring minus wedge
    assert all((a & ~b).sum() == 0 for a, b in itertools.pairwise(fields))  # nested
    gated = stack_receptive_fields(3, kind="gated", size=15)
    assert int(gated[-1].sum()) > sizes[2]


def test_by_depth_last_stage_matches_field():
    torch.manual_seed(0)
    m = build_model(PixelCNNConfig(image_size=9, channels=16, n_blocks=2, first_kernel=3))
    stages = receptive_fields_by_depth(m, 6, 4)
    assert len(stages) == 1 + 2 + 2
    assert torch.equal(stages[-1], receptive_field(m, 6, 4))


@pytest.mark.parametrize(("row", "col"), [(-1, 0), (0, 9), (9, 0)])
def test_pixel_outside_image_raises(row, col):
    m = build_model(PixelCNNConfig(image_size=9, channels=4, n_blocks=0, first_kernel=3))
    with pytest.raises(ValueError, match="outside"):
        receptive_field(m, row, col)
