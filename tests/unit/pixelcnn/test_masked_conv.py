"""MaskedConv2d: mask A hides the centre, B keeps it, nothing below or right leaks."""

import pytest
import torch
import torch.nn.functional as F

from autoreg.pixelcnn import MaskedConv2d, ResidualBlock, causal_mask


def _visible(k: int, mask_type: str) -> torch.Tensor:
    """The mask from its definition, tap by tap: offset (dr, dc) from the centre is seen
    iff that pixel comes before the centre in raster order (or is the centre, for B)."""
    c = k // 2
    mask = torch.zeros(k, k)
    for r in range(k):
        for col in range(k):
            dr, dc = r - c, col - c
            before = dr < 0 or (dr == 0 and dc < 0)
            mask[r, col] = float(before or (mask_type == "B" and dr == dc == 0))
    return mask


@pytest.mark.parametrize("k", [1, 3, 5, 7])
def test_masks_treat_centre_per_paper(k):
    c = k // 2
    a, b = causal_mask(k, "A"), causal_mask(k, "B")
    assert a[c, c] == 0 and b[c, c] == 1
    # rows above: all ones; centre row: ones left of centre; rows below: zeros
    assert torch.all(a[:c] == 1) and torch.all(a[c, :c] == 1)
    assert torch.all(a[c + 1 :] == 0) and torch.all(a[c, c:] == 0)
    assert torch.equal(b - a, torch.eye(k)[c : c + 1].T @ torch.eye(k)[c : c + 1])
    assert int(a.sum()) == (k * k) // 2 and int(b.sum()) == (k * k) // 2 + 1


def test_mask_picture_5x5():
    expected_a = torch.tensor(
        [[1, 1, 1, 1, 1], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [0] * 5, [0] * 5], dtype=torch.float
    )
    assert torch.equal(causal_mask(5, "A"), expected_a)


@pytest.mark.parametrize("bad", [(2, "A"), (0, "B"), (4, "B"), (3, "C")])
def test_bad_mask_args_raise(bad):
    with pytest.raises(ValueError):
        MaskedConv2d(1, 1, *bad)


def test_mask_is_a_buffer_and_weights_never_mutate():
    torch.manual_seed(0)
    conv = MaskedConv2d(2, 3, 5, "A")
    assert "mask" in dict(conv.named_buffers())
    assert "mask" not in conv.state_dict()  # derived from config, not saved
    before = conv.weight.detach().clone()
    conv(torch.randn(1, 2, 8, 8))
    assert torch.equal(conv.weight, before)
    assert (before * (1 - conv.mask)).abs().sum() > 0  # masked taps hold non-zero weights


def test_training_cannot_leak_through_masked_taps():
    torch.manual_seed(0)
    conv = MaskedConv2d(1, 1, 3, "A")
    opt = torch.optim.SGD(conv.parameters(), lr=1.0)
    x = torch.randn(4, 1, 6, 6)
    for _ in range(3):
        loss = (conv(x) - x).pow(2).mean()  # copying the centre would be the easy answer
        opt.zero_grad()
        loss.backward()
        assert torch.all(conv.weight.grad * (1 - conv.mask) == 0)
        opt.step()
    y = torch.randn(1, 1, 6, 6, requires_grad=True)
    conv(y)[0, 0, 3, 3].backward()
    assert y.grad[0, 0, 3, 3] == 0


@pytest.mark.parametrize("k", [1, 3, 5, 7])
@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_conv_equals_a_plain_conv_with_a_hand_built_mask(k: int, mask_type: str) -> None:
    torch.manual_seed(k)
    conv = MaskedConv2d(3, 4, k, mask_type)
    x = torch.randn(2, 3, 9, 9)
    w = conv.weight.detach() * _visible(k, mask_type)  # the mask from its definition
    ref = F.conv2d(x, w, conv.bias.detach(), padding=k // 2)
    with torch.no_grad():
        out = conv(x)
    assert out.shape == (2, 4, 9, 9)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_each_output_pixel_depends_only_on_earlier_pixels(k: int, mask_type: str) -> None:
    """By autograd, pixel by pixel: d out[r, c] / d x is zero at (r, c) itself (mask A)
    and everywhere later in raster order; and non-zero at every tap the kernel can reach
    (all its weights are non-zero), so the check cannot pass by seeing nothing."""
    torch.manual_seed(0)
    conv = MaskedConv2d(2, 3, k, mask_type)
    with torch.no_grad():
        conv.weight.copy_(torch.rand_like(conv.weight) + 0.5)  # no tap is zero by chance
    size = 6
    for r in range(size):
        for col in range(size):
            x = torch.randn(1, 2, size, size, requires_grad=True)
            conv(x)[0, :, r, col].sum().backward()
            seen = x.grad[0].abs().sum(0) > 0  # (H, W)
            order = torch.arange(size * size).view(size, size)
            here = r * size + col
            later = order > here if mask_type == "B" else order >= here
            assert not seen[later].any(), (r, col)
            c = k // 2
            for dr in range(-c, c + 1):
                for dc in range(-c, c + 1):
                    rr, cc = r + dr, col + dc
                    inside = 0 <= rr < size and 0 <= cc < size
                    if inside and _visible(k, mask_type)[dr + c, dc + c]:
                        assert seen[rr, cc], (r, col, dr, dc)


def test_residual_added_once():
    torch.manual_seed(0)
    block = ResidualBlock(8)
    x = torch.randn(2, 8, 6, 6)
    assert torch.allclose(block(x) - x, block.net(x), atol=1e-6)
    assert block.net[0].out_channels == 4  # half width inside


def test_disabled_mask_sees_the_future():
    conv = MaskedConv2d(1, 1, 3, "A", masked=False)
    assert torch.all(conv.mask == 1)
