"""No page gives a widget a default value while its key is also set through session state.

Streamlit then logs "The widget with key ... was created with a default value but also
had its value set via the Session State API" on the server (once per process, which is
why ``state_warnings`` clears its flag before every check). The pages set widget keys
from callbacks ("Colour the text by this unit") and clamp them when a range shrinks (a
shorter text, fewer layers); each such widget must then be created without a default.

Every page's value widgets are driven one by one, normal and presenter, and the paths
that write widget keys are driven on purpose.
"""

from __future__ import annotations

import contextlib
import logging

import pytest
from streamlit.elements.lib import policies

from autoreg.registry import PAGES
from tests.app.test_units import session_models

MESSAGE = "created with a default value but also had its value set"
SKIP_KEYS = {"presenter"}  # the sidebar's toggle is dropped by AppTest after switch_page


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if MESSAGE in text:
            self.seen.append(text)


@pytest.fixture
def state_warnings(monkeypatch) -> list[str]:
    """The duplicate-default warnings Streamlit logs while the test runs (every one: the
    once-per-process flag is cleared before each widget's check)."""
    original = policies.check_session_state_rules

    def every_time(*args, **kwargs):
        policies._shown_default_value_warning = False
        return original(*args, **kwargs)

    monkeypatch.setattr(policies, "check_session_state_rules", every_time)
    collect = _Collect()
    policies._LOGGER.addHandler(collect)
    yield collect.seen
    policies._LOGGER.removeHandler(collect)


def test_the_collector_sees_the_warning(state_warnings):
    """The check itself: a default beside a session-state write is caught."""
    from streamlit.testing.v1 import AppTest

    def script():
        import streamlit as st

        if st.button("set", key="b"):
            st.session_state["s"] = 5
        st.slider("s", 0, 9, 2, key="s")

    at = AppTest.from_function(script).run()
    at.button(key="b").click().run()
    at.button(key="b").click().run()
    assert any('"s"' in w for w in state_warnings), state_warnings


def _real(widget, label: str):
    """The option value that ``widget`` shows as ``label`` (AppTest sets choices by value
    and keeps only the shown labels): the label itself, or an index, or a number."""
    candidates = [label, *label.split(), *range(len(widget.options))]
    for number in (int, float):
        with contextlib.suppress(ValueError):
            candidates.append(number(label))
    for value in candidates:
        try:
            if str(widget.format_func(value)) == label:
                return value
        except Exception:  # a format_func that only takes the real type
            continue
    return None


def _changed(widget):
    """A value for ``widget`` other than its current one, or None (nothing to change)."""
    kind = type(widget).__name__
    value = widget.value
    if kind in ("Selectbox", "Radio", "ButtonGroup", "SelectSlider"):
        if isinstance(value, list | tuple) or len(widget.options) < 2:
            return None
        current = None if value is None else str(widget.format_func(value))
        label = widget.options[-1] if current != widget.options[-1] else widget.options[0]
        return _real(widget, label)
    if kind == "Slider":
        lo, hi = widget.min, widget.max
        if isinstance(value, list | tuple):
            return [lo, hi] if list(value) != [lo, hi] else [lo, lo]
        return hi if value != hi else lo
    if kind == "NumberInput":
        hi = widget.max if widget.max is not None else (value or 0) + 1
        lo = widget.min if widget.min is not None else (value or 0) - 1
        return hi if value != hi else lo
    if kind in ("Toggle", "Checkbox"):
        return not value
    return None


VALUE_WIDGETS = ("slider", "select_slider", "number_input", "selectbox", "radio",
                 "button_group", "toggle", "checkbox")  # fmt: skip


def _drive(at) -> list[str]:
    """Give every value widget on the page another value, one rerun each."""
    driven = []
    seen = set()
    for _ in range(3):  # widgets that appear once another is set (a start mode, a layer)
        keys = []
        for kind in VALUE_WIDGETS:
            keys += [(kind, w.key) for w in at.get(kind) if w.key and w.key not in SKIP_KEYS]
        todo = [k for k in keys if k not in seen]
        if not todo:
            break
        for kind, key in todo:
            seen.add((kind, key))
            found = [w for w in at.get(kind) if w.key == key]
            if not found or found[0].disabled:
                continue
            new = _changed(found[0])
            if new is None:
                continue
            found[0].set_value(new).run()
            assert not at.exception, (key, [e.message for e in at.exception])
            driven.append(key)
    return driven


@pytest.mark.parametrize("presenter", [False, True], ids=["normal", "presenter"])
@pytest.mark.parametrize("spec", PAGES, ids=[p.url_path for p in PAGES])
def test_driving_every_control_logs_no_default_value_warning(
    open_page, state_warnings, spec, presenter
):
    state = {"train_session_models": session_models(), "presenter": presenter}
    at = open_page(spec.path, state=state)
    assert not at.exception, [e.message for e in at.exception]
    _drive(at)
    assert not state_warnings, state_warnings


def test_units_paths_that_set_widget_keys_log_no_warning(open_page, state_warnings):
    at = open_page("pages/units.py", state={"train_session_models": session_models()})
    at.selectbox(key="units_model").set_value("session:lstm-test").run()
    at.selectbox(key="units_found").set_value(3).run()
    at.button(key="units_open").click().run()  # sets quantity, unit and text source
    assert at.segmented_control(key="units_src").value.startswith("Validation")
    at.segmented_control(key="units_src").set_value("Input above").run()
    at.button(key="units_open").click().run()  # again, from another source
    at.selectbox(key="units_preset").set_value("English prose").run()
    at.slider(key="units_from").set_value(at.slider(key="units_from").max).run()
    at.slider(key="units_at").set_value(at.slider(key="units_at").max).run()
    at.selectbox(key="units_preset").set_value("Your own text").run()
    at.text_area(key="units_text").set_value("x = (1, 'a')\n").run()  # shorter: clamped
    assert at.slider(key="units_from").value <= 12
    assert at.slider(key="units_at").value <= 12
    at.selectbox(key="units_qty").set_value("cell").run()
    at.number_input(key="units_unit").set_value(15).run()
    at.selectbox(key="units_model").set_value("session:gru-test").run()  # no c: reset
    assert not at.exception, [e.message for e in at.exception]
    assert not state_warnings, state_warnings


def test_masks_and_step_clamps_log_no_warning(open_page, state_warnings):
    at = open_page("pages/masks.py")
    at.slider(key="masks_depth").set_value(8).run()
    at.slider(key="masks_layer").set_value(8).run()
    at.slider(key="masks_depth").set_value(2).run()  # the layer shown is clamped to 2
    assert at.slider(key="masks_layer").value == 2
    at = open_page("pages/step.py", state={"train_session_models": session_models()})
    at.selectbox(key="step_model").set_value("session:lstm-test").run()
    at.selectbox(key="step_layer").set_value(2).run()
    at.selectbox(key="step_model").set_value("session:gru-test").run()  # one layer
    assert not at.exception, [e.message for e in at.exception]
    assert not state_warnings, state_warnings
