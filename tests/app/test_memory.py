"""The Memory page in AppTest: every control, driven by key, with no exception.

Random-weight character models are put into the session (as the Train page would), so
the gradient part runs whether or not the shipped char models are installed yet; the
task parts use the shipped recall / aⁿbⁿ models.
"""

from __future__ import annotations

import json

import pytest
import torch

from autoreg.seq.model import SequenceConfig, SequenceModel, checkpoint_card
from autoreg.seq.tokenizers import CharTokenizer
from autoreg.ui.models import SessionModel
from autoreg.ui.sequences import PRESETS

PAGE = "pages/memory.py"


def session_models() -> dict[str, SessionModel]:
    tok = CharTokenizer.fit("".join(PRESETS.values()))
    out = {}
    for k, cell in enumerate(("rnn", "lstm", "gru")):
        torch.manual_seed(k)
        model = SequenceModel(SequenceConfig(cell, tok.vocab_size, 8, 16), tok).eval()
        card = checkpoint_card(model, corpus={"name": "test"}, metrics={"val_bits_per_token": 3})
        out[f"session:{cell}-test"] = SessionModel(model, card)
    return out


@pytest.fixture
def memory_page(open_page):
    def _open(**query):
        return open_page(PAGE, state={"train_session_models": session_models()}, **query)

    return _open


def charts(at) -> dict[str, dict]:
    return {
        el.proto.id: json.loads(el.proto.spec) for el in at.get("plotly_chart") if el.proto.spec
    }


def pick_session_models(at) -> None:
    for cell in ("rnn", "lstm", "gru"):
        at.selectbox(key=f"memory_model_{cell}").set_value(f"session:{cell}-test")
    at.run()


def test_page_draws_all_parts(memory_page):
    at = memory_page()
    assert not at.exception, [e.message for e in at.exception]
    pick_session_models(at)
    assert not at.exception, [e.message for e in at.exception]
    specs = list(charts(at).values())
    names = [[t.get("name") for t in s["data"]] for s in specs]
    assert ["RNN", "LSTM", "GRU"] in names  # gradient lines and recall accuracy
    assert len(specs) >= 8
    table = at.table[-1].value
    assert (table["recurrent: model"] == table["kH(E+H+2)"]).all()
    assert (table["total: model"] == table["total: formula"]).all()
    assert set(table["× RNN"]) <= {1.0, 3.0, 4.0}
    assert any("steps back" in m.value for m in at.markdown)


def test_every_control(memory_page):
    at = memory_page()
    pick_session_models(at)
    at.selectbox(key="memory_preset").set_value("Your own text")
    at.run()
    at.text_area(key="memory_text").input("((a)) and [b] then 'c' again")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.slider(key="memory_target").max == len("((a)) and [b] then 'c' again") - 1
    at.slider(key="memory_target").set_value(5)
    at.slider(key="memory_window").set_value(20)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    at.number_input(key="memory_seed").set_value(7)
    at.select_slider(key="memory_lines_per_lag").set_value(50)
    at.slider(key="memory_lag").set_value(5)
    at.selectbox(key="memory_letter").set_value("h")
    at.radio(key="memory_hist_cell").set_value("gru")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("steps back" in m.value for m in at.markdown)


def test_text_shorter_than_the_target_clamps_it(memory_page):
    at = memory_page()
    pick_session_models(at)
    at.slider(key="memory_target").set_value(150)
    at.selectbox(key="memory_preset").set_value("Brackets and quotes")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.slider(key="memory_target").value <= len(PRESETS["Brackets and quotes"]) - 1


def test_state_comes_from_the_url_and_bad_values_are_reported(memory_page):
    at = memory_page(memory_lag="33", memory_letter="f", memory_target="99999")
    assert not at.exception, [e.message for e in at.exception]
    assert at.slider(key="memory_lag").value == 33
    assert at.selectbox(key="memory_letter").value == "f"
    assert any("memory_target" in w.value for w in at.warning)


def test_presenter_mode_hides_secondary_controls(memory_page, open_page):
    at = open_page(PAGE, state={"presenter": True, "train_session_models": session_models()})
    assert not at.exception, [e.message for e in at.exception]
    keys = {w.key for w in at.slider} | {w.key for w in at.selectbox}
    assert "memory_window" not in keys and "memory_model_rnn" not in keys
    assert "memory_lag" in keys
