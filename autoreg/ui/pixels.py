"""Streamlit helpers of the image pages: model picker, cached data, the generation job.

Shipped models and what is computed from them (receptive-field stencils, the mask-off
demo, stacked fields) live in ``st.cache_resource``: shared by every session and
read-only. A generation belongs to one session: a ``GenerationRun`` kept in
``st.session_state`` and filled in by its own daemon thread, so the page stays
responsive and a Stop button can end it.
"""

from __future__ import annotations

import streamlit as st
import torch

from autoreg.images import load_images
from autoreg.pixelcnn.demos import MaskDemo, StackFields, stack_fields, train_mask_demo
from autoreg.pixelcnn.generation import FieldStencil, GenerationRun, Start
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
