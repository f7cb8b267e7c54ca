"""Figures for the Generate page: the sampling pipeline and temperature side by side.

Pure builders: they take the arrays of ``autoreg.seq.sampling.sampling_pipeline`` (logits,
scaled, masked, probabilities) as NumPy, never recompute them, and show the same tokens
in the same order in every panel, so a bar can be followed from logit to draw.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from autoreg.viz.common import ACCENT, HIGHLIGHT, MUTED, style, token_label


def shown_ids(logits: np.ndarray, n: int, must: int | None = None) -> np.ndarray:
    """The ``n`` highest-logit token ids, best first; ``must`` (the draw) always included."""
    order = np.argsort(-np.asarray(logits), kind="stable")[: max(1, n)]
    if must is not None and must not in order:
        order = np.append(order[:-1], must) if len(order) == n else np.append(order, must)
    return order


def _entropy_bits(p: np.ndarray) -> float:
    p = np.asarray(p, dtype=np.float64)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def pipeline_figure(
    logits: np.ndarray,
    scaled: np.ndarray,
    masked: np.ndarray,
    probs: np.ndarray,
    labels: list[str],
    *,
    drawn: int,
    temperature: float,
    top_k: int | None,
    probs_before: np.ndarray | None = None,
    n: int = 20,
    title: str | None = None,
    height: int = 620,
    width: int | None = None,
    template: str | None = None,
) -> go.Figure:
    """Four linked bar charts, one per stage: logits, ÷ T, top-k, probabilities + the draw.

    The x axis is shared (zoom one, all follow) and holds the ``n`` tokens with the
    highest logits, in that order (dividing by T > 0 keeps the order, so top-k keeps a
    prefix). Tokens cut by top-k stay visible in grey in the third panel.
    """
    ids = shown_ids(logits, n, drawn)
    names = [f"{token_label(labels[i])}" for i in ids]
    # plotly merges equal category names; make each tick unique by its id when needed
    if len(set(names)) < len(names):
        names = [f"{nm} #{i}" for nm, i in zip(names, ids, strict=True)]
    kept = np.isfinite(masked[ids])
    greedy = temperature == 0
    t_text = "T = 0 (argmax)" if greedy else f"T = {temperature:g}"
    k_text = "no top-k" if not top_k else f"top-k = {top_k}"
    rows = [
        "1. logits z (the dense layer's output)",
        "2. z ÷ T" + (": skipped at T = 0" if greedy else f" ({t_text})"),
        f"3. {k_text}: grey bars are cut (set to −∞; <unk> is never drawn)",
        "4. p = softmax; the drawn token in orange",
    ]
    fig = make_subplots(
        rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.07, subplot_titles=rows
    )
    hover = "%{x}<br>%{meta} = %{y:.4f}<extra></extra>"
    fig.add_trace(
        go.Bar(x=names, y=logits[ids], marker_color=ACCENT, meta="z", hovertemplate=hover),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(x=names, y=scaled[ids], marker_color=ACCENT, meta="z/T", hovertemplate=hover),
        row=2,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=names,
            y=scaled[ids],
            marker_color=[ACCENT if k else MUTED for k in kept],
            marker_opacity=[1.0 if k else 0.45 for k in kept],
            customdata=np.where(kept, "kept", "cut: outside the top k, or never drawn"),
            hovertemplate="%{x}<br>z/T = %{y:.4f} (%{customdata})<extra></extra>",
        ),
        row=3,
        col=1,
    )
    colours = [HIGHLIGHT if i == drawn else ACCENT for i in ids]
    fig.add_trace(
        go.Bar(
            x=names,
            y=probs[ids],
            marker_color=colours,
            name="sampled from",
            meta="p",
            hovertemplate=hover,
        ),
        row=4,
        col=1,
    )
    if probs_before is not None:
        fig.add_trace(
            go.Scatter(
                x=names,
                y=probs_before[ids],
                mode="markers",
                marker={"symbol": "line-ew-open", "size": 16, "color": "#212529"},
                name="softmax(z) at T = 1",
                hovertemplate="%{x}<br>p at T = 1: %{y:.4f}<extra></extra>",
            ),
            row=4,
            col=1,
        )
    fig.update_yaxes(range=[0, 1.05], row=4, col=1)
    fig.update_xaxes(type="category", tickangle=0, tickfont={"size": 14})
    fig.update_layout(showlegend=False, bargap=0.25)
    fig = style(fig, title=title, height=height, width=width, template=template)
    fig.update_layout(margin={"t": 70 if title else 30})  # room for the panel titles
    return fig


def temperatures_figure(
    probs_by_temperature: dict[float, np.ndarray],
    labels: list[str],
    *,
    logits: np.ndarray,
    n: int = 12,
    title: str | None = None,
    height: int = 300,
    width: int | None = None,
    template: str | None = None,
) -> go.Figure:
    """The same logits turned into probabilities at several temperatures, side by side."""
    if not probs_by_temperature:
        raise ValueError("Give at least one temperature.")
    ids = shown_ids(logits, n)
    names = [token_label(labels[i]) for i in ids]
    if len(set(names)) < len(names):
        names = [f"{nm} #{i}" for nm, i in zip(names, ids, strict=True)]
    titles = [
        f"T = {t:g}: entropy {_entropy_bits(p):.2f} bits" for t, p in probs_by_temperature.items()
    ]
    fig = make_subplots(
        rows=1, cols=len(probs_by_temperature), shared_yaxes=True, subplot_titles=titles
    )
    for col, (t, p) in enumerate(probs_by_temperature.items(), start=1):
        fig.add_trace(
            go.Bar(
                x=names,
                y=p[ids],
                marker_color=ACCENT,
                meta=f"{t:g}",
                hovertemplate="%{x}<br>p = %{y:.4f} at T = %{meta}<extra></extra>",
            ),
            row=1,
            col=col,
        )
    fig.update_xaxes(type="category", tickangle=0, tickfont={"size": 14})
    fig.update_yaxes(range=[0, 1.05])
    fig.update_yaxes(title_text="p(next token)", row=1, col=1)
    fig.update_layout(showlegend=False)
    fig = style(fig, title=title, height=height, width=width, template=template)
    fig.update_layout(margin={"t": 70 if title else 30})  # room for the panel titles
    return fig


def draw_probability_figure(
    tokens: list[str],
    probs: np.ndarray,
    *,
    step: int,
    title: str | None = None,
    height: int = 200,
    width: int | None = None,
    template: str | None = None,
) -> go.Figure:
    """The probability each drawn token had when it was drawn, with the inspected step."""
    steps = np.arange(len(tokens))
    fig = go.Figure(
        go.Bar(
            x=steps,
            y=probs,
            marker_color=[HIGHLIGHT if s == step else ACCENT for s in steps],
            customdata=[token_label(t) for t in tokens],
            hovertemplate="token %{x}: %{customdata}<br>p = %{y:.4f}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="generated token")
    fig.update_yaxes(title_text="p when drawn", range=[0, 1.05])
    return style(fig, title=title, height=height, width=width, template=template)
