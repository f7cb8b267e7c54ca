"""Exact internals of a ``SequenceModel`` for every step: h, c, every gate, probabilities.

The equations first, in PyTorch's conventions (``W_*`` are the rows of ``weight_ih_l{k}``
and ``weight_hh_l{k}`` in PyTorch's gate order: i f g o for the LSTM, r z n for the GRU).
Pre-activations are the values inside σ or tanh; ``Trace`` keeps both::

    LSTM  i = σ(W_ii x + b_ii + W_hi h + b_hi)      GRU  r = σ(W_ir x + b_ir + W_hr h + b_hr)
          f = σ(W_if x + b_if + W_hf h + b_hf)           z = σ(W_iz x + b_iz + W_hz h + b_hz)
          g = tanh(W_ig x + b_ig + W_hg h + b_hg)        n = tanh(W_in x + b_in + r*(W_hn h + b_hn))
          o = σ(W_io x + b_io + W_ho h + b_ho)           h' = (1 - z) * n + z * h
          c' = f * c + i * g,  h' = o * tanh(c')     RNN  h' = tanh(W_ih x + b_ih + W_hh h + b_hh)

GRU note: in PyTorch an update gate z near 1 *keeps* the old state, the opposite of many
diagrams. Gate names: LSTM input/forget/candidate/output, GRU reset/update/candidate
(candidate = n), RNN none.

``lstm_gates``, ``gru_gates`` and the ``*_step`` functions below are these equations as
code, and the reference for everything else. How ``trace`` computes them fast:

- Each layer's recurrence runs in PyTorch's own fused kernel, so h *is* the module's h.
- The gates at step t depend only on the layer input x_t and h_{t-1}, both known once the
  fused run is done, so the reference gate equations run for all steps at once (one
  batched matmul). For an LSTM on CPU the kernel's oneDNN workspace already holds the
  gates (``autoreg.seq.fused``); they are used when they rebuild the kernel's own c and h,
  checked on every call, and the pre-activations of those layers are then computed from
  the same equations when first read (``Preactivations``).
- The LSTM c_t = f_t * c_{t-1} + i_t * g_t is an elementwise recurrence, scanned in
  blocks (``cell_states``). ``bench_trace_overhead`` measures the whole trace against a
  bare forward.

Arrays in ``Trace`` are NumPy float32 (ids int64): the page layer caches, slices and
plots them, and NumPy arrays pickle cheaply and cannot carry autograd graphs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from autoreg.seq import fused
from autoreg.seq.model import SequenceConfig, SequenceModel

GATE_NAMES = {
    "lstm": ("input", "forget", "candidate", "output"),
    "gru": ("reset", "update", "candidate"),
    "rnn": (),
}

Weights = list[torch.Tensor]  # [W_ih, W_hh, b_ih, b_hh] of one layer, PyTorch's layout
Gates = dict[str, torch.Tensor]

# ---------------------------------------------------------------------------------------
# The reference equations. Each takes one step (x (in,), h (H,)) or many independent steps
# at once (x (T, in), h (T, H)); they return (gates, pre-activations), or the new state.
# ---------------------------------------------------------------------------------------


def lstm_preactivations(x: torch.Tensor, h: torch.Tensor, w: Weights) -> Gates:
    """pre = W_i* x + b_i* + W_h* h + b_h* for each gate * in i, f, g, o."""
    w_ih, w_hh, b_ih, b_hh = w
    blocks = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, -1)  # i | f | g | o
    return dict(zip(GATE_NAMES["lstm"], blocks, strict=True))


def lstm_gates(x: torch.Tensor, h: torch.Tensor, w: Weights) -> tuple[Gates, Gates]:
    """i, f, o = σ(pre), g = tanh(pre)."""
    pre = lstm_preactivations(x, h, w)
    gates = {n: torch.tanh(p) if n == "candidate" else torch.sigmoid(p) for n, p in pre.items()}
    return gates, pre


def lstm_step(
    x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, w: Weights
) -> tuple[torch.Tensor, torch.Tensor]:
    """c' = f * c + i * g, h' = o * tanh(c')."""
    g, _ = lstm_gates(x, h, w)
    c = g["forget"] * c + g["input"] * g["candidate"]
    return g["output"] * torch.tanh(c), c


def gru_gates(x: torch.Tensor, h: torch.Tensor, w: Weights) -> tuple[Gates, Gates]:
    """r, z = σ(pre), n = tanh(W_in x + b_in + r * (W_hn h + b_hn))."""
    w_ih, w_hh, b_ih, b_hh = w
    x_r, x_z, x_n = (x @ w_ih.T + b_ih).chunk(3, -1)
    h_r, h_z, h_n = (h @ w_hh.T + b_hh).chunk(3, -1)
    pre = {"reset": x_r + h_r, "update": x_z + h_z}
    r = torch.sigmoid(pre["reset"])
    pre["candidate"] = x_n + r * h_n
    gates = {"reset": r, "update": torch.sigmoid(pre["update"])}
    gates["candidate"] = torch.tanh(pre["candidate"])
    return gates, pre


def gru_step(x: torch.Tensor, h: torch.Tensor, w: Weights) -> torch.Tensor:
    """h' = (1 - z) * n + z * h."""
    g, _ = gru_gates(x, h, w)
    return (1 - g["update"]) * g["candidate"] + g["update"] * h


def rnn_step(x: torch.Tensor, h: torch.Tensor, w: Weights) -> torch.Tensor:
    """h' = tanh(W_ih x + b_ih + W_hh h + b_hh)."""
    w_ih, w_hh, b_ih, b_hh = w
    return torch.tanh(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh)


GATE_EQUATIONS = {"lstm": lstm_gates, "gru": gru_gates}

# ---------------------------------------------------------------------------------------
# The trace
# ---------------------------------------------------------------------------------------


class Preactivations(Mapping):
    """Gate name -> (T, L, H) float32 pre-activation, the value before σ or tanh.

    Layers whose gates were recomputed store their pre-activations from that same call
    (``lstm_gates``/``gru_gates``). LSTM layers whose gates came from the fused kernel's
    workspace (``autoreg.seq.fused``) have none there: the workspace keeps only the
    values after σ and tanh. Theirs take the batched matmul the recompute would, about
    half a forward pass, so they are computed by ``lstm_preactivations`` the first time
    any key is read, from the trace's own inputs and a copy of the weights, and kept.
    Reading never changes a value once given, is safe from several threads, and a pickled
    copy carries the computed arrays.
    """

    def __init__(
        self, cell: str, T: int, L: int, H: int, hidden: np.ndarray, h0: np.ndarray
    ) -> None:
        self._arrays = {n: np.empty((T, L, H), np.float32) for n in GATE_NAMES[cell]}
        self._cell, self._hidden, self._h0 = cell, hidden, h0
        self._pending: dict[int, tuple[np.ndarray, tuple[np.ndarray, ...]]] = {}
        self._lock = threading.Lock()

    def _store(self, layer: int, pre: Gates) -> None:
        for name, value in pre.items():
            self._arrays[name][:, layer] = value.numpy()

    def _defer(self, layer: int, x: np.ndarray, w: Weights) -> None:
        self._pending[layer] = (x, tuple(p.detach().numpy().copy() for p in w))

    def _fill(self) -> None:
        with self._lock:
            for layer, (x, w) in sorted(self._pending.items()):
                h_prev = np.concatenate([self._h0[layer][None], self._hidden[:-1, layer]])
                with torch.no_grad():  # only LSTM layers are deferred
                    pre = lstm_preactivations(
                        torch.from_numpy(x),
                        torch.from_numpy(h_prev),
                        [torch.from_numpy(p) for p in w],
                    )
                self._store(layer, pre)
            self._pending = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if self._pending:
            self._fill()
        return self._arrays[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def __repr__(self) -> str:
        return f"Preactivations({list(self._arrays)}, computed={not self._pending})"

    def __getstate__(self) -> dict:
        if self._pending:
            self._fill()
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


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
    # name -> (T, L, H) value before σ/tanh, same keys as ``gates`` (``Preactivations``)
    preactivations: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def surprise_bits(self) -> np.ndarray:
        """(T,) per-step surprise -log2 p(next token); NaN where the next token is unknown."""
        return self.loss / np.log(2.0)

    def top_k(self, t: int, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Ids and probabilities of the k most likely next tokens after step ``t``."""
        order = np.argsort(-self.probs[t])[:k]
        return order, self.probs[t, order]


def _layer_weights(rnn: torch.nn.RNNBase, layer: int) -> Weights:
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


SCAN_BLOCK = 16  # steps per block of the LSTM cell-state scan


def cell_states(gates: Gates, c0: torch.Tensor, out: np.ndarray) -> None:
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


def _kernel_gates(x, h, c, w, cell_out: np.ndarray):
    """(out (T, H), gates) from the fused kernel's workspace, c scanned into ``cell_out``.

    None when the kernel is not available here; gates None when they fail
    ``fused.gates_check`` (the caller then recomputes them).
    """
    run = fused.lstm_layer_with_gates(x, h, c, w)
    if run is None:
        return None
    out, c_n, gates = run
    cell_states(gates, c[0, 0], cell_out)
    return out, gates if fused.gates_check(gates, cell_out, out.numpy(), c_n) else None


@torch.no_grad()
def trace(
    model: SequenceModel,
    text_or_ids: str | list[int] | torch.Tensor,
    state: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None,
) -> Trace:
    """Read ``text_or_ids`` with ``model`` (in eval mode) and record every internal value.

    Layer by layer, PyTorch's fused kernel runs the recurrence (so h is the module's own
    h). LSTM gates come from that kernel's oneDNN workspace when it is available and
    passes its check; otherwise, and for the GRU, the reference gate equations run on
    every step at once from the fused outputs. The LSTM c is then scanned from the gates
    (``cell_states``), and the head gives logits, probabilities and per-step loss.

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
        initial_hidden = h0[:, 0].numpy().copy()
        pre = Preactivations(cfg.cell, T, L, H, hidden, initial_hidden)
        x = emb
        for i in range(L):
            w = _layer_weights(model.rnn, i)
            h_i = h0[i : i + 1]
            c_i = c0[i : i + 1] if c0 is not None else None
            kernel = _kernel_gates(x[None], h_i, c_i, w, cell[:, i]) if c_i is not None else None
            if kernel is None:
                out, g = _fused_layer(cfg.cell, x[None], h_i, c_i, w)[0][0], None
            else:
                out, g = kernel  # g is None when the workspace failed its check
            hidden[:, i] = out.numpy()
            if g is not None:
                pre._defer(i, x.numpy(), w)
            elif cfg.cell != "rnn":
                h_prev = torch.cat([h_i[0], out[:-1]], dim=0)  # (T, H): h_{t-1}
                g, p = GATE_EQUATIONS[cfg.cell](x, h_prev, w)  # every step at once
                pre._store(i, p)
                if cfg.cell == "lstm":
                    cell_states(g, c_i[0, 0], cell[:, i])
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
        initial_hidden=initial_hidden,
        initial_cell=c0[:, 0].numpy().copy() if c0 is not None else None,
        logits=logits.numpy(),
        probs=logp.exp().numpy(),
        loss=loss.numpy(),
        preactivations=pre,
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
        kernel = _kernel_gates(x, h, c, _layer_weights(model.rnn, 0), cell)
        return kernel is not None and kernel[1] is not None
