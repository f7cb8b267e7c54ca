"""The live cell diagram: an LSTM, GRU or RNN cell drawn with plotly shapes, one unit's numbers.

The schematic is the standard one (Olah's "Understanding LSTM Networks"): the state line
runs along the top, σ gates and the tanh candidate sit in a row below, × and + nodes join
them. Every part is filled with the colour of *its current value for one chosen unit*
(sequential 0..1 for σ gates, diverging around 0 for h, c and candidates), so the
picture changes as the cursor moves. ``cell_equations`` writes the same numbers into the
cell's equations (LaTeX for ``st.latex``), pre-activations included: those are the
trace's own (``Trace.preactivations``), never σ or tanh run backwards, which cannot
tell a pre-activation of 17 from one of 40 once float32 σ has rounded both to 1.

LSTM sub-steps follow the order of computation::

    forget -> input -> candidate -> cell (c = f⊙c_{t-1} + i⊙g) -> output -> hidden (h = o⊙tanh c)

Parts of later sub-steps are drawn greyed out ("not computed yet").
GRU uses PyTorch's convention h_t = (1 − z)⊙n + z⊙h_{t−1}: an update gate z near 1
*keeps* the old state, the opposite of many textbook diagrams, and the figure says so.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from autoreg.seq.trace import Trace
from autoreg.viz.common import DIVERGING, HIGHLIGHT, SEQUENTIAL, style

LSTM_SUBSTEPS = ("forget", "input", "candidate", "cell", "output", "hidden")
_PENDING = "#e9ecef"  # fill of parts not computed yet at this sub-step


def unit_values(tr: Trace, layer: int, unit: int, step: int) -> dict[str, float]:
    """Every scalar the cell computes for one unit at one step, read from the trace.

    LSTM: c_prev, h_prev, f, i, g, o, kept (f·c_prev), written (i·g), c, tanh_c, h.
    GRU: h_prev, r, z, n, keep (z·h_prev), write ((1−z)·n), h.  RNN: h_prev, pre, h.
    Each gate's pre-activation (the value inside σ or tanh) comes with it as
    ``<name>_pre`` (f_pre, ..., n_pre), read from ``tr.preactivations``. A plain RNN's
    trace keeps no pre-activation, so its ``pre`` is tanh⁻¹(h): see ``rnn_pre_text``.
    """
    T, L, H = tr.hidden.shape
    for what, v, n in (("step", step, T), ("layer", layer, L), ("unit", unit, H)):
        if not 0 <= v < n:
            raise ValueError(f"{what} {v} is outside 0..{n - 1}.")
    h_prev = tr.hidden[step - 1, layer, unit] if step else tr.initial_hidden[layer, unit]
    out = {"h_prev": float(h_prev), "h": float(tr.hidden[step, layer, unit])}
    g = {name: float(a[step, layer, unit]) for name, a in tr.gates.items()}
    if set(tr.preactivations) != set(tr.gates):
        raise ValueError("This trace has no pre-activations; make it with autoreg.trace.")
    short = {"forget": "f", "input": "i", "output": "o", "reset": "r", "update": "z"}
    candidate = "g" if tr.cell_type == "lstm" else "n"
    for name, a in tr.preactivations.items():
        out[f"{short.get(name, candidate)}_pre"] = float(a[step, layer, unit])
    if tr.cell_type == "lstm":
        c_prev = tr.cell[step - 1, layer, unit] if step else tr.initial_cell[layer, unit]
        c = float(tr.cell[step, layer, unit])
        f, i, cand, o = g["forget"], g["input"], g["candidate"], g["output"]
        out.update(
            c_prev=float(c_prev),
            f=f,
            i=i,
            g=cand,
            o=o,
            kept=f * float(c_prev),
            written=i * cand,
            c=c,
            tanh_c=math.tanh(c),
        )
    elif tr.cell_type == "gru":
        z, n = g["update"], g["candidate"]
        out.update(r=g["reset"], z=z, n=n, keep=z * out["h_prev"], write=(1 - z) * n)
    else:
        out["pre"] = math.atanh(max(-1 + 1e-7, min(1 - 1e-7, out["h"])))
    return out


def rnn_pre_text(h: float, digits: int = 3) -> str:
    """A plain RNN's pre-activation as far as its float32 h = tanh(pre) tells it.

    Nothing else records it, and tanh⁻¹ magnifies h's rounding (up to 2 ulp, the
    kernel's tanh included) by 1 / (1 − h²): near saturation h pins pre down only to a
    bound. The value is printed where that error is under half the last digit shown;
    otherwise the bound the float32 h still guarantees (``≥ 8.664``).
    """
    ulp = 2.0 ** (math.frexp(abs(h))[1] - 24) if h else 2.0**-149
    err = 2 * ulp / (1 - h * h) if abs(h) < 1 else math.inf
    if err < 0.5 * 10.0**-digits:
        return f"{math.atanh(h):.{digits}f}"
    low = math.atanh(max(0.0, abs(h) - 2 * ulp))
    return f"≥ {low:.{digits}f}" if h > 0 else f"≤ −{low:.{digits}f}"


def _colour(value: float, gate: bool, bound: float = 1.0) -> str:
    if gate:
        return sample_colorscale(SEQUENTIAL, [min(1.0, max(0.0, value))])[0]
    x = 0.5 + 0.5 * max(-1.0, min(1.0, value / bound))
    return sample_colorscale(DIVERGING, [x])[0]


def _ink(fill: str) -> str:
    """Black or white text, whichever reads better on ``fill`` (an rgb(...) string)."""
    if not fill.startswith("rgb"):
        return "black"
    r, g, b = (float(v) for v in fill[fill.index("(") + 1 : -1].split(",")[:3])
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "white"


# A part: (kind, x, y, symbol, value key, gate?, sub-step, label)
_LSTM_PARTS = [
    ("box", 2.5, 2.2, "σ", "f", True, "forget", "forget f"),
    ("node", 2.5, 6.0, "×", "kept", False, "forget", "kept f·c₍ₜ₋₁₎"),
    ("box", 4.3, 2.2, "σ", "i", True, "input", "input i"),
    ("box", 5.9, 2.2, "tanh", "g", False, "candidate", "candidate g"),
    ("node", 5.9, 4.2, "×", "written", False, "candidate", "written i·g"),
    ("node", 5.9, 6.0, "+", "c", False, "cell", "c_t"),
    ("box", 7.7, 2.2, "σ", "o", True, "output", "output o"),
    ("node", 9.4, 4.9, "tanh", "tanh_c", False, "hidden", "tanh c_t"),
    ("node", 9.4, 3.5, "×", "h", False, "hidden", "h_t"),
]
# Wires: (points, value key or None, sub-step that produces the value on the wire)
_LSTM_WIRES = [
    ([(0.4, 6.0), (2.5, 6.0)], "c_prev", None),
    ([(2.5, 6.0), (5.9, 6.0)], "kept", "forget"),
    ([(5.9, 6.0), (11.6, 6.0)], "c", "cell"),
    ([(2.5, 2.6), (2.5, 5.75)], "f", "forget"),
    ([(4.3, 2.6), (4.3, 4.2), (5.65, 4.2)], "i", "input"),
    ([(5.9, 2.6), (5.9, 3.95)], "g", "candidate"),
    ([(5.9, 4.45), (5.9, 5.75)], "written", "candidate"),
    ([(9.4, 6.0), (9.4, 5.2)], "c", "cell"),
    ([(9.4, 4.6), (9.4, 3.75)], "tanh_c", "hidden"),
    ([(7.7, 2.6), (7.7, 3.5), (9.15, 3.5)], "o", "output"),
    ([(9.65, 3.5), (11.6, 3.5)], "h", "hidden"),
    ([(0.4, 0.8), (7.7, 0.8)], "h_prev", None),
    ([(1.3, -0.2), (1.3, 0.8)], None, None),
    ([(2.5, 0.8), (2.5, 1.8)], None, None),
    ([(4.3, 0.8), (4.3, 1.8)], None, None),
    ([(5.9, 0.8), (5.9, 1.8)], None, None),
    ([(7.7, 0.8), (7.7, 1.8)], None, None),
]
_LSTM_ENDS = [
    (0.0, 6.0, "c₍ₜ₋₁₎", "c_prev"),
    (12.0, 6.0, "c_t", "c"),
    (0.0, 0.8, "h₍ₜ₋₁₎", "h_prev"),
    (1.3, -0.55, "x_t", None),
    (12.0, 3.5, "h_t", "h"),
]

_GRU_PARTS = [
    ("box", 2.3, 2.2, "σ", "r", True, None, "reset r"),
    ("box", 4.3, 2.2, "σ", "z", True, None, "update z"),
    ("node", 4.3, 6.0, "×", "keep", False, None, "kept z·h₍ₜ₋₁₎"),
    ("box", 7.6, 2.2, "tanh", "n", False, None, "candidate n"),
    ("node", 7.6, 4.2, "×", "write", False, None, "written (1−z)·n"),
    ("node", 7.6, 6.0, "+", "h", False, None, "h_t"),
]
_GRU_WIRES = [
    ([(0.4, 6.0), (4.3, 6.0)], "h_prev", None),
    ([(4.3, 6.0), (7.6, 6.0)], "keep", None),
    ([(7.6, 6.0), (11.6, 6.0)], "h", None),
    ([(4.3, 2.6), (4.3, 5.75)], "z", None),
    ([(4.3, 4.2), (7.35, 4.2)], "z", None),
    ([(2.3, 2.6), (2.3, 3.2), (7.2, 3.2), (7.2, 2.6)], "r", None),
    ([(7.6, 2.6), (7.6, 3.95)], "n", None),
    ([(7.6, 4.45), (7.6, 5.75)], "write", None),
    ([(0.4, 0.8), (7.6, 0.8)], "h_prev", None),
    ([(1.3, -0.2), (1.3, 0.8)], None, None),
    ([(2.3, 0.8), (2.3, 1.8)], None, None),
    ([(4.3, 0.8), (4.3, 1.8)], None, None),
    ([(7.6, 0.8), (7.6, 1.8)], None, None),
]
_GRU_ENDS = [
    (0.0, 6.0, "h₍ₜ₋₁₎", "h_prev"),
    (12.0, 6.0, "h_t", "h"),
    (0.0, 0.8, "h₍ₜ₋₁₎", "h_prev"),
    (1.3, -0.55, "x_t", None),
]

_RNN_PARTS = [
    ("node", 4.0, 2.5, "+", "pre", False, None, "W x + U h + b"),
    ("box", 7.0, 2.5, "tanh", "h", False, None, "h_t = tanh(·)"),
]
_RNN_WIRES = [
    ([(0.4, 2.5), (3.75, 2.5)], "h_prev", None),
    ([(4.0, -0.2), (4.0, 2.25)], None, None),
    ([(4.25, 2.5), (6.6, 2.5)], "pre", None),
    ([(7.4, 2.5), (11.6, 2.5)], "h", None),
    ([(9.5, 2.5), (9.5, 5.0)], "h", None),
]
_RNN_ENDS = [
    (0.0, 2.5, "h₍ₜ₋₁₎", "h_prev"),
    (12.0, 2.5, "h_t", "h"),
    (4.0, -0.55, "x_t", None),
    (9.5, 5.4, "→ softmax", None),
]

LAYOUTS = {
    "lstm": (_LSTM_PARTS, _LSTM_WIRES, _LSTM_ENDS),
    "gru": (_GRU_PARTS, _GRU_WIRES, _GRU_ENDS),
    "rnn": (_RNN_PARTS, _RNN_WIRES, _RNN_ENDS),
}


def _done(part_step: str | None, substep: str | None) -> bool:
    """Whether a part's value is computed at this LSTM sub-step (None: all of them)."""
    if substep is None or part_step is None:
        return True
    return LSTM_SUBSTEPS.index(part_step) <= LSTM_SUBSTEPS.index(substep)


def cell_diagram(
    cell_type: str,
    values: dict[str, float],
    *,
    substep: str | None = None,
    c_bound: float = 1.0,
    title: str | None = None,
    height: int = 500,
) -> go.Figure:
    """The cell schematic coloured by one unit's values (from ``unit_values``).

    ``substep`` (LSTM only) greys out the parts computed after it and outlines its own
    parts; ``c_bound`` is the colour range of the cell state (±max|c| over the trace).
    Hovering any part shows its exact value.
    """
    if cell_type not in LAYOUTS:
        raise ValueError(f"Unknown cell {cell_type!r}; choose from {tuple(LAYOUTS)}.")
    if substep is not None and (cell_type != "lstm" or substep not in LSTM_SUBSTEPS):
        raise ValueError(f"Sub-step {substep!r} is not an LSTM sub-step {LSTM_SUBSTEPS}.")
    parts, wires, ends = LAYOUTS[cell_type]
    bound = {"c": c_bound, "c_prev": c_bound, "kept": c_bound, "pre": 3.0}
    # Collect plain dicts and build the figure once: adding parts one by one re-validates
    # the whole layout each time (a few hundred ms per step for this many parts).
    traces: list[dict] = []
    shapes: list[dict] = []
    notes: list[dict] = []
    shapes.append(
        dict(
            type="rect",
            x0=0.8,
            x1=11.0,
            y0=0.2,
            y1=6.9,
            line={"color": "#ced4da"},
            fillcolor="#f8f9fa",
            layer="below",
        )
    )
    for points, key, step in wires:
        done = key is not None and _done(step, substep)
        colour = _colour(values[key], False, bound.get(key, 1.0)) if done else "#868e96"
        if key in ("f", "i", "o", "r", "z") and done:
            colour = _colour(values[key], True)
        xs, ys = zip(*points, strict=True)
        width = (
            9
            if key in ("c_prev", "kept", "c")
            or (cell_type != "lstm" and key in ("h_prev", "keep", "h"))
            else 4
        )
        traces.append(
            dict(
                type="scatter",
                x=xs,
                y=ys,
                mode="lines",
                line={"color": colour, "width": width},
                hoverinfo="skip",
                showlegend=False,
            )
        )
    hover_x, hover_y, hover_text = [], [], []
    for kind, x, y, symbol, key, gate, step, label in parts:
        done = _done(step, substep)
        fill = _colour(values[key], gate, bound.get(key, 1.0)) if done else _PENDING
        current = substep is not None and step == substep
        outline = {"color": HIGHLIGHT if current else "#495057", "width": 4 if current else 1.5}
        if kind == "box":
            w = 0.55 if symbol == "σ" else 0.7
            shapes.append(
                dict(
                    type="rect",
                    x0=x - w,
                    x1=x + w,
                    y0=y - 0.4,
                    y1=y + 0.4,
                    fillcolor=fill,
                    line=outline,
                )
            )
        else:
            r = 0.32 if symbol != "tanh" else 0.5
            shapes.append(
                dict(
                    type="circle",
                    x0=x - r,
                    x1=x + r,
                    y0=y - r * 0.9,
                    y1=y + r * 0.9,
                    fillcolor=fill,
                    line=outline,
                )
            )
        notes.append(
            dict(
                x=x,
                y=y,
                text=f"<b>{symbol}</b>",
                showarrow=False,
                font={"size": 17 if kind == "box" else 20, "color": _ink(fill)},
            )
        )
        number = rnn_pre_text(values["h"]) if key == "pre" else f"{values[key]:+.3f}"
        shown = number if done else "…"
        below = kind == "box"  # box labels under the box, node labels beside or above it
        above = not below and y >= 6
        notes.append(
            dict(
                x=x if below or above else x + (0.6 if symbol == "tanh" else 0.42),
                y=y - 0.5 if below else y + 0.4 if above else y,
                xanchor="center" if below or above else "left",
                yanchor="top" if below else "bottom" if above else "middle",
                text=f"{label}<br><b>{shown}</b>",
                showarrow=False,
                align="center" if below else "left",
                bgcolor="rgba(255,255,255,0.85)",
                font={"size": 13, "color": "#212529"},
            )
        )
        hover_x.append(x)
        hover_y.append(y)
        exact = rnn_pre_text(values["h"], 6) if key == "pre" else f"{values[key]:.6f}"
        pre = values.get(f"{key}_pre")  # the gate's own pre-activation, where it has one
        inside = f"<br>{symbol}({pre:.6f})" if pre is not None else ""
        hover_text.append(f"{label} = {exact}{inside}" if done else f"{label}: not yet")
    for x, y, text, key in ends:
        produced = {"c": "cell", "h": "hidden"}.get(key) if cell_type == "lstm" else None
        shown = key is not None and _done(produced, substep)
        value = f"<br><b>{values[key]:+.3f}</b>" if shown else ""
        notes.append(
            dict(
                x=x,
                y=y,
                text=f"{text}{value}",
                showarrow=False,
                font={"size": 14},
                xanchor="center",
            )
        )
    traces.append(
        dict(
            type="scatter",
            x=hover_x,
            y=hover_y,
            mode="markers",
            text=hover_text,
            marker={"size": 26, "opacity": 0},
            hovertemplate="%{text}<extra></extra>",
            showlegend=False,
            name="parts",
        )
    )
    for cs, lo, hi, name, xpos in (
        (SEQUENTIAL, 0, 1, "σ gates", 1.02),
        (DIVERGING, -1, 1, "h, g, c/|c|max", 1.12),
    ):
        traces.append(
            dict(
                type="scatter",
                x=[None],
                y=[None],
                mode="markers",
                showlegend=False,
                hoverinfo="skip",
                marker={
                    "colorscale": cs,
                    "cmin": lo,
                    "cmax": hi,
                    "color": [lo],
                    "colorbar": {
                        "title": {"text": name, "side": "right"},
                        "x": xpos,
                        "thickness": 10,
                        "len": 0.8,
                    },
                },
            )
        )
    if cell_type == "gru":
        notes.append(
            dict(
                x=6.0,
                y=7.3,
                showarrow=False,
                font={"size": 13, "color": HIGHLIGHT},
                text="PyTorch convention: update z ≈ 1 keeps the old state, z ≈ 0 writes n",
            )
        )
    fig = go.Figure(data=traces, layout={"shapes": shapes, "annotations": notes})
    fig.update_xaxes(visible=False, range=[-0.6, 12.6])
    fig.update_yaxes(visible=False, range=[-0.9, 7.6], scaleanchor="x", scaleratio=1)
    return style(fig, title=title, height=height)


def _n(v: float) -> str:
    return f"{v:.3f}"


def _p(v: float) -> str:
    """An operand: negative numbers in parentheses, so ``0.5·(-0.2)`` reads right."""
    return f"({v:.3f})" if v < 0 else f"{v:.3f}"


def _gate(sym: str, v: dict[str, float], tanh: bool = False) -> str:
    """``f_t = σ(W_f x_t + U_f h_{t-1} + b_f) = σ(2.571) = 0.929`` with the trace's numbers."""
    fn = r"\tanh" if tanh else r"\sigma"
    return (
        rf"{sym}_t = {fn}(W_{sym} x_t + U_{sym} h_{{t-1}} + b_{sym})"
        rf" = {fn}({_n(v[sym + '_pre'])}) = {_n(v[sym])}"
    )


def cell_equations(
    cell_type: str, values: dict[str, float], *, substep: str | None = None
) -> list[str]:
    """The cell's equations for one unit, real numbers substituted (LaTeX, one per line).

    Every number is the trace's, pre-activations included (``<name>_pre`` from
    ``unit_values``). LSTM lines up to ``substep`` only.
    """
    v = values
    kept, written = r"_{\text{kept}}", r"_{\text{written}}"
    if cell_type == "lstm":
        lines = {
            "forget": _gate("f", v),
            "input": _gate("i", v),
            "candidate": _gate("g", v, tanh=True),
            "cell": (
                rf"c_t = \underbrace{{f_t\,c_{{t-1}}}}{kept} + \underbrace{{i_t\,g_t}}{written}"
                rf" = {_n(v['f'])}\cdot{_p(v['c_prev'])} + {_n(v['i'])}\cdot{_p(v['g'])}"
                rf" = {_n(v['kept'])} + {_p(v['written'])} = {_n(v['c'])}"
            ),
            "output": _gate("o", v),
            "hidden": (
                rf"h_t = o_t \tanh(c_t) = {_n(v['o'])}\cdot\tanh({_n(v['c'])})"
                rf" = {_n(v['o'])}\cdot{_p(v['tanh_c'])} = {_n(v['h'])}"
            ),
        }
        last = LSTM_SUBSTEPS.index(substep) if substep else len(LSTM_SUBSTEPS) - 1
        return [lines[s] for s in LSTM_SUBSTEPS[: last + 1]]
    if cell_type == "gru":
        return [
            _gate("r", v),
            _gate("z", v),
            (
                rf"n_t = \tanh(W_n x_t + b_n + r_t\,(U_n h_{{t-1}} + b_{{hn}}))"
                rf" = \tanh({_n(v['n_pre'])}) = {_n(v['n'])}"
            ),
            (
                rf"h_t = \underbrace{{(1 - z_t)\,n_t}}{written}"
                rf" + \underbrace{{z_t\,h_{{t-1}}}}{kept}"
                rf" = {_n(1 - v['z'])}\cdot{_p(v['n'])} + {_n(v['z'])}\cdot{_p(v['h_prev'])}"
                rf" = {_n(v['write'])} + {_p(v['keep'])} = {_n(v['h'])}"
            ),
        ]
    return [
        rf"h_t = \tanh(W x_t + U h_{{t-1}} + b) = \tanh({rnn_pre_text(v['h'])}) = {_n(v['h'])}"
        rf"\qquad (h_{{t-1}} = {_n(v['h_prev'])})"
    ]
