"""Streamlit helpers of the image pages: model picker, cached data, generation and replay.

Shipped models and what is computed from them (receptive-field stencils, the mask-off
demo, stacked fields) live in ``st.cache_resource``: shared by every session and
read-only. A generation belongs to one session: a ``GenerationRun`` kept in
``st.session_state`` and filled in by its own daemon thread, so the page stays
responsive and a Stop button can end it.

The replay runs in the browser (``autoreg.ui.player``, view ``static/pixels.js``): what
the run has recorded is packed (``autoreg.pixelcnn.replay``) and the player steps,
scrubs, plays and pauses over it with no server round trip, so Pause stops on the frame
on screen and End is instant. While the run still draws, a small fragment reruns every
``POLL`` seconds and sends the grown record under the same id (the browser keeps its
cursor, and playing waits at the end for more); when the run ends, one full rerun
switches the timer off. The cursor (``URL``: pixels drawn, the sample shown large,
speed) reaches the URL through the player's channel; a copied link regenerates the
same sample (seeded) and opens at the same pixel.
"""

from __future__ import annotations

import uuid

import streamlit as st
import torch

from autoreg.pixelcnn.data import load_images
from autoreg.pixelcnn.demos import MaskDemo, StackFields, stack_fields, train_mask_demo
from autoreg.pixelcnn.generation import FieldStencil, GenerationRun, Start
from autoreg.pixelcnn.replay import replay_payload, run_id
from autoreg.ui import player as pp
from autoreg.ui.browser_id import connected_watch
from autoreg.ui.models import SESSION_PREFIX, get_model, model_card, model_label, model_names
from autoreg.ui.urlstate import notice, url_widget

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

KEY = "pixels_player"
URL = {"step": "pixels_step", "focus": "pixels_focus", "speed": "pixels_speed"}
SPEEDS = (8, 16, 32, 64, 128, 256)  # pixels per second of play
DEFAULTS = {"step": 0, "focus": 0, "speed": 32}
POLL = 0.5  # seconds between updates of the replay while the run draws
AUTOPLAY = "pixels_autoplay"  # session_state: id of a run to play once it is mounted
BLOBS = "pixels_blobs"  # session_state: {run id: (pixels computed, payload)}


def current_run() -> GenerationRun | None:
    return st.session_state.get(RUN_KEY)


def _settings(name: str, n: int, start: Start, temperature: float, seed: int) -> tuple:
    return (name, int(n), float(temperature), int(seed), start.image.tolist(), start.known.tolist())


def start_run(name: str, n: int, start: Start, temperature: float, seed: int) -> GenerationRun:
    """Stop any running generation of this session and start a new one in the background."""
    stop_run()
    run = GenerationRun(get_model(name), n, start, temperature, seed)
    run.model_name = name  # type: ignore[attr-defined]  # which model drew it
    run.settings = _settings(name, n, start, temperature, seed)  # type: ignore[attr-defined]
    run.uid = uuid.uuid4().hex  # type: ignore[attr-defined]  # two equal runs differ
    run.start_background(alive=connected_watch())
    st.session_state[RUN_KEY] = run
    st.session_state.pop(BLOBS, None)
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
    new.settings = None  # type: ignore[attr-defined]  # no longer what the controls say
    new.uid = uuid.uuid4().hex  # type: ignore[attr-defined]
    new.start_background(alive=connected_watch())
    st.session_state[RUN_KEY] = new
    st.session_state.pop(BLOBS, None)
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


def _play_from_start(run: GenerationRun) -> None:
    st.session_state[AUTOPLAY] = run_id(run)
    st.session_state.setdefault(f"{KEY}_cursor", {}).update(step=0)
    st.query_params.pop(URL["step"], None)  # the last run's step: the new one starts at 0


def generate(name: str, n: int, start: Start, temperature: float, seed: int) -> None:
    """Generate's callback: start a run; the browser plays it as it comes in."""
    _play_from_start(start_run(name, n, start, temperature, seed))


def resample() -> None:
    """Resample's callback: keep the pixels drawn up to the browser's cursor, redraw the rest."""
    run = current_run()
    if run is None:
        return
    step = _int(st.query_params.get(URL["step"]))  # the browser keeps its cursor in the URL
    new = resample_run(min(step, run.computed), run.seed + 1)
    if new is not None:
        _play_from_start(new)


def start_from_link(name: str, n: int, start: Start, temperature: float, seed: int) -> bool:
    """A link that names a pixel (``pixels_step``) on a session with no run: generate the
    same seeded sample now, so the link opens on the same view. True when started."""
    if current_run() is not None or st.query_params.get(URL["step"]) is None:
        return False
    start_run(name, n, start, temperature, seed)
    return True


def stale(name: str, n: int, start: Start, temperature: float, seed: int) -> str | None:
    """Why the run on screen is not what the controls now ask for, or None."""
    run = current_run()
    if run is None:
        return None
    made = getattr(run, "settings", None)
    if made is None:
        return "Shown: a resampled generation. Press Generate to start again from these settings."
    if made != _settings(name, n, start, temperature, seed):
        who = model_label(made[0])
        return (
            f"Shown: the generation made with other settings ({who}, {made[1]} samples, "
            f"T = {made[2]:g}, seed {made[3]}). Press Generate to draw with these ones."
        )
    return None


def payload(run: GenerationRun) -> bytes:
    """The run's record as a player payload (re-packed only when it has grown)."""
    blobs = st.session_state.setdefault(BLOBS, {})
    key = run_id(run)
    computed = run.computed
    if key not in blobs or blobs[key][0] != computed:
        name = run.model_name  # type: ignore[attr-defined]
        blobs.clear()
        blobs[key] = (computed, replay_payload(run, field_stencil(name), model=name, upto=computed))
    return blobs[key][1]


def _int(value: object) -> int:
    """A step from the URL or the browser: a non-negative integer, else 0."""
    try:
        return max(0, int(str(value)))
    except ValueError:
        return 0


def replay(present: bool) -> None:
    """The replay panel: the player over the current run, updated while the run draws."""
    run = current_run()
    if run is None:
        st.info("Choose a start and press **Generate**.")
        return
    if run.total == 0:
        st.info("Every pixel of this start is given: nothing to generate. Erase a part first.")
        return
    held = st.session_state.get(f"{KEY}_cursor")
    fields = {"step": range(run.total + 1), "focus": range(run.n), "speed": SPEEDS}
    cursor, notes = pp.cursor_from_url(URL, fields, DEFAULTS, held)
    for note in notes:
        notice(note)
    drawing = not (run.done or run.stopped or run.error)
    # The cursor is read once per full run: while the fragment reruns, the browser's own
    # cursor holds (the player keeps it when the server's has not changed).
    st.fragment(_replay, run_every=POLL if drawing else None)(present, drawing, cursor)


def _replay(present: bool, timed: bool, cursor: dict) -> None:
    run = current_run()
    if run is None:
        return
    if run.error:
        st.error(f"Generation failed: {run.error}")
    drawing = not (run.done or run.stopped or run.error)
    if not run.done:  # while it draws, or where it stopped
        label = f"computed {run.computed} of {run.total} pixels"
        st.progress(run.computed / run.total, text=label + (" (stopped)" if run.stopped else ""))
    if drawing and cursor["step"] > run.computed:  # a link's pixel is not drawn yet
        st.info(f"Drawing the link's sample up to pixel {cursor['step']}…")
        return
    rid = run_id(run)
    # The id of the run Generate (or Resample) just started, sent with every update: the
    # browser plays each id once, from whichever update reaches it first.
    autoplay = rid if st.session_state.get(AUTOPLAY) == rid else False
    options = pp.player_options(
        KEY, cursor, presenter=present, speeds=SPEEDS, speed=DEFAULTS["speed"],
        live=drawing, autoplay=autoplay, burst=8, speed_unit="pixels/s",
    )  # fmt: skip
    png = pp.SavedFile(
        label="PNG (the batch at this step)",
        name="pixelcnn-samples.png",
        mime="image/png",
        make=lambda cursor: run.png(_int(cursor.get("step"))),
        help="The batch as drawn after the replay's step, one tile per sample.",
    )
    pp.player("pixels", payload(run), key=KEY, options=options, url=URL, defaults=DEFAULTS,
              files={"png": png})  # fmt: skip
    if timed and not drawing:
        st.rerun()  # the run ended while the timer ticks: one full run switches it off
