"""Classroom load: many browser sessions opening pages and stepping against one server.

``python -m autoreg.bench classroom_load`` starts the real app once and opens
``AUTOREG_BENCH_SESSIONS`` (default 20) Playwright browser contexts in one headless
Chromium, the way a class follows a teacher's link. A scout first finds the pages that
have a stepping control (the generic discovery of ``autoreg.bench.browser``) and warms
the caches; then every session at once opens one of those pages (spread round-robin),
clicks its stepping control for ``AUTOREG_BENCH_LOAD_SECONDS`` (default 60) after the
page is ready, timing each click to the redrawn chart, and opens one more page.
Between clicks a student looks at the result: ``AUTOREG_BENCH_THINK_SECONDS`` (default
2) on average, drawn uniformly from half to one and a half times that per click with a
per-session seed, so the sessions do not click in lockstep; 0 clicks back to back (a
stress test rather than a class).
Reported: p50/p95/max step latency and page load time over all sessions, and every
error (exception box, console error, page crash, timeout). Targets: no errors and p95
step latency <= 3 s.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from pathlib import Path

from autoreg.bench.browser import (
    CHROMIUM_FLAGS,
    CLICK_JS,
    FIND_REVEAL_JS,
    FIND_STEP_JS,
    PLAYER_CLICK_JS,
    PLAYER_JS,
    QUIET_MS,
    ROOT,
    TIMEOUT_MS,
    VIEWPORT,
    chromium_path,
    cpu_seconds,
    machine,
    page_url,
    serve,
)
from autoreg.bench.browser import WAIT_LOAD_JS as _WAIT_JS

TARGET_P95_S = 3.0
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


async def _open(page, url: str, args: dict) -> tuple[float, dict | None]:
    """Open a page; seconds to idle, and its stepping control (revealed if hidden)."""
    await page.goto(url, wait_until="commit", timeout=TIMEOUT_MS)
    seconds = await page.evaluate(_WAIT_JS, args) / 1000
    if await page.evaluate(f"!!({PLAYER_JS.strip()})()"):  # stepping runs in the browser
        return seconds, {"key": "player", "player": True}
    control, tried = await page.evaluate(FIND_STEP_JS), []
    while control is None and len(tried) < 3:
        revealed = await page.evaluate(FIND_REVEAL_JS, tried)
        if revealed is None:
            break
        tried.append(revealed)
        await page.evaluate(CLICK_JS, {"selector": "[data-bench-reveal]", **args})
        await page.evaluate(_WAIT_JS, args)
        control = await page.evaluate(FIND_STEP_JS)
    return seconds, control


async def _session(
    browser, base: str, plan: list[str], k: int, seconds: float, think: float, out
) -> None:
    """One student: open the first page of ``plan`` and step it for ``seconds`` (looking
    at each step for about ``think`` seconds), then open the other pages once each."""
    context = await browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    page = await context.new_page()

    def on_console(msg):
        url = (msg.location or {}).get("url", "")
        if msg.type == "error" and not any(p in url for p in FRAMEWORK_PROBES):
            out["errors"].append(f"session {k}: console: {msg.text[:200]}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: out["errors"].append(f"session {k}: {exc}"))
    args = {"quiet": QUIET_MS, "timeout": TIMEOUT_MS}
    rng = random.Random(k)
    try:
        for i, name in enumerate(plan):
            try:
                load_s, control = await _open(page, page_url(base, name), args)
                out["loads"].append(load_s)
                deadline = time.monotonic() + seconds
                while i == 0 and control and time.monotonic() < deadline:
                    if control.get("player"):
                        ms = (await page.evaluate(PLAYER_CLICK_JS, args))["ms"]
                    else:
                        step = {"selector": "[data-bench-step]", **args}
                        ms = await page.evaluate(CLICK_JS, step)
                    out["steps"].append(ms / 1000)
                    # a click returns after QUIET_MS without change: that is part of the look
                    pause = think * rng.uniform(0.5, 1.5) - QUIET_MS / 1000 if think else 0
                    await asyncio.sleep(max(0.0, pause))
                if await page.locator("[data-testid=stException]").count():
                    out["errors"].append(f"session {k}: exception box on {name}")
            except Exception as exc:  # a timeout or crash is a measured error, not a stop
                out["errors"].append(f"session {k}: {name}: {str(exc).splitlines()[0]}")
    finally:
        await context.close()


async def _classroom(base: str, sessions: int, seconds: float, think: float) -> dict:
    from playwright.async_api import async_playwright

    from autoreg.registry import PAGES

    pages = [p.url_path for p in PAGES]
    out: dict[str, list] = {"steps": [], "loads": [], "errors": [], "stepping": []}
    args = {"quiet": QUIET_MS, "timeout": TIMEOUT_MS}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        scout = await browser.new_page(viewport=VIEWPORT)
        for name in pages:  # which pages can be stepped (and warm the shared caches)
            if (await _open(scout, page_url(base, name), args))[1] is not None:
                out["stepping"].append(name)
        await scout.close()
        stepping = out["stepping"] or pages
        plans = []
        for k in range(sessions):
            first = stepping[k % len(stepping)]
            other = pages[k % len(pages)]
            plans.append([first] + ([other] if other != first else []))
        await asyncio.gather(
            *(_session(browser, base, plan, k, seconds, think, out) for k, plan in enumerate(plans))
        )
        await browser.close()
    return out


def machine_cpu_seconds() -> float:
    """CPU time (user + nice + system) of the whole machine so far, from /proc/stat."""
    user, nice, system = (int(v) for v in Path("/proc/stat").read_text().split()[1:4])
    return (user + nice + system) / os.sysconf("SC_CLK_TCK")


def bench_classroom_load() -> dict:
    """p50/p95 step latency and errors of N concurrent sessions against one server."""
    sessions = int(os.environ.get("AUTOREG_BENCH_SESSIONS", "20"))
    seconds = float(os.environ.get("AUTOREG_BENCH_LOAD_SECONDS", "60"))
    think = float(os.environ.get("AUTOREG_BENCH_THINK_SECONDS", "2"))
    started = time.monotonic()
    with serve(ROOT / "app.py") as app:
        server0, machine0 = cpu_seconds(app.proc.pid), machine_cpu_seconds()
        out = asyncio.run(_classroom(app.url, sessions, seconds, think))
        server_cpu = cpu_seconds(app.proc.pid) - server0
        other_cpu = machine_cpu_seconds() - machine0 - server_cpu
        mem = app.rss_mb()
    steps, loads = out["steps"], out["loads"]
    p95 = percentile(steps, 95)

    def r(x):
        return None if x is None else round(x, 2)

    return {
        "sessions": sessions,
        "seconds": seconds,
        "think_s": think,
        "wall_s": round(time.monotonic() - started, 1),
        "steps": len(steps),
        "step_p50_s": r(percentile(steps, 50)),
        "step_p95_s": r(p95),
        "step_max_s": r(max(steps, default=None)),
        "stepping_pages": out["stepping"],
        "page_loads": len(loads),
        "load_p50_s": r(statistics.median(loads) if loads else None),
        "load_p95_s": r(percentile(loads, 95)),
        "errors": len(out["errors"]),
        "error_samples": out["errors"][:10],
        "target_p95_s": TARGET_P95_S,
        "ok": not out["errors"] and p95 is not None and p95 <= TARGET_P95_S,
        "server_rss_mb": mem["VmRSS"],
        # where the CPU went: the app server, and everything else (the Chromium
        # renderers of all sessions, Playwright, any other job on the machine)
        "server_cpu_s": round(server_cpu, 1),
        "other_cpu_s": round(other_cpu, 1),
        **machine(),
    }
