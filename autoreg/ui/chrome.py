"""The app frame shared by every page: presenter mode and the sidebar.

Presenter mode is for a projector at the back of a classroom: larger type, wider
margins removed, and secondary controls hidden (pages ask ``presenting()`` before drawing
them). It lives in the URL (``?presenter=true``) so a prepared link opens in it.
"""

from __future__ import annotations

import streamlit as st

PRESENTER_KEY = "presenter"

_PRESENTER_CSS = """
<style>
html { font-size: 21px; }
[data-testid="stMainBlockContainer"] { padding-top: 2.2rem; max-width: 100%; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li { font-size: 1.1rem; }
</style>
"""


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
