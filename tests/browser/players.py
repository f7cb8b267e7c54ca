"""Helpers for browser tests of in-browser player views (autoreg.ui.player).

Playwright's CSS locators pierce the component's shadow root, so ``page.locator(PLAYER)``
finds the player; plain ``document.querySelector`` does not, hence ``HOST``.
"""

from __future__ import annotations

from tests.browser.conftest import open_app

PLAYER = "[data-testid=autoreg-player]"

# the player's root element, inside a component's shadow root
HOST = (
    "[...document.querySelectorAll('[data-testid=stBidiComponentIsolated]')]"
    ".map((e) => e.shadowRoot && e.shadowRoot.querySelector('[data-testid=autoreg-player]'))"
    ".find(Boolean)"
)


def open_view(page, base: str, url_path: str, query: str = "", timeout: float = 120_000) -> None:
    """Open a page that mounts a player (after "/", so a fresh server routes it through
    app.py's navigation) and wait until the player has drawn."""
    open_app(page, base, "home")
    open_app(page, base, url_path, query)
    page.locator(f"{PLAYER}[data-frames]").wait_for(timeout=timeout)


def wait_player(page, condition: str, timeout: float = 30_000) -> None:
    """Wait until ``condition`` (JS, with ``p`` the player's root element) holds."""
    page.wait_for_function(
        f"() => {{ const p = {HOST}; return !!p && ({condition}); }}", timeout=timeout
    )


def step(page) -> int:
    return int(page.locator(PLAYER).get_attribute("data-step"))


def frames(page) -> int:
    return int(page.locator(PLAYER).get_attribute("data-frames"))


def wait_url(page, text: str, timeout: float = 30_000) -> None:
    page.wait_for_function(f"location.search.includes({text!r})", timeout=timeout)


def focus_page(page) -> None:
    """Click the page title: keys then go to the player, not to a widget."""
    page.get_by_test_id("stHeading").first.click()


def drag_slider(page, to_fraction: float = 0.5, moves: int = 40) -> set[int]:
    """Drag the player's slider from its start to ``to_fraction``; the steps seen on the way."""
    slider = page.get_by_test_id("arp-slider")
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 4, y)
    page.mouse.down()
    seen = set()
    for i in range(1, moves + 1):
        page.mouse.move(box["x"] + 4 + (box["width"] - 8) * to_fraction * i / moves, y)
        seen.add(step(page))
    page.mouse.up()
    return seen


def play_then_pause(page, advance: int = 3, timeout: float = 30_000) -> int:
    """Press Play, wait until the cursor moved ``advance`` steps, press Pause; the step
    the player stopped on (it must be the one on screen and stay there)."""
    start = step(page)
    page.get_by_test_id("arp-play").click()
    page.locator(f"{PLAYER}[data-playing=true]").wait_for(timeout=5_000)
    wait_player(page, f"+p.dataset.step >= {start + advance}", timeout)
    page.get_by_test_id("arp-play").click()
    assert page.locator(PLAYER).get_attribute("data-playing") == "false"
    stopped = step(page)
    page.wait_for_timeout(1200)
    assert step(page) == stopped, "the cursor moved after the pause"
    return stopped


def overlapping(page, selector: str) -> list[tuple[str, str]]:
    """Pairs of visible elements matching ``selector`` whose boxes intersect."""
    boxes = page.locator(selector).evaluate_all(
        "(els) => els.filter((e) => e.offsetParent !== null).map((e) => {"
        " const r = e.getBoundingClientRect();"
        " return [e.textContent, r.left, r.top, r.right, r.bottom]; })"
    )
    out = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5 and a[2] < b[4] - 0.5 and b[2] < a[4] - 0.5:
                out.append((a[0], b[0]))
    return out


def picker_options(page, key: str) -> list[str]:
    """The options of a selectbox, found by its widget key, read from its open list."""
    page.locator(f".st-key-{key} button[aria-haspopup=listbox]").first.click()
    options = page.get_by_role("option")
    options.first.wait_for(timeout=30_000)
    texts = options.all_inner_texts()
    page.keyboard.press("Escape")
    return texts


def pixel_canvas_box(page) -> dict:
    """Wait for Generate pixels' drawing canvas, scroll to it, and return its box."""
    from tests.browser.conftest import wait_idle

    canvas = page.locator("canvas.pc-canvas")
    try:
        canvas.wait_for(timeout=20_000)
    except Exception:  # seen once per fresh server: the component mounts only after a reload
        page.reload()
        wait_idle(page)
    canvas.scroll_into_view_if_needed()
    return canvas.bounding_box()
