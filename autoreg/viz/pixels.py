"""Figure builders for pixel images: one image with its overlays, and a batch grid.

(The replay of a generation, with the predictive distribution and the entropy map, is
drawn in the browser: ``autoreg/ui/static/pixels.js``.)

Pure: arrays in (numpy or torch), ``go.Figure`` out. Images are integer levels
``0 .. L-1`` shown in grey (0 = black). A transparent scatter of pixel centres sits on
top of clickable images because plotly heatmaps report no click selections; each point's
``customdata`` is its ``[row, col]``.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from autoreg.viz.common import ACCENT, HIGHLIGHT, style

GREYS = [[0.0, "#000000"], [1.0, "#ffffff"]]
CLICK_NAME = "click a pixel"


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def square_axes(fig: go.Figure, size: int, row=None, col=None) -> None:
    """Pixels as squares, row 0 at the top, no tick clutter."""
    kw = {} if row is None else {"row": row, "col": col}
    fig.update_xaxes(
        range=[-0.5, size - 0.5], showgrid=False, zeroline=False, constrain="domain", **kw
    )
    fig.update_yaxes(
        range=[size - 0.5, -0.5],
        showgrid=False,
        zeroline=False,
        scaleanchor="x" if row is None else None,
        constrain="domain",
        **kw,
    )


def click_layer(size: int, hover=None) -> go.Scatter:
    """Invisible pixel centres that make a heatmap clickable (customdata = [row, col]).

    They sit on top, so they also carry the hover text (``hover``: strings ``[H, W]``);
    a trace with ``hoverinfo="skip"`` would emit no click either.
    """
    rr, cc = np.mgrid[0:size, 0:size]
    text = np.full((size, size), "", object) if hover is None else np.asarray(hover, object)
    return go.Scatter(
        x=cc.ravel(),
        y=rr.ravel(),
        mode="markers",
        marker={"size": max(6, 360 // size), "symbol": "square", "opacity": 0.01},
        customdata=np.stack([rr.ravel(), cc.ravel()], 1),
        text=text.ravel(),
        hovertemplate="row %{customdata[0]}, col %{customdata[1]}<br>%{text}<extra></extra>",
        name=CLICK_NAME,
        showlegend=False,
    )


def _marks(mask, name: str, colour: str, symbol: str, size: int, opacity: float) -> go.Scatter:
    rows, cols = np.nonzero(_np(mask))
    return go.Scatter(
        x=cols,
        y=rows,
        mode="markers",
        marker={"symbol": symbol, "size": size, "color": colour, "opacity": opacity,
                "line": {"color": colour, "width": 2}},
        name=name,
        hoverinfo="skip",
    )  # fmt: skip


def outline(mask, name: str, colour: str, width: float = 2.5, dash: str = "solid"):
    """One line trace along the border of a boolean region ``[H, W]`` (pixel edges)."""
    m = _np(mask).astype(bool)
    pad = np.pad(m, 1)
    xs: list = []
    ys: list = []
    for r, c in zip(*np.nonzero(m), strict=True):
        pr, pc = r + 1, c + 1
        for dr, dc, seg in (
            (-1, 0, ((c - 0.5, r - 0.5), (c + 0.5, r - 0.5))),
            (1, 0, ((c - 0.5, r + 0.5), (c + 0.5, r + 0.5))),
            (0, -1, ((c - 0.5, r - 0.5), (c - 0.5, r + 0.5))),
            (0, 1, ((c + 0.5, r - 0.5), (c + 0.5, r + 0.5))),
        ):
            if not pad[pr + dr, pc + dc]:
                xs += [seg[0][0], seg[1][0], None]
                ys += [seg[0][1], seg[1][1], None]
    return go.Scatter(x=xs, y=ys, mode="lines", name=name, hoverinfo="skip",
                      line={"color": colour, "width": width, "dash": dash})  # fmt: skip


def image_figure(
    image,
    levels: int,
    *,
    visible=None,
    known=None,
    current: tuple[int, int] | None = None,
    field=None,
    clickable: bool = True,
    title: str | None = None,
    height: int = 430,
) -> go.Figure:
    """One image: grey levels, pixels not yet generated left blank, overlays on top.

    Args:
        image: ``[H, W]`` levels.
        visible: bool ``[H, W]``: pixels that exist so far (others shown blank).
        known: bool ``[H, W]``: given pixels of a partial start (outlined in blue).
        current: the pixel being drawn (orange outline).
        field: bool ``[H, W]``: the pixels ``current`` can see (orange tint).
    """
    img = _np(image).astype(float)
    size = img.shape[-1]
    shown = img.copy() if visible is None else np.where(_np(visible), img, np.nan)
    text = np.where(
        np.isnan(shown), "not generated yet", np.char.add("level ", img.astype(int).astype(str))
    )
    fig = go.Figure(
        go.Heatmap(
            z=shown,
            zmin=0,
            zmax=levels - 1,
            colorscale=GREYS,
            colorbar={"title": {"text": "level"}, "len": 0.6, "thickness": 12},
            customdata=text,
            hovertemplate="row %{y}, col %{x}<br>%{customdata}<extra></extra>",
            hoverinfo="skip" if clickable else None,
            name="image",
        )
    )
    cell = max(4, int(300 / size))
    if field is not None and _np(field).any():
        fig.add_trace(_marks(field, "context it can see", HIGHLIGHT, "square", cell, 0.22))
        fig.data[-1].showlegend = False
        fig.add_trace(outline(field, "context it can see", HIGHLIGHT, 2.0, "dot"))
    if known is not None and _np(known).any():
        fig.add_trace(outline(known, "given (inside the blue line)", ACCENT, 3.0))
    if current is not None:
        fig.add_trace(_marks(_one(current, size), "current pixel", HIGHLIGHT,
                             "square-open", cell, 1.0))  # fmt: skip
    if clickable:
        fig.add_trace(click_layer(size, text))
    square_axes(fig, size)
    fig.update_layout(plot_bgcolor="#e9ecef", clickmode="event+select")
    return legend_below(style(fig, title=title, height=height))


LEGEND_ROOM = 64  # px of bottom margin for a legend under the tick labels


def legend_below(fig: go.Figure) -> go.Figure:
    """Put the legend in the bottom margin, under the axis tick labels, never on them.

    A legend placed in plot coordinates below the axis (``y=-0.02``) sits exactly where
    plotly draws the x tick labels; anchored to the figure's container instead, it lives
    in a margin reserved for it.
    """
    fig.update_layout(
        legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0},
        margin={"b": LEGEND_ROOM},
    )
    return fig


def _one(pixel: tuple[int, int], size: int) -> np.ndarray:
    m = np.zeros((size, size), bool)
    m[pixel] = True
    return m


def grid_figure(
    images, levels: int, *, visible=None, focus: int | None = None, title=None, height=360
) -> go.Figure:
    """A batch ``[n, H, W]`` tiled on a near-square grid (one heatmap, gaps between tiles)."""
    imgs = _np(images).astype(float)
    n, h, w = imgs.shape
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    big = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan)
    meta = np.full((*big.shape, 3), -1)
    vis = None if visible is None else _np(visible)
    for i in range(n):
        r, c = divmod(i, cols)
        tile = imgs[i] if vis is None else np.where(vis, imgs[i], np.nan)
        big[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = tile
        rr, cc = np.mgrid[0:h, 0:w]
        meta[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = np.stack(
            [np.full_like(rr, i), rr, cc], -1
        )
    fig = go.Figure(
        go.Heatmap(
            z=big,
            zmin=0,
            zmax=levels - 1,
            colorscale=GREYS,
            showscale=False,
            customdata=meta,
            hovertemplate="sample %{customdata[0]}, row %{customdata[1]}, col "
            "%{customdata[2]}<br>level %{z}<extra></extra>",
        )
    )
    if focus is not None and 0 <= focus < n:
        r, c = divmod(focus, cols)
        x0, y0 = c * (w + 1) - 0.5, r * (h + 1) - 0.5
        fig.add_shape(type="rect", x0=x0, y0=y0, x1=x0 + w, y1=y0 + h,
                      line={"color": HIGHLIGHT, "width": 3})  # fmt: skip
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain")
    fig.update_layout(plot_bgcolor="#e9ecef")
    return style(fig, title=title, height=height)
