"""The benchmark's browser timing, checked on the bare reference page in real Chromium.

``load_page`` must report a time inside the navigation's wall time and only once the
chart is drawn; ``find_step`` must find the "Next" button; ``click`` must wait for the
rerun and the redrawn chart (the cursor really moved).
"""

from __future__ import annotations

import time

import pytest

from autoreg.bench import browser as bb

pytestmark = pytest.mark.browser

CURSOR_JS = "document.querySelector('.js-plotly-plot').layout.shapes[0].x0"


def test_reference_page_load_and_step_are_timed_after_the_chart_is_drawn(chromium_path):
    from playwright.sync_api import sync_playwright

    with bb.serve(bb.REFERENCE_APP) as ref, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=bb.CHROMIUM_FLAGS)
        page = browser.new_context(viewport=bb.VIEWPORT).new_page()
        started = time.perf_counter()
        ms = bb.load_page(page, ref.url + "/")
        wall_ms = (time.perf_counter() - started) * 1000
        assert 0 < ms < wall_ms
        assert page.locator("[data-testid=stPlotlyChart] .main-svg").count() >= 1
        control = bb.find_step(page)
        assert control is not None and control["key"] == "ref_next"
        before = page.evaluate(CURSOR_JS)
        for i in range(1, 3):
            assert bb.click(page) > 0
            assert page.evaluate(CURSOR_JS) == before + i  # the redraw happened before return
        assert not bb.page_errors(page)
        assert 0 < ref.rss_mb()["VmRSS"] < 2000
        browser.close()


def test_the_classroom_chromium_session_times_step_through_clicks(app_server):
    """The browser beside the class loads Step through, steps its player and times each
    click (``classroom_load``); the page reloads every ``RELOAD_EVERY`` clicks."""
    from autoreg.bench.load import RELOAD_EVERY, Chromium, _chromium_round

    chrome = Chromium(app_server)
    try:
        steps, loads = _chromium_round(chrome, RELOAD_EVERY + 2)
        assert not chrome.errors, chrome.errors
        assert len(steps) == RELOAD_EVERY + 2 and all(0 < ms < 60_000 for ms in steps)
        assert len(loads) == 2 and all(ms > 0 for ms in loads)
        step = chrome.page.evaluate(f"+({bb.PLAYER_JS.strip()})().dataset.step")
        assert step == 2  # reloaded at the first step, then stepped twice
    finally:
        chrome.close()
