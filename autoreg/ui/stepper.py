"""Widgets and panels of the Step through page: the step cursor, autoplay, and what it shows.

Stepping must feel instant, so the page draws everything that depends on the cursor
inside one ``st.fragment`` (``player``): moving the step reruns only that fragment, and
the trace is cached per (model, text) (``get_trace``), so a step only slices arrays.

Autoplay is self-clocked. A ``run_every`` timer failed in Chromium: a step redraws about
nine charts (0.5-5 s on a loaded machine), and every tick is a request carrying the
browser's widget values, whose slider value lags the server by the browser's render
backlog (seen: 4 when the server was at 5, 10 when it was at 16). The server took that
for the user dragging the slider back, ran its ``on_change`` and paused after a step or
two. So no timer runs: at the end of a completed fragment run the fragment waits out
the rest of the interval and reruns itself (``st.rerun(scope="fragment")``); those
reruns carry no browser values, and a slow step plays late, never twice.

The lag still rides along with real clicks, so while playing the cursor the server
last drew is the truth: a slider value from the browser counts only when the slider is
the one thing that changed (the user took it), and every run writes the cursor back so
the browser adopts it. Callbacks only record what was asked; ``_controls`` decides once
every callback of the run has run.

A fragment may rerun itself only during a fragment run, so Play/Pause and the speed live
inside the fragment, and a full run (a control outside it changed) pauses. Any manual
move pauses: previous/next, the slider; so does the end of the text. Keyboard: <- / ->
step, space plays/pauses (button shortcuts).
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable

import numpy as np
import streamlit as st

from autoreg.seq.trace import Trace
from autoreg.ui.models import SESSION_PREFIX, get_model, model_card, model_names
from autoreg.ui.sequences import get_trace, is_language_model
from autoreg.ui.urlstate import url_widget
from autoreg.viz import stepper as vs
from autoreg.viz.common import HIGHLIGHT, token_label

STEP = "step_step"  # the cursor (URL-bound slider)
PLAYING = "step_playing"
PANEL = "step_panel"  # key of the stepping fragment
FULL_RUN = "step_full_run"  # set by the full run just before it calls the fragment
TICK = "step_tick"  # the fragment queued its own next run: advance one step
SHOWN = "step_shown"  # the cursor the fragment last drew
PLAY, MOVE, SLID = "step_ask_play", "step_ask_move", "step_ask_slid"  # what callbacks asked
SNAPSHOT = "step_snapshot"  # the page's other values after the last run
BUTTONS = ("step_play", "step_prev", "step_next")
_OWN = {STEP, PLAYING, FULL_RUN, TICK, SHOWN, PLAY, MOVE, SLID, SNAPSHOT, *BUTTONS}
SPEEDS = (1, 2, 4)  # steps per second; a step redraws ~9 charts, 0.2-5 s here


def _set_playing(playing: bool) -> None:
    # Sets rather than toggles: a click replayed after an interrupted run changes nothing.
    st.session_state[PLAY] = playing
    # Rerun only the fragment even if this click came with a full run (AppTest does
    # that): only a fragment run can queue the next step.
    st.rerun(PANEL)


def _move(delta: int) -> None:
    st.session_state[MOVE] = delta


def _slider_moved() -> None:
    st.session_state[SLID] = True


def _wait(seconds: float) -> None:
    """Sleep the rest of the autoplay interval (tests replace this)."""
    if seconds > 0:
        time.sleep(seconds)


def _plain_values() -> dict[str, object]:
    # The page's other widget values (unit, view, speed...): a change there means the
    # request came from that widget, not from the slider. Buttons are left out (a
    # click reads True for one run only), and so are toggles, which live outside.
    return {
        k: v
        for k, v in st.session_state.items()
        if k.startswith("step_")
        and k not in _OWN
        and isinstance(v, str | int | float)
        and not isinstance(v, bool)
    }


def player(n_steps: int, draw: Callable[[int], None], *, show_speed: bool = True) -> None:
    """The stepping panel: play/pause, ← slider →, speed, then ``draw(step)``.

    Call it from the page body. ``draw`` puts everything that depends on the step on
    screen; it reruns (inside the fragment) on every step.
    """
    st.session_state[FULL_RUN] = True  # only full runs execute the page body
    _panel(n_steps, draw, show_speed)


@st.fragment(key=PANEL)
def _panel(n_steps: int, draw: Callable[[int], None], show_speed: bool) -> None:
    started = time.monotonic()
    step, interval = _controls(n_steps, show_speed)
    draw(step)
    st.session_state[SNAPSHOT] = _plain_values()
    if st.session_state.get(PLAYING):  # never during a full run (see _controls)
        _wait(interval - (time.monotonic() - started))
        st.session_state[TICK] = True
        st.rerun(scope="fragment")


def _resolve(n_steps: int) -> None:
    """Apply what this run's callbacks asked for, and our own tick, to cursor and playing."""
    s = st.session_state
    full, tick = s.pop(FULL_RUN, False), s.pop(TICK, False)
    play, delta, slid = s.pop(PLAY, None), s.pop(MOVE, 0), s.pop(SLID, False)
    was_playing = bool(s.get(PLAYING))
    before = s.get(SNAPSHOT) or {}
    elsewhere = any(s.get(k) != v for k, v in before.items())
    # While playing, a slider value that rides along with another change is the
    # browser's stale copy; alone, it is the user taking the slider.
    took = slid and not (was_playing and (delta or play is not None or elsewhere))
    playing = was_playing and not (took or delta)
    if play is not None:
        playing = play
    if STEP in s:  # (the first draw on the page takes the URL's step)
        cursor = s[SHOWN] if was_playing and not took and SHOWN in s else s[STEP]
        cursor = int(min(max(cursor + delta, 0), n_steps - 1))
        if play and cursor >= n_steps - 1:
            cursor = 0  # Play at the end plays from the start again
        elif playing and tick and play is None:
            cursor = min(cursor + 1, n_steps - 1)
        if cursor >= n_steps - 1:
            playing = False  # the end
        s[STEP] = cursor  # written every run: the browser adopts the server's cursor
    s[PLAYING] = playing and not full  # a full run cannot queue fragment runs


def _controls(n_steps: int, show_speed: bool) -> tuple[int, float]:
    """Resolve the cursor, then draw the controls; returns (step, interval in s).

    Runs first in the fragment: the cursor changes before the keyed slider exists.
    """
    _resolve(n_steps)
    s = st.session_state
    playing = bool(s.get(PLAYING))
    widths = [4, 1, 12, 1, 5] if show_speed else [4, 1, 17, 1]
    cols = st.columns(widths, vertical_alignment="bottom")
    cols[0].button(
        "Pause" if playing else "Play",
        icon=":material/pause:" if playing else ":material/play_arrow:",
        key="step_play",
        on_click=_set_playing,
        args=(not playing,),
        shortcut="Space",
        type="primary",
        help="Play or pause (space bar). ← and → step one token.",
        width="stretch",
    )
    for col, key, delta, icon, shortcut, help_ in (
        (cols[1], "step_prev", -1, ":material/chevron_left:", "Left", "Previous step (←)"),
        (cols[3], "step_next", 1, ":material/chevron_right:", "Right", "Next step (→)"),
    ):
        col.button(
            "",
            icon=icon,
            key=key,
            on_click=_move,
            args=(delta,),
            shortcut=shortcut,
            help=help_,
            width="stretch",
        )
    speed = s.get("step_speed", 2)
    if show_speed:
        with cols[4]:
            speed = url_widget(
                st.select_slider, "Speed (steps per second)", SPEEDS, value=2, key="step_speed"
            )
    with cols[2]:
        step = int(
            url_widget(
                st.slider, "Step (token index)", 0, n_steps - 1, key=STEP, on_change=_slider_moved
            )
        )
    s[SHOWN] = step
    return step, 1.0 / speed


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
