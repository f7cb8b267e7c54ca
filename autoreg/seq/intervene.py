"""Interventions: clamp or zero one unit from a step on and watch the next-token softmax.

The Units page asks "what does this unit *do*?". Correlation finds candidates; an
intervention tests them: overwrite h (or the LSTM's c) of one unit in one layer at every
step from ``start`` on, let the change flow through the later layers and later steps,
and compare the probabilities with the untouched run.

Steps before ``start`` come from the exact trace (``autoreg.seq.trace``); from ``start`` on,
the cells are written out by hand (PyTorch's equations, see ``autoreg.seq.trace``) so the
clamp can sit between computing a state and using it.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from autoreg.seq.model import SequenceModel
from autoreg.seq.trace import _layer_weights, trace


def _step(cell: str, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None, w):
    """One step of one layer; x (in,), h and c (H,) -> (h', c'). c is None unless LSTM."""
    w_ih, w_hh, b_ih, b_hh = w
    gi = w_ih @ x + b_ih
    gh = w_hh @ h + b_hh
    if cell == "lstm":
        i, f, g, o = (gi + gh).chunk(4)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
    if cell == "gru":
        ir, iz, inn = gi.chunk(3)
        hr, hz, hn = gh.chunk(3)
        r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
        n = torch.tanh(inn + r * hn)
        return (1 - z) * n + z * h, None
    return torch.tanh(gi + gh), None


@torch.no_grad()
def run_with_intervention(
    model: SequenceModel,
    text_or_ids: str | list[int],
    layer: int,
    unit: int,
    start: int = 0,
    value: float | None = 0.0,
    quantity: str = "h",
) -> np.ndarray:
    """Next-token probabilities (T, V) with one unit overwritten from step ``start`` on.

    Args:
        model: the model (run in eval mode; it is not modified).
        text_or_ids: the input.
        layer, unit: which unit to overwrite.
        start: first step whose state is overwritten (``T`` or more: nothing changes).
        value: the value to write; 0.0 zeroes the unit, None leaves it alone (a control run).
        quantity: "h" (hidden state) or "c" (LSTM cell state; h is then recomputed from it).

    Raises:
        ValueError: for a layer, unit or quantity the model does not have.
    """
    cfg = model.config
    if not 0 <= layer < cfg.num_layers:
        raise ValueError(f"layer must be in 0..{cfg.num_layers - 1}, got {layer}.")
    if not 0 <= unit < cfg.hidden_size:
        raise ValueError(f"unit must be in 0..{cfg.hidden_size - 1}, got {unit}.")
    if quantity not in ("h", "c"):
        raise ValueError(f"quantity must be 'h' or 'c', got {quantity!r}.")
    if quantity == "c" and cfg.cell != "lstm":
        raise ValueError("Only an LSTM has a cell state c; clamp 'h' instead.")
    ids = model.encode(text_or_ids)
    if not ids:
        raise ValueError("Nothing to run: the input is empty.")
    was_training = model.training
    model.eval()
    try:
        emb = model.embed(torch.tensor(ids, dtype=torch.long))  # (T, E)
        T, k = len(ids), min(max(0, start), len(ids))
        if k > 0:  # untouched prefix: the exact trace, and its states after step k-1
            tr = trace(model, ids[:k])
            prefix = [tr.probs]
            h = [torch.from_numpy(tr.hidden[-1, i]) for i in range(cfg.num_layers)]
            c = (
                [torch.from_numpy(tr.cell[-1, i]) for i in range(cfg.num_layers)]
                if tr.cell is not None
                else None
            )
        else:
            state = model.init_state(1)
            h0, c0 = state if cfg.cell == "lstm" else (state, None)
            prefix = []
            h = [h0[i, 0] for i in range(cfg.num_layers)]
            c = [c0[i, 0] for i in range(cfg.num_layers)] if c0 is not None else None
        weights = [_layer_weights(model.rnn, i) for i in range(cfg.num_layers)]
        rows = []
        for t in range(k, T):
            x = emb[t]
            for i in range(cfg.num_layers):
                hi, ci = _step(cfg.cell, x, h[i], c[i] if c else None, weights[i])
                if i == layer and value is not None:
                    if quantity == "c":
                        ci = ci.clone()
                        ci[unit] = value
                        hi = torch.sigmoid(_output_gate(x, h[i], weights[i])) * torch.tanh(ci)
                    else:
                        hi = hi.clone()
                        hi[unit] = value
                h[i] = hi
                if c is not None:
                    c[i] = ci
                x = hi
            rows.append(x)
        if rows:
            prefix.append(F.softmax(model.head(torch.stack(rows)), dim=-1).numpy())  # (T-k, V)
        probs = np.concatenate(prefix, axis=0)
    finally:
        model.train(was_training)
    return probs


def _output_gate(x: torch.Tensor, h: torch.Tensor, w) -> torch.Tensor:
    w_ih, w_hh, b_ih, b_hh = w
    H = h.numel()
    return w_ih[3 * H :] @ x + b_ih[3 * H :] + w_hh[3 * H :] @ h + b_hh[3 * H :]
