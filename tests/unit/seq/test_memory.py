"""autoreg.seq.memory and autoreg.seq.cells: gradients, task scoring, gate holding,
parameter counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from autoreg.pretrained import list_pretrained, load_pretrained
from autoreg.seq import cells, memory
from autoreg.seq.model import SequenceConfig, SequenceModel
from autoreg.seq.tokenizers import CharTokenizer

RECALL_VOCAB = CharTokenizer(sorted(set("abcdefgh0123456789=\n")))


def tiny(cell: str, vocab: int = 7, embed: int = 4, hidden: int = 5, seed: int = 0):
    torch.manual_seed(seed)
    return SequenceModel(SequenceConfig(cell, vocab, embed, hidden)).eval()


def log_p(model: SequenceModel, emb: torch.Tensor, target_id: int) -> float:
    out, _ = model.rnn(emb.unsqueeze(0))
    return torch.log_softmax(model.head(out[0, -1]), -1)[target_id].item()


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gradient_influence_matches_finite_differences(cell):
    model = tiny(cell).double()
    ids = [1, 4, 2, 6, 3, 5, 2]
    target = 6
    got = memory.gradient_influence(model, ids, target)
    assert got.shape == (target,)
    emb = model.embed(torch.tensor(ids[:target])).detach()
    eps = 1e-6
    fd = np.zeros((target, emb.shape[1]))
    with torch.no_grad():
        for t in range(target):
            for d in range(emb.shape[1]):
                plus, minus = emb.clone(), emb.clone()
                plus[t, d] += eps
                minus[t, d] -= eps
                fd[t, d] = (log_p(model, plus, ids[target]) - log_p(model, minus, ids[target])) / (
                    2 * eps
                )
    np.testing.assert_allclose(got, np.linalg.norm(fd, axis=1), rtol=1e-5, atol=1e-9)


def test_gradient_influence_leaves_a_frozen_shared_model_untouched():
    model = tiny("lstm")
    for p in model.parameters():
        p.requires_grad_(False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    memory.gradient_influence(model, [1, 2, 3, 4], 3)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(p.requires_grad for p in model.parameters())
    assert all(p.grad is None for p in model.parameters())


def test_a_model_in_training_mode_is_measured_in_eval_mode_and_left_as_it_was():
    torch.manual_seed(0)
    model = SequenceModel(SequenceConfig("lstm", 7, 4, 5, num_layers=2, dropout=0.5))
    model.train()
    a = memory.gradient_influence(model, [1, 2, 3, 4, 5], 4)
    assert model.training
    b = memory.gradient_influence(model.eval(), [1, 2, 3, 4, 5], 4)
    np.testing.assert_array_equal(a, b)  # no dropout noise


@pytest.mark.parametrize("target", [0, 4, -1])
def test_gradient_influence_refuses_a_target_without_inputs(target):
    with pytest.raises(ValueError, match="predicted position"):
        memory.gradient_influence(tiny("rnn"), [1, 2, 3, 4], target)


def test_relative_influence_starts_at_one_and_keeps_ratios():
    rel = memory.relative_influence(np.array([1e-3, 0.0, 2.0, 4.0]))
    assert rel[-1] == 1.0 and rel[2] == 0.5 and rel[0] == pytest.approx(2.5e-4)
    assert rel[1] > 0  # zeros sit at the floor, so log scales can draw them


def always_predicts(letter: str) -> SequenceModel:
    """A recall-vocabulary model whose argmax is ``letter`` after every input."""
    cfg = SequenceConfig("rnn", RECALL_VOCAB.vocab_size, 3, 4)
    model = SequenceModel(cfg, RECALL_VOCAB).eval()
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
        model.head.bias[RECALL_VOCAB.stoi[letter]] = 5.0
    return model


def test_recall_scores_on_a_hand_made_text():
    text = "c3805=c\nb12=b\nc7=c\nh0000000000=c\n"
    scores = memory.recall_scores(always_predicts("c"), text)
    assert scores.lags.tolist() == [4, 2, 1, 10]
    assert scores.correct.tolist() == [True, False, True, True]
    assert scores.predicted == ["c", "c", "c", "c"]
    assert scores.accuracy == pytest.approx(0.75)


def test_recall_curve_is_seeded_and_a_constant_guess_scores_chance():
    model = always_predicts("a")
    a = memory.recall_curve(model, [3, 30], n=400, seed=5)
    assert np.array_equal(a, memory.recall_curve(model, [3, 30], n=400, seed=5))
    assert np.all(np.abs(a - 1 / 8) < 0.05)  # 8 letters drawn uniformly


class CountingOracle:
    """A stand-in model that counts a's exactly up to ``limit`` (then predicts 'a')."""

    def __init__(self, limit: int) -> None:
        self.tok = CharTokenizer("ab\n")
        self.limit = limit

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text)

    def __call__(self, x: torch.Tensor):
        text = "".join(self.tok.itos[i] for i in x[0].tolist())
        logits = torch.zeros(1, len(text), self.tok.vocab_size)
        a = b = 0
        for t, ch in enumerate(text):
            a, b = (0, 0) if ch == "\n" else (a + (ch == "a"), b + (ch == "b"))
            nxt = "a" if b == 0 or a > self.limit else ("b" if b < a else "\n")
            logits[0, t, self.tok.stoi[nxt]] = 1.0
        return logits, None, None


def test_brackets_curve_scores_the_forced_part_per_depth():
    acc = memory.brackets_curve(CountingOracle(limit=5), [1, 3, 5, 6, 9], reps=4, seed=1)
    assert acc.tolist() == [1.0, 1.0, 1.0, 0.0, 0.0]
    with pytest.raises(ValueError):
        memory.brackets_curve(CountingOracle(5), [0, 2])


def test_training_range_is_read_from_the_task_corpus():
    assert memory.training_range("recall") == 40
    assert memory.training_range("brackets") == 12
    with pytest.raises(ValueError, match="differs"):
        memory.training_range("recall", sha256="0" * 64)
    with pytest.raises(ValueError, match="not a synthetic task"):
        memory.training_range("python-docs")


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_holding_units_reads_the_same_digits_after_every_letter(cell):
    torch.manual_seed(0)
    model = SequenceModel(SequenceConfig(cell, RECALL_VOCAB.vocab_size, 4, 6), RECALL_VOCAB)
    h = memory.holding_units(model.eval(), lag=7, seed=3, letter="e")
    assert h.text.startswith("\ne") and h.text.endswith("=e") and len(h.text) == 7 + 4
    assert h.states.shape == (8, len(h.text), 6)
    assert np.allclose(h.states[:, 0], h.states[0, 0])  # before the letter all agree
    assert np.all(np.diff(h.spread[h.order]) <= 0)
    assert h.gate == {"lstm": "forget", "gru": "update", "rnn": None}[cell]
    assert 0 <= h.held_unit < 6
    with pytest.raises(ValueError):
        memory.holding_units(model, lag=0)


@pytest.mark.skipif("lstm-recall" not in list_pretrained(), reason="no shipped lstm-recall")
def test_shipped_lstm_holds_the_letter_with_an_open_forget_gate():
    h = memory.holding_units(load_pretrained("lstm-recall"), lag=20)
    assert h.gate_mean[h.held_unit] > 0.9


@pytest.mark.parametrize("cell, module", [("rnn", nn.RNN), ("lstm", nn.LSTM), ("gru", nn.GRU)])
@pytest.mark.parametrize("inp, hidden, layers", [(3, 5, 1), (16, 64, 1), (7, 4, 3)])
def test_recurrent_params_formula_equals_pytorch(cell, module, inp, hidden, layers):
    real = sum(p.numel() for p in module(inp, hidden, num_layers=layers).parameters())
    assert cells.recurrent_params(cell, inp, hidden, layers) == real
    k = cells.BLOCKS[cell]
    textbook = cells.recurrent_params(cell, inp, hidden, layers, biases=1)
    assert real - textbook == k * hidden * layers  # the second bias vector


def test_the_textbook_ratios_hold_for_one_layer():
    rnn = cells.recurrent_params("rnn", 32, 256, biases=1)
    assert rnn == 256 * (32 + 256 + 1)
    assert cells.recurrent_params("lstm", 32, 256, biases=1) == 4 * rnn
    assert cells.recurrent_params("gru", 32, 256, biases=1) == 3 * rnn


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_model_formula_equals_num_params(cell):
    model = SequenceModel(SequenceConfig(cell, 21, 16, 64, num_layers=2))
    formula = cells.model_params_formula(cell, 21, 16, 64, 2)
    assert formula == cells.param_breakdown(model)
    assert formula["total"] == model.num_params()


def test_bad_cell_or_sizes_are_refused():
    with pytest.raises(ValueError, match="Unknown cell"):
        cells.recurrent_params("transformer", 3, 4)
    with pytest.raises(ValueError):
        cells.recurrent_params("rnn", 0, 4)


def test_activation_derivatives_and_the_tanh_identity():
    x = np.linspace(-5, 5, 1001)
    c = cells.activation_curves(x)
    np.testing.assert_allclose(np.gradient(c["sigmoid"], x), c["d sigmoid"], atol=1e-4)
    np.testing.assert_allclose(np.gradient(c["tanh"], x), c["d tanh"], atol=1e-3)
    assert c["d sigmoid"].max() == pytest.approx(0.25)
    assert c["d tanh"].max() == pytest.approx(1.0)
    np.testing.assert_allclose(c["tanh"], 2 * cells.sigmoid(2 * x) - 1, atol=1e-12)


def test_toy_cell_shows_what_each_range_does():
    runs = {v: cells.toy_cell(v, seed=0) for v in cells.TOY_VARIANTS}
    lstm, tanh_g, two_s, sig_c = runs.values()
    assert lstm.retention > 0.9 and lstm.max_abs < 10
    assert tanh_g.retention < 0.5  # a "closed" tanh gate writes −g every step
    assert two_s.max_abs > 1e6  # a gate above 1 makes c explode
    assert sig_c.negative_share == 0 and lstm.negative_share > 0.2
    again = cells.toy_cell(next(iter(cells.TOY_VARIANTS)), seed=0)
    assert np.array_equal(again.cell, lstm.cell)
    with pytest.raises(ValueError, match="Unknown variant"):
        cells.toy_cell("relu gates")


def test_value_summary_counts_saturation():
    s = cells.value_summary(np.array([0.0, 0.05, 0.5, 0.95, -0.5]))
    assert s["below 0.1"] == pytest.approx(0.6) and s["above 0.9"] == pytest.approx(0.2)
    assert s["negative"] == pytest.approx(0.2) and s["min"] == -0.5
