"""The Step through figures show the trace's own numbers, at the cursor's step.

A tiny two-layer model of each cell with random weights is enough: the builders only
slice the trace, so what matters is that the right slice lands in the right place.
"""

from __future__ import annotations

import io
import json
import math
import re

import numpy as np
import pandas as pd
import plotly.io as pio
import pytest
import torch

from autoreg.seq.model import SequenceConfig, SequenceModel
from autoreg.seq.tokenizers import CharTokenizer
from autoreg.seq.trace import trace
from autoreg.viz import cell_diagram as cd
from autoreg.viz import stepper as vs
from autoreg.viz.common import HIGHLIGHT

TEXT = "def f(x):\n    return 'a' + x  # (done)\n"
TOK = CharTokenizer.fit("abcdefghijklmnopqrstuvwxyz ()'+:#\n")  # "=" etc. unknown on purpose


def _model(cell: str) -> SequenceModel:
    torch.manual_seed({"rnn": 0, "lstm": 1, "gru": 2}[cell])
    model = SequenceModel(SequenceConfig(cell, TOK.vocab_size, 6, 12, 2), TOK).eval()
    with torch.no_grad():
        for p in model.rnn.parameters():
            p.mul_(3.0)  # livelier gates than the default init
    return model.requires_grad_(False)  # as the app's shipped models are


@pytest.fixture(scope="module", params=["rnn", "lstm", "gru"])
def tr(request):
    return trace(_model(request.param), TEXT)


@pytest.fixture(scope="module")
def lstm_tr():
    return trace(_model("lstm"), TEXT)


def test_quantities_are_the_trace_slices(tr):
    q = vs.quantities(tr, 1)
    assert np.array_equal(q["hidden"], tr.hidden[:, 1])
    assert ("cell" in q) == (tr.cell_type == "lstm")
    for name, g in tr.gates.items():
        assert np.array_equal(q[name], g[:, 1])
    with pytest.raises(ValueError, match="Layer 2"):
        vs.quantities(tr, 2)


@pytest.mark.parametrize("step", [0, 7, len(TEXT) - 1])
def test_heatmap_holds_the_trace_numbers_and_the_cursor_is_at_the_step(tr, step):
    q = vs.quantities(tr, 0)
    order = vs.unit_order(q["hidden"], "clustered")
    for name, values in q.items():
        fig = vs.overview_heatmap(values, tr.tokens, step, name=name, order=order, unit=3)
        z = np.asarray(fig.data[0].z)
        assert np.array_equal(z, values[:, order].T)  # row k is unit order[k]
        assert fig.data[0].y[0] == f"unit {order[0]}"
        cursor = next(s for s in fig.layout.shapes if s.name == "cursor")
        assert cursor.x0 == step - 0.5 and cursor.x1 == step + 0.5  # short text: no window
        row = next(s for s in fig.layout.shapes if s.name == "unit")
        assert (row.y0 + row.y1) / 2 == int(np.flatnonzero(order == 3)[0])
        # hover labels carry step and token; the colour scale follows the quantity
        assert fig.data[0].x[step] == f"{step} {vs.token_label(tr.tokens[step])}"
        if vs.is_gate(name):
            assert (fig.data[0].zmin, fig.data[0].zmax) == (0.0, 1.0)
        else:
            assert fig.data[0].zmid == 0.0


@pytest.mark.parametrize("step", [0, 59, 60, 250, 499])
def test_long_heatmap_shows_a_window_around_the_cursor(step):
    T, H, W = 500, 6, vs.HEATMAP_WINDOW
    values = np.random.default_rng(0).normal(size=(T, H)).astype(np.float32)
    tokens = [chr(97 + t % 26) for t in range(T)]
    fig = vs.overview_heatmap(values, tokens, step, window=W)
    lo, hi = vs.heatmap_window(T, step, W)
    assert hi - lo == W and lo <= step < hi
    assert np.array_equal(np.asarray(fig.data[0].z), values[lo:hi].T)
    assert list(fig.data[0].x) == vs.step_labels(tokens)[lo:hi]
    cursor = next(s for s in fig.layout.shapes if s.name == "cursor")
    assert fig.data[0].x[int(cursor.x0 + 0.5)] == f"{step} {tokens[step]}"
    assert fig.layout.xaxis.title.text == f"steps {lo}–{hi - 1} of {T}"


def test_heatmap_rejects_a_step_outside_the_text(tr):
    with pytest.raises(ValueError, match="outside"):
        vs.overview_heatmap(tr.hidden[:, 0], tr.tokens, len(tr.tokens))


def test_unit_orders_are_permutations_and_clustering_groups_twins():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(50, 4))
    values = np.concatenate([base, base * 2 + 0.01 * rng.normal(size=(50, 4))], axis=1)
    order = vs.unit_order(values, "clustered")
    assert sorted(order) == list(range(8))
    pos = {int(u): k for k, u in enumerate(order)}
    for u in range(4):  # unit u and its scaled twin u + 4 sit side by side
        assert abs(pos[u] - pos[u + 4]) == 1
    assert list(vs.unit_order(values, "index")) == list(range(8))
    with pytest.raises(ValueError, match="ordering"):
        vs.unit_order(values, "random")


def test_strips_show_every_quantity_at_the_step(tr):
    q = vs.quantities(tr, 1)
    order = np.arange(12)[::-1]
    fig = vs.step_strips(q, 5, order=order, unit=2)
    assert len(fig.data) == len(q)
    for trace_, (name, values) in zip(fig.data, q.items(), strict=True):
        assert np.allclose(np.asarray(trace_.z)[0], values[5, order])
        assert trace_.y[0] == vs.LABELS[name]
    outlined = {(s.x0 + s.x1) / 2 for s in fig.layout.shapes}
    assert outlined == {float(np.flatnonzero(order == 2)[0])}


def test_topk_marks_the_true_next_token_with_its_probability(tr):
    labels = [TOK.token(i) for i in range(TOK.vocab_size)]
    t = 3
    true_id = int(tr.ids[t + 1])
    fig = vs.topk_bars(tr.probs[t], labels, k=3, true_id=true_id)
    bar = fig.data[0]
    ranked = np.argsort(-tr.probs[t])
    assert np.allclose(bar.x[:3], tr.probs[t, ranked[:3]])
    colours = list(bar.marker.color)
    assert colours.count(HIGHLIGHT) == 1
    k = colours.index(HIGHLIGHT)
    assert math.isclose(bar.x[k], tr.probs[t, true_id], rel_tol=1e-6)
    if true_id not in ranked[:3]:
        assert len(bar.x) == 4 and "rank" in bar.y[-1]


def test_surprise_line_is_the_trace_surprise_with_a_cursor(tr):
    fig = vs.surprise_line(tr.surprise_bits, tr.tokens, 9)
    assert np.allclose(fig.data[0].y, tr.surprise_bits, equal_nan=True)
    assert np.isnan(fig.data[0].y[-1])  # nothing follows the last token
    assert fig.layout.shapes[0].x0 == 9
    now = next(d for d in fig.data if d.name == "this step")
    assert now.x[0] == 9 and now.y[0] == tr.surprise_bits[9]


def test_surprise_between_two_gaps_still_shows():
    bits = np.array([np.nan, 2.0, np.nan, 1.0, 1.5, np.nan])
    fig = vs.surprise_line(bits, list("abcdef"), 4)
    alone = next(d for d in fig.data if d.name == "between gaps")
    assert list(alone.x) == [1] and list(alone.y) == [2.0]


def test_embedding_views():
    model = _model("gru")
    table = model.embed.weight.detach().numpy()
    coords, ratio = vs.pca_2d(table)
    assert coords.shape == (TOK.vocab_size, 2) and 0 < ratio.sum() <= 1 + 1e-9
    assert np.allclose(coords.mean(axis=0), 0, atol=1e-6)
    fig = vs.embedding_map(coords, TOK.itos, 5, ratio=ratio)
    assert fig.data[1].x[0] == coords[5, 0] and fig.data[1].text[0] == TOK.itos[5]
    bar = vs.embedding_bar(table[5], TOK.itos[5])
    assert np.array_equal(bar.data[0].y, table[5])


def _hover(fig) -> dict[str, float]:
    parts = next(t for t in fig.data if t.name == "parts")
    out = {}
    for text in parts.text:
        m = re.match(r"(.+) = (-?\d+\.\d+)$", text.split("<br>")[0])
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def test_lstm_diagram_and_equations_carry_the_unit_numbers(lstm_tr):
    tr, layer, unit, t = lstm_tr, 1, 4, 11
    v = cd.unit_values(tr, layer, unit, t)
    assert v["f"] == pytest.approx(float(tr.gates["forget"][t, layer, unit]))
    assert v["c_prev"] == pytest.approx(float(tr.cell[t - 1, layer, unit]))
    # the split of the cell update adds up to the trace's c, and h = o·tanh(c)
    assert v["kept"] + v["written"] == pytest.approx(float(tr.cell[t, layer, unit]), abs=1e-5)
    assert v["o"] * math.tanh(v["c"]) == pytest.approx(float(tr.hidden[t, layer, unit]), abs=1e-5)
    hover = _hover(cd.cell_diagram("lstm", v))
    assert hover["forget f"] == pytest.approx(v["f"], abs=1e-6)
    assert hover["h_t"] == pytest.approx(float(tr.hidden[t, layer, unit]), abs=1e-6)
    assert hover["c_t"] == pytest.approx(float(tr.cell[t, layer, unit]), abs=1e-6)
    eqs = cd.cell_equations("lstm", v)
    assert len(eqs) == 6
    assert f"{v['f']:.3f}" in eqs[0] and f"{v['c']:.3f}" in eqs[3] and f"{v['h']:.3f}" in eqs[5]


def test_lstm_substeps_reveal_one_part_at_a_time(lstm_tr):
    v = cd.unit_values(lstm_tr, 0, 0, 4)
    seen = []
    for sub in cd.LSTM_SUBSTEPS:
        fig = cd.cell_diagram("lstm", v, substep=sub)
        parts = next(t for t in fig.data if t.name == "parts")
        seen.append(sum("not yet" not in text for text in parts.text))
        assert len(cd.cell_equations("lstm", v, substep=sub)) == cd.LSTM_SUBSTEPS.index(sub) + 1
    assert seen == sorted(seen) and seen[0] < seen[-1] == len(parts.text)
    with pytest.raises(ValueError, match="sub-step"):
        cd.cell_diagram("gru", v, substep="forget")


def test_gru_and_rnn_diagrams(tr):
    v = cd.unit_values(tr, 0, 2, 6)
    h = float(tr.hidden[6, 0, 2])
    if tr.cell_type == "gru":  # PyTorch: h = (1 - z) n + z h_prev
        assert v["write"] + v["keep"] == pytest.approx(h, abs=1e-5)
        fig = cd.cell_diagram("gru", v)
        assert any("z ≈ 1 keeps the old state" in a.text for a in fig.layout.annotations)
    elif tr.cell_type == "rnn":
        assert math.tanh(v["pre"]) == pytest.approx(h, abs=1e-5)
        fig = cd.cell_diagram("rnn", v)
    else:
        fig = cd.cell_diagram("lstm", v)
    assert _hover(fig)["h_t" if tr.cell_type != "rnn" else "h_t = tanh(·)"] == pytest.approx(
        h, abs=1e-6
    )
    json.loads(pio.to_json(fig))  # serialisable as sent to the browser
    with pytest.raises(ValueError, match="unit"):
        cd.unit_values(tr, 0, 12, 6)


def test_csv_has_one_row_per_step_layer_unit_quantity(tr):
    df = vs.trace_frame(tr)
    T, L, H = tr.hidden.shape
    n_q = 1 + (tr.cell is not None) + len(tr.gates)
    assert len(df) == T * L * H * n_q
    assert list(df.columns) == ["step", "token", "next_token", "layer", "unit", "quantity", "value"]
    back = pd.read_csv(io.StringIO(df.to_csv(index=False)), keep_default_na=False)
    row = back[
        (back.step == 7) & (back.layer == 1) & (back.unit == 3) & (back.quantity == "hidden")
    ]
    assert len(row) == 1
    assert float(row.value.iloc[0]) == pytest.approx(float(tr.hidden[7, 1, 3]), rel=1e-6)
    assert row.token.iloc[0] == tr.tokens[7] and row.next_token.iloc[0] == tr.tokens[8]
    for name, g in tr.gates.items():
        sub = df[(df.quantity == name) & (df.layer == 0)].sort_values(["step", "unit"])
        assert np.allclose(sub.value.to_numpy().reshape(T, H), g[:, 0])
