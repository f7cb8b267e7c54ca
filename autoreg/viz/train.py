"""Figures of the Train page: the live loss curves and the grid of sampled images.

Pure builders (arrays in, figure or pixels out, no Streamlit), redrawn every time the
page polls a running job, so they stay cheap: a few hundred points and one small image.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from autoreg.viz.common import ACCENT, HIGHLIGHT, MUTED, style


def smooth(values: np.ndarray, weight: float = 0.9) -> np.ndarray:
    """Exponential moving average with bias correction (TensorBoard's smoothing).

    Per-step training losses are noisy; the smoothed line is what a learner reads, and
    the bias correction keeps the first points from being pulled towards zero.
    """
    values = np.asarray(values, dtype=float)
    out = np.empty_like(values)
    acc = 0.0
    for i, v in enumerate(values):
        acc = weight * acc + (1 - weight) * v
        out[i] = acc / (1 - weight ** (i + 1))
    return out


def loss_figure(
    train: list[tuple[int, float]],
    val: list[tuple[int, float]],
    *,
    unit: str = "bits/token",
    val_name: str = "validation",
    reference: tuple[str, float] | None = None,
    max_points: int = 600,
    title: str | None = None,
    height: int = 380,
    width: int | None = None,
    template: str | None = None,
) -> go.Figure:
    """Training loss per step (raw and smoothed) and validation loss per evaluation.

    Args:
        train / val: (step, loss in ``unit``) pairs.
        reference: an optional horizontal line, e.g. ("uniform guess", log2 V).
        max_points: longer training histories are thinned evenly for drawing (the
            smoothed line is computed on every step first).
    """
    fig = go.Figure()
    if train:
        steps, losses = (np.asarray(a) for a in zip(*train, strict=True))
        smoothed = smooth(losses)
        keep = np.unique(np.linspace(0, len(steps) - 1, min(len(steps), max_points)).astype(int))
        fig.add_scatter(
            x=steps[keep],
            y=losses[keep],
            mode="lines",
            name="train (each step)",
            line={"color": ACCENT, "width": 1},
            opacity=0.3,
            hovertemplate="step %{x}<br>train %{y:.4f} " + unit + "<extra></extra>",
        )
        fig.add_scatter(
            x=steps[keep],
            y=smoothed[keep],
            mode="lines",
            name="train (smoothed)",
            line={"color": ACCENT, "width": 2.5},
            hovertemplate="step %{x}<br>train, smoothed %{y:.4f} " + unit + "<extra></extra>",
        )
    if val:
        vs, vl = zip(*val, strict=True)
        fig.add_scatter(
            x=list(vs),
            y=list(vl),
            mode="lines+markers",
            name=val_name,
            line={"color": HIGHLIGHT, "width": 2.5},
            marker={"size": 8},
            hovertemplate="step %{x}<br>" + val_name + " %{y:.4f} " + unit + "<extra></extra>",
        )
    if reference is not None:
        label, value = reference
        fig.add_hline(
            y=value,
            line={"color": MUTED, "dash": "dash"},
            annotation_text=f"{label}: {value:.2f}",
            annotation_position="bottom right",  # below the line: clear of the toolbar
        )
    fig.update_xaxes(title_text="training step", rangemode="tozero")
    fig.update_yaxes(title_text=unit, rangemode="tozero")
    # legend under the axis, so the toolbar that plotly shows on hover never covers it
    fig.update_layout(legend={"orientation": "h", "y": -0.22, "yanchor": "top", "x": 0})
    return style(fig, title=title, height=height, width=width, template=template)


def image_grid(images: np.ndarray, levels: int, cols: int = 4, scale: int = 8) -> np.ndarray:
    """Tile images of levels ``[n, H, W]`` into one uint8 grey picture, enlarged ``scale``x.

    Level 0 is black and ``levels - 1`` white (MNIST's convention: a light digit on
    black); a one-pixel mid-grey gap (before enlarging) separates the images.
    """
    images = np.asarray(images)
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(f"Expected images [n, H, W], got shape {images.shape}.")
    if levels < 2:
        raise ValueError(f"levels must be at least 2, got {levels}.")
    n, h, w = images.shape
    cols = min(cols, n)
    rows = -(-n // cols)
    grey = (images.astype(float) / (levels - 1) * 255).round().astype(np.uint8)
    grid = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), 128, dtype=np.uint8)
    for k in range(n):
        r, c = divmod(k, cols)
        grid[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = grey[k]
    return np.kron(grid, np.ones((scale, scale), dtype=np.uint8))  # nearest-neighbour
