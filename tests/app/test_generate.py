"""The Generate page in AppTest: every control driven by key, numbers checked, no exception."""

from __future__ import annotations

import base64
import html
import json
import re

import numpy as np
import pytest

from autoreg.seq.sampling import generate_text

PAGE = "pages/generate.py"


def ok(at) -> None:
    assert not at.exception, [e.message for e in at.exception]


def texts(at) -> list[str]:
    """The generated-text boxes (main one first, then one per sample), HTML tags stripped."""
    return [html.unescape(re.sub(r"<[^>]+>", "", h.proto.body)) for h in at.get("html")]


def array(value) -> np.ndarray:
    """A plotly array from the chart spec (plotly 7 sends typed arrays as base64)."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return np.asarray(value, dtype=float)


def pipeline(at) -> dict:
    return next(
        json.loads(el.proto.spec)
        for el in at.get("plotly_chart")
        if "z ÷ T" in json.dumps(json.loads(el.proto.spec)["layout"], ensure_ascii=False)
    )


@pytest.fixture
def gen_page(open_page):
    def _open(state=None, **query):
        return open_page(PAGE, state=state, **query)

    return _open


def test_every_control_runs(gen_page):
    at = gen_page()
    ok(at)
    assert at.title[0].value == "Generate text"
    for name in at.selectbox(key="gen_model").options:
        at.selectbox(key="gen_model").set_value(name).run()
        ok(at)
    at.selectbox(key="gen_model").set_value(at.selectbox(key="gen_model").options[0]).run()
    at.text_input(key="gen_prompt").set_value("for i in ").run()
    for t in (0.0, 0.05, 2.0, 0.8):
        at.slider(key="gen_temp").set_value(t).run()
        ok(at)
    at.number_input(key="gen_seed").set_value(42).run()
    at.number_input(key="gen_topk").set_value(5).run()
    at.slider(key="gen_len").set_value(50).run()
    ok(at)
    at.segmented_control(key="gen_mode").set_value("One token at a time").run()
    for _ in range(3):
        at.button(key="gen_next").click().run()
    at.button(key="gen_back").click().run()
    ok(at)
    assert at.slider(key="gen_step").value == 2
    at.slider(key="gen_step").set_value(49).run()
    at.button(key="gen_next").click().run()  # stops at the last token
    assert at.slider(key="gen_step").value == 49
    at.slider(key="gen_n").set_value(6).run()
    ok(at)
    assert len(at.get("html")) == 1 + 6


def test_text_and_pipeline_are_the_models_numbers(gen_page):
    at = gen_page(gen_seed="5", gen_temp="0.7", gen_len="30", gen_prompt="def ")
    ok(at)
    name = at.selectbox(key="gen_model").value
    from autoreg.pretrained import load_pretrained

    want = generate_text(load_pretrained(name), "def ", 30, temperature=0.7, seed=5)
    assert texts(at)[0].replace("⏎", "") == want
    spec = pipeline(at)
    probs = array(spec["data"][3]["y"])
    assert probs.max() <= 1.0 and np.all(probs >= 0)
    metric = at.metric[0]
    drawn_p = float(metric.delta.split("= ")[1])
    colours = spec["data"][3]["marker"]["color"]
    assert drawn_p == pytest.approx(probs[colours.index("#f08c00")], abs=1e-3)


def test_seed_replays_and_zero_temperature_is_greedy(gen_page):
    a = gen_page(gen_seed="9", gen_len="40")
    b = gen_page(gen_seed="9", gen_len="40")
    c = gen_page(gen_seed="10", gen_len="40")
    assert texts(a)[0] == texts(b)[0] != texts(c)[0]
    greedy = gen_page(gen_temp="0", gen_len="40")
    ok(greedy)
    assert len(set(texts(greedy)[1:])) == 1  # every seed gives the argmax text


def test_bad_url_values_fall_back_with_a_notice(gen_page):
    at = gen_page(gen_temp="7", gen_model="no-such-model", gen_step="99999")
    ok(at)
    notes = " ".join(w.value for w in at.warning)
    assert "gen_temp" in notes and "gen_model" in notes


def test_presenter_mode_hides_secondary_controls(gen_page):
    at = gen_page(state={"presenter": True})
    ok(at)
    keys = {w.key for w in at.slider} | {w.key for w in at.number_input}
    assert {"gen_temp", "gen_seed", "gen_step"} <= keys
    assert not keys & {"gen_topk", "gen_len", "gen_n"}
