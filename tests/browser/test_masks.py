"""Masks page in real Chromium: click a pixel, see its receptive field; the blind spot."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import assert_clean, open_app, screenshot, wait_idle

pytestmark = pytest.mark.browser
SIZE = 15


def click_pixel(page, chart, row: int, col: int) -> None:
    """Click the centre of pixel (row, col) of a square heatmap chart."""
    chart.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    box = chart.locator("rect.nsewdrag").first.bounding_box()
    x = box["x"] + (col + 0.5) / SIZE * box["width"]
    y = box["y"] + (row + 0.5) / SIZE * box["height"]
    page.mouse.move(x, y)
    page.wait_for_timeout(300)
    page.mouse.click(x, y)


def test_click_a_pixel_and_see_its_field(app_server, page, artifacts_dir):
    open_app(page, app_server, "home")  # a fresh server routes /masks via pages/ until app.py ran
    open_app(page, app_server, "masks")
    assert_clean(page)
    plain = page.locator(".stPlotlyChart").nth(2)
    assert "pixel (7, 7)" in plain.inner_text()
    click_pixel(page, plain, 10, 4)
    page.wait_for_function(
        "[...document.querySelectorAll('.stPlotlyChart')].some(e => "
        "e.innerText.includes('pixel (10, 4)'))",
        timeout=30_000,
    )
    wait_idle(page)
    gated = page.locator(".stPlotlyChart").nth(3)
    assert "pixel (10, 4)" in gated.inner_text()
    text = plain.inner_text()
    n_blind = int(re.search(r"blind spot (\d+) px", text).group(1))
    assert n_blind > 0
    assert "blind spot 0 px" in gated.inner_text()
    assert_clean(page)
    screenshot(page, artifacts_dir / "masks.png")
    block = plain.locator("xpath=ancestor::div[@data-testid='stHorizontalBlock'][1]")
    block.scroll_into_view_if_needed()
    page.wait_for_timeout(600)
    block.screenshot(path=str(artifacts_dir / "masks-blind-spot.png"))


def test_disable_the_mask_trains_the_twin(app_server, page):
    open_app(page, app_server, "masks")
    page.get_by_text("Disable the mask").click()
    # wait for the result itself: on a busy machine the rerun can start later than the
    # quiet period that wait_idle takes for "done", and the twin trains for a while
    page.get_by_text("Test NLL without masks").wait_for(timeout=180_000)
    wait_idle(page, timeout=180_000)
    assert page.get_by_text("Test NLL without masks").count() == 1
    assert page.get_by_text("including itself: True").count() == 1
    assert_clean(page)
