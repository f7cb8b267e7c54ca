"""Benchmarks: ``python -m autoreg.bench [measure ...]`` prints one JSON object per line.

Every measure is a *ratio* of two things timed side by side in the same run on the same
machine, so the numbers travel between machines better than raw seconds. Each measure
lives next to the code it measures and is registered here by name; they are imported
lazily so one measure never pays for another's imports.
"""

from __future__ import annotations

import importlib

# measure name -> "module:function"; the function returns a dict (printed as JSON).
MEASURES = {
    "trace_overhead": "autoreg.bench.cpu:bench_trace_overhead",
    "pixel_sampler_speedup": "autoreg.bench.cpu:bench_sampler_speedup",
    "page_load_ratio": "autoreg.bench.browser:bench_page_load_ratio",
    "step_latency_ratio": "autoreg.bench.browser:bench_step_latency_ratio",
    "scrub_fps": "autoreg.bench.browser:bench_scrub_fps",
    "server_memory": "autoreg.bench.browser:bench_server_memory",
    "classroom_load": "autoreg.bench.load:bench_classroom_load",
}


def run(name: str) -> dict | list[dict]:
    """Run one measure by name and return its result dict (with ``measure`` set)."""
    if name not in MEASURES:
        raise ValueError(f"Unknown measure {name!r}; choose from {sorted(MEASURES)}.")
    module_name, func_name = MEASURES[name].split(":")
    result = getattr(importlib.import_module(module_name), func_name)()
    if isinstance(result, list):  # per-page measures: one line per page
        return [{"measure": name, **line} for line in result]
    return {"measure": name, **result}
