"""``python -m autoreg.bench [measure ...]``: one JSON object per line."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap

from autoreg.bench import MEASURES, run
from autoreg.bench.record import update_record

DESCRIPTION = "Measure autoreg's speed as ratios timed side by side, one JSON line each."

# What each measure compares; shown by --help. Each JSON line carries its own target and
# whether it was met ("ok"), so the targets live with the measures, not here.
MEASURE_HELP = {
    "trace_overhead": "exact trace (h, c, every gate, probs) / bare nn.LSTM forward, "
    "T=1000 steps, H=256 units",
    "pixel_sampler_speedup": "one full forward per pixel / the fast exact sampler, 16 "
    "images of 28x28, same seed",
    "page_load_ratio": "each page's load time in Chromium / a bare page with one plotly "
    "chart; one line per page",
    "step_latency_ratio": "click to redrawn view on each page / the bare page's button; "
    "one line per page",
    "scrub_fps": "frames drawn per second while a player's slider is dragged across 100 "
    "steps; one line per page with a player",
    "server_memory": "server resident memory in MB after every page opened every shipped "
    "model it offers",
    "classroom_load": "a class on one server: N sessions speaking Streamlit's protocol open "
    "pages, change models and inputs and step, one Chromium steps beside them; rerun "
    "p50/p95 by page and action, Chromium's step idle vs under load, errors, CPU; one line "
    "per N",
}

EPILOG = """\
Most measures are a ratio of two things timed in the same run on the same machine, so
they travel between machines better than seconds do. Every line says its target and
whether it was met ("ok"). The browser and load measures need Chromium.

measures:
{measures}

environment:
  AUTOREG_BENCH_PAGES          page_load_ratio, step_latency_ratio: comma-separated
                               pages to measure (default: all)
  AUTOREG_BENCH_REPEATS        loads and steps timed per page (default: 5)
  AUTOREG_BENCH_SESSIONS       classroom_load: class sizes, comma-separated, one line
                               each (default: 10,30,60)
  AUTOREG_BENCH_LOAD_SECONDS   classroom_load: seconds each class works (default: 90)
  AUTOREG_BENCH_THINK_SECONDS  classroom_load: a student's mean pause between gestures,
                               seconds (default: 4)

examples:
  python -m autoreg.bench trace_overhead pixel_sampler_speedup
  AUTOREG_BENCH_SESSIONS=30 python -m autoreg.bench classroom_load --record
"""


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m autoreg.bench``; its help lists every registered measure."""
    width = max(map(len, MEASURES)) + 4
    listing = "\n".join(
        textwrap.fill(
            MEASURE_HELP.get(name, ""),
            88,
            initial_indent=f"  {name:<{width - 2}}",
            subsequent_indent=" " * width,
        )
        for name in MEASURES
    )
    parser = argparse.ArgumentParser(
        prog="python -m autoreg.bench",
        description=DESCRIPTION,
        epilog=EPILOG.format(measures=listing),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "measures",
        nargs="*",
        metavar="MEASURE",
        help="measures to run, in order (default: all, in the order listed below)",
    )
    parser.add_argument(
        "--record",
        action="store_true",
        help="also write the lines into docs/bench-results.jsonl, in place of the same "
        "measures' earlier lines; then `python -m autoreg.cards` refreshes the documents "
        "(default: print only)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    lines = []
    for name in args.measures or list(MEASURES):
        result = run(name)
        for line in result if isinstance(result, list) else [result]:
            print(json.dumps(line), flush=True)
            lines.append(line)
    if args.record:
        update_record(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
