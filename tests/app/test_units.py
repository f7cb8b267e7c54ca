"""The Units page in AppTest: every control driven by key, with no exception.

A random-weight two-layer LSTM and a GRU are put into the session (as the Train page
would) so the layer picker and the GRU branch run whatever shipped models exist.
"""

from __future__ import annotations

import json

import pytest
import torch

from autoreg.seq.intervene import run_with_intervention
from autoreg.seq.model import SequenceConfig, SequenceModel, checkpoint_card
from autoreg.seq.tokenizers import CharTokenizer
from autoreg.seq.trace import trace
from autoreg.seq.units import kl_bits, probe_text
from autoreg.ui.models import SessionModel, model_label
from autoreg.ui.sequences import PRESETS
from tests.app.presenter import assert_link_holds, folded, open_presenting

PAGE = "pages/units.py"


def session_models() -> dict[str, SessionModel]:
    tok = CharTokenizer.fit(
        "".join(PRESETS.values()) + probe_text("documentation") + probe_text("code")
    )
    out = {}
    for k, (cell, layers) in enumerate((("lstm", 2), ("gru", 1))):
        torch.manual_seed(k)
        model = SequenceModel(SequenceConfig(cell, tok.vocab_size, 8, 16, layers), tok).eval()
        card = checkpoint_card(model, corpus={"name": "test"})
        out[f"session:{cell}-test"] = SessionModel(model, card)
    return out


@pytest.fixture
def units_page(open_page):
    def _open(state=None, **query):
        return open_page(
            PAGE, state={"train_session_models": session_models(), **(state or {})}, **query
        )

    return _open


def ok(at) -> None:
    assert not at.exception, [e.message for e in at.exception]


def coloured_titles(at) -> list[str]:
    body = at.get("html")[0].proto.body
    return [t for t in body.split('title="')[1:]]


def test_every_control_runs(units_page):
    at = units_page()
    ok(at)
    assert at.title[0].value.startswith("Units")
    at.selectbox(key="units_model").set_value("session:lstm-test").run()
    ok(at)
    at.selectbox(key="units_layer").set_value(1).run()
    ok(at)
    assert len(at.selectbox(key="units_qty").options) == 6  # h, c and four LSTM gates
    for q in ("hidden", "cell", "input", "forget", "candidate", "output"):
        at.selectbox(key="units_qty").set_value(q).run()
        ok(at)
        assert at.selectbox(key="units_qty").value == q
    at.number_input(key="units_unit").set_value(7).run()
    ok(at)
    assert "[7]" in at.header[0].value
    for probe in ("code", "documentation"):
        at.segmented_control(key="units_probe").set_value(probe).run()
        ok(at)
        intro = next(m.value for m in at.markdown if "never trained on" in m.value)
        held_out = "standard-library files" if probe == "code" else "scikit-learn"
        assert held_out in intro
    for src in at.segmented_control(key="units_src").options:
        at.segmented_control(key="units_src").set_value(src).run()
        ok(at)
    at.selectbox(key="units_preset").set_value("Your own text").run()
    at.text_area(key="units_text").set_value("x = ('a', [1, 2])\n").run()
    ok(at)
    at.radio(key="units_target").set_value("cell").run()
    at.slider(key="units_value").set_value(2.5).run()
    at.slider(key="units_from").set_value(3).run()
    at.slider(key="units_at").set_value(10).run()
    ok(at)
    at.selectbox(key="units_qty").set_value("cell").run()
    at.selectbox(key="units_model").set_value("session:gru-test").run()
    ok(at)
    assert at.selectbox(key="units_qty").value in ("hidden", "reset", "update", "candidate")
    assert not [r for r in at.radio if r.key == "units_target"]  # a GRU has no c to clamp


def test_opening_a_found_unit_colours_the_text_by_it(units_page):
    at = units_page()
    at.selectbox(key="units_model").set_value("session:lstm-test").run()
    finder = at.selectbox(key="units_found")
    assert len(finder.options) >= 10  # top candidates for every feature
    finder.set_value(7).run()
    ok(at)
    label = at.selectbox(key="units_found").value
    at.button(key="units_open").click().run()
    ok(at)
    qty, unit = at.session_state["units_qty"], at.session_state["units_unit"]
    short = {"hidden": "h", "cell": "c"}.get(qty, qty)
    assert f"{short}[{unit}]" in at.selectbox(key="units_found").format_func(label)
    assert at.segmented_control(key="units_src").value.startswith("Validation")
    assert all(f"{short}[{unit}] =" in t for t in coloured_titles(at)[:50])


def test_clamp_metrics_are_the_kl_of_the_runs(units_page):
    at = units_page()
    at.selectbox(key="units_model").set_value("session:lstm-test").run()
    at.number_input(key="units_unit").set_value(3).run()
    at.slider(key="units_value").set_value(3.0).run()
    at.slider(key="units_from").set_value(5).run()
    at.slider(key="units_at").set_value(20).run()
    ok(at)
    model = at.session_state["train_session_models"]["session:lstm-test"].model
    text = PRESETS["Python code"]
    clamped = run_with_intervention(model, text, layer=0, unit=3, start=5, value=3.0)
    kl = kl_bits(trace(model, text).probs, clamped)
    assert at.metric[0].value == f"{kl[20]:.3f} bits"
    assert at.metric[1].value == f"{kl[5:].mean():.3f} bits"
    assert kl[5:].mean() > 1e-3 and kl[:5].max() < 1e-6


def test_bad_url_values_fall_back_with_a_notice(units_page):
    at = units_page(units_unit="99999", units_qty="nonsense")
    ok(at)
    notes = " ".join(w.value for w in at.warning)
    assert "units_unit" in notes and "units_qty" in notes


def test_presenter_mode_folds_secondary_controls(units_page):
    at = units_page(state={"presenter": True})
    ok(at)
    assert folded(at, "units_from") and folded(at, "units_at")
    assert not folded(at, "units_model") and not folded(at, "units_unit")


LINK = {"units_layer": "1", "units_from": "3", "units_at": "10"}


def _uses_link(at) -> None:
    assert any("layer 1" in m.value for m in at.markdown)  # section 2 ranks layer 1
    title = json.loads(at.get("plotly_chart")[-2].proto.spec)["layout"]["title"]["text"]
    assert title.startswith("After step 10 ")
    model = at.session_state["train_session_models"]["session:lstm-test"].model
    unit = at.session_state["units_unit"]  # h[unit] of layer 1 switched off from step 3
    clamped = run_with_intervention(model, PRESETS["Python code"], layer=1, unit=unit, start=3)
    kl = kl_bits(trace(model, PRESETS["Python code"]).probs, clamped)
    assert at.metric[1].value == f"{kl[3:].mean():.3f} bits"


def test_a_presenter_link_uses_its_layer_and_steps(units_page, open_page):
    at = open_presenting(open_page, PAGE, state={"train_session_models": session_models()},
                         units_model=model_label("session:lstm-test"), **LINK)  # fmt: skip
    _uses_link(at)
    assert_link_holds(at, LINK)


def test_a_one_character_text_has_no_steps_to_choose(units_page):
    at = units_page()
    at.selectbox(key="units_preset").set_value("Your own text").run()
    at.text_area(key="units_text").set_value("x").run()  # one step: no 0..0 slider
    ok(at)
    assert not [s for s in at.slider if s.key in ("units_from", "units_at")]
    at.text_area(key="units_text").set_value("x = (1, 2)").run()  # the sliders come back
    ok(at)
    assert at.slider(key="units_at").max == len("x = (1, 2)") - 1
