"""What Step through computes besides the trace (unit orders, the embedding PCA, the CSV).

The per-step views themselves are drawn in the browser from the player's payload
(tests/unit/seq/test_payload.py, tests/browser/test_step.py). A tiny two-layer model of
each cell with random weights is enough here.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import torch

from autoreg.seq.model import SequenceConfig, SequenceModel
from autoreg.seq.tokenizers import CharTokenizer
from autoreg.seq.trace import trace
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
