"""The Memory page in real Chromium: its main controls, and a screenshot to look at.

``tests/artifacts/memory.png`` is the page in its default state: the three cells'
gradient-influence curves and the recall accuracy against the lag.
"""

from __future__ import annotations

import pytest

from autoreg.pretrained import list_pretrained
from tests.browser.conftest import assert_clean, open_app, screenshot, wait_idle

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
        "document.querySelectorAll('[data-testid=stPlotlyChart]').length >= 8", timeout=90_000
    )
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
    assert page.get_by_test_id("stPlotlyChart").count() >= 8
    charts = page.get_by_test_id("stPlotlyChart")
    headings = page.get_by_test_id("stHeading").all_inner_texts()
    assert any("How far back" in h for h in headings)
    lines = legend(page, 0)
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

    choose(page, "Input", "English prose")
    assert "memory_preset=English" in page.url
    target = widget(page, "stSlider", "Predicted character T (position in the text)").get_by_role(
        "slider"
    )
    target.focus()
    target.press("ArrowLeft")
    wait_idle(page)
    assert "memory_target=" in page.url
    assert_clean(page)

    widget(page, "stRadio", "Values from").get_by_text("GRU").click()
    wait_idle(page)
    assert_clean(page)


def test_a_shared_link_reopens_the_same_view(app_server, page):
    open_memory(page, app_server, "memory_lag=12&memory_letter=e")
    assert_clean(page)
    assert "12" in widget(page, "stSlider", "Lag L").inner_text().split()
    assert "e" in widget(page, "stSelectbox", "Letter").inner_text()
