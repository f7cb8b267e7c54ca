"""Train-page figures: the loss curves and the sample grid show the job's numbers."""

from __future__ import annotations

import numpy as np
import pytest

from autoreg.viz.train import image_grid, loss_figure, smooth


def test_smooth_is_bias_corrected_and_follows_a_constant():
    assert np.allclose(smooth([3.0] * 50), 3.0)  # no pull towards zero at the start
    s = smooth([4.0, 0.0])
    assert s[0] == 4.0 and 0 < s[1] < 4.0


def test_loss_figure_carries_the_history():
    train = [(i, 8.0 / i) for i in range(1, 101)]
    val = [(50, 0.3), (100, 0.2)]
    fig = loss_figure(train, val, unit="bits/pixel", val_name="test", reference=("uniform", 2.0))
    raw, smoothed, v = fig.data
    assert list(raw.x) == list(range(1, 101)) and raw.y[0] == 8.0
    assert np.allclose(smoothed.y, smooth([y for _, y in train]))
    assert (v.name, list(v.x), list(v.y)) == ("test", [50, 100], [0.3, 0.2])
    assert fig.layout.shapes[0].y0 == 2.0
    assert fig.layout.yaxis.title.text == "bits/pixel"
    assert "bits/pixel" in v.hovertemplate


def test_loss_figure_thins_long_histories_but_keeps_the_ends():
    train = [(i, 1.0) for i in range(1, 5001)]
    fig = loss_figure(train, [], max_points=100)
    assert len(fig.data[0].x) == 100 and fig.data[0].x[0] == 1 and fig.data[0].x[-1] == 5000


def test_empty_history_draws_an_empty_chart():
    assert len(loss_figure([], []).data) == 0


def test_image_grid_tiles_and_scales():
    imgs = np.zeros((6, 2, 3), dtype=np.uint8)
    imgs[1] = 3  # second image white at 4 levels
    g = image_grid(imgs, levels=4, cols=4, scale=2)
    assert g.shape == (2 * (2 * 3 - 1), 2 * (4 * 4 - 1))  # 2 rows x 4 cols with 1-px gaps
    assert g[0, 0] == 0 and g[0, 2 * 4] == 255  # image 0 black, image 1 white
    assert g[0, 2 * 3] == 128  # the gap
    with pytest.raises(ValueError):
        image_grid(np.zeros((2, 2)), levels=4)
