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
        title=_title(title, fig) if title else None,
        height=height,
        width=width,
        margin={"l": 10, "r": 10, "t": 40 if title else max(10, top_edge_room(fig)), "b": 10},
        font={"size": 13},
        hoverlabel={"font_size": 13},
    )
    if template is not None:
        fig.update_layout(template=template)
    return fig


TITLE_GAP = 8  # px between a title and the plot area (or what sits on its top edge)


def _top_edge_lines(fig: go.Figure) -> int:
    """How many lines of text sit on the plot area's top edge: subplot titles (annotations
    anchored there, each maybe of several ``<br>`` lines) or a legend placed above it."""
    lines = [
        str(a.text or "").count("<br>") + 1
        for a in fig.layout.annotations
        if a.yref == "paper" and a.yanchor == "bottom" and (a.y or 0) >= 0.99
    ]
    legend = fig.layout.legend
    if (legend.y or 0) >= 0.99 and legend.yanchor == "bottom":
        lines.append(1)
    return max(lines, default=0)


def top_edge_room(fig: go.Figure, px: float = 13) -> int:
    """The top margin the text on the plot area's top edge needs (0: none there)."""
    lines = _top_edge_lines(fig)
    return round(lines * px * 1.4) + TITLE_GAP if lines else 0


def _title(text: str, fig: go.Figure, px: float = 13) -> dict:
    """A title just above the plot area (and above the subplot titles or the legend on
    its top edge, in ``px`` type) that pushes the top margin as far as it needs
    (``automargin``): a long one, written in lines (``<br>``) by its caller, or the
    larger type of presenter mode, never reaches past the figure's top edge. (Hung from
    the top edge instead, plotly draws a title of several lines partly above it.)"""
    gap = TITLE_GAP + top_edge_room(fig, px)
    return {"text": text, "x": 0.01, "xanchor": "left", "yref": "paper", "y": 1,
            "yanchor": "bottom", "automargin": True, "pad": {"b": gap}}  # fmt: skip


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
    if out.layout.title.automargin:  # above larger subplot titles, if it has any
        out.update_layout(title=_title(out.layout.title.text, out, px=size))
    elif top_edge_room(out, size):
        out.update_layout(margin_t=max(out.layout.margin.t or 0, top_edge_room(out, size)))
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
