"""Generate figures hold the sampler's own numbers, stage by stage, at any temperature."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autoreg.seq.model import SequenceConfig, SequenceModel
from autoreg.seq.sampling import sample, sampling_pipeline
from autoreg.seq.tokenizers import CharTokenizer
from autoreg.viz import generate as vg
from autoreg.viz.common import HIGHLIGHT, token_label


@pytest.fixture(scope="module")
def model() -> SequenceModel:
    torch.manual_seed(0)
    tok = CharTokenizer("abcdefghijklmnopqrstuvwxyz ()\n")
    return SequenceModel(SequenceConfig("gru", tok.vocab_size, 8, 16, 1), tok).eval()


def step_of(model, temperature, top_k, seed=0):
    return list(sample(model, "abc", 3, temperature, top_k, seed))[-1]


def panels(fig):
    """y values of the four stages, keyed by row."""
    return {row: fig.data[row - 1] for row in range(1, 5)}


@pytest.mark.parametrize(("temperature", "top_k"), [(1.0, None), (0.5, 3), (1.7, 8)])
def test_pipeline_figure_holds_every_stage(model, temperature, top_k):
    s = step_of(model, temperature, top_k)
    p = sampling_pipeline(s.logits, temperature, top_k, (0,))  # as sample() does
    n = 12
    fig = vg.pipeline_figure(
        p.logits.numpy(), p.scaled.numpy(), p.masked.numpy(), p.probs_after.numpy(),
        model.tokenizer.itos, drawn=s.token_id, temperature=temperature, top_k=top_k,
        probs_before=p.probs_before.numpy(), n=n,
    )  # fmt: skip
    ids = vg.shown_ids(p.logits.numpy(), n, s.token_id)
    assert [token_label(model.tokenizer.itos[i]) for i in ids] == list(fig.data[0].x)
    rows = panels(fig)
    np.testing.assert_allclose(rows[1].y, p.logits.numpy()[ids])
    np.testing.assert_allclose(rows[2].y, p.logits.numpy()[ids] / temperature, rtol=1e-6)
    np.testing.assert_allclose(rows[4].y, s.probs_after.numpy()[ids])
    np.testing.assert_allclose(fig.data[4].y, s.probs_before.numpy()[ids])
    kept = [c != vg.MUTED for c in rows[3].marker.color]
    assert kept == np.isfinite(p.masked.numpy()[ids]).tolist()
    assert kept[list(ids).index(0)] is False if 0 in ids else True  # <unk> is never drawn
    if top_k:
        assert sum(kept) == top_k and np.isfinite(p.masked.numpy()).sum() == top_k
    colours = list(rows[4].marker.color)
    assert colours.count(HIGHLIGHT) == 1 and colours[list(ids).index(s.token_id)] == HIGHLIGHT
    np.testing.assert_array_equal(np.diff(rows[1].y) <= 0, True)  # sorted by logit


def test_shown_ids_always_include_the_draw():
    logits = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    assert vg.shown_ids(logits, 3).tolist() == [0, 1, 2]
    assert vg.shown_ids(logits, 3, must=4).tolist() == [0, 1, 4]


def test_small_and_zero_temperature_stay_finite(model):
    logits = torch.tensor([80.0, 79.0, 10.0, -50.0] + [0.0] * (model.config.vocab_size - 4))
    for t in (0.05, 0.0):
        p = sampling_pipeline(logits, t, None)
        fig = vg.pipeline_figure(
            p.logits.numpy(), p.scaled.numpy(), p.masked.numpy(), p.probs_after.numpy(),
            model.tokenizer.itos, drawn=0, temperature=t, top_k=None, n=6,
        )  # fmt: skip
        for trace in fig.data:
            assert np.all(np.isfinite(np.asarray(trace.y, dtype=float)))
        assert fig.data[3].y[0] == pytest.approx(1.0 if t == 0 else 1 / (1 + np.exp(-20)))
    titles = [a.text for a in fig.layout.annotations]
    assert any("skipped at T = 0" in t for t in titles)


def test_temperatures_figure_shows_each_distribution(model):
    s = step_of(model, 1.0, None)
    temps = (0.3, 1.0, 2.0)
    probs = {t: sampling_pipeline(s.logits, t, None, (0,)).probs_after.numpy() for t in temps}
    fig = vg.temperatures_figure(probs, model.tokenizer.itos, logits=s.logits.numpy(), n=10)
    ids = vg.shown_ids(s.logits.numpy(), 10)
    for trace, t in zip(fig.data, temps, strict=True):
        np.testing.assert_allclose(trace.y, probs[t][ids])
    entropies = [float(a.text.split("entropy ")[1].split(" ")[0]) for a in fig.layout.annotations]
    assert entropies == sorted(entropies)  # hotter is flatter
    with pytest.raises(ValueError):
        vg.temperatures_figure({}, model.tokenizer.itos, logits=s.logits.numpy())


def test_draw_probability_figure_marks_the_step():
    fig = vg.draw_probability_figure(list("abc"), np.array([0.5, 0.2, 0.9]), step=1)
    np.testing.assert_allclose(fig.data[0].y, [0.5, 0.2, 0.9])
    assert list(fig.data[0].marker.color).index(HIGHLIGHT) == 1
