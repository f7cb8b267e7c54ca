"""The trace is exact: it equals PyTorch's fused modules and its gates rebuild h and c."""

from __future__ import annotations

import copy
import importlib
import pickle

import numpy as np
import pytest
import torch

from autoreg.bench.cpu import bench_trace_overhead
from autoreg.pretrained import list_pretrained, load_pretrained, pretrained_card
from autoreg.seq import fused
from autoreg.seq.corpora import brackets_task, recall_task
from autoreg.seq.intervene import run_with_intervention
from autoreg.seq.model import SequenceConfig, SequenceModel
from autoreg.seq.tokenizers import CharTokenizer, WordTokenizer
from autoreg.seq.trace import GATE_NAMES, Trace, trace
from autoreg.ui.sequences import PRESETS

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


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_the_reference_steps_equal_the_fused_module(cell: str) -> None:
    """``lstm_step``/``gru_step``/``rnn_step``, run one step at a time, are nn.LSTM/GRU/RNN."""
    model = _model(cell, 2)
    ids = model.encode("abc (def) gh\nabba")
    x = model.embed(torch.tensor(ids)).detach()
    H = model.config.hidden_size
    with torch.no_grad():
        for layer in range(2):
            w = trace_module._layer_weights(model.rnn, layer)
            h, c, outs = torch.zeros(H), torch.zeros(H), []
            for t in range(len(ids)):
                if cell == "lstm":
                    h, c = trace_module.lstm_step(x[t], h, c, w)
                else:
                    h = (trace_module.gru_step if cell == "gru" else trace_module.rnn_step)(
                        x[t], h, w
                    )
                outs.append(h)
            x = torch.stack(outs)
    out, _ = _fused_states(model, ids)
    np.testing.assert_allclose(x.numpy(), out, atol=ATOL)


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


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-v))


def _equations(model: SequenceModel, tr: Trace) -> tuple[dict, dict]:
    """(gates, pre-activations) of every step and layer, written out from PyTorch's docs.

    float64, from ``model.rnn.weight_ih_l{k}`` etc., at the trace's own x_t and h_{t-1}:
    this checks each step's gate arithmetic; that h and c themselves are the module's is
    checked against ``nn.LSTM``/``nn.GRU`` separately.
    """
    rnn, H = model.rnn, model.config.hidden_size
    x = tr.embeddings.astype(np.float64)
    gates: dict = {n: [] for n in tr.gates}
    pre: dict = {n: [] for n in tr.gates}
    for k in range(model.config.num_layers):
        W_ih, W_hh, b_ih, b_hh = (
            getattr(rnn, f"{n}_l{k}").detach().double().numpy()
            for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )
        h = np.concatenate([tr.initial_hidden[None, k], tr.hidden[:-1, k]]).astype(np.float64)
        if model.cell == "lstm":  # rows i | f | g | o
            a = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh
            a_i, a_f, a_g, a_o = (a[:, j * H : (j + 1) * H] for j in range(4))
            layer_pre = {"input": a_i, "forget": a_f, "candidate": a_g, "output": a_o}
            layer_gates = {n: _sigmoid(v) for n, v in layer_pre.items()}
            layer_gates["candidate"] = np.tanh(a_g)
        else:  # GRU, rows r | z | n
            r_, z_, n_ = (slice(j * H, (j + 1) * H) for j in range(3))
            a_r = x @ W_ih[r_].T + b_ih[r_] + h @ W_hh[r_].T + b_hh[r_]
            a_z = x @ W_ih[z_].T + b_ih[z_] + h @ W_hh[z_].T + b_hh[z_]
            r = _sigmoid(a_r)
            a_n = x @ W_ih[n_].T + b_ih[n_] + r * (h @ W_hh[n_].T + b_hh[n_])
            layer_pre = {"reset": a_r, "update": a_z, "candidate": a_n}
            layer_gates = {"reset": r, "update": _sigmoid(a_z), "candidate": np.tanh(a_n)}
        for n in tr.gates:
            gates[n].append(layer_gates[n])
            pre[n].append(layer_pre[n])
        x = tr.hidden[:, k].astype(np.float64)
    stack = lambda d: {n: np.stack(v, axis=1) for n, v in d.items()}  # noqa: E731
    return stack(gates), stack(pre)


def _inversion_error(tr: Trace) -> float:
    """Largest relative error of pre-activations got back from their float32 gates by
    inverting σ and tanh (clamped at 1e-7), even with gates rounded exactly."""
    worst = 0.0
    for name, p in tr.preactivations.items():
        p = p.astype(np.float64)
        if name == "candidate":
            g = np.tanh(p).astype(np.float32).astype(np.float64)
            inv = np.arctanh(np.clip(g, -1 + 1e-7, 1 - 1e-7))
        else:
            g = np.clip(_sigmoid(p).astype(np.float32).astype(np.float64), 1e-7, 1 - 1e-7)
            inv = np.log(g / (1 - g))
        worst = max(worst, float((np.abs(inv - p) / np.maximum(1, np.abs(p))).max()))
    return worst


def assert_exact(model: SequenceModel, tr: Trace, drift: float | None = ATOL) -> None:
    """Every step's gates to 1e-5 and pre-activations to 1e-5 relative (1e-5 absolute
    near 0) of the written-out equations, its c to 1e-5 of the equation applied to its
    gates; h and c to ``drift`` of ``nn.LSTM``/``nn.GRU`` (h absolute, c relative) and
    the LSTM's h to ``drift`` of o * tanh(c). ``drift=None`` judges h against a float64
    run instead (see the saturation test).
    """
    ref_gates, ref_pre = _equations(model, tr)
    assert set(tr.preactivations) == set(tr.gates) == set(GATE_NAMES[model.cell])
    for name, p in tr.preactivations.items():
        assert p.shape == tr.gates[name].shape and p.dtype == np.float32
        np.testing.assert_allclose(p, ref_pre[name], rtol=1e-5, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(tr.gates[name], ref_gates[name], atol=ATOL, err_msg=name)
    g = {n: v.astype(np.float64) for n, v in tr.gates.items()}
    if model.cell == "lstm":  # each step's c and h from its gates
        c_prev = np.concatenate([tr.initial_cell[None], tr.cell[:-1]]).astype(np.float64)
        c = g["forget"] * c_prev + g["input"] * g["candidate"]
        np.testing.assert_allclose(tr.cell, c, rtol=1e-5, atol=ATOL)
        # h is the fused kernel's, c is scanned from the gates: they drift like nn's h
        np.testing.assert_allclose(
            tr.hidden, g["output"] * np.tanh(tr.cell), atol=5e-5 if drift is None else drift
        )
    else:
        h_prev = np.concatenate([tr.initial_hidden[None], tr.hidden[:-1]]).astype(np.float64)
        h = (1 - g["update"]) * g["candidate"] + g["update"] * h_prev
        np.testing.assert_allclose(tr.hidden, h, atol=ATOL)
    x = torch.from_numpy(tr.embeddings)[None]
    with torch.no_grad():
        out, state = model.rnn(x)
    if drift is None:  # long identical runs: judge both float32 runs against float64
        with torch.no_grad():
            out64, _ = copy.deepcopy(model.rnn).double()(x.double())
        ours = np.abs(tr.hidden[:, -1] - out64[0].numpy()).max()
        torchs = np.abs(out[0].numpy() - out64[0].numpy()).max()
        assert ours <= max(2 * torchs, 2e-5), (ours, torchs)
        return
    np.testing.assert_allclose(tr.hidden[:, -1], out[0].numpy(), atol=drift)
    if model.cell == "lstm":
        np.testing.assert_allclose(tr.cell[-1], state[1][:, 0].numpy(), rtol=drift, atol=ATOL)


SHIPPED_CELLS = [
    n for n in list_pretrained("sequence") if pretrained_card(n)["config"]["cell"] != "rnn"
]


def _ordinary_text(name: str) -> str:
    if "recall" in name:
        return recall_task(12, 1, max_lag=30)
    if "brackets" in name:
        return brackets_task(12)
    return "\n".join(PRESETS.values())


def _one_character(model: SequenceModel, ch: str) -> str:
    return (ch + " ") * 400 if isinstance(model.tokenizer, WordTokenizer) else ch * 400


@pytest.mark.parametrize(
    "name, path",
    [(n, "kernel") for n in SHIPPED_CELLS if n.startswith("lstm")]
    + [(n, "plain") for n in SHIPPED_CELLS],
)
def test_preactivations_of_shipped_models_equal_the_equations(
    name: str, path: str, monkeypatch
) -> None:
    """On ordinary text, and on long runs of one character where gates saturate: there
    float32 σ and tanh round to 0, ±1 or near, so inverting them (as a reader of the
    gates alone would) is wrong, and the stored pre-activations must not be. Both paths:
    LSTM gates from the fused kernel's workspace (pre-activations computed when first
    read), and the plain equations run on every step at once (GRU always)."""
    model = load_pretrained(name)
    if path == "plain":
        monkeypatch.setattr(fused, "lstm_layer_with_gates", lambda *a: None)
    elif not torch.backends.mkldnn.is_available():
        pytest.skip("no oneDNN here: the plain path is the only one")
    else:
        assert trace_module.kernel_gates_used(model, _ordinary_text(name))
    assert_exact(model, trace(model, _ordinary_text(name)))
    inversion_error = 0.0
    for ch in ("a", "\n", "c"):
        tr = trace(model, _one_character(model, ch))
        assert len(tr.tokens) == 400
        # 400 identical steps add the same float32 rounding 400 times (c reaches hundreds),
        # so two float32 kernels drift apart: on "c" * 400 nn.LSTM's own h ends 1.5e-4 off
        # a float64 run of lstm-char-stdlib, the trace's 9e-5. So h is held to being no
        # further from float64 than nn's own float32 h (twice that, at least 2e-5).
        assert_exact(model, tr, drift=None)
        inversion_error = max(inversion_error, _inversion_error(tr))
    # saturation is exercised: pre-activations got by inverting the gates would fail the
    # check above (an error over 2e-5 * max(1, |pre|) exceeds its rtol + atol)
    assert inversion_error > 2e-5


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_trace_without_onednn_is_just_as_exact(cell: str, monkeypatch) -> None:
    """Without oneDNN every layer's gates come from the plain equations, and are exact."""
    model = _model(cell, 2)
    text = "abc (def) gh\nabba"
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: False)
    plain = trace_module.GATE_EQUATIONS[cell]
    layers_run = []

    def spy(x, h, w):
        layers_run.append(x.shape)
        return plain(x, h, w)

    monkeypatch.setitem(trace_module.GATE_EQUATIONS, cell, spy)
    assert not trace_module.kernel_gates_used(model, text)
    tr = trace(model, text)
    assert len(layers_run) == 2  # both layers, each over all steps at once
    assert_exact(model, tr)


def _swapped_lstm_rows(x, h, w):
    """A classic slip: the gates read as i, f, o, g instead of PyTorch's i, f, g, o."""
    g, p = trace_module.lstm_gates(x, h, w)
    g["candidate"], g["output"] = torch.tanh(p["output"]), torch.sigmoid(p["candidate"])
    return g, {**p, "candidate": p["output"], "output": p["candidate"]}


def _gru_reset_outside(x, h, w):
    """Another: the reset gate applied to h before the matmul, not to W_hn h + b_hn."""
    g, p = trace_module.gru_gates(x, h, w)
    H = h.size(-1)
    n = x @ w[0][2 * H :].T + w[2][2 * H :] + (g["reset"] * h) @ w[1][2 * H :].T + w[3][2 * H :]
    return {**g, "candidate": torch.tanh(n)}, {**p, "candidate": n}


@pytest.mark.parametrize(
    "cell, broken", [("lstm", _swapped_lstm_rows), ("gru", _gru_reset_outside)]
)
def test_the_exactness_check_fails_on_a_broken_plain_path(cell: str, broken, monkeypatch) -> None:
    """The test above can fail: with a plain path that is wrong, it does."""
    model = _model(cell, 2)
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: False)
    monkeypatch.setitem(trace_module.GATE_EQUATIONS, cell, broken)
    with pytest.raises(AssertionError):
        assert_exact(model, trace(model, "abc (def) gh\nabba"))


def test_kernel_preactivations_use_the_weights_of_the_trace(monkeypatch) -> None:
    """Pre-activations computed on first read use the weights as they were when traced,
    survive pickling, and are computed once."""
    model = _model("lstm", 2, H=16)
    text = "abc (def) gh\nabba cafe"
    tr = trace(model, text)
    expected = _equations(model, tr)[1]
    with torch.no_grad():  # a training step after the trace must not leak into it
        for p in model.rnn.parameters():
            p.add_(1.0)
    calls = []
    plain = trace_module.lstm_preactivations
    monkeypatch.setattr(
        trace_module, "lstm_preactivations", lambda *a: calls.append(1) or plain(*a)
    )
    copy = pickle.loads(pickle.dumps(tr))
    for name, p in tr.preactivations.items():
        np.testing.assert_allclose(p, expected[name], rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(copy.preactivations[name], p)
    if torch.backends.mkldnn.is_available():
        assert len(calls) == 2  # layer by layer, once, on the first read (here: pickling)


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
    if not torch.backends.mkldnn.is_available():
        pytest.skip("no oneDNN here: the recompute path is used")
    model = load_pretrained("lstm-char-stdlib")
    for t in PRESETS.values() if text == "preset" else [text]:
        assert trace_module.kernel_gates_used(model, t)
