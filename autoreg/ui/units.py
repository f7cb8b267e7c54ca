"""Cached analysis for the Units page: the probe text, unit scores, saturation, clamps.

The probe text (validation documentation and code, a few thousand characters) is traced
once per model; its features and the unit ranking are cached with it. Shipped models'
results live in ``st.cache_resource`` (shared, read-only); a session model's results are
cheap enough to recompute, and its name changes when it is replaced.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from autoreg.seq import units
from autoreg.seq.intervene import run_with_intervention
from autoreg.seq.trace import Trace
from autoreg.ui.models import SESSION_PREFIX, get_model, model_card, model_names
from autoreg.ui.sequences import get_trace, is_char_model

PROBE_CHARS = 4000
QUANTITY_LABELS = {"hidden": "h (hidden state)", "cell": "c (cell state)"}
SOURCES = ("Input above", "Validation: documentation", "Validation: code")
WINDOW = 1500  # characters of validation text coloured at once


@st.cache_resource(show_spinner="Reading validation text…")
def probe(source: str = "documentation") -> tuple[str, dict[str, np.ndarray]]:
    """A probe text and its per-character features (the same for every model)."""
    text = units.probe_text(source, PROBE_CHARS)
    return text, units.text_features(text)


def probe_of(label: str) -> str:
    """The probe source behind a colouring source label ("Validation: code" -> "code")."""
    return label.split(": ", 1)[1]


def probe_window(label: str) -> slice:
    """The validation window coloured for a source: the stretch richest in strings (docs)
    or in brackets (code)."""
    source = probe_of(label)
    feature = "in_string" if source == "documentation" else "bracket_depth"
    text, features = probe(source)
    start = units.richest_window(features[feature], WINDOW)
    start = text.rfind("\n", 0, start) + 1  # begin on a whole line
    return slice(start, start + WINDOW)


def probe_trace(name: str, source: str = "documentation") -> Trace:
    """The model's trace of a probe text (cached like every other trace)."""
    return get_trace(name, probe(source)[0])


@st.cache_resource(show_spinner="Ranking units…", max_entries=32)
def _shared_scores(name: str, layer: int, source: str) -> dict[str, list[units.UnitScore]]:
    return units.score_units(probe_trace(name, source), probe(source)[1], layer=layer, top=5)


def unit_scores(
    name: str, layer: int, source: str = "documentation"
) -> dict[str, list[units.UnitScore]]:
    """The five best units per feature in one layer, over h, c and every gate."""
    if name.startswith(SESSION_PREFIX):
        return _shared_scores.__wrapped__(name, layer, source)
    return _shared_scores(name, layer, source)


def scores_table(scores: dict[str, list[units.UnitScore]]) -> pd.DataFrame:
    """One row per (feature, candidate unit), best first within each feature."""
    rows = []
    for feature, found in scores.items():
        spec = units.FEATURES[feature]
        for rank, s in enumerate(found, start=1):
            rows.append(
                {
                    "feature": spec.label,
                    "rank": rank,
                    "unit": f"{short(s.quantity)}[{s.unit}]",
                    "score": round(s.score, 3),
                    "measure": "AUROC" if spec.binary else "correlation r",
                    "reads": units.describe_score(s).split(": ", 1)[1],
                    "strength": round(s.strength, 3),
                }
            )
    return pd.DataFrame(rows)


def short(quantity: str) -> str:
    """h, c or the gate's name: how a unit is written on the page."""
    return {"hidden": "h", "cell": "c"}.get(quantity, quantity)


def gate_values(tr: Trace, quantity: str, layer: int) -> np.ndarray:
    """(T, H) values of one quantity in one layer."""
    return units.quantities(tr)[quantity][:, layer, :]


def saturation_panels(selected: str, layer: int) -> dict[str, dict[str, np.ndarray]]:
    """Gate saturation on the probe text for one char model per cell type (RNN: tanh h).

    The selected model stands for its own cell type; the others are the first shipped
    character model of each cell.
    """
    by_cell: dict[str, str] = {}
    for name in [selected, *model_names("sequence", is_char_model)]:
        cell = model_card(name).get("config", {}).get("cell")
        by_cell.setdefault(cell, name)
    panels = {}
    for cell in ("lstm", "gru", "rnn"):
        if cell not in by_cell:
            continue
        name = by_cell[cell]
        tr = probe_trace(name)
        k = min(layer, tr.hidden.shape[1] - 1)
        if cell == "rnn":
            gates = {"tanh h": units.saturation(units.tanh_as_gate(tr.hidden[:, k]))}
        else:
            gates = {g: units.saturation(v[:, k]) for g, v in tr.gates.items() if g != "candidate"}
        panels[f"{cell.upper()}, layer {k}<br>{name}"] = gates  # two lines: a third of a page
    return panels


@st.cache_resource(show_spinner="Running the model with the unit clamped…", max_entries=16)
def _shared_clamp(name: str, text: str, args: tuple) -> np.ndarray:
    return run_with_intervention(get_model(name), text, *args)


def clamp(
    name: str, text: str, quantity: str, layer: int, unit: int, value: float, start: int
) -> np.ndarray:
    """Next-token probabilities (T, V) of ``text`` with the unit clamped from ``start`` on."""
    args = (layer, unit, start, float(value), short(quantity))
    if name.startswith(SESSION_PREFIX):
        return run_with_intervention(get_model(name), text, *args)
    return _shared_clamp(name, text, args)
