"""The benchmark tables show the record's lines as they are, and say what is missing."""

from __future__ import annotations

import json

from autoreg.bench import MEASURES
from autoreg.bench.record import (
    MEASURES as DESCRIBED,
)
from autoreg.bench.record import (
    bench_machine,
    load_bench,
    performance_table,
    record_table,
)

LINES = [
    {"measure": "trace_overhead", "ratio": 1.163, "target": 1.25, "T": 1000, "H": 256,
     "bare_ms": 45.03, "trace_ms": 52.38, "gates": "fused kernel workspace", "cpus": 2,
     "load_avg_1min": 6.34},
    {"measure": "page_load_ratio", "page": "home", "target": 1.3, "page_ms": 431.0,
     "reference_ms": 381.0, "ratio": 1.13, "server_cpu_ms": 40.0, "errors": [], "cpus": 2,
     "load_avg_1m": 1.3},
    {"measure": "step_latency_ratio", "page": "home", "target": 1.3, "page_ms": None,
     "reference_ms": 88.0, "ratio": None, "note": "no stepping control on this page",
     "cpus": 2, "load_avg_1m": 1.3},
]  # fmt: skip


def test_every_registered_measure_has_a_row():
    assert set(DESCRIBED) == set(MEASURES)


def test_the_short_table_takes_each_figure_from_the_record():
    rows = performance_table(LINES).splitlines()
    assert len(rows) == 2 + len(DESCRIBED)
    by_measure = {r.split(" | ")[0].strip("| `"): r for r in rows[2:]}
    assert by_measure["trace_overhead"].endswith("| ≤ 1.25 | 1.16 |")
    assert by_measure["page_load_ratio"].endswith("| ≤ 1.3 | home 1.13 |")
    assert by_measure["step_latency_ratio"].endswith("| – | no page measured |")
    assert by_measure["classroom_load"].endswith("| – | not in the record |")


def test_the_full_table_has_a_row_per_line_and_the_machine_its_range():
    rows = record_table(LINES).splitlines()
    assert len(rows) == 2 + len(LINES)
    assert "bare 45.03 ms, trace 52.38 ms" in rows[2]
    assert "431 ms vs 381 ms; server CPU 40 ms" in rows[3]
    assert rows[4].endswith("| – | no stepping control on this page |")
    assert bench_machine(LINES) == "2 cores, 1-minute load average 1.3 to 6.3"
    assert bench_machine([]) == "no record yet" and record_table([]) == "No benchmark record yet.\n"


def test_the_record_is_read_line_by_line(tmp_path):
    path = tmp_path / "bench.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in LINES) + "\n\n")
    assert load_bench(path) == LINES
    assert load_bench(tmp_path / "missing.jsonl") == []
