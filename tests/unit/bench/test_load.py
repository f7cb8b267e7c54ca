"""The classroom measure's plain parts: summaries of what the class did, the CPU of a
process tree, the class sizes, and the record's rows and update."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from autoreg.bench.load import (
    TARGET_RERUN_P95_S,
    session_counts,
    slowest,
    summarise,
    tree_cpu_seconds,
)
from autoreg.bench.record import load_bench, performance_table, record_table, update_record

REPORT = {
    "runs": [
        ["step", "open", 0.2, 0.05],
        ["step", "model", 0.1, None],
        ["step", "model", 0.3, None],
        ["memory", "open", 2.0, 0.04],
        ["memory", "input", 3.0, None],
        ["memory", "fetch", 0.5, None],
        ["pixels", "generate", 0.2, None],
        ["pixels", "poll", 0.01, None],
        ["pixels", "poll", 0.01, None],
        ["pixels", "poll", 0.01, None],
        ["units", "input", None, None],  # timed out
    ],
    "errors": ["session 1: input on units: no script_finished in 120 s"] * 2
    + ["session 2: open on masks: exception: ValueError: x"],
    "steps": {"step": [7, 0], "memory": [3, 2]},
    "skipped": {"units:units_unit": 1},
}


def test_the_summary_times_gestures_by_page_and_action_and_keeps_polls_apart():
    got = summarise(REPORT)
    assert got["reruns"] == 7  # the three polls and the timed-out rerun are not gestures
    assert got["pages"]["memory"]["n"] == 3 and got["pages"]["memory"]["max_s"] == 3.0
    assert "pixels" in got["pages"] and got["pages"]["pixels"]["n"] == 1
    assert got["actions"]["poll"]["n"] == 3 and got["actions"]["model"]["p50_s"] == 0.2
    assert got["page_actions"]["step"]["model"] == {
        "n": 2, "p50_s": 0.2, "p95_s": 0.29, "max_s": 0.3,
    }  # fmt: skip
    assert got["steps"]["memory"] == {"in_browser": 3, "reached_server": 2}
    assert got["errors"] == 3
    assert got["error_samples"][0] == "2x input on units: no script_finished in 120 s"
    assert got["skipped_controls"] == {"units:units_unit": 1}
    assert got["open_http_p95_s"] == 0.05  # rounded to the millisecond


def test_slowest_names_the_pairs_over_the_target():
    got = slowest(summarise(REPORT)["page_actions"])
    assert got[0].startswith("memory input: p95 3.00 s over 1")
    assert all(float(x.split("p95 ")[1].split(" s")[0]) > TARGET_RERUN_P95_S for x in got)
    assert not any("poll" in x or x.startswith("step") for x in got)


def test_class_sizes_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("AUTOREG_BENCH_SESSIONS", raising=False)
    assert session_counts() == [10, 30, 60]
    monkeypatch.setenv("AUTOREG_BENCH_SESSIONS", "2, 5")
    assert session_counts() == [2, 5]
    monkeypatch.setenv("AUTOREG_BENCH_SESSIONS", "0")
    with pytest.raises(ValueError, match="positive"):
        session_counts()


def test_a_process_trees_cpu_counts_children_and_leaves_out_excluded_ones():
    burn = "import time\nt = time.process_time() + 0.4\nwhile time.process_time() < t: pass"
    before = tree_cpu_seconds(os.getpid(), set())
    child = subprocess.Popen([sys.executable, "-c", burn + "\nimport time; time.sleep(30)"])
    try:
        deadline = 0
        while tree_cpu_seconds(os.getpid(), set()) - before < 0.35 and deadline < 100:
            subprocess.run(["sleep", "0.1"])
            deadline += 1
        assert tree_cpu_seconds(os.getpid(), set()) - before >= 0.35
        assert tree_cpu_seconds(os.getpid(), {child.pid}) - before < 0.3
    finally:
        child.kill()
        child.wait()


LINE = {
    "measure": "classroom_load", "sessions": 30, "seconds": 90.0, "think_s": 4.0,
    "reruns": 400, "rerun_p50_s": 0.12, "rerun_p95_s": 0.8, "rerun_max_s": 2.5,
    "misses": ["memory input: p95 2.10 s over 12"],
    "pages": {"step": {"n": 90, "p50_s": 0.05, "p95_s": 0.2, "max_s": 0.4}},
    "chromium_step_p95_idle_ms": 20.0, "chromium_step_p95_load_ms": 25.0,
    "chromium_step_ratio": 1.25, "errors": 0, "server_cpu_s": 60.1, "clients_cpu_s": 9.0,
    "browser_cpu_s": 12.0, "other_cpu_s": 3.0, "target_sessions": 30,
    "target_rerun_p95_s": 1.0, "target_chromium_ratio": 1.3, "ok": True, "cpus": 2,
    "load_avg_1m": 3.1, "open_http_p95_s": 0.3,
}  # fmt: skip


def test_the_record_shows_a_line_per_class_and_the_target_size_in_the_short_table():
    small = {**LINE, "sessions": 10, "rerun_p95_s": 0.3, "chromium_step_ratio": 1.0}
    big = {**LINE, "sessions": 60, "rerun_p95_s": 3.2, "errors": 4}
    rows = {r.split(" | ")[0].strip("| `"): r for r in performance_table([small, LINE, big])
            .splitlines()[2:]}  # fmt: skip
    assert rows["classroom_load"].endswith(
        "| 30 sessions: rerun p95 ≤ 1.0 s, Chromium step ≤ 1.3× idle, no errors "
        "| 30 sessions: rerun p95 0.80 s, Chromium 1.25× idle, 0 errors |"
    )
    full = record_table([small, LINE, big]).splitlines()[2:]
    assert len(full) == 3 and "| 60 sessions, 90 s, think 4.0 s | p95 3.20 s |" in full[2]
    assert "p95 by page: step 0.20 s; over 1 s: memory input: p95 2.10 s over 12" in full[1]
    assert (
        "Chromium step p95 20 ms idle, 25 ms under load (1.25×); a link's HTTP p95 0.30 s"
        in full[1]
    )
    assert "CPU: server 60.1 s, clients 9.0 s, browser 12.0 s, rest 3.0 s" in full[1]


def test_new_lines_replace_their_measures_lines_in_place(tmp_path):
    path = tmp_path / "record.jsonl"
    old = [
        {"measure": "trace_overhead", "ratio": 1.1},
        {"measure": "classroom_load", "sessions": 20},
        {"measure": "scrub_fps", "page": "step"},
    ]
    path.write_text("".join(json.dumps(x) + "\n" for x in old))
    update_record([{"measure": "classroom_load", "sessions": n} for n in (10, 30)], path)
    got = load_bench(path)
    assert [(x["measure"], x.get("sessions")) for x in got] == [
        ("trace_overhead", None), ("classroom_load", 10), ("classroom_load", 30),
        ("scrub_fps", None),
    ]  # fmt: skip
    update_record([{"measure": "server_memory", "rss_mb": 1.0}], path)
    assert load_bench(path)[-1]["measure"] == "server_memory" and len(load_bench(path)) == 5
