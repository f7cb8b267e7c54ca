"""Figures of the Memory page: task accuracy, gates, sigmoid vs tanh (the gradient
influence is stepped in the browser: ``autoreg/ui/static/memory.js``).

Pure builders: arrays in, ``go.Figure`` out, styled by ``autoreg.viz.common.style``.
Cells always wear ``CELL_COLOURS`` (RNN grey, LSTM blue, GRU orange) so a learner can
follow one cell across every chart of the page.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from autoreg.viz.common import (
    CELL_COLOURS,
    HIGHLIGHT,
    MUTED,
    SEQUENTIAL,
    style,
    token_label,
)

FLOOR = 1e-12  # influence below this is shown at the floor (log scale)


def _colour(cell: str) -> str:
    return CELL_COLOURS.get(cell, MUTED)


def accuracy_curves(
    xs: list[int],
    accuracy: dict[str, np.ndarray],
    *,
    chance: float | None = None,
    trained_up_to: int | None = None,
    x_title: str = "lag L (digits between letter and =)",
    title: str | None = None,
    height: int = 380,
    width: int | None = None,
    template: str | None = None,
) -> go.Figure:
    """Accuracy (0..1) against lag or length, one line per cell, chance and training range."""
    fig = go.Figure()
    if trained_up_to is not None:
        fig.add_vrect(
            x0=trained_up_to,
            x1=max(xs),
            fillcolor=MUTED,
            opacity=0.18,
            line_width=0,
            annotation_text="beyond training",
            annotation_position="top left",
        )
    if chance is not None:
        fig.add_hline(
            y=chance,
            line={"dash": "dash", "color": "#495057"},
            annotation_text=f"chance = {chance:.3f}",
            annotation_position="bottom right",
        )
    widths = [7, 4.5, 2.5]  # later lines thinner, so identical curves stay visible
    for k, (cell, acc) in enumerate(accuracy.items()):
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=acc,
                mode="lines+markers",
                name=cell.upper(),
                line={"color": _colour(cell), "width": widths[min(k, 2)]},
                marker={"size": 11 - 2 * min(k, 2)},
                hovertemplate=f"{cell.upper()}<br>%{{x}}: accuracy %{{y:.3f}}<extra></extra>",
            )
        )
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title="accuracy", range=[-0.03, 1.13], tickvals=[0, 0.2, 0.4, 0.6, 0.8, 1])
    fig.update_layout(showlegend=True, legend={"title": {"text": "cell"}})
    return style(fig, title=title, height=height, width=width, template=template)


def gate_over_time(
    tokens: list[str],
    gate: np.ndarray,
    units: np.ndarray,
    states: np.ndarray,
    letters: str,
    held_unit: int,
    *,
    gate_name: str,
    state_name: str,
    title: str | None = None,
    height: int = 560,
    width: int | None = None,
    template: str | None = None,
) -> go.Figure:
    """Top: the gate (0..1) of the chosen units over time. Bottom: the held unit's state
    for every letter read before the same digits (one line per letter).

    ``gate`` (T, H), ``units`` the rows to show in order, ``states`` (letters, T, H).
    """
    labels = [token_label(t) for t in tokens]
    x = np.arange(len(tokens))
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.55, 0.45]
    )
    fig.add_trace(
        go.Heatmap(
            z=gate[:, units].T,
            x=x,
            y=[f"unit {u}" + (" ★" if u == held_unit else "") for u in units],
            colorscale=SEQUENTIAL,
            zmin=0,
            zmax=1,
            customdata=np.tile(np.array(labels, dtype=object), (len(units), 1)),
            colorbar={"title": {"text": gate_name}, "thickness": 12, "len": 0.5, "y": 0.78},
            hovertemplate="%{y}, step %{x} ('%{customdata}')<br>"
            + gate_name
            + " %{z:.4f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    palette = [
        "#3b5bdb",
        "#e8590c",
        "#2f9e44",
        "#ae3ec9",
        "#1098ad",
        "#f59f00",
        "#495057",
        "#d6336c",
    ]
    for k, letter in enumerate(letters):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=states[k, :, held_unit],
                mode="lines",
                name=f"letter {letter}",
                line={"color": palette[k % len(palette)], "width": 2},
                hovertemplate=f"letter {letter}, step %{{x}}<br>{state_name} of unit "
                f"{held_unit}: %{{y:.4f}}<extra></extra>",
            ),
            row=2,
            col=1,
        )
    fig.add_hline(y=0, line={"color": MUTED, "width": 1}, row=2, col=1)
    fig.update_xaxes(tickmode="array", tickvals=x, ticktext=labels, tickangle=0, row=2, col=1)
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    fig.update_yaxes(title=f"{state_name}, unit {held_unit} ★", row=2, col=1)
    fig.update_layout(legend={"orientation": "h", "y": -0.12, "x": 0})
    return style(fig, title=title, height=height, width=width, template=template)


def activation_figure(
    x: np.ndarray,
    curves: dict[str, np.ndarray],
    *,
    title: str | None = None,
    height: int = 340,
    width: int | None = None,
    template: str | None = None,
) -> go.Figure:
    """σ and tanh (solid) with their derivatives (dotted) on one axis."""
    colours = {"sigmoid": "#3b5bdb", "tanh": "#e8590c"}
    fig = go.Figure()
    for name, y in curves.items():
        base = name.removeprefix("d ")
        derivative = name.startswith("d ")
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                name=f"{base}′(x)" if derivative else f"{base}(x)",
                line={"color": colours[base], "width": 2.5, "dash": "dot" if derivative else None},
                hovertemplate=f"{name}(%{{x:.2f}}) = %{{y:.4f}}<extra></extra>",
            )
        )
    fig.add_hline(y=0, line={"color": MUTED, "width": 1})
    fig.update_xaxes(title="pre-activation x")
    fig.update_layout(showlegend=True)
    return style(fig, title=title, height=height, width=width, template=template)


def value_histograms(
    values: dict[str, np.ndarray],
    *,
    title: str | None = None,
    height: int = 340,
    width: int | None = None,
    template: str | None = None,
) -> go.Figure:
    """Overlaid histograms (share of values) of gate and candidate values from a trace.

    Binned here (bins of 0.04 on -1..1) rather than in the browser: a trace holds
    T x H values per gate, hundreds of thousands, and shipping them raw made this one
    chart about 1.5 MB of JSON.
    """
    colours = ["#3b5bdb", "#2f9e44", "#ae3ec9", "#e8590c", "#1098ad"]
    edges = np.linspace(-1.0, 1.0, 51)
    centres = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure()
    for k, (name, v) in enumerate(values.items()):
        flat = np.asarray(v, dtype=float).ravel()
        counts, _ = np.histogram(np.clip(flat, -1.0, 1.0), bins=edges)
        share = counts / max(1, flat.size)
        fig.add_trace(
            go.Bar(
                x=centres,
                y=share,
                width=edges[1] - edges[0],
                name=name,
                marker_color=colours[k % len(colours)],
                opacity=0.6,
                customdata=np.stack([edges[:-1], edges[1:]], axis=1),
                hovertemplate=f"{name}<br>%{{customdata[0]:.2f}} to %{{customdata[1]:.2f}}: "
                "%{y:.3f} of values<extra></extra>",
            )
        )
    fig.update_layout(barmode="overlay", legend={"title": {"text": "value"}})
    fig.update_xaxes(title="value after the activation", range=[-1.02, 1.02])
    fig.update_yaxes(title="share of values")
    return style(fig, title=title, height=height, width=width, template=template)


def toy_cell_figure(
    runs: list,
    units: int = 4,
    *,
    title: str | None = None,
    height: int = 420,
    width: int | None = None,
    template: str | None = None,
) -> go.Figure:
    """Small multiples: the toy cell state c of a few units under each choice of functions.

    ``runs`` are ``autoreg.seq.cells.ToyRun``; the write phase is shaded. Each panel has its
    own y axis: the exploding variant reaches ~1e18 while the others stay near 1.
    """
    fig = make_subplots(
        rows=1,
        cols=len(runs),
        shared_yaxes=False,
        subplot_titles=[r.name for r in runs],
        horizontal_spacing=0.07,
    )
    palette = ["#3b5bdb", "#e8590c", "#2f9e44", "#ae3ec9", "#1098ad", "#495057"]
    for col, run in enumerate(runs, start=1):
        steps = np.arange(run.cell.shape[0])
        fig.add_vrect(
            x0=-0.5,
            x1=run.write_steps - 0.5,
            fillcolor=HIGHLIGHT,
            opacity=0.25,
            layer="below",
            line_width=0,
            row=1,
            col=col,
            exclude_empty_subplots=False,
        )
        for u in range(min(units, run.cell.shape[1])):
            c = run.cell[:, u]
            fig.add_trace(
                go.Scatter(
                    x=steps,
                    y=c,
                    mode="lines",
                    line={"color": palette[u % len(palette)], "width": 2},
                    showlegend=False,
                    hovertemplate=f"unit {u}, step %{{x}}<br>c = %{{y:.4g}}<extra></extra>",
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(title="step", row=1, col=col)
    fig.update_yaxes(title="cell state c (own scale per panel)", row=1, col=1)
    fig.update_annotations(font_size=13)
    return style(fig, title=title, height=height, width=width, template=template)
