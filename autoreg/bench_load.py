"""Classroom load: many browser sessions opening pages and stepping against one server.

``python -m autoreg.bench classroom_load`` starts the real app once and opens
``AUTOREG_BENCH_SESSIONS`` (default 20) Playwright browser contexts in one headless
Chromium, the way a class follows a teacher's link. Each session walks the registered
pages from its own starting point, opens each, and clicks its stepping control a few
times (the same generic control discovery and click-to-redrawn-chart timing as
``autoreg.bench_browser``), until ``AUTOREG_BENCH_LOAD_SECONDS`` (default 60) have
passed. Reported: p50/p95/max step latency and page load time over all sessions, and
every error (exception box, console error, page crash, timeout). Targets: no errors and
p95 step latency <= 3 s.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time

from autoreg.bench_browser import (
    CHROMIUM_FLAGS,
    CLICK_JS,
    FIND_REVEAL_JS,
    FIND_STEP_JS,
    QUIET_MS,
    ROOT,
    TIMEOUT_MS,
    VIEWPORT,
    chromium_path,
    machine,
    page_url,
    serve,
)
from autoreg.bench_browser import WAIT_LOAD_JS as _WAIT_JS

TARGET_P95_S = 3.0
CLICKS_PER_PAGE = 5
# Opening a page URL directly makes Streamlit probe <page>/_stcore/health and
# host-config first; those 404s are the framework's, not the app's.
FRAMEWORK_PROBES = ("/_stcore/health", "/_stcore/host-config")


def percentile(xs: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation; None for no data."""
    if not xs:
        return None
    xs = sorted(xs)
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


async def _session(browser, base: str, pages: list[str], offset: int, deadline: float, out):
    """One student: open pages in turn from ``offset`` and step each, until ``deadline``."""
    context = await browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    page = await context.new_page()

    def on_console(msg):
        url = (msg.location or {}).get("url", "")
        if msg.type == "error" and not any(p in url for p in FRAMEWORK_PROBES):
            out["errors"].append(f"session {offset}: console: {msg.text[:200]}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: out["errors"].append(f"session {offset}: {exc}"))
    args = {"quiet": QUIET_MS, "timeout": TIMEOUT_MS}
    i = offset
    try:
        while time.monotonic() < deadline:
            name = pages[i % len(pages)]
            i += 1
            try:
                await page.goto(page_url(base, name), wait_until="commit", timeout=TIMEOUT_MS)
                out["loads"].append(await page.evaluate(_WAIT_JS, args) / 1000)
                control, tried = await page.evaluate(FIND_STEP_JS), []
                while control is None and len(tried) < 3:
                    revealed = await page.evaluate(FIND_REVEAL_JS, tried)
                    if revealed is None:
                        break
                    tried.append(revealed)
                    await page.evaluate(CLICK_JS, {"selector": "[data-bench-reveal]", **args})
                    await page.evaluate(_WAIT_JS, args)
                    control = await page.evaluate(FIND_STEP_JS)
                for _ in range(CLICKS_PER_PAGE if control else 0):
                    if time.monotonic() >= deadline:
                        break
                    ms = await page.evaluate(CLICK_JS, {"selector": "[data-bench-step]", **args})
                    out["steps"].append(ms / 1000)
                boxes = await page.locator("[data-testid=stException]").count()
                if boxes:
                    out["errors"].append(f"session {offset}: exception box on {name}")
            except Exception as exc:  # a timeout or crash is a measured error, not a stop
                out["errors"].append(f"session {offset}: {name}: {str(exc).splitlines()[0]}")
    finally:
        await context.close()


async def _classroom(base: str, sessions: int, seconds: float) -> dict:
    from playwright.async_api import async_playwright

    from autoreg.ui.registry import PAGES

    pages = [p.url_path for p in PAGES]
    out: dict[str, list] = {"steps": [], "loads": [], "errors": []}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        deadline = time.monotonic() + seconds
        await asyncio.gather(
            *(_session(browser, base, pages, k, deadline, out) for k in range(sessions))
        )
        await browser.close()
    return out


def bench_classroom_load() -> dict:
    """p50/p95 step latency and errors of N concurrent sessions against one server."""
    sessions = int(os.environ.get("AUTOREG_BENCH_SESSIONS", "20"))
    seconds = float(os.environ.get("AUTOREG_BENCH_LOAD_SECONDS", "60"))
    started = time.monotonic()
    with serve(ROOT / "app.py") as app:
        out = asyncio.run(_classroom(app.url, sessions, seconds))
        mem = app.rss_mb()
    steps, loads = out["steps"], out["loads"]
    p95 = percentile(steps, 95)

    def r(x):
        return None if x is None else round(x, 2)

    return {
        "sessions": sessions,
        "seconds": seconds,
        "wall_s": round(time.monotonic() - started, 1),
        "steps": len(steps),
        "step_p50_s": r(percentile(steps, 50)),
        "step_p95_s": r(p95),
        "step_max_s": r(max(steps, default=None)),
        "page_loads": len(loads),
        "load_p50_s": r(statistics.median(loads) if loads else None),
        "load_p95_s": r(percentile(loads, 95)),
        "errors": len(out["errors"]),
        "error_samples": out["errors"][:10],
        "target_p95_s": TARGET_P95_S,
        "ok": not out["errors"] and p95 is not None and p95 <= TARGET_P95_S,
        "server_rss_mb": mem["VmRSS"],
        **machine(),
    }
