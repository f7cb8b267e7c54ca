"""What Step through computes besides the trace (unit orders, the embedding PCA, the CSV),
and the cell diagram's figure.

The per-step views themselves are drawn in the browser from the player's payload
(tests/unit/seq/test_payload.py, tests/browser/test_step.py). A tiny two-layer model of
each cell with random weights is enough here.
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


def test_embedding_pca():
    model = _model("gru")
    table = model.embed.weight.detach().numpy()
    coords, ratio = vs.pca_2d(table)
    assert coords.shape == (TOK.vocab_size, 2) and 0 < ratio.sum() <= 1 + 1e-9
    assert np.allclose(coords.mean(axis=0), 0, atol=1e-6)


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
