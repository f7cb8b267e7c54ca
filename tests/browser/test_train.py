"""The Train page in real Chromium: a live run, interaction while it trains, a reload
while it trains, two sessions.

Runs use small settings passed in the URL (the page's widgets are URL-bound), so they
take seconds, not minutes, even on a busy 2-core machine. The server keeps the trained
models in a temporary folder (``kept_server``), never in the user's cache.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from autoreg import lab
from autoreg.checkpoints import parse_checkpoint
from tests.browser.conftest import VIEWPORT, assert_clean, open_app, screenshot, wait_idle
from tests.browser.kept_server import serve_with_cache

pytestmark = pytest.mark.browser

LIVE = "train_corpus=python-docs&train_hidden=64&train_epochs=20"


@pytest.fixture(scope="module")
def app_server(chromium_path, tmp_path_factory) -> Iterator[str]:
    """This module's own server: its runs keep their models in a temporary folder."""
    with serve_with_cache(tmp_path_factory.mktemp("cache"), "server-train.log") as base:
        yield base


def curve_first_step(page) -> float:
    """The training step of the loss chart's first point (0 before the first step)."""
    return page.evaluate(
        "(() => { const g = document.querySelector('.stPlotlyChart .js-plotly-plot');"
        " const d = g && g._fullData; const x = d && d.length && d[0].x;"
        " return (x && x.length) ? Number(x[0]) : 0; })()"
    )


def curve_points(page) -> int:
    """Training-loss points drawn in the page's loss chart (0 before the first step)."""
    return page.evaluate(
        "(() => { const g = document.querySelector('.stPlotlyChart .js-plotly-plot');"
        " const d = g && g._fullData; return (d && d.length && d[0]._length) || 0; })()"
    )


def curve_last_step(page) -> float:
    """The training step of the loss chart's last point (0 before the first step).

    Why not count points: the chart thins long histories to ``max_points`` (600), so
    once a run passes 600 steps the count stops growing while the run goes on.
    """
    return page.evaluate(
        "(() => { const g = document.querySelector('.stPlotlyChart .js-plotly-plot');"
        " const d = g && g._fullData; const x = d && d.length && d[0].x;"
        " return (x && x.length) ? Number(x[x.length - 1]) : 0; })()"
    )


def progress_text(page) -> str:
    return page.get_by_test_id("stProgress").first.inner_text()


def wait_for(cond, timeout: float = 120.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def open_train(page, base: str, query: str) -> None:
    """Open the app at its root first: with a ``pages/`` folder, a server whose very first
    session opens ``/train`` directly runs in Streamlit's legacy multipage mode (no frame)."""
    open_app(page, base, "home")
    open_app(page, base, "train", query)


def start(page) -> None:
    page.get_by_role("button", name="Start training").click()
    page.get_by_test_id("stProgress").first.wait_for(timeout=60_000)


def test_live_run_survives_clicks_stops_and_downloads(app_server, page, artifacts_dir, tmp_path):
    open_train(page, app_server, LIVE)
    assert_clean(page)
    start(page)
    wait_for(lambda: curve_points(page) >= 5, what="the first loss points")
    first = curve_points(page)
    wait_for(lambda: curve_points(page) >= first + 20, what="the loss curve to move")
    assert "running" in progress_text(page)
    # the first sample appears after the first epoch
    wait_for(lambda: page.get_by_text("Sample after step").count() > 0, what="a text sample")
    screenshot(page, artifacts_dir / "train.png")

    # click elsewhere while it trains: a setting on this page, then another page and back
    page.get_by_test_id("stButtonGroup").filter(has_text="GRU").get_by_text("GRU").click()
    before = curve_last_step(page)
    page.get_by_test_id("stSidebarNav").get_by_text("Home", exact=True).click()
    wait_idle(page)
    page.wait_for_timeout(2000)
    page.get_by_test_id("stSidebarNav").get_by_text("Train", exact=True).click()
    page.get_by_test_id("stProgress").first.wait_for(timeout=60_000)
    wait_for(lambda: curve_last_step(page) > before, what="training to go on after navigating")
    assert "running" in progress_text(page)

    page.get_by_role("button", name="Stop").click()
    wait_for(lambda: "stopped" in progress_text(page), what="the run to stop")
    page.get_by_text("is ready").wait_for(timeout=60_000)
    assert "lstm-char-python-docs" in page.get_by_test_id("stAlertContentSuccess").inner_text()
    with page.expect_download() as info:
        page.get_by_role("button", name="Download checkpoint (.safetensors)").click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.suffix == ".safetensors"
    ckpt = parse_checkpoint(path.read_bytes())
    assert ckpt.card["kind"] == "sequence" and ckpt.card["config"]["hidden_size"] == 64
    assert ckpt.card["trained_in"] == "browser"
    assert_clean(page)


def test_a_running_run_is_drawn_again_after_a_reload_and_in_a_new_tab(app_server, page):
    open_train(page, app_server, LIVE)
    start(page)
    wait_for(lambda: curve_points(page) >= 5, what="the first loss points")
    label = page.get_by_role("heading", name="Run:").inner_text()
    before = curve_last_step(page)
    page.reload(wait_until="domcontentloaded")  # a new session of the same browser
    page.get_by_test_id("stProgress").first.wait_for(timeout=60_000)
    assert page.get_by_role("heading", name="Run:").inner_text() == label
    wait_for(lambda: curve_last_step(page) > before, what="the reloaded page to follow the run")
    assert curve_first_step(page) <= 2  # the whole history, not only what came after
    assert "running" in progress_text(page)
    assert page.get_by_role("button", name="Start training").is_disabled()
    # a link opened in another tab of this browser shows the same run, and can stop it
    tab = page.context.new_page()
    tab.goto(f"{app_server}/train", wait_until="domcontentloaded")
    tab.get_by_test_id("stProgress").first.wait_for(timeout=60_000)
    assert tab.get_by_role("heading", name="Run:").inner_text() == label
    tab.get_by_role("button", name="Stop").click()
    wait_for(lambda: "stopped" in progress_text(page), what="the first tab to see the stop")
    page.get_by_text("is ready").wait_for(timeout=60_000)
    assert (
        "kept on this server for this browser only"
        in page.get_by_test_id("stAlertContentSuccess").inner_text()
    )
    # the finished run's model is this browser's after another reload
    page.reload(wait_until="domcontentloaded")
    wait_idle(page)
    run_label = label.removeprefix("Run: ").strip()
    assert any(o.startswith(run_label + " (yours") for o in _model_options(page))
    assert_clean(page)
    tab.close()


def _model_options(page) -> list[str]:
    """The options of the Step-through page's model picker, reached through the menu."""
    page.get_by_test_id("stSidebarNav").get_by_text("Step through", exact=True).click()
    wait_idle(page)
    page.get_by_test_id("stSelectbox").first.click()
    options = page.get_by_role("option")
    options.first.wait_for(timeout=30_000)
    texts = options.all_inner_texts()
    page.keyboard.press("Escape")
    return texts


def test_two_sessions_train_at_once_and_keep_their_own(app_server, browser, artifacts_dir):
    pages = []
    for _ in range(2):
        context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
        pg = context.new_page()
        pages.append(pg)
    a, b = pages
    try:
        # as many epochs as the page allows: neither run may finish before the other has
        # drawn its second point (a tiny PixelCNN's 8 default epochs took seconds)
        many = lab.MAX_EPOCHS
        open_train(a, app_server, f"train_corpus=python-code&train_hidden=32&train_epochs={many}")
        open_train(b, app_server, "train_family=PixelCNN&train_dataset=digits-8x8"
                 f"&train_channels=16&train_blocks=1&train_pixel_epochs={many}")  # fmt: skip
        start(a)
        start(b)
        # both train at the same time, each in its own session...
        for p in pages:
            wait_for(lambda p=p: curve_points(p) >= 2, timeout=180, what="both runs to train")
        assert all("running" in progress_text(p) for p in pages)
        # ...then each is stopped; a stopped run keeps the model trained so far
        for p in pages:
            p.get_by_role("button", name="Stop").click()
        for p in pages:
            p.get_by_text("is ready").wait_for(timeout=180_000)
        label_a = a.get_by_test_id("stAlertContentSuccess").first.inner_text()
        label_b = b.get_by_test_id("stAlertContentSuccess").first.inner_text()
        assert "lstm-char-python-code #1" in label_a and "pixelcnn" not in label_a
        assert "pixelcnn-digits-8x8" in label_b and "python-code" not in label_b
        assert b.get_by_test_id("stImage").count() > 0  # B's samples are images
        # A's model joined A's lists only
        assert any("lstm-char-python-code #1 (yours" in o for o in _model_options(a))
        assert not any("(yours" in o for o in _model_options(b))
        # a reload of B still shows only B's own
        b.reload(wait_until="domcontentloaded")
        wait_idle(b)
        options_b = _model_options(b)
        assert not any("python-code" in o for o in options_b)
        for p in pages:
            assert p.get_by_test_id("stException").count() == 0
    finally:
        for p in pages:
            p.context.close()
