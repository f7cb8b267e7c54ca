"""Figures for the Units page: text coloured by a unit, feature tracks, saturation, clamps.

Pure builders (arrays in, HTML string or ``go.Figure`` out); the page renders them.
Colours follow ``autoreg.viz.common``: h and c on a diverging scale centred on 0, gates on
a sequential 0..1 scale, and every colouring comes with its legend.
"""

from __future__ import annotations

import html

import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from autoreg.viz.common import ACCENT, DIVERGING, HIGHLIGHT, MUTED, SEQUENTIAL, style, token_label

GATE_COLOURS = {
    "input": "#3b5bdb",
    "forget": "#f08c00",
    "output": "#7048e8",
    "reset": "#1098ad",
    "update": "#e8590c",
    "tanh h": "#495057",
}


def _rgb(colour: str) -> tuple[int, int, int]:
    r, g, b = (int(float(v)) for v in colour[colour.index("(") + 1 : -1].split(","))
    return r, g, b


def colour_scale(diverging: bool, vmax: float | None, values: np.ndarray) -> tuple[float, float]:
    """The value range of a colouring: symmetric about 0 for h/c, 0..1 for gates."""
    if not diverging:
        return 0.0, 1.0
    top = float(np.max(np.abs(values))) if vmax is None else float(vmax)
    top = top if top > 0 else 1.0
    return -top, top


def value_colours(values: np.ndarray, diverging: bool, vmin: float, vmax: float) -> list[str]:
    """One ``rgb(...)`` background per value on the page's scale."""
    pos = np.clip((np.asarray(values, dtype=float) - vmin) / (vmax - vmin), 0.0, 1.0)
    return pc.sample_colorscale(DIVERGING if diverging else SEQUENTIAL, pos.tolist())


def _ink(colour: str) -> str:
    """Black or white text, whichever reads better on this background (WCAG luminance)."""
    r, g, b = _rgb(colour)
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#111" if lum > 140 else "#fff"


def legend_html(diverging: bool, vmin: float, vmax: float, label: str) -> str:
    """A horizontal colour bar with its end (and centre) values."""
    stops = np.linspace(0, 1, 11)
    colours = pc.sample_colorscale(DIVERGING if diverging else SEQUENTIAL, stops.tolist())
    gradient = ", ".join(colours)
    mid = "<span>0</span>" if diverging else "<span>0.5</span>"
    return (
        '<div style="display:flex;align-items:center;gap:.6em;margin:.3em 0 .6em 0;'
        'font-size:.85em;color:#495057">'
        f"<span>{html.escape(label)}</span>"
        '<div style="flex:0 0 16em">'
        f'<div style="height:.8em;border-radius:3px;background:linear-gradient(90deg, {gradient})">'
        "</div>"
        '<div style="display:flex;justify-content:space-between">'
        f"<span>{vmin:+.2f}</span>{mid}<span>{vmax:+.2f}</span></div></div></div>"
    )


def coloured_text_html(
    tokens: list[str],
    values: np.ndarray,
    *,
    diverging: bool,
    label: str,
    vmax: float | None = None,
    font_size: float = 1.0,
) -> str:
    """The text, one ``<span>`` per token, background = the unit's value after that token.

    Hovering a character shows its step and exact value. Newlines are drawn as ⏎ and
    then break the line, so the colour of the newline step stays visible.
    """
    values = np.asarray(values, dtype=float)
    if len(tokens) != len(values):
        raise ValueError(f"{len(tokens)} tokens but {len(values)} values.")
    vmin, vmax_ = colour_scale(diverging, vmax, values)
    colours = value_colours(values, diverging, vmin, vmax_)
    spans = []
    for t, (tok, v, bg) in enumerate(zip(tokens, values, colours, strict=True)):
        shown = "⏎" if tok == "\n" else html.escape(tok).replace(" ", "&nbsp;")
        tip = html.escape(f"step {t} · {token_label(tok)!s} · {label} = {v:+.4f}", quote=True)
        spans.append(
            f'<span title="{tip}" style="background:{bg};color:{_ink(bg)};'
            f'padding:1px 0">{shown}</span>' + ("<br>" if tok == "\n" else "")
        )
    body = "".join(spans)
    return (
        legend_html(diverging, vmin, vmax_, label)
        + '<div class="unit-text" style="font-family:ui-monospace,Menlo,Consolas,monospace;'
        f'font-size:{font_size}em;line-height:1.65;white-space:normal;word-break:break-all">'
        f"{body}</div>"
    )


def feature_track_figure(
    tokens: list[str],
    activation: np.ndarray,
    feature: np.ndarray,
    *,
    unit_label: str,
    feature_label: str,
    title: str | None = None,
    height: int = 300,
    width: int | None = None,
    template: str | None = None,
) -> go.Figure:
    """The feature (shaded) and the unit's value (line) along the same text, one above the other."""
    steps = np.arange(len(tokens))
    text = [token_label(t) for t in tokens]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    fig.add_trace(
        go.Scatter(
            x=steps,
            y=feature,
            mode="lines",
            line={"color": MUTED, "shape": "hv"},
            fill="tozeroy",
            name=feature_label,
            customdata=text,
            hovertemplate="step %{x} · %{customdata}<br>"
            + feature_label
            + " = %{y}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=steps,
            y=activation,
            mode="lines",
            line={"color": ACCENT, "width": 1.3},
            name=unit_label,
            customdata=text,
            hovertemplate="step %{x} · %{customdata}<br>"
            + unit_label
            + " = %{y:+.4f}<extra></extra>",
        ),
        row=2,
        col=1,
    )
    fig.update_yaxes(title_text=feature_label, row=1, col=1)
    fig.update_yaxes(title_text=unit_label, row=2, col=1)
    fig.update_xaxes(title_text="step (character)", row=2, col=1)
    fig.update_layout(showlegend=False)
    return style(fig, title=title, height=height, width=width, template=template)


def saturation_figure(
    panels: dict[str, dict[str, np.ndarray]],
    *,
    title: str | None = None,
    height: int = 380,
    width: int | None = None,
    template: str | None = None,
) -> go.Figure:
    """One scatter per model: x = fraction of steps < 0.1, y = fraction > 0.9, a dot per unit.

    ``panels`` maps a panel title to {gate name: (2, H) array from ``units.saturation``}.
    """
    if not panels:
        raise ValueError("Nothing to plot: no model with gates was given.")
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=list(panels))
    seen: set[str] = set()
    for col, gates in enumerate(panels.values(), start=1):
        for gate, frac in gates.items():
            units = np.arange(frac.shape[1])
            fig.add_trace(
                go.Scatter(
                    x=frac[0],
                    y=frac[1],
                    mode="markers",
                    name=gate,
                    legendgroup=gate,
                    showlegend=gate not in seen,
                    marker={"color": GATE_COLOURS.get(gate, ACCENT), "size": 6, "opacity": 0.7},
                    customdata=units,
                    hovertemplate=(
                        gate + " gate, unit %{customdata}<br>shut (< 0.1): %{x:.1%}"
                        "<br>open (> 0.9): %{y:.1%}<extra></extra>"
                    ),
                ),
                row=1,
                col=col,
            )
            seen.add(gate)
        fig.add_trace(
            go.Scatter(
                x=[0, 1],
                y=[1, 0],
                mode="lines",
                line={"color": MUTED, "dash": "dot", "width": 1},
                hoverinfo="skip",
                showlegend=False,
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(range=[-0.03, 1.03], title_text="fraction of steps < 0.1", row=1, col=col)
        fig.update_yaxes(range=[-0.03, 1.03], row=1, col=col)
    fig.update_yaxes(title_text="fraction of steps > 0.9", row=1, col=1)
    fig.update_layout(legend={"orientation": "h", "y": -0.22, "x": 0})
    return style(fig, title=title, height=height, width=width, template=template)


def clamp_bars_figure(
    base: np.ndarray,
    clamped: np.ndarray,
    labels: list[str],
    *,
    k: int = 10,
    title: str | None = None,
    height: int = 360,
    width: int | None = None,
    template: str | None = None,
) -> go.Figure:
    """Next-token probabilities untouched vs clamped, for the union of both top-k lists."""
    ids = list(dict.fromkeys([*np.argsort(-base)[:k].tolist(), *np.argsort(-clamped)[:k].tolist()]))
    ids.sort(key=lambda i: -max(base[i], clamped[i]))
    names = [token_label(labels[i]) for i in ids]
    fig = go.Figure()
    for probs, name, colour in ((base, "untouched", MUTED), (clamped, "clamped", HIGHLIGHT)):
        fig.add_trace(
            go.Bar(
                x=names,
                y=probs[ids],
                name=name,
                marker_color=colour,
                hovertemplate="%{x}: p = %{y:.4f}<extra>" + name + "</extra>",
            )
        )
    fig.update_layout(
        barmode="group",
        legend={"orientation": "h", "y": 1.0, "x": 1, "xanchor": "right", "yanchor": "bottom"},
    )
    fig.update_yaxes(title_text="p(next token)", range=[0, 1])
    fig.update_xaxes(type="category", title_text="next token", tickfont={"size": 15})
    fig = style(fig, title=title, height=height, width=width, template=template)
    fig.update_layout(margin={"t": 70 if title else 30})  # title above the legend
    return fig


def divergence_figure(
    kl_bits: np.ndarray,
    tokens: list[str],
    *,
    from_step: int,
    step: int,
    title: str | None = None,
    height: int = 240,
    width: int | None = None,
    template: str | None = None,
) -> go.Figure:
    """KL(untouched ‖ clamped) per step, with the clamp start and the inspected step marked."""
    steps = np.arange(len(kl_bits))
    fig = go.Figure(
        go.Bar(
            x=steps,
            y=kl_bits,
            marker_color=ACCENT,
            customdata=[token_label(t) for t in tokens],
            hovertemplate="step %{x} · read %{customdata}<br>KL = %{y:.4f} bits<extra></extra>",
            name="KL",
        )
    )
    fig.add_vline(x=from_step - 0.5, line={"color": MUTED, "dash": "dash"})
    fig.add_vline(x=step, line={"color": HIGHLIGHT, "width": 2})
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="KL (bits)")
    return style(fig, title=title, height=height, width=width, template=template)
