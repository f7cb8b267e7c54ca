"""Figure builders of the Masks page: a mask, a masked dot product, receptive fields
growing with depth (blind spot outlined), and the mask-off comparison (the raster order
is stepped in the browser: ``autoreg/ui/static/masks.js``).

Pure: arrays in, ``go.Figure`` out. Receptive-field pictures take the boolean maps that
``autoreg.pixelcnn`` computes by autograd; nothing here decides what a pixel sees.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from autoreg.viz.common import ACCENT, DIVERGING, HIGHLIGHT, MUTED, style
from autoreg.viz.pixels import GREYS, _np, click_layer, legend_below, square_axes

VISIBLE, HIDDEN = ACCENT, "#e9ecef"


def mask_figure(mask, mask_type: str, *, title: str | None = None, height: int = 300):
    """The k x k mask: blue taps are visible (1), grey taps hidden (0); centre outlined."""
    m = _np(mask).astype(float)
    k = m.shape[0]
    c = k // 2
    dy, dx = np.mgrid[-c : c + 1, -c : c + 1]
    hover = np.stack([dy, dx], -1)
    fig = go.Figure(
        go.Heatmap(
            z=m,
            zmin=0,
            zmax=1,
            colorscale=[[0, HIDDEN], [1, VISIBLE]],
            showscale=False,
            xgap=2,
            ygap=2,
            text=m.astype(int),
            texttemplate="%{text}",
            customdata=hover,
            hovertemplate="offset (%{customdata[0]}, %{customdata[1]})<br>mask %{z:.0f}"
            "<extra></extra>",
        )
    )
    fig.add_shape(
        type="rect",
        x0=c - 0.5,
        x1=c + 0.5,
        y0=c - 0.5,
        y1=c + 0.5,
        line={"color": HIGHLIGHT, "width": 4},
    )  # the centre: the pixel predicted
    square_axes(fig, k)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    return style(fig, title=title, height=height)


def dot_product_figure(patch, weight, mask, *, height: int = 340) -> go.Figure:
    """Three panels with their numbers: input patch x, kernel w (hidden taps greyed),
    and the terms m*w*x that are summed."""
    x, w, m = (_np(a).astype(float) for a in (patch, weight, mask))
    k = x.shape[0]
    prod = m * w * x
    fig = make_subplots(
        1, 3, horizontal_spacing=0.05,
        subplot_titles=["input patch x", "kernel w (grey = masked)", "terms m·w·x"],
    )  # fmt: skip
    lim = max(1e-6, float(np.abs(w).max()))
    panels = [
        (x, GREYS, 0, 1, False),
        (np.where(m > 0, w, np.nan), DIVERGING, -lim, lim, False),
        (np.where(m > 0, prod, np.nan), DIVERGING, -lim, lim, True),
    ]
    for i, (z, scale, lo, hi, bar) in enumerate(panels, start=1):
        txt = np.vectorize(lambda v: "" if np.isnan(v) else f"{v:.2f}")(z)
        if i == 2:
            txt = np.vectorize(lambda v: f"{v:.2f}")(w)  # show masked weights too
        fig.add_trace(
            go.Heatmap(
                z=z, zmin=lo, zmax=hi, colorscale=scale, showscale=bar, text=txt,
                texttemplate="%{text}", textfont={"size": max(8, 15 - k)}, xgap=1, ygap=1,
                colorbar={"title": {"text": "value"}, "thickness": 12},
                hovertemplate="%{z:.4f}<extra></extra>",
            ),
            1, i,
        )  # fmt: skip
        square_axes(fig, k, row=1, col=i)
        fig.update_xaxes(showticklabels=False, row=1, col=i)
        fig.update_yaxes(showticklabels=False, row=1, col=i)
    fig.update_layout(plot_bgcolor=HIDDEN)
    fig.update_annotations(font_size=14, yshift=6)
    for i in range(1, 4):
        fig.update_yaxes(scaleanchor=f"x{'' if i == 1 else i}", row=1, col=i)
    style(fig, height=height)
    fig.update_layout(margin={"t": 44})
    return fig


def field_figure(
    first_layer,
    pixel: tuple[int, int],
    layer: int,
    blind=None,
    *,
    title: str | None = None,
    height: int = 430,
) -> go.Figure:
    """Receptive field of ``pixel`` after ``layer`` layers; colour = layer it joined at.

    Args:
        first_layer: int ``[H, W]`` (0 = never seen), from ``StackFields.first_layer``.
        blind: bool ``[H, W]``: the blind spot after ``layer`` layers (outlined, counted).
    """
    f = _np(first_layer).astype(float)
    size = f.shape[0]
    z = np.where((f > 0) & (f <= layer), f, np.nan)
    r0, c0 = pixel
    order = np.arange(size * size).reshape(size, size)
    future = order >= r0 * size + c0
    blind_m = np.zeros((size, size), bool) if blind is None else _np(blind).astype(bool)
    status = np.full((size, size), "not seen yet", dtype=object)
    status[future] = "later in raster order"
    status[blind_m] = "BLIND SPOT: before it, but never seen"
    for r, c in zip(*np.nonzero(~np.isnan(z)), strict=True):
        status[r, c] = f"seen from layer {int(z[r, c])}"
    fig = go.Figure(
        go.Heatmap(
            z=z, zmin=0.5, zmax=max(layer, 1) + 0.5, colorscale="Blues", xgap=1, ygap=1,
            colorbar={"title": {"text": "joins at<br>layer"}, "thickness": 12, "dtick": 1},
            hoverinfo="skip",
        )
    )  # fmt: skip
    fr, fc = np.nonzero(future & ~((np.arange(size)[:, None] == r0) & (np.arange(size) == c0)))
    fig.add_trace(go.Scatter(x=fc, y=fr, mode="markers", name="later in raster order",
                             marker={"symbol": "x-thin", "size": 5,
                                     "line": {"color": MUTED, "width": 1}},
                             hoverinfo="skip"))  # fmt: skip
    for r, c in zip(*np.nonzero(blind_m), strict=True):
        fig.add_shape(type="rect", x0=c - 0.45, x1=c + 0.45, y0=r - 0.45, y1=r + 0.45,
                      line={"color": HIGHLIGHT, "width": 2, "dash": "dot"},
                      fillcolor="rgba(240,140,0,0.25)")  # fmt: skip
    if blind_m.any():
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="blind spot",
                                 marker={"symbol": "square", "size": 12,
                                         "color": "rgba(240,140,0,0.35)",
                                         "line": {"color": HIGHLIGHT, "width": 2}}))  # fmt: skip
    fig.add_trace(go.Scatter(x=[c0], y=[r0], mode="markers", name="chosen pixel",
                             marker={"symbol": "star", "size": 16, "color": HIGHLIGHT,
                                     "line": {"color": "black", "width": 1}},
                             hoverinfo="skip"))  # fmt: skip
    fig.add_trace(click_layer(size, status))
    square_axes(fig, size)
    fig.update_layout(plot_bgcolor="#f8f9fa", clickmode="event+select")
    return legend_below(style(fig, title=title, height=height))


def curves_figure(train_bits: dict, test_bits: dict, *, height: int = 300) -> go.Figure:
    """Bits per pixel by epoch, masked vs unmasked, train (solid) and test (dashed)."""
    fig = go.Figure()
    colours = {"masked": ACCENT, "unmasked": HIGHLIGHT}
    for name, colour in colours.items():
        for split, data, dash in (("train", train_bits, "solid"), ("test", test_bits, "dash")):
            ys = data.get(name, [])
            fig.add_trace(go.Scatter(
                x=list(range(1, len(ys) + 1)), y=ys, mode="lines+markers",
                name=f"{name}, {split}", line={"color": colour, "dash": dash},
                hovertemplate=f"{name} {split}<br>epoch %{{x}}: %{{y:.4f}} bits/pixel"
                "<extra></extra>",
            ))  # fmt: skip
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title="NLL (bits per pixel)", rangemode="tozero")
    return style(fig, height=height)
