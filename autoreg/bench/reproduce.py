"""Does a shipped model's card say how to make it again? Rerun its command and compare.

``python -m autoreg.bench.reproduce lstm-char-stdlib ...`` runs each model's training
command exactly as its card records it (``"command"``), with only ``--out`` pointed at a
scratch folder, then compares the rerun's held-out figures with the card's and writes
one line per model to ``docs/reproductions.jsonl`` (``docs/training.md`` shows them).
A rerun already in the folder is compared without training again (``--compare-only``).

Training on the CPU with one thread is deterministic on one machine, but two machines
of the same kind may take other vector code paths; a run then drifts by float32
rounding, and only the figures, not the weights, can be compared. The bar is 0.05 bits
per token on every figure. A record line keeps the card's figures it was compared with,
so a retrained model makes its line stale and the tests say so.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from autoreg.pretrained import pretrained_card

ROOT = Path(__file__).resolve().parents[2]
RECORD = ROOT / "docs" / "reproductions.jsonl"
TOLERANCE_BITS = 0.05
# the held-out figures of a sequence card that a rerun must match
FIGURES = ("val_bits_per_token", "test_bits_per_token", "docstrings_bits_per_token")


def rerun_argv(card: dict, out: Path) -> list[str]:
    """The card's command as ``python -m autoreg.train`` arguments, writing to ``out``."""
    command = card.get("command")
    if not command:
        raise ValueError("The card keeps no command line, so there is nothing to rerun.")
    argv = shlex.split(command)
    if argv[:3] != ["python", "-m", "autoreg.train"]:
        raise ValueError(f"Not a training command: {command!r}.")
    argv = argv[3:]
    i = argv.index("--out")
    return [*argv[:i], "--out", str(out), *argv[i + 2 :]]


def compare(name: str, card: dict, rerun: dict) -> dict:
    """One record line: every figure of the card beside the rerun's, and the verdict."""
    figures = {}
    for key in FIGURES:
        if key in card["metrics"]:
            a, b = card["metrics"][key], rerun["metrics"][key]
            figures[key] = {"card": a, "rerun": b, "difference": round(b - a, 4)}
    worst = max(abs(f["difference"]) for f in figures.values())
    return {
        "model": name,
        "command": card["command"],
        "card_device": card.get("device"),
        "rerun_device": rerun.get("device"),
        "rerun_seconds": rerun.get("training_seconds"),
        "figures": figures,
        "largest_difference": worst,
        "tolerance": TOLERANCE_BITS,
        "ok": worst <= TOLERANCE_BITS,
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
    }


def load_record(path: Path = RECORD) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_record(lines: list[dict], path: Path = RECORD) -> None:
    """Keep one line per model: a new line replaces that model's old one."""
    merged = {x["model"]: x for x in load_record(path)}
    merged.update({x["model"]: x for x in lines})
    path.write_text("".join(json.dumps(merged[k], sort_keys=True) + "\n" for k in sorted(merged)))


def reproduce(name: str, scratch: Path, train: bool = True) -> dict:
    """Rerun ``name``'s command into ``scratch`` (unless ``train`` is off) and compare."""
    card = pretrained_card(name)
    out = scratch / name
    if train:
        argv = [sys.executable, "-m", "autoreg.train", *rerun_argv(card, out)]
        subprocess.run(argv, check=True, cwd=ROOT)
    rerun = json.loads(out.with_suffix(".json").read_text())
    return compare(name, card, rerun)


EPILOG = """\
Each model's command comes from its card; the rerun writes only to --out. Sequence
models are compared on their validation, held-out test and third-party docstring bits
per token (bar: 0.05 bits).

examples:
  python -m autoreg.bench.reproduce rnn-char-stdlib --out runs/reproduce
  python -m autoreg.bench.reproduce lstm-char-stdlib gru-char-stdlib --compare-only
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autoreg.bench.reproduce",
        description="Retrain shipped models from their cards' commands and compare the figures.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="+", metavar="NAME", help="shipped model names")
    run = parser.add_argument_group("run and output")
    run.add_argument(
        "--out",
        default="runs/reproduce",
        metavar="DIR",
        help="folder for the reruns' checkpoints (default: %(default)s)",
    )
    run.add_argument(
        "--compare-only",
        action="store_true",
        help="compare reruns already in --out instead of training (default: off)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    lines = [reproduce(n, Path(args.out), train=not args.compare_only) for n in args.names]
    for line in lines:
        print(json.dumps(line), flush=True)
    write_record(lines)
    return 0 if all(x["ok"] for x in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
