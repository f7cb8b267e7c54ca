"""Generate pixels in real Chromium: draw on the canvas, complete it, play and pause."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import assert_clean, open_app, screenshot, wait_idle

pytestmark = pytest.mark.browser
MODEL = "pixelcnn-mnist28-binary"  # 784 pixels: a replay long enough to pause mid-way


def progress(page) -> tuple[int, int]:
    text = page.get_by_test_id("stProgress").filter(has_text="computed").inner_text()
    done, total = re.search(r"computed (\d+) of (\d+)", text).groups()
    return int(done), int(total)


def drawn(page) -> int:
    """The replay position shown by the "Pixels drawn" slider (shown when paused).

    While a rerun swaps elements two can exist for a moment: read them in one go and
    retry until exactly one is on the page.
    """
    js = "[...document.querySelectorAll(\"input[type=range][aria-label='Pixels drawn']\")]"
    page.wait_for_selector("input[type=range][aria-label='Pixels drawn']", timeout=30_000)
    for _ in range(50):
        values = page.evaluate(js + ".map(e => e.value)")
        if len(values) == 1:
            return int(values[0])
        page.wait_for_timeout(200)
    raise AssertionError(f"expected one 'Pixels drawn' slider, found {values}")


def test_draw_complete_play_and_pause(app_server, page, artifacts_dir):
    open_app(page, app_server, "home")  # a fresh server routes /pixels via pages/ until app.py ran
    open_app(page, app_server, "pixels", f"pixels_model={MODEL}&pixels_start=your+drawing")
    assert_clean(page)
    canvas = page.locator("canvas.pc-canvas")
    try:
        canvas.wait_for(timeout=20_000)
    except Exception:  # seen once per fresh server: the component mounts only after a reload
        page.reload()
        wait_idle(page)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    # a vertical stroke and a short diagonal one, with realistic mouse moves
    for (x0, y0), (x1, y1) in (((0.45, 0.1), (0.5, 0.45)), ((0.3, 0.15), (0.5, 0.2))):
        page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y0 * box["height"])
        page.mouse.down()
        for t in range(1, 16):
            f = t / 15
            page.mouse.move(box["x"] + (x0 + f * (x1 - x0)) * box["width"],
                            box["y"] + (y0 + f * (y1 - y0)) * box["height"])  # fmt: skip
            page.wait_for_timeout(15)
        page.mouse.up()
        wait_idle(page)
    assert page.get_by_text("The canvas is empty").count() == 0
    page.get_by_role("button", name="Generate").click()
    page.wait_for_timeout(2500)
    _, total = progress(page)
    assert 0 < total < 28 * 28, "the drawn rows are given, so fewer pixels are generated"
    page.get_by_role("button", name="Pause").click()
    page.wait_for_timeout(1500)
    paused_at = drawn(page)
    assert paused_at > 0
    page.wait_for_timeout(1500)
    assert drawn(page) == paused_at, "pause must freeze the replay"
    screenshot(page, artifacts_dir / "pixels.png")
    # Play again resumes from where it paused (a stale slider value once rewound it)
    page.get_by_role("button", name="Play").click()
    page.wait_for_selector("[data-testid=stProgress]:has-text('Pixels drawn')", timeout=30_000)
    page.wait_for_function(
        "[...document.querySelectorAll('[data-testid=stProgress]')].some(e => "
        f"+(e.innerText.match(/Pixels drawn: (\\d+)/) || [0, -1])[1] > {paused_at})",
        timeout=60_000,
    )
    page.get_by_role("button", name="Pause").click()
    page.wait_for_timeout(1500)
    resumed_at = drawn(page)
    assert resumed_at > paused_at, "Play after Pause must resume playback"
    page.wait_for_timeout(1500)
    assert drawn(page) == resumed_at, "the second pause must freeze the replay too"
    done, total = progress(page)
    if done < total:  # the generation may have finished by now: Stop is then disabled
        page.get_by_role("button", name="Stop").click()
        page.wait_for_selector("[data-testid=stProgress]:has-text('(stopped)')", timeout=30_000)
    wait_idle(page)
    assert_clean(page)
