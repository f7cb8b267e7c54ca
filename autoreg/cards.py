"""The README's tables of shipped models, built from their JSON cards.

The README must say what the cards say, so the tables are generated, never typed:
``python -m autoreg.cards`` prints them, ``python -m autoreg.cards --readme`` rewrites them
in the README. Sequence models: validation bits per token beside
the unigram and bigram baselines measured on the same split (the bar every model must
clear). PixelCNNs: test bits per dimension beside an independent categorical per pixel.
"""

from __future__ import annotations

import json
from pathlib import Path

from autoreg.pretrained import ASSETS


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


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


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


def pixel_markdown_table(assets: Path = ASSETS) -> str:
    """A Markdown table with one row per shipped PixelCNN: test NLL beside the baseline."""
    rows = [
        "| model | data | params | epochs* | test NLL (bits/dim) | baseline (bits/dim) "
        "| nats/image (test / baseline) | sample FD** (real / baseline) |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for name, card in cards_of_kind("pixelcnn", assets).items():
        cfg, m, data = card["config"], card.get("metrics", {}), card.get("dataset", {})
        nats = m.get("test_nats_per_image")
        base = m.get("baseline_nats_per_image")
        per_image = "–" if nats is None or base is None else f"{nats:.1f} / {base:.1f}"
        q, fd = card.get("samples"), "–"
        if q is not None:
            fd = f"{q['frechet_distance']:.1f} "
            fd += f"({q['real_reference']:.1f} / {q['baseline_reference']:.1f})"
        rows.append(
            f"| `{name}` ({cfg['kind']}, {cfg['channels']} ch, {cfg['n_blocks']} blocks, "
            f"{cfg['kernel']}×{cfg['kernel']}) | "
            f"{data.get('name', '?')} {cfg['image_size']}×{cfg['image_size']}, "
            f"{cfg['levels']} levels | {card.get('num_params', 0):,} | "
            f"{m.get('epochs_total', m.get('epochs', '–'))} | {_fmt(m.get('test_bits_per_dim'))} | "
            f"{_fmt(m.get('baseline_bits_per_dim'))} | {per_image} | {fd} |"
        )
    return "\n".join(rows) + "\n"


def refresh_readme(readme: Path) -> None:
    """Rewrite the model tables between their markers in ``readme`` from the cards."""
    text = readme.read_text()
    for marker, table in (
        ("sequence-models", markdown_table()),
        ("pixel-models", pixel_markdown_table()),
    ):
        start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
        head, rest = text.split(start, 1)
        text = head + start + "\n" + table + end + rest.split(end, 1)[1]
    readme.write_text(text)


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--readme"]:
        refresh_readme(ASSETS.parent / "README.md")
    else:
        print(markdown_table())
        print(pixel_markdown_table(), end="")
