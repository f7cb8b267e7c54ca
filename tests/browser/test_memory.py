"""The Memory page in real Chromium: its main controls, and screenshots to look at.

``tests/artifacts/memory.png`` is the page in its default state: the three cells'
gradient-influence curves (stepped in the browser) and the recall accuracy against the
lag; ``memory-influence.png`` the influence player after stepping back.
"""

from __future__ import annotations

import numpy as np
import pytest

import autoreg
from autoreg.pretrained import list_pretrained
from autoreg.seq import influence_payload as ip
from autoreg.seq.payload import token_label
from autoreg.ui.sequences import PRESETS
from tests.browser.conftest import assert_clean, open_app, screenshot, wait_idle
from tests.browser.players import (
    PLAYER,
    drag_slider,
    focus_page,
    play_then_pause,
    step,
    wait_player,
    wait_url,
)

CELLS = ("rnn", "lstm", "gru")

pytestmark = pytest.mark.browser


def widget(page, test_id: str, label: str):
    """The widget whose label is exactly ``label``."""
    label_el = page.get_by_test_id("stWidgetLabel").get_by_text(label, exact=True)
    return page.get_by_test_id(test_id).filter(has=label_el).first


def open_memory(page, base: str, query: str = "") -> None:
    """Open /memory directly, as a shared link does, and wait for the framed page.

    On a fresh server the first run of a page reruns itself through app.py
    (``chrome.require_frame``), so the page is idle once in between: wait for the app's
    navigation and this page's charts, not only for the first idle state.
    """
    open_app(page, base, "memory", query)
    nav = page.get_by_test_id("stSidebarNav").get_by_text("Memory", exact=True)
    nav.wait_for(timeout=90_000)
    page.wait_for_function(
        "document.querySelectorAll('[data-testid=stPlotlyChart]').length >= 6", timeout=90_000
    )
    page.locator(f"{PLAYER}[data-frames]").wait_for(timeout=90_000)
    wait_idle(page)


def choose(page, label: str, option: str) -> None:
    """Pick an option of a select box the way a keyboard user does: type it, Enter."""
    box = widget(page, "stSelectbox", label)
    box.scroll_into_view_if_needed()
    box.locator("input").click()
    page.keyboard.type(option)
    page.keyboard.press("Enter")
    wait_idle(page)


def legend(page, chart_index: int) -> list[str]:
    chart = page.get_by_test_id("stPlotlyChart").nth(chart_index)
    chart.scroll_into_view_if_needed()
    return chart.locator(".legendtext").evaluate_all("els => els.map(e => e.textContent)")


def test_memory_page_shows_the_gap_and_its_controls_work(app_server, page, artifacts_dir):
    open_memory(page, app_server)
    assert_clean(page)
    assert page.get_by_test_id("stPlotlyChart").count() >= 6
    charts = page.get_by_test_id("stPlotlyChart")
    headings = page.get_by_test_id("stHeading").all_inner_texts()
    assert any("How far back" in h for h in headings)
    lines = [t.split(" ·")[0] for t in page.locator(".mem-key").all_inner_texts()]
    recall_index = next(
        i for i in range(charts.count()) if "Recall accuracy" in charts.nth(i).inner_text()
    )
    assert legend(page, recall_index) == ["RNN", "LSTM", "GRU"]
    shipped = [c.upper() for c in ("rnn", "lstm", "gru") if f"{c}-char-stdlib" in list_pretrained()]
    assert lines == shipped, "one gradient curve per shipped character model"
    screenshot(page, artifacts_dir / "memory.png")

    slider = widget(page, "stSlider", "Lag L").get_by_role("slider")
    slider.focus()
    for _ in range(3):
        slider.press("ArrowRight")
    wait_idle(page)
    assert "memory_lag=23" in page.url
    assert_clean(page)

    choose(page, "Letter", "h")
    assert "memory_letter=h" in page.url
    assert_clean(page)

    seed = widget(page, "stNumberInput", "Seed (fresh sequences)").locator("input")
    seed.fill("3")
    seed.press("Enter")
    wait_idle(page)
    assert_clean(page)

    wait_url(page, "memory_seed=3")
    choose(page, "Input", "English prose")
    assert "memory_preset=English" in page.url
    page.locator(PLAYER).wait_for()
    page.locator(".arp-prev").click()
    wait_url(page, "memory_target=")
    assert_clean(page)

    widget(page, "stRadio", "Values from").get_by_text("GRU").click()
    wait_idle(page)
    assert_clean(page)


def test_a_shared_link_reopens_the_same_view(app_server, page):
    open_memory(page, app_server, "memory_lag=12&memory_letter=e")
    assert_clean(page)
    assert "12" in widget(page, "stSlider", "Lag L").inner_text().split()
    assert "e" in widget(page, "stSelectbox", "Letter").inner_text()


def _models() -> dict[str, str]:
    names = {c: f"{c}-char-stdlib" for c in CELLS}
    if not set(names.values()) <= set(list_pretrained()):
        pytest.skip("the three shipped character models are needed")
    return names


def _expected(names: dict[str, str], text: str, T: int) -> tuple[str, dict[str, np.ndarray]]:
    """The caption at T and each cell's relative influence, computed here the page's way."""
    rel = {}
    for cell, name in names.items():
        model = autoreg.load_pretrained(name)
        k = ip.window_of(T, len(text))
        rows = ip.window_arrays(model, cell, model.encode(text), k)[f"w{k}:{cell}"]
        rel[cell] = ip.relative(rows[T - ip.window_targets(k, len(text)).start], T)
    back = min(50, T)
    parts = ", ".join(f"{c.upper()} {rel[c][T - back]:.1e}" for c in rel)
    caption = f"Influence of the input {back} steps back: {parts}"
    floors = [f"{c.upper()} {int((v <= 1e-12).sum())} of {T}" for c, v in rel.items()]
    floors = [f for f, v in zip(floors, rel.values(), strict=True) if (v <= 1e-12).any()]
    if floors:
        caption += (
            ". At or below 10⁻¹² (float32 gradients underflow to exactly 0 there; drawn at "
            "10⁻¹²): " + ", ".join(floors)
        )
    return caption + ".", rel


def test_the_predicted_position_steps_in_the_browser_with_exact_numbers(
    app_server, page, browser, artifacts_dir
):
    names = _models()
    text = PRESETS["Python code"]
    T0 = len(text) - 1
    open_memory(page, app_server)
    assert step(page) == T0
    focus_page(page)
    for T in range(T0 - 1, T0 - 21, -1):
        page.keyboard.press("ArrowLeft")
        assert step(page) == T
        caption, rel = _expected(names, text, T)
        assert page.get_by_test_id("mem-caption").inner_text() == caption, T
    head = page.get_by_test_id("mem-head").inner_text()
    assert head.startswith(f"Predicting {token_label(text[T0 - 20])!r} at position {T0 - 20}")
    # the strips: one character per box, hover for its exact influence
    box = page.get_by_test_id("mem-strips").locator(".mem-char:not([hidden])").nth(61)  # LSTM
    box.hover()
    tip = page.get_by_test_id("arp-tip").inner_text()
    T = T0 - 20
    t = T - 60 + 1
    assert f"influence {rel['lstm'][t]:.3e}" in tip, tip
    wait_url(page, f"memory_target={T}")
    # Home reaches the first window, which the server sends when asked
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    wait_player(page, "!p.querySelector('.mem-wait:not([hidden])')", 120_000)
    assert page.get_by_test_id("mem-caption").inner_text() == _expected(names, text, 2)[0]
    seen = drag_slider(page, 0.6, moves=30)
    assert len(seen) >= 10
    stopped = play_then_pause(page, advance=2)
    assert (
        page.get_by_test_id("mem-head")
        .inner_text()
        .startswith(f"Predicting {token_label(text[stopped])!r} at position {stopped} ")
    )
    wait_player(page, "!p.querySelector('.mem-wait:not([hidden])')", 120_000)
    page.locator(".mem-head").scroll_into_view_if_needed()
    page.get_by_test_id("mem-lines-card").screenshot(
        path=str(artifacts_dir / "memory-influence.png")
    )
    # a copied link opens the same position
    focus_page(page)
    page.keyboard.press("End")
    for _ in range(7):
        page.keyboard.press("ArrowLeft")
    wait_url(page, f"memory_target={T0 - 7}")
    other = browser.new_context(viewport={"width": 1440, "height": 1000})
    try:
        fresh = other.new_page()
        open_app(fresh, app_server, "home")
        fresh.goto(page.url, wait_until="domcontentloaded")
        fresh.locator(f"{PLAYER}[data-frames]").wait_for(timeout=120_000)
        assert step(fresh) == T0 - 7
        fresh.wait_for_function(
            "document.querySelector('[data-testid=stBidiComponentIsolated]') !== null"
        )
        got = fresh.get_by_test_id("mem-caption").inner_text()
        assert got == page.get_by_test_id("mem-caption").inner_text()
    finally:
        other.close()
    assert_clean(page)


def test_the_browser_formats_exponents_like_python(app_server, page):
    _models()
    open_memory(page, app_server)
    rng = np.random.default_rng(0)
    values = [1e-12, 9.9996, 9.9995, 1.25e-5, 0.00015, 1.0, 123456.0, 5e-324, 0.0, 2.5, 3.5]
    values += [float(v) for v in 10 ** rng.uniform(-13, 2, 400)]
    values += [float(np.float32(v)) for v in rng.standard_normal(100)]
    for d in (1, 3):
        got = page.locator(PLAYER).evaluate(
            "(_, [xs, d]) => xs.map((x) => globalThis.autoregMemoryFmtExp(x, d))", [values, d]
        )
        assert got == [f"{v:.{d}e}" for v in values], d


def test_sections_can_be_jumped_to(app_server, page):
    open_memory(page, app_server)
    link = page.get_by_role("link", name="4. Sigmoid and tanh")
    link.click()
    page.wait_for_timeout(1200)
    top = page.get_by_test_id("stHeading").filter(has_text="4. Why a gate").bounding_box()
    assert 0 <= top["y"] < 400, top  # the section's heading is now at the top of the screen
    assert_clean(page)
