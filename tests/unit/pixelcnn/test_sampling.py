"""sample_pixels: incremental path == a full forward per pixel; known pixels; temperature."""

import itertools

import pytest
import torch

from autoreg.pixelcnn import PixelCNNConfig, build_model, entropy_bits, sample_pixels
from autoreg.pixelcnn.incremental import make_cache
from autoreg.pixelcnn.sampling import sample_images

# Tiny models: one thread avoids oversubscribing the shared CPU (much faster here).


def small(kind="pixelcnn", size=10, levels=4, n_blocks=2, seed=0):
    torch.manual_seed(seed)
    cfg = PixelCNNConfig(
        kind=kind, image_size=size, levels=levels, channels=8, n_blocks=n_blocks, first_kernel=3
    )
    return build_model(cfg).eval()


@pytest.mark.parametrize("kind", ["pixelcnn", "gated"])
def test_incremental_logits_equal_full_forward_at_every_pixel(kind):
    # every shape the cache handles: kernel sizes, depths, with and without a head; large
    # random weights so a misplaced tap or a missing bias shows
    worst = 0.0
    for first, k, n_blocks, n_head in itertools.product((1, 3, 7), (1, 3, 5), (0, 1, 3), (0, 2)):
        torch.manual_seed(first * 100 + k * 10 + n_blocks + n_head)
        cfg = PixelCNNConfig(
            kind=kind, image_size=6, levels=4, channels=6, n_blocks=n_blocks,
            first_kernel=first, kernel=k, n_head=n_head,
        )  # fmt: skip
        model = build_model(cfg).eval()
        for p in model.parameters():
            p.data.normal_(0, 0.5)
        images = torch.randint(0, 4, (3, 6, 6))
        with torch.no_grad():
            full = model(images)  # (3, L, 6, 6)
            # started from the whole images: a mask the cache forgot would read the future
            cache = make_cache(model, images)
            for r, c in itertools.product(range(6), range(6)):
                worst = max(worst, (cache.logits(r, c) - full[:, :, r, c]).abs().max().item())
                cache.write(r, c, images[:, r, c])
    assert worst < 1e-4  # float rounding only: logits here are O(10)


@pytest.mark.parametrize("kind", ["pixelcnn", "gated"])
def test_cache_keeps_only_the_rows_each_kernel_reads(kind):
    cfg = PixelCNNConfig(kind=kind, image_size=40, channels=4, n_blocks=3, kernel=5)
    cache = make_cache(build_model(cfg), torch.zeros(2, 40, 40, dtype=torch.long))
    windows = [b.rows for b in cache.blocks] if kind == "pixelcnn" else cache.v_in[1:]
    assert len(windows) == 3
    assert all(w.t.shape == (2, 4 if kind == "gated" else 2, 3, 44) for w in windows)


def test_unmasked_model_has_no_incremental_form():
    cfg = PixelCNNConfig(image_size=4, channels=4, n_blocks=1, masked=False)
    with pytest.raises(ValueError, match="sees the future"):
        make_cache(build_model(cfg), torch.zeros(1, 4, 4, dtype=torch.long))


@pytest.mark.parametrize("kind", ["pixelcnn", "gated"])
def test_fast_equals_naive_for_same_seed(kind):
    model = small(kind)
    fast = list(sample_pixels(model, n=5, seed=3, temperature=1.3))
    naive = list(sample_pixels(model, n=5, seed=3, temperature=1.3, fast=False))
    assert len(fast) == len(naive) == 100
    for a, b in zip(fast, naive, strict=True):
        assert (a.row, a.col) == (b.row, b.col)
        assert torch.equal(a.level, b.level)
        assert torch.allclose(a.probs, b.probs, atol=1e-5)
    assert torch.equal(fast[-1].images, naive[-1].images)


def test_steps_walk_raster_order_and_report_everything():
    model = small(size=6)
    steps = list(sample_pixels(model, n=3, seed=0))
    assert [(s.row, s.col) for s in steps] == [(r, c) for r in range(6) for c in range(6)]
    for s in steps:
        assert s.probs.shape == (3, 4) and torch.allclose(s.probs.sum(1), torch.ones(3))
        assert s.level.shape == (3,) and s.images.shape == (3, 6, 6)
        assert torch.equal(s.images[:, s.row, s.col], s.level)
        assert s.entropy.shape == (3,) and torch.all(s.entropy <= 2 + 1e-6)
    # later pixels of an earlier step are still blank (0)
    assert torch.all(steps[5].images[:, 1:] == 0)
    # the yielded images are copies: later steps do not change an earlier one
    assert not torch.equal(steps[0].images, steps[-1].images)


def test_same_seed_same_samples_other_seed_differs():
    model = small()
    a = sample_images(model, n=4, seed=7)
    b = sample_images(model, n=4, seed=7)
    c = sample_images(model, n=4, seed=8)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() <= 3


def test_global_rng_is_untouched():
    model = small(size=5)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    sample_images(model, n=2, seed=0)
    assert torch.equal(torch.rand(3), expected)


def test_known_pixels_are_kept_and_only_unknown_are_yielded():
    model = small(size=8)
    image = torch.randint(0, 4, (8, 8))
    known = torch.zeros(8, 8, dtype=torch.bool)
    known[:4] = True
    known[5, 2] = True
    steps = list(sample_pixels(model, n=3, start=(image, known), seed=1))
    assert len(steps) == 64 - 33
    assert all(not known[s.row, s.col] for s in steps)
    final = steps[-1].images
    assert torch.equal(final[:, known], image[known].expand(3, -1))
    # completions of the same start with the same seed agree, fast or naive
    naive = sample_images(model, n=3, start=(image, known), seed=1, fast=False)
    assert torch.equal(final, naive)


@pytest.mark.parametrize("kind", ["pixelcnn", "gated"])
def test_completions_fast_equal_naive(kind):
    model = small(kind, size=8)
    image = torch.randint(0, 4, (3, 8, 8))
    known = torch.rand(3, 8, 8) < 0.5  # scattered known pixels, different per image
    fast = sample_images(model, n=3, start=(image, known), seed=4, temperature=1.5)
    naive = sample_images(model, n=3, start=(image, known), seed=4, temperature=1.5, fast=False)
    assert torch.equal(fast, naive)
    assert torch.equal(fast[known], image[known])


def test_per_image_known_masks():
    model = small(size=6)
    image = torch.randint(0, 4, (2, 6, 6))
    known = torch.zeros(2, 6, 6, dtype=torch.bool)
    known[0, :3] = True  # image 0 knows its top half, image 1 nothing
    out = sample_images(model, n=2, start=(image, known), seed=0)
    assert torch.equal(out[0, :3], image[0, :3])


def test_fully_known_start_returns_it():
    model = small(size=5)
    image = torch.randint(0, 4, (5, 5))
    known = torch.ones(5, 5, dtype=torch.bool)
    assert list(sample_pixels(model, n=2, start=(image, known))) == []
    assert torch.equal(sample_images(model, n=2, start=(image, known)), image.expand(2, 5, 5))


def test_low_temperature_sharpens_high_flattens():
    model = small(size=5)
    ent = {
        t: torch.stack([s.entropy for s in sample_pixels(model, n=4, temperature=t, seed=0)])
        for t in (0.3, 1.0, 3.0)
    }
    # the first pixel sees only biases, identical for every temperature's input
    assert ent[0.3][0].mean() < ent[1.0][0].mean() < ent[3.0][0].mean()


def test_entropy_bits():
    assert torch.allclose(entropy_bits(torch.tensor([[0.25] * 4])), torch.tensor([2.0]))
    assert torch.allclose(entropy_bits(torch.tensor([[1.0, 0, 0]])), torch.tensor([0.0]))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"n": 0}, "n must be"),
        ({"start": (torch.zeros(4, 4, dtype=torch.long), torch.ones(4, 4))}, "must be 6x6"),
        ({"start": (torch.full((6, 6), 9), torch.ones(6, 6))}, "levels"),
        ({"start": (torch.zeros(6, 6), torch.ones(6, 6))}, "integer"),
        ({"start": torch.zeros(6, 6)}, "pair"),
        ({"start": (torch.zeros(3, 6, 6, dtype=torch.long), torch.ones(6, 6))}, "3 images"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    model = small(size=6)
    with pytest.raises(ValueError, match=match):
        next(sample_pixels(model, **kwargs))


def test_model_mode_restored():
    model = small(size=4)
    model.train()
    sample_images(model, n=1)
    assert model.training
