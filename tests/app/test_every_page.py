"""Every page registered in the navigation runs without an exception.

The page list is read from the app's own registry, so pages added later are covered
with no edit here.
"""

from __future__ import annotations

import pytest

from autoreg.registry import PAGES
from tests.conftest import ROOT


def test_registry_points_at_real_files():
    assert PAGES, "the navigation registers no page"
    for spec in PAGES:
        assert (ROOT / spec.path).is_file(), spec.path
    assert len({p.url_path for p in PAGES}) == len(PAGES), "url paths must be unique"


@pytest.mark.parametrize("spec", PAGES, ids=[p.url_path for p in PAGES])
def test_page_runs_without_exception(open_page, spec):
    at = open_page(spec.path)
    assert not at.exception, [e.message for e in at.exception]
    assert at.title, f"{spec.path} shows no title"


@pytest.mark.parametrize("spec", PAGES, ids=[p.url_path for p in PAGES])
def test_page_runs_in_presenter_mode(open_page, spec):
    at = open_page(spec.path, state={"presenter": True})
    assert not at.exception, [e.message for e in at.exception]
    assert at.session_state["presenter"] is True


def test_presenter_mode_comes_from_the_url(open_page):
    at = open_page("pages/home.py", presenter="true")
    assert at.toggle(key="presenter").value is True
    assert any("font-size: 21px" in el.proto.body for el in at.get("html"))
