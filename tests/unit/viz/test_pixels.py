"""Image-page builders and their core: the pictures show what the models compute.

Receptive fields are checked against ``receptive_field`` (autograd), generations against
``sample_images`` (the sampler), numbers in figures against the tensors they came from.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from autoreg.pixelcnn.demos import dot_product_example, stack_fields, train_mask_demo
from autoreg.pixelcnn.generation import (
    EXPORT_MIN_SIDE,
    FieldStencil,
    GenerationRun,
    Start,
    drawn_start,
    erase,
)
from autoreg.pixelcnn.layers import causal_mask
from autoreg.pixelcnn.models import PixelCNNConfig, build_model
from autoreg.pixelcnn.receptive import blind_spot_size, receptive_field
from autoreg.pixelcnn.sampling import entropy_bits, sample_images
from autoreg.viz.masks import dot_product_figure, field_figure, mask_figure
from autoreg.viz.pixels import CLICK_NAME, LEGEND_ROOM, grid_figure, image_figure


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    cfg = PixelCNNConfig(image_size=8, levels=4, channels=8, n_blocks=2, first_kernel=5)
    return build_model(cfg).eval()


@pytest.fixture(scope="module")
def gated():
    torch.manual_seed(0)
    cfg = PixelCNNConfig(kind="gated", image_size=8, levels=4, channels=8, n_blocks=2)
    return build_model(cfg).eval()


def _trace(fig, name):
    return next(t for t in fig.data if t.name == name)


@pytest.mark.parametrize("k", [3, 5, 7, 9])
@pytest.mark.parametrize("mtype", ["A", "B"])
def test_mask_figure_and_dot_product_are_the_layers_numbers(k, mtype):
    dp = dot_product_example(torch.rand(16, 16, generator=torch.Generator().manual_seed(k)),
                             7, 7, k, mtype)  # fmt: skip
    assert torch.equal(dp.mask, causal_mask(k, mtype))
    assert math.isclose(float(dp.products.sum()) + dp.bias, dp.output, abs_tol=1e-5)
    assert dp.mask[k // 2, k // 2] == (mtype == "B")
    z = np.asarray(mask_figure(dp.mask, mtype).data[0].z)
    assert np.array_equal(z, dp.mask.numpy())
    fig = dot_product_figure(dp.patch, dp.weight, dp.mask)
    terms = np.asarray(fig.data[2].z, dtype=float)
    hidden = dp.mask.numpy() == 0
    assert np.isnan(terms[hidden]).all()
    assert np.allclose(terms[~hidden], dp.products.numpy()[~hidden])


@pytest.mark.parametrize("kind", ["pixelcnn", "gated"])
def test_field_figure_shows_the_autograd_field_layer_by_layer(kind):
    depth, row, col = 4, 9, 6
    sf = stack_fields(depth, kind, 3, 15, row, col)
    for layer in range(1, depth + 1):
        fig = field_figure(sf.first_layer, (row, col), layer, sf.blind[layer - 1])
        shown = ~np.isnan(np.asarray(fig.data[0].z, dtype=float))
        assert np.array_equal(shown, sf.fields[layer - 1].numpy()), layer
        assert len(fig.layout.shapes) == int(sf.blind[layer - 1].sum())
        if kind == "gated":
            assert not sf.blind[layer - 1].any()
        else:  # n mask-B layers after the first: n(n+1)/2 pixels, away from borders
            assert int(sf.blind[layer - 1].sum()) == blind_spot_size(layer - 1)
    assert sf.fields[:-1].le(sf.fields[1:]).all(), "the field only grows with depth"
    clicks = _trace(fig, CLICK_NAME)
    assert len(clicks.x) == 15 * 15 and set(map(tuple, clicks.customdata)) >= {(row, col)}


def test_field_stencil_equals_receptive_field_everywhere(tiny, gated):
    for model in (tiny, gated):
        stencil = FieldStencil(model)
        for r in range(8):
            for c in range(8):
                assert torch.equal(stencil.at(r, c, 8), receptive_field(model, r, c)), (r, c)


def test_generation_run_replays_the_sampler(tiny):
    img = torch.randint(0, 4, (8, 8), generator=torch.Generator().manual_seed(1))
    start = erase(img, "bottom half")
    run = GenerationRun(tiny, 3, start, temperature=0.8, seed=5)
    run.start_background()
    run.wait(60)
    assert run.done and run.total == 32
    ref = sample_images(tiny, n=3, start=(start.image, start.known), temperature=0.8, seed=5)
    assert torch.equal(run.images_at(run.total), ref)
    assert torch.equal(run.images_at(0)[:, :4], img[:4].expand(3, 4, 8))
    step = 10
    r, c = run.position(step)
    assert run.step_of(r, c) == step and run.step_of(0, 0) is None
    ent = run.entropy_map(step)
    assert (~torch.isnan(ent[0])).sum() == step
    assert math.isclose(float(ent[1, r, c]), float(entropy_bits(run.probs_at(step))[1]),
                        rel_tol=1e-6)  # fmt: skip
    # figures carry the same numbers
    visible = run.known[0] | run.drawn_mask(step)
    fig = image_figure(run.images_at(step)[0], 4, visible=visible, known=run.known[0],
                       current=(r, c), field=FieldStencil(tiny).at(r, c, 8))  # fmt: skip
    z = np.asarray(fig.data[0].z, dtype=float)
    assert np.array_equal(~np.isnan(z), visible.numpy())
    grid = grid_figure(run.images_at(step), 4)
    assert (~np.isnan(np.asarray(grid.data[0].z, dtype=float))).sum() == 3 * 64
    # resampling keeps what was drawn before the step
    again = run.resample_from(step, tiny, seed=6)
    assert again.total == run.total - step
    again.advance(again.total)
    kept = run.known | run.drawn_mask(step)[None]
    assert torch.equal(again.images_at(again.total)[kept], run.images_at(step)[kept])
    png, gif = run.png(run.total), run.gif(scale=2)
    assert png[:4] == b"\x89PNG" and gif[:6] == b"GIF89a"
    # exports are big enough to project, whatever the image size (an 8x8 batch was 129 px)
    for data in (png, gif):
        assert Image.open(io.BytesIO(data)).size[0] >= EXPORT_MIN_SIDE


def test_stop_ends_a_background_run_early(tiny):
    run = GenerationRun(tiny, 2, None, seed=0)
    run.stop()
    run.start_background()
    run.wait(10)
    assert run.computed == 0 and run.stopped


def test_starts_from_drawings_and_boxes():
    drawing = torch.zeros(8, 8)
    drawing[2, 3] = 1.0
    rows = drawn_start(drawing, 4, "rows")
    assert rows.known[:3].all() and not rows.known[3:].any() and rows.image[2, 3] == 3
    ink = drawn_start(drawing, 4, "ink")
    assert int(ink.known.sum()) == 1
    box = erase(torch.full((8, 8), 2), "box", (1, 2, 3, 5))
    assert int((~box.known).sum()) == 6 and box.image[1, 3] == 0
    assert not Start.blank(8).known.any()
    with pytest.raises(ValueError, match="box"):
        erase(torch.zeros(8, 8), "box", (0, 9, 0, 1))
    with pytest.raises(ValueError, match="region"):
        erase(torch.zeros(8, 8), "top")


def test_mask_off_twin_reads_its_own_pixel():
    demo = train_mask_demo(epochs=2, n_samples=4)
    assert demo.field_of("unmasked", 4, 4)[4, 4]
    assert not demo.field_of("masked", 4, 4)[4, 4]
    # the masked model never reads an undrawn pixel: the canvas it starts from is irrelevant
    assert torch.equal(demo.samples["masked"], demo.samples["masked-noise"])
    assert not torch.equal(demo.samples["unmasked"], demo.samples["unmasked-noise"])
    assert demo.train_bits["unmasked"][-1] < demo.train_bits["masked"][-1]


def test_stepping_while_the_background_thread_draws_is_safe(tiny):
    """The page's Step button may call advance() while the thread is drawing (no
    'generator already executing'), and the frames still replay the sampler exactly."""
    run = GenerationRun(tiny, 2, None, temperature=1.0, seed=3)
    run.start_background()
    while not run.done:
        run.advance(1)
    run.wait(60)
    assert run.error is None and run.computed == run.total == 64
    ref = sample_images(tiny, n=2, start=None, temperature=1.0, seed=3)
    assert torch.equal(run.images_at(run.total), ref)


def test_demos_leave_the_shared_global_rng_alone():
    """Every browser session shares torch's global RNG: seeded demo inits must restore it."""
    image = torch.rand(8, 8)
    before = torch.get_rng_state()
    dot_product_example(image, 4, 4, 5, "A", seed=3)
    assert torch.equal(torch.get_rng_state(), before)


def test_legends_sit_under_the_tick_labels_not_on_them():
    """A legend at plot y=-0.02 covered the x tick labels (Masks and Generate pixels):
    anchored to the figure's container, in a bottom margin kept for it."""
    known = torch.zeros(8, 8, dtype=torch.bool)
    known[:3] = True
    sf = stack_fields(3, "pixelcnn", 3, 15, 9, 6)
    figures = [
        image_figure(torch.zeros(8, 8, dtype=torch.long), 4, visible=known, known=known),
        field_figure(sf.first_layer, (9, 6), 3, sf.blind[2]),
    ]
    for fig in figures:
        assert any(t.showlegend is not False and t.name for t in fig.data)
        legend = fig.layout.legend
        assert legend.yref == "container" and legend.y == 0 and legend.yanchor == "bottom"
        assert fig.layout.margin.b >= LEGEND_ROOM
