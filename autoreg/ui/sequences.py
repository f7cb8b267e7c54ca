"""Shared widgets and caches of the sequence pages: model picker, input text, traces.

Traces of shipped models are cached per (model, text) in ``st.cache_resource``: shared by
all sessions and treated as read-only, so stepping through a text only slices arrays.
Traces of this session's own models are cached in its session state instead.
"""

from __future__ import annotations

import streamlit as st

from autoreg.seq.trace import Trace, trace
from autoreg.ui.models import SESSION_PREFIX, get_model, model_card, model_label, model_names
from autoreg.ui.urlstate import notice, quote, replace_url_value, url_widget

MAX_TEXT_CHARS = 5_000  # longer input is cut to this, with a message: every step is traced

PRESETS: dict[str, str] = {
    "Python code": (
        'def greet(name, greeting="Hello"):\n'
        '    """Return a friendly greeting."""\n'
        "    if not name:\n"
        "        raise ValueError('name must not be empty')\n"
        '    return f"{greeting}, {name}!" + str(len([name, (1, 2)]))\n'
    ),
    "English prose": (
        "The with statement is used to wrap the execution of a block with methods "
        "defined by a context manager. This allows common try, except and finally "
        "usage patterns to be encapsulated for convenient reuse."
    ),
    "Brackets and quotes": "print(len(\"a (b) c\"), [x * (y + 1) for x in 'xyz' if {x: [y]}])\n",
}


def is_char_model(card: dict) -> bool:
    """Character-level language models (not word-level, not synthetic tasks)."""
    tok = card.get("tokenizer") or {}
    corpus = card.get("corpus") or {}
    name = corpus.get("name") if isinstance(corpus, dict) else corpus
    return tok.get("kind") == "char" and name not in ("recall", "brackets")


def is_language_model(card: dict) -> bool:
    """Char- or word-level models of real text (the synthetic task models excluded)."""
    corpus = card.get("corpus") or {}
    name = corpus.get("name") if isinstance(corpus, dict) else corpus
    return card.get("tokenizer") is not None and name not in ("recall", "brackets")


def model_picker(key: str, label: str = "Model", where=is_language_model, **kwargs) -> str:
    """A URL-bound select box over shipped and session sequence models."""
    names = model_names("sequence", where)
    if not names:
        st.error("No sequence model is installed. Train one on the Train page.")
        st.stop()
    default = next((n for n in names if n.startswith("lstm-char")), names[0])
    return url_widget(
        st.selectbox,
        label,
        names,
        index=names.index(default),
        key=key,
        format_func=model_label,
        **kwargs,
    )


def unknown_tokens(name: str, text: str) -> list[str]:
    """Tokens of ``text`` outside the model's vocabulary (they are read as ``<unk>``)."""
    tok = get_model(name).tokenizer
    if tok is None:
        return []
    return tok.unknown(text)


def _cut_to_limit(key: str, limit: int = MAX_TEXT_CHARS) -> None:
    """``on_change`` of a capped text box: a text over the limit is cut to it, and
    remembered (length before, text after) so the page can say so under the box."""
    text = st.session_state.get(key) or ""
    if len(text) > limit:
        st.session_state[key] = text[:limit]
        st.session_state[f"{key}_cut"] = (len(text), text[:limit])


def _cut_link_text(key: str, limit: int = MAX_TEXT_CHARS, what: str = "text") -> None:
    """Before the box exists: a link whose text is over the limit gives the box the
    first ``limit`` characters, and a notice that quotes it shortened."""
    raw = st.query_params.get(key) if key not in st.session_state else None
    if raw is None or len(raw) <= limit:
        return
    replace_url_value(key, raw[:limit])
    st.session_state[f"{key}_cut"] = (len(raw), raw[:limit])
    notice(
        f"The link's {what}, {key}={quote(raw)}, is longer than the {limit:,} "
        f"characters this page reads: the first {limit:,} are used."
    )


def capped_text(
    widget, label: str, *, key: str, value: str, limit: int, what: str = "text", **kwargs
) -> str:
    """A URL-bound text box (``st.text_input`` or ``st.text_area``) that holds at most
    ``limit`` characters.

    Typed, pasted or linked text over the limit is cut to it, and a message under the
    box says so. (A ``max_chars`` box would refuse such a paste whole and keep its old
    text, with only its small counter as a hint.) ``value`` is the text of a fresh box;
    ``what`` names the text in the messages ("text", "prompt").
    """
    _cut_link_text(key, limit, what)
    text = url_widget(
        widget,
        label,
        value="" if key in st.session_state else value,  # the cut sets the key: no default
        key=key,
        on_change=_cut_to_limit,
        args=(key, limit),
        help=f"Up to {limit:,} characters; longer text is cut to that.",
        **kwargs,
    )
    text = text or ""
    cut = st.session_state.get(f"{key}_cut")
    if cut is not None and cut[1] == text:
        st.warning(
            f"The {what} had {cut[0]:,} characters, more than the {limit:,} this page "
            f"reads, so it was cut to the first {limit:,}; {cut[0] - limit:,} characters "
            "at the end were left out.",
            icon=":material/content_cut:",
        )
    else:
        st.session_state.pop(f"{key}_cut", None)
    return text[:limit]


def text_input(key: str, default_preset: str = "Python code") -> str:
    """Preset or typed input text (URL-bound); flags characters the model does not know.

    Typed text is capped at ``MAX_TEXT_CHARS`` (``capped_text``), with a counter under
    the box.
    """
    preset = url_widget(
        st.selectbox,
        "Input",
        [*PRESETS, "Your own text"],
        index=list(PRESETS).index(default_preset),
        key=f"{key}_preset",
    )
    if preset == "Your own text":
        text = capped_text(
            st.text_area,
            "Text",
            key=f"{key}_text",
            value=PRESETS[default_preset],
            limit=MAX_TEXT_CHARS,
            height=120,
        )
        st.caption(f"{len(text):,} of {MAX_TEXT_CHARS:,} characters")
    else:
        text = PRESETS[preset]
    if not text:
        st.info("Type some text to trace.")
        st.stop()
    return text


@st.cache_resource(show_spinner="Tracing…", max_entries=64)
def _shared_trace(name: str, text: str) -> Trace:
    return trace(get_model(name), text)


def get_trace(name: str, text: str) -> Trace:
    """The exact trace of ``text`` through model ``name`` (cached; read-only)."""
    if not name.startswith(SESSION_PREFIX):
        return _shared_trace(name, text)
    cache = st.session_state.setdefault("seq_session_traces", {})
    key = (name, id(get_model(name)), text)
    if key not in cache:
        if len(cache) > 16:
            cache.clear()
        cache[key] = trace(get_model(name), text)
    return cache[key]


def card_summary(name: str) -> str:
    """One line about a model: cell, sizes, validation bits per token."""
    card = model_card(name)
    cfg = card.get("config", {})
    metrics = card.get("metrics", {})
    bits = metrics.get("val_bits_per_token")
    cell, layers = cfg.get("cell", "?").upper(), cfg.get("num_layers", 1)
    size = f"{cell}, {layers} layer(s) of {cfg.get('hidden_size')} units"
    return size + (f", {bits:.2f} bits/token on validation" if bits is not None else "")
