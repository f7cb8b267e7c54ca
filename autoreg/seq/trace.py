"""Exact internals of a ``SequenceModel`` for every step: h, c, every gate, probabilities.

``trace(model, text_or_ids)`` runs PyTorch's fused kernels one layer at a time, so each
layer's full output sequence is available, not only the top one, and h *is* the fused
module's h. The gates come from one of two places:

- LSTM on CPU: oneDNN's fused kernel keeps every step's gates in a workspace when run in
  training mode, so the forward that gives h gives the gates too, at no extra cost. The
  layout is oneDNN's, so every trace checks that those gates rebuild the kernel's own c
  and h (``_gates_check``) before it uses them.
- Otherwise (GRU, or when that check fails): the gates at step t depend only on the
  layer input x_t and the previous output h_{t-1}, both known once the fused run is
  done, so they are recomputed for all steps in one batched matmul (``_gates``).

Only the LSTM cell state is then left, c_t = f_t * c_{t-1} + i_t * g_t, an elementwise
recurrence scanned in blocks (``_cell_states``). ``bench_trace_overhead`` measures the
whole trace against a bare forward.

Equations (PyTorch's conventions, all post-activation values are what ``Trace`` stores)::

    LSTM  i = σ(W_ii x + b_ii + W_hi h + b_hi)      GRU  r = σ(W_ir x + b_ir + W_hr h + b_hr)
          f = σ(W_if x + b_if + W_hf h + b_hf)           z = σ(W_iz x + b_iz + W_hz h + b_hz)
          g = tanh(W_ig x + b_ig + W_hg h + b_hg)        n = tanh(W_in x + b_in + r*(W_hn h + b_hn))
          o = σ(W_io x + b_io + W_ho h + b_ho)           h' = (1 - z) * n + z * h
          c' = f * c + i * g,  h' = o * tanh(c')     RNN  h' = tanh(W_ih x + b_ih + W_hh h + b_hh)

GRU note: in PyTorch an update gate z near 1 *keeps* the old state, the opposite of many
diagrams. Gate names in ``Trace.gates``: LSTM input/forget/candidate/output, GRU
reset/update/candidate (candidate = n), RNN none.

Arrays in ``Trace`` are NumPy float32 (ids int64): the page layer caches, slices and
plots them, and NumPy arrays pickle cheaply and cannot carry autograd graphs.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from autoreg.seq.model import SequenceConfig, SequenceModel

GATE_NAMES = {
    "lstm": ("input", "forget", "candidate", "output"),
    "gru": ("reset", "update", "candidate"),
    "rnn": (),
}


@dataclass(frozen=True)
class Trace:
    """Everything the model computed while reading ``tokens``; T steps, L layers, H units."""

    cell_type: str  # "rnn" | "lstm" | "gru"
    tokens: list[str]  # T token strings
    ids: np.ndarray  # (T,) int64
    embeddings: np.ndarray  # (T, E) the embedding vector of each input token
    hidden: np.ndarray  # (T, L, H) h_t after each step, per layer
    cell: np.ndarray | None  # (T, L, H) LSTM c_t; None for RNN and GRU
    gates: dict[str, np.ndarray]  # name -> (T, L, H) post-activation; {} for RNN
    initial_hidden: np.ndarray  # (L, H) h before the first step (zeros by default)
    initial_cell: np.ndarray | None  # (L, H) LSTM c before the first step
    logits: np.ndarray  # (T, V) next-token logits after each step
    probs: np.ndarray  # (T, V) softmax(logits)
    loss: np.ndarray  # (T,) -ln p(next token) in nats; NaN at the end and where next is <unk>

    @property
    def surprise_bits(self) -> np.ndarray:
        """(T,) per-step surprise -log2 p(next token); NaN where the next token is unknown."""
        return self.loss / np.log(2.0)

    def top_k(self, t: int, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Ids and probabilities of the k most likely next tokens after step ``t``."""
        order = np.argsort(-self.probs[t])[:k]
        return order, self.probs[t, order]


def _layer_weights(rnn: torch.nn.RNNBase, layer: int) -> list[torch.Tensor]:
    """[W_ih, W_hh, b_ih, b_hh] of one layer of a fused module (PyTorch's flat order)."""
    return [getattr(rnn, f"{n}_l{layer}") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


def _fused_layer(cell: str, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None, w):
    """PyTorch's own fused kernel for one layer: x (1, t, in) -> out (1, t, H), h_n, c_n."""
    if cell == "lstm":
        out, h_n, c_n = torch.lstm(x, (h, c), w, True, 1, 0.0, False, False, True)
        return out, h_n, c_n
    fn = torch.gru if cell == "gru" else torch.rnn_tanh
    out, h_n = fn(x, h, w, True, 1, 0.0, False, False, True)
    return out, h_n, None


def run_layers(
    model: SequenceModel, x: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor | None
) -> list[torch.Tensor]:
    """Each layer's output sequence, (1, T, H) per layer, from the fused kernels (eval mode).

    Running the layers one at a time with PyTorch's own ``torch.lstm/gru/rnn_tanh`` gives
    what the multi-layer module computes, and exposes every layer's inputs.
    """
    outs = []
    for layer in range(model.config.num_layers):
        c = c0[layer : layer + 1] if c0 is not None else None
        x, _, _ = _fused_layer(
            model.cell, x, h0[layer : layer + 1], c, _layer_weights(model.rnn, layer)
        )
        outs.append(x)
    return outs


def _lstm_perm(H: int) -> torch.Tensor:
    """Row order i, f, o, g: the three sigmoid gates side by side, the tanh block last."""
    return torch.cat(
        [torch.arange(0, 2 * H), torch.arange(3 * H, 4 * H), torch.arange(2 * H, 3 * H)]
    )


class _Layer:
    """One layer's weights prepared for the batched gate recompute.

    LSTM rows are permuted to i, f, o, g (``_lstm_perm``) so one in-place sigmoid and one
    in-place tanh cover contiguous blocks. The recurrent matmul goes through oneDNN when
    PyTorch has it (about twice the speed of the default BLAS on some CPUs; full fp32).
    """

    def __init__(self, model: SequenceModel, layer: int) -> None:
        w_ih, w_hh, b_ih, b_hh = _layer_weights(model.rnn, layer)
        self.cell = model.cell
        H = w_hh.size(1)
        if self.cell == "lstm":
            perm = _lstm_perm(H)
            w_ih, w_hh, b_ih, b_hh = w_ih[perm], w_hh[perm], (b_ih + b_hh)[perm], None
        self.w_ih, self.w_hh, self.b_ih, self.b_hh = w_ih, w_hh, b_ih, b_hh
        self.fast = torch.backends.mkldnn.is_available() and w_hh.device.type == "cpu"
        self.w_hh_fast = w_hh.to_mkldnn() if self.fast else None
        # layer 0 reads embeddings: its input part at step t is row ids[t] of a (V, k*H) table
        self.table = torch.addmm(b_ih, model.embed.weight, w_ih.t()) if layer == 0 else None

    def input_part(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """W_ih x_t + bias for a run of steps: (t, k*H)."""
        if self.table is not None:
            return self.table.index_select(0, idx)
        return torch.addmm(self.b_ih, x, self.w_ih.t())

    def recurrent_part(self, h_prev: torch.Tensor) -> torch.Tensor:
        """W_hh h_{t-1} (+ b_hh for the GRU) for a run of steps: (t, k*H)."""
        if self.fast:
            x = h_prev.contiguous().to_mkldnn()
            return torch._C._nn.mkldnn_linear(x, self.w_hh_fast, self.b_hh).to_dense()
        if self.b_hh is None:
            return torch.mm(h_prev, self.w_hh.t())
        return torch.addmm(self.b_hh, h_prev, self.w_hh.t())


_PREPARED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _prepared_layers(model: SequenceModel) -> list[_Layer]:
    """``_Layer`` for every layer, reused while the weights are unchanged.

    Preparing costs about as much as the gate nonlinearities (weight permutation, oneDNN
    layout, the embedding table), so it is cached per model. The key holds every
    parameter's storage and in-place version counter: any optimiser step or
    ``load_state_dict`` bumps a version, so a trained model is never traced with stale
    weights. The cache only reads the model; it never changes it.
    """
    key = tuple((p.data_ptr(), p._version) for p in model.parameters())
    hit = _PREPARED.get(model)
    if hit is not None and hit[0] == key:
        return hit[1]
    layers = [_Layer(model, i) for i in range(model.config.num_layers)]
    _PREPARED[model] = (key, layers)
    return layers


def _gates(layer: _Layer, gi: torch.Tensor, h_prev: torch.Tensor) -> dict:
    """Post-activation gates for a run of steps at once; gi (t, k*H), h_prev (t, H) -> (t, H).

    One matmul covers every step: the recurrence is already resolved (h_prev comes from
    the fused run), so the only sequential work left is the LSTM's c.
    """
    H = h_prev.size(1)
    gh = layer.recurrent_part(h_prev)  # (t, k*H)
    if layer.cell == "lstm":
        pre = gh.add_(gi)  # (t, 4H), rows permuted to i, f, o, g
        # tanh(x) = 2σ(2x) - 1 (to 2e-7): one sigmoid pass covers all four blocks, and
        # PyTorch's CPU sigmoid is several times faster than its tanh
        pre[:, 3 * H :].mul_(2)
        pre.sigmoid_()
        pre[:, 3 * H :].mul_(2).sub_(1)
        return {
            "input": pre[:, :H],
            "forget": pre[:, H : 2 * H],
            "candidate": pre[:, 3 * H :],
            "output": pre[:, 2 * H : 3 * H],
        }
    ir, iz, inn = gi.chunk(3, dim=1)
    hr, hz, hn = gh.chunk(3, dim=1)
    r = torch.sigmoid(ir + hr)
    return {"reset": r, "update": torch.sigmoid(iz + hz), "candidate": torch.tanh(inn + r * hn)}


SCAN_BLOCK = 16  # steps per block of the LSTM cell-state scan


def _cell_states(gates: dict, c0: torch.Tensor, out: np.ndarray) -> None:
    """LSTM c_t = f_t * c_{t-1} + i_t * g_t for a run of steps, written into ``out`` (t, H).

    The only sequential part of the trace. It is an elementwise affine recurrence, so it
    is scanned in blocks of K steps: every block first runs from c = 0 (all blocks at
    once, K vectorised steps), then the block starts are chained (t / K cheap steps), and
    each block adds its true start times the running product of its forget gates:
    c_t = local_t + (f_s+1 ... f_t) * c_s. Products only, no division, so no overflow.
    """
    f = gates["forget"].numpy()
    u = (gates["input"] * gates["candidate"]).numpy()  # (t, H)
    t, H = u.shape
    K = SCAN_BLOCK
    nb = -(-t // K)
    pad = nb * K - t
    if pad:  # pad with f = 1, u = 0: the padded steps leave c unchanged
        f = np.concatenate([f, np.ones((pad, H), np.float32)])
        u = np.concatenate([u, np.zeros((pad, H), np.float32)])
    f = f.reshape(nb, K, H).transpose(1, 0, 2)  # (K, nb, H): step k of every block
    u = u.reshape(nb, K, H).transpose(1, 0, 2)
    local = np.empty((K, nb, H), np.float32)
    prod = np.empty((K, nb, H), np.float32)
    local[0], prod[0] = u[0], f[0]
    for k in range(1, K):
        np.multiply(f[k], local[k - 1], out=local[k])
        local[k] += u[k]
        np.multiply(f[k], prod[k - 1], out=prod[k])
    start = np.empty((nb, H), np.float32)  # c just before each block
    start[0] = c0.numpy()
    for b in range(1, nb):
        np.multiply(prod[K - 1, b - 1], start[b - 1], out=start[b])
        start[b] += local[K - 1, b - 1]
    c = local + prod * start[None]  # (K, nb, H)
    out[:] = c.transpose(1, 0, 2).reshape(nb * K, H)[:t]


def _good_ld(n: int) -> int:
    """oneDNN's row stride for n floats: 64-byte aligned, and never a multiple of 256.

    (``get_good_ld`` in oneDNN's RNN code; the second rule avoids 4K cache aliasing.)
    """
    ld = -(-n // 16) * 16
    return ld + 16 if ld % 256 == 0 else ld


def _lstm_layer_with_gates(
    x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, w: list[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """One LSTM layer through oneDNN's fused kernel, keeping the gates it computed.

    In training mode oneDNN stores every step's post-activation gates (i, f, g, o, rows
    ``_good_ld(4H)`` floats apart) in a workspace for the backward pass, so the fused
    forward hands them over for free; recomputing them costs a (T, H) x (H, 4H) matmul
    and the nonlinearities, about half as much again as the forward itself. The layout
    is oneDNN's, so ``trace`` checks it on every call (``_gates_check``) and falls back
    to the recompute when it does not hold. Returns out (T, H), c_n (H,) and the gates
    (T, 4H), or None when the kernel is not available here.
    """
    if not torch.backends.mkldnn.is_available() or x.device.type != "cpu":
        return None
    T, H = x.size(1), h.size(-1)
    try:
        with torch.enable_grad():  # the workspace is only kept when autograd is on
            out, _, c_n, ws = torch.ops.aten.mkldnn_rnn_layer(
                # the op reads raw memory as dense: every input must be contiguous
                x[0].unsqueeze(1).contiguous(),  # (T, batch 1, in)
                *(p.detach().contiguous() for p in w),
                h[0].contiguous(),
                c[0].contiguous(),
                False,  # reverse
                [],  # batch_sizes (not packed)
                2,  # mode: LSTM
                H,
                1,  # num_layers
                True,  # has_biases
                False,  # bidirectional
                False,  # batch_first
                True,  # train: keep the workspace
            )
    except (RuntimeError, AttributeError):
        return None
    ld = _good_ld(4 * H)
    if ws is None or ws.dtype != torch.uint8 or ws.numel() < 4 * T * ld:
        return None
    gates = ws[: 4 * T * ld].view(torch.float32).view(T, ld)[:, : 4 * H]
    return out[:, 0], c_n.reshape(H), gates


def _gates_check(gates: dict, cell: np.ndarray, hidden: np.ndarray, c_n: torch.Tensor) -> bool:
    """Whether workspace gates rebuild the fused kernel's own states.

    c is scanned from f, i and g, so its last value equals the kernel's c_n only if
    f and the product i*g are right at every step; i is told from g by its range (a
    sigmoid is never negative, a tanh candidate is), and o is checked through
    h = o * tanh(c) at a few steps. Tolerances are relative as well as absolute: a
    trained cell state reaches hundreds, where float32 rounding alone exceeds 1e-5,
    while a wrong layout is off by order one.
    """
    T = cell.shape[0]
    if not np.allclose(cell[-1], c_n.reshape(-1).numpy(), atol=1e-5, rtol=1e-4):
        return False
    if float(gates["input"].min()) < 0:
        return False
    steps = sorted({0, T // 2, T - 1})
    o = gates["output"][steps].numpy()
    return bool(np.allclose(o * np.tanh(cell[steps]), hidden[steps], atol=1e-5, rtol=1e-4))


def _kernel_lstm_layer(
    x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, w: list[torch.Tensor], cell_out: np.ndarray
) -> tuple[torch.Tensor, dict | None] | None:
    """One LSTM layer with the kernel's own gates: (out (T, H), gates or None), c in ``cell_out``.

    None when the kernel is not available here; gates None when they fail ``_gates_check``.
    """
    fused = _lstm_layer_with_gates(x, h, c, w)
    if fused is None:
        return None
    out, c_n, pre = fused
    gates = dict(zip(GATE_NAMES["lstm"], pre.chunk(4, dim=1), strict=True))
    _cell_states(gates, c[0, 0], cell_out)
    return out, gates if _gates_check(gates, cell_out, out.numpy(), c_n) else None


def _recomputed_gates(model, i: int, x: torch.Tensor, idx: torch.Tensor, out, h_start) -> dict:
    """Gates of layer i from the fused outputs by one batched matmul (``_gates``)."""
    layer = _prepared_layers(model)[i]
    h_prev = torch.cat([h_start, out[:-1]], dim=0)  # (T, H): h_{t-1}
    return _gates(layer, layer.input_part(x, idx), h_prev)


@torch.no_grad()
def trace(
    model: SequenceModel,
    text_or_ids: str | list[int] | torch.Tensor,
    state: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None,
) -> Trace:
    """Read ``text_or_ids`` with ``model`` (in eval mode) and record every internal value.

    Layer by layer, PyTorch's fused kernel runs the recurrence (so h is the module's own
    h). LSTM gates come from that kernel's oneDNN workspace when it is available and
    passes ``_gates_check``; otherwise, and for the GRU, every gate is recomputed from
    the fused outputs in one batched matmul. The LSTM c is then scanned from the gates
    (``_cell_states``), and the head gives logits, probabilities and per-step loss.

    Args:
        model: a ``SequenceModel`` (its tokenizer is used for text).
        text_or_ids: text, or token ids in ``0..vocab_size-1``.
        state: optional initial state (``model.init_state(1)`` layout); zeros by default.

    Raises:
        ValueError: for empty input, ids outside the vocabulary, or a state of the wrong
            shape.
    """
    ids = model.encode(text_or_ids)
    if not ids:
        raise ValueError("Nothing to trace: the input is empty.")
    was_training = model.training
    model.eval()
    try:
        cfg: SequenceConfig = model.config
        T, L, H = len(ids), cfg.num_layers, cfg.hidden_size
        idx = torch.tensor(ids, dtype=torch.long, device=model.head.weight.device)
        state = model.init_state(1) if state is None else state
        h0, c0 = state if cfg.cell == "lstm" else (state, None)
        for s in (h0, c0) if c0 is not None else (h0,):
            if tuple(s.shape) != (L, 1, H):
                raise ValueError(
                    f"A state must be (layers, 1, hidden) = {(L, 1, H)}, got {tuple(s.shape)}."
                )
        emb = model.embed(idx)  # (T, E)
        hidden = np.empty((T, L, H), np.float32)
        cell = np.empty((T, L, H), np.float32) if cfg.cell == "lstm" else None
        gates = {n: np.empty((T, L, H), np.float32) for n in GATE_NAMES[cfg.cell]}
        x = emb
        for i in range(L):
            w = _layer_weights(model.rnn, i)
            h_i = h0[i : i + 1]
            c_i = c0[i : i + 1] if c0 is not None else None
            kernel = (
                _kernel_lstm_layer(x[None], h_i, c_i, w, cell[:, i]) if c_i is not None else None
            )
            if kernel is None:
                out, g = _fused_layer(cfg.cell, x[None], h_i, c_i, w)[0][0], None
            else:
                out, g = kernel  # g is None when the workspace failed its check
            hidden[:, i] = out.numpy()
            if g is None and cfg.cell != "rnn":
                g = _recomputed_gates(model, i, x, idx, out, h_i[0])
                if cfg.cell == "lstm":
                    _cell_states(g, c_i[0, 0], cell[:, i])
            for name, value in (g or {}).items():
                gates[name][:, i] = value.numpy()
            x = out
        logits = model.head(x)  # (T, V)
        logp = F.log_softmax(logits, dim=-1)
        nxt = idx[1:]  # the token each step predicts; none after the last
        loss = torch.full((T,), float("nan"))
        step_loss = -logp[:-1].gather(1, nxt.unsqueeze(1)).squeeze(1)
        loss[:-1] = torch.where(nxt == 0, torch.nan, step_loss)
    finally:
        model.train(was_training)
    return Trace(
        cell_type=cfg.cell,
        tokens=model.token_strings(ids),
        ids=np.asarray(ids, dtype=np.int64),
        embeddings=emb.numpy(),
        hidden=hidden,
        cell=cell,
        gates=gates,
        initial_hidden=h0[:, 0].numpy().copy(),
        initial_cell=c0[:, 0].numpy().copy() if c0 is not None else None,
        logits=logits.numpy(),
        probs=logp.exp().numpy(),
        loss=loss.numpy(),
    )


def kernel_gates_used(model: SequenceModel, text_or_ids: str | list[int]) -> bool:
    """Whether ``trace`` takes this LSTM's layer-0 gates from the fused kernel here.

    For the benchmark's report and the tests: the recompute fallback gives the same
    numbers, so only this tells which path ran.
    """
    if model.cell != "lstm":
        return False
    with torch.no_grad():
        x = model.embed(torch.tensor(model.encode(text_or_ids)))[None]
        h, c = (s[:1] for s in model.init_state(1))
        cell = np.empty((x.size(1), model.config.hidden_size), np.float32)
        kernel = _kernel_lstm_layer(x, h, c, _layer_weights(model.rnn, 0), cell)
        return kernel is not None and kernel[1] is not None
