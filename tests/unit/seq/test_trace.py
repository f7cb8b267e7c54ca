"""The trace is exact: it equals PyTorch's fused modules and its gates rebuild h and c."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

from autoreg.bench.cpu import bench_trace_overhead
from autoreg.seq import fused
from autoreg.seq.intervene import run_with_intervention
from autoreg.seq.model import SequenceConfig, SequenceModel
from autoreg.seq.tokenizers import CharTokenizer
from autoreg.seq.trace import GATE_NAMES, Trace, trace

ATOL = 1e-5
# the module, not the function: ``autoreg.seq.trace`` names the function once re-exported
trace_module = importlib.import_module("autoreg.seq.trace")


def _model(cell: str, layers: int, seed: int = 0, H: int = 12) -> SequenceModel:
    torch.manual_seed(seed)
    tok = CharTokenizer.fit("abcdefgh ()\n")
    cfg = SequenceConfig(cell, tok.vocab_size, 5, H, layers)
    model = SequenceModel(cfg, tok).eval()
    with torch.no_grad():  # larger weights than the default init: saturated gates, big c
        for p in model.rnn.parameters():
            p.mul_(3.0)
    return model


def _fused_states(model: SequenceModel, ids: list[int]):
    """Every layer's h_n (and c_n) and the top layer's outputs, from the nn module itself."""
    with torch.no_grad():
        out, state = model.rnn(model.embed(torch.tensor([ids])))
    return out[0].numpy(), state


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_trace_equals_fused_module(cell: str, layers: int) -> None:
    model = _model(cell, layers, seed=layers)
    ids = torch.randint(
        0, model.config.vocab_size, (40,), generator=torch.Generator().manual_seed(1)
    )
    tr = trace(model, ids.tolist())
    out, state = _fused_states(model, ids.tolist())
    T, H = 40, model.config.hidden_size
    assert tr.hidden.shape == (T, layers, H) and tr.hidden.dtype == np.float32
    np.testing.assert_allclose(tr.hidden[:, -1], out, atol=ATOL)
    h_n = state[0] if cell == "lstm" else state
    np.testing.assert_allclose(tr.hidden[-1], h_n[:, 0].numpy(), atol=ATOL)  # every layer
    if cell == "lstm":
        np.testing.assert_allclose(tr.cell[-1], state[1][:, 0].numpy(), atol=ATOL)
        assert tr.cell.shape == (T, layers, H)
    else:
        assert tr.cell is None
    assert set(tr.gates) == set(GATE_NAMES[cell])
    for g in tr.gates.values():
        assert g.shape == (T, layers, H)
    with torch.no_grad():
        logits, _, _ = model(ids.unsqueeze(0))
    np.testing.assert_allclose(tr.logits, logits[0].numpy(), atol=ATOL)
    np.testing.assert_allclose(tr.probs.sum(1), 1.0, atol=1e-5)


@pytest.mark.parametrize("H", [5, 12, 64, 256])
@pytest.mark.parametrize("layers", [1, 3])
def test_lstm_kernel_gates_equal_the_recompute(H: int, layers: int, monkeypatch) -> None:
    """Gates read from oneDNN's workspace equal the batched recompute, for several widths
    (row strides 32, 48, 256 and 1040 floats) and stacked layers; and that path is the
    one taken here, so the equality is not between the fallback and itself."""
    model = _model("lstm", layers, H=H)
    text = "abc (def) gh\nabba cafe" * 4
    if torch.backends.mkldnn.is_available():
        assert trace_module.kernel_gates_used(model, text)
    fast = trace(model, text)
    monkeypatch.setattr(fused, "lstm_layer_with_gates", lambda *a: None)
    slow = trace(model, text)
    for name, g in slow.gates.items():
        np.testing.assert_allclose(fast.gates[name], g, atol=ATOL)
    np.testing.assert_allclose(fast.cell, slow.cell, atol=ATOL)
    np.testing.assert_allclose(fast.hidden, slow.hidden, atol=ATOL)


def test_a_wrong_workspace_layout_falls_back_to_the_recompute(monkeypatch) -> None:
    """If oneDNN ever lays its workspace out differently, the check catches it."""
    model = _model("lstm", 2, H=16)
    text = "abc (def) gh\nabba cafe" * 2
    right = trace(model, text)
    monkeypatch.setattr(fused, "_good_ld", lambda n: n + 16)  # a wrong row stride
    assert not trace_module.kernel_gates_used(model, text)
    wrong = trace(model, text)
    for name, g in right.gates.items():
        np.testing.assert_allclose(wrong.gates[name], g, atol=ATOL)
    np.testing.assert_allclose(wrong.cell, right.cell, atol=ATOL)


@pytest.mark.parametrize("layers", [1, 3])
def test_lstm_gates_rebuild_h_and_c(layers: int) -> None:
    model = _model("lstm", layers)
    tr = trace(model, "abc (def) gh\nabba" * 2)
    g = tr.gates
    assert g["forget"].min() >= 0 and g["forget"].max() <= 1
    assert g["candidate"].min() >= -1 and g["candidate"].max() <= 1
    assert g["forget"].min() < 0.1 and g["forget"].max() > 0.9  # saturation is exercised
    c_prev = np.concatenate([tr.initial_cell[None], tr.cell[:-1]])
    c = g["forget"] * c_prev + g["input"] * g["candidate"]
    np.testing.assert_allclose(tr.cell, c, atol=ATOL)
    np.testing.assert_allclose(tr.hidden, g["output"] * np.tanh(tr.cell), atol=ATOL)
    assert np.abs(tr.cell).max() > 1.5  # c leaves tanh's range, so h != c


@pytest.mark.parametrize("layers", [1, 2])
def test_gru_gates_rebuild_h(layers: int) -> None:
    model = _model("gru", layers)
    tr = trace(model, "abc (def) gh\nabba")
    h_prev = np.concatenate([tr.initial_hidden[None], tr.hidden[:-1]])
    z, n = tr.gates["update"], tr.gates["candidate"]
    np.testing.assert_allclose(tr.hidden, (1 - z) * n + z * h_prev, atol=ATOL)
    # the candidate really uses the reset gate: n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    rnn = model.rnn
    H = model.config.hidden_size
    x = torch.from_numpy(tr.embeddings)
    w_in, b_in = rnn.weight_ih_l0[2 * H :], rnn.bias_ih_l0[2 * H :]
    w_hn, b_hn = rnn.weight_hh_l0[2 * H :], rnn.bias_hh_l0[2 * H :]
    hp = torch.from_numpy(h_prev[:, 0])
    with torch.no_grad():
        n0 = torch.tanh(
            x @ w_in.T + b_in + torch.from_numpy(tr.gates["reset"][:, 0]) * (hp @ w_hn.T + b_hn)
        )
    np.testing.assert_allclose(n[:, 0], n0.numpy(), atol=ATOL)


def test_rnn_has_no_gates_and_h_is_tanh() -> None:
    model = _model("rnn", 1)
    tr = trace(model, "abcabc")
    assert tr.gates == {} and tr.cell is None
    assert np.abs(tr.hidden).max() < 1


def test_trace_fields_tokens_loss_and_unknowns() -> None:
    model = _model("lstm", 1)
    tr = trace(model, "ab?c")  # '?' is not in the vocabulary: it becomes <unk>
    assert isinstance(tr, Trace)
    assert tr.tokens == ["a", "b", "<unk>", "c"]
    assert tr.ids.tolist() == [
        model.tokenizer.stoi["a"],
        model.tokenizer.stoi["b"],
        0,
        model.tokenizer.stoi["c"],
    ]
    assert tr.embeddings.shape == (4, 5)
    np.testing.assert_allclose(tr.embeddings, model.embed.weight[tr.ids].detach().numpy())
    assert np.isnan(tr.loss[1]) and np.isnan(tr.loss[3])  # next is <unk>; no next token
    expected = -np.log(tr.probs[0, tr.ids[1]])
    assert tr.loss[0] == pytest.approx(expected, rel=1e-4)
    ids, p = tr.top_k(0, 3)
    assert p[0] >= p[1] >= p[2] and ids[0] == np.argmax(tr.probs[0])
    np.testing.assert_allclose(tr.surprise_bits[0], expected / np.log(2), rtol=1e-4)


def test_trace_does_not_change_training_mode_and_rejects_bad_input() -> None:
    model = _model("gru", 2)
    model.train()
    trace(model, "abc")
    assert model.training
    with pytest.raises(ValueError, match="empty"):
        trace(model, "")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        trace(model, [1, 2, 999])


def test_trace_from_a_given_state_continues_the_sequence() -> None:
    model = _model("lstm", 2)
    ids = model.encode("abcdefgh")
    whole = trace(model, ids)
    first = trace(model, ids[:5])
    state = (
        torch.from_numpy(first.hidden[-1]).unsqueeze(1),
        torch.from_numpy(first.cell[-1]).unsqueeze(1),
    )
    rest = trace(model, ids[5:], state=state)
    np.testing.assert_allclose(rest.hidden, whole.hidden[5:], atol=ATOL)
    np.testing.assert_allclose(rest.cell, whole.cell[5:], atol=ATOL)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_intervention_changes_only_later_steps(cell: str) -> None:
    model = _model(cell, 2)
    text = "abc (def) gh"
    tr = trace(model, text)
    same = run_with_intervention(model, text, layer=1, unit=3, start=len(text), value=None)
    np.testing.assert_allclose(same, tr.probs, atol=ATOL)  # no step is touched
    probs = run_with_intervention(model, text, layer=0, unit=3, start=4, value=0.0)
    np.testing.assert_allclose(probs[:4], tr.probs[:4], atol=ATOL)
    assert np.abs(probs[4:] - tr.probs[4:]).max() > 1e-4
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    clamped = run_with_intervention(model, text, layer=0, unit=3, start=0, value=0.7, quantity="h")
    assert not np.allclose(clamped, probs)


def test_intervention_on_lstm_cell_and_bad_arguments() -> None:
    model = _model("lstm", 1)
    text = "abcabc"
    tr = trace(model, text)
    probs = run_with_intervention(model, text, 0, 2, start=2, value=5.0, quantity="c")
    np.testing.assert_allclose(probs[:2], tr.probs[:2], atol=ATOL)
    assert np.abs(probs[2:] - tr.probs[2:]).max() > 1e-4
    with pytest.raises(ValueError, match="unit"):
        run_with_intervention(model, text, 0, 99, start=0)
    with pytest.raises(ValueError, match="layer"):
        run_with_intervention(model, text, 5, 0, start=0)
    with pytest.raises(ValueError, match="cell state"):
        run_with_intervention(_model("gru", 1), text, 0, 0, start=0, quantity="c")


def test_bench_reports_ratio_and_target() -> None:
    result = bench_trace_overhead(T=50, H=16, repeats=2)
    assert result["target"] == 1.25 and result["ratio"] > 0
    assert result["gates"] in ("fused kernel workspace", "batched recompute")
    assert result["T"] == 50 and result["H"] == 16


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_trace_without_onednn_is_just_as_exact(cell: str, monkeypatch) -> None:
    model = _model(cell, 2)
    fast = trace(model, "abc (def) gh\nabba")
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: False)
    plain = trace(model, "abc (def) gh\nabba")
    for name, g in fast.gates.items():
        np.testing.assert_allclose(plain.gates[name], g, atol=ATOL)
    out, _ = _fused_states(model, model.encode("abc (def) gh\nabba"))
    np.testing.assert_allclose(plain.hidden[:, -1], out, atol=ATOL)


def test_a_non_contiguous_state_is_read_correctly() -> None:
    """The oneDNN op reads raw memory: a transposed state must give the same trace."""
    model = _model("lstm", 2, H=16)
    L, H = 2, 16
    h = torch.randn(H, L).T.unsqueeze(1)  # (L, 1, H), last-dim stride L
    c = torch.randn(H, L).T.unsqueeze(1)
    assert not h.is_contiguous()
    text = "abc (def) gh\nabba"
    odd = trace(model, text, state=(h, c))
    plain = trace(model, text, state=(h.contiguous(), c.contiguous()))
    np.testing.assert_allclose(odd.hidden, plain.hidden, atol=ATOL)
    np.testing.assert_allclose(odd.cell, plain.cell, atol=ATOL)
    with pytest.raises(ValueError, match="state"):
        trace(model, text, state=(torch.zeros(L, 2, H), torch.zeros(L, 2, H)))


@pytest.mark.parametrize("text", ["preset", "a" * 2000])
def test_the_shipped_lstm_takes_its_gates_from_the_kernel(text: str) -> None:
    """Trained cell states reach hundreds; the layout check must not reject them."""
    from autoreg.pretrained import load_pretrained
    from autoreg.ui.sequences import PRESETS

    if not torch.backends.mkldnn.is_available():
        pytest.skip("no oneDNN here: the recompute path is used")
    model = load_pretrained("lstm-char-pydocs")
    for t in PRESETS.values() if text == "preset" else [text]:
        assert trace_module.kernel_gates_used(model, t)
