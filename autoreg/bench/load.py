"""Classroom load: N students' sessions on one server, and one real browser beside them.

``python -m autoreg.bench classroom_load`` measures what a class costs the server. In a
classroom every student has a machine of their own, so what reaches the server is their
messages, not their rendering; the students here are protocol clients
(``autoreg.bench.students`` over ``autoreg.bench.protocol``): each sends the websocket
messages a browser sends, opens the teacher's link, changes models and inputs, steps,
and moves between pages, paced like a student. They run in a subprocess of their own,
so their CPU is counted apart from the server's, and talk only to 127.0.0.1.

For each N in ``AUTOREG_BENCH_SESSIONS`` (default ``10,30,60``), one line:

1. a fresh ``streamlit run app.py`` on a loopback port; one protocol session opens
   every page's link once (the teacher's demo before the class: shared caches warm);
2. one real Chromium (``autoreg.bench.browser``) opens Step through and clicks its
   player's next button (``PLAYER_CLICK_JS``: click to the frame after the redraw) on
   the idle server, then again all the time the class works, with a pause between clicks
   and a reload every ``RELOAD_EVERY`` clicks (its page load, timed the same way);
3. the class: N sessions for ``AUTOREG_BENCH_LOAD_SECONDS`` (default 90), a gesture
   every ``AUTOREG_BENCH_THINK_SECONDS`` (default 4) on average.

Reported: the server's rerun time (a ``BackMsg`` sent to its ``script_finished``),
p50/p95/max over every rerun a student's gesture caused, and per page, per action and
per page and action (the polls of a drawing generation apart); how many steps stayed in
the browser and how many reached the server; the Chromium session's click-to-redraw p95
idle and under load, and their ratio; every error (exception elements, page not found,
disconnects, timeouts; Chromium's exception boxes and console errors) with samples; and
the CPU seconds of the server, of the clients, of the browser (Chromium and its driver)
and of everything else on the machine, with its cores and load average.

Targets, carried in every line (``ok``): with ``TARGET_SESSIONS`` sessions on 2 cores, no
errors, rerun p95 <= 1 s, Chromium step p95 <= 1.3x its idle figure.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from autoreg.bench.browser import (
    CHROMIUM_FLAGS,
    PLAYER_JS,
    ROOT,
    VIEWPORT,
    chromium_path,
    click_player,
    cpu_seconds,
    load_page,
    machine,
    page_errors,
    page_url,
    rewind_player,
    serve,
)
from autoreg.bench.protocol import Session
from autoreg.bench.students import LINKS, PAGES, page_path

TARGET_SESSIONS = 30
TARGET_RERUN_P95_S = 1.0
TARGET_CHROMIUM_RATIO = 1.3
CHROMIUM_PAGE = "step"
IDLE_CLICKS = 20
CLICK_PAUSE_S = 1.0  # the Chromium student looks at each step this long
RELOAD_EVERY = 10  # clicks between the Chromium session's page loads
SESSIONS = "10,30,60"
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


def machine_cpu_seconds() -> float:
    """CPU time (user + nice + system) of the whole machine so far, from /proc/stat."""
    user, nice, system = (int(v) for v in Path("/proc/stat").read_text().split()[1:4])
    return (user + nice + system) / os.sysconf("SC_CLK_TCK")


def _proc_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds of it and its reaped children), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        ppid = int(fields[1])
        cpu = sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
        table[int(entry.name)] = (ppid, cpu)
    return table


def tree_cpu_seconds(root: int, exclude: set[int]) -> float:
    """CPU seconds of every descendant of ``root`` (their reaped children included),
    leaving out the subtrees of ``exclude``: here, the browser and its driver."""
    table = _proc_table()
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (ppid, _) in table.items():
        children[ppid].append(pid)
    total, todo = 0.0, list(children[root])
    while todo:
        pid = todo.pop()
        if pid in exclude:
            continue
        total += table[pid][1]
        todo.extend(children[pid])
    return total


def session_counts() -> list[int]:
    """``AUTOREG_BENCH_SESSIONS``: one count or a comma list (default 10,30,60)."""
    raw = os.environ.get("AUTOREG_BENCH_SESSIONS", SESSIONS)
    counts = [int(x) for x in raw.replace(" ", "").split(",") if x]
    if not counts or min(counts) < 1:
        raise ValueError(f"AUTOREG_BENCH_SESSIONS must be positive counts, got {raw!r}.")
    return counts


# -- what the class did ----------------------------------------------------------------


def _stats(xs: list[float]) -> dict:
    r = lambda x: None if x is None else round(x, 3)  # noqa: E731
    return {
        "n": len(xs),
        "p50_s": r(percentile(xs, 50)),
        "p95_s": r(percentile(xs, 95)),
        "max_s": r(max(xs, default=None)),
    }


def summarise(report: dict) -> dict:
    """Rerun times of a students' report: overall (gestures only), per page, per action,
    per page and action; the steps that stayed in the browser; errors."""
    by_page: dict[str, list[float]] = defaultdict(list)
    by_action: dict[str, list[float]] = defaultdict(list)
    by_both: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    gestures, http = [], []
    for page, action, seconds, http_s in report["runs"]:
        if http_s is not None:
            http.append(http_s)
        if seconds is None:  # never finished: counted among the errors
            continue
        by_action[action].append(seconds)
        by_both[page][action].append(seconds)
        if action != "poll":  # a timer's tick, not a student's gesture
            by_page[page].append(seconds)
            gestures.append(seconds)
    overall = _stats(gestures)
    errors = report["errors"]
    kinds = Counter(e.split(": ", 1)[-1] for e in errors)
    return {
        "reruns": overall["n"],
        "rerun_p50_s": overall["p50_s"],
        "rerun_p95_s": overall["p95_s"],
        "rerun_max_s": overall["max_s"],
        "pages": {p: _stats(xs) for p, xs in sorted(by_page.items())},
        "actions": {a: _stats(xs) for a, xs in sorted(by_action.items())},
        "page_actions": {
            p: {a: _stats(xs) for a, xs in sorted(acts.items())}
            for p, acts in sorted(by_both.items())
        },
        "open_http_p95_s": _stats(http)["p95_s"],
        "steps": {
            p: {"in_browser": n[0], "reached_server": n[1]}
            for p, n in sorted(report.get("steps", {}).items())
        },
        "errors": len(errors),
        "error_samples": [f"{n}x {text}" for text, n in kinds.most_common(10)],
        "skipped_controls": report.get("skipped", {}),
    }


def slowest(page_actions: dict, limit: float = TARGET_RERUN_P95_S) -> list[str]:
    """Page and action pairs whose p95 misses ``limit``, slowest first."""
    misses = [
        (s["p95_s"], f"{page} {action}: p95 {s['p95_s']:.2f} s over {s['n']}")
        for page, acts in page_actions.items()
        for action, s in acts.items()
        if action != "poll" and s["p95_s"] is not None and s["p95_s"] > limit
    ]
    return [text for _, text in sorted(misses, reverse=True)]


# -- the server's side ---------------------------------------------------------------


async def _warm(base: str) -> list[str]:
    """The teacher's demo: every page's link opened once; errors it met."""
    errors, session = [], Session(base)
    try:
        for page in PAGES:
            run = await session.open(page_path(page), LINKS.get(page, ""))
            errors += run.errors
    finally:
        await session.close()
    return errors


def _students(base: str, sessions: int, seconds: float, think: float, out: Path):
    return subprocess.Popen(
        [
            sys.executable, "-m", "autoreg.bench.students", "--url", base,
            "--sessions", str(sessions), "--seconds", str(seconds), "--think", str(think),
            "--out", str(out),
        ],
        cwd=ROOT,
    )  # fmt: skip


class Chromium:
    """The one real browser: a student on Step through, timed click to redraw."""

    def __init__(self, base: str) -> None:
        from playwright.sync_api import sync_playwright

        self.base = base
        self.pw = sync_playwright().start()
        self.browser = self.pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        self.page = self.browser.new_context(viewport=VIEWPORT, device_scale_factor=1).new_page()
        self.errors: list[str] = []

        def console(msg):
            url = (msg.location or {}).get("url", "")
            if msg.type == "error" and not any(p in url for p in FRAMEWORK_PROBES):
                self.errors.append(f"chromium: console: {msg.text[:200]}")

        self.page.on("console", console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"chromium: {exc}"))

    def load(self) -> float | None:
        try:
            ms = load_page(self.page, page_url(self.base, CHROMIUM_PAGE))
            if not self.page.evaluate(f"!!({PLAYER_JS.strip()})()"):
                self.errors.append(f"chromium: no player on {CHROMIUM_PAGE}")
                return None
            return ms
        except Exception as exc:
            self.errors.append(f"chromium: load: {str(exc).splitlines()[0]}")
            return None

    def click(self) -> float | None:
        try:
            at_end = self.page.evaluate(
                f"(p => +p.dataset.step >= +p.querySelector('.arp-slider').max - 1)"
                f"(({PLAYER_JS.strip()})())"
            )
            if at_end:
                rewind_player(self.page)
            return float(click_player(self.page)["ms"])
        except Exception as exc:
            self.errors.append(f"chromium: step: {str(exc).splitlines()[0]}")
            return None

    def boxes(self) -> None:
        for text in page_errors(self.page):
            self.errors.append(f"chromium: exception box: {text[:200]}")

    def close(self) -> None:
        self.browser.close()
        self.pw.stop()


def _chromium_round(chrome: Chromium, clicks: int, until=None) -> tuple[list, list]:
    """Load the page, then click (``clicks`` times, or while ``until()`` holds), reloading
    every ``RELOAD_EVERY`` clicks; (step ms, load ms)."""
    steps, loads = [], []
    done = 0
    while (until() if until else done < clicks) and len(chrome.errors) < 50:
        if done % RELOAD_EVERY == 0:
            ms = chrome.load()
            if ms is None:
                break
            loads.append(ms)
        ms = chrome.click()
        if ms is not None:
            steps.append(ms)
        done += 1
        if until:
            time.sleep(CLICK_PAUSE_S)
    chrome.boxes()
    return steps, loads


def classroom_line(sessions: int, seconds: float, think: float) -> dict:
    """One N: the class and the Chromium session on a fresh server (see the docstring)."""
    started = time.monotonic()
    load_before = machine()["load_avg_1m"]
    me = os.getpid()
    with serve(ROOT / "app.py") as app, tempfile.TemporaryDirectory() as tmp:
        warm_errors = asyncio.run(_warm(app.url))
        chrome = Chromium(app.url)
        try:
            idle_steps, idle_loads = _chromium_round(chrome, IDLE_CLICKS)
            idle_errors = list(chrome.errors)
            out = Path(tmp) / "students.json"
            server0, machine0 = cpu_seconds(app.proc.pid), machine_cpu_seconds()
            browser0 = tree_cpu_seconds(me, {app.proc.pid}) + cpu_seconds(me)
            proc = _students(app.url, sessions, seconds, think, out)
            try:
                time.sleep(min(5.0, seconds / 4))  # the class has joined
                load_steps, load_loads = _chromium_round(
                    chrome, 0, until=lambda: proc.poll() is None
                )
                proc.wait(timeout=seconds + 600)
            finally:
                if proc.poll() is None:
                    proc.kill()
            server_cpu = cpu_seconds(app.proc.pid) - server0
            browser_cpu = tree_cpu_seconds(me, {app.proc.pid}) + cpu_seconds(me) - browser0
            machine_cpu = machine_cpu_seconds() - machine0
        finally:
            chrome.close()
        mem = app.rss_mb()
        report = json.loads(out.read_text()) if out.exists() else None
    if report is None:
        raise RuntimeError(f"The students' process wrote no report (exit {proc.returncode}).")
    summary = summarise(report)
    clients_cpu = float(report["cpu_s"])  # reaped by this process: not in the tree above
    chromium_errors = chrome.errors[len(idle_errors) :]
    errors = summary.pop("errors") + len(chromium_errors)
    samples = summary.pop("error_samples") + chromium_errors[:5]
    idle_p95, load_p95 = percentile(idle_steps, 95), percentile(load_steps, 95)
    ratio = round(load_p95 / idle_p95, 2) if idle_p95 and load_p95 else None
    ok = (
        errors == 0
        and summary["rerun_p95_s"] is not None
        and summary["rerun_p95_s"] <= TARGET_RERUN_P95_S
        and ratio is not None
        and ratio <= TARGET_CHROMIUM_RATIO
    )

    def ms(x):
        return None if x is None else round(x, 1)

    return {
        "sessions": sessions,
        "seconds": seconds,
        "think_s": think,
        "wall_s": round(time.monotonic() - started, 1),
        **{k: summary.pop(k) for k in ("reruns", "rerun_p50_s", "rerun_p95_s", "rerun_max_s")},
        "misses": slowest(summary["page_actions"]),
        "chromium_page": CHROMIUM_PAGE,
        "chromium_step_p95_idle_ms": ms(idle_p95),
        "chromium_step_p95_load_ms": ms(load_p95),
        "chromium_step_ratio": ratio,
        "chromium_steps": [len(idle_steps), len(load_steps)],
        "chromium_load_ms": [
            ms(statistics.median(xs)) if xs else None for xs in (idle_loads, load_loads)
        ],
        "errors": errors,
        "error_samples": samples[:12],
        "warm_up_errors": warm_errors + idle_errors,
        "server_cpu_s": round(server_cpu, 1),
        "clients_cpu_s": round(clients_cpu, 1),
        "browser_cpu_s": round(browser_cpu, 1),
        "other_cpu_s": round(machine_cpu - server_cpu - clients_cpu - browser_cpu, 1),
        "server_rss_mb": mem.get("VmRSS"),
        **summary,
        "target_sessions": TARGET_SESSIONS,
        "target_rerun_p95_s": TARGET_RERUN_P95_S,
        "target_chromium_ratio": TARGET_CHROMIUM_RATIO,
        "ok": ok,
        "load_avg_1m_start": load_before,
        **machine(),
    }


def bench_classroom_load() -> list[dict]:
    """One line per class size in ``AUTOREG_BENCH_SESSIONS`` (see the module docstring)."""
    seconds = float(os.environ.get("AUTOREG_BENCH_LOAD_SECONDS", "90"))
    think = float(os.environ.get("AUTOREG_BENCH_THINK_SECONDS", "4"))
    lines = []
    for n in session_counts():
        print(f"classroom_load: {n} sessions", file=sys.stderr, flush=True)
        lines.append(classroom_line(n, seconds, think))
    return lines
