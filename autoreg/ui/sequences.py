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


def _cut_to_limit(key: str) -> None:
    """``on_change`` of the text box: a text over the limit is cut to it, and remembered
    (length before, text after) so the page can say so under the box."""
    text = st.session_state.get(key) or ""
    if len(text) > MAX_TEXT_CHARS:
        st.session_state[key] = text[:MAX_TEXT_CHARS]
        st.session_state[f"{key}_cut"] = (len(text), text[:MAX_TEXT_CHARS])


def _cut_link_text(key: str) -> None:
    """Before the box exists: a link whose text is over the limit gives the box the
    first ``MAX_TEXT_CHARS`` characters, and a notice that quotes it shortened."""
    raw = st.query_params.get(key) if key not in st.session_state else None
    if raw is None or len(raw) <= MAX_TEXT_CHARS:
        return
    replace_url_value(key, raw[:MAX_TEXT_CHARS])
    st.session_state[f"{key}_cut"] = (len(raw), raw[:MAX_TEXT_CHARS])
    notice(
        f"The link's text, {key}={quote(raw)}, is longer than the {MAX_TEXT_CHARS:,} "
        f"characters this page reads: the first {MAX_TEXT_CHARS:,} are used."
    )


def text_input(key: str, default_preset: str = "Python code") -> str:
    """Preset or typed input text (URL-bound); flags characters the model does not know.

    Typed, pasted or linked text longer than ``MAX_TEXT_CHARS`` is cut to that length
    and a message under the box says so. (A ``max_chars`` box would refuse such a paste
    whole and keep its old text, with only its small counter as a hint.)
    """
    preset = url_widget(
        st.selectbox,
        "Input",
        [*PRESETS, "Your own text"],
        index=list(PRESETS).index(default_preset),
        key=f"{key}_preset",
    )
    if preset == "Your own text":
        box = f"{key}_text"
        _cut_link_text(box)
        text = url_widget(
            st.text_area,
            "Text",
            value="" if box in st.session_state else PRESETS[default_preset],
            key=box,
            height=120,
            on_change=_cut_to_limit,
            args=(box,),
            help=f"Up to {MAX_TEXT_CHARS:,} characters; longer text is cut to that.",
        )
        text = text or ""
        cut = st.session_state.get(f"{box}_cut")
        if cut is not None and cut[1] == text:
            st.warning(
                f"The text had {cut[0]:,} characters, more than the {MAX_TEXT_CHARS:,} "
                f"this page reads, so it was cut to the first {MAX_TEXT_CHARS:,}; "
                f"{cut[0] - MAX_TEXT_CHARS:,} characters at the end were left out.",
                icon=":material/content_cut:",
            )
        else:
            st.session_state.pop(f"{box}_cut", None)
        st.caption(f"{len(text):,} of {MAX_TEXT_CHARS:,} characters")
    else:
        text = PRESETS[preset]
    if not text:
        st.info("Type some text to trace.")
        st.stop()
    return text[:MAX_TEXT_CHARS]


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
