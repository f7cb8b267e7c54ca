"""The benchmark record and the tables the README and ``docs/benchmarks.md`` show of it.

The record is what ``python -m autoreg.bench`` printed, kept as it came:
``docs/bench-results.jsonl``, one JSON object per line. The tables here are pure
functions of those lines; ``autoreg.cards`` puts them into the documents' marker blocks,
so a number about speed is never typed by hand. A measure missing from the record shows
as such, never as an old figure.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH_RECORD = ROOT / "docs" / "bench-results.jsonl"

# measure -> what it compares, in the README's words
MEASURES = {
    "trace_overhead": "exact trace vs bare `nn.LSTM` forward, T=1000, H=256",
    "pixel_sampler_speedup": "one forward per pixel vs the cached sampler, 16 images",
    "page_load_ratio": "each page vs a bare Streamlit page, in Chromium",
    "step_latency_ratio": "click to redrawn view vs the bare page's button",
    "scrub_fps": "frames drawn while a player's slider is dragged across 100 steps",
    "server_memory": "server memory, every page opened with every model",
    "classroom_load": "a class's sessions (Streamlit's protocol) and one Chromium on one server",
}


def update_record(lines: list[dict], path: Path = BENCH_RECORD) -> None:
    """Write new lines into the record: the lines of each measure they hold replace that
    measure's earlier lines where those stood (a new measure goes at the end), so the
    record keeps one run of every measure, in the order the bench prints them."""
    new: dict[str, list[dict]] = {}
    for x in lines:
        new.setdefault(x["measure"], []).append(x)
    out, placed = [], set()
    for x in load_bench(path):
        name = x.get("measure")
        if name in new:
            if name not in placed:
                out.extend(new[name])
                placed.add(name)
            continue
        out.append(x)
    out += [x for name, xs in new.items() if name not in placed for x in xs]
    path.write_text("".join(json.dumps(x) + "\n" for x in out))


def load_bench(path: Path = BENCH_RECORD) -> list[dict]:
    """The record's lines, in the order they were printed ([] when there is none)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _of(name: str, lines: list[dict]) -> list[dict]:
    return [x for x in lines if x.get("measure") == name]


def _summary(name: str, lines: list[dict]) -> tuple[str, str]:
    """(target, measured) cells of one measure."""
    if name in ("page_load_ratio", "step_latency_ratio"):
        pages = [x for x in lines if x.get("ratio") is not None]
        if not pages:
            return "–", "no page measured"
        return f"≤ {pages[0]['target']}", ", ".join(f"{x['page']} {x['ratio']:.2f}" for x in pages)
    x = lines[-1]
    if name == "trace_overhead":
        return f"≤ {x['target']}", f"{x['ratio']:.2f}"
    if name == "pixel_sampler_speedup":
        same = "same samples" if x["same_samples"] else "different samples"
        return f"≥ {x['target']}", f"{x['ratio']:.0f}× ({same})"
    if name == "server_memory":
        return f"≤ {x['target_mb']:.0f} MB", f"{x['rss_mb']:.0f} MB"
    if name == "classroom_load":
        x = next((y for y in lines if y["sessions"] == y["target_sessions"]), lines[-1])
        return (
            f"{x['target_sessions']} sessions: rerun p95 ≤ {x['target_rerun_p95_s']} s, "
            f"Chromium step ≤ {x['target_chromium_ratio']}× idle, no errors",
            f"{x['sessions']} sessions: rerun p95 {_s(x['rerun_p95_s'])}, Chromium "
            f"{_times(x['chromium_step_ratio'])} idle, {x['errors']} errors",
        )
    if name == "scrub_fps":  # one line per player, in the order measured
        got = ", ".join(
            f"{y['page']} {'–' if y.get('fps') is None else format(y['fps'], '.0f')}" for y in lines
        )
        return f"≥ {x['target']:.0f} fps", got
    raise ValueError(f"No summary for measure {name!r}.")


def performance_table(lines: list[dict] | None = None) -> str:
    """The README's short table: one row per measure, from the record."""
    lines = load_bench() if lines is None else lines
    rows = ["| measure | what it compares | target | measured |", "|---|---|---|---|"]
    for name, what in MEASURES.items():
        mine = _of(name, lines)
        target, got = _summary(name, mine) if mine else ("–", "not in the record")
        rows.append(f"| `{name}` | {what} | {target} | {got} |")
    return "\n".join(rows) + "\n"


def bench_machine(lines: list[dict] | None = None) -> str:
    """The cores and the load average the record was measured under, for a sentence."""
    lines = load_bench() if lines is None else lines
    cpus = sorted({x["cpus"] for x in lines if "cpus" in x})
    loads = [x.get("load_avg_1m", x.get("load_avg_1min")) for x in lines]
    loads = [x for x in loads if x is not None]
    if not cpus or not loads:
        return "no record yet"
    low, high = min(loads), max(loads)
    load = f"{low:.1f}" if round(low, 1) == round(high, 1) else f"{low:.1f} to {high:.1f}"
    return f"{'/'.join(map(str, cpus))} cores, 1-minute load average {load}"


def _ms(x: float | None) -> str:
    return "–" if x is None else f"{x:.0f} ms"


def _s(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f} s"


def _times(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}×"


def _detail(x: dict) -> tuple[str, str, str]:
    """(subject, result, details) of one record line."""
    name = x["measure"]
    if name == "trace_overhead":
        detail = f"bare {x['bare_ms']} ms, trace {x['trace_ms']} ms"
        if "with_preactivations_ms" in x:
            detail += (
                f", with pre-activations {x['with_preactivations_ms']} ms "
                f"(ratio {x['ratio_with_preactivations']:.2f})"
            )
        return (
            f"T={x['T']}, H={x['H']}",
            f"{x['ratio']:.2f}",
            f"{detail}; gates from the {x['gates']}",
        )
    if name == "pixel_sampler_speedup":
        same = "same samples" if x["same_samples"] else "different samples"
        return (
            f"`{x['model']}`, {x['n']} images",
            f"{x['ratio']:.1f}",
            f"naive {x['naive_s']} s, fast {x['fast_s']} s, {same}, {x['threads']} threads",
        )
    if name in ("page_load_ratio", "step_latency_ratio"):
        ratio = "–" if x.get("ratio") is None else f"{x['ratio']:.2f}"
        if x.get("note"):
            return x["page"], ratio, x["note"]
        cpu = x.get("server_cpu_ms")
        detail = f"{_ms(x['page_ms'])} vs {_ms(x['reference_ms'])}; server CPU {_ms(cpu)}"
        if x.get("in_browser"):  # stepping runs in the browser: what a step costs the server
            detail += f" ({_ms(x.get('server_cpu_net_ms'))} above idle)"
        errors = len(x.get("errors") or [])
        return x["page"], ratio, detail + (f"; {errors} errors" if errors else "")
    if name == "server_memory":
        return (
            f"{len(x['models'])} models, {x['pages_opened']} page views",
            f"{x['rss_mb']:.0f} MB",
            f"peak {x['peak_rss_mb']:.0f} MB, {x['startup_rss_mb']:.0f} MB at start",
        )
    if name == "classroom_load":
        pages = ", ".join(f"{p} {_s(v['p95_s'])}" for p, v in x.get("pages", {}).items())
        slow = "; over 1 s: " + ", ".join(x["misses"][:3]) if x.get("misses") else ""
        return (
            f"{x['sessions']} sessions, {x['seconds']:.0f} s, think {x['think_s']} s",
            f"p95 {_s(x['rerun_p95_s'])}",
            f"{x['reruns']} reruns: p50 {_s(x['rerun_p50_s'])}, max {_s(x['rerun_max_s'])}; "
            f"p95 by page: {pages}{slow}; Chromium step p95 "
            f"{_ms(x['chromium_step_p95_idle_ms'])} idle, {_ms(x['chromium_step_p95_load_ms'])} "
            f"under load ({_times(x['chromium_step_ratio'])}); a link's HTTP p95 "
            f"{_s(x.get('open_http_p95_s'))}; {x['errors']} errors; CPU: "
            f"server {x['server_cpu_s']} s, clients {x['clients_cpu_s']} s, browser "
            f"{x['browser_cpu_s']} s, rest {x['other_cpu_s']} s",
        )
    if name == "scrub_fps":
        fps = "–" if x.get("fps") is None else f"{x['fps']:.0f} fps"
        runs = ", ".join(f"{f:.0f}" for f in x.get("all_fps") or [])
        return x["page"], fps, f"{x.get('steps')} steps a drag; drags: {runs} fps"
    return "", "", json.dumps(x)


def record_table(lines: list[dict] | None = None) -> str:
    """Every line of the record as a table row (``docs/benchmarks.md``)."""
    lines = load_bench() if lines is None else lines
    if not lines:
        return "No benchmark record yet.\n"
    rows = ["| measure | subject | result | details |", "|---|---|---:|---|"]
    for x in lines:
        subject, result, detail = _detail(x)
        rows.append(f"| `{x['measure']}` | {subject} | {result} | {detail} |")
    return "\n".join(rows) + "\n"
