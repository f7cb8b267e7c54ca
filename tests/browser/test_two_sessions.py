"""Two browser sessions on different models and inputs, stepping at once, stay apart.

Shipped models and traces are shared between sessions (``st.cache_resource``); what a
session chose and where its cursor is must not be. The page is found generically: the
first registered page with a model picker offering two models and a stepping control
(the benchmark's discovery, ``autoreg.bench.browser``). Both sessions step concurrently
(asyncio, one browser, two contexts), a different number of times each.
"""

from __future__ import annotations

import asyncio
import threading
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from autoreg.bench import browser as bb
from autoreg.registry import PAGES
from tests.browser.conftest import CHROMIUM_FLAGS, FRAMEWORK_PROBES, VIEWPORT
from tests.browser.players import PLAYER

pytestmark = pytest.mark.browser
CLICKS = (3, 5)  # session A steps 3 times, session B 5 times
ARGS = {"quiet": 400, "timeout": 120_000}


def _pick_page(base: str, chromium: str):
    """(page, model key, two models, input key or None, two inputs) for the test."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_context(viewport=VIEWPORT).new_page()
        try:
            for spec in PAGES:
                bb.load_page(page, bb.page_url(base, spec.url_path))
                models = {k: v for k, v in bb.model_keys(page).items() if len(v) >= 2}
                if not models or bb.reveal_step(page) is None:
                    continue
                model_key, options = next(iter(models.items()))
                inputs = _input_options(page)
                return spec.url_path, model_key, options[:2], *inputs
        finally:
            browser.close()
    pytest.skip("no registered page has a model picker with two models and a step control")


def _input_options(page) -> tuple[str | None, list[str]]:
    keys = page.evaluate(
        "[...document.querySelectorAll('[data-testid=stMain] [data-testid=stSelectbox]')]"
        ".map(e => [...e.closest('[class*=\"st-key-\"]').classList]"
        ".find(c => c.startsWith('st-key-')).slice(7)).filter(k => /input|preset|prompt/.test(k))"
    )
    for key in keys:
        page.locator(f".st-key-{key} button[aria-haspopup=listbox]").first.click()
        page.wait_for_selector("[role=option]")
        options = page.locator("[role=option]").all_inner_texts()
        page.keyboard.press("Escape")
        if len(options) >= 2:
            return key, options[:2]
    return None, []


async def _session(browser, url: str, clicks: int, errors: list[str]) -> dict:
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda m: (
            m.type == "error"
            and not any(p in (m.location or {}).get("url", "") for p in FRAMEWORK_PROBES)
            and errors.append(m.text)
        ),
    )
    await page.goto(url, wait_until="commit")
    await page.evaluate(bb.WAIT_LOAD_JS, ARGS)
    tried: list[str] = []
    control = await page.evaluate(bb.FIND_STEP_JS)
    while control is None and len(tried) < 3:
        revealed = await page.evaluate(bb.FIND_REVEAL_JS, tried)
        assert revealed is not None, "the stepping control disappeared"
        tried.append(revealed)
        await page.evaluate(bb.CLICK_JS, {"selector": "[data-bench-reveal]", **ARGS})
        await page.evaluate(bb.WAIT_LOAD_JS, ARGS)
        control = await page.evaluate(bb.FIND_STEP_JS)
    start = parse_qs(urlsplit(page.url).query)
    player = page.locator(f"{PLAYER}[data-frames]")
    if await player.count():  # an in-browser player: → steps it, with no server rerun
        await page.get_by_test_id("stHeading").first.click()
        for _ in range(clicks):
            await page.keyboard.press("ArrowRight")
    else:
        for _ in range(clicks):
            await page.evaluate(bb.CLICK_JS, {"selector": "[data-bench-step]", **ARGS})
    await page.evaluate(bb.WAIT_LOAD_JS, ARGS)
    # In-browser players report the cursor once it rests (debounced), then the server
    # writes it into the URL: wait for that, up to a bound.
    for _ in range(60):
        if _moved_by({"start": start, "query": parse_qs(urlsplit(page.url).query)}, clicks):
            break
        await asyncio.sleep(0.25)
    await page.evaluate(bb.WAIT_LOAD_JS, ARGS)
    state = {
        "start": start,
        "query": parse_qs(urlsplit(page.url).query),
        "combos": await page.evaluate(
            "Object.fromEntries([...document.querySelectorAll('[class*=\"st-key-\"]')]"
            ".filter(e => e.querySelector('input[role=combobox]'))"
            ".map(e => [[...e.classList].find(c => c.startsWith('st-key-')).slice(7),"
            " e.querySelector('input[role=combobox]').value]))"
        ),
        "exceptions": await page.locator("[data-testid=stException]").count(),
    }
    await context.close()
    return state


async def _both(chromium: str, urls: list[str], errors: list[str]) -> list[dict]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            return await asyncio.gather(
                *(_session(browser, u, n, errors) for u, n in zip(urls, CLICKS, strict=True))
            )
        finally:
            await browser.close()


def _moved_by(state: dict, clicks: int) -> set[str]:
    """URL keys whose integer value moved by exactly ``clicks`` during the stepping."""
    keys = set()
    for key, (value,) in state["query"].items():
        before = state["start"].get(key, ["0"])[0]
        numbers = value.lstrip("-").isdigit() and before.lstrip("-").isdigit()
        if numbers and int(value) - int(before) == clicks:
            keys.add(key)
    return keys


def _in_fresh_thread(func, *args):
    """Run ``func`` in a thread with no event loop and return its result.

    Other browser tests keep a session-wide sync Playwright (an asyncio loop) on the main
    thread, and Playwright refuses to start a second one, sync or async, beside it.
    """
    out: dict = {}

    def target() -> None:
        try:
            out["value"] = func(*args)
        except BaseException as exc:  # re-raised (with pytest's skip/fail) in the test
            out["error"] = exc

    worker = threading.Thread(target=target)
    worker.start()
    worker.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_two_sessions_stepping_at_once_never_share_state(app_server, chromium_path):
    _in_fresh_thread(_two_sessions, app_server, chromium_path)


def _two_sessions(app_server: str, chromium_path: str) -> None:
    url_path, model_key, models, input_key, inputs = _pick_page(app_server, chromium_path)
    urls = []
    for i in range(2):
        query = {model_key: models[i], **({input_key: inputs[i]} if input_key else {})}
        urls.append(bb.page_url(app_server, url_path, urlencode(query)))
    errors: list[str] = []
    a, b = asyncio.run(_both(chromium_path, urls, errors))
    assert not errors, errors
    assert a["exceptions"] == b["exceptions"] == 0
    for state, i in ((a, 0), (b, 1)):
        assert state["combos"][model_key] == models[i], (state["combos"], models[i])
        # Streamlit leaves a widget at its default value out of the URL
        assert state["query"].get(model_key, [models[i]]) == [models[i]], state["query"]
        if input_key:
            assert state["combos"][input_key] == inputs[i]
    cursor = _moved_by(a, CLICKS[0]) & _moved_by(b, CLICKS[1])
    assert cursor, f"no URL cursor moved by {CLICKS} in the two sessions: {a['query']} {b['query']}"
