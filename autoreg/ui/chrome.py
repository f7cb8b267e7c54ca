"""The app frame shared by every page: presenter mode, the sidebar, unknown page paths.

Presenter mode is for a projector at the back of a classroom: larger type, wider
margins removed, and secondary controls folded away (``secondary``: still drawn, so a
prepared link's values for them hold). It lives in the URL (``?presenter=true``) so a
prepared link opens in it.

A link to a page that does not exist (``/nosuchpage``, a typo, a page renamed since) makes
``st.navigation`` run the default page, Home, and the browser's address bar is rewritten
to ``/``. Streamlit 1.67 also opens a modal that says "Page not found" without naming the
page; once it is closed nothing on Home tells what happened. ``st.context.url`` still
holds the path that was asked for on that first run (Streamlit strips known page paths
from it and appends the current one, and Home's is empty), so ``unknown_page_notice``
names it in a notice on the page that opened instead, until the user goes elsewhere.
A path of more than one segment (``/step/extra``) never reaches the app: the framework
resolves its script files relative to that path and the page stays blank.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

import plotly.graph_objects as go
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from autoreg.registry import PAGES
from autoreg.ui.urlstate import forget_notice_area, quote
from autoreg.viz.common import for_projector

PRESENTER_KEY = "presenter"
FRAME_KEY = "_app_frame"  # set by app.py on every run of this session
UNKNOWN_KEY = "_unknown_page"  # session_state: the unknown path the session opened on

_PRESENTER_CSS = """
<style>
html { font-size: 21px; }
[data-testid="stMainBlockContainer"] { padding: 2.2rem 2rem 4rem; max-width: 100%; }
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


def presenter_asked() -> bool:
    """Presenter mode, known before the sidebar's toggle runs (the page config needs it)."""
    if PRESENTER_KEY in st.session_state:
        return bool(st.session_state[PRESENTER_KEY])
    return st.query_params.get(PRESENTER_KEY) == "true"


def presenting() -> bool:
    """True when presenter mode is on: pages hide secondary controls."""
    return bool(st.session_state.get(PRESENTER_KEY, False))


def secondary(label: str, where: object = None) -> object:
    """Where a page draws controls that presenter mode keeps out of sight.

    Normally a plain container in ``where`` (the page, or a column); in presenter mode a
    folded expander called ``label`` there. The controls are drawn either way: a link's
    values for them are used and stay in the URL (Streamlit drops a query parameter
    whose widget is not drawn), and the presenter can still reach them.
    """
    target = st if where is None else where
    return target.expander(label) if presenting() else target.container()


def plot(fig: go.Figure, where: object = None, **kwargs: object) -> object:
    """``st.plotly_chart`` (or ``where.plotly_chart``, a column), with presenter mode's
    projector type and line widths (``autoreg.viz.common.for_projector``)."""
    target = st if where is None else where
    return target.plotly_chart(for_projector(fig) if presenting() else fig, **kwargs)


def intro(text: str, *formulas: str) -> None:
    """A page's opening paragraph (and its equations); folded into "What this page shows"
    when presenting, so a projector's first screen goes to the page's main visual."""
    with st.expander("What this page shows") if presenting() else st.container():
        st.markdown(text)
        for formula in formulas:
            st.latex(formula)


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


def unknown_page_path(url: str | None, base_path: str, known: Iterable[str]) -> str | None:
    """The page path of ``url`` when it names none of the ``known`` pages, else None.

    ``url`` is ``st.context.url`` (no query string); ``base_path`` is Streamlit's
    ``server.baseUrlPath``, under which the app is served.
    """
    if not url:
        return None
    path = unquote(urlsplit(url).path).strip("/")
    base = base_path.strip("/")
    if base and (path == base or path.startswith(base + "/")):
        path = path[len(base) :].strip("/")
    if not path or path in set(known):
        return None
    return path


def unknown_page_notice(navigation: st.Page) -> None:
    """Say so when the link named no page (Streamlit then opens Home in its place)."""
    path = unknown_page_path(
        st.context.url, st.get_option("server.baseUrlPath"), [p.url_path for p in PAGES]
    )
    if path is not None:
        st.session_state[UNKNOWN_KEY] = path
    elif navigation.url_path:  # another page now: the notice belonged to the first view
        st.session_state.pop(UNKNOWN_KEY, None)
    path = st.session_state.get(UNKNOWN_KEY)
    if path is not None:
        st.warning(
            f"There is no page at {quote('/' + path)} in this app, so {navigation.title} "
            "opened instead. Every page is listed in the menu on the left.",
            icon=":material/link_off:",
        )
