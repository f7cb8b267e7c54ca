"""The cell diagram prints each gate's own pre-activation, also where the gate saturates.

Float32 σ rounds to exactly 1 from a pre-activation of about 17 on (tanh from about 9),
so no inversion of the stored gates can give the number inside σ there; the diagram
must read it from ``Trace.preactivations``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from autoreg.seq.model import SequenceConfig, SequenceModel
from autoreg.seq.tokenizers import CharTokenizer
from autoreg.seq.trace import Trace, trace
from autoreg.viz import cell_diagram as cd

TOK = CharTokenizer.fit("abcdefgh ()\n")
TEXT = "abc (def) gh\nabba cafe" * 3
SHORT = {"forget": "f", "input": "i", "output": "o", "reset": "r", "update": "z"}


def _saturated(cell: str) -> Trace:
    """A tiny model with weights large enough that gates saturate in float32."""
    torch.manual_seed(3)
    model = SequenceModel(SequenceConfig(cell, TOK.vocab_size, 5, 8, 2), TOK).eval()
    with torch.no_grad():
        for p in model.rnn.parameters():
            p.mul_(12.0)
    return trace(model, TEXT)


def _inverted(name: str, g: float) -> float:
    """What the diagram printed before: σ⁻¹ or tanh⁻¹ of the gate, clamped at 1e-7."""
    if name == "candidate":
        return math.atanh(max(-1 + 1e-7, min(1 - 1e-7, g)))
    g = min(1 - 1e-7, max(1e-7, g))
    return math.log(g / (1 - g))


def _most_saturated(tr: Trace, name: str) -> tuple[int, int, int]:
    """(step, layer, unit) of a gate's largest pre-activation (largest |pre| for tanh).

    Float32 σ loses its pre-activation on the way to 1 (spacing 6e-8 there), not on the
    way to 0, where it keeps full relative precision down to 1e-38.
    """
    pre = tr.preactivations[name]
    pre = np.abs(pre) if name == "candidate" else pre
    return tuple(int(i) for i in np.unravel_index(np.argmax(pre), pre.shape))


@pytest.mark.parametrize(
    "cell, name",
    [
        *[("lstm", n) for n in ("input", "forget", "candidate", "output")],
        *[("gru", n) for n in ("reset", "update", "candidate")],
    ],
)
def test_equations_print_the_pre_activation_of_a_saturated_gate(cell: str, name: str) -> None:
    tr = _saturated(cell)
    t, layer, unit = _most_saturated(tr, name)
    pre = float(tr.preactivations[name][t, layer, unit])
    gate = float(tr.gates[name][t, layer, unit])
    # the gate is saturated: inverting it gives another number, at the printed precision
    assert f"{_inverted(name, gate):.3f}" != f"{pre:.3f}"
    key = SHORT.get(name, "g" if cell == "lstm" else "n")
    v = cd.unit_values(tr, layer, unit, t)
    assert v[f"{key}_pre"] == pre
    line = next(e for e in cd.cell_equations(cell, v) if e.startswith(f"{key}_t"))
    fn = r"\tanh" if name == "candidate" else r"\sigma"
    assert f"= {fn}({pre:.3f}) = {gate:.3f}" in line
    parts = next(d for d in cd.cell_diagram(cell, v).data if d.name == "parts")
    assert any(text.endswith(f"({pre:.6f})") for text in parts.text)  # the hover, too


def test_every_gate_line_carries_its_own_pre_activation() -> None:
    tr = _saturated("lstm")
    v = cd.unit_values(tr, 1, 3, 17)
    eqs = cd.cell_equations("lstm", v)
    for line, name in zip(
        [eqs[i] for i in (0, 1, 2, 4)], ("forget", "input", "candidate", "output"), strict=True
    ):
        assert f"({tr.preactivations[name][17, 1, 3]:.3f})" in line


def test_a_trace_without_pre_activations_is_refused() -> None:
    tr = dataclasses.replace(_saturated("gru"), preactivations={})
    with pytest.raises(ValueError, match="pre-activations"):
        cd.unit_values(tr, 0, 0, 0)


@pytest.mark.parametrize("h", [0.0, 0.25, -0.5, 0.9, -0.99])
def test_rnn_pre_is_printed_where_h_fixes_it(h: float) -> None:
    h = float(np.float32(h))
    text = cd.rnn_pre_text(h)
    assert math.tanh(float(text)) == pytest.approx(h, abs=1e-3)
    assert text == f"{math.atanh(h):.3f}"


@pytest.mark.parametrize("h", [1.0, -1.0, 0.99999994, 0.9999])
def test_rnn_pre_near_saturation_is_a_bound_that_holds(h: float) -> None:
    """Where float32 h no longer fixes pre to the digits shown, a bound is printed, and
    every pre-activation whose float32 tanh is this h lies beyond it."""
    h = float(np.float32(h))
    text = cd.rnn_pre_text(h)
    assert text.startswith("≥ " if h > 0 else "≤ −")
    bound = float(text.split()[-1].replace("−", ""))
    candidates = np.linspace(0, 40, 400_001)
    hits = candidates[np.tanh(candidates.astype(np.float32)) == np.float32(abs(h))]
    assert hits.size and hits.min() >= bound
