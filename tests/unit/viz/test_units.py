"""Units figures hold the trace's own numbers: coloured text, tracks, saturation, clamps."""

from __future__ import annotations

import re

import numpy as np
import plotly.colors as pc
import pytest
import torch

from autoreg.seq import units
from autoreg.seq.intervene import run_with_intervention
from autoreg.seq.model import SequenceConfig, SequenceModel
from autoreg.seq.tokenizers import CharTokenizer
from autoreg.seq.trace import trace
from autoreg.viz import units as viz

TEXT = 'def f(x):\n    return "a(b)" + x\n'


@pytest.fixture(scope="module")
def model() -> SequenceModel:
    torch.manual_seed(0)
    tok = CharTokenizer.fit(TEXT)
    return SequenceModel(SequenceConfig("lstm", tok.vocab_size, 8, 12, 1), tok).eval()


@pytest.fixture(scope="module")
def tr(model):
    return trace(model, TEXT)


def spans(html: str) -> list[tuple[str, str]]:
    """(title, style) of every coloured character span."""
    return re.findall(r'<span title="([^"]*)" style="([^"]*)"', html)


def test_coloured_text_has_one_span_per_step_with_the_exact_value(tr):
    values = tr.cell[:, 0, 3]
    html = viz.coloured_text_html(tr.tokens, values, diverging=True, label="c[3]")
    found = spans(html)
    assert len(found) == len(TEXT)
    for t, (title, _) in enumerate(found):
        assert title.startswith(f"step {t} ")
        assert float(title.rsplit("= ", 1)[1]) == pytest.approx(values[t], abs=1e-4)
    assert html.count("<br>") == TEXT.count("\n")
    top = float(np.abs(values).max())
    assert f"{-top:+.2f}" in html and f"{top:+.2f}" in html  # the legend's ends


def test_diverging_scale_is_centred_on_zero_and_gates_are_sequential():
    vals = np.array([-2.0, 0.0, 2.0])
    html = viz.coloured_text_html(["a", "b", "c"], vals, diverging=True, label="h")
    styles = [s for _, s in spans(html)]
    mid = pc.sample_colorscale("RdBu_r", [0.5])[0]
    ends = pc.sample_colorscale("RdBu_r", [0.0, 1.0])
    assert f"background:{mid}" in styles[1]
    assert f"background:{ends[0]}" in styles[0] and f"background:{ends[1]}" in styles[2]
    gate = viz.coloured_text_html(["a", "b"], np.array([0.0, 1.0]), diverging=False, label="f")
    g_styles = [s for _, s in spans(gate)]
    assert pc.sample_colorscale("Viridis", [1.0])[0] in g_styles[1]
    assert "+0.00" in gate and "+1.00" in gate  # gates always 0..1
    with pytest.raises(ValueError):
        viz.coloured_text_html(["a"], np.zeros(2), diverging=True, label="h")


def test_feature_track_holds_feature_and_activation(tr):
    f = units.text_features(TEXT)["in_string"]
    fig = viz.feature_track_figure(
        tr.tokens, tr.hidden[:, 0, 2], f, unit_label="h[2]", feature_label="in string"
    )
    np.testing.assert_array_equal(fig.data[0].y, f)
    np.testing.assert_allclose(fig.data[1].y, tr.hidden[:, 0, 2])


def test_saturation_figure_plots_the_fractions(tr):
    panels = {
        "LSTM": {g: units.saturation(v[:, 0]) for g, v in tr.gates.items() if g != "candidate"}
    }
    fig = viz.saturation_figure(panels)
    dots = [d for d in fig.data if d.mode == "markers"]
    assert [d.name for d in dots] == ["input", "forget", "output"]
    for d in dots:
        low, high = units.saturation(tr.gates[d.name][:, 0])
        np.testing.assert_allclose(d.x, low)
        np.testing.assert_allclose(d.y, high)
    with pytest.raises(ValueError):
        viz.saturation_figure({})


def test_clamp_bars_and_divergence_hold_the_runs(model, tr):
    clamped = run_with_intervention(model, TEXT, layer=0, unit=4, start=5, value=0.0)
    at = 12
    fig = viz.clamp_bars_figure(tr.probs[at], clamped[at], model.tokenizer.itos, k=4)
    base_bar, new_bar = fig.data
    labels = [viz.token_label(s) for s in model.tokenizer.itos]
    ids = [labels.index(x) for x in base_bar.x]
    np.testing.assert_allclose(base_bar.y, tr.probs[at, ids])
    np.testing.assert_allclose(new_bar.y, clamped[at, ids])
    assert set(np.argsort(-tr.probs[at])[:4]) <= set(ids)
    assert set(np.argsort(-clamped[at])[:4]) <= set(ids)
    kl = units.kl_bits(tr.probs, clamped)
    div = viz.divergence_figure(kl, tr.tokens, from_step=5, step=at)
    np.testing.assert_allclose(div.data[0].y, kl)
    xs = sorted(s.x0 for s in div.layout.shapes)
    assert xs == [4.5, at]
