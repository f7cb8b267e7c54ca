"""The Memory page's payload: batched gradient norms are the single-target ones, exactly laid out.

A window of targets is one batched backward pass; each row must be the norm vector that
``memory.gradient_influence`` computes for its target alone (bit for bit with a batch of
one, to float32 rounding in a larger batch), zero past the target, and what the browser
prints (``relative``) must be ``memory.relative_influence`` of it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autoreg.seq import influence_payload as ip
from autoreg.seq import memory
from autoreg.seq import payload as pl
from autoreg.seq.model import SequenceConfig, SequenceModel
from autoreg.seq.tokenizers import CharTokenizer

TEXT = "def f(x):\n    return (x + 1) * 'ab'\n"
TOK = CharTokenizer.fit(TEXT)


def _model(cell: str) -> SequenceModel:
    torch.manual_seed({"rnn": 0, "lstm": 1, "gru": 2}[cell])
    return SequenceModel(SequenceConfig(cell, TOK.vocab_size, 6, 12, 1), TOK).eval()


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_each_row_is_the_single_target_gradient(cell):
    model = _model(cell)
    ids = model.encode(TEXT)
    targets = list(range(len(ids)))
    norms = ip.gradient_norms(model, ids, targets)
    assert norms.shape == (len(ids), len(ids) - 1) and norms.dtype == np.float32
    assert not norms[0].any(), "target 0 has no input before it"
    for T in (1, 2, 7, len(ids) - 1):
        want = memory.gradient_influence(model, ids, T)
        np.testing.assert_allclose(norms[T, :T], want, rtol=1e-4, atol=1e-12)
        assert not norms[T, T:].any(), "a causal cell: no later input moves the prediction"
        alone = ip.gradient_norms(model, ids, [T])[0]
        np.testing.assert_array_equal(alone, want.astype(np.float32))  # a batch of one
        np.testing.assert_array_equal(ip.relative(alone, T), memory.relative_influence(want))


def test_windows_cover_every_target_once_and_shrink_for_long_texts():
    for n in (2, 37, 202, 1000, 5000):
        W = ip.window_size(n)
        covered = [t for k in range(ip.windows(n)) for t in ip.window_targets(k, n)]
        assert covered == list(range(n))
        assert all(ip.window_of(t, n) == t // W for t in (0, n - 1))
        assert W * n <= max(ip.WORK, n)  # one pass stays bounded
    assert ip.window_size(202) == ip.MAX_WINDOW and ip.window_size(5000) == 3
    with pytest.raises(ValueError, match="Window"):
        ip.window_targets(ip.windows(202), 202)
    with pytest.raises(ValueError, match="Targets"):
        ip.gradient_norms(_model("rnn"), [1, 2, 3], [3])


def test_payload_round_trips_small_with_float32_values():
    models = {c: _model(c) for c in ("rnn", "lstm", "gru")}
    names = {c: f"tiny-{c}" for c in models}
    ids = models["lstm"].encode(TEXT)
    n = len(ids)
    parts = {}
    for k in range(ip.windows(n)):
        for c, m in models.items():
            parts.update(ip.window_arrays(m, c, ids, k))
    blob = ip.influence_payload(names, TEXT, list(TEXT), parts)
    meta, arrays = pl.unpack(blob)
    assert meta["view"] == "memory" and meta["n_steps"] == n and meta["cells"] == list(models)
    assert meta["quoted"][10] == repr(pl.token_label(TEXT[10])) and meta["floor"] == ip.FLOOR
    header, raw = pl.raw_arrays(blob)
    assert all(raw[k].dtype == np.float32 and "scale" not in s for k, s in header["arrays"].items())
    np.testing.assert_array_equal(
        arrays["w0:lstm"][5], ip.gradient_norms(models["lstm"], ids, range(n))[5]
    )
    later = ip.window_payload(list(names.values()), TEXT, {"w0:rnn": parts["w0:rnn"]})
    assert pl.unpack(later)[0]["id"] == meta["id"]  # the browser merges it
    assert len(blob) < 20_000
    # a 2,000-character text: one window is what a step needs, not the whole triangle
    one = ip.window_arrays(models["lstm"], "lstm", list(range(1, 9)) * 250, 0)
    assert sum(a.nbytes for a in one.values()) < 100_000
    with pytest.raises(ValueError, match="two characters"):
        ip.influence_payload(names, "a", ["a"], {})
