"""Unit analysis: text features, AUROC / correlation, unit ranking, saturation, clamps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from autoreg.seq import units
from autoreg.seq.corpora import stdlib_split
from autoreg.seq.intervene import run_with_intervention
from autoreg.seq.model import SequenceConfig, SequenceModel
from autoreg.seq.tokenizers import CharTokenizer
from autoreg.seq.trace import Trace, trace


def feats(text: str) -> dict[str, list[int]]:
    return {k: v.astype(int).tolist() for k, v in units.text_features(text).items()}


def test_string_feature_is_the_state_after_each_character():
    f = feats('a="x(y"+b')
    #          a  =  "  x  (  y  "  +  b
    assert f["in_string"] == [0, 0, 1, 1, 1, 1, 0, 0, 0]
    assert f["in_brackets"] == [0] * 9  # a bracket inside a string is not a bracket


def test_triple_quotes_span_lines_and_one_line_strings_do_not():
    f = feats('"""a\nb"""c')
    assert f["in_string"] == [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
    g = feats("'ab\ncd")  # unterminated: closed by the newline
    assert g["in_string"] == [1, 1, 1, 0, 0, 0]


def test_apostrophes_in_prose_and_escapes():
    assert feats("don't go")["in_string"] == [0] * 8
    f = feats(r'"a\"b"c')  # the escaped quote stays inside
    assert f["in_string"] == [1, 1, 1, 1, 1, 0, 0]


def test_brackets_depth_column_indentation_whitespace():
    text = "f(a[1],\n    (2))]\n"
    f = feats(text)
    assert f["bracket_depth"] == [0, 1, 1, 2, 2, 1, 1, 1, 1, 1, 1, 1, 2, 2, 1, 0, 0, 0]
    assert f["in_brackets"] == [int(d > 0) for d in f["bracket_depth"]]
    assert f["since_newline"] == [1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0]
    assert f["indentation"] == [0] * 8 + [1, 2, 3, 4, 4, 4, 4, 4, 4, 0]
    assert f["whitespace"] == [int(c.isspace()) for c in text]
    assert set(f) == set(units.FEATURES)


def test_auroc_matches_sklearn_with_ties_and_reverses():
    rng = np.random.default_rng(0)
    labels = rng.random(500) < 0.3
    scores = np.round(rng.normal(size=(500, 4)) + labels[:, None] * [0, 1, 2, -2], 1)  # ties
    got = units.auroc(scores, labels)
    want = [roc_auc_score(labels, scores[:, k]) for k in range(4)]
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert got[2] > 0.85 and got[3] < 0.15 and abs(got[0] - 0.5) < 0.1
    with pytest.raises(ValueError, match="both positive and negative"):
        units.auroc(scores, np.zeros(500, bool))


def test_correlation_matches_numpy_and_constant_is_zero():
    rng = np.random.default_rng(1)
    y = rng.normal(size=300)
    x = np.stack([y + rng.normal(size=300), -y, np.ones(300)], axis=1)
    r = units.correlation(x, y)
    assert r[0] == pytest.approx(np.corrcoef(x[:, 0], y)[0, 1])
    assert r[1] == pytest.approx(-1.0)
    assert r[2] == 0.0


def synthetic_trace(text: str, H: int = 16) -> Trace:
    """A trace whose units are noise except two planted detectors."""
    f = units.text_features(text)
    rng = np.random.default_rng(2)
    T = len(text)
    hidden = rng.normal(0, 0.5, size=(T, 1, H)).astype(np.float32)
    cell = rng.normal(0, 0.5, size=(T, 1, H)).astype(np.float32)
    hidden[:, 0, 7] = np.tanh(2 * f["in_string"] - 1 + rng.normal(0, 0.3, T))  # quote unit
    cell[:, 0, 3] = -0.1 * f["since_newline"] + rng.normal(0, 0.1, T)  # line-position unit
    gates = {g: rng.random((T, 1, H)).astype(np.float32) for g in ("input", "forget", "output")}
    gates["candidate"] = np.tanh(rng.normal(size=(T, 1, H))).astype(np.float32)
    z = np.zeros((T, 5), np.float32)
    return Trace("lstm", list(text), np.zeros(T, np.int64), z, hidden, cell, gates,
                 np.zeros((1, H)), np.zeros((1, H)), z, z, np.zeros(T))  # fmt: skip


def test_score_units_finds_the_planted_units():
    text = ('x = "hello (world)"\n    y = f(a, "b")\n' * 20) + "z = 1\n"
    tr = synthetic_trace(text)
    scores = units.score_units(tr, units.text_features(text), layer=0, top=3)
    best = scores["in_string"][0]
    assert (best.quantity, best.unit) == ("hidden", 7)
    assert best.score > 0.95 and best.strength == pytest.approx(2 * best.score - 1)
    line = scores["since_newline"][0]
    assert (line.quantity, line.unit) == ("cell", 3)
    assert line.score < -0.9  # negative correlation, found by its strength
    strengths = [s.strength for s in scores["in_string"]]
    assert strengths == sorted(strengths, reverse=True)
    with pytest.raises(ValueError, match="no"):
        units.score_units(tr, units.text_features(text), layer=0, names=("reset",))


def test_saturation_counts_fractions():
    v = np.array([[0.05, 0.5], [0.95, 0.5], [0.01, 0.99], [0.5, 0.95]])
    np.testing.assert_allclose(units.saturation(v), [[0.5, 0.0], [0.25, 0.5]])
    assert units.tanh_as_gate(np.array([-1.0, 0.0, 1.0])).tolist() == [0.0, 0.5, 1.0]


@pytest.mark.parametrize("source", ["documentation", "code"])
def test_probe_text_is_held_out_of_the_shipped_models_training_text(source):
    text = units.probe_text(source, 2000)
    assert 1500 < len(text) <= 2000 and text.endswith("\n")
    train = stdlib_split()["train"]
    assert text[:300] not in train  # neither held-out files nor other libraries' docs
    with pytest.raises(ValueError, match="Unknown probe"):
        units.probe_text("poetry")


def tiny(cell: str, layers: int = 1) -> SequenceModel:
    torch.manual_seed(0)
    tok = CharTokenizer("abcdef ")
    return SequenceModel(SequenceConfig(cell, tok.vocab_size, 6, 8, layers), tok).eval()


def manual_clamped_probs(m: SequenceModel, text: str, unit: int, start: int, c_value=None):
    """Reference: torch's own LSTMCell / GRUCell, one step at a time, h (or c) overwritten."""
    lstm = m.cell == "lstm"
    step = torch.nn.LSTMCell(6, 8) if lstm else torch.nn.GRUCell(6, 8)
    step.load_state_dict({k[:-3]: v for k, v in m.rnn.state_dict().items()})  # drop "_l0"
    h, c, probs = torch.zeros(1, 8), torch.zeros(1, 8), []
    with torch.no_grad():
        for t, i in enumerate(m.encode(text)):
            x = m.embed(torch.tensor([i]))
            if lstm:
                h_prev = h
                h, c = step(x, (h, c))
            else:
                h = step(x, h)
            if t >= start:
                h = h.clone()
                if c_value is None:
                    h[0, unit] = 0.0
                else:
                    c = c.clone()
                    c[0, unit] = c_value
                    pre = x @ step.weight_ih.T + step.bias_ih + h_prev @ step.weight_hh.T
                    o = torch.sigmoid(pre + step.bias_hh)[0, 24:]  # output gate block
                    h[0, unit] = o[unit] * torch.tanh(torch.tensor(c_value))
            probs.append(torch.softmax(m.head(h), -1)[0])
    return torch.stack(probs).numpy()


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_zero_clamp_equals_manual_recomputation(cell):
    m = tiny(cell)
    text, unit, start = "abcabc fed", 5, 3
    got = run_with_intervention(m, text, layer=0, unit=unit, start=start, value=0.0)
    want = manual_clamped_probs(m, text, unit, start)
    np.testing.assert_allclose(got, want, atol=1e-5)
    base = trace(m, text).probs
    np.testing.assert_allclose(got[:start], base[:start], atol=1e-6)  # before the clamp
    kl = units.kl_bits(base, got)
    assert np.all(kl[:start] < 1e-6) and kl[start:].max() > 1e-4


def test_cell_clamp_equals_manual_recomputation():
    m = tiny("lstm")
    got = run_with_intervention(m, "abcdef ab", layer=0, unit=1, start=2, value=3.0, quantity="c")
    want = manual_clamped_probs(m, "abcdef ab", 1, 2, c_value=3.0)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_kl_bits():
    p = np.array([[0.5, 0.5], [1.0, 0.0]])
    q = np.array([[0.5, 0.5], [0.5, 0.5]])
    np.testing.assert_allclose(units.kl_bits(p, q), [0.0, 1.0], atol=1e-9)


def test_richest_window_finds_the_varying_part():
    f = np.zeros(1000)
    f[600:700:2] = 1.0  # the only place where the feature changes
    start = units.richest_window(f, 200)
    assert start <= 600 and start + 200 >= 700
    assert units.richest_window(f, 200, lo=0, hi=400) == 0  # flat: the first window
    assert units.richest_window(f, 2000) == 0


def test_describe_score_states_the_direction_of_a_unit():
    """An AUROC below 0.5 is a strong unit of the opposite sign, and the label says so."""
    low = units.UnitScore("in_brackets", "hidden", 0, 3, 0.277, 0.446)
    high = units.UnitScore("in_string", "cell", 0, 7, 0.912, 0.824)
    neg = units.UnitScore("since_newline", "hidden", 0, 1, -0.61, 0.61)
    assert units.describe_score(low) == "AUROC 0.277: lower inside brackets"
    assert units.describe_score(high) == "AUROC 0.912: higher inside a string"
    assert units.describe_score(neg).startswith("r = -0.610: falls with")
