"""The generated parts of the README and the docs: tables and numbers from the cards.

The documents must say what the model cards (``assets/*.json``) and the benchmark record
(``docs/bench-results.jsonl``, see ``autoreg.bench.record``) say, so every table and every
number in their prose sits in a marker block, ``<!-- name:start -->...<!-- name:end -->``,
that this module fills. Nothing in a block is typed by hand:

    python -m autoreg.cards            # rewrite every block of README.md and docs/*.md
    python -m autoreg.cards --check    # list stale blocks, exit 1 if there are any

The tests compare every block with what :data:`BLOCKS` generates, character for character.
A block whose text ends in a newline is written on lines of its own; any other block is
inline, inside a sentence. Sequence models: validation bits per token beside the unigram
and bigram baselines measured on the same split (the bar every model must clear).
PixelCNNs: test bits per dimension beside an independent categorical per pixel.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from autoreg.bench.record import bench_machine, performance_table, record_table
from autoreg.bench.reproduce import load_record
from autoreg.commands import training_command
from autoreg.pretrained import ASSETS, list_pretrained

ROOT = Path(__file__).resolve().parents[1]  # the checkout (documents live only there)
DOCUMENTS = ("README.md", "docs/training.md", "docs/benchmarks.md")
MARKER = re.compile(r"<!-- ([a-z0-9-]+):start -->(.*?)<!-- \1:end -->", re.DOTALL)


def cards_of_kind(kind: str, assets: Path = ASSETS) -> dict[str, dict]:
    """name -> card for every ``assets/<name>.json`` of this kind that has its weights."""
    cards = {}
    for path in sorted(Path(assets).glob("*.json")):
        if not path.with_suffix(".safetensors").exists():
            continue
        card = json.loads(path.read_text())
        if card.get("kind") == kind:
            cards[path.stem] = card
    return cards


def sequence_cards(assets: Path = ASSETS) -> dict[str, dict]:
    """name -> card for every shipped sequence model."""
    return cards_of_kind("sequence", assets)


def _fmt(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _task(metrics: dict) -> str:
    """The synthetic tasks' real test: recall after a long lag, counting to a deep n."""
    if "recall_accuracy" in metrics:
        acc = metrics["recall_accuracy"]
        return ", ".join(f"lag {k}: {acc[k]:.2f}" for k in ("10", "40") if k in acc)
    if "brackets_accuracy" in metrics:
        acc = metrics["brackets_accuracy"]
        return ", ".join(f"n={k}: {acc[k]:.2f}" for k in ("4", "12") if k in acc)
    return ""


def markdown_table(assets: Path = ASSETS) -> str:
    """A Markdown table with one row per shipped sequence model."""
    rows = [
        "| model | cell | tokens | corpus | params | val bits/token | unigram | bigram | epochs "
        "| task accuracy |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, card in sequence_cards(assets).items():
        cfg, m = card["config"], card.get("metrics", {})
        tok = (card.get("tokenizer") or {}).get("kind", "?")
        size = (
            f"E{cfg['embed_size']} H{cfg['hidden_size']}x{cfg['num_layers']} V{cfg['vocab_size']}"
        )
        rows.append(
            f"| `{name}` | {cfg['cell'].upper()} {size} | {tok} | "
            f"{card.get('corpus', {}).get('name', '?')} | {card.get('num_params', 0):,} | "
            f"{_fmt(m.get('val_bits_per_token'))} | {_fmt(m.get('unigram_bits_per_token'))} | "
            f"{_fmt(m.get('bigram_bits_per_token'))} | {m.get('epochs_done', '–')} | "
            f"{_task(m)} |"
        )
    return "\n".join(rows) + "\n"


def heldout_markdown_table(assets: Path = ASSETS) -> str:
    """Text models on text they never trained on: held-out standard-library files and the
    docstrings of third-party libraries, each beside its unigram and bigram baselines."""
    rows = [
        "| model | held-out stdlib files | unigram | bigram | third-party docstrings "
        "| unigram | bigram |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, card in sequence_cards(assets).items():
        m = card.get("metrics", {})
        if "test_bits_per_token" not in m:
            continue
        rows.append(
            f"| `{name}` | "
            + " | ".join(
                _fmt(m.get(f"{part}_{key}bits_per_token"))
                for part in ("test", "docstrings")
                for key in ("", "unigram_", "bigram_")
            )
            + " |"
        )
    return "\n".join(rows) + "\n"


def _fd(card: dict) -> str:
    q = card.get("samples")
    if q is None:
        return "–"
    return (
        f"{q['frechet_distance']:.1f} ({q['real_reference']:.1f} / {q['baseline_reference']:.1f})"
    )


def pixel_markdown_table(assets: Path = ASSETS) -> str:
    """A Markdown table with one row per shipped PixelCNN: test NLL beside the baseline."""
    rows = [
        "| model | architecture | data | params | test bits/dim | baseline bits/dim "
        "| sample FD (real / baseline) |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for name, card in cards_of_kind("pixelcnn", assets).items():
        cfg, m, data = card["config"], card.get("metrics", {}), card.get("dataset", {})
        rows.append(
            f"| `{name}` | {cfg['kind']}, {cfg['channels']} ch, {cfg['n_blocks']} blocks, "
            f"{cfg['kernel']}×{cfg['kernel']} | "
            f"{data.get('name', '?')} {cfg['image_size']}×{cfg['image_size']}, "
            f"{cfg['levels']} levels | {card.get('num_params', 0):,} | "
            f"{_fmt(m.get('test_bits_per_dim'))} | {_fmt(m.get('baseline_bits_per_dim'))} | "
            f"{_fd(card)} |"
        )
    return "\n".join(rows) + "\n"


def sequence_training_table(assets: Path = ASSETS) -> str:
    """What training each shipped sequence model took, and where it ended."""
    rows = [
        "| model | epochs | training time | train bits/token | val bits/token | device |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, card in sequence_cards(assets).items():
        m = card.get("metrics", {})
        rows.append(
            f"| `{name}` | {m.get('epochs_done', '–')} | {_duration(card.get('training_seconds'))} "
            f"| {_fmt(m.get('train_bits_per_token'))} | {_fmt(m.get('val_bits_per_token'))} "
            f"| {card.get('device', '–')} |"
        )
    return "\n".join(rows) + "\n"


def pixel_training_table(assets: Path = ASSETS) -> str:
    """What training each shipped PixelCNN took (summed over its resumes), and its scores."""
    rows = [
        "| model | epochs (runs) | training time | test bits/dim | nats/image (test / baseline) "
        "| training images |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for name, card in cards_of_kind("pixelcnn", assets).items():
        m, data = card.get("metrics", {}), card.get("dataset", {})
        runs = "resumed" if "resumed_from_epochs" in m else "one run"
        nats, base = m.get("test_nats_per_image"), m.get("baseline_nats_per_image")
        per_image = "–" if nats is None or base is None else f"{nats:.1f} / {base:.1f}"
        seconds = m.get("train_seconds_total", m.get("train_seconds"))
        rows.append(
            f"| `{name}` | {m.get('epochs_total', m.get('epochs', '–'))} ({runs}) "
            f"| {_duration(seconds)} | {_fmt(m.get('test_bits_per_dim'))} | {per_image} "
            f"| {data.get('n_train', '–'):,} |"
        )
    return "\n".join(rows) + "\n"


def reproductions_table() -> str:
    """Each rerun of a card's command beside the card (``autoreg.bench.reproduce``)."""
    lines = load_record()
    if not lines:
        return "No model has been retrained from its card yet.\n"
    keys = ("val_bits_per_token", "test_bits_per_token", "docstrings_bits_per_token")
    rows = [
        "| model | val: card → rerun | test files | third-party docstrings | rerun on |",
        "|---|---|---|---|---|",
    ]
    for x in lines:
        cells = [
            "–" if f is None else f"{f['card']:.3f} → {f['rerun']:.3f} ({f['difference']:+.3f})"
            for f in (x["figures"].get(k) for k in keys)
        ]
        rows.append(f"| `{x['model']}` | {' | '.join(cells)} | {x['rerun_device']} |")
    return "\n".join(rows) + "\n"


def commands_markdown(assets: Path = ASSETS) -> str:
    """One shell block with the command behind every shipped model.

    A rebuilt command goes without a comment unless its card has more to say (a resumed
    or cut-short run); an exact one is marked ``as run``.
    """
    rebuilt = "rebuilt from the card"
    out = ["```bash"]
    for kind in ("sequence", "pixelcnn"):
        for name, card in cards_of_kind(kind, assets).items():
            command, note = training_command(name, card)
            note = note.removeprefix(rebuilt).removeprefix("; ")
            out += [f"# {name}: {note}", command] if note else [command]
    return "\n".join([*out, "```"]) + "\n"


def plain_vs_gated(assets: Path = ASSETS) -> str:
    """The plain and the Gated PixelCNN side by side on each data setting both were fit to."""
    settings: dict[tuple, dict[str, tuple[str, dict]]] = {}
    for name, card in cards_of_kind("pixelcnn", assets).items():
        cfg, data = card["config"], card.get("dataset", {})
        key = (data.get("name", "?"), cfg["image_size"], cfg["levels"])
        settings.setdefault(key, {})[cfg["kind"]] = (name, card)
    rows = [
        "| data | model | params | blind spot | test bits/dim | sample FD (real / baseline) |",
        "|---|---|---:|---|---:|---|",
    ]
    for (data, size, levels), by_kind in sorted(settings.items()):
        if set(by_kind) != {"pixelcnn", "gated"}:
            continue
        for kind in ("pixelcnn", "gated"):
            name, card = by_kind[kind]
            m = card.get("metrics", {})
            view = "yes" if kind == "pixelcnn" else "no"
            rows.append(
                f"| {data} {size}×{size}, {levels} levels | `{name}` | "
                f"{card.get('num_params', 0):,} | {view} | "
                f"{_fmt(m.get('test_bits_per_dim'))} | {_fd(card)} |"
            )
    return "\n".join(rows) + "\n"


def models_trained_with(option: str, assets: Path = ASSETS) -> str:
    """The shipped PixelCNNs whose card records ``option`` switched on (inline)."""
    names = [
        f"`{name}`"
        for name, card in cards_of_kind("pixelcnn", assets).items()
        if card.get("training", {}).get(option)
    ]
    return ", ".join(names) if names else "none of the shipped models"


def recall_at_lag(lag: str = "40", assets: Path = ASSETS) -> str:
    """Recall accuracy of each shipped recall model after ``lag`` tokens (inline)."""
    parts = []
    for card in sequence_cards(assets).values():
        acc = card.get("metrics", {}).get("recall_accuracy", {})
        if lag in acc:
            parts.append(f"{card['config']['cell'].upper()} {acc[lag]:.2f}")
    return ", ".join(parts) if parts else "no recall model shipped"


def training_images(dataset: str, assets: Path = ASSETS) -> str:
    """How many training images the shipped models of ``dataset`` saw (inline)."""
    counts = {
        card.get("dataset", {}).get("n_train")
        for card in cards_of_kind("pixelcnn", assets).values()
        if card.get("dataset", {}).get("name") == dataset
    }
    counts.discard(None)
    return " / ".join(f"{n:,}" for n in sorted(counts)) if counts else "–"


def _pages() -> str:
    from autoreg.registry import pages_markdown

    return pages_markdown() + "\n"


BLOCKS: dict[str, Callable[[], str]] = {
    "pages": _pages,
    "model-count": lambda: str(len(list_pretrained())),
    "sequence-models": markdown_table,
    "heldout-text": heldout_markdown_table,
    "pixel-models": pixel_markdown_table,
    "sequence-training": sequence_training_table,
    "pixel-training": pixel_training_table,
    "training-commands": commands_markdown,
    "reproductions": reproductions_table,
    "plain-vs-gated": plain_vs_gated,
    "affine-models": lambda: models_trained_with("augment_affine"),
    "ema-models": lambda: models_trained_with("ema"),
    "dropout-models": lambda: models_trained_with("dropout"),
    "recall-lag40": recall_at_lag,
    "mnist-train-images": lambda: training_images("mnist-5k"),
    "digits8-train-images": lambda: training_images("digits-8x8"),
    "performance": performance_table,
    "bench-machine": bench_machine,
    "bench-record": record_table,
}


def blocks_in(text: str) -> dict[str, str]:
    """name -> the text between a block's markers, as it stands in a document."""
    return {m.group(1): m.group(2) for m in MARKER.finditer(text)}


def rendered(name: str) -> str:
    """What a block holds once filled: a text ending in a newline starts on its own line."""
    if name not in BLOCKS:
        raise ValueError(f"Unknown marker block {name!r}; known: {sorted(BLOCKS)}.")
    text = BLOCKS[name]()
    return "\n" + text if text.endswith("\n") else text


def refresh(text: str) -> str:
    """The document with every marker block refilled."""
    return MARKER.sub(
        lambda m: f"<!-- {m.group(1)}:start -->{rendered(m.group(1))}<!-- {m.group(1)}:end -->",
        text,
    )


EPILOG = """\
Every table and number in the documents' prose sits between <!-- name:start --> and
<!-- name:end --> markers; this command fills them from assets/*.json and
docs/bench-results.jsonl. The tests fail while a block is stale.

examples:
  python -m autoreg.cards
  python -m autoreg.cards --check
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autoreg.cards",
        description="Refill the generated tables and figures of README.md and docs/ from "
        "the model cards.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    out = parser.add_argument_group("mode")
    out.add_argument(
        "--check",
        action="store_true",
        help="only list the stale documents and exit 1 if there are any; write nothing "
        "(default: off, rewrite them)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    stale = []
    for doc in DOCUMENTS:
        path = ROOT / doc
        text = path.read_text()
        new = refresh(text)
        if new != text:
            stale.append(doc)
            if not args.check:
                path.write_text(new)
    verb = "stale" if args.check else "rewritten"
    print(f"{verb}: {', '.join(stale)}" if stale else "every generated block is up to date")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
