"""The Generate page's payload: every stage of every draw is the sampler's own float32 value.

A tiny GRU with random weights samples a few tokens; the payload must hold exactly what
``sampling_pipeline`` (the function ``sample`` draws from) computed, for the shown tokens
and for the drawn one wherever it ranks, round-trip through the container, stay small,
and print (``payload.fmt``) the digits of those float32 values.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autoreg.seq import generation_payload as gp
from autoreg.seq import payload as pl
from autoreg.seq.model import SequenceConfig, SequenceModel
from autoreg.seq.sampling import sample, sampling_pipeline
from autoreg.seq.tokenizers import CharTokenizer, WordTokenizer


@pytest.fixture(scope="module")
def model() -> SequenceModel:
    torch.manual_seed(0)
    tok = CharTokenizer("abcdefghijklmnopqrstuvwxyz ()\n")
    m = SequenceModel(SequenceConfig("gru", tok.vocab_size, 8, 16, 1), tok).eval()
    with torch.no_grad():
        m.head.weight.mul_(4.0)  # peaked distributions: top-k and ranks matter
    return m.requires_grad_(False)


def _labels(model) -> list[str]:
    return [model.tokenizer.token(i) for i in range(model.config.vocab_size)]


def _build(model, temperature, top_k, steps=12, seed=3, shown=gp.SHOWN):
    out = list(sample(model, "abc", steps, temperature, top_k, seed))
    logits = np.stack([s.logits.numpy() for s in out])
    ids = [s.token_id for s in out]
    blob = gp.generation_payload(
        logits, ids, _labels(model), temperature=temperature, top_k=top_k, prompt="abc",
        word_level=False, model="tiny", seed=seed, shown=shown,
    )  # fmt: skip
    return out, logits, blob


@pytest.mark.parametrize(("temperature", "top_k"), [(1.0, None), (0.5, 3), (1.7, 8), (0.0, None)])
def test_every_stage_is_the_samplers_value(model, temperature, top_k):
    out, logits, blob = _build(model, temperature, top_k, shown=6)
    meta, a = pl.unpack(blob)
    assert meta["view"] == "generate" and meta["n_steps"] == len(out) == 12
    assert meta["t_text"] == gp.temperature_text(temperature)
    assert meta["greedy"] == (temperature == 0)
    for i, s in enumerate(out):
        p = sampling_pipeline(s.logits, temperature, top_k, (0,))
        ids = np.argsort(-logits[i], kind="stable")[:6]
        np.testing.assert_array_equal(a["top"][i], ids)
        assert np.all(np.diff(a["z"][i]) <= 0), "best logit first"
        for name, v in (("z", p.logits), ("zt", p.scaled), ("p", p.probs_after),
                        ("p1", p.probs_before)):  # fmt: skip
            np.testing.assert_array_equal(a[name][i], v.numpy()[ids])  # bit for bit
            assert a[f"d_{name}"][i] == v.numpy()[s.token_id]
        np.testing.assert_array_equal(a["kept"][i], np.isfinite(p.masked.numpy()[ids]))
        if 0 in ids:
            assert a["kept"][i][list(ids).index(0)] == 0, "<unk> is never drawn"
        if top_k:
            assert int(a["kept"][i].sum()) == min(top_k, 6 - int(0 in ids))
        assert a["ids"][i] == s.token_id and a["d_p"][i] == s.probs_after[s.token_id]
        assert a["d_rank"][i] == list(np.argsort(-logits[i], kind="stable")).index(s.token_id) + 1
        assert a["entropy"][i] == gp.entropy_bits(s.probs_after.numpy())
        for c, t in enumerate(gp.TEMPERATURES):
            q = sampling_pipeline(s.logits, t, top_k, (0,)).probs_after.numpy()
            np.testing.assert_array_equal(a["temp_p"][i, c], q[ids[: gp.TEMP_SHOWN]])
            assert a["temp_h"][i, c] == gp.entropy_bits(q)
        if temperature == 0:
            assert a["d_p"][i] == 1.0 and a["d_rank"][i] in (1, 2)  # argmax, or next after <unk>


def test_hotter_is_flatter_and_the_draw_is_found_outside_the_top(model):
    _, _, blob = _build(model, 1.7, None, steps=40, shown=2)
    _, a = pl.unpack(blob)
    assert np.all(np.diff(a["temp_h"], axis=1) > 0)
    outside = a["d_rank"] > 2
    assert outside.any(), "a hot sample draws tokens outside the first two"
    # the drawn token's own values are sent even when no row of the top holds it
    assert np.all(a["d_p"][outside] > 0)


def test_round_trip_sizes_and_printed_digits(model):
    out, _, blob = _build(model, 0.8, 5, steps=30)
    header, raw = pl.raw_arrays(blob)
    meta, a = pl.unpack(blob)
    assert pl.payload_size(blob) == len(blob) < 40_000
    for name, spec in header["arrays"].items():
        assert spec["offset"] % 8 == 0 and "scale" not in spec  # float values, not rounded
        np.testing.assert_array_equal(raw[name], a[name])
    assert raw["z"].dtype == np.float32 and raw["entropy"].dtype == np.float64
    assert meta["tokens"] == [s.token for s in out]
    assert meta["shown_tokens"] == [repr(pl.token_label(s.token)) for s in out]
    # what the readout prints is the float32 probability the token was drawn with
    for i, s in enumerate(out):
        assert pl.fmt(float(a["d_p"][i]), 3) == f"{float(s.probs_after[s.token_id]):.3f}"
    # the same sample packs to the same bytes, and another seed to another id
    assert _build(model, 0.8, 5, steps=30)[2] == blob
    assert pl.unpack(_build(model, 0.8, 5, steps=30, seed=4)[2])[0]["id"] != meta["id"]


def test_a_word_model_of_400_tokens_stays_small():
    words = [f"w{i}" for i in range(2500)]
    tok = WordTokenizer(words)
    torch.manual_seed(1)
    m = SequenceModel(SequenceConfig("lstm", tok.vocab_size, 16, 32, 1), tok).eval()
    out = list(sample(m, "w1 w2", 400, 0.8, None, 0))
    logits = np.stack([s.logits.numpy() for s in out])
    labels = [tok.token(i) for i in range(tok.vocab_size)]
    blob = gp.generation_payload(logits, [s.token_id for s in out], labels, temperature=0.8,
                                 top_k=None, prompt="w1 w2", word_level=True)  # fmt: skip
    assert len(blob) < 600_000, len(blob)  # 400 draws over 2,501 tokens, labels included


def test_bad_input_is_refused(model):
    labels = _labels(model)
    V = len(labels)
    with pytest.raises(ValueError, match="Nothing was generated"):
        gp.generation_payload(np.zeros((0, V), np.float32), [], labels, temperature=1.0,
                              top_k=None, prompt="a", word_level=False)  # fmt: skip
    with pytest.raises(ValueError, match="drawn ids"):
        gp.generation_payload(np.zeros((2, V), np.float32), [1], labels, temperature=1.0,
                              top_k=None, prompt="a", word_level=False)  # fmt: skip
    with pytest.raises(ValueError, match="labels"):
        gp.generation_payload(np.zeros((1, V), np.float32), [1], labels[:-1], temperature=1.0,
                              top_k=None, prompt="a", word_level=False)  # fmt: skip
