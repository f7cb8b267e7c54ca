"""Widgets and panels of the Step through page: the step cursor, autoplay, and what it shows.

Stepping must feel instant, so the page draws everything that depends on the cursor
inside one ``st.fragment``: moving the step reruns only that fragment, and the trace is
cached per (model, text) (``get_trace``), so a step only slices arrays.

Autoplay (STREAMLIT_NOTES §2): the Play/Pause button lives *outside* the fragment, because
``run_every`` is only sent on a full run; each timer tick reruns the fragment, which
advances the cursor *before* the keyed slider is created. Any manual move pauses:
previous/next through their callbacks, the slider when its value is not the one last drawn
(its ``on_change`` also fires when the server moved it, so it cannot tell); reaching the
end pauses. Pausing from inside the fragment asks for
a full rerun, which switches the timer off. Keyboard: ←/→ step, space plays/pauses
(Streamlit button shortcuts).
"""

from __future__ import annotations

import html

import numpy as np
import streamlit as st

from autoreg.trace import Trace
from autoreg.ui.models import SESSION_PREFIX, get_model, model_card, model_names
from autoreg.ui.sequences import get_trace, is_language_model
from autoreg.ui.urlstate import url_widget
from autoreg.viz import stepper as vs
from autoreg.viz.common import HIGHLIGHT, token_label

STEP = "step_step"  # the cursor (URL-bound slider)
PLAYING = "step_playing"
TOUCHED = "step_touched"  # a control moved the cursor in this run: the timer must not
STOP_TIMER = "step_stop_timer"  # paused from inside the fragment: a full rerun stops the timer
LAST = "step_last"  # the cursor this page last drew
SPEEDS = (1, 2, 4)  # steps per second; a step redraws ~9 charts, about 0.2 s here


def _pause() -> None:
    if st.session_state.get(PLAYING):
        st.session_state[PLAYING] = False
        st.session_state[STOP_TIMER] = True


def _move(delta: int, n_steps: int) -> None:
    st.session_state[STEP] = int(min(n_steps - 1, max(0, st.session_state.get(STEP, 0) + delta)))
    st.session_state[TOUCHED] = True
    _pause()


def _set_playing(playing: bool, n_steps: int) -> None:
    # Sets rather than toggles: a click replayed after an interrupted run changes nothing.
    if playing and st.session_state.get(STEP, 0) >= n_steps - 1:
        st.session_state[STEP] = 0  # play from the start again
    st.session_state[PLAYING] = playing
    st.session_state[TOUCHED] = True  # the full rerun this click causes is not a tick


def play_controls(n_steps: int, *, show_speed: bool = True) -> float | None:
    """Play/Pause (space) and the speed; returns the fragment's ``run_every`` (None: paused).

    Call outside the stepping fragment: a changed ``run_every`` needs a full run.
    """
    playing = bool(st.session_state.get(PLAYING, False))
    left, right = st.columns([2, 3], vertical_alignment="bottom")
    left.button(
        "Pause" if playing else "Play",
        icon=":material/pause:" if playing else ":material/play_arrow:",
        key="step_play",
        on_click=_set_playing,
        args=(not playing, n_steps),
        shortcut="Space",
        type="primary",
        help="Play or pause (space bar). ← and → step one token.",
        width="stretch",
    )
    speed = 2
    if show_speed:
        with right:
            speed = url_widget(
                st.select_slider, "Speed (steps per second)", SPEEDS, value=2, key="step_speed"
            )
    elif "step_speed" in st.session_state:
        speed = st.session_state["step_speed"]
    return 1.0 / speed if playing else None


def step_cursor(n_steps: int) -> int:
    """The step slider with ← / → buttons; advances one step on each autoplay tick.

    Must run first inside the fragment (the cursor changes before the slider exists).
    """
    if st.session_state.pop(STOP_TIMER, False):
        st.rerun()  # full run: the fragment is re-created without its timer
    if STEP in st.session_state and st.session_state[STEP] > n_steps - 1:
        st.session_state[STEP] = n_steps - 1
    touched = st.session_state.pop(TOUCHED, False)
    if st.session_state.get(PLAYING) and not touched:
        step, last = st.session_state.get(STEP, 0), st.session_state.get(LAST)
        if last is not None and step == last - 1:
            # A run cut short by the next tick can come back with the slider's previous
            # value from the browser: continue from the step already drawn.
            st.session_state[STEP] = last
        elif last is not None and step != last:
            st.session_state[PLAYING] = False  # the user took the slider: stop the timer
            st.rerun()
        step = min(st.session_state.get(STEP, 0) + 1, n_steps - 1)
        # Both at once: a tick can interrupt this run (fast reruns) before the slider exists.
        st.session_state[STEP] = st.session_state[LAST] = step
        if step >= n_steps - 1:
            st.session_state[PLAYING] = False
            st.rerun()  # the end: stop the timer
    prev, slider, nxt = st.columns([1, 10, 1], vertical_alignment="bottom")
    prev.button(
        "",
        icon=":material/chevron_left:",
        key="step_prev",
        on_click=_move,
        args=(-1, n_steps),
        shortcut="Left",
        help="Previous step (←)",
        width="stretch",
    )
    nxt.button(
        "",
        icon=":material/chevron_right:",
        key="step_next",
        on_click=_move,
        args=(1, n_steps),
        shortcut="Right",
        help="Next step (→)",
        width="stretch",
    )
    with slider:
        return int(
            url_widget(st.slider, "Step (token index)", 0, n_steps - 1, key=STEP, on_change=_pause)
        )


def clamp_state(key: str, upper: int) -> None:
    """Keep a remembered integer widget value inside 0..upper after the model changed."""
    if key in st.session_state and not 0 <= st.session_state[key] <= upper:
        st.session_state[key] = max(0, min(upper, st.session_state[key]))


def vocabulary(name: str) -> list[str]:
    """Token strings of a model's vocabulary, by id."""
    model = get_model(name)
    tok = model.tokenizer
    n = model.config.vocab_size
    return [tok.token(i) if tok is not None else str(i) for i in range(n)]


def _pca(name: str) -> tuple[np.ndarray, np.ndarray]:
    table = get_model(name).embed.weight.detach().cpu().numpy()  # read only, never written
    return vs.pca_2d(table)


@st.cache_resource(max_entries=32, show_spinner=False)
def _shared_pca(name: str) -> tuple[np.ndarray, np.ndarray]:
    return _pca(name)


def embedding_pca(name: str) -> tuple[np.ndarray, np.ndarray]:
    """2-D PCA of a model's embedding table (cached for shipped models)."""
    return _pca(name) if name.startswith(SESSION_PREFIX) else _shared_pca(name)


@st.cache_resource(max_entries=128, show_spinner=False)
def _shared_order(name: str, text: str, layer: int, method: str) -> np.ndarray:
    return vs.unit_order(get_trace(name, text).hidden[:, layer], method)


def unit_order(name: str, text: str, layer: int, method: str) -> np.ndarray:
    """Display order of the units of one layer, from h (the same order in every figure)."""
    if name.startswith(SESSION_PREFIX) or method == "index":
        return vs.unit_order(get_trace(name, text).hidden[:, layer], method)
    return _shared_order(name, text, layer, method)


def csv_exporter(name: str, text: str):
    """A callable for ``st.download_button``: the CSV is built only when clicked."""

    def build() -> bytes:
        return vs.trace_frame(get_trace(name, text)).to_csv(index=False).encode()

    return build


def compare_partners(name: str) -> dict[str, str]:
    """One model per cell (RNN, LSTM, GRU) trained on the same data with the same tokenizer.

    The picked model stands for its own cell; partners are shipped or session models whose
    card has the same corpus and tokenizer kind.
    """
    card = model_card(name)
    corpus, tok = card.get("corpus"), (card.get("tokenizer") or {}).get("kind")
    out = {card["config"]["cell"]: name}
    for other in model_names("sequence", is_language_model):
        c = model_card(other)
        cell = c.get("config", {}).get("cell")
        if (
            cell not in out
            and c.get("corpus") == corpus
            and (c.get("tokenizer") or {}).get("kind") == tok
        ):
            out[cell] = other
    return {cell: out[cell] for cell in ("rnn", "lstm", "gru") if cell in out}


def text_strip(tokens: list[str], step: int, width: int = 400) -> str:
    """HTML of the input around the cursor: the token read highlighted, the next underlined.

    Only ``width`` tokens around the cursor are shown, so long inputs stay one glance.
    """
    lo = max(0, step - width // 2)
    hi = min(len(tokens), lo + width)
    parts = []
    for t in range(lo, hi):
        tok = html.escape(tokens[t] if tokens[t] != "\n" else "⏎\n")
        if t == step:
            tok = (
                f'<span style="background:{HIGHLIGHT};color:white;border-radius:3px;'
                f'padding:0 2px">{tok if tokens[t].strip() else "␣"}</span>'
            )
        elif t == step + 1:
            tok = f'<span style="border-bottom:3px solid {HIGHLIGHT}">{tok}</span>'
        elif t > step + 1:
            tok = f'<span style="color:#adb5bd">{tok}</span>'
        parts.append(tok)
    sep = "" if all(len(tk) == 1 for tk in tokens[lo:hi]) else " "
    more = ("… " if lo else "", " …" if hi < len(tokens) else "")
    return (
        '<div style="font-family:monospace;font-size:1.05rem;white-space:pre-wrap;'
        'line-height:1.6;border:1px solid #dee2e6;border-radius:6px;padding:8px 12px">'
        f"{more[0]}{sep.join(parts)}{more[1]}</div>"
    )


def step_facts(tr: Trace, step: int, labels: list[str]) -> dict[str, str]:
    """The headline numbers of a step: token read, true next token, its p and surprise."""
    read = token_label(tr.tokens[step])
    if step + 1 >= len(tr.tokens):
        return {"Reads": repr(read), "True next": "(end)", "p(true next)": "–", "Surprise": "–"}
    nxt = int(tr.ids[step + 1])
    p = float(tr.probs[step, nxt])
    bits = tr.surprise_bits[step]
    return {
        "Reads": repr(read),
        "True next": repr(token_label(labels[nxt])) if nxt else "<unk>",
        "p(true next)": f"{p:.3f}",
        "Surprise": "unknown token" if np.isnan(bits) else f"{bits:.2f} bits",
    }


def compare_panel(name: str, text: str, step: int) -> None:
    """The same text through an RNN, an LSTM and a GRU, all at the shared cursor ``step``."""
    partners = compare_partners(name)
    traces = {cell: get_trace(other, text) for cell, other in partners.items()}
    n = len(traces[model_card(name)["config"]["cell"]].tokens)
    traces = {cell: tr for cell, tr in traces.items() if len(tr.tokens) == n}
    st.subheader("Compare: the same text through each cell")
    if len(traces) < 2:
        st.info("No other cell was trained on the same data with the same tokenizer.")
        return
    tokens = next(iter(traces.values())).tokens
    st.plotly_chart(
        vs.compare_surprise({c: tr.surprise_bits for c, tr in traces.items()}, tokens, step),
        width="stretch",
        key="step_cmp_surprise",
    )
    for col, (cell, tr) in zip(st.columns(len(traces)), traces.items(), strict=True):
        labels = vocabulary(partners[cell])
        true_id = int(tr.ids[step + 1]) if step + 1 < n else None
        with col:
            bits = np.nanmean(tr.surprise_bits)
            st.markdown(f"**{cell.upper()}** · `{partners[cell]}` · mean {bits:.2f} bits/token")
            st.plotly_chart(
                vs.topk_bars(tr.probs[step], labels, k=5, true_id=true_id, height=240),
                width="stretch",
                key=f"step_cmp_{cell}",
            )
