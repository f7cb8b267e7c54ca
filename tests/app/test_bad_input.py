"""Bad links, swept: every URL-bound widget of every registered page gets nonsense.

A teacher's link can be stale or hand-edited: a model that no longer ships, a step past
the end, a word where a number goes. Each page's URL-bound widget keys are discovered by
running the page in AppTest and reading the widgets' ``query_param_key`` (so pages added
later are covered with no edit). Then every key gets a bad value at once, and the page
must run without an exception, say which link value it could not use (the notice of
``autoreg.ui.urlstate``), and keep working on the next run.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from autoreg.registry import PAGES
from autoreg.ui.urlstate import same_value

BAD_FIXED = ["-1000000000000", "1e308", "nan", "-inf", "not-a-model", "", "0x1F", "[1, 2]"]
BAD = st.one_of(
    st.sampled_from(BAD_FIXED),
    st.integers(-(10**15), 10**15).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40),
)


def _walk(node):
    yield node
    children = getattr(node, "children", None) or {}
    for child in children.values():
        yield from _walk(child)


def url_widgets(at) -> dict[str, object]:
    """URL-bound widgets on screen, by key (the widget's ``query_param_key``)."""
    found = {}
    for node in _walk(at._tree):
        proto = getattr(node, "proto", None)
        key = getattr(proto, "query_param_key", "") if proto is not None else ""
        if key:
            found[key] = node
    return found


def _notices(at) -> str:
    return "\n".join(w.value for w in at.warning)


def _check(at, raw: dict[str, str], path: str) -> None:
    assert not at.exception, (path, raw, [e.message for e in at.exception])
    assert at.title, f"{path} shows no title with {raw}"
    notices = _notices(at)
    for key, widget in url_widgets(at).items():
        if key in raw and not same_value(raw[key], widget.value):
            assert key in notices, f"{path}: {key}={raw[key]!r} became {widget.value!r} silently"
    at.run()  # the page keeps working on the next run
    assert not at.exception, (path, raw, [e.message for e in at.exception])


PAGES_WITH_KEYS = [p for p in PAGES if p.url_path != "home"] or PAGES


@pytest.mark.parametrize("spec", PAGES_WITH_KEYS, ids=[p.url_path for p in PAGES_WITH_KEYS])
def test_every_url_key_with_a_fixed_bad_value(open_page, spec):
    keys = url_widgets(open_page(spec.path))
    if not keys:
        pytest.skip(f"{spec.path} binds no widget to the URL")
    # numbers no widget can hold crashed integer number_inputs inside Streamlit ("inf")
    for bad in ("-1000000000000", "not-a-model", "inf", "-inf", "1e400", "9" * 30, "nan", ""):
        raw = dict.fromkeys(keys, bad)
        _check(open_page(spec.path, **raw), raw, spec.path)


@pytest.mark.parametrize("spec", PAGES_WITH_KEYS, ids=[p.url_path for p in PAGES_WITH_KEYS])
def test_random_url_values(open_page, spec):
    keys = sorted(url_widgets(open_page(spec.path)))
    if not keys:
        pytest.skip(f"{spec.path} binds no widget to the URL")

    @settings(
        max_examples=3,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: each example is ~2 AppTest runs
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(values=st.lists(BAD, min_size=len(keys), max_size=len(keys)))
    def run(values):
        raw = dict(zip(keys, values, strict=True))
        _check(open_page(spec.path, **raw), raw, spec.path)

    run()


@pytest.mark.parametrize("text", ["inf", "nan", "1e400", "3" * 30])
def test_a_number_like_prompt_is_kept_as_text(open_page, text):
    """Only number widgets drop values no number can hold; a prompt is just text."""
    at = open_page("pages/generate.py", gen_prompt=text)
    assert not at.exception, [e.message for e in at.exception]
    assert at.text_input(key="gen_prompt").value == text
    assert "gen_prompt" not in _notices(at)


# -- text over the limit ----------------------------------------------------------------


def _text_box_app() -> None:
    """A page with only the shared text input (as Step through, Units, Memory use it)."""
    import streamlit as st

    from autoreg.ui.sequences import text_input
    from autoreg.ui.urlstate import url_notice_area

    url_notice_area()
    text = text_input("demo")
    st.markdown(f"used: {len(text)} characters, starting {text[:12]!r}")


def _text_box(**query: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_text_box_app, default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def _used(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("used:"))


def test_a_paste_over_the_limit_is_cut_to_it_with_a_message():
    from autoreg.ui.sequences import MAX_TEXT_CHARS

    at = _text_box()
    at.selectbox(key="demo_preset").set_value("Your own text").run()
    pasted = "".join(chr(97 + i % 26) for i in range(MAX_TEXT_CHARS + 1234))
    at.text_area(key="demo_text").set_value(pasted).run()
    assert not at.exception, at.exception
    assert at.text_area(key="demo_text").value == pasted[:MAX_TEXT_CHARS]  # the box shows it
    assert _used(at).startswith(f"used: {MAX_TEXT_CHARS} characters")
    (message,) = [w.value for w in at.warning]
    assert f"{MAX_TEXT_CHARS + 1234:,} characters" in message and "cut" in message
    assert "1,234 characters at the end were left out" in message
    assert at.query_params["demo_text"] == pasted[:MAX_TEXT_CHARS]  # and so does the link
    at.run()  # the message stays while the cut text is on screen...
    assert [w.value for w in at.warning] == [message]
    at.text_area(key="demo_text").set_value("short now").run()  # ...and goes with an edit
    assert not at.warning and _used(at).startswith("used: 9 characters")


def test_text_at_the_limit_is_kept_whole_and_quietly():
    from autoreg.ui.sequences import MAX_TEXT_CHARS

    assert MAX_TEXT_CHARS >= 5_000  # the stepping component steps long texts cheaply
    at = _text_box()
    at.selectbox(key="demo_preset").set_value("Your own text").run()
    at.text_area(key="demo_text").set_value("x" * MAX_TEXT_CHARS).run()
    assert not at.warning and _used(at).startswith(f"used: {MAX_TEXT_CHARS} characters")
    assert any(f"{MAX_TEXT_CHARS:,} of {MAX_TEXT_CHARS:,}" in c.value for c in at.caption)


def test_a_long_text_in_a_link_is_cut_and_quoted_shortened():
    from autoreg.ui.sequences import MAX_TEXT_CHARS

    text = "print('hello, world')  # " * 400  # 10,000 characters
    at = _text_box(demo_preset="Your own text", demo_text=text)
    assert not at.exception, at.exception
    assert at.text_area(key="demo_text").value == text[:MAX_TEXT_CHARS]
    notices = [w.value for w in at.warning]
    link = next(n for n in notices if "link" in n)
    assert "(10,000 characters)" in link and "…" in link
    assert len(link) < 400, link  # the notice quotes 60 characters, not the whole text
    assert any("cut" in n for n in notices)


def test_notices_quote_long_values_shortened_and_escape_markdown():
    from autoreg.ui.urlstate import QUOTE_CHARS, quote

    assert quote("abc") == "'abc'" and quote(0.5) == "0.5"
    long = "a" * 1000
    assert quote(long) == f"'{'a' * QUOTE_CHARS}…' (1,000 characters)"
    assert quote("$x$ and *y*") == r"'\$x\$ and \*y\*'"


# -- an unknown page path ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [("http://h:8501/nosuchpage", "", "nosuchpage"), ("http://h:8501", "", None),
     ("http://h:8501/", "", None), ("http://h:8501/step", "", None),
     ("http://h/app/nosuchpage", "app", "nosuchpage"), ("http://h/app/step", "/app/", None),
     ("http://h/app", "app", None), ("http://h:8501/no%20such", "", "no such"), (None, "", None)],
)  # fmt: skip
def test_unknown_page_path(url, base, expected):
    from autoreg.ui.chrome import unknown_page_path

    assert unknown_page_path(url, base, [p.url_path for p in PAGES]) == expected


def test_an_unknown_page_path_says_so_on_the_page_that_opens():
    """AppTest runs app.py on the first run only (then the page alone), so this checks
    the first view; the browser test checks that the notice stays on later reruns."""
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import TIMEOUT
    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.context["url"] = "http://localhost:8501/nosuchpage"
    at.run()
    assert not at.exception, at.exception
    (notice,) = [w.value for w in at.warning if "no page" in w.value]
    assert "'/nosuchpage'" in notice and "Home opened instead" in notice
    assert at.title  # Home itself, below the notice


def test_a_known_page_path_gives_no_notice():
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import TIMEOUT
    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.context["url"] = "http://localhost:8501"
    at.run()
    assert not at.exception and not at.warning, [w.value for w in at.warning]
