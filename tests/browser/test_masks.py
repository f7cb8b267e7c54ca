"""Masks page in real Chromium: click a pixel, see its receptive field; the blind spot;
the raster order stepped in the browser; the chosen pixel and depth in a copied link.

Screenshots (look at them): tests/artifacts/masks.png, masks-blind-spot.png,
masks-raster.png (the raster player paused mid-way).
"""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import assert_clean, open_app, screenshot, wait_idle
from tests.browser.players import (
    PLAYER,
    drag_slider,
    focus_page,
    frames,
    play_then_pause,
    step,
    wait_url,
)

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


def test_the_raster_order_steps_plays_and_pauses_in_the_browser(app_server, page, artifacts_dir):
    open_app(page, app_server, "home")
    open_app(page, app_server, "masks", "masks_raster=20")
    player = page.locator(PLAYER)
    player.wait_for(timeout=60_000)
    assert step(page) == 20
    head = page.get_by_test_id("msk-head")
    assert (
        head.inner_text()
        == "20 of 256 pixels drawn · next: pixel (1, 4), predicted from the 20 before it"
    )
    focus_page(page)
    for t in range(21, 31):
        page.keyboard.press("ArrowRight")
        assert step(page) == t and f"next: pixel ({t // 16}, {t % 16})" in head.inner_text()
    image = page.get_by_test_id("msk-image")
    box = image.bounding_box()
    image.click(position={"x": box["width"] * 9.5 / 16, "y": box["height"] * 6.5 / 16})
    assert step(page) == 6 * 16 + 9
    before = frames(page)
    assert len(drag_slider(page, 0.7)) >= 10 and frames(page) - before >= 10
    page.keyboard.press("Home")
    stopped = play_then_pause(page, advance=5)  # pausing once threw a page error
    assert f"{stopped} of 256 pixels drawn" in head.inner_text()
    wait_url(page, f"masks_raster={stopped}")
    player.scroll_into_view_if_needed()
    player.screenshot(path=str(artifacts_dir / "masks-raster.png"))
    assert_clean(page)


def test_a_copied_link_keeps_the_pixel_and_depth(app_server, page, browser):
    open_app(page, app_server, "home")
    open_app(page, app_server, "masks")
    plain = page.locator(".stPlotlyChart").nth(2)
    click_pixel(page, plain, 11, 3)
    wait_url(page, "masks_row=11")
    wait_url(page, "masks_col=3")
    depth = page.get_by_test_id("stSlider").filter(has_text="Depth (layers)").get_by_role("slider")
    depth.focus()
    depth.press("ArrowRight")
    wait_idle(page)
    wait_url(page, "masks_depth=5")
    other = browser.new_context(viewport={"width": 1440, "height": 1000})
    try:
        fresh = other.new_page()
        open_app(fresh, app_server, "home")
        fresh.goto(page.url, wait_until="domcontentloaded")
        wait_idle(fresh)
        chart = fresh.locator(".stPlotlyChart").nth(2)
        chart.wait_for(timeout=60_000)
        assert "pixel (11, 3), 5 layer(s)" in chart.inner_text()
    finally:
        other.close()
    # legends sit under the tick labels, never on them
    for i in (2, 3):
        chart = page.locator(".stPlotlyChart").nth(i)
        chart.scroll_into_view_if_needed()
        legend = chart.locator(".legend").bounding_box()
        ticks = [
            chart.locator(".xtick text").nth(k).bounding_box()
            for k in range(chart.locator(".xtick text").count())
        ]
        assert ticks and all(t["y"] + t["height"] <= legend["y"] + 0.5 for t in ticks), (
            legend,
            ticks,
        )
    assert_clean(page)
