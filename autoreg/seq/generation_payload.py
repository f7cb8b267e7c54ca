"""A sampled text packed for the in-browser player: every stage of every draw, exactly.

The Generate page samples a continuation on the server (``autoreg.seq.sampling.sample``:
one seeded draw per token). What a learner then steps through is already decided, so it
goes to the browser once (``autoreg.ui.player``, view ``static/generate.js``): for each
drawn token, the pipeline it was drawn from::

    logits z --÷ T--> z/T --top-k--> kept or cut --softmax--> p --draw--> the token

Only the tokens a chart shows are sent: the ``SHOWN`` highest logits of each step (in the
order ``np.argsort(-z, kind="stable")`` gives, so a presenter's shorter list is a prefix)
and the drawn token, wherever it ranks. Every array is the float32 value of
``sampling_pipeline`` (the same function ``sample`` drew from), so every number the
browser prints is that value rounded as Python's ``format`` rounds it. The entropies
are float64 sums over the whole vocabulary, computed here.

Arrays (N drawn tokens, K = ``SHOWN``, C = ``TEMPERATURES``, M = ``TEMP_SHOWN``)::

    ids (N,) i4           the drawn token ids
    top (N, K) i4         the K highest-logit ids of each step
    z, zt, p, p1 (N, K)   logits, z/T, p (sampled from), softmax(z) (T = 1), float32
    kept (N, K) i2        1 where the token survives top-k and the <unk> ban
    d_z, d_zt, d_p, d_p1 (N,) float32, d_kept (N,) i2, d_rank (N,) i4: the drawn token
    entropy (N,) f8       bits of the distribution sampled from
    temp_p (N, C, M) f4   p at each comparison temperature, for the M highest logits
    temp_h (N, C) f8      bits at each comparison temperature

No Streamlit and no plotly; torch only through ``sampling_pipeline``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from autoreg.seq.payload import _digest, pack, token_label
from autoreg.seq.sampling import sampling_pipeline

SHOWN = 20  # tokens per stage (presenter mode shows the first 12)
TEMPERATURES = (0.3, 1.0, 2.0)  # the side-by-side comparison
TEMP_SHOWN = 12  # tokens per comparison panel
EXCLUDE = (0,)  # <unk> is never drawn (``sample`` bans it the same way)


def entropy_bits(p: np.ndarray) -> float:
    """Entropy in bits of one distribution (float64 sum; zeros contribute nothing)."""
    p = np.asarray(p, dtype=np.float64)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def shown_ids(logits: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` highest-logit ids, best first, ties by id (a stable sort of ``-logits``)."""
    return np.argsort(-np.asarray(logits), kind="stable")[: max(1, n)]


def temperature_text(temperature: float) -> str:
    """How the page names a temperature: ``T = 0.8``, or ``T = 0 (argmax)``."""
    return "T = 0 (argmax)" if temperature == 0 else f"T = {temperature:g}"


def generation_payload(
    logits: np.ndarray,
    ids: Sequence[int],
    labels: Sequence[str],
    *,
    temperature: float,
    top_k: int | None,
    prompt: str,
    word_level: bool,
    model: str = "",
    seed: int = 0,
    shown: int = SHOWN,
) -> bytes:
    """Everything the Generate page's player shows, for one sampled continuation.

    Args:
        logits: (N, V) float32: the logits each token was drawn from.
        ids: (N,) the drawn ids.
        labels: the vocabulary's token strings, by id.
        temperature, top_k: the settings the sample was drawn with.
        prompt: the text the model continued; word_level: tokens are joined by spaces.
        model, seed: shown in the view's captions.
        shown: tokens per stage.

    Raises:
        ValueError: for no tokens, or logits that do not match ids or labels.
    """
    logits = np.asarray(logits, dtype=np.float32)
    ids = np.asarray(ids, dtype=np.int64)
    if logits.ndim != 2 or len(logits) == 0:
        raise ValueError("Nothing was generated: there is no draw to step through.")
    N, V = logits.shape
    if len(ids) != N:
        raise ValueError(f"{len(ids)} drawn ids for {N} steps of logits.")
    if len(labels) != V:
        raise ValueError(f"{len(labels)} labels for a vocabulary of {V}.")
    K = min(shown, V)
    M = min(TEMP_SHOWN, K)
    C = len(TEMPERATURES)
    top = np.zeros((N, K), np.int32)
    stage = {k: np.zeros((N, K), np.float32) for k in ("z", "zt", "p", "p1")}
    kept = np.zeros((N, K), np.int16)
    drawn = {k: np.zeros(N, np.float32) for k in ("d_z", "d_zt", "d_p", "d_p1")}
    d_kept = np.zeros(N, np.int16)
    d_rank = np.zeros(N, np.int32)
    entropy = np.zeros(N, np.float64)
    temp_p = np.zeros((N, C, M), np.float32)
    temp_h = np.zeros((N, C), np.float64)
    for i in range(N):
        z = torch.from_numpy(logits[i])
        pipe = sampling_pipeline(z, temperature, top_k, EXCLUDE)
        cols = {
            "z": pipe.logits.numpy(),
            "zt": pipe.scaled.numpy(),
            "p": pipe.probs_after.numpy(),
            "p1": pipe.probs_before.numpy(),
        }
        alive = np.isfinite(pipe.masked.numpy())
        order = np.argsort(-logits[i], kind="stable")
        top[i] = order[:K]
        for k, v in cols.items():
            stage[k][i] = v[order[:K]]
            drawn[f"d_{k}"][i] = v[ids[i]]
        kept[i] = alive[order[:K]]
        d_kept[i] = alive[ids[i]]
        d_rank[i] = int(np.nonzero(order == ids[i])[0][0]) + 1
        entropy[i] = entropy_bits(cols["p"])
        for c, t in enumerate(TEMPERATURES):
            p_t = sampling_pipeline(z, t, top_k, EXCLUDE).probs_after.numpy()
            temp_p[i, c] = p_t[order[:M]]
            temp_h[i, c] = entropy_bits(p_t)
    arrays = {
        "ids": ids.astype(np.int32),
        "top": top,
        **stage,
        "kept": kept,
        **drawn,
        "d_kept": d_kept,
        "d_rank": d_rank,
        "entropy": entropy,
        "temp_p": temp_p,
        "temp_h": temp_h,
    }
    tokens = [labels[int(i)] for i in ids]
    meta = {
        "view": "generate",
        "id": _digest("generate", logits, ids, temperature, top_k, prompt),
        "n_steps": N,
        "vocab": V,
        "shown": K,
        "temp_shown": M,
        "model": model,
        "seed": int(seed),
        "prompt": prompt,
        "word_level": bool(word_level),
        "tokens": tokens,
        "shown_tokens": [repr(token_label(t)) for t in tokens],
        "labels": [token_label(s) for s in labels],
        "temperature": float(temperature),
        "t_text": temperature_text(temperature),
        "greedy": temperature == 0,
        "top_k": int(top_k) if top_k else None,
        "temperatures": [f"{t:g}" for t in TEMPERATURES],
    }
    return pack(meta, arrays)
