"""Generate pixels in real Chromium: the replay steps in the browser with the sampler's numbers.

A generation is made by the server; the replay is driven by keys, the slider, clicks on
pixels and play/pause, and what it shows is checked against a ``GenerationRun`` made
here with the same seed. The drawing canvas is used at 1024x768, where the start preview
once covered it.

Screenshots (look at them): tests/artifacts/pixels.png (the replay mid-way),
pixels-draw-1024.png (drawing at 1024x768), pixels-presenter.png (1280x720).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import autoreg
from autoreg.pixelcnn.generation import FieldStencil, GenerationRun
from autoreg.pixelcnn.sampling import entropy_bits
from autoreg.seq.payload import fmt
from tests.browser.conftest import assert_clean, open_app, screenshot, wait_idle
from tests.browser.players import (
    PLAYER,
    drag_slider,
    focus_page,
    frames,
    pixel_canvas_box,
    play_then_pause,
    step,
    wait_player,
    wait_url,
)

pytestmark = pytest.mark.browser
SMALL = "pixelcnn-digits8"  # 64 pixels: generated in about a second
LONG = "pixelcnn-mnist28-binary"  # 784 pixels: a replay long enough to pause mid-way


@pytest.fixture(scope="module")
def reference():
    """The page's default generation of the small model (4 samples, T = 1, seed 0)."""
    model = autoreg.load_pretrained(SMALL)
    run = GenerationRun(model, 4, None, 1.0, 0)
    run.advance(10**6)
    return run, FieldStencil(model)


def _expected(run, t: int, f: int = 0) -> dict[str, str]:
    r, c = run.position(t)
    level = int(run.images_at(t)[f, r, c])
    names = {0: "0 black", run.levels - 1: f"{run.levels - 1} white"}
    p = run.probs_at(t)[f]
    return {
        "pixel": f"({r}, {c})",
        "level": names.get(level, str(level)),
        "p": fmt(float(p[level]), 3),
        "bits": f"{fmt(float(entropy_bits(p)), 3)} bits",
    }


def _readouts(page) -> dict[str, str]:
    return {
        k: page.get_by_test_id(f"pix-{k}").inner_text() for k in ("pixel", "level", "p", "bits")
    }


def _generate(page, base: str, query: str) -> None:
    open_app(page, base, "home")
    open_app(page, base, "pixels", query)
    page.get_by_role("button", name="Generate").click()
    page.locator(f"{PLAYER}[data-frames]").wait_for(timeout=60_000)


def test_keys_clicks_and_slider_show_the_samplers_numbers(app_server, page, reference):
    run, stencil = reference
    _generate(page, app_server, f"pixels_model={SMALL}")
    wait_player(page, "+p.dataset.step === 64 && p.dataset.playing === 'false'", 60_000)
    focus_page(page)
    page.keyboard.press("Home")
    assert step(page) == 0 and page.get_by_test_id("pix-pixel").inner_text() == "next (0, 0)"
    for t in range(1, 21):
        page.keyboard.press("ArrowRight")
        assert step(page) == t
        assert _readouts(page) == _expected(run, t), t
        r, c = run.position(t)
        field = int(page.locator(PLAYER).locator(".pix").get_attribute("data-field"))
        assert field == int(stencil.at(r, c, run.size).sum()), "the receptive-field tint"
        bars = page.get_by_test_id("pix-probs").locator(".pix-bar-value").all_text_contents()
        assert bars == [fmt(float(v), 2) for v in run.probs_at(t)[0]]
    # a click on a pixel goes to the step that draws it
    image = page.get_by_test_id("pix-image")
    box = image.bounding_box()
    image.click(position={"x": box["width"] * 5.5 / 8, "y": box["height"] * 3.5 / 8})
    assert step(page) == run.step_of(3, 5) == 30 and _readouts(page) == _expected(run, 30)
    # a click on a sample of the batch shows it large
    grid = page.get_by_test_id("pix-grid")
    g = grid.bounding_box()
    grid.click(position={"x": g["width"] * 0.75, "y": g["height"] * 0.75})  # sample 3
    assert _readouts(page) == _expected(run, 30, f=3)
    wait_url(page, "pixels_focus=3")
    before = frames(page)
    seen = drag_slider(page, 0.8, moves=30)
    assert frames(page) - before >= 10 and len(seen) >= 10
    assert _readouts(page) == _expected(run, step(page), f=3)
    page.keyboard.press("End")
    assert step(page) == 64
    wait_url(page, "pixels_step=64")
    assert_clean(page)


def test_a_copied_link_reopens_the_same_pixel(app_server, page, browser, reference):
    run, _ = reference
    _generate(page, app_server, f"pixels_model={SMALL}&pixels_focus=2")
    wait_player(page, "p.dataset.playing === 'false'", 60_000)
    focus_page(page)
    page.keyboard.press("Home")
    for _ in range(17):
        page.keyboard.press("ArrowRight")
    wait_url(page, "pixels_step=17")
    want = _readouts(page)
    assert want == _expected(run, 17, f=2)
    with page.expect_download(timeout=60_000) as download:  # made at the browser's step
        page.get_by_test_id("arp-file-png").click()
    assert download.value.suggested_filename == "pixelcnn-samples.png"
    assert Path(download.value.path()).read_bytes() == run.png(17) != run.png(18)
    other = browser.new_context(viewport={"width": 1440, "height": 1000})
    try:
        fresh = other.new_page()
        open_app(fresh, app_server, "home")
        fresh.goto(page.url, wait_until="domcontentloaded")
        fresh.locator(f"{PLAYER}[data-frames]").wait_for(timeout=120_000)  # regenerated
        assert step(fresh) == 17 and _readouts(fresh) == want
    finally:
        other.close()
    assert_clean(page)


def test_draw_at_1024_then_play_and_pause_on_the_frame(app_server, page, artifacts_dir):
    page.set_viewport_size({"width": 1024, "height": 768})
    open_app(page, app_server, "home")
    open_app(page, app_server, "pixels", f"pixels_model={LONG}&pixels_start=your+drawing")
    box = pixel_canvas_box(page)
    # nothing covers the canvas: every point of it hits the canvas itself
    covered = page.evaluate(
        """([x0, y0, w, h]) => {
          const out = [];
          for (let i = 1; i < 10; i++) for (let j = 1; j < 10; j++) {
            const x = x0 + (w * i) / 10, y = y0 + (h * j) / 10;
            let e = document.elementFromPoint(x, y);
            while (e && e.shadowRoot && e.shadowRoot.elementFromPoint(x, y) !== e) {
              const inner = e.shadowRoot.elementFromPoint(x, y);
              if (!inner || inner === e) break;
              e = inner;
            }
            if (!e || !e.classList.contains('pc-canvas')) out.push([i, j, e && e.className]);
          }
          return out; }""",
        [box["x"], box["y"], box["width"], box["height"]],
    )
    assert not covered, covered
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
    page.screenshot(path=str(artifacts_dir / "pixels-draw-1024.png"))
    page.get_by_role("button", name="Generate").click()
    page.locator(f"{PLAYER}[data-playing=true]").wait_for(timeout=60_000)  # it plays at once
    wait_player(page, "+p.dataset.step >= 20", 60_000)
    page.get_by_test_id("arp-play").click()  # pause while the server may still draw
    stopped = step(page)
    shown = page.get_by_test_id("pix-progress").inner_text()
    assert shown.startswith(f"Pixels drawn: {stopped} of ")
    page.wait_for_timeout(2000)
    assert step(page) == stopped, "pause must stop on the frame on screen"
    stopped = play_then_pause(page, advance=10)  # and play resumes from there
    page.keyboard.press("End")  # instant: the last pixel computed so far
    assert step(page) >= stopped
    screenshot(page, artifacts_dir / "pixels.png")
    wait_idle(page)
    assert_clean(page)


def test_presenter_mode_keeps_every_label(app_server, page, artifacts_dir):
    page.set_viewport_size({"width": 1280, "height": 720})
    _generate(page, app_server, f"pixels_model={SMALL}&presenter=true")
    wait_player(page, "p.dataset.playing === 'false'", 60_000)
    cut = page.evaluate(
        """() => [...document.querySelectorAll('[data-testid=stButton] button')]
          .filter((b) => b.offsetParent && b.scrollWidth > b.clientWidth + 1)
          .map((b) => b.innerText)"""
    )
    assert not cut, f"buttons cut off: {cut}"
    for name in ("Generate", "Stop", "Resample from here"):
        assert page.get_by_role("button", name=name).is_visible()
    assert page.get_by_test_id("arp-play").inner_text().strip() in ("Play", "Pause")
    page.screenshot(path=str(artifacts_dir / "pixels-presenter.png"))
    assert_clean(page)
