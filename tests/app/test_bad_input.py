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
