"""Gradient influence at every predicted position, packed for the in-browser player.

The Memory page asks how far back a prediction can still be moved: for the character at
position T, the norm of d log p(x_T | x_<T) / d e_t for every earlier input embedding
e_t (``autoreg.seq.memory.gradient_influence``). Moving T is a cursor, so the norms for
every T go to the browser (``autoreg.ui.player``, view ``static/memory.js``), which
draws the curves, the coloured text and the caption for any T in one frame.

One backward pass per T would cost the text's length in passes per cell. Here a window
of W targets is one batched pass: the same embeddings repeated W times, the prediction
of row b read at its own target T_b, and the sum of the W log-probabilities
differentiated once. The rows do not interact, and a causal network's output at T_b - 1
never reads a later input, so row b's gradient is exactly that of the single-target
pass; float32 sums may round in another order than a batch of one (the tests check the
two agree to 1e-4). Windows cover targets [kW, (k+1)W); one of them costs W rows as
long as its last target, so W shrinks for long texts (``window_size``) and the browser
asks for the windows it reaches.

Sent per window k and cell: ``w<k>:<cell>`` (rows, hi) float32 norms, row j for target
T = kW + j, column t < T (zeros beyond). The browser divides as
``autoreg.seq.memory.relative_influence`` does (float64, the same ``FLOOR``), so the
printed influence is that function's value. No Streamlit, no plotly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from autoreg.seq.memory import _in_eval
from autoreg.seq.model import SequenceModel
from autoreg.seq.payload import _digest, pack, token_label

FLOOR = 1e-12  # relative_influence's floor: float32 gradients underflow to 0 below it
WORK = 16_384  # targets x steps per batched pass (64 targets of the default text)
MAX_WINDOW = 64


def window_size(n_tokens: int) -> int:
    """Targets per window: about ``WORK`` rows x steps per pass, at most ``MAX_WINDOW``."""
    return max(1, min(MAX_WINDOW, WORK // max(1, n_tokens)))


def windows(n_tokens: int) -> int:
    return -(-n_tokens // window_size(n_tokens))


def window_of(target: int, n_tokens: int) -> int:
    return int(target) // window_size(n_tokens)


def window_targets(k: int, n_tokens: int) -> range:
    """The targets of window ``k`` (target 0 has no input before it and gets an empty row)."""
    W = window_size(n_tokens)
    if not 0 <= k < windows(n_tokens):
        raise ValueError(f"Window {k} is outside 0..{windows(n_tokens) - 1}.")
    return range(k * W, min(n_tokens, (k + 1) * W))


def gradient_norms(model: SequenceModel, ids: Sequence[int], targets: Sequence[int]) -> np.ndarray:
    """(len(targets), max(targets)) float32: row b holds ‖∂ log p(x_T) / ∂ e_t‖ for
    T = targets[b] and t < T, zeros for t ≥ T. Target 0 gives a row of zeros.

    Raises:
        ValueError: for a target outside 0 .. len(ids) - 1.
    """
    targets = [int(t) for t in targets]
    if not targets:
        return np.zeros((0, 0), np.float32)
    if min(targets) < 0 or max(targets) >= len(ids):
        lo, hi = min(targets), max(targets)
        raise ValueError(f"Targets must lie in 0..{len(ids) - 1}, got {lo}..{hi}.")
    hi = max(targets)
    out = np.zeros((len(targets), hi), np.float32)
    live = [b for b, t in enumerate(targets) if t >= 1]
    if not live:
        return out
    model = _in_eval(model)
    idx = torch.tensor(ids[: hi + 1], dtype=torch.long).unsqueeze(0)  # (1, hi+1)
    tt = torch.tensor([targets[b] for b in live])  # (B,)
    B = len(live)
    with torch.enable_grad():
        base = model.embed(idx[:, :hi]).detach()  # (1, hi, E)
        emb = base.expand(B, -1, -1).clone().requires_grad_(True)  # (B, hi, E)
        h, _ = model.rnn(emb)  # (B, hi, H)
        last = h[torch.arange(B), tt - 1]  # (B, H): the output that predicts x_T
        logp = F.log_softmax(model.head(last), dim=-1)  # (B, V)
        chosen = logp[torch.arange(B), idx[0, tt]]  # (B,)
        (grad,) = torch.autograd.grad(chosen.sum(), emb)
    norms = grad.norm(dim=-1).numpy()  # (B, hi)
    for j, b in enumerate(live):
        out[b, : targets[b]] = norms[j, : targets[b]]
    return out


def relative(norms_row: np.ndarray, target: int) -> np.ndarray:
    """What the browser prints for target T: ``relative_influence`` of the first T norms."""
    n = np.asarray(norms_row[:target], dtype=np.float64)
    return np.maximum(n, FLOOR) / max(float(n[-1]), FLOOR)


def window_arrays(model: SequenceModel, cell: str, ids: Sequence[int], k: int) -> dict:
    """Window ``k`` of one cell's norms: ``{"w<k>:<cell>": (rows, hi) float32}``."""
    return {f"w{k}:{cell}": gradient_norms(model, ids, window_targets(k, len(ids)))}


def influence_id(names: Sequence[str], text: str) -> str:
    """The payload's id: the models and the text (every window of it shares the id)."""
    return _digest("influence", tuple(names), text)


def influence_payload(
    names: Mapping[str, str],
    text: str,
    tokens: Sequence[str],
    parts: Mapping[str, np.ndarray],
) -> bytes:
    """Everything the Memory page's player needs, with the windows in ``parts``.

    Args:
        names: cell -> model name, in display order (character models: one token per
            character, so every cell's positions are the text's).
        text: the input text; tokens: its characters as the models read them.
        parts: arrays from ``window_arrays`` (any windows; the browser asks for others).
    """
    n = len(tokens)
    if n < 2:
        raise ValueError("The text needs at least two characters: one input and one prediction.")
    meta = {
        "view": "memory",
        "id": influence_id(list(names.values()), text),
        "n_steps": n,
        "cells": list(names),
        "models": list(names.values()),
        "shown": [token_label(t) for t in tokens],
        "quoted": [repr(token_label(t)) for t in tokens],
        "window": window_size(n),
        "windows": windows(n),
        "floor": FLOOR,
    }
    return pack(meta, dict(parts))


def window_payload(names: Sequence[str], text: str, parts: Mapping) -> bytes:
    """Windows fetched later, with the same id as the payload they complete."""
    return pack({"id": influence_id(names, text), "part": "window"}, dict(parts))
