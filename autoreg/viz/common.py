"""Shared figure conventions: colour scales, layout, and the one styling helper.

Every builder in ``autoreg.viz`` is pure (arrays in, ``go.Figure`` out, no Streamlit) and
passes its figure through ``style`` so titles, fonts, margins and sizes agree across pages.

Colour rules (DESIGN.md): h and c use a diverging scale centred on 0; gates and
probabilities use a sequential 0..1 scale; never red against green; always a legend or
colour bar.
"""

from __future__ import annotations

import plotly.graph_objects as go

DIVERGING = "RdBu_r"  # blue < 0 < red, centred with zmid=0 (h, c, candidates, logits)
SEQUENTIAL = "Viridis"  # 0..1 (gates, probabilities)
SEQUENTIAL_LIGHT = "Blues"  # counts, masks, receptive fields
ACCENT = "#3b5bdb"  # the app's primary colour (matches .streamlit/config.toml)
HIGHLIGHT = "#f08c00"  # the current step / pixel / true token
MUTED = "#adb5bd"
CELL_COLOURS = {"rnn": "#868e96", "lstm": "#3b5bdb", "gru": "#e8590c"}


def style(
    fig: go.Figure,
    *,
    title: str | None = None,
    height: int | None = None,
    width: int | None = None,
    template: str | None = None,
) -> go.Figure:
    """Apply the app's shared layout to a figure and return it.

    ``template=None`` keeps the renderer's default (Streamlit's own plotly theme). Naming a
    template here costs ~100 ms and ~3 KB of JSON per figure, on every step of a page.
    """
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left"} if title else None,
        height=height,
        width=width,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        font={"size": 13},
        hoverlabel={"font_size": 13},
    )
    if template is not None:
        fig.update_layout(template=template)
    return fig


def token_label(token: str) -> str:
    """A printable label for a token: newline, tab and space made visible."""
    return {"\n": "⏎", "\t": "⇥", " ": "␣"}.get(token, token)
