"""Streamlit glue of the Memory page: which models to compare, and cached measurements.

Measurements on shipped models are cached for every session (they are pure functions of
model names, text and seed); measurements on this session's own models are recomputed
(they are fast: one forward or one backward pass).

The predicted position T runs in the browser (``autoreg.ui.player``, view
``static/memory.js``): the gradient norms of every input for a window of targets come
from one batched backward pass (``autoreg.seq.influence_payload``), cached per window;
the page mounts the window of the link's T and the browser asks for the others as the
cursor reaches them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from autoreg.seq import cells, memory
from autoreg.seq import influence_payload as ip
from autoreg.seq.model import CELLS
from autoreg.ui import player as pp
from autoreg.ui.models import SESSION_PREFIX, get_model, model_card, model_label, model_names
from autoreg.ui.sequences import is_char_model
from autoreg.ui.urlstate import url_widget

LAGS = [1, 2, 5, 10, 15, 20, 30, 40, 50, 60, 80]
DEPTHS = list(range(1, 25))


def _task(card: dict) -> str | None:
    corpus = card.get("corpus") or {}
    return corpus.get("name") if isinstance(corpus, dict) else corpus


def _cell_is(cell: str):
    return lambda card: (card.get("config") or {}).get("cell") == cell


def char_model_pickers(where) -> dict[str, str | None]:
    """One character model per cell: ``{cell}-char-stdlib`` if shipped, else the first one.

    The user can pick another one (e.g. a model trained in this session) in three
    pickers drawn in ``where`` (a container).
    """
    chosen: dict[str, str | None] = {}
    cols = where.columns(3)
    for cell, col in zip(CELLS, cols, strict=True):
        names = model_names("sequence", lambda c, cell=cell: is_char_model(c) and _cell_is(cell)(c))
        if not names:
            chosen[cell] = None
            continue
        preferred = f"{cell}-char-stdlib"
        index = names.index(preferred) if preferred in names else 0
        with col:
            chosen[cell] = url_widget(
                st.selectbox,
                f"{cell.upper()} model",
                names,
                index=index,
                key=f"memory_model_{cell}",
                format_func=model_label,
            )
    return chosen


def task_models(task: str) -> dict[str, str]:
    """The shipped models of one synthetic task, by cell: ``{"rnn": "rnn-recall", ...}``."""
    out = {}
    for cell in CELLS:
        names = [n for n in model_names("sequence", _cell_is(cell)) if not n.startswith("session")]
        names = [n for n in names if _task(model_card(n)) == task]
        if names:
            out[cell] = f"{cell}-{task}" if f"{cell}-{task}" in names else names[0]
    return out


def _shared(names) -> bool:
    return not any(n.startswith(SESSION_PREFIX) for n in names)


KEY = "memory_player"
URL = {"step": "memory_target", "speed": "memory_speed"}  # step = the predicted position T


def _window(names: tuple[str, ...], text: str, k: int) -> dict[str, np.ndarray]:
    out = {}
    for name in names:
        model = get_model(name)
        out.update(ip.window_arrays(model, model.cell, model.encode(text), k))
    return out


_shared_window = st.cache_resource(
    show_spinner="Back-propagating through the models…", max_entries=256
)(_window)


def influence_window(names: tuple[str, ...], text: str, k: int) -> dict[str, np.ndarray]:
    """Window ``k`` of every model's gradient norms (shared for shipped models)."""
    if _shared(names):
        return _shared_window(names, text, k)
    cache = st.session_state.setdefault("memory_session_windows", {})
    key = (names, tuple(id(get_model(n)) for n in names), text, k)
    if key not in cache:
        if len(cache) > 32:
            cache.clear()
        cache[key] = _window(names, text, k)
    return cache[key]


def _fetcher(names: tuple[str, ...], text: str):
    """Answers the browser's requests for more windows of targets (the two newest at a
    time; the browser asks again for any it still misses when it next draws)."""

    def fetch(need) -> bytes | None:
        n = len(text)
        wins = [int(k) for k in need.get("windows") or [] if 0 <= int(k) < ip.windows(n)]
        parts: dict[str, np.ndarray] = {}
        for k in wins[::-1][:2]:  # the newest requests first: where the cursor is now
            parts.update(influence_window(names, text, k))
        return ip.window_payload(names, text, parts) if parts else None

    return fetch


def show_influence(models: dict[str, str], text: str, strip: int, *, present: bool) -> dict:
    """The predicted position as a player: {"cursor": live cursor, "notes": [...]}.

    ``models`` maps each cell to a character model (one token per character), in order.
    """
    names = tuple(models.values())
    n = len(text)
    defaults = {"step": n - 1, "speed": 2}
    held = st.session_state.get(f"{KEY}_cursor")
    fields = {"step": range(n), "speed": pp.SPEEDS}
    cursor, notes = pp.cursor_from_url(URL, fields, defaults, held)
    parts = influence_window(names, text, ip.window_of(cursor["step"], n))
    blob = ip.influence_payload(models, text, list(text), parts)
    options = pp.player_options(KEY, cursor, presenter=present, strip=int(strip))
    live = pp.player(
        "memory", blob, key=KEY, options=options, url=URL, defaults=defaults,
        fetch=_fetcher(names, text),
    )  # fmt: skip
    return {"cursor": live, "notes": notes}


def brackets_caption(acc: dict[str, np.ndarray], trained: int | None) -> str:
    """Accuracy at the longest trained n, and the first n that no line gets right."""
    parts = []
    for cell, a in acc.items():
        text = f"{cell.upper()}: "
        if trained in DEPTHS:
            text += f"{a[DEPTHS.index(trained)]:.2f} at n={trained} (longest trained), "
        zero = next((d for d, v in zip(DEPTHS, a, strict=True) if v == 0), None)
        text += f"0 from n={zero}" if zero else f"{a[-1]:.2f} at n={DEPTHS[-1]}"
        parts.append(text)
    return " · ".join(parts) + "."


@st.cache_data(show_spinner="Scoring fresh recall lines…", max_entries=32)
def recall_curves(names: tuple[str, ...], n: int, seed: int) -> dict[str, np.ndarray]:
    """Accuracy against ``LAGS`` for each shipped recall model, on fresh seeded lines."""
    return {get_model(m).cell: memory.recall_curve(get_model(m), LAGS, n, seed) for m in names}


@st.cache_data(show_spinner="Counting brackets…", max_entries=32)
def brackets_curves(names: tuple[str, ...], reps: int, seed: int) -> dict[str, np.ndarray]:
    """Accuracy against ``DEPTHS`` for each shipped aⁿbⁿ model."""
    return {
        get_model(m).cell: memory.brackets_curve(get_model(m), DEPTHS, reps, seed) for m in names
    }


@st.cache_data(show_spinner=False)
def trained_range(name: str) -> int | None:
    """The longest lag / deepest n in the training text of a task model (None if unknown)."""
    corpus = model_card(name).get("corpus") or {}
    try:
        return memory.training_range(corpus.get("name"), corpus.get("sha256"))
    except ValueError:
        return None


@st.cache_resource(show_spinner="Reading the same digits after every letter…", max_entries=32)
def holding(name: str, lag: int, seed: int, letter: str) -> memory.Holding:
    """Traces of one recall line per letter (shared, read-only)."""
    return memory.holding_units(get_model(name), lag, seed, letter)


def holding_caption(h: memory.Holding, top: int = 12) -> str:
    """What the gate does over the digits, in numbers, for the units shown."""
    mean = h.gate_mean[h.order[:top]]
    held = int((mean > 0.9).sum())
    text = (
        f"Mean {h.gate} gate over the digits: ★ unit {h.held_unit} "
        f"{h.gate_mean[h.held_unit]:.3f}; {held} of these {top} units above 0.9 (holding)."
    )
    if h.gate == "update" and held < top:
        text += (
            " The others have z well below 1: h is rewritten from n at every digit, so for "
            "them the letter can only come through r ⊙ (U_n h), the recurrent path."
        )
    return text


def values_caption(gates: dict[str, np.ndarray]) -> str:
    """Saturation of each gate and the sign of the candidate, from a trace."""
    parts = []
    for name, values in gates.items():
        s = cells.value_summary(values)
        if name == "candidate":
            parts.append(f"candidate negative {s['negative']:.0%}")
        else:
            parts.append(f"{name} < 0.1: {s['below 0.1']:.0%}, > 0.9: {s['above 0.9']:.0%}")
    return "; ".join(parts) + "."


@st.cache_data(show_spinner=False)
def toy_runs(seed: int) -> list[cells.ToyRun]:
    return [cells.toy_cell(v, seed=seed) for v in cells.TOY_VARIANTS]


def toy_table(runs: list[cells.ToyRun]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "functions": [r.name for r in runs],
            "memory kept (corr. written vs. end)": [round(r.retention, 3) for r in runs],
            "largest |c|": [f"{r.max_abs:.3g}" for r in runs],
            "negative values written": [f"{r.negative_share:.0%}" for r in runs],
        }
    )


def params_table(names: list[str]) -> pd.DataFrame:
    """Parameter counts read from each model beside the formulas, and validation bits."""
    rows = []
    for name in names:
        model, card = get_model(name), model_card(name)
        c = model.config
        real = cells.param_breakdown(model)
        formula = cells.model_params_formula(
            c.cell, c.vocab_size, c.embed_size, c.hidden_size, c.num_layers
        )
        textbook = cells.recurrent_params(
            c.cell, c.embed_size, c.hidden_size, c.num_layers, biases=1
        )
        bits = (card.get("metrics") or {}).get("val_bits_per_token")
        rows.append(
            {
                "model": model_label(name),
                "cell": c.cell.upper(),
                "V, E, H": f"{c.vocab_size}, {c.embed_size}, {c.hidden_size}",
                "recurrent: model": real["recurrent"],
                "kH(E+H+2)": formula["recurrent"],
                "kH(E+H+1)": textbook,
                "× RNN": round(
                    real["recurrent"]
                    / cells.recurrent_params("rnn", c.embed_size, c.hidden_size, c.num_layers),
                    3,
                ),
                "total: model": real["total"],
                "total: formula": formula["total"],
                "val bits/char": None if bits is None else round(bits, 3),
            }
        )
    return pd.DataFrame(rows)


EQUATIONS = {  # lines short enough for half a page at 1024 px
    "RNN": r"\begin{aligned} h_t &= \tanh(W [x_t, h_{t-1}] + b) \end{aligned}",
    "LSTM": r"\begin{aligned} i, f, o &= \sigma(W_{i,f,o} [x_t, h_{t-1}] \\ &\qquad + b_{i,f,o})\\ "
    r"g &= \tanh(W_g [x_t, h_{t-1}] \\ &\qquad + b_g)\\ c_t &= f \odot c_{t-1} + i \odot g\\ "
    r"h_t &= o \odot \tanh(c_t) \end{aligned}",
    "GRU": r"\begin{aligned} r, z &= \sigma(W_{r,z} [x_t, h_{t-1}] \\ &\qquad + b_{r,z})\\ "
    r"n &= \tanh(W_{in} x_t + b_{in}\\ &\quad + r \odot (W_{hn} h_{t-1}\\ &\qquad + b_{hn}))\\ "
    r"h_t &= (1-z) \odot n \\ &\qquad + z \odot h_{t-1} \end{aligned}",
}


def cell_equations() -> None:
    """The three cells' equations side by side (RNN above GRU, LSTM beside them: three
    columns are too narrow for them at classroom sizes), then the parameter count."""
    left, right = st.columns(2, gap="large")
    for col, name in ((left, "RNN"), (right, "LSTM"), (left, "GRU")):
        col.markdown(f"**{name}**")
        col.latex(EQUATIONS[name])
    st.latex(
        r"\begin{gathered} \text{recurrent weights} = k\,H\,(E + H + 2) \\ "
        r"k = 1\ (\text{RNN}),\ 3\ (\text{GRU}),\ 4\ (\text{LSTM}) \end{gathered}"
    )
    st.markdown(
        "Textbooks count one bias, $kH(E+H+1)$; PyTorch keeps two ($b_{ih}$ and $b_{hh}$). "
        "For the RNN and LSTM they are always added, so one is redundant; in the GRU, "
        "$b_{hn}$ sits inside $r \\odot (\\cdot)$ and is not. Counted from the real models "
        "(total = recurrent + embedding $VE$ + output layer $HV + V$):"
    )
