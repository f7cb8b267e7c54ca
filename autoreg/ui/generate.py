"""Cached generation for the Generate page, its in-browser player, and the text as HTML.

A generation is a pure function of (model, prompt, length, temperature, top-k, seed),
because every call draws from its own seeded ``torch.Generator``: caching it is exact,
and a shared link replays the same text.

Stepping through the draws runs in the browser (``autoreg.ui.player``, view
``static/generate.js``): the page packs every stage of every draw once
(``autoreg.seq.generation_payload``, cached beside the generation) and the player draws
each token's pipeline from it. The cursor (``URL``: token, text mode, speed) reaches
the URL through the player's channel; the settings are Streamlit widgets bound to it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import streamlit as st

from autoreg.seq.generation_payload import generation_payload
from autoreg.seq.sampling import sample
from autoreg.ui import player as pp
from autoreg.ui.models import SESSION_PREFIX, get_model
from autoreg.viz.common import HIGHLIGHT

KEY = "gen_player"
MAX_PROMPT_CHARS = 1_000  # a longer prompt is cut to this, with a message (every sample shows it)
MODES = ("All at once", "One token at a time")
URL = {"step": "gen_step", "mode": "gen_mode", "speed": "gen_speed"}
DEFAULTS = {"step": 0, "mode": MODES[0], "speed": 2}


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


def vocabulary(name: str) -> list[str]:
    """Token strings of a model's vocabulary, by id."""
    model = get_model(name)
    return [model.tokenizer.token(i) for i in range(model.config.vocab_size)]


def _payload(name: str, prompt: str, steps: int, temperature: float, top_k, seed: int) -> bytes:
    gen = generate(name, prompt, steps, temperature, top_k, seed)
    return generation_payload(
        gen.logits, gen.ids, vocabulary(name), temperature=temperature, top_k=top_k,
        prompt=prompt, word_level=gen.word_level, model=name, seed=seed,
    )  # fmt: skip


_shared_payload = st.cache_resource(show_spinner=False, max_entries=32)(_payload)


def payload(
    name: str, prompt: str, steps: int, temperature: float, top_k: int | None, seed: int
) -> bytes:
    """The player's payload for one generation (cached for shipped models)."""
    args = (name, prompt, int(steps), float(temperature), top_k, int(seed))
    return _payload(*args) if name.startswith(SESSION_PREFIX) else _shared_payload(*args)


def cursor_fields(n_tokens: int) -> dict[str, object]:
    """What each cursor field may be (``player.cursor_from_url``)."""
    return {"step": range(n_tokens), "mode": MODES, "speed": pp.SPEEDS}


def show(
    name: str,
    prompt: str,
    steps: int,
    temperature: float,
    top_k: int | None,
    seed: int,
    *,
    present: bool,
) -> dict:
    """Check the link's cursor and mount the player: {"cursor": live cursor, "notes": [...]}."""
    gen = generate(name, prompt, steps, temperature, top_k, seed)
    held = st.session_state.get(f"{KEY}_cursor")
    cursor, notes = pp.cursor_from_url(URL, cursor_fields(len(gen.tokens)), DEFAULTS, held)
    blob = payload(name, prompt, steps, temperature, top_k, seed)
    options = pp.player_options(KEY, cursor, presenter=present)
    live = pp.player("generate", blob, key=KEY, options=options, url=URL, defaults=DEFAULTS)
    return {"cursor": live, "notes": notes}
