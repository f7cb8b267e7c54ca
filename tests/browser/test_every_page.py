"""Every registered page opens in real Chromium with no exception and no console error.

Each page's full-page screenshot is saved to ``tests/artifacts/<url_path>.png``; look at
them before calling a page done. With ``AUTOREG_SCREENSHOTS`` set, the README's pages are
also saved there (see ``conftest.readme_screenshot``).
"""

from __future__ import annotations

import pytest

from autoreg.registry import PAGES
from tests.browser.conftest import (
    assert_clean,
    open_app,
    readme_screenshot,
    screenshot,
    serve_app,
    wait_idle,
)

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("spec", PAGES, ids=[p.url_path for p in PAGES])
def test_page_opens_clean(app_server, page, artifacts_dir, spec):
    open_app(page, app_server, spec.url_path)
    assert page.get_by_test_id("stHeading").count() > 0, "page shows no heading"
    assert_clean(page)
    screenshot(page, artifacts_dir / f"{spec.url_path}.png")
    readme_screenshot(page, spec.url_path)


def test_sidebar_links_reach_every_page(app_server, page):
    if len(PAGES) < 2:
        pytest.skip("with a single page Streamlit shows no menu")
    open_app(page, app_server, "home")
    for spec in PAGES:
        page.get_by_test_id("stSidebarNav").get_by_text(spec.title, exact=True).click()
        wait_idle(page)
        expected = "" if spec.url_path == "home" else spec.url_path
        assert page.url.rstrip("/").endswith(f"/{expected}".rstrip("/")), page.url
        assert_clean(page)


def test_presenter_mode_enlarges_type_and_lives_in_the_url(app_server, page, artifacts_dir):
    open_app(page, app_server, "home")
    before = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    page.get_by_test_id("stSidebar").get_by_text("Presenter mode").click()
    wait_idle(page)
    after = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert after > before
    assert "presenter=true" in page.url
    side = page.get_by_test_id("stSidebar")
    page.wait_for_function(  # the sidebar folds away for the projector...
        "document.querySelector('[data-testid=stSidebar]').getBoundingClientRect().right < 1"
    )
    page.get_by_test_id("stExpandSidebarButton").click()  # ...and is one click away
    side.get_by_text("Presenter mode").wait_for(state="visible")
    page.screenshot(path=str(artifacts_dir / "home-presenter.png"), full_page=False)
    open_app(page, app_server, "home", "presenter=true")
    reopened = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert reopened == after
    assert_clean(page)


def test_shared_link_on_a_fresh_server_gets_the_app_frame(chromium_path, page, artifacts_dir):
    """The first request of a new server is a deep link: it must still run inside app.py.

    Streamlit treats a ``pages/`` folder as legacy multipage mode until some session calls
    ``st.navigation``; the pages' ``require_frame`` guard switches that off.
    """
    deep = next((p for p in PAGES if p.url_path != "home"), None)
    if deep is None:
        pytest.skip("only the Home page is registered")
    with serve_app("server-fresh.log") as base:
        open_app(page, base, deep.url_path)
        assert page.url.split("?")[0].rstrip("/").endswith("/" + deep.url_path)
        # The guard reruns the page through app.py: the first idle may precede that rerun.
        toggle = page.get_by_test_id("stSidebar").get_by_text("Presenter mode")
        try:
            toggle.wait_for(timeout=60_000)
        except Exception:
            pytest.fail("the page ran without app.py: no shared sidebar after 60 s")
        wait_idle(page)
        titles = [spec.title for spec in PAGES]
        nav = page.get_by_test_id("stSidebarNav").inner_text()
        assert all(title in nav for title in titles), nav
        assert_clean(page)
