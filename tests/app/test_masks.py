"""Masks page under AppTest: every control, a pixel click injected, the mask-off switch."""

from __future__ import annotations

import json

PAGE = "pages/masks.py"


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
    assert any("pixel (7, 7), 3 layer(s): blind spot 3 px" in t for t in _titles(at))
    _click(at, "masks_pick_plain", 10, 4)
    assert at.session_state["masks_pixel"] == (10, 4)
    _click(at, "masks_pick_gated", 12, 9)
    assert at.session_state["masks_pixel"] == (12, 9)
    titles = _titles(at)
    assert any("pixel (12, 9)" in t and "blind spot 0 px" in t for t in titles)
    raster = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    assert any(len(spec.get("frames", [])) > 100 for spec in raster)
    assert not at.exception


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
