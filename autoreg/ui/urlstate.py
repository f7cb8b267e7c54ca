"""Page state in the URL, so a copied link reopens the same view.

Streamlit 1.67 widgets take ``bind="query-params"``: the widget's key becomes a query
parameter, the URL follows the widget, and a value in the URL initialises the widget.
Streamlit silently drops a URL value the widget cannot take (an unknown model, a step
past the end). A teacher who shares a stale link deserves to know, so ``url_widget``
compares what the URL asked for with what the widget took and says so on the page.

Keys are page-prefixed (``step_model``, ``gen_temp``) so pages never collide.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitAPIException
from streamlit.runtime.scriptrunner import get_script_run_ctx

NUMERIC_WIDGETS = ("number_input", "slider")  # widgets that parse a URL value as a number
QUOTE_CHARS = 60  # a notice quotes at most this much of a value from a link
_NOTICES = "_url_notices"
_AREA = "_url_notice_area"


def same_value(raw: str, value: Any) -> bool:
    """Whether a raw URL string denotes the widget value (``"0.50"`` is ``0.5``)."""
    if isinstance(value, bool):
        return raw.lower() in (("true", "1", "on") if value else ("false", "0", "off"))
    if isinstance(value, int | float):
        try:
            return math.isclose(float(raw), float(value), rel_tol=1e-9, abs_tol=1e-9)
        except ValueError:
            return False
    if isinstance(value, list | tuple):
        return False if len(value) != 1 else same_value(raw, value[0])
    return raw == str(value)


_MARKDOWN = re.compile(r"([\\`*_\[\]$~|])")  # what can format text inside a quote


def quote(value: Any, limit: int = QUOTE_CHARS) -> str:
    """``value`` quoted for a notice: its repr, shortened when long, safe in markdown.

    A shared link may carry a whole page of text; a notice that quoted all of it would
    bury the page. Past ``limit`` characters it reads ``'first 60 characters…' (1,234
    characters)``. Markdown characters are escaped, so a value can never format the
    notice (``$`` would start an equation, ``*`` emphasis).
    """
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        shown = f"{text[:limit]!r}"[:-1] + "…" + f"{text[:limit]!r}"[-1]
        shown += f" ({len(text):,} characters)"
    else:
        shown = repr(value)
    return _MARKDOWN.sub(r"\\\1", shown)


def notice(text: str) -> None:
    """Show a notice about the link in the page's notice area (see ``url_notice_area``)."""
    _notice(text)


def replace_url_value(key: str, value: str) -> None:
    """Change what the URL gives ``key`` before its widget is created (same caveat as
    ``_drop_url_value``: Streamlit seeds widgets from its copy of the first query string)."""
    st.query_params[key] = value
    initial = _initial_query_params()
    if isinstance(initial, dict):
        initial[key] = value


def _initial_query_params() -> dict | None:
    ctx = get_script_run_ctx()
    state = getattr(getattr(ctx, "session_state", None), "_state", None)
    return getattr(getattr(state, "query_params", None), "_initial_query_params", None)


def _drop_url_value(key: str) -> None:
    """Remove ``key`` from the URL and from the copy Streamlit seeds new widgets from.

    Streamlit keeps the query string of the first load apart (``_initial_query_params``)
    and seeds widgets from it, so deleting from ``st.query_params`` is not enough. There
    is no public API for this; if the internals move, the widget error surfaces as before
    and the bad-input tests fail.
    """
    st.query_params.pop(key, None)
    initial = _initial_query_params()
    if isinstance(initial, dict):
        initial.pop(key, None)


def _unrepresentable(raw: str) -> bool:
    """A number no widget can hold: infinite, NaN, or beyond a 64-bit integer."""
    try:
        x = float(raw)
    except ValueError:
        return False
    return not math.isfinite(x) or abs(x) >= 2**63


def url_widget(widget: Callable[..., Any], label: str, *args: Any, key: str, **kwargs: Any) -> Any:
    """Create ``widget(label, *args, key=key, bind="query-params", **kwargs)``.

    When the widget is created fresh from a URL value that it could not take, a notice
    naming the parameter and the value used instead goes to the page's notice area
    (``url_notice_area``), or else waits for ``show_url_notices``.
    """
    fresh = key not in st.session_state
    raw = st.query_params.get(key) if fresh else None
    raws = st.query_params.get_all(key) if fresh else []  # a range: key=3&key=9
    # Streamlit fails on these instead of dropping them ("inf" for an integer
    # number_input raises OverflowError; "" leaves a required choice empty, None), so
    # they are dropped before the widget sees them.
    numeric = getattr(widget, "__name__", "") in NUMERIC_WIDGETS
    empty_choice = kwargs.get("required") and raw is not None and not raw.strip()
    if raw is not None and ((numeric and _unrepresentable(raw)) or empty_choice):
        _drop_url_value(key)
        value = widget(label, *args, key=key, bind="query-params", **kwargs)
        _notice(
            f"The link asked for {key}={quote(raw)}, which this page cannot use; "
            f"using {quote(value)}."
        )
        return value
    value = widget(label, *args, key=key, bind="query-params", **kwargs)
    shown = kwargs.get("format_func")  # select boxes keep the *shown* label in the URL
    if isinstance(value, tuple) and len(raws) == len(value):
        if all(same_value(r, v) for r, v in zip(raws, value, strict=True)):
            return value
        raw = "&".join(raws)
    if raw is not None and not same_value(raw, value) and not (shown and raw == str(shown(value))):
        _notice(
            f"The link asked for {key}={quote(raw)}, which this page cannot show; "
            f"using {quote(value)} instead."
        )
    return value


def first_default(key: str, value: Any) -> Any:
    """The default to give the widget ``key``: ``value`` until the key holds a value, then None.

    A widget whose key is in session state takes its value from there. Giving it a default
    as well makes Streamlit log "created with a default value but also had its value set
    via the Session State API" on every run where the page or a callback has just set the
    key (a found unit opened, a value clamped into a shorter range).
    """
    return None if key in st.session_state else value


def bounded_default(key: str, lo: Any, hi: Any, value: Any, *, keep: bool = True) -> Any:
    """The default for a slider over ``lo..hi`` whose bounds follow the page (a text's
    length, a stack's depth): a change of bounds neither resets it nor makes Streamlit warn.

    Streamlit takes a slider whose bounds changed for a new widget, which starts again
    at its default. So when the bounds change, the value it should have goes into
    session state first, and on that run no default is passed beside it (see
    ``first_default``): a value left at its default follows the new default (a layer
    slider at the full depth stays at the full depth), another one is kept, clamped into
    the new bounds; with ``keep`` False it always goes back to ``value``. A value in
    the URL that the new bounds hold still wins (Streamlit seeds a new widget from it).
    On every other run the default is ``value``, as on a fresh page, so the URL leaves
    the parameter out exactly when a link without it would mean the same.
    """
    memo = f"_{key}_bounds"
    before = st.session_state.get(memo)
    st.session_state[memo] = (lo, hi, value)
    if key in st.session_state and before is not None and before[:2] != (lo, hi):
        old = st.session_state[key]
        new = value if not keep or old == before[2] else old
        st.session_state[key] = min(max(new, lo), hi)
        return None
    return value


def url_notice_area() -> None:
    """Reserve the place (near the top of a page) where URL notices appear.

    ``url_widget`` writes into it as soon as it meets a bad value, so a notice shows even
    when the page stops early (``st.stop()``) before reaching ``show_url_notices``.
    """
    st.session_state[_AREA] = st.container()


def forget_notice_area() -> None:
    """Called by app.py before every page run: an area belongs to one run of one page."""
    st.session_state.pop(_AREA, None)


def _notice(text: str) -> None:
    area = st.session_state.get(_AREA)
    if area is not None:
        try:
            area.warning(text, icon=":material/link_off:")
            return
        except StreamlitAPIException:  # a fragment rerun cannot write outside itself
            pass
    st.session_state.setdefault(_NOTICES, []).append(text)


def show_url_notices() -> None:
    """Show (once) the notices ``url_widget`` could not place in a notice area."""
    st.session_state.pop(_AREA, None)
    for note in st.session_state.pop(_NOTICES, []):
        st.warning(note, icon=":material/link_off:")
