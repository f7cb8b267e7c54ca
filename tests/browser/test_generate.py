"""Generate page in real Chromium: step mode, seeded replay from a shared link, screenshot."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import assert_clean, open_app, screenshot, wait_idle


def open_page(page, base: str, query: str = "") -> None:
    """Open the app's entry page first, so the server runs app.py's navigation (a fresh
    server otherwise serves a page URL as a legacy ``pages/`` script without the frame)."""
    open_app(page, base, "home")
    open_app(page, base, URL, query)


pytestmark = pytest.mark.browser
URL = "generate"


def generated_text(page) -> str:
    """The first generated-text box (prompt + continuation) as the browser shows it."""
    return page.locator("[data-testid=stHtml]").first.inner_text()


def test_step_mode_buttons_and_screenshot(app_server, page, artifacts_dir):
    open_page(page, app_server, "gen_seed=3&gen_temp=0.8")
    assert page.get_by_text("One draw, stage by stage").count() == 1
    page.get_by_test_id("stButtonGroup").get_by_text("One token at a time").click()
    wait_idle(page)
    for _ in range(3):
        page.get_by_role("button", name="Next token ▶").click()
        wait_idle(page)
    assert re.search(r"gen_step=3\b", page.url), page.url
    page.get_by_role("button", name="◀ Back").click()
    wait_idle(page)
    assert re.search(r"gen_step=2\b", page.url), page.url
    assert page.locator(".stPlotlyChart").count() >= 3
    assert page.get_by_text("Token 2 drawn").count() == 1
    assert_clean(page)
    page.get_by_test_id("stButtonGroup").get_by_text("All at once").click()
    wait_idle(page)
    screenshot(page, artifacts_dir / "generate.png")


def test_a_shared_link_replays_the_same_text(app_server, page, browser):
    query = "gen_seed=11&gen_temp=1.2&gen_len=60&gen_prompt=class%20"
    open_page(page, app_server, query)
    first = generated_text(page)
    assert first.startswith("class ") and len(first) > 40
    other = browser.new_page(viewport={"width": 1440, "height": 1000})
    try:
        open_page(other, app_server, query)
        assert generated_text(other) == first
        other.goto(f"{app_server}/generate?{query.replace('gen_seed=11', 'gen_seed=12')}")
        wait_idle(other)
        assert generated_text(other) != first
    finally:
        other.close()
    assert_clean(page)


def test_temperature_zero_is_greedy_and_clean(app_server, page):
    open_page(page, app_server, "gen_temp=0&gen_len=40")
    titles = page.locator(".stPlotlyChart").first.locator("text.gtitle, text.annotation-text")
    assert any("skipped at T = 0" in t for t in titles.all_text_contents())
    boxes = page.locator("[data-testid=stHtml]")
    texts = {boxes.nth(i).inner_text() for i in range(1, boxes.count())}
    assert len(texts) == 1, "at T = 0 every seed must give the same text"
    assert_clean(page)
