"""Generate pixels under AppTest: the controls, the generation job, the replay's payload.

The replay runs in the browser (tests/browser/test_pixels.py drives it); here the page
is driven by its widgets, a drawing is injected through session state, and what the page
mounts (the player's options and payload) and what the channel reports are checked.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from autoreg.pixelcnn.replay import run_id
from autoreg.seq import payload as pl
from autoreg.ui import pixels as ui
from autoreg.ui import player as pp

PAGE = "pages/pixels.py"
MODEL = "pixelcnn-digits8"  # 8x8: a whole generation takes well under a second
SYNC = f"{ui.KEY}_sync"


def ok(at) -> None:
    assert not at.exception, [e.message for e in at.exception]


def _finish(at) -> None:
    at.session_state[ui.RUN_KEY].wait(60)
    at.run()


def mounted(at) -> tuple[dict, dict, dict]:
    """(options, payload meta, payload arrays) of the replay the page mounted."""
    el = next(e for e in at.get("bidi_component") if e.proto.component_name.endswith("_pixels"))
    options, blob = pp.split_mount(el.proto.bytes)
    meta, arrays = pl.unpack(blob)
    return options, meta, arrays


def report(at, seq: int = 0, need=None, **cursor) -> None:
    """What the channel sends: a request (``need``) with the browser's cursor."""
    full = {**ui.DEFAULTS, **cursor}
    at.session_state[SYNC] = {"report": {"cursor": full, "need": need or {}, "seq": seq}}


def channel_answer(at) -> tuple[dict, dict]:
    """(meta, arrays) of what the channel fragment last sent the browser."""
    el = next(e for e in at.get("bidi_component") if e.proto.component_name.endswith("_channel"))
    return pl.unpack(el.proto.bytes)


@pytest.fixture
def page(open_page):
    at = open_page(PAGE, pixels_model=MODEL)
    ok(at)
    return at


def test_generate_mounts_a_replay_that_plays_from_the_start(page):
    at = page
    assert any("press **Generate**" in i.value for i in at.info)
    at.slider(key="pixels_n").set_value(3).run()
    at.slider(key="pixels_temp").set_value(0.7).run()
    at.number_input(key="pixels_seed").set_value(4).run()
    at.button(key="pixels_go").click().run()
    run = at.session_state[ui.RUN_KEY]
    assert (run.n, run.temperature, run.seed, run.total) == (3, 0.7, 4, 64)
    ok(at)
    options, meta, arrays = mounted(at)
    assert options["autoplay"] == run_id(run) and options["cursor"]["step"] == 0
    assert meta["view"] == "pixels" and meta["id"] == run_id(run) and meta["n"] == 3
    assert options["speeds"] == list(ui.SPEEDS) and options["speed_unit"] == "pixels/s"
    _finish(at)
    options, meta, arrays = mounted(at)
    # sent with every update: the browser plays each run id once, whichever update it gets
    assert options["autoplay"] == run_id(run)
    assert options["live"] is False and meta["n_steps"] == 65 and meta["done"]
    assert arrays["probs"].shape == (64, 3, 4)
    np.testing.assert_allclose(arrays["probs"].sum(-1), 1, atol=1e-5)
    np.testing.assert_array_equal(arrays["final"], run.images_at(64).numpy())
    assert at.button(key="pixels_stop").disabled, "nothing left to stop"
    labels = [b.label for b in at.get("download_button")]
    assert any("GIF" in x for x in labels)
    assert [f["kind"] for f in options["files"]] == ["png"]  # in the player's bar


def test_the_png_is_made_at_the_cursor_the_browser_sends(page):
    at = page
    at.button(key="pixels_go").click().run()
    _finish(at)
    run = at.session_state[ui.RUN_KEY]
    report(at, seq=7, need={"file": "png"}, step=40)
    at.run()
    ok(at)
    meta, arrays = channel_answer(at)
    assert meta["file"] == "pixelcnn-samples.png" and meta["mime"] == "image/png"
    assert meta["answer"] == 7
    assert arrays["bytes"].tobytes() == run.png(40) != run.png(64)
    at.run()  # answered once: the same request is not answered again
    assert channel_answer(at)[1] == {}


def test_the_url_holds_the_cursor_and_resample_starts_at_it(page):
    at = page
    at.button(key="pixels_go").click().run()
    _finish(at)
    run = at.session_state[ui.RUN_KEY]
    # the browser writes its cursor into the address bar; every rerun sends it
    at.query_params.update(pixels_step="40", pixels_focus="2", pixels_speed="64")
    at.run()  # a later run starts at the URL
    assert mounted(at)[0]["cursor"] == {"step": 40, "focus": 2, "speed": 64}
    at.button(key="pixels_resample").click().run()
    new = at.session_state[ui.RUN_KEY]
    assert new is not run and new.total == 24 and new.seed == run.seed + 1
    options, meta, _ = mounted(at)
    assert options["autoplay"] == run_id(new) and options["cursor"]["step"] == 0
    assert meta["id"] == run_id(new)
    _finish(at)
    assert any("resampled" in w.value for w in at.warning)
    ok(at)


def test_a_link_with_a_pixel_regenerates_the_same_sample(open_page):
    at = open_page(PAGE, pixels_model=MODEL, pixels_step="30", pixels_seed="7", pixels_n="2")
    ok(at)
    run = at.session_state[ui.RUN_KEY]
    assert run.seed == 7 and run.n == 2
    _finish(at)
    options, _meta, arrays = mounted(at)
    assert options["cursor"]["step"] == 30
    other = open_page(PAGE, pixels_model=MODEL, pixels_step="30", pixels_seed="7", pixels_n="2")
    _finish(other)
    np.testing.assert_array_equal(mounted(other)[2]["final"], arrays["final"])  # seeded


def test_changed_settings_say_what_is_shown(page):
    at = page
    at.button(key="pixels_go").click().run()
    _finish(at)
    assert not at.warning
    at.slider(key="pixels_temp").set_value(1.5).run()
    assert any("other settings" in w.value and "T = 1" in w.value for w in at.warning)


@pytest.mark.parametrize(("key", "bad"), [("pixels_focus", "9"), ("pixels_speed", "5")])
def test_bad_cursor_values_in_a_link_fall_back_with_a_notice(open_page, key, bad):
    at = open_page(PAGE, pixels_model=MODEL, pixels_step="3", **{key: bad})
    ok(at)
    assert any(key in w.value and bad in w.value for w in at.warning)  # on the link's run
    _finish(at)
    field = next(f for f, p in ui.URL.items() if p == key)
    assert mounted(at)[0]["cursor"][field] == ui.DEFAULTS[field]


def test_erased_test_image_and_box(page):
    at = page
    at.radio(key="pixels_start").set_value("test image, part erased").run()
    at.slider(key="pixels_image").set_value(7).run()
    for region in ("right half", "bottom half", "box"):
        at.radio(key="pixels_region").set_value(region).run()
    at.slider(key="pixels_rows").set_value((2, 5)).run()
    at.slider(key="pixels_cols").set_value((1, 3)).run()
    at.button(key="pixels_go").click().run()
    run = at.session_state[ui.RUN_KEY]
    assert run.total == 4 * 3
    _finish(at)
    _, meta, arrays = mounted(at)
    assert meta["total"] == 12 and arrays["known"].sum() == 4 * (64 - 12)
    ok(at)


def test_stop_a_long_generation(open_page, monkeypatch):
    from autoreg.pixelcnn import generation

    real = generation.sample_pixels

    def slow(*args, **kwargs):  # the exact sampler draws 784 pixels in well under a second
        for step in real(*args, **kwargs):
            time.sleep(0.005)
            yield step

    monkeypatch.setattr(generation, "sample_pixels", slow)
    at = open_page(PAGE, pixels_model="pixelcnn-mnist28-binary", pixels_n="16")
    at.button(key="pixels_go").click().run()
    options, meta, _ = mounted(at)
    assert options["live"] is True and not meta["done"]  # it plays while it draws
    at.button(key="pixels_stop").click().run()
    run = at.session_state[ui.RUN_KEY]
    run.wait(30)
    assert run.stopped and run.computed < run.total
    at.run()
    assert any("(stopped)" in p.proto.text for p in at.get("progress"))
    assert any("GIF" in b.label for b in at.get("download_button"))
    options, meta, _ = mounted(at)
    assert options["live"] is False and meta["n_steps"] == run.computed + 1
    ok(at)


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
    run = at.session_state[ui.RUN_KEY]
    assert run.total == 64 - 32 and run.image0[0, 2, 4] == 3
    _finish(at)
    at.radio(key="pixels_keep").set_value("ink").run()
    at.button(key="pixels_go").click().run()
    assert at.session_state[ui.RUN_KEY].total == 60
    _finish(at)
    ok(at)


def test_every_pixel_model_opens(open_page):
    from autoreg.pretrained import list_pretrained

    for name in list_pretrained("pixelcnn"):
        at = open_page(PAGE, pixels_model=name)
        ok(at)
        assert at.selectbox(key="pixels_model").value == name


def test_presenter_mode_folds_the_intro(open_page):
    at = open_page(PAGE, state={"presenter": True}, pixels_model=MODEL)
    ok(at)
    assert at.expander[0].label == "What this page shows"
    at.button(key="pixels_go").click().run()
    _finish(at)
    assert mounted(at)[0]["presenter"] is True


def test_the_erase_box_lives_in_the_url(open_page):
    box = {"pixels_start": "test image, part erased", "pixels_region": "box"}
    at = open_page(PAGE, pixels_model=MODEL, pixels_rows=["2", "5"], pixels_cols=["1", "3"], **box)
    ok(at)
    assert at.slider(key="pixels_rows").value == (2, 5)
    assert at.slider(key="pixels_cols").value == (1, 3)
    assert not at.warning, [w.value for w in at.warning]
    bad = open_page(PAGE, pixels_model=MODEL, pixels_rows=["2", "99"], **box)
    ok(bad)
    assert any("pixels_rows" in w.value for w in bad.warning), "a box off the image says so"
