"""The browser benchmark's plain parts: percentiles, /proc memory, URLs, the reference page.

The browser-driving parts are exercised against the reference page in
``tests/browser/test_bench_harness.py``; here nothing starts a browser or a server.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from streamlit.testing.v1 import AppTest

from autoreg import bench
from autoreg.bench.__main__ import main as bench_main
from autoreg.bench.browser import REFERENCE_APP, cpu_seconds, page_url, proc_memory_mb
from autoreg.bench.load import machine_cpu_seconds, percentile


def test_percentile_interpolates_like_numpy():
    import numpy as np

    xs = [0.3, 0.1, 2.0, 0.7, 0.5, 1.1]
    for q in (0, 50, 95, 100):
        assert percentile(xs, q) == pytest.approx(float(np.percentile(xs, q)))
    assert percentile([], 50) is None


def test_proc_memory_reads_this_process():
    mem = proc_memory_mb(os.getpid())
    assert 10 < mem["VmRSS"] <= mem["VmHWM"] < 64_000


def test_page_urls_put_home_at_the_root():
    assert page_url("http://h:1", "home") == "http://h:1/"
    assert page_url("http://h:1", "step", "a=1") == "http://h:1/step?a=1"


def test_browser_measures_are_registered_and_lazy():
    for name in ("page_load_ratio", "step_latency_ratio", "server_memory", "classroom_load"):
        assert name in bench.MEASURES
    with pytest.raises(ValueError, match="Unknown measure"):
        bench.run("no_such_measure")


def test_per_page_results_print_one_json_line_each(monkeypatch, capsys):
    monkeypatch.setitem(bench.MEASURES, "fake", "tests.unit.bench.test_bench:_fake_pages")
    bench_main(["fake"])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["page"] for x in lines] == ["a", "b"]
    assert all(x["measure"] == "fake" for x in lines)


def _fake_pages() -> list[dict]:
    return [{"page": "a", "ratio": 1.0}, {"page": "b", "ratio": 2.0}]


def test_reference_page_is_one_chart_and_a_button_that_moves_its_cursor():
    at = AppTest.from_file(str(REFERENCE_APP), default_timeout=60).run()
    charts = [e for e in at.main if getattr(e, "type", "") == "plotly_chart"]
    assert len(charts) == 1 and len(at.button) == 1 and at.button[0].label == "Next"
    cursor = json.loads(charts[0].proto.spec)["layout"]["shapes"][0]["x0"]
    at.button[0].click().run()
    charts = [e for e in at.main if getattr(e, "type", "") == "plotly_chart"]
    assert json.loads(charts[0].proto.spec)["layout"]["shapes"][0]["x0"] == cursor + 1


def test_cpu_seconds_count_this_process_and_the_machine():
    mine, machine = cpu_seconds(os.getpid()), machine_cpu_seconds()
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # burn 0.3 s of CPU here
        pass
    assert cpu_seconds(os.getpid()) - mine >= 0.25
    assert machine_cpu_seconds() - machine >= 0.25


def test_scrub_fps_is_registered():
    assert bench.MEASURES["scrub_fps"] == "autoreg.bench.browser:bench_scrub_fps"


def test_in_browser_steps_are_judged_on_half_the_reference_and_net_server_cpu(monkeypatch):
    from autoreg.bench import browser as bb

    player = {"key": "player", "label": "next", "player": True}
    fake = {
        "loads": {"": [800.0], "step": [1100.0], "units": [900.0]},
        "steps": {"": [200.0, 220.0], "step": [30.0, 40.0], "units": [300.0]},
        "cold": {},
        "controls": {"step": player, "units": {"key": "units_next", "label": ""}},
        "changed": {"step": [3.0, 5.0]},
        "server_cpu": {
            "loads": {"": [80.0], "step": [60.0], "units": [70.0]},
            "steps": {"": [80.0, 80.0], "step": [10.0, 0.0], "units": [90.0]},
            "idle": {"step": [2.0, 2.0]},
        },
        "errors": {},
        "machine": {"cpus": 2, "load_avg_1m": 1.0},
    }
    monkeypatch.setattr(bb, "_measured", lambda: fake)
    steps = {line["page"]: line for line in bb.bench_step_latency_ratio()}
    step = steps["step"]
    assert step["target"] == bb.TARGET_STEP_RATIO and step["in_browser"] is True
    assert step["ratio"] == round(35.0 / 210.0, 2) and step["redraw_ms"] == 4.0
    # /proc counts 10 ms ticks: the mean of all clicks, less what idling costs as long
    assert step["server_cpu_ms"] == 5.0 and step["server_cpu_net_ms"] == 3.0 and step["ok"]
    assert steps["units"]["target"] == bb.TARGET_RATIO and "in_browser" not in steps["units"]
    loads = {line["page"]: line for line in bb.bench_page_load_ratio()}
    assert loads["step"]["target"] == 1.5 and loads["step"]["ok"] is True  # 1.38 <= 1.5
    assert loads["units"]["target"] == bb.TARGET_RATIO
    fake["server_cpu"]["steps"]["step"] = [10.0, 10.0]  # 8 ms a step, net: too much
    assert not {line["page"]: line for line in bb.bench_step_latency_ratio()}["step"]["ok"]


def test_player_scripts_look_inside_the_components_shadow_root():
    from autoreg.bench import browser as bb

    for script in (bb.PLAYER_CLICK_JS, bb.SCRUB_JS):
        assert "PLAYER" not in script and "shadowRoot" in script
    assert "data-frames" in bb.SCRUB_JS and ".arp-next" in bb.PLAYER_CLICK_JS
    assert "drawnAt" in bb.WAIT_LOAD_JS  # a page load waits for the player's first draw


def test_the_record_tables_show_scrub_and_a_players_own_server_cpu():
    from autoreg.bench.record import performance_table, record_table

    lines = [
        {"measure": "scrub_fps", "page": "step", "fps": 54.4, "target": 30.0, "steps": 100,
         "all_fps": [50.8, 54.5], "cpus": 2, "load_avg_1m": 4.0},
        {"measure": "scrub_fps", "page": "step-2000", "fps": 41.6, "target": 30.0, "steps": 100,
         "all_fps": [40.1, 41.6], "cpus": 2, "load_avg_1m": 4.0},
        {"measure": "step_latency_ratio", "page": "step", "target": 0.5, "page_ms": 14.9,
         "reference_ms": 178.0, "ratio": 0.08, "in_browser": True, "server_cpu_ms": 12.0,
         "server_cpu_net_ms": 6.7, "errors": [], "cpus": 2, "load_avg_1m": 4.0},
    ]  # fmt: skip
    rows = {r.split(" | ")[0].strip("| `"): r for r in performance_table(lines).splitlines()[2:]}
    assert rows["scrub_fps"].endswith("| ≥ 30 fps | step 54, step-2000 42 |")  # every player
    full = record_table(lines)
    assert "100 steps a drag; drags: 51, 54 fps" in full
    assert "15 ms vs 178 ms; server CPU 12 ms (7 ms above idle)" in full
