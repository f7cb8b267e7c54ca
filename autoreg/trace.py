"""Exact internals of a ``SequenceModel`` for every step: h, c, every gate, probabilities.

``trace(model, text_or_ids)`` runs PyTorch's fused kernels one layer at a time (so each
layer's full output sequence is available, not only the top one), then recomputes every
gate from those outputs in a few batched matmuls: the gates at step t depend only on the
layer input x_t and the previous output h_{t-1}, and both are known once the fused run is
done. Only the LSTM cell state needs a recurrence, c_t = f_t * c_{t-1} + i_t * g_t, and
that is elementwise (one fused multiply-add per step). So the trace is exact (it *is* the
fused module's h) and costs little more than a bare forward (``bench_trace_overhead``).

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

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from autoreg.sequence import SequenceConfig, SequenceModel

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


def _input_table(model: SequenceModel) -> torch.Tensor:
    """W_ih e_v + bias for every token v: (V, k*H), layer 0's input part by lookup.

    Layer 0 reads embeddings, so its input part at step t is row ids[t] of this table,
    far cheaper than a (T, E) x (E, k*H) matmul when V is small. The GRU keeps b_hh apart
    (its candidate multiplies r by W_hn h + b_hn), the LSTM folds both biases in.
    """
    w_ih, _, b_ih, b_hh = _layer_weights(model.rnn, 0)
    bias = b_ih if model.cell == "gru" else b_ih + b_hh
    return torch.addmm(bias, model.embed.weight, w_ih.t())


def _gates(cell: str, gi: torch.Tensor, h_prev: torch.Tensor, w: list[torch.Tensor]) -> dict:
    """Post-activation gates for a run of steps at once; gi (t, k*H), h_prev (t, H) -> (t, H).

    One matmul covers every step: the recurrence is already resolved (h_prev comes from
    the fused run), so the only sequential work left is the LSTM's c.
    """
    _, w_hh, _, b_hh = w
    H = h_prev.size(1)
    if cell == "lstm":
        pre = gi.addmm_(h_prev, w_hh.t())  # (t, 4H); PyTorch's column blocks: i, f, g, o
        g = torch.tanh(pre[:, 2 * H : 3 * H])
        act = pre.sigmoid_()  # i, f, o in place (the g block is overwritten but unused)
        return {
            "input": act[:, :H],
            "forget": act[:, H : 2 * H],
            "candidate": g,
            "output": act[:, 3 * H :],
        }
    gh = torch.addmm(b_hh, h_prev, w_hh.t())  # (t, 3H): recurrent part, kept apart for r*
    ir, iz, inn = gi.chunk(3, dim=1)
    hr, hz, hn = gh.chunk(3, dim=1)
    r = torch.sigmoid(ir + hr)
    return {"reset": r, "update": torch.sigmoid(iz + hz), "candidate": torch.tanh(inn + r * hn)}


def _cell_states(gates: dict, c0: torch.Tensor, out: np.ndarray) -> None:
    """LSTM c_t = f_t * c_{t-1} + i_t * g_t for a run of steps, written into ``out`` (t, H).

    The only sequential part of the trace, and it is elementwise: a NumPy loop of two
    in-place ufuncs per step costs about a microsecond each (a torch op costs several).
    """
    f = np.ascontiguousarray(gates["forget"].numpy())
    u = (gates["input"] * gates["candidate"]).numpy()  # (t, H)
    c = np.empty_like(u)
    prev = c0.numpy()
    for t in range(u.shape[0]):
        np.multiply(f[t], prev, out=c[t])
        np.add(c[t], u[t], out=c[t])
        prev = c[t]
    out[:] = c


CHUNK = 128  # steps per pipelined chunk (see ``trace``)


@dataclass
class _Buffers:
    """Preallocated outputs that chunk workers fill in place; (T, L, H) unless noted."""

    hidden: np.ndarray
    cell: np.ndarray | None
    gates: dict[str, np.ndarray]
    logits: torch.Tensor  # (T, V)


@torch.no_grad()  # grad mode is thread-local: the worker needs its own
def _fill_chunk(model, t0: int, idx: torch.Tensor, layers: list, table, buf: _Buffers) -> None:
    """Gates, c and logits of steps t0..t0+t from the fused outputs of that chunk."""
    cell = model.cell
    for layer, (x, out, h_start, c_start) in enumerate(layers):
        t1 = t0 + out.size(0)
        buf.hidden[t0:t1, layer] = out.numpy()
        if cell == "rnn":
            continue
        w = _layer_weights(model.rnn, layer)
        h_prev = torch.cat([h_start, out[:-1]], dim=0)  # (t, H): h_{t-1}
        if layer == 0:
            gi = table.index_select(0, idx)  # (t, k*H)
        else:
            gi = torch.addmm(w[2] if cell == "gru" else w[2] + w[3], x, w[0].t())
        g = _gates(cell, gi, h_prev, w)
        for name, value in g.items():
            buf.gates[name][t0:t1, layer] = value.numpy()
        if cell == "lstm":
            _cell_states(g, c_start[0], buf.cell[t0:t1, layer])
    buf.logits[t0 : t0 + layers[-1][1].size(0)] = model.head(layers[-1][1])


@torch.no_grad()
def trace(
    model: SequenceModel,
    text_or_ids: str | list[int] | torch.Tensor,
    state: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None,
) -> Trace:
    """Read ``text_or_ids`` with ``model`` (in eval mode) and record every internal value.

    The sequence is cut into chunks of ``CHUNK`` steps. The fused kernels run the
    recurrence chunk after chunk on this thread (carrying h and c across chunks, which
    also hands back the exact c at each chunk start); one worker thread recomputes the
    gates, c and logits of each finished chunk while the next chunk's recurrence runs.
    So the extra work mostly overlaps the unavoidable sequential part.

    Args:
        model: a ``SequenceModel`` (its tokenizer is used for text).
        text_or_ids: text, or token ids in ``0..vocab_size-1``.
        state: optional initial state (``model.init_state(1)`` layout); zeros by default.

    Raises:
        ValueError: for empty input or ids outside the vocabulary.
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
        emb = model.embed(idx)  # (T, E)
        buf = _Buffers(
            hidden=np.empty((T, L, H), np.float32),
            cell=np.empty((T, L, H), np.float32) if cfg.cell == "lstm" else None,
            gates={n: np.empty((T, L, H), np.float32) for n in GATE_NAMES[cfg.cell]},
            logits=torch.empty(T, cfg.vocab_size),
        )
        table = _input_table(model) if cfg.cell != "rnn" else None
        weights = [_layer_weights(model.rnn, layer) for layer in range(L)]
        h = [h0[i : i + 1] for i in range(L)]  # (1, 1, H) each: state at the chunk start
        c = [c0[i : i + 1] for i in range(L)] if c0 is not None else [None] * L
        with ThreadPoolExecutor(max_workers=1) as pool:
            jobs = []
            for t0 in range(0, T, CHUNK):
                x = emb[t0 : t0 + CHUNK].unsqueeze(0)  # (1, t, E)
                layers = []
                for i in range(L):
                    out, h_n, c_n = _fused_layer(cfg.cell, x, h[i], c[i], weights[i])
                    layers.append((x[0], out[0], h[i][0], c[i][0] if c[i] is not None else None))
                    h[i], c[i], x = h_n, c_n, out
                jobs.append(
                    pool.submit(_fill_chunk, model, t0, idx[t0 : t0 + CHUNK], layers, table, buf)
                )
            for job in jobs:
                job.result()  # re-raises a worker's exception here
        logp = F.log_softmax(buf.logits, dim=-1)
        nxt = idx[1:]
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
        hidden=buf.hidden,
        cell=buf.cell,
        gates=buf.gates,
        initial_hidden=h0[:, 0].numpy().copy(),
        initial_cell=c0[:, 0].numpy().copy() if c0 is not None else None,
        logits=buf.logits.numpy(),
        probs=logp.exp().numpy(),
        loss=loss.numpy(),
    )


def bench_trace_overhead(
    T: int = 1000, H: int = 256, E: int = 32, V: int = 100, repeats: int = 15
) -> dict:
    """Time ``trace`` against a bare forward of the same LSTM model, side by side.

    Both read the same T random tokens; the bare forward is ``model(idx)`` (Embedding ->
    fused ``nn.LSTM`` -> Linear logits) under no_grad. Median of ``repeats`` alternating
    runs after a warm-up, single-threaded to keep the two on equal footing.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        model = SequenceModel(SequenceConfig("lstm", V, E, H, 1)).eval()
        ids = torch.randint(1, V, (T,))
        idx = ids.unsqueeze(0)

        def bare() -> None:
            with torch.no_grad():
                model(idx)

        def full() -> None:
            trace(model, ids)

        for _ in range(3):
            bare()
            full()
        tb, tf = [], []
        for _ in range(repeats):
            t = time.perf_counter()
            bare()
            tb.append(time.perf_counter() - t)
            t = time.perf_counter()
            full()
            tf.append(time.perf_counter() - t)
    finally:
        torch.set_num_threads(threads)
    b, f = statistics.median(tb), statistics.median(tf)
    return {
        "ratio": round(f / b, 3),
        "target": 1.25,
        "T": T,
        "H": H,
        "bare_ms": round(b * 1000, 2),
        "trace_ms": round(f * 1000, 2),
        "repeats": repeats,
        "threads": 1,
    }
