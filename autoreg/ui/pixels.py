"""Streamlit helpers of the image pages: model picker, cached data, the generation job.

Shipped models and what is computed from them (receptive-field stencils, the mask-off
demo, stacked fields) live in ``st.cache_resource``: shared by every session and
read-only. A generation belongs to one session: a ``GenerationRun`` kept in
``st.session_state`` and filled in by its own daemon thread, so the page stays
responsive and a Stop button can end it.

The replay (``player``) is self-clocked, like the Step through page's (``stepper``): a
``run_every`` timer failed in Chromium, because every tick is a request carrying the
browser's widget values, and a "Pixels drawn" slider left over from the last pause
came back with its old value; the server ran its ``on_change``, which moved the
position back and paused, so Play after a Pause never resumed. Now no timer runs: at
the end of a completed fragment run the fragment waits out the rest of the interval
and reruns itself (``st.rerun(scope="fragment")``); those reruns carry no browser
values. Callbacks only record what was asked; ``_resolve`` decides once per run, and
the position is written back every run. A fragment may rerun itself only during a
fragment run, so the controls live inside it, Generate reruns only the fragment, and
any other full run (a start control changed) pauses.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st
import torch

from autoreg.pixelcnn.data import load_images
from autoreg.pixelcnn.demos import MaskDemo, StackFields, stack_fields, train_mask_demo
from autoreg.pixelcnn.generation import FieldStencil, GenerationRun, Start
from autoreg.ui.chrome import presenting
from autoreg.ui.models import SESSION_PREFIX, get_model, model_card, model_label, model_names
from autoreg.ui.urlstate import url_widget

RUN_KEY = "pixels_run"  # session_state: the current GenerationRun
PREFERRED = ("pixelcnn-mnist16", "gated-mnist16", "pixelcnn-digits8")


def card_line(name: str) -> str:
    """One line about a pixel model: kind, size, levels, test NLL against the baseline."""
    card = model_card(name)
    cfg, m = card.get("config", {}), card.get("metrics", {})
    kind = "Gated PixelCNN" if cfg.get("kind") == "gated" else "PixelCNN"
    size, levels = cfg.get("image_size"), cfg.get("levels")
    data = (card.get("dataset") or {}).get("name", "?")
    line = f"{kind} · {size}×{size} · {levels} levels · trained on {data}"
    bits, base = m.get("test_bits_per_dim"), m.get("baseline_bits_per_dim")
    if bits is not None and base is not None:
        line += f" · test NLL {bits:.3f} bits/pixel (independent pixels: {base:.3f})"
    return line


def pixel_model_picker(key: str) -> str:
    """URL-bound select box over shipped and session PixelCNN models."""
    names = model_names("pixelcnn")
    if not names:
        st.error("No PixelCNN model is installed. Train one on the Train page.")
        st.stop()
    default = next((n for n in PREFERRED if n in names), names[0])
    return url_widget(
        st.selectbox, "Model", names, index=names.index(default), key=key,
        format_func=model_label, help="Shipped models and the ones you trained this session.",
    )  # fmt: skip


@st.cache_resource(show_spinner=False, max_entries=16)
def _test_images(dataset: str, size: int, levels: int) -> torch.Tensor:
    images = load_images(dataset, size=size, levels=levels).test  # (N, H, W) uint8
    images.requires_grad_(False)
    return images


def test_images(name: str) -> torch.Tensor:
    """The test split of the dataset a model was trained on, at its size and levels."""
    card = model_card(name)
    data = card.get("dataset") or {}
    cfg = card["config"]
    dataset = data.get("name", "mnist-5k")
    if dataset not in ("mnist-5k", "digits-8x8"):
        dataset = "mnist-5k"  # downloaded datasets may be absent offline: use the shipped one
    return _test_images(dataset, cfg["image_size"], cfg["levels"])


def example_digit() -> torch.Tensor:
    """A real MNIST test digit at 16x16 and 4 levels (the book's setting), for the Masks page."""
    return _test_images("mnist-5k", 16, 4)[3]


@st.cache_resource(show_spinner="Measuring the receptive field by autograd…", max_entries=16)
def _shared_stencil(name: str) -> FieldStencil:
    return FieldStencil(get_model(name))


def field_stencil(name: str) -> FieldStencil:
    """Receptive-field stencil of a model (shared for shipped models, per session otherwise)."""
    if not name.startswith(SESSION_PREFIX):
        return _shared_stencil(name)
    cache = st.session_state.setdefault("pixels_session_stencils", {})
    key = (name, id(get_model(name)))
    if key not in cache:
        cache[key] = FieldStencil(get_model(name))
    return cache[key]


@st.cache_resource(show_spinner=False, max_entries=64)
def cached_stack_fields(depth: int, kind: str, kernel: int, size: int, row: int, col: int):
    """``stack_fields`` for the Masks page (a few ms; cached so clicks replay instantly)."""
    return _frozen(stack_fields(depth, kind, kernel, size, row, col))


def _frozen(s: StackFields) -> StackFields:
    s.fields.requires_grad_(False)
    return s


@st.cache_resource(
    show_spinner="Training two tiny PixelCNNs on digits-8x8, one without masks "
    "(about 15 s, once per server)…"
)
def mask_demo() -> MaskDemo:
    """The mask-off demo: trained once per server process and shared by every visitor."""
    torch.set_num_threads(1)
    return train_mask_demo()


# --- the generation job ----------------------------------------------------------------


def current_run() -> GenerationRun | None:
    return st.session_state.get(RUN_KEY)


def start_run(name: str, n: int, start: Start, temperature: float, seed: int) -> GenerationRun:
    """Stop any running generation of this session and start a new one in the background."""
    stop_run()
    run = GenerationRun(get_model(name), n, start, temperature, seed)
    run.model_name = name  # type: ignore[attr-defined]  # which model drew it
    run.start_background()
    st.session_state[RUN_KEY] = run
    return run


def resample_run(step: int, seed: int) -> GenerationRun | None:
    """Replace the current run by one that keeps its first ``step`` pixels."""
    run = current_run()
    if run is None:
        return None
    name = run.model_name  # type: ignore[attr-defined]
    run.stop()
    new = run.resample_from(step, get_model(name), seed)
    new.model_name = name  # type: ignore[attr-defined]
    new.start_background()
    st.session_state[RUN_KEY] = new
    return new


def stop_run() -> None:
    run = current_run()
    if run is not None:
        run.stop()


def clicked_pixel(key: str) -> tuple[int, int] | None:
    """A pixel newly clicked on the chart with ``key`` (its transparent overlay), else None.

    A plotly selection stays in session state until the next click, so only a selection
    that differs from the last one seen counts as new; call this before the chart is drawn.
    """
    event = st.session_state.get(key)
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return None
    if not points:
        return None
    point = points[-1]
    pixel = (round(float(point["y"])), round(float(point["x"])))
    seen_key = f"{key}_seen"
    if st.session_state.get(seen_key) == pixel:
        return None
    st.session_state[seen_key] = pixel
    return pixel


# --- the replay player (self-clocked, see the module docstring) --------------------------

POS, PLAYING, JUMP = "pixels_pos", "pixels_playing", "pixels_jump"
SCRUB = "pixels_scrub"  # the "Pixels drawn" slider, shown while paused
PANEL = "pixels_panel"  # key of the replay fragment
FULL_RUN = "pixels_full_run"  # set by the full run just before it calls the fragment
TICK = "pixels_tick"  # the fragment queued its own next run: advance
ASK = "pixels_ask"  # what this run's callbacks asked for
INTERVAL = 0.25  # seconds between autoplay steps
SPEEDS = (1, 2, 4, 8, 16, 32)  # pixels per step of play


def _ask(**what: object) -> None:
    st.session_state.setdefault(ASK, {}).update(what)


def _set_playing(playing: bool) -> None:
    # Sets rather than toggles: a click replayed after an interrupted run changes nothing.
    _ask(play=playing)
    st.rerun(PANEL)  # a fragment run even if the click came with a full run (AppTest)


def _resample() -> None:
    _ask(resample=True)
    st.rerun(PANEL)  # it plays: a fragment run, as for Play


def generate(name: str, n: int, start: Start, temperature: float, seed: int) -> None:
    """Generate's callback: start a run and play it (a fragment run, so it can clock)."""
    start_run(name, n, start, temperature, seed)
    st.session_state.update({POS: 0, JUMP: False})
    _set_playing(True)


def _wait(seconds: float) -> bool:
    """Sleep the rest of the autoplay interval; False ends the self-clock (tests)."""
    if seconds > 0:
        time.sleep(seconds)
    return True


def player(draw: Callable[[GenerationRun, int], None]) -> None:
    """The replay panel: buttons, progress, position, then ``draw(run, position)``.

    Call it from the page body on every run, even before the first Generate (its key
    must exist for Generate to rerun it alone).
    """
    st.session_state[FULL_RUN] = True  # only full runs execute the page body
    _panel(draw)


@st.fragment(key=PANEL)
def _panel(draw: Callable[[GenerationRun, int], None]) -> None:
    started = time.monotonic()
    s = st.session_state
    full = s.pop(FULL_RUN, False)
    run = current_run()
    if run is None:
        st.info("Choose a start and press **Generate**.")
        return
    if run.error:
        st.error(f"Generation failed: {run.error}")
    if run.total == 0:
        st.info("Every pixel of this start is given: nothing to generate. Erase a part first.")
        return
    run = _resolve(run, full)
    _controls(run)
    draw(run, s[POS])
    ticking = s[PLAYING] or s[JUMP] or not (run.done or run.stopped)
    if ticking and not full and _wait(INTERVAL - (time.monotonic() - started)):
        s[TICK] = True
        st.rerun(scope="fragment")


def _resolve(run: GenerationRun, full: bool) -> GenerationRun:
    """Apply this run's asks and our own tick to the position; returns the current run.

    Runs before the slider exists. While the server moves the position (playing, or
    following the generation after End) no slider is shown, so a slider value then is
    the browser's stale copy; paused, it counts only when it is the one thing asked.
    """
    s = st.session_state
    tick, ask = s.pop(TICK, False), s.pop(ASK, {})
    pos, playing, jump = int(s.get(POS, 0)), bool(s.get(PLAYING)), bool(s.get(JUMP))
    if ask.get("resample"):
        run = resample_run(min(pos, run.computed), run.seed + 1) or run
        pos, playing, jump = 0, True, False
    pick = clicked_pixel("pixels_pick")
    if pick is not None and run.step_of(*pick) is not None:
        pos, playing, jump = run.step_of(*pick), False, False
    elif ask.get("slid") and len(ask) == 1 and not (playing or jump) and SCRUB in s:
        pos = int(s[SCRUB])
    if ask.get("next"):
        pos, playing, jump = min(run.total, pos + 1), False, False
        if run.computed < pos:
            run.advance(pos - run.computed)
    if ask.get("end"):
        playing, jump = False, True
    if "play" in ask:
        playing, jump = bool(ask["play"]), False
        if playing and pos >= run.total:
            pos = 0  # Play at the end plays from the start again
    elif playing and tick:
        pos = min(pos + int(s.get("pixels_speed", 4)), run.computed)
    if jump:
        pos = run.computed
    pos = min(pos, run.total)
    if pos >= run.total:
        playing = jump = False
    s[POS] = pos  # written every run: the slider adopts the server's position
    s[PLAYING], s[JUMP] = playing and not full, jump and not full  # a full run cannot clock
    return run


def _controls(run: GenerationRun) -> None:
    """Play/Pause, Step, End, Stop, Resample, speed; progress and the position."""
    s = st.session_state
    playing = s[PLAYING]
    b = st.columns([1, 1, 1, 1, 1.4, 2])
    b[0].button("Pause" if playing else "Play", key="pixels_play", on_click=_set_playing,
                args=(not playing,), icon=":material/pause:" if playing
                else ":material/play_arrow:")  # fmt: skip
    b[1].button("Step", key="pixels_next", on_click=_ask, kwargs={"next": True},
                icon=":material/skip_next:")  # fmt: skip
    b[2].button("End", key="pixels_end", on_click=_ask, kwargs={"end": True},
                icon=":material/last_page:")  # fmt: skip
    b[3].button("Stop", key="pixels_stop", on_click=stop_run, icon=":material/stop:",
                disabled=run.done or run.stopped)  # fmt: skip
    b[4].button("Resample from here", key="pixels_resample", on_click=_resample,
                icon=":material/refresh:",
                help="Keep the pixels drawn so far, redraw the rest with the next "
                "seed.")  # fmt: skip
    if not presenting():
        b[5].select_slider("Pixels per step of play", SPEEDS, 4, key="pixels_speed")
    label = f"computed {run.computed} of {run.total} pixels" + (" (stopped)" if run.stopped else "")
    st.progress(run.computed / run.total, text=label)
    pos = s[POS]
    if playing or s[JUMP]:  # the server moves the position: a bar, not a slider
        st.progress(pos / run.total, text=f"Pixels drawn: {pos} of {run.total}")
    else:
        s[SCRUB] = pos
        st.slider("Pixels drawn", 0, run.total, key=SCRUB, on_change=_ask,
                  kwargs={"slid": True})  # fmt: skip
