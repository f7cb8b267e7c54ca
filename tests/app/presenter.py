"""Presenter-mode links in AppTest: what a prepared link carries must hold on a projector.

Presenter mode folds secondary controls into expanders (``autoreg.ui.chrome.secondary``)
instead of leaving them out, so a link's values for them are used and stay in the URL.
"""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

WIDGETS = ("slider", "select_slider", "number_input", "selectbox", "radio", "text_input")


def query(at: AppTest, key: str) -> str | None:
    """The URL's value for ``key`` (one value), or None."""
    value = at.query_params.get(key)
    return value[0] if isinstance(value, list) else value


def folded(at: AppTest, key: str) -> str | None:
    """The label of the folded expander that holds widget ``key``, or None."""
    for block in at.expander:
        if block.proto.expanded:
            continue
        for kind in WIDGETS:
            if any(w.key == key for w in block.get(kind)):
                return block.label
    return None


def widget(at: AppTest, key: str):
    """The value widget ``key`` wherever it is drawn."""
    for kind in WIDGETS:
        found = [w for w in at.get(kind) if w.key == key]
        if found:
            return found[0]
    raise KeyError(key)


def shown(w) -> str:
    """A widget's value as a link writes it (a select box: the label it shows)."""
    fmt = getattr(w, "format_func", None)
    return str(fmt(w.value) if fmt is not None and w.value is not None else w.value)


def open_presenting(open_page, path: str, state: dict | None = None, **link: str) -> AppTest:
    """Open ``path`` from a prepared link that turns presenter mode on (``presenter=true``)."""
    at = open_page(path, state={**(state or {}), "presenter": True}, presenter="true", **link)
    assert not at.exception, [e.message for e in at.exception]
    assert at.session_state["presenter"] is True
    return at


def assert_link_holds(at: AppTest, link: dict[str, str]) -> None:
    """Every value of ``link`` is the value of its widget, folded away, and in the URL,
    also after another rerun."""
    for _ in range(2):
        for key, raw in link.items():
            assert folded(at, key), f"{key} is not in a folded expander"
            assert shown(widget(at, key)) == raw, (key, widget(at, key).value, raw)
            assert query(at, key) == raw, (key, dict(at.query_params))
        at.run()
        assert not at.exception, [e.message for e in at.exception]
