"""The Step through page's data: its payload for the in-browser player, its URL, downloads.

Stepping runs in the browser (``autoreg.ui.player``, view ``static/step.js``): the page
packs one layer of the cached trace once (``autoreg.seq.payload.step_payload``) and
the player draws every step from it. The payload without any unit's cell details is
cached per (model, text, layer, compare) in ``st.cache_resource`` (shared, read-only);
the chosen unit's details are appended on each full run (a few kB), and the browser
asks for other units' details, or for the next window of a long text, through
``fetch``.

URL state: model, input, layer and the compare toggle are Streamlit widgets bound to
the URL; the cursor (``URL``: step, unit, sub-step, over-time quantity, unit order,
speed) lives in the browser and reaches the URL through the player's channel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import streamlit as st

from autoreg.seq import payload as pl
from autoreg.seq.trace import Trace
from autoreg.ui import player as pp
from autoreg.ui.models import SESSION_PREFIX, get_model, model_card, model_names
from autoreg.ui.sequences import get_trace, is_language_model
from autoreg.viz import stepper as vs

KEY = "step_player"
URL = {
    "step": "step_step",
    "unit": "step_unit",
    "sub": "step_sub",
    "view": "step_view",
    "order": "step_order",
    "speed": "step_speed",
}
DEFAULTS = {"step": 0, "unit": 0, "sub": "all", "view": "hidden", "order": "index", "speed": 2}
SUBSTEPS = (*pl.LSTM_SUBSTEPS, "all")


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


def unit_order(name: str, text: str, layer: int, method: str) -> np.ndarray:
    """Display order of the units of one layer, from h (the same order in every view)."""
    return vs.unit_order(get_trace(name, text).hidden[:, layer], method)


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


def _build(name: str, text: str, layer: int, compare: bool, units, windows=(0,)) -> bytes:
    tr = get_trace(name, text)
    coords, ratio = embedding_pca(name)
    partners = compare_partners(name) if compare else {}
    return pl.step_payload(
        tr,
        layer=layer,
        labels=vocabulary(name),
        embedding_xy=coords,
        explained=ratio,
        orders={"clustered": unit_order(name, text, layer, "clustered")},
        compare={c: (n, get_trace(n, text), vocabulary(n)) for c, n in partners.items()},
        model=name,
        units=units,
        windows=windows,
    )


@st.cache_resource(max_entries=32, show_spinner="Packing the trace…")
def _shared_base(name: str, text: str, layer: int, compare: bool) -> bytes:
    return _build(name, text, layer, compare, ())


def base_payload(name: str, text: str, layer: int, compare: bool) -> bytes:
    """Everything the player needs at first, without any unit's cell details (cached)."""
    if not name.startswith(SESSION_PREFIX):
        return _shared_base(name, text, layer, compare)
    cache = st.session_state.setdefault("step_session_payloads", {})
    key = (name, id(get_model(name)), text, layer, compare)
    if key not in cache:
        if len(cache) > 8:
            cache.clear()
        cache[key] = _build(name, text, layer, compare, ())
    return cache[key]


def page_payload(name: str, text: str, layer: int, compare: bool, unit: int) -> bytes:
    """The base payload with the chosen unit's cell details (what the page mounts)."""
    tr = get_trace(name, text)
    return pl.merge(base_payload(name, text, layer, compare), pl.units_payload(tr, layer, [unit]))


def fetcher(name: str, text: str, layer: int) -> Callable[[dict], bytes | None]:
    """Answers the browser's requests: windows of per-unit states, units' cell details."""

    def fetch(need: Mapping) -> bytes | None:
        tr = get_trace(name, text)
        lay = pl.layout(tr, layer)
        H = tr.hidden.shape[2]
        wins = [k for k in _ints(need.get("windows")) if 0 <= k < lay.windows()]
        units = [u for u in _ints(need.get("units")) if 0 <= u < H]
        blobs = [pl.window_payload(tr, layer, k) for k in wins[:4]]
        if units:
            blobs.append(pl.units_payload(tr, layer, units[:16]))
        return pl.merge(*blobs) if blobs else None

    return fetch


def _ints(values: object) -> list[int]:
    """The integers among what the browser sent (anything else is ignored)."""
    if not isinstance(values, list | tuple):
        return []
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool)]


def cursor_fields(tr: Trace, layer: int) -> dict[str, object]:
    """What each cursor field may be for this trace (``player.cursor_from_url``)."""
    return {
        "step": range(len(tr.tokens)),
        "unit": range(tr.hidden.shape[2]),
        "sub": SUBSTEPS,
        "view": tuple(pl.quantities(tr, layer)),
        "order": vs.ORDERINGS,
        "speed": pp.SPEEDS,
    }


def link_cursor(tr: Trace, layer: int) -> tuple[dict, list[str]]:
    """The cursor the URL asks for, and notices about what a link asked for but cannot get."""
    held = st.session_state.get(f"{KEY}_cursor")
    return pp.cursor_from_url(URL, cursor_fields(tr, layer), DEFAULTS, held)


def show(name: str, text: str, layer: int, compare: bool, *, present: bool) -> dict:
    """Check the link's cursor and mount the player: {"cursor": live cursor, "notes": [...]}."""
    tr = get_trace(name, text)
    cursor, notes = link_cursor(tr, layer)
    payload = page_payload(name, text, layer, compare, int(cursor["unit"]))
    options = pp.player_options(KEY, cursor, presenter=present)
    files = None if present else {"html": saved_file(name, text, layer, compare)}
    live = pp.player(
        "step",
        payload,
        key=KEY,
        options=options,
        url=URL,
        defaults=DEFAULTS,
        fetch=fetcher(name, text, layer),
        files=files,
    )
    return {"cursor": live, "notes": notes}


SAVED_DETAILS_BYTES = 8_000_000  # above this, a saved file holds the chosen unit's cell only


def saved_units(tr: Trace, layer: int, unit: int) -> tuple[int, ...] | None:
    """Whose cell details a saved file holds: every unit's (None), or a long text's one."""
    T, _, H = tr.hidden.shape
    per_value = 2  # int16, mostly (payload.quantise)
    every = T * H * len(pl.DETAILS[tr.cell_type]) * per_value
    return None if every <= SAVED_DETAILS_BYTES else (unit,)


@st.cache_resource(max_entries=16, show_spinner=False)
def _shared_full(name: str, text: str, layer: int, compare: bool, units) -> bytes:
    return _build(name, text, layer, compare, units, windows=None)


def full_payload(name: str, text: str, layer: int, compare: bool, unit: int = 0) -> bytes:
    """Every window, and every unit's cell details unless the text is long: a saved file."""
    units = saved_units(get_trace(name, text), layer, unit)
    if name.startswith(SESSION_PREFIX):
        return _build(name, text, layer, compare, units, windows=None)
    return _shared_full(name, text, layer, compare, units)


def saved_view(name: str, text: str, layer: int, compare: bool, cursor: Mapping) -> bytes:
    """The current view as one HTML file that steps offline (same code, payload inside)."""
    tr = get_trace(name, text)
    unit = int(cursor.get("unit", 0))
    only = saved_units(tr, layer, unit)
    note = (
        f"{name} ({tr.cell_type.upper()}), layer {layer + 1}, reading {len(tr.tokens)} tokens. "
        "Step with ← → (Home/End), space to play, or drag the slider; hover for exact values. "
        + (f"The cell's own numbers are in this file for unit {unit}. " if only else "")
        + "Saved from autoreg's Step through page; it needs no server and no network."
    )
    options = pp.player_options(KEY, cursor, standalone=True)
    return pp.standalone_html(
        "step",
        full_payload(name, text, layer, compare, unit),
        options,
        title=f"Step through: {name}",
        note=note,
    )


def saved_file(name: str, text: str, layer: int, compare: bool) -> pp.SavedFile:
    """The player's "Save this view" button: the HTML file, made at the browser's cursor."""
    return pp.SavedFile(
        label="Save this view (HTML)",
        name=f"step-through-{name.replace(':', '-')}.html",
        mime="text/html",
        make=lambda cursor: saved_view(name, text, layer, compare, cursor),
        help="One file with this view and its numbers: it steps offline in any browser.",
        size=saved_size(name, text, layer, compare),
    )


@st.cache_resource(max_entries=64, show_spinner=False)
def _saved_size(name: str, text: str, layer: int, compare: bool) -> int:
    return len(saved_view(name, text, layer, compare, DEFAULTS))


def saved_size(name: str, text: str, layer: int, compare: bool) -> str:
    """The saved file's size, to print beside its button (to a few bytes: the cursor)."""
    if name.startswith(SESSION_PREFIX):
        return pp.size_label(len(saved_view(name, text, layer, compare, DEFAULTS)))
    return pp.size_label(_saved_size(name, text, layer, compare))
