"""Browser benchmarks: every page in real headless Chromium against a bare Streamlit page.

``python -m autoreg.bench page_load_ratio step_latency_ratio server_memory`` starts two
``streamlit run`` servers on loopback ports, the real ``app.py`` and
``autoreg/bench/reference_app.py`` (one plotly chart and a "Next" button, nothing else),
and drives Debian's ``chromium`` through Playwright's sync API. Raw milliseconds depend
on the machine and its load; the *ratio* page / reference, measured interleaved in the
same run, is what travels between machines.

* load: from navigation start (the page's ``performance.timeOrigin``) to the last DOM
  change before the page is idle: script ``notRunning``, connected, no skeleton, every
  visible plotly chart drawn (``.main-svg``), and nothing changing for ``QUIET_MS``.
* step: from the click on the page's stepping control (found generically, see
  ``FIND_STEP_JS``) to the end of the rerun it caused and the last change inside a chart.
  On a page whose stepping runs in the browser (``autoreg.ui.player``) the control is
  the player's "next" button, and the step is timed to the first animation frame after
  the player's last DOM change (``PLAYER_CLICK_JS``); the server's CPU is counted over
  the whole quiet period, so the debounced URL update the step causes is included.
* scrub: frames the player draws per second while its slider is dragged across 100
  steps (``bench_scrub_fps``), on every page with a player (``SCRUB_PAGES``).

Nothing here imports Streamlit: the servers are subprocesses, the registry is plain data.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_APP = Path(__file__).resolve().parent / "reference_app.py"
TARGET_RATIO = 1.3
TARGET_LOAD = {"step": 1.5}  # page -> its own load target (one component, many views)
TARGET_STEP_RATIO = 0.5  # stepping in the browser: at most half the bare page's button
TARGET_STEP_CPU_MS = 5.0  # server CPU per step
TARGET_SCRUB_FPS = 30.0
TARGET_MEMORY_MB = 800.0
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1440, "height": 1000}
QUIET_MS = 600  # idle = ready and no DOM change for this long
TIMEOUT_MS = 120_000

# Resolves with the time (ms since navigation start) of the last DOM change before the
# page became idle. Installed right after navigation commits, so it sees every change.
WAIT_LOAD_JS = """
async ({quiet, timeout}) => {
  let last = performance.now();
  const obs = new MutationObserver(() => { last = performance.now(); });
  obs.observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  const ready = () => {
    const app = document.querySelector('[data-testid=stApp]');
    if (!app || !document.querySelector('[data-testid=stMain]')) return false;
    if (app.getAttribute('data-test-script-state') !== 'notRunning') return false;
    if (app.getAttribute('data-test-connection-state') !== 'CONNECTED') return false;
    if (document.querySelector('[data-testid=stSkeleton]')) return false;
    // the first run has drawn something (before it starts, an empty page looks idle)
    if (!document.querySelector('[data-testid=stMain] [data-testid=stElementContainer]')) {
      return false;
    }
    for (const c of document.querySelectorAll('[data-testid=stPlotlyChart]')) {
      if (c.offsetParent !== null && !c.querySelector('.main-svg')) return false;
    }
    // in-browser players draw inside shadow roots, out of the observer's sight: each
    // must have drawn, and its last draw counts as the page's last change
    for (const p of players()) {
      if (!(+p.dataset.frames >= 1)) return false;
      last = Math.max(last, +p.dataset.drawnAt || 0);
    }
    return true;
  };
  const players = () => [...document.querySelectorAll('[data-testid=stBidiComponentIsolated]')]
    .map(e => e.shadowRoot && e.shadowRoot.querySelector('[data-testid=autoreg-player]'))
    .filter(Boolean);
  const start = performance.now();
  while (true) {
    await new Promise(r => setTimeout(r, 15));
    const now = performance.now();
    if (ready() && now - last >= quiet) { obs.disconnect(); return last; }
    if (now - start > timeout) { obs.disconnect(); throw new Error('page never became idle'); }
  }
}
"""

# Marks the most likely "next step" control with data-bench-step and describes it, or
# returns null. Scored by widget key (Streamlit puts st-key-<key> on the container) and
# label: "next"/"step" in either, or a forward chevron icon; play/download excluded.
FIND_STEP_JS = """
() => {
  let best = null, bestScore = 0;
  for (const b of document.querySelectorAll('[data-testid=stMain] button')) {
    if (b.disabled || b.offsetParent === null) continue;
    const box = b.closest('[class*="st-key-"]');
    const key = box ? ([...box.classList].find(c => c.startsWith('st-key-')) || '').slice(7) : '';
    const label = (b.innerText || '').trim().toLowerCase();
    const k = key.toLowerCase();
    if (/play|pause|download|csv|reset|clear|train|stop/.test(k + ' ' + label)) continue;
    if (b.closest('[data-testid=stDownloadButton]')) continue;
    let score = 0;
    if (/(^|_)next($|_)/.test(k) || /^next\\b/.test(label)) score = 4;
    else if (/next/.test(k + ' ' + label)) score = 3;
    else if (/chevron_right|arrow_forward|skip_next|navigate_next/.test(label)) score = 2;
    else if (/(^|_)step($|_)/.test(k) || /^step\\b/.test(label)) score = 1;
    if (score > bestScore) { best = b; bestScore = score; best.dataset.benchKey = key; }
  }
  document.querySelectorAll('[data-bench-step]').forEach(e => e.removeAttribute('data-bench-step'));
  if (!best) return null;
  best.setAttribute('data-bench-step', '1');
  return {key: best.dataset.benchKey, label: (best.innerText || '').trim()};
}
"""

# Clicks the control `selector`; resolves with ms from the click to the end of the rerun it
# caused (script state back to notRunning) or the last change inside a chart, whichever
# is later, once nothing has changed for `quiet` ms, or once the page starts its next
# self-scheduled rerun (a page that ticks while it computes is never quiet).
CLICK_JS = """
async ({selector, quiet, timeout}) => {
  const app = document.querySelector('[data-testid=stApp]');
  const button = document.querySelector(selector);
  if (!button) throw new Error('control is gone: ' + selector);
  let sawRun = false, done = null, lastChart = 0, last = 0, nextRun = null;
  const obs = new MutationObserver(muts => {
    const now = performance.now();
    last = now;
    for (const m of muts) {
      if (m.target === app && m.attributeName === 'data-test-script-state') {
        const s = app.getAttribute('data-test-script-state');
        if (s === 'notRunning') { if (sawRun && done === null) done = now; }
        else if (done !== null) { if (nextRun === null) nextRun = now; }
        else sawRun = true;
      } else {
        const n = m.target.nodeType === 1 ? m.target : m.target.parentElement;
        if (n && n.closest && n.closest('[data-testid=stPlotlyChart]')) lastChart = now;
      }
    }
  });
  obs.observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  const t0 = performance.now();
  last = t0;
  button.click();
  while (true) {
    await new Promise(r => setTimeout(r, 15));
    const now = performance.now();
    const idle = app.getAttribute('data-test-script-state') === 'notRunning' && now - last >= quiet;
    if (idle && done !== null) { obs.disconnect(); return Math.max(done, lastChart) - t0; }
    // A page that reruns itself on a clock (a generation still computing) is never idle:
    // the click's rerun is over when the next, self-scheduled one starts.
    if (nextRun !== null) {
      obs.disconnect();
      return Math.max(done, Math.min(lastChart, nextRun)) - t0;
    }
    // A rerun whose running/notRunning flip React batched into one commit: the page
    // changed after the click and has been idle since.
    if (idle && !sawRun && last > t0 && now - t0 > 5000) { obs.disconnect(); return last - t0; }
    if (now - t0 > timeout) { obs.disconnect(); throw new Error('no rerun after the click'); }
  }
}
"""

# When no stepping control is on screen, the page may hide it behind a mode ("One token
# at a time") or a start button ("Generate"): mark one such control to click, or null.
FIND_REVEAL_JS = """
(tried) => {
  const keyOf = e => {
    const box = e.closest('[class*="st-key-"]');
    return box ? ([...box.classList].find(c => c.startsWith('st-key-')) || '').slice(7) : '';
  };
  for (const e of document.querySelectorAll('[data-bench-reveal]')) {
    e.removeAttribute('data-bench-reveal');
  }
  const main = document.querySelector('[data-testid=stMain]');
  const options = [...main.querySelectorAll('[data-testid=stButtonGroup] button, label')];
  for (const o of options) {
    const t = (o.innerText || '').trim();
    const id = keyOf(o) + ':' + t;
    if (tried.includes(id) || o.offsetParent === null) continue;
    if (/one .* at a time|step by step|^step\b|stepwise/i.test(t)) {
      o.setAttribute('data-bench-reveal', '1'); return id;
    }
  }
  for (const b of main.querySelectorAll('[data-testid=stButton] button')) {
    const t = (b.innerText || '').trim(), k = keyOf(b);
    const id = k + ':' + t;
    if (tried.includes(id) || b.disabled || /train/i.test(k + t)) continue;
    if (/(^|_)(go|start|generate|sample)$/.test(k) || /(^|\\s)(generate|start|sample)$/i.test(t)) {
      b.setAttribute('data-bench-reveal', '1'); return id;
    }
  }
  return null;
}
"""


# The in-browser player (autoreg.ui.player) of the page, found in its shadow root.
PLAYER_JS = """
() => [...document.querySelectorAll('[data-testid=stBidiComponentIsolated]')]
  .map(e => e.shadowRoot && e.shadowRoot.querySelector('[data-testid=autoreg-player]'))
  .find(Boolean) || null
"""

# Clicks the player's "next" button; resolves with {ms: click -> first animation frame
# after the player's last DOM change, changed: click -> that change}, once the player has
# been still and the script idle for `quiet` ms (the debounced URL update has run).
PLAYER_CLICK_JS = """
async ({quiet, timeout}) => {
  const player = (PLAYER)();
  if (!player) throw new Error('no player on the page');
  // a view that opens on its last step (Memory predicts the last character) steps back
  const next = player.querySelector('.arp-next');
  const button = next && next.disabled ? player.querySelector('.arp-prev') : next;
  if (!button || button.disabled) throw new Error('the player cannot step');
  const app = document.querySelector('[data-testid=stApp]');
  let lastChange = 0, painted = 0, last = 0;
  const frame = () => requestAnimationFrame(() => { painted = performance.now(); });
  const obs = new MutationObserver(() => {
    lastChange = performance.now(); last = lastChange; frame();
  });
  obs.observe(player, {subtree: true, childList: true, attributes: true, characterData: true});
  const appObs = new MutationObserver(() => { last = performance.now(); });
  appObs.observe(app, {attributes: true});
  const before = +player.dataset.frames;
  const t0 = performance.now();
  last = t0;
  button.click();
  while (true) {
    await new Promise(r => setTimeout(r, 15));
    const now = performance.now();
    const idle = app.getAttribute('data-test-script-state') === 'notRunning';
    if (+player.dataset.frames > before && painted >= lastChange && idle && now - last >= quiet) {
      obs.disconnect(); appObs.disconnect();
      return {ms: painted - t0, changed: lastChange - t0};
    }
    if (now - t0 > timeout) {
      obs.disconnect(); appObs.disconnect(); throw new Error('no redraw');
    }
  }
}
""".replace("PLAYER", PLAYER_JS.strip())

# Drags the player's slider from `start` across `steps` steps, one input event per
# animation frame (as a dragging hand delivers them: Chromium aligns pointer moves to
# frames), and counts the frames the player draws meanwhile.
SCRUB_JS = """
async ({start, steps}) => {
  const player = (PLAYER)();
  const slider = player.querySelector('.arp-slider');
  const times = [];
  const obs = new MutationObserver(() => times.push(performance.now()));
  obs.observe(player, {attributes: true, attributeFilter: ['data-frames']});
  const frames0 = +player.dataset.frames;
  for (let i = 1; i <= steps; i++) {
    await new Promise(r => requestAnimationFrame(r));
    slider.value = String(start + i);
    slider.dispatchEvent(new Event('input', {bubbles: true}));
  }
  await new Promise(r => setTimeout(r, 200));
  obs.disconnect();
  return {frames: +player.dataset.frames - frames0, times, step: +player.dataset.step};
}
""".replace("PLAYER", PLAYER_JS.strip())


@dataclass
class Server:
    """A running ``streamlit run`` subprocess on a loopback port."""

    proc: subprocess.Popen
    url: str
    log: Path

    def rss_mb(self) -> dict[str, float]:
        """Resident (VmRSS) and peak resident (VmHWM) memory of the server, in MB."""
        return proc_memory_mb(self.proc.pid)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def proc_memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process from /proc (no psutil), in MB (2**20 bytes)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        field, _, rest = line.partition(":")
        if field in ("VmRSS", "VmHWM"):
            out[field] = round(int(rest.split()[0]) / 1024, 1)  # kB -> MB
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(script: Path, startup_s: float = 180, log: Path | None = None) -> Iterator[Server]:
    """Run ``python -m streamlit run script`` headless on a free loopback port.

    The browser tests start their server through this too, so the app is always served
    the same way it is measured. ``log`` defaults to a file in the temp directory.
    """
    port = free_port()
    log = log or Path(tempfile.gettempdir()) / f"autoreg-bench-{script.stem}-{port}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", str(script),
                "--server.headless", "true",
                "--server.address", "127.0.0.1",
                "--server.port", str(port),
                "--server.fileWatcherType", "none",
                "--browser.gatherUsageStats", "false",
            ],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + startup_s
            while not _healthy(url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start for {script}; see {log}")
                time.sleep(0.3)
            yield Server(proc, url, log)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
            return r.read() == b"ok"
    except OSError:
        return False


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError("Debian's chromium is not on PATH (apt-get install chromium).")
    return path


def page_url(base: str, url_path: str, query: str = "") -> str:
    path = "" if url_path == "home" else url_path
    return f"{base}/{path}" + (f"?{query}" if query else "")


def machine() -> dict:
    """What the numbers were measured on: cores and load at the time."""
    return {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)}


def load_page(page, url: str) -> float:
    """Navigate and return ms from navigation start to idle with charts drawn."""
    page.goto(url, wait_until="commit", timeout=TIMEOUT_MS)
    return float(page.evaluate(WAIT_LOAD_JS, {"quiet": QUIET_MS, "timeout": TIMEOUT_MS}))


def wait_idle(page) -> None:
    """Wait until the page is idle with its charts drawn (from now on)."""
    page.evaluate(WAIT_LOAD_JS, {"quiet": QUIET_MS, "timeout": TIMEOUT_MS})


def find_step(page) -> dict | None:
    """Mark and describe the page's stepping control; None when it has none.

    A page with an in-browser player steps with the player's "next" button.
    """
    if page.evaluate(f"!!({PLAYER_JS.strip()})()"):
        return {"key": "player", "label": "next", "player": True}
    return page.evaluate(FIND_STEP_JS)


def click_player(page) -> dict:
    """Click the player's next button: {ms: to the frame after its redraw, changed: ...}."""
    args = {"quiet": QUIET_MS, "timeout": TIMEOUT_MS}
    return page.evaluate(PLAYER_CLICK_JS, args)


def rewind_player(page) -> None:
    """Put the player back at its first step (so a run of clicks never hits the end)."""
    page.evaluate(f"({PLAYER_JS.strip()})().querySelector('.arp-first').click()")


def click(page, selector: str = "[data-bench-step]") -> float:
    """Click a control; ms until the rerun it caused is over and the charts are idle."""
    args = {"selector": selector, "quiet": QUIET_MS, "timeout": TIMEOUT_MS}
    return float(page.evaluate(CLICK_JS, args))


def reveal_step(page, attempts: int = 3) -> dict | None:
    """Find the stepping control, first switching to a step mode or starting a run if the
    page hides it (``FIND_REVEAL_JS``); None when the page has no stepping control."""
    control, tried = find_step(page), []
    while control is None and len(tried) < attempts:
        revealed = page.evaluate(FIND_REVEAL_JS, tried)
        if revealed is None:
            return None
        tried.append(revealed)
        click(page, "[data-bench-reveal]")
        wait_idle(page)  # a started run may tick for a while: step once it is done
        control = find_step(page)
        if control is not None:
            control["revealed_by"] = tried
    return control


def page_errors(page) -> list[str]:
    """Texts of exception boxes on the page (Streamlit's stException)."""
    boxes = page.locator("[data-testid=stException]")
    return [boxes.nth(i).inner_text()[:300] for i in range(boxes.count())]


def _safe_reveal(page, errors: list[str]) -> dict | None:
    try:
        return reveal_step(page)
    except Exception as exc:  # reported in the page's line, the run goes on
        errors.append(f"reveal: {str(exc).splitlines()[0]}")
        return None


def _median(xs: list[float]) -> float | None:
    return round(statistics.median(xs), 1) if xs else None


def _mean(xs: list[float]) -> float | None:
    return round(statistics.fmean(xs), 1) if xs else None


def measure_pages(repeats: int = 5, clicks: int = 3, only: list[str] | None = None) -> dict:
    """Load and step timings of every registered page and the reference, interleaved.

    Each round opens the reference page, then every page, each once, and clicks each
    stepping control ``clicks`` times; a first round warms the server caches and is
    dropped (its load time is kept as ``cold_ms``).
    """
    from playwright.sync_api import sync_playwright

    from autoreg.registry import PAGES

    specs = [p for p in PAGES if only is None or p.url_path in only]
    loads: dict[str, list[float]] = {p.url_path: [] for p in specs}
    steps: dict[str, list[float]] = {p.url_path: [] for p in specs}
    loads[""], steps[""] = [], []  # "" is the reference page
    # server CPU (ms) spent on each load and click: what the page costs the server, as
    # opposed to the browser's own work (the rest of the time)
    load_cpu: dict[str, list[float]] = {name: [] for name in loads}
    step_cpu: dict[str, list[float]] = {name: [] for name in steps}
    cold: dict[str, float] = {}
    changed: dict[str, list[float]] = {}  # players: click -> their last DOM change
    step_idle: dict[str, list[float]] = {}  # players: idle server CPU per click's duration
    controls: dict[str, dict | None] = {}
    errors: dict[str, list[str]] = {}
    with (
        serve(ROOT / "app.py") as app,
        serve(REFERENCE_APP) as ref,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
        page = context.new_page()
        targets = [("", ref.url + "/")]
        targets += [(p.url_path, page_url(app.url, p.url_path)) for p in specs]
        pids = {name: (ref if name == "" else app).proc.pid for name, _ in targets}
        for round_ in range(repeats + 1):
            for name, url in targets:
                print(f"round {round_}: {name or 'reference'}", file=sys.stderr, flush=True)
                page.goto("about:blank")  # each load starts from an empty tab
                cpu0 = cpu_seconds(pids[name])
                try:
                    ms = load_page(page, url)
                except Exception as exc:
                    errors.setdefault(name, []).append(f"load: {str(exc).splitlines()[0]}")
                    controls.setdefault(name, None)
                    continue
                if round_ == 0:
                    cold[name] = round(ms, 1)
                    errors.setdefault(name, [])
                    controls[name] = _safe_reveal(page, errors[name])
                    errors[name] += page_errors(page)
                else:
                    loads[name].append(ms)
                    load_cpu[name].append(1000 * (cpu_seconds(pids[name]) - cpu0))
                if controls[name] is None or (
                    round_ > 0 and _safe_reveal(page, errors[name]) is None
                ):
                    continue
                player = bool((controls[name] or {}).get("player"))
                started, counted = time.monotonic(), 0
                for _ in range(clicks):
                    cpu0 = cpu_seconds(pids[name])
                    try:
                        if player:
                            timed = click_player(page)
                            ms = timed["ms"]
                            changed.setdefault(name, []).append(timed["changed"])
                        else:
                            ms = click(page)
                    except Exception as exc:  # a lost click is reported, not fatal
                        errors[name].append(f"step: {str(exc).splitlines()[0]}")
                        break
                    if round_ > 0:
                        steps[name].append(ms)
                        step_cpu[name].append(1000 * (cpu_seconds(pids[name]) - cpu0))
                        counted += 1
                if player and counted:
                    # What the server spends doing nothing for as long (heartbeats, timers),
                    # so a step's own CPU can be told apart; /proc counts in 10 ms ticks,
                    # so players' CPU is reported as a mean over all clicks.
                    span = time.monotonic() - started
                    cpu0 = cpu_seconds(pids[name])
                    time.sleep(span)
                    idle = 1000 * (cpu_seconds(pids[name]) - cpu0) / counted
                    step_idle.setdefault(name, []).extend([idle] * counted)
                errors[name] += [e for e in page_errors(page) if e not in errors[name]]
        browser.close()
    return {
        "loads": loads, "steps": steps, "cold": cold, "controls": controls, "changed": changed,
        "server_cpu": {"loads": load_cpu, "steps": step_cpu, "idle": step_idle},
        "errors": errors, "machine": machine(),
    }  # fmt: skip


def model_keys(page) -> dict[str, list[str]]:
    """The page's model pickers: select boxes whose key names a model, with their options."""
    keys = page.evaluate(
        "[...document.querySelectorAll('[data-testid=stMain] [data-testid=stSelectbox]')]"
        ".map(e => e.closest('[class*=\"st-key-\"]')).filter(Boolean)"
        ".map(e => [...e.classList].find(c => c.startsWith('st-key-')).slice(7))"
        ".filter(k => /model/i.test(k))"
    )
    found = {}
    for key in keys:
        page.locator(f".st-key-{key} button[aria-haspopup=listbox]").first.click()
        page.wait_for_selector("[role=option]", timeout=10_000)
        found[key] = page.locator("[role=option]").all_inner_texts()
        page.keyboard.press("Escape")
    return found


def bench_server_memory() -> dict:
    """Server VmRSS after every page was opened with every shipped model it offers."""
    from playwright.sync_api import sync_playwright

    from autoreg.pretrained import list_pretrained
    from autoreg.registry import PAGES

    shipped = set(list_pretrained())
    opened = []
    with serve(ROOT / "app.py") as app, sync_playwright() as pw:
        start = app.rss_mb()
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        page = browser.new_context(viewport=VIEWPORT).new_page()
        for spec in PAGES:
            load_page(page, page_url(app.url, spec.url_path))
            opened.append(spec.url_path)
            for key, options in model_keys(page).items():
                for name in sorted(shipped.intersection(o.strip() for o in options)):
                    load_page(page, page_url(app.url, spec.url_path, f"{key}={name}"))
                    opened.append(f"{spec.url_path}?{key}={name}")
        browser.close()
        mem = app.rss_mb()
    rss = mem["VmRSS"]
    return {
        "rss_mb": rss, "peak_rss_mb": mem["VmHWM"], "startup_rss_mb": start["VmRSS"],
        "target_mb": TARGET_MEMORY_MB, "ok": rss <= TARGET_MEMORY_MB,
        "models": sorted(shipped), "pages_opened": len(opened), **machine(),
    }  # fmt: skip


_RESULTS: dict = {}


def _measured() -> dict:
    """One measuring session shared by page_load_ratio and step_latency_ratio."""
    if not _RESULTS:
        only = os.environ.get("AUTOREG_BENCH_PAGES")
        _RESULTS.update(
            measure_pages(
                repeats=int(os.environ.get("AUTOREG_BENCH_REPEATS", "5")),
                only=only.split(",") if only else None,
            )
        )
    return _RESULTS


def _ratio_lines(kind: str) -> list[dict]:
    res = _measured()
    data = res[kind]
    ref = _median(data[""])
    lines = []
    for name, xs in data.items():
        if name == "":
            continue
        med = _median(xs)
        control = res["controls"].get(name)
        player = bool((control or {}).get("player"))
        target = TARGET_LOAD.get(name, TARGET_RATIO) if kind == "loads" else TARGET_RATIO
        if kind == "steps" and player:
            target = TARGET_STEP_RATIO
        line = {"page": name, "target": target, "page_ms": med, "reference_ms": ref}
        cpu = _median(res["server_cpu"][kind].get(name, []))
        if kind == "steps" and control is None:
            line.update(ratio=None, ok=None, note="no stepping control on this page")
        else:
            ratio = round(med / ref, 2) if med is not None and ref else None
            ok = ratio is not None and ratio <= target
            if kind == "steps" and player:
                raw = res["server_cpu"]["steps"].get(name, [])
                idle = res["server_cpu"].get("idle", {}).get(name, [])
                cpu = _mean(raw)
                net = round(cpu - (_mean(idle) or 0.0), 1) if cpu is not None else None
                ok = ok and net is not None and net <= TARGET_STEP_CPU_MS
                line.update(
                    in_browser=True,
                    redraw_ms=_median(res.get("changed", {}).get(name, [])),
                    server_cpu_idle_ms=_mean(idle),
                    server_cpu_net_ms=net,
                    target_server_cpu_ms=TARGET_STEP_CPU_MS,
                )
            line.update(ratio=ratio, ok=ok)
        if kind == "loads":
            line.update(cold_ms=res["cold"].get(name), reference_cold_ms=res["cold"].get(""))
        else:
            line["control"] = control
        line["server_cpu_ms"] = cpu
        line["reference_server_cpu_ms"] = _median(res["server_cpu"][kind][""])
        line.update(samples=len(xs), errors=res["errors"].get(name, []), **res["machine"])
        lines.append(line)
    return lines


def bench_page_load_ratio() -> list[dict]:
    """One line per page: median load time / the reference page's (target <= 1.3)."""
    return _ratio_lines("loads")


def bench_step_latency_ratio() -> list[dict]:
    """One line per page: median click-to-redrawn-view / the reference's.

    Target 1.3 for pages that step on the server, 0.5 (and 5 ms of server CPU per step)
    for pages whose stepping runs in the browser.
    """
    return _ratio_lines("steps")


def scrub(page, start: int = 0, steps: int = 100) -> dict:
    """Drag the player's slider across ``steps`` steps; frames drawn and frames per second."""
    got = page.evaluate(SCRUB_JS, {"start": start, "steps": steps})
    times = got["times"]
    span = (times[-1] - times[0]) / 1000 if len(times) > 1 else 0.0
    fps = (len(times) - 1) / span if span > 0 else None
    return {"frames": got["frames"], "fps": fps, "end_step": got["step"]}


# the in-browser players; "step-2000" is Step through on a 2,000-token text (below)
SCRUB_PAGES = ("step", "step-2000", "generate", "pixels", "memory", "masks")
LONG_TEXT_TOKENS = 2000


def long_text(tokens: int = LONG_TEXT_TOKENS) -> str:
    """A real 2,000-character Python text (the head of the stdlib's ``textwrap``): the
    default character LSTM (256 units) reads it as 2,000 tokens, in several windows."""
    import textwrap

    return Path(textwrap.__file__).read_text()[:tokens]


def long_text_scrub() -> tuple[str, int]:
    """Step through's query for the long text, and a drag start 50 steps before the end
    of its first window of states, so the drag crosses into a window fetched on the way."""
    import autoreg
    from autoreg.seq.payload import layout

    text = long_text()
    names = sorted(autoreg.list_pretrained("sequence"))
    model = next(n for n in names if n.startswith("lstm-char"))  # the page's default
    window = layout(autoreg.trace(autoreg.load_pretrained(model), text)).window
    query = urllib.parse.urlencode(
        {"step_model": model, "step_input_preset": "Your own text", "step_input_text": text}
    )
    return query, max(0, window - 50)


def bench_scrub_fps(url_path: str | None = None, repeats: int = 5) -> dict | list[dict]:
    """Frames per second while a player's slider is dragged across 100 steps: one page,
    or (by default) one line per page of ``SCRUB_PAGES``, on one server."""
    from playwright.sync_api import sync_playwright

    pages = SCRUB_PAGES if url_path is None else (url_path,)
    with serve(ROOT / "app.py") as app, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        page = browser.new_context(viewport=VIEWPORT, device_scale_factor=1).new_page()
        load_page(page, page_url(app.url, "home"))  # a fresh server maps pages after "/"
        lines = [_scrub_page(page, app.url, name, repeats) for name in pages]
        browser.close()
    return lines if url_path is None else lines[0]


def _scrub_page(page, base: str, url_path: str, repeats: int) -> dict:
    start = 0
    if url_path == "step-2000":
        query, start = long_text_scrub()
        load_page(page, page_url(base, "step", query))
    else:
        load_page(page, page_url(base, url_path))
    if not page.evaluate(f"!!({PLAYER_JS.strip()})()"):
        reveal_step(page)  # a player that appears once a run is started (Generate pixels)
    if not page.evaluate(f"!!({PLAYER_JS.strip()})()"):
        return {"page": url_path, "fps": None, "ok": None, "note": "no player on this page"}
    n = int(page.evaluate(f"+({PLAYER_JS.strip()})().querySelector('.arp-slider').max"))
    steps = min(100, n - start)
    runs = []
    for _ in range(repeats + 1):  # the first drag warms the page up and is dropped
        rewind_player(page)
        runs.append(scrub(page, start, steps))
    runs = runs[1:]
    fps = [r["fps"] for r in runs if r["fps"] is not None]
    med = round(statistics.median(fps), 1) if fps else None
    return {
        "page": url_path, "fps": med, "target": TARGET_SCRUB_FPS,
        "ok": med is not None and med >= TARGET_SCRUB_FPS, "steps": steps, "from_step": start,
        "frames": [r["frames"] for r in runs], "all_fps": [round(f, 1) for f in fps],
        "samples": len(fps), **machine(),
    }  # fmt: skip
