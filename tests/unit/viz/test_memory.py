"""Figure builders of the Memory page: the plotted data is the data passed in."""

from __future__ import annotations

import numpy as np
import pytest

from autoreg.seq import cells
from autoreg.viz import memory as viz
from autoreg.viz.common import SEQUENTIAL


def test_accuracy_curves_mark_chance_and_the_training_range():
    acc = {"rnn": np.array([0.6, 0.3, 0.12]), "gru": np.array([1.0, 1.0, 0.9])}
    fig = viz.accuracy_curves([1, 40, 80], acc, chance=0.125, trained_up_to=40)
    assert [t.name for t in fig.data] == ["RNN", "GRU"]
    np.testing.assert_allclose(fig.data[0].y, acc["rnn"])
    ys = [s.y0 for s in fig.layout.shapes if s.type == "line"]
    assert 0.125 in ys
    rect = next(s for s in fig.layout.shapes if s.type == "rect")
    assert rect.x0 == 40 and rect.x1 == 80


def test_gate_over_time_shows_the_chosen_units_and_one_line_per_letter():
    rng = np.random.default_rng(0)
    tokens = list("\nc123=c")
    gate = rng.random((7, 10))
    states = rng.standard_normal((8, 7, 10))
    fig = viz.gate_over_time(tokens, gate, np.array([4, 1, 7]), states, "abcdefgh", 1,
                             gate_name="forget", state_name="c")  # fmt: skip
    hm = fig.data[0]
    np.testing.assert_allclose(hm.z, gate[:, [4, 1, 7]].T)
    assert list(hm.y) == ["unit 4", "unit 1 ★", "unit 7"]
    assert hm.zmin == 0 and hm.zmax == 1 and hm.colorscale[0][1] == _first_colour(SEQUENTIAL)
    lines = fig.data[1:]
    assert len(lines) == 8
    np.testing.assert_allclose(lines[2].y, states[2, :, 1])


def _first_colour(name: str) -> str:
    import plotly.express as px

    return getattr(px.colors.sequential, name)[0]


def test_activation_and_histogram_figures_carry_the_values():
    x = np.linspace(-3, 3, 7)
    curves = cells.activation_curves(x)
    fig = viz.activation_figure(x, curves)
    assert [t.name for t in fig.data] == ["sigmoid(x)", "tanh(x)", "sigmoid′(x)", "tanh′(x)"]
    assert fig.data[2].line.dash == "dot"
    np.testing.assert_allclose(fig.data[1].y, np.tanh(x))
    values = {"forget": np.full((3, 1, 2), 0.9), "candidate": np.full((3, 1, 2), -0.4)}
    hist = viz.value_histograms(values)
    assert [t.name for t in hist.data] == ["forget", "candidate"]
    # binned on the server: each gate's shares sum to 1 and sit in the bin of the value
    for trace, value in zip(hist.data, (0.9, -0.4), strict=True):
        share = np.asarray(trace.y)
        assert share.sum() == pytest.approx(1.0) and share.max() == pytest.approx(1.0)
        centre = trace.x[int(share.argmax())]
        assert abs(centre - value) <= trace.width / 2


def test_toy_cell_figure_has_one_panel_per_variant_with_exact_hover():
    runs = [cells.toy_cell(v, hidden=5, hold_steps=20) for v in cells.TOY_VARIANTS]
    fig = viz.toy_cell_figure(runs, units=2)
    assert len(fig.data) == 2 * len(runs)
    assert [a.text for a in fig.layout.annotations] == list(cells.TOY_VARIANTS)
    exploding = fig.data[2 * 2]  # first unit of the 2σ run
    np.testing.assert_allclose(exploding.y, runs[2].cell[:, 0])
    assert np.abs(exploding.y).max() > 1e6  # it explodes, on its own axis
    assert fig.layout.yaxis3.matches is None
    shaded = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(shaded) == len(runs) and all(s.x1 == runs[0].write_steps - 0.5 for s in shaded)
