"""Masks page under AppTest: every control, a pixel click injected, the URL, the mask-off
switch, and the raster order's player (its payload: the digit, revealed in raster order)."""

from __future__ import annotations

import json

import numpy as np

from autoreg.seq import payload as pl
from autoreg.ui import masks as ui
from autoreg.ui import player as pp
from autoreg.ui.pixels import example_digit
from tests.app.presenter import assert_link_holds, folded, open_presenting

PAGE = "pages/masks.py"


def _raster(at) -> tuple[dict, dict, dict]:
    el = next(e for e in at.get("bidi_component") if e.proto.component_name.endswith("_masks"))
    options, blob = pp.split_mount(el.proto.bytes)
    meta, arrays = pl.unpack(blob)
    return options, meta, arrays


def _query(at, key: str):
    value = at.query_params.get(key)
    return value[0] if isinstance(value, list) else value


def _titles(at) -> list[str]:
    out = []
    for el in at.get("plotly_chart"):
        title = json.loads(el.proto.spec)["layout"].get("title") or {}
        out.append(title.get("text") or "")
    return out


def _click(at, key: str, row: int, col: int) -> None:
    at.session_state[key] = {
        "selection": {"points": [{"x": col, "y": row}], "point_indices": [0], "box": [],
                      "lasso": []}
    }  # fmt: skip
    at.run()


def test_every_control(open_page):
    at = open_page(PAGE)
    assert not at.exception
    assert any("5×5 mask A" in t for t in _titles(at))
    at.select_slider(key="masks_k").set_value(7).run()
    at.radio(key="masks_type").set_value("B").run()
    assert any("7×7 mask B" in t for t in _titles(at))
    assert any("MaskedConv2d" in c.value for c in at.caption)
    at.slider(key="masks_depth").set_value(6).run()
    at.slider(key="masks_layer").set_value(3).run()
    at.radio(key="masks_stack_k").set_value(5).run()
    at.radio(key="masks_stack_k").set_value(3).run()
    assert not at.exception
    assert any("pixel (7, 7), 3 layer(s)<br>blind spot 3 px" in t for t in _titles(at))
    _click(at, "masks_pick_plain", 10, 4)
    assert at.session_state["masks_pixel"] == (10, 4)
    _click(at, "masks_pick_gated", 12, 9)
    assert at.session_state["masks_pixel"] == (12, 9)
    titles = _titles(at)
    assert any("pixel (12, 9)" in t and "blind spot 0 px" in t for t in titles)
    assert (_query(at, "masks_row"), _query(at, "masks_col")) == ("12", "9")
    options, meta, arrays = _raster(at)
    assert meta["view"] == "masks" and meta["n_steps"] == 16 * 16 + 1
    np.testing.assert_array_equal(arrays["image"], example_digit().numpy())
    assert options["cursor"]["step"] == 256 // 3 and options["speed_unit"] == "pixels/s"
    assert not any(json.loads(el.proto.spec).get("frames") for el in at.get("plotly_chart")), (
        "the raster order is no plotly animation any more (pausing one threw a page error)"
    )
    assert not at.exception


def test_a_link_opens_the_same_pixel_depth_layer_and_raster_step(open_page):
    at = open_page(PAGE, masks_row="3", masks_col="11", masks_depth="5", masks_layer="2",
                   masks_stack_k="5", masks_raster="200")  # fmt: skip
    assert not at.exception, [e.message for e in at.exception]
    assert at.session_state["masks_pixel"] == (3, 11)
    assert any("pixel (3, 11), 2 layer(s)" in t for t in _titles(at))
    assert at.slider(key="masks_depth").value == 5 and at.radio(key="masks_stack_k").value == 5
    assert _raster(at)[0]["cursor"]["step"] == 200
    at.session_state[f"{ui.RASTER_KEY}_sync"] = {
        "report": {"cursor": {"step": 17, "speed": 16}, "need": {}, "seq": 0}
    }
    at.run()
    assert _query(at, "masks_raster") == "17"


def test_bad_pixel_and_raster_values_in_a_link_get_a_notice(open_page):
    at = open_page(PAGE, masks_row="40", masks_col="2", masks_raster="9999")
    assert not at.exception, [e.message for e in at.exception]
    notes = " ".join(w.value for w in at.warning)
    assert "masks_row=40" in notes and "masks_raster" in notes, notes
    assert at.session_state["masks_pixel"] == (7, 7)
    assert "masks_row" not in at.query_params


def test_disable_the_mask(open_page):
    at = open_page(PAGE, masks_off="true")
    assert not at.exception, [e.message for e in at.exception]
    labels = [m.label for m in at.metric]
    assert labels == ["Test NLL with masks", "Test NLL without masks"]
    with_mask, without = (float(m.value.split()[0]) for m in at.metric)
    assert without < with_mask, "the cheating model's loss looks better"
    assert any("including itself: True" in c.value for c in at.caption)
    at.toggle(key="masks_off").set_value(False).run()
    assert not at.metric


def test_a_presenter_link_shows_the_field_after_its_layer(open_page):
    link = {"masks_depth": "5", "masks_layer": "2"}
    at = open_presenting(open_page, PAGE, **link)
    assert folded(at, "masks_layer") == "Show an earlier layer"
    assert any("pixel (7, 7), 2 layer(s)" in t for t in _titles(at)), _titles(at)
    assert_link_holds(at, {"masks_layer": "2"})
    assert _query(at, "masks_depth") == "5"


def test_the_layer_shown_follows_the_depth_keeps_an_earlier_one_and_is_clamped(open_page):
    at = open_page(PAGE)
    at.slider(key="masks_depth").set_value(7).run()  # the layer was the full depth: it follows
    assert at.slider(key="masks_layer").value == 7
    at.slider(key="masks_layer").set_value(2).run()
    at.slider(key="masks_depth").set_value(8).run()  # an earlier layer is kept
    assert at.slider(key="masks_layer").value == 2
    assert any("2 layer(s)" in t for t in _titles(at))
    at = open_page(PAGE, masks_depth="8", masks_layer="6")
    at.slider(key="masks_depth").set_value(3).run()  # out of reach: clamped
    assert at.slider(key="masks_layer").value == 3
    assert any("3 layer(s)" in t for t in _titles(at))
    at.slider(key="masks_depth").set_value(1).run()  # one layer: nothing to choose
    assert not at.exception, [e.message for e in at.exception]
    assert not [s for s in at.slider if s.key == "masks_layer"]
    assert any("pixel (7, 7), 1 layer(s)" in t for t in _titles(at))
