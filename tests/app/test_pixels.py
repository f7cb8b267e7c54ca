"""Generate pixels under AppTest: every control, a drawing injected through session state."""

from __future__ import annotations

import base64
import json
import time

import numpy as np
import pytest
import streamlit as st

from autoreg.ui import pixels as ui

PAGE = "pages/pixels.py"
MODEL = "pixelcnn-digits8"  # 8x8: a whole generation takes well under a second


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """Record each autoplay wait (seconds asked, position on screen) instead of sleeping.

    Each wait first lets the generation finish (``finish``), so positions do not depend
    on the thread's speed. ``pause_after = n`` presses Pause during the n-th wait, as a
    click landing while the fragment waits would; after ``limit`` waits the self-clock
    ends, as if the browser had gone.
    """

    class Clock:
        def __init__(self) -> None:
            self.waits: list[tuple[float, int]] = []
            self.pause_after: int | None = None
            self.finish, self.limit = True, 200

    clock = Clock()

    def wait(seconds: float) -> bool:
        clock.waits.append((seconds, st.session_state[ui.POS]))
        if clock.finish:
            st.session_state[ui.RUN_KEY].wait(60)
        if clock.pause_after is not None and len(clock.waits) >= clock.pause_after:
            st.session_state[ui.PLAYING] = False
        return len(clock.waits) < clock.limit

    monkeypatch.setattr(ui, "_wait", wait)
    return clock


def _finish(at) -> None:
    at.session_state["pixels_run"].wait(60)
    at.run()


def _scrub(at):
    return next(s for s in at.slider if s.label == "Pixels drawn")


def _charts(at) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def _array(value) -> np.ndarray:
    """A plotly JSON array: a list, or plotly 7's base64 typed array."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return np.asarray(value, dtype=float)


@pytest.fixture
def page(open_page):
    at = open_page(PAGE, pixels_model=MODEL)
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_blank_start_play_pause_resume_step_end_resample(page, clock):
    at = page
    at.slider(key="pixels_n").set_value(3).run()
    at.slider(key="pixels_temp").set_value(0.7).run()
    at.number_input(key="pixels_seed").set_value(4).run()
    clock.pause_after = 3
    # Generate plays: each step is a fragment rerun the fragment queued itself after its
    # wait (AppTest runs them all inside this run()); speed 4 = 4 pixels per step.
    at.button(key="pixels_go").click().run()
    run = at.session_state["pixels_run"]
    assert (run.n, run.temperature, run.seed, run.total) == (3, 0.7, 4, 64)
    assert [pos for _, pos in clock.waits] == [0, 4, 8]
    assert all(seconds <= ui.INTERVAL for seconds, _ in clock.waits)
    assert at.session_state["pixels_pos"] == 8 and at.session_state["pixels_playing"] is False
    assert at.button(key="pixels_play").label == "Play"
    at.run()
    assert at.session_state["pixels_pos"] == 8 and len(clock.waits) == 3, "paused: no clock"
    clock.pause_after = 5
    at.button(key="pixels_play").click().run()  # resume from where it paused
    assert [pos for _, pos in clock.waits[3:]] == [8, 12]
    paused = at.session_state["pixels_pos"]
    assert paused == 12 and at.session_state["pixels_playing"] is False
    at.run()
    assert at.session_state["pixels_pos"] == paused
    at.button(key="pixels_next").click().run()
    assert at.session_state["pixels_pos"] == paused + 1
    at.select_slider(key="pixels_speed").set_value(16).run()
    _scrub(at).set_value(20).run()
    assert at.session_state["pixels_pos"] == 20
    at.number_input(key="pixels_focus").set_value(2).run()
    at.session_state["pixels_pick"] = {
        "selection": {"points": [{"x": 5, "y": 3}], "point_indices": [0], "box": [], "lasso": []}
    }
    at.run()
    assert at.session_state["pixels_pos"] == run.step_of(3, 5) == 30
    bars = next(c for c in _charts(at) if c["data"][0]["type"] == "bar")
    assert abs(_array(bars["data"][0]["y"]).sum() - 1) < 1e-5
    at.button(key="pixels_end").click().run()
    assert at.session_state["pixels_pos"] == 64
    labels = [b.label for b in at.get("download_button")]
    assert any("PNG" in x for x in labels) and any("GIF" in x for x in labels)
    _scrub(at).set_value(40).run()
    assert at.session_state["pixels_pos"] == 40
    clock.pause_after = None
    at.button(key="pixels_resample").click().run()  # plays the new run to its end
    new = at.session_state["pixels_run"]
    assert new is not run and new.total == 24 and new.seed == 5
    assert at.session_state["pixels_pos"] == 24 and at.session_state["pixels_playing"] is False
    assert not at.exception, [e.message for e in at.exception]


def test_erased_test_image_and_box(page):
    at = page
    at.radio(key="pixels_start").set_value("test image, part erased").run()
    at.slider(key="pixels_image").set_value(7).run()
    for region in ("right half", "bottom half", "box"):
        at.radio(key="pixels_region").set_value(region).run()
    at.slider(key="pixels_rows").set_value((2, 5)).run()
    at.slider(key="pixels_cols").set_value((1, 3)).run()
    at.button(key="pixels_go").click().run()
    run = at.session_state["pixels_run"]
    assert run.total == 4 * 3
    _finish(at)
    assert at.button(key="pixels_stop").disabled, "nothing left to stop"
    assert not at.exception, [e.message for e in at.exception]


def test_stop_a_long_generation(open_page, clock, monkeypatch):
    from autoreg.pixelcnn import generation

    real = generation.sample_pixels

    def slow(*args, **kwargs):  # the exact sampler draws 784 pixels in well under a second
        for step in real(*args, **kwargs):
            time.sleep(0.005)
            yield step

    monkeypatch.setattr(generation, "sample_pixels", slow)
    clock.finish, clock.limit = False, 2
    at = open_page(PAGE, pixels_model="pixelcnn-mnist28-binary", pixels_n="16")
    at.button(key="pixels_go").click().run()
    clock.waits.clear()
    at.button(key="pixels_stop").click().run()
    run = at.session_state["pixels_run"]
    run.wait(30)
    assert run.stopped and run.computed < run.total
    at.run()
    assert any("(stopped)" in p.proto.text for p in at.get("progress"))
    assert any("GIF" in b.label for b in at.get("download_button"))
    assert not at.exception, [e.message for e in at.exception]


def test_drawn_image_is_completed(page):
    at = page
    at.radio(key="pixels_start").set_value("your drawing").run()
    assert any("canvas is empty" in i.value for i in at.info)
    drawing = [0.0] * 64
    for r in range(4):
        drawing[r * 8 + 4] = 1.0  # a vertical stroke in rows 0..3
    at.session_state["pixels_canvas"] = {"pixels": drawing}
    at.run()
    assert not any("canvas is empty" in i.value for i in at.info)
    at.button(key="pixels_go").click().run()
    run = at.session_state["pixels_run"]
    assert run.total == 64 - 32 and run.image0[0, 2, 4] == 3
    _finish(at)
    at.radio(key="pixels_keep").set_value("ink").run()
    at.button(key="pixels_go").click().run()
    assert at.session_state["pixels_run"].total == 60
    _finish(at)
    assert not at.exception, [e.message for e in at.exception]


def test_every_pixel_model_opens(open_page):
    from autoreg.pretrained import list_pretrained

    for name in list_pretrained("pixelcnn"):
        at = open_page(PAGE, pixels_model=name)
        assert not at.exception, (name, [e.message for e in at.exception])
        assert at.selectbox(key="pixels_model").value == name
