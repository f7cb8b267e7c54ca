"""The Memory page in AppTest: every control, driven by key, with no exception.

Random-weight character models are put into the session (as the Train page would), so
the gradient part runs whether or not the shipped char models are installed yet; the
task parts use the shipped recall / aⁿbⁿ models. The predicted position is a player
(tests/browser/test_memory.py drives it): here its payload, its channel and its URL.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from autoreg.seq import influence_payload as ip
from autoreg.seq import memory
from autoreg.seq import payload as pl
from autoreg.seq.model import SequenceConfig, SequenceModel, checkpoint_card
from autoreg.seq.tokenizers import CharTokenizer
from autoreg.ui import memory as ui
from autoreg.ui import player as pp
from autoreg.ui.models import SessionModel, model_label
from autoreg.ui.sequences import PRESETS
from tests.app.presenter import assert_link_holds, folded, open_presenting

PAGE = "pages/memory.py"
SYNC = f"{ui.KEY}_sync"


def mounted(at) -> tuple[dict, dict, dict]:
    """(options, payload meta, payload arrays) of the influence player the page mounted."""
    el = next(e for e in at.get("bidi_component") if e.proto.component_name.endswith("_memory"))
    options, blob = pp.split_mount(el.proto.bytes)
    meta, arrays = pl.unpack(blob)
    return options, meta, arrays


def report(at, seq: int = 0, need=None, **cursor) -> None:
    full = {"speed": 2, **cursor}
    at.session_state[SYNC] = {"report": {"cursor": full, "need": need or {}, "seq": seq}}


def query(at, key: str):
    value = at.query_params.get(key)
    return value[0] if isinstance(value, list) else value


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
    assert ["RNN", "LSTM", "GRU"] in names  # recall accuracy
    assert len(specs) >= 6
    table = at.table[-1].value
    assert (table["recurrent: model"] == table["kH(E+H+2)"]).all()
    assert (table["total: model"] == table["total: formula"]).all()
    assert set(table["× RNN"]) <= {1.0, 3.0, 4.0}
    anchors = [h.proto.anchor for h in at.header]
    assert anchors == ["influence", "tasks", "gates", "activations", "cells"]
    nav = next(m.value for m in at.markdown if m.value.startswith("**On this page:**"))
    assert all(f"(#{a})" in nav for a in anchors), "a link to every section"


def test_the_player_holds_each_cells_gradient_at_the_links_position(memory_page):
    at = memory_page(memory_target="150")
    pick_session_models(at)
    assert not at.exception, [e.message for e in at.exception]
    options, meta, arrays = mounted(at)
    text = PRESETS["Python code"]
    assert meta["view"] == "memory" and meta["n_steps"] == len(text)
    assert meta["cells"] == ["rnn", "lstm", "gru"] and options["cursor"]["step"] == 150
    assert options["strip"] == 60
    W = meta["window"]
    k = 150 // W
    models = at.session_state["train_session_models"]
    for cell in ("rnn", "lstm", "gru"):
        model = models[f"session:{cell}-test"].model
        row = arrays[f"w{k}:{cell}"][150 - k * W]
        want = memory.gradient_influence(model, model.encode(text), 150)
        np.testing.assert_allclose(row[:150], want, rtol=1e-4, atol=1e-12)
        rel = ip.relative(row, 150)  # what the browser prints
        np.testing.assert_allclose(rel, memory.relative_influence(want), rtol=1e-4)


def test_the_channel_answers_with_more_windows_and_keeps_the_url(memory_page):
    at = memory_page()
    pick_session_models(at)
    _, meta, arrays = mounted(at)
    last = meta["windows"] - 1
    assert {int(n.split(":")[0][1:]) for n in arrays} == {last}, "the link's window only"
    report(at, seq=1, need={"windows": [0]}, step=10)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    answer = next(
        e.proto.bytes
        for e in at.get("bidi_component")
        if e.proto.component_name.endswith("channel")
    )
    a_meta, parts = pl.unpack(answer)
    assert a_meta["id"] == meta["id"] and set(parts) == {"w0:rnn", "w0:lstm", "w0:gru"}
    assert query(at, "memory_target") == "10"
    at.run()
    assert mounted(at)[0]["cursor"]["step"] == 10


def test_every_control(memory_page):
    at = memory_page()
    pick_session_models(at)
    at.selectbox(key="memory_preset").set_value("Your own text")
    at.run()
    at.text_area(key="memory_text").input("((a)) and [b] then 'c' again")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    _, meta, _ = mounted(at)
    assert meta["n_steps"] == len("((a)) and [b] then 'c' again")
    at.slider(key="memory_window").set_value(20)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert mounted(at)[0]["strip"] == 20
    at.number_input(key="memory_seed").set_value(7)
    at.select_slider(key="memory_lines_per_lag").set_value(50)
    at.slider(key="memory_lag").set_value(5)
    at.selectbox(key="memory_letter").set_value("h")
    at.radio(key="memory_hist_cell").set_value("gru")
    at.run()
    assert not at.exception, [e.message for e in at.exception]


def test_text_shorter_than_the_target_clamps_it(memory_page):
    at = memory_page()
    pick_session_models(at)
    report(at, step=150)
    at.run()
    at.selectbox(key="memory_preset").set_value("Brackets and quotes")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert mounted(at)[0]["cursor"]["step"] <= len(PRESETS["Brackets and quotes"]) - 1
    assert not any("memory_target" in w.value for w in at.warning)


def test_state_comes_from_the_url_and_bad_values_are_reported(memory_page):
    at = memory_page(memory_lag="33", memory_letter="f", memory_target="99999", memory_seed="7")
    assert not at.exception, [e.message for e in at.exception]
    assert at.slider(key="memory_lag").value == 33
    assert at.selectbox(key="memory_letter").value == "f"
    assert at.number_input(key="memory_seed").value == 7
    assert any("memory_target" in w.value for w in at.warning)


def test_presenter_mode_folds_secondary_controls(memory_page, open_page):
    at = open_page(PAGE, state={"presenter": True, "train_session_models": session_models()})
    assert not at.exception, [e.message for e in at.exception]
    for key in ("memory_window", "memory_model_rnn", "memory_lines_per_lag"):
        assert folded(at, key), key
    assert not folded(at, "memory_lag") and not folded(at, "memory_seed")


def _recall_caption(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("RNN: L="))


def test_a_presenter_link_uses_its_models_strip_and_lines(open_page):
    link = {f"memory_model_{c}": model_label(f"session:{c}-test") for c in ("rnn", "lstm", "gru")}
    link |= {"memory_window": "30", "memory_lines_per_lag": "50"}
    state = {"train_session_models": session_models()}
    at = open_presenting(open_page, PAGE, state=state, **link)
    options, meta, _ = mounted(at)
    assert meta["models"] == [f"session:{c}-test" for c in ("rnn", "lstm", "gru")]
    assert options["strip"] == 30 and options["presenter"] is True
    normal = open_page(PAGE, state=state, **link)
    assert _recall_caption(at) == _recall_caption(normal)  # the same 50 lines per lag
    assert_link_holds(at, link)
