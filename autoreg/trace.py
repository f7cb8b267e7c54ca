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

import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
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


def _gates(layer: _Layer, gi: torch.Tensor, h_prev: torch.Tensor) -> dict:
    """Post-activation gates for a run of steps at once; gi (t, k*H), h_prev (t, H) -> (t, H).

    One matmul covers every step: the recurrence is already resolved (h_prev comes from
    the fused run), so the only sequential work left is the LSTM's c.
    """
    H = h_prev.size(1)
    gh = layer.recurrent_part(h_prev)  # (t, k*H)
    if layer.cell == "lstm":
        pre = gh.add_(gi)  # (t, 4H), rows permuted to i, f, o, g
        pre[:, : 3 * H].sigmoid_()
        pre[:, 3 * H :].tanh_()
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


# The recurrence runs in chunks so the gate work of one chunk overlaps the next chunk's
# recurrence. Each fused call re-packs the weights (~0.5 ms), so there are few chunks,
# shrinking (5:4:3:2:1) so the worker keeps up and the work left after the last one is small.
CHUNK_WEIGHTS = (5, 4, 3, 2, 1)
MIN_CHUNK = 64  # no chunk shorter than this (short inputs run as one chunk)


def _spare_core() -> bool:
    """Whether a second core is likely idle (1-minute load average below cores - 1).

    Overlap only pays when the worker gets a core of its own; on an oversubscribed
    machine the extra thread and chunk calls cost more than they hide (measured), so
    the trace then runs as one chunk on the calling thread.
    """
    cpus = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available on this platform
        load = 0.0
    return cpus > 1 and load < cpus - 0.5


def _chunks(T: int) -> list[tuple[int, int]]:
    """[(t0, t1), ...] covering 0..T in shrinking chunks of at least MIN_CHUNK steps."""
    bounds, t0 = [], 0
    total = sum(CHUNK_WEIGHTS)
    for w in CHUNK_WEIGHTS:
        t1 = min(T, t0 + max(MIN_CHUNK, round(T * w / total)))
        if T - t1 < MIN_CHUNK:
            t1 = T
        bounds.append((t0, t1))
        t0 = t1
        if t0 == T:
            break
    if t0 < T:
        bounds.append((t0, T))
    return bounds


@dataclass
class _Buffers:
    """Preallocated outputs that chunk workers fill in place; (T, L, H) unless noted."""

    hidden: np.ndarray
    cell: np.ndarray | None
    gates: dict[str, np.ndarray]
    logits: torch.Tensor  # (T, V)
    probs: torch.Tensor  # (T, V)
    loss: torch.Tensor  # (T,)


@torch.no_grad()  # grad mode is thread-local: the worker needs its own
def _fill_chunk(model, t0: int, idx: torch.Tensor, chunk: list, prep: list, buf: _Buffers) -> None:
    """Gates, c, logits, probs and loss of steps t0..t0+t from that chunk's fused outputs.

    ``idx`` is the whole sequence (the loss needs the next token). ``prep`` starts empty
    and is filled on the first call, so preparing the weights also overlaps the recurrence.
    """
    if not prep and model.cell != "rnn":
        prep.extend(_Layer(model, i) for i in range(model.config.num_layers))
    t1 = t0 + chunk[0][1].size(0)
    for i, (x, out, h_start, c_start) in enumerate(chunk):
        buf.hidden[t0:t1, i] = out.numpy()
        if model.cell == "rnn":
            continue
        h_prev = torch.cat([h_start, out[:-1]], dim=0)  # (t, H): h_{t-1}
        g = _gates(prep[i], prep[i].input_part(x, idx[t0:t1]), h_prev)
        for name, value in g.items():
            buf.gates[name][t0:t1, i] = value.numpy()
        if model.cell == "lstm":
            _cell_states(g, c_start[0], buf.cell[t0:t1, i])
    logits = model.head(chunk[-1][1])  # (t, V)
    logp = F.log_softmax(logits, dim=-1)
    buf.logits[t0:t1] = logits
    buf.probs[t0:t1] = logp.exp()
    nxt = idx[t0 + 1 : t1 + 1]  # the token each step predicts; one short at the very end
    step_loss = -logp[: nxt.numel()].gather(1, nxt.unsqueeze(1)).squeeze(1)
    buf.loss[t0 : t0 + nxt.numel()] = torch.where(nxt == 0, torch.nan, step_loss)


@torch.no_grad()
def trace(
    model: SequenceModel,
    text_or_ids: str | list[int] | torch.Tensor,
    state: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None,
    pipeline: bool | None = None,
) -> Trace:
    """Read ``text_or_ids`` with ``model`` (in eval mode) and record every internal value.

    The sequence is cut into a few chunks (``_chunks``). The fused kernels run the
    recurrence chunk after chunk on this thread (carrying h and c across chunks, which
    also hands back the exact c at each chunk start); one worker thread recomputes the
    gates, c and logits of each finished chunk while the next chunk's recurrence runs.
    So the extra work mostly overlaps the unavoidable sequential part. When no second
    core is free (``_spare_core``), everything runs as one chunk on this thread.

    Args:
        model: a ``SequenceModel`` (its tokenizer is used for text).
        text_or_ids: text, or token ids in ``0..vocab_size-1``.
        state: optional initial state (``model.init_state(1)`` layout); zeros by default.
        pipeline: overlap on a worker thread (True), or run as one chunk on this thread
            (False); None decides by ``_spare_core`` and length. Results are identical.

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
            probs=torch.empty(T, cfg.vocab_size),
            loss=torch.full((T,), float("nan")),
        )
        prep: list[_Layer] = []  # filled by the worker
        weights = [_layer_weights(model.rnn, layer) for layer in range(L)]
        h = [h0[i : i + 1] for i in range(L)]  # (1, 1, H) each: state at the chunk start
        c = [c0[i : i + 1] for i in range(L)] if c0 is not None else [None] * L
        pipelined = _spare_core() and T >= 2 * MIN_CHUNK if pipeline is None else pipeline
        with ThreadPoolExecutor(max_workers=1) if pipelined else nullcontext() as pool:
            jobs = []
            for t0, t1 in _chunks(T) if pipelined else [(0, T)]:
                x = emb[t0:t1].unsqueeze(0)  # (1, t, E)
                layers = []
                for i in range(L):
                    out, h_n, c_n = _fused_layer(cfg.cell, x, h[i], c[i], weights[i])
                    layers.append((x[0], out[0], h[i][0], c[i][0] if c[i] is not None else None))
                    h[i], c[i], x = h_n, c_n, out
                if pool is None:
                    _fill_chunk(model, t0, idx, layers, prep, buf)
                else:
                    jobs.append(pool.submit(_fill_chunk, model, t0, idx, layers, prep, buf))
            for job in jobs:
                job.result()  # re-raises a worker's exception here
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
        probs=buf.probs.numpy(),
        loss=buf.loss.numpy(),
    )


def bench_trace_overhead(
    T: int = 1000, H: int = 256, E: int = 32, V: int = 104, repeats: int = 21
) -> dict:
    """Time ``trace`` against a bare forward of the same LSTM model, side by side.

    Both read the same T random tokens; the bare forward is ``model(idx)`` (Embedding ->
    fused ``nn.LSTM`` -> Linear logits) under no_grad; V = 104 is the shipped character
    model's vocabulary. Median of ``repeats`` interleaved runs after a warm-up, with one
    intra-op thread for all. ``ratio`` is ``trace`` as it runs by default here (pipelined
    only when a core is spare); both modes are also timed, and the load average is
    recorded, so a busy machine's number can be judged.
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

        runs = {
            "bare": bare,
            "default": lambda: trace(model, ids),
            "pipelined": lambda: trace(model, ids, pipeline=True),
            "one_thread": lambda: trace(model, ids, pipeline=False),
        }
        for _ in range(3):
            for fn in runs.values():
                fn()
        times: dict[str, list[float]] = {k: [] for k in runs}
        for _ in range(repeats):
            for name, fn in runs.items():
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
    finally:
        torch.set_num_threads(threads)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "ratio": round(med["default"] / med["bare"], 3),
        "target": 1.25,
        "T": T,
        "H": H,
        "bare_ms": round(med["bare"] * 1000, 2),
        "trace_ms": round(med["default"] * 1000, 2),
        "default_mode": "pipelined" if _spare_core() else "one_thread",
        "ratio_pipelined": round(med["pipelined"] / med["bare"], 3),
        "ratio_one_thread": round(med["one_thread"] / med["bare"], 3),
        "repeats": repeats,
        "intra_op_threads": 1,
        "cpus": os.cpu_count(),
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }
