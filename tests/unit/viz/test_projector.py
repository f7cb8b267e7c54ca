"""Presenter mode's figures: every text at least the projector size, lines thicker, the
figure a builder returned left as it was (builders may be cached), and titles that keep
inside the figure."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from autoreg.viz.common import PROJECTOR_FONT, for_projector, style, top_edge_room


def _figure() -> go.Figure:
    fig = go.Figure(
        [
            go.Scatter(y=[1, 2, 3], line={"width": 2}, marker={"size": 6}, name="a"),
            go.Heatmap(z=[[0, 1], [1, 0]], colorbar={"title": {"text": "p"}}),
            go.Bar(y=[1, 2], text=["x", "y"], textfont={"size": 11}),
        ]
    )
    fig.update_layout(font_size=12, title="t", legend_title_text="cell")
    fig.add_annotation(text="note", font={"size": 10})
    fig.add_annotation(text="big", font={"size": 30})
    return fig


def test_every_text_reaches_the_projector_size():
    out = for_projector(_figure())
    size = PROJECTOR_FONT
    lay = out.layout
    assert lay.font.size == size and lay.title.font.size > size
    assert lay.legend.font.size == size and lay.legend.title.font.size == size
    assert lay.xaxis.tickfont.size == size and lay.yaxis.title.font.size == size
    assert [a.font.size for a in lay.annotations] == [size, 30]  # larger ones stay larger
    assert out.data[1].colorbar.tickfont.size == size
    assert out.data[1].colorbar.title.font.size == size
    assert out.data[2].textfont.size == size


def test_lines_and_markers_thicken_and_the_input_is_untouched():
    fig = _figure()
    out = for_projector(fig)
    assert out.data[0].line.width == 3 and out.data[0].marker.size == 9
    assert fig.data[0].line.width == 2 and fig.layout.font.size == 12
    assert fig.layout.annotations[0].font.size == 10


def _panels(title: str | None, panel: str = "a<br>b") -> go.Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=[panel, "c"])
    fig.add_trace(go.Scatter(y=[1, 2]), row=1, col=1)
    return style(fig, title=title, height=300)


def test_a_title_pushes_the_margin_and_clears_the_subplot_titles():
    """A title never reaches past the figure's top edge, however many lines it has or
    however large presenter mode draws it: plotly moves the plot area down for it
    (``automargin``), and it sits above the subplot titles on the plot's top edge."""
    fig = _panels("line one<br>line two")
    title = fig.layout.title
    assert title.automargin and title.yref == "paper" and title.yanchor == "bottom"
    assert title.pad.b >= top_edge_room(fig, 13) > 2 * 13  # the panel title has two lines
    out = for_projector(fig)
    assert out.layout.title.automargin
    assert out.layout.title.pad.b >= top_edge_room(out, PROJECTOR_FONT) > title.pad.b


def test_untitled_subplots_keep_room_for_their_titles():
    fig = _panels(None)
    assert fig.layout.margin.t >= top_edge_room(fig, 13) >= 2 * 13
    out = for_projector(fig)
    assert out.layout.margin.t >= 2 * PROJECTOR_FONT * 1.3
