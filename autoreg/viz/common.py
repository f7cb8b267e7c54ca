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


PROJECTOR_FONT = 19  # px: chart text a class can read from the back of the room


def for_projector(fig: go.Figure, size: int = PROJECTOR_FONT) -> go.Figure:
    """A copy of ``fig`` for presenter mode: every text at least ``size`` px (titles, ticks,
    axis titles, legends, colour bars, annotations, text on marks), lines and markers
    half as thick again. The figure passed in is not touched (builders may cache it)."""
    out = go.Figure(fig)
    out.update_layout(
        font_size=size,
        title_font_size=size + 4,
        legend_font_size=size,
        legend_title_font_size=size,
        hoverlabel_font_size=size,
    )
    axis = {"tickfont_size": size, "title_font_size": size}
    out.update_xaxes(**axis)
    out.update_yaxes(**axis)
    out.for_each_annotation(lambda a: a.update(font_size=max(size, a.font.size or 0)))
    for trace in out.data:
        props = trace._valid_props
        if "colorbar" in props:
            trace.update(colorbar_tickfont_size=size, colorbar_title_font_size=size)
        if "textfont" in props:
            trace.update(textfont_size=max(size, (trace.textfont.size or 0)))
        if "line" in props and getattr(trace.line, "width", None) is not None:
            trace.update(line_width=trace.line.width * 1.5)
        elif trace.type == "scatter":
            trace.update(line_width=3)
        marker = getattr(trace.marker, "size", None) if trace.type == "scatter" else None
        if isinstance(marker, int | float):
            trace.update(marker_size=marker * 1.5)
    if out.layout.coloraxis.colorscale is not None:
        out.update_layout(coloraxis_colorbar_tickfont_size=size)
    return out


def token_label(token: str) -> str:
    """A printable label for a token: newline, tab and space made visible."""
    return {"\n": "⏎", "\t": "⇥", " ": "␣"}.get(token, token)
