"""Real-browser fixtures: a ``streamlit run`` server on a loopback port and Debian's chromium.

The server runs the real ``app.py`` exactly as ``make run`` does, except that it binds a
free port on 127.0.0.1 and never watches files. Browser tests skip when chromium is
missing, except under ``CI=true``, where a missing browser is a failure.

``AUTOREG_SCREENSHOTS=assets/screenshots`` makes ``test_every_page.py`` also save the top
of each page in ``README_SHOTS`` there, as it opens: that is how the README's pictures
are refreshed (``make screenshots``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from autoreg.bench.browser import CHROMIUM_FLAGS, VIEWPORT, serve  # one definition of the browser
from tests.conftest import ROOT

# Opening a page URL directly makes Streamlit probe <page>/_stcore/health and host-config
# first; those two 404s are the framework's, not ours.
FRAMEWORK_PROBES = ("/_stcore/health", "/_stcore/host-config")

SCREENSHOTS_ENV = "AUTOREG_SCREENSHOTS"
README_SHOTS = ("home", "step", "units", "masks")  # url paths the README shows
README_SHOT_SIZE = {"width": 1440, "height": 1600}  # the top of the page, as opened


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def required_program(path: str | None, what: str) -> str:
    """``path`` of a Debian program the browser tests need; when it is missing they
    skip, except under ``CI=true``, where a missing program is a failure."""
    if path is None:
        message = f"Debian's {what} is not installed (make test installs it as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + f"; under CI=true a missing {what} is a failure")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def chromium_path() -> str:
    return required_program(shutil.which("chromium"), "chromium")


@contextlib.contextmanager
def serve_app(log_name: str = "server.log") -> Iterator[str]:
    """Run ``streamlit run app.py`` on a free loopback port; yield its base URL; stop it."""
    log_path = ROOT / "tests" / "artifacts" / log_name
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        try:
            running = stack.enter_context(serve(ROOT / "app.py", startup_s=120, log=log_path))
        except RuntimeError as exc:
            pytest.fail(str(exc))
        yield running.url


@pytest.fixture(scope="session")
def app_server(chromium_path) -> Iterator[str]:
    """The app, served once for the whole browser test session."""
    with serve_app() as base:
        yield base


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@dataclass
class Console:
    """Browser console errors and uncaught page errors seen by one page."""

    errors: list[str] = field(default_factory=list)

    def on_console(self, msg) -> None:
        if msg.type != "error":
            return
        url = (msg.location or {}).get("url", "")
        if any(probe in url for probe in FRAMEWORK_PROBES):
            return
        self.errors.append(f"{msg.text} ({url})")

    def on_page_error(self, exc) -> None:
        self.errors.append(f"page error: {exc}")


@pytest.fixture
def page(browser):
    """A fresh browser context and page; ``page.console.errors`` collects errors."""
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    yield watched_page(context)
    context.close()


def watched_page(context):
    """A new page of ``context`` whose console errors and page errors are collected in
    ``page.console`` (``assert_clean`` fails on them)."""
    pg = context.new_page()
    pg.console = Console()
    pg.on("console", pg.console.on_console)
    pg.on("pageerror", pg.console.on_page_error)
    return pg


def wait_idle(page, timeout: float = 90_000) -> None:
    """Wait until Streamlit is connected, its script is not running, and nothing loads."""
    page.wait_for_selector(
        "[data-testid=stApp][data-test-connection-state=CONNECTED]", timeout=timeout
    )
    page.wait_for_selector(
        "[data-testid=stApp][data-test-script-state=notRunning]", timeout=timeout
    )
    page.wait_for_function(
        "document.querySelectorAll('[data-testid=stSkeleton]').length === 0", timeout=timeout
    )
    page.wait_for_timeout(300)


def open_app(page, base: str, url_path: str, query: str = "") -> None:
    """Navigate to a page of the app and wait until it is idle."""
    path = "" if url_path == "home" else url_path
    page.goto(f"{base}/{path}{'?' + query if query else ''}", wait_until="domcontentloaded")
    wait_idle(page)


def assert_clean(page) -> None:
    """No exception box on the page and no console error."""
    boxes = page.get_by_test_id("stException")
    assert boxes.count() == 0, boxes.first.inner_text()
    assert not page.console.errors, page.console.errors


def screenshot(page, path, max_height: int = 7000) -> None:
    """Save a screenshot of the whole page.

    Streamlit scrolls inside its main container, so Playwright's ``full_page`` sees only
    the viewport; grow the viewport to the content's height instead, then restore it.
    """
    height = page.evaluate(
        "Math.max(...[...document.querySelectorAll('[data-testid=stMain], "
        "[data-testid=stMainBlockContainer]')].map(e => e.scrollHeight), 0)"
    )
    size = page.viewport_size
    page.set_viewport_size(
        {"width": size["width"], "height": max(size["height"], min(height + 80, max_height))}
    )
    page.wait_for_timeout(600)
    page.screenshot(path=str(path))
    page.set_viewport_size(size)


def readme_screenshot(page, url_path: str) -> Path | None:
    """Save the top of a README page into ``$AUTOREG_SCREENSHOTS``, when that is set."""
    folder = os.environ.get(SCREENSHOTS_ENV)
    if not folder or url_path not in README_SHOTS:
        return None
    path = (ROOT / folder if not Path(folder).is_absolute() else Path(folder)) / f"{url_path}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    page.set_viewport_size(README_SHOT_SIZE)
    page.wait_for_timeout(600)  # charts redraw at the new width
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
    return path
