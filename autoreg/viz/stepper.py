"""Figures of the Step through page: what a recurrent model holds at one step, and overall.

Builders are pure (a ``Trace`` or arrays in, ``go.Figure`` out) and only *slice* the
trace: the page caches one trace per (model, text) and moving the cursor must cost no
model call. Layout of the arrays they read (``autoreg.seq.trace.Trace``)::

    hidden, cell, gates[name]   (T, L, H)   T steps, L layers, H units
    probs                       (T, V)      p(x_{t+1} | x_{<=t}) after step t

Colour rules (DESIGN.md): h, c and the tanh candidate use a diverging scale centred on
0; σ gates a sequential 0..1 scale; the current step and the true next token are
``HIGHLIGHT``. The trace as a long table (CSV export) lives here too, next to the
quantity names it shares with the figures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from autoreg.seq.trace import Trace
from autoreg.viz.common import ACCENT, DIVERGING, HIGHLIGHT, MUTED, SEQUENTIAL, style, token_label

# Display names of every quantity, in the order the page shows them.
LABELS = {
    "hidden": "h (hidden state)",
    "cell": "c (cell state)",
    "input": "i (input gate)",
    "forget": "f (forget gate)",
    "candidate": "g (candidate)",
    "output": "o (output gate)",
    "reset": "r (reset gate)",
    "update": "z (update gate)",
}
ORDERINGS = ("index", "clustered")


def quantities(tr: Trace, layer: int) -> dict[str, np.ndarray]:
    """Every per-unit quantity of one layer, name -> (T, H): h, c (LSTM), then the gates."""
    if not 0 <= layer < tr.hidden.shape[1]:
        raise ValueError(f"Layer {layer} does not exist; the model has {tr.hidden.shape[1]}.")
    out = {"hidden": tr.hidden[:, layer]}
    if tr.cell is not None:
        out["cell"] = tr.cell[:, layer]
    out.update({name: g[:, layer] for name, g in tr.gates.items()})
    return out


def is_gate(name: str) -> bool:
    """σ gates live in 0..1 (sequential scale); h, c and candidates are signed."""
    return name not in ("hidden", "cell", "candidate")


def value_range(name: str, values: np.ndarray) -> tuple[float, float]:
    """Colour range: 0..1 for gates, ±1 for tanh outputs, ±max|c| for the cell state."""
    if is_gate(name):
        return 0.0, 1.0
    if name == "cell":
        bound = float(np.nanmax(np.abs(values))) if values.size else 1.0
        bound = max(bound, 1e-6)
        return -bound, bound
    return -1.0, 1.0


def unit_order(values: np.ndarray, method: str = "index") -> np.ndarray:
    """Order of the H units for display; ``values`` is (T, H).

    "clustered" puts units with similar time courses next to each other: the leaf order
    of an average-linkage tree on correlation distance (units that never move are placed
    last, a flat series has no correlation).
    """
    T, H = values.shape
    if method == "index" or H < 3 or T < 2:
        if method not in ORDERINGS:
            raise ValueError(f"Unknown unit ordering {method!r}; choose from {ORDERINGS}.")
        return np.arange(H)
    if method != "clustered":
        raise ValueError(f"Unknown unit ordering {method!r}; choose from {ORDERINGS}.")
    from sklearn.cluster import AgglomerativeClustering

    std = values.std(axis=0)
    live = np.flatnonzero(std > 1e-6)
    if len(live) < 3:
        return np.concatenate([live, np.flatnonzero(std <= 1e-6)])
    z = (values[:, live] - values[:, live].mean(0)) / std[live]  # (T, H_live)
    tree = AgglomerativeClustering(
        n_clusters=1, metric="cosine", linkage="average", compute_full_tree=True
    ).fit(z.T)
    n = len(live)
    leaves: list[int] = []
    stack = [n + len(tree.children_) - 1]  # the root node
    while stack:  # depth-first, left child first: the dendrogram's leaf order
        node = stack.pop()
        if node < n:
            leaves.append(node)
        else:
            left, right = tree.children_[node - n]
            stack.extend([right, left])
    return np.concatenate([live[leaves], np.flatnonzero(std <= 1e-6)])


def _colour(name: str, values: np.ndarray) -> dict:
    lo, hi = value_range(name, values)
    if is_gate(name):
        return {"colorscale": SEQUENTIAL, "zmin": lo, "zmax": hi}
    return {"colorscale": DIVERGING, "zmin": lo, "zmax": hi, "zmid": 0.0}


def step_labels(tokens: list[str]) -> list[str]:
    """Unique category labels for the time axis: "12 ␣" (step and the token read)."""
    return [f"{t} {token_label(tok)}" for t, tok in enumerate(tokens)]


HEATMAP_WINDOW = 120  # steps shown around the cursor in the time x units heatmap


def heatmap_window(T: int, step: int, window: int = HEATMAP_WINDOW) -> tuple[int, int]:
    """[lo, hi) of the steps the heatmap shows: ``window`` steps around ``step``."""
    if window >= T:
        return 0, T
    lo = min(max(0, step - window // 2), T - window)
    return lo, lo + window


def overview_heatmap(
    values: np.ndarray,
    tokens: list[str],
    step: int,
    *,
    name: str = "hidden",
    order: np.ndarray | None = None,
    unit: int | None = None,
    title: str | None = None,
    height: int = 380,
    window: int = HEATMAP_WINDOW,
) -> go.Figure:
    """Time × units heatmap of one quantity around ``step``, with a cursor on it.

    ``values`` is (T, H); row k of the heatmap is unit ``order[k]``. Only ``window``
    steps around the cursor are drawn (``heatmap_window``): the page redraws this chart
    on every step, and the whole T x H grid of a long text is megabytes of JSON and more
    columns than the screen has pixels. The time axis is categorical (step and token) so
    the hover shows value, step, token and unit.
    """
    T, H = values.shape
    if not 0 <= step < T:
        raise ValueError(f"Step {step} is outside 0..{T - 1}.")
    lo, hi = heatmap_window(T, step, window)
    order = np.arange(H) if order is None else np.asarray(order)
    x = step_labels(tokens)[lo:hi]
    y = [f"unit {u}" for u in order]
    fig = go.Figure(
        go.Heatmap(
            z=values[lo:hi, order].T,
            x=x,
            y=y,
            colorbar={"title": {"text": name if len(name) < 3 else name[:1]}, "thickness": 12},
            hovertemplate="step %{x}<br>%{y}<br>value %{z:.4f}<extra></extra>",
            **_colour(name, values),
        )
    )
    fig.add_shape(
        type="rect",
        x0=step - lo - 0.5,
        x1=step - lo + 0.5,
        y0=-0.5,
        y1=H - 0.5,
        line={"color": HIGHLIGHT, "width": 3},
        name="cursor",
    )
    if unit is not None and 0 <= unit < H:
        row = int(np.flatnonzero(order == unit)[0])
        fig.add_shape(
            type="rect",
            x0=-0.5,
            x1=hi - lo - 0.5,
            y0=row - 0.5,
            y1=row + 0.5,
            line={"color": "black", "width": 1, "dash": "dot"},
            name="unit",
        )
    every = max(1, (hi - lo) // 40)
    ticks = list(range(0, hi - lo, every))
    fig.update_xaxes(
        tickmode="array",
        tickvals=ticks,
        ticktext=[token_label(tokens[lo + k]) for k in ticks],
        tickangle=0,
        title=None if (lo, hi) == (0, T) else f"steps {lo}–{hi - 1} of {T}",
    )
    fig.update_yaxes(showticklabels=H <= 48, autorange="reversed", title=f"units ({H})")
    return style(fig, title=title or f"{LABELS.get(name, name)} over time", height=height)


def step_strips(
    values: dict[str, np.ndarray],
    step: int,
    *,
    order: np.ndarray | None = None,
    unit: int | None = None,
    title: str | None = None,
    height: int | None = None,
) -> go.Figure:
    """Every quantity at one step, one row per quantity, one column per unit.

    ``values`` is name -> (T, H) (from ``quantities``). Signed rows share a diverging
    scale, gate rows a sequential one; ``unit`` is outlined in every row.
    """
    names = list(values)
    H = next(iter(values.values())).shape[1]
    order = np.arange(H) if order is None else np.asarray(order)
    fig = make_subplots(rows=len(names), cols=1, vertical_spacing=0.04)
    traces, shapes = [], []
    k = int(np.flatnonzero(order == unit)[0]) if unit is not None and 0 <= unit < H else None
    for r, name in enumerate(names, start=1):
        axis = "coloraxis2" if is_gate(name) else "coloraxis3" if name == "cell" else "coloraxis"
        traces.append(
            go.Heatmap(
                z=values[name][step, order][None, :],
                x=[f"unit {u}" for u in order],
                y=[LABELS.get(name, name)],
                coloraxis=axis,
                hovertemplate="%{x}<br>%{y}: %{z:.4f}<extra></extra>",
            )
        )
        if k is not None:  # the chosen unit, outlined in every row
            ref = "" if r == 1 else str(r)
            shapes.append(
                {"type": "rect", "xref": f"x{ref}", "yref": f"y{ref}", "x0": k - 0.5,
                 "x1": k + 0.5, "y0": -0.5, "y1": 0.5, "line": {"color": HIGHLIGHT, "width": 3}}
            )  # fmt: skip
    # One call each: adding traces or shapes one at a time re-validates the figure.
    fig.add_traces(traces, rows=list(range(1, len(names) + 1)), cols=[1] * len(names))
    fig.update_layout(shapes=shapes)
    cell = values.get("cell")
    c_bound = value_range("cell", cell)[1] if cell is not None else 1.0
    fig.update_layout(
        coloraxis={
            "colorscale": DIVERGING,
            "cmin": -1,
            "cmax": 1,
            "colorbar": {"title": {"text": "h, g"}, "x": 1.0, "thickness": 10, "len": 0.9},
        },
        coloraxis2={
            "colorscale": SEQUENTIAL,
            "cmin": 0,
            "cmax": 1,
            "colorbar": {"title": {"text": "gates"}, "x": 1.07, "thickness": 10, "len": 0.9},
        },
    )
    if cell is not None:
        fig.update_layout(
            coloraxis3={
                "colorscale": DIVERGING,
                "cmin": -c_bound,
                "cmax": c_bound,
                "colorbar": {"title": {"text": "c"}, "x": 1.14, "thickness": 10, "len": 0.9},
            }
        )
    fig.update_xaxes(showticklabels=False)
    return style(fig, title=title, height=height or 60 + 52 * len(names))


def pca_2d(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2-D PCA of an embedding table (V, E): coordinates (V, 2), explained variance ratios."""
    x = np.asarray(table, dtype=np.float64)
    x = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    var = s**2
    ratio = var[:2] / var.sum() if var.sum() > 0 else np.zeros(2)
    return x @ vt[:2].T, ratio


def embedding_bar(vector: np.ndarray, token: str, *, height: int = 220) -> go.Figure:
    """The embedding vector of the token read at this step, one bar per dimension."""
    bound = max(float(np.abs(vector).max()), 1e-6)
    fig = go.Figure(
        go.Bar(
            x=np.arange(len(vector)),
            y=vector,
            marker={"color": vector, "colorscale": DIVERGING, "cmin": -bound, "cmax": bound},
            hovertemplate="dim %{x}: %{y:.4f}<extra></extra>",
        )
    )
    fig.update_xaxes(title="embedding dimension")
    return style(fig, title=f"Embedding of {token_label(token)!r}", height=height)


def embedding_map(
    coords: np.ndarray,
    labels: list[str],
    current: int,
    *,
    ratio: np.ndarray | None = None,
    height: int = 320,
) -> go.Figure:
    """Every token of the vocabulary on the first two principal axes; ``current`` marked."""
    shown = [token_label(s) for s in labels]
    many = len(labels) > 150  # a word vocabulary: markers only, labels on hover
    fig = go.Figure(
        go.Scatter(
            x=coords[:, 0],
            y=coords[:, 1],
            mode="markers" if many else "text",
            text=shown,
            textfont={"color": "#495057", "size": 12},
            marker={"color": MUTED, "size": 5},
            hovertemplate="%{text}<br>(%{x:.3f}, %{y:.3f})<extra></extra>",
            name="vocabulary",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[coords[current, 0]],
            y=[coords[current, 1]],
            mode="markers+text",
            text=[shown[current]],
            textposition="top center",
            textfont={"color": HIGHLIGHT, "size": 20},
            marker={"color": HIGHLIGHT, "size": 16, "symbol": "circle-open", "line": {"width": 3}},
            hovertemplate="read now: %{text}<extra></extra>",
            name="read now",
        )
    )
    pc = ["PC1", "PC2"]
    if ratio is not None:
        pc = [f"PC{i + 1} ({100 * r:.0f}% of variance)" for i, r in enumerate(ratio)]
    fig.update_xaxes(title=pc[0], zeroline=False)
    fig.update_yaxes(title=pc[1], zeroline=False)
    fig.update_layout(showlegend=False)
    return style(fig, title="The embedding table (PCA)", height=height)


def topk_bars(
    probs: np.ndarray,
    labels: list[str],
    *,
    k: int = 8,
    true_id: int | None = None,
    title: str | None = None,
    height: int = 300,
) -> go.Figure:
    """The k most likely next tokens; the true next token is marked (added if outside k)."""
    order = [int(i) for i in np.argsort(-probs)[:k]]
    if true_id is not None and true_id not in order:
        order.append(int(true_id))
    rank = {int(i): r + 1 for r, i in enumerate(np.argsort(-probs))} if true_id is not None else {}
    names = [f"{token_label(labels[i])!r}" for i in order]
    if true_id is not None and len(order) > k:
        names[-1] = f"{names[-1]} (rank {rank[true_id]})"
    colours = [HIGHLIGHT if i == true_id else ACCENT for i in order]
    fig = go.Figure(
        go.Bar(
            x=probs[order],
            y=names,
            orientation="h",
            marker={"color": colours},
            text=[f"{p:.3f}" for p in probs[order]],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: p = %{x:.5f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(range=[0, min(1.0, float(probs[order].max()) * 1.25 + 0.02)], title="p")
    return style(fig, title=title or "Next-token probabilities", height=height)


def surprise_line(
    bits: np.ndarray, tokens: list[str], step: int, *, title: str | None = None, height: int = 220
) -> go.Figure:
    """Surprise −log₂ p(next token) after each step, with a cursor at ``step``.

    Point t is how surprised the model was by token t+1 after reading tokens 0..t; the
    last step (nothing follows) and unknown next tokens are NaN, drawn as gaps.
    """
    T = len(tokens)
    nxt = [token_label(tokens[t + 1]) if t + 1 < T else "(end)" for t in range(T)]
    # One filled step line, not T bars: the page redraws this chart on every step, and
    # a few hundred SVG bars cost the browser far more than one path.
    fig = go.Figure(
        go.Scatter(
            x=np.arange(T),
            y=bits,
            mode="lines",
            line={"shape": "hvh", "color": ACCENT, "width": 1},
            fill="tozeroy",
            customdata=np.array([[token_label(tokens[t]), nxt[t]] for t in range(T)]),
            hovertemplate=(
                "step %{x}: read %{customdata[0]}, next %{customdata[1]}"
                "<br>surprise %{y:.3f} bits<extra></extra>"
            ),
            name="surprise",
        )
    )
    # a value with gaps on both sides has no segment to draw: give it a dot
    finite = np.isfinite(np.asarray(bits, dtype=float))
    padded = np.concatenate([[False], finite, [False]])
    alone = np.flatnonzero(finite & ~padded[:-2] & ~padded[2:])
    if len(alone):
        fig.add_trace(
            go.Scatter(
                x=alone,
                y=np.asarray(bits)[alone],
                mode="markers",
                marker={"color": ACCENT, "size": 4},
                hoverinfo="skip",
                name="between gaps",
            )
        )
    if np.isfinite(bits[step]):
        fig.add_trace(
            go.Scatter(
                x=[step],
                y=[bits[step]],
                mode="markers",
                marker={"color": HIGHLIGHT, "size": 9},
                hoverinfo="skip",
                name="this step",
            )
        )
    fig.update_layout(showlegend=False)
    fig.add_vline(x=step, line={"color": HIGHLIGHT, "width": 2})
    fig.update_xaxes(title="step", range=[-0.5, T - 0.5])
    fig.update_yaxes(title="bits")
    return style(fig, title=title or "Surprise −log₂ p(next token)", height=height)


def trace_frame(tr: Trace) -> pd.DataFrame:
    """The whole trace as a long table: one row per step × layer × unit × quantity.

    Columns: step, token, next_token, layer, unit, quantity, value. ``layer`` counts from 0.
    """
    T, L, H = tr.hidden.shape
    arrays = {"hidden": tr.hidden}
    if tr.cell is not None:
        arrays["cell"] = tr.cell
    arrays.update(tr.gates)
    step, layer, unit = np.meshgrid(np.arange(T), np.arange(L), np.arange(H), indexing="ij")
    nxt = [*tr.tokens[1:], ""]
    frames = []
    for name, a in arrays.items():
        frames.append(
            pd.DataFrame(
                {
                    "step": step.ravel(),
                    "token": np.asarray(tr.tokens, dtype=object)[step.ravel()],
                    "next_token": np.asarray(nxt, dtype=object)[step.ravel()],
                    "layer": layer.ravel(),
                    "unit": unit.ravel(),
                    "quantity": name,
                    "value": a.reshape(-1),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def compare_surprise(
    bits: dict[str, np.ndarray], tokens: list[str], step: int, *, height: int = 260
) -> go.Figure:
    """Surprise along the same text for several cells (name -> (T,) bits), one cursor."""
    from autoreg.viz.common import CELL_COLOURS

    fig = go.Figure()
    for name, b in bits.items():
        fig.add_trace(
            go.Scatter(
                x=np.arange(len(tokens)),
                y=b,
                mode="lines",
                name=name.upper(),
                line={"color": CELL_COLOURS.get(name, ACCENT), "width": 2},
                customdata=[token_label(t) for t in tokens],
                hovertemplate=f"{name.upper()} step %{{x}} (%{{customdata}}): "
                "%{y:.3f} bits<extra></extra>",
            )
        )
    fig.add_vline(x=step, line={"color": HIGHLIGHT, "width": 2})
    fig.update_xaxes(title="step")
    fig.update_yaxes(title="bits")
    fig.update_layout(legend={"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"})
    return style(fig, title="Surprise per cell, same text", height=height)
