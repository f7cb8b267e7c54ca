"""Units page in real Chromium: open a found unit, change the unit, clamp; screenshot."""

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
URL = "units"


def test_find_open_and_clamp_a_unit(app_server, page, artifacts_dir):
    open_page(page, app_server)
    assert page.get_by_text("Find units automatically").count() == 1
    coloured = page.locator("[data-testid=stHtml] span[title]")
    assert coloured.count() > 50
    page.get_by_role("button", name="Colour the text by this unit").click()
    wait_idle(page)
    assert "units_src=Validation" in page.url, page.url
    picked = page.get_by_test_id("stHeading").filter(has_text="coloured by").inner_text()
    match = re.search(r"\b[a-z]+\[\d+\]", picked)
    assert match, repr(picked)
    unit = match.group(0)  # e.g. "c[226]"
    opened = page.locator("[data-testid=stHtml] span[title]").first.get_attribute("title")
    assert f"{unit} =" in opened, (picked, opened)
    screenshot(page, artifacts_dir / "units.png")  # the found unit on validation text
    unit = page.get_by_test_id("stNumberInput").get_by_role("spinbutton")
    unit.fill("5")
    unit.press("Enter")
    wait_idle(page)
    assert "units_unit=5" in page.url, page.url
    title = page.locator("[data-testid=stHtml] span[title]").first.get_attribute("title")
    assert "[5]" in title
    assert page.locator(".stPlotlyChart").count() >= 4
    assert_clean(page)
