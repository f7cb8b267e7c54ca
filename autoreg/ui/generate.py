"""Cached generation for the Generate page, and the generated text as coloured HTML.

A generation is a pure function of (model, prompt, length, temperature, top-k, seed),
because every call draws from its own seeded ``torch.Generator``: caching it is exact,
and a shared link replays the same text.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import streamlit as st

from autoreg.seq.sampling import Pipeline, sample, sampling_pipeline
from autoreg.ui.models import SESSION_PREFIX, get_model
from autoreg.viz.common import HIGHLIGHT

TEMPERATURES = (0.3, 1.0, 2.0)  # the side-by-side comparison


@dataclass(frozen=True)
class Generated:
    """One sampled continuation: N tokens and the logits each was drawn from."""

    ids: np.ndarray  # (N,) int64
    tokens: list[str]  # (N,) token strings
    logits: np.ndarray  # (N, V) float32
    p_drawn: np.ndarray  # (N,) probability of each drawn token under the sampled distribution
    word_level: bool  # tokens are joined with spaces


def _generate(name: str, prompt: str, steps: int, temperature: float, top_k, seed: int):
    model = get_model(name)
    out = list(sample(model, prompt, steps, temperature, top_k, seed))
    word = model.tokenizer is not None and model.tokenizer.kind == "word"
    return Generated(
        ids=np.array([s.token_id for s in out], dtype=np.int64),
        tokens=[s.token for s in out],
        logits=np.stack([s.logits.numpy() for s in out]) if out else np.zeros((0, 1)),
        p_drawn=np.array([float(s.probs_after[s.token_id]) for s in out]),
        word_level=word,
    )


_shared_generate = st.cache_resource(show_spinner="Sampling…", max_entries=32)(_generate)


def generate(
    name: str, prompt: str, steps: int, temperature: float, top_k: int | None, seed: int
) -> Generated:
    """``steps`` tokens after ``prompt`` (cached for shipped models; session ones rerun)."""
    args = (name, prompt, int(steps), float(temperature), top_k, int(seed))
    if name.startswith(SESSION_PREFIX):
        return _generate(*args)
    return _shared_generate(*args)


def pipeline_at(gen: Generated, step: int, temperature: float, top_k: int | None) -> Pipeline:
    """Every stage of the draw at generated token ``step`` (recomputed from its logits).

    ``<unk>`` (id 0) is excluded exactly as ``sample`` excludes it, so these are the
    numbers the token was really drawn from.
    """
    import torch

    return sampling_pipeline(torch.from_numpy(gen.logits[step]), temperature, top_k, (0,))


def generated_html(
    prompt: str, gen: Generated, upto: int | None = None, mark: int | None = None
) -> str:
    """Prompt in grey, generated tokens in black, token ``mark`` highlighted; ⏎ kept visible.

    ``upto`` shows only the first ``upto`` generated tokens (step mode). Each token's
    tooltip gives its index and the probability it was drawn with.
    """
    sep = " " if gen.word_level else ""
    parts = [f'<span style="color:#868e96">{html.escape(prompt)}</span>']
    n = len(gen.tokens) if upto is None else min(upto, len(gen.tokens))
    for i in range(n):
        tok = gen.tokens[i]
        shown = html.escape(tok)
        if tok == "\n":
            shown = '<span style="color:#adb5bd">⏎</span>\n'
        style = f"background:{HIGHLIGHT};color:#fff;border-radius:3px" if i == mark else ""
        tip = html.escape(f"token {i}: p = {gen.p_drawn[i]:.4f}", quote=True)
        parts.append(f'{sep}<span title="{tip}" style="{style}">{shown}</span>')
    return (
        '<div style="font-family:ui-monospace,Menlo,Consolas,monospace;font-size:1.0em;'
        "white-space:pre-wrap;overflow-wrap:anywhere;line-height:1.5;padding:.7em 1em;"
        "border:1px solid #dee2e6;"
        f'border-radius:6px;background:#fbfbfc">{"".join(parts)}</div>'
    )
