"""The app frame shared by every page: presenter mode and the sidebar.

Presenter mode is for a projector at the back of a classroom: larger type, wider
margins removed, and secondary controls hidden (pages ask ``presenting()`` before drawing
them). It lives in the URL (``?presenter=true``) so a prepared link opens in it.
"""

from __future__ import annotations

import gc
import sys

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from autoreg.ui.urlstate import forget_notice_area

PRESENTER_KEY = "presenter"
FRAME_KEY = "_app_frame"  # set by app.py on every run of this session

_PRESENTER_CSS = """
<style>
html { font-size: 21px; }
[data-testid="stMainBlockContainer"] { padding-top: 2.2rem; max-width: 100%; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li { font-size: 1.1rem; }
</style>
"""


_frozen_modules = 0  # len(sys.modules) when the heap was last frozen


def freeze_imports() -> None:
    """Take everything loaded so far out of the garbage collector's full passes.

    Streamlit runs ``gc.collect(2)`` after every script run, fragment runs included
    (``runner.postScriptGC``). With torch, plotly, pandas and scipy loaded that walks
    millions of long-lived objects: py-spy put it at two thirds of the server's CPU for
    one step of Step through. ``gc.freeze()`` moves the objects alive now (modules,
    cached models) to a generation the collector skips, so the pass after each run only
    walks what runs created. Done again whenever a page has imported new modules; each
    time also pins whatever other sessions hold at that moment, so it happens a bounded
    number of times (once per set of new imports), early in the server's life.
    """
    global _frozen_modules
    if len(sys.modules) != _frozen_modules:
        gc.collect()  # what is garbage now is not frozen with the rest
        gc.freeze()
        _frozen_modules = len(sys.modules)


def mark_frame() -> None:
    """Called by app.py: this session's pages run inside the app frame."""
    st.session_state[FRAME_KEY] = True
    forget_notice_area()


def require_frame() -> None:
    """Make sure a page runs inside app.py's frame (navigation, sidebar, wide layout).

    Streamlit decides once per server process whether a ``pages/`` folder means legacy
    multipage mode, and only ``st.navigation`` switches that off. So on a freshly started
    server, a shared link to ``/step`` would run ``pages/step.py`` alone, without app.py.
    A page called that way switches legacy mode off and reruns; the rerun goes through
    app.py and lands on the same page (both modes hash a page by its URL path).
    """
    if not st.session_state.get(FRAME_KEY):
        PagesManager.uses_pages_directory = False
        st.rerun()


def presenting() -> bool:
    """True when presenter mode is on: pages hide secondary controls."""
    return bool(st.session_state.get(PRESENTER_KEY, False))


def sidebar() -> None:
    """Draw the shared sidebar: presenter mode and how to share the current view."""
    with st.sidebar:
        on = st.toggle(
            "Presenter mode",
            key=PRESENTER_KEY,
            bind="query-params",
            help="Larger type and fewer controls, for projecting in class.",
        )
        if not on:
            st.caption(
                "Every view is a link: the address bar holds the model, input, step and "
                "settings, so copy it to share exactly what you see."
            )
    if on:
        st.html(_PRESENTER_CSS)
