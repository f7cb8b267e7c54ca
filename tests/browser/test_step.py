"""Step through in real Chromium: keyboard and buttons, play/pause, model and layer, shared URLs.

Screenshots (look at them): tests/artifacts/step.png (the whole page mid-sequence) and
tests/artifacts/step-lstm-diagram.png (the LSTM cell, mid-sequence, at the cell sub-step).
"""

from __future__ import annotations

import pytest

from autoreg.pretrained import list_pretrained, pretrained_card
from tests.browser.conftest import assert_clean, open_app, screenshot, wait_idle

pytestmark = pytest.mark.browser

SLIDER = 'input[type=range][aria-label="Step (token index)"]'


def _open_step(page, base: str, query: str = "") -> None:
    # A fresh server maps /step to app.py's navigation only once "/" has run (before
    # that Streamlit serves pages/ as legacy pages); open the home page first.
    open_app(page, base, "home")
    open_app(page, base, "step", query)


def _step(page) -> int:
    return int(page.locator(SLIDER).evaluate("e => e.value"))


def _wait_step(page, value: int, timeout: float = 30_000) -> None:
    page.wait_for_function(
        f"document.querySelector('{SLIDER}') && "
        f"+document.querySelector('{SLIDER}').value === {value}",
        timeout=timeout,
    )


def _language_models() -> dict[str, dict]:
    cards = {name: pretrained_card(name) for name in list_pretrained("sequence")}
    return {
        n: c
        for n, c in cards.items()
        if (c.get("corpus") or {}).get("name") not in ("recall", "brackets") and c.get("tokenizer")
    }


@pytest.fixture(scope="module", autouse=True)
def _needs_language_models():
    if not _language_models():
        pytest.skip("no shipped character or word model in assets/ yet")


def test_keyboard_and_buttons_step(app_server, page):
    _open_step(page, app_server, "step_step=10")
    assert _step(page) == 10
    page.get_by_test_id("stHeading").first.click()  # focus the page, not a widget
    page.keyboard.press("ArrowRight")
    _wait_step(page, 11)
    page.keyboard.press("ArrowRight")
    _wait_step(page, 12)
    page.keyboard.press("ArrowLeft")
    _wait_step(page, 11)
    page.locator(".st-key-step_next button").first.click()
    _wait_step(page, 12)
    # Two clicks on one button while a run is still drawing reach the server as one
    # trigger (Streamlit merges pending reruns), so wait for each step.
    page.locator(".st-key-step_prev button").first.click()
    _wait_step(page, 11)
    page.locator(".st-key-step_prev button").first.click()
    _wait_step(page, 10)
    wait_idle(page)
    assert "step_step=10" in page.url
    assert page.get_by_text("Inside the").first.inner_text().endswith("step 10")
    assert_clean(page)


def _playing(page) -> bool:
    return "Pause" in page.locator(".st-key-step_play button").first.inner_text()


def _wait_playing(page, playing: bool) -> None:
    label = "Pause" if playing else "Play"
    page.wait_for_selector(f".st-key-step_play button:has-text('{label}')", timeout=60_000)


def _wait_past(page, value: int) -> None:
    page.wait_for_function(f"+document.querySelector('{SLIDER}').value > {value}", timeout=90_000)


def _assert_paused(page, step: int | None = None) -> int:
    """Once idle the cursor stays put (at ``step`` if given) and the URL holds it."""
    wait_idle(page)
    now = _step(page)
    assert step is None or now == step
    page.wait_for_timeout(2000)
    assert _step(page) == now and not _playing(page), "the cursor moved after a pause"
    if now:  # the URL keeps the step (the default 0 is left out)
        assert f"step_step={now}" in page.url
    return now


def test_play_and_pause_with_button_and_space(app_server, page):
    _open_step(page, app_server, "step_step=3&step_speed=4")
    page.locator(".st-key-step_play button").first.click()
    _wait_past(page, 7)  # it plays on its own, more than a step or two
    assert _playing(page), "playback paused by itself"
    speed = page.locator('.st-key-step_speed input[type="range"]').first
    speed.focus()
    speed.press("ArrowLeft")  # slower (4 -> 2 steps/s) without stopping
    now = _step(page)
    _wait_past(page, now + 2)
    assert _playing(page), "changing the speed stopped playback"
    page.locator(".st-key-step_play button").first.click()  # pause
    _wait_playing(page, False)
    stopped = _assert_paused(page)
    page.get_by_test_id("stHeading").first.click()  # focus the page, not a widget
    page.keyboard.press("Space")  # play again from the keyboard
    _wait_playing(page, True)
    _wait_past(page, stopped + 1)
    page.keyboard.press("Space")
    _wait_playing(page, False)
    _assert_paused(page)
    assert_clean(page)


def test_stepping_or_the_slider_pauses_and_the_end_stops(app_server, page):
    _open_step(page, app_server, "step_step=3&step_speed=4")
    page.get_by_test_id("stHeading").first.click()
    page.keyboard.press("Space")
    _wait_past(page, 5)
    page.keyboard.press("ArrowRight")  # a manual step pauses
    _wait_playing(page, False)
    _assert_paused(page)
    page.locator(".st-key-step_play button").first.click()
    _wait_playing(page, True)
    _wait_past(page, _step(page) + 1)
    slider = page.locator(SLIDER)
    slider.focus()
    slider.press("Home")  # the user takes the slider: back to the start, paused
    _wait_step(page, 0)
    _wait_playing(page, False)
    _assert_paused(page, 0)
    last = int(slider.get_attribute("max"))
    page.goto(f"{app_server}/step?step_step={last - 3}&step_speed=4")
    wait_idle(page)
    page.locator(".st-key-step_play button").first.click()
    _wait_step(page, last, timeout=90_000)
    _wait_playing(page, False)  # the end stops playback
    _assert_paused(page, last)
    assert_clean(page)


def test_switch_model_and_layer(app_server, page):
    models = _language_models()
    _open_step(page, app_server, "step_step=20")
    others = [n for n, c in models.items() if c["config"]["cell"] != "lstm"]
    for name in others[:1]:
        page.locator(".st-key-step_model").click()
        page.get_by_role("option", name=name, exact=True).click()
        wait_idle(page)
        cell = models[name]["config"]["cell"].upper()
        page.get_by_text(f"Inside the {cell} cell").wait_for(timeout=30_000)
        assert _step(page) == 20, "switching the model keeps the cursor"
    deep = [n for n, c in models.items() if c["config"].get("num_layers", 1) > 1]
    if deep:
        page.goto(f"{app_server}/step?step_model={deep[0]}&step_step=20")
        wait_idle(page)
        page.locator(".st-key-step_layer").click()
        page.get_by_role("option", name="2", exact=True).click()
        wait_idle(page)
        assert "step_layer=2" in page.url
    else:  # every shipped model has one layer: the picker says so and cannot be used
        assert page.locator(".st-key-step_layer input").is_disabled()
    assert_clean(page)


def test_shared_url_lands_on_the_same_step(app_server, page, browser, artifacts_dir):
    name = next(iter(n for n in _language_models() if n.startswith("lstm")), None)
    if name is None:
        pytest.skip("no shipped LSTM language model")
    _open_step(page, app_server, f"step_model={name}&step_step=42&step_unit=7&step_sub=cell")
    assert _step(page) == 42
    page.get_by_text("LSTM cell: unit 7, step 42").wait_for()
    page.locator(".st-key-step_next button").first.click()
    _wait_step(page, 43)
    wait_idle(page)
    shared = page.url
    assert "step_step=43" in shared and "step_unit=7" in shared
    other = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    other.goto(shared, wait_until="domcontentloaded")
    wait_idle(other)
    assert _step(other) == 43
    other.get_by_text("LSTM cell: unit 7, step 43").wait_for()
    other.context.close()
    # the LSTM cell, mid-sequence, at the "cell" sub-step: diagram and equations
    top = page.get_by_text("LSTM cell: unit 7, step 43").bounding_box()
    bottom = page.locator(".katex-display").last.bounding_box()
    page.set_viewport_size({"width": 1440, "height": int(bottom["y"] + bottom["height"]) + 40})
    page.wait_for_timeout(800)
    top = page.get_by_text("LSTM cell: unit 7, step 43").bounding_box()
    bottom = page.locator(".katex-display").last.bounding_box()
    clip = {"x": top["x"] - 20, "y": top["y"] - 10, "width": 1440 - top["x"],
            "height": bottom["y"] + bottom["height"] - top["y"] + 30}  # fmt: skip
    page.screenshot(path=str(artifacts_dir / "step-lstm-diagram.png"), clip=clip)
    assert_clean(page)


def test_bad_url_values_give_a_notice(app_server, page):
    _open_step(page, app_server, "step_step=99999&step_unit=-3")
    notes = page.get_by_test_id("stAlert").all_inner_texts()
    assert any("step_step" in n and "99999" in n for n in notes), notes
    assert _step(page) == 0
    assert_clean(page)


def test_screenshot_mid_sequence(app_server, page, artifacts_dir):
    _open_step(page, app_server, "step_step=60&step_unit=5")
    page.wait_for_timeout(1000)
    assert _step(page) == 60
    assert_clean(page)
    screenshot(page, artifacts_dir / "step.png")
