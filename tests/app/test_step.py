"""Step through in AppTest: every control, the URL state, autoplay, presenter mode.

The page is driven with this session's own tiny models (an RNN, a two-layer LSTM and a
GRU on the same characters), so the tests do not depend on which shipped models exist;
the shipped ones are opened by the browser tests and the every-page smoke test.
"""

from __future__ import annotations

import json

import pytest
import streamlit as st
import torch

from autoreg.seq.model import SequenceConfig, SequenceModel, checkpoint_card
from autoreg.seq.tokenizers import CharTokenizer
from autoreg.ui import stepper
from autoreg.ui.models import SESSION_MODELS, SessionModel
from autoreg.ui.sequences import PRESETS

PAGE = "pages/step.py"
TOK = CharTokenizer.fit("".join(PRESETS.values()))
N_STEPS = len(PRESETS["Python code"])
# A select box keeps its *shown* label in the URL; session models show as "<label> (yours...)".
LABEL = {cell: f"tiny-{cell} (yours, this session)" for cell in ("rnn", "lstm", "gru")}


def _session_models() -> dict[str, SessionModel]:
    out = {}
    for seed, (cell, layers) in enumerate((("rnn", 1), ("lstm", 2), ("gru", 1))):
        torch.manual_seed(seed)
        model = SequenceModel(SequenceConfig(cell, TOK.vocab_size, 8, 16, layers), TOK).eval()
        model.requires_grad_(False)
        card = checkpoint_card(model, corpus={"name": "python-docs"})
        out[f"session:tiny-{cell}"] = SessionModel(model=model, card=card)
    return out


@pytest.fixture
def open_step(open_page):
    def _open(state: dict | None = None, **query: str):
        query.setdefault("step_model", LABEL["lstm"])
        return open_page(PAGE, state={SESSION_MODELS: _session_models(), **(state or {})}, **query)

    return _open


def _ok(at) -> None:
    assert not at.exception, [e.message for e in at.exception]


def _step(at) -> int:
    return at.slider(key="step_step").value


def _chart(at, key: str) -> dict:
    for el in at.get("plotly_chart"):
        spec = json.loads(el.proto.spec)
        if el.proto.id and key in el.proto.id:
            return spec
    raise AssertionError(f"no chart {key}")


def test_every_control_runs_without_exception(open_step):
    at = open_step(step_step="10")
    _ok(at)
    assert _step(at) == 10
    at.button(key="step_next").click().run()
    _ok(at)
    assert _step(at) == 11
    at.button(key="step_prev").click().run()
    at.button(key="step_prev").click().run()
    assert _step(at) == 9
    at.slider(key="step_step").set_value(40).run()
    _ok(at)
    assert _step(at) == 40
    at.number_input(key="step_unit").set_value(5).run()
    at.segmented_control(key="step_view").set_value("forget").run()
    _ok(at)
    at.segmented_control(key="step_sub").set_value("cell").run()
    _ok(at)
    block = at.latex[-1].value  # the cell's equations, one KaTeX block
    assert r"\begin{gathered}" in block and block.count(r"\\[6pt]") == 3  # f, i, g, c
    at.selectbox(key="step_layer").set_value(2).run()
    _ok(at)
    assert "layer" not in " ".join(w.value for w in at.warning)
    at.selectbox(key="step_order").set_value("clustered").run()
    _ok(at)
    at.select_slider(key="step_speed").set_value(4).run()
    at.toggle(key="step_compare").set_value(True).run()
    _ok(at)
    assert any("Compare" in s.value for s in at.subheader)
    for name in ("session:tiny-gru", "session:tiny-rnn"):
        at.selectbox(key="step_model").set_value(name).run()
        _ok(at)
        assert _step(at) == 40, "switching the model keeps the cursor"
    assert any("GRU" in s.value for s in at.subheader) is False  # now the RNN
    assert at.download_button(key="step_csv").proto.label == "CSV"


def test_typed_text_flags_unknown_characters_without_failing(open_step):
    at = open_step()
    at.selectbox(key="step_input_preset").set_value("Your own text").run()
    at.text_area(key="step_input_text").input("naïve café ✓ (x)").run()
    _ok(at)
    assert any("never saw" in w.value and "'✓'" in w.value for w in at.warning)
    assert at.slider(key="step_step").max == len("naïve café ✓ (x)") - 1


@pytest.fixture
def clock(monkeypatch):
    """Record each autoplay wait (seconds asked, step on screen) instead of sleeping.

    ``clock.pause_after = n`` presses Pause during the n-th wait, as a click that lands
    while the fragment waits for its next step would (its callback runs first).
    """

    class Clock:
        def __init__(self) -> None:
            self.waits: list[tuple[float, int]] = []
            self.pause_after: int | None = None

    clock = Clock()

    def wait(seconds: float) -> None:
        clock.waits.append((seconds, st.session_state[stepper.STEP]))
        if clock.pause_after is not None and len(clock.waits) >= clock.pause_after:
            st.session_state[stepper.PLAYING] = False

    monkeypatch.setattr(stepper, "_wait", wait)
    return clock


def test_play_advances_one_step_per_own_rerun_and_stops_at_the_end(open_step, clock):
    at = open_step(step_step=str(N_STEPS - 4))
    # One click plays to the end: each step is a fragment rerun that the fragment queued
    # itself after its wait (AppTest runs them all inside this run()).
    at.button(key="step_play").click().run()
    _ok(at)
    assert [step for _, step in clock.waits] == [N_STEPS - 4, N_STEPS - 3, N_STEPS - 2]
    assert all(seconds <= 0.5 for seconds, _ in clock.waits)  # speed 2: the rest of 0.5 s
    assert _step(at) == N_STEPS - 1
    assert at.session_state["step_playing"] is False
    assert at.button(key="step_play").label == "Play"
    clock.waits.clear()
    clock.pause_after = 1
    at.button(key="step_play").click().run()  # play again from the end rewinds
    assert clock.waits == [(clock.waits[0][0], 0)]
    assert _step(at) == 0 and at.session_state["step_playing"] is False


def test_faster_speed_waits_less(open_step, clock):
    at = open_step(step_step="5", step_speed="4")
    clock.pause_after = 3
    at.button(key="step_play").click().run()
    _ok(at)
    assert [step for _, step in clock.waits] == [5, 6, 7]
    assert all(seconds <= 0.25 for seconds, _ in clock.waits)
    assert _step(at) == 7


def test_pause_keeps_the_step(open_step, clock):
    at = open_step(step_step="5")
    clock.pause_after = 2
    at.button(key="step_play").click().run()
    stopped = _step(at)
    assert stopped == 6 and at.session_state["step_playing"] is False
    at.run()
    at.run()
    assert _step(at) == stopped and len(clock.waits) == 2


def test_full_run_or_slider_stops_playback(open_step, clock):
    at = open_step(step_step="5")
    at.session_state["step_playing"] = True  # as if playing when a control outside changes
    at.toggle(key="step_compare").set_value(True).run()
    _ok(at)
    assert at.session_state["step_playing"] is False and _step(at) == 5
    assert not clock.waits, "a full run must not queue the next step"
    at.session_state["step_playing"] = True
    at.slider(key="step_step").set_value(20).run()  # taking the slider pauses
    _ok(at)
    assert at.session_state["step_playing"] is False
    at.run()
    assert _step(at) == 20


def test_shared_url_lands_on_the_same_view(open_step):
    query = {"step_model": LABEL["gru"], "step_step": "17", "step_unit": "3"}
    at = open_step(**query, step_view="update")
    _ok(at)
    assert _step(at) == 17
    assert at.number_input(key="step_unit").value == 3
    assert at.segmented_control(key="step_view").value == "update"
    assert any("GRU cell: unit 3, step 17" in s.value for s in at.subheader)
    assert not at.warning, [w.value for w in at.warning]
    heat = _chart(at, "step_heatmap")
    cursor = next(s for s in heat["layout"]["shapes"] if s.get("name") == "cursor")
    assert cursor["x0"] == 16.5


@pytest.mark.parametrize(
    ("key", "bad"),
    [("step_step", "99999"), ("step_model", "no-such-model"), ("step_unit", "-4"),
     ("step_layer", "7"), ("step_view", "bogus")],
)  # fmt: skip
def test_bad_url_values_fall_back_with_a_notice(open_step, key, bad):
    at = open_step(**{key: bad})
    _ok(at)
    assert any(key in w.value and bad in w.value for w in at.warning), [w.value for w in at.warning]
    assert at.title[0].value == "Step through"


def test_presenter_mode_hides_secondary_controls(open_step):
    at = open_step(state={"presenter": True})
    _ok(at)
    keys = {getattr(w, "key", None) for w in at.select_slider} | {
        getattr(w, "key", None) for w in at.selectbox
    }
    assert "step_speed" not in keys and "step_order" not in keys
    assert not at.download_button
    at.button(key="step_next").click().run()
    assert _step(at) == 1
