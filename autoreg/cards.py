"""The README's table of shipped sequence models, built from their JSON cards.

The README must say what the cards say, so the table is generated, never typed:
``python -m autoreg.cards`` prints it. Columns: validation bits per token beside the
unigram and bigram baselines measured on the same split (the bar every model must clear).
"""

from __future__ import annotations

import json
from pathlib import Path

from autoreg.pretrained import ASSETS


def sequence_cards(assets: Path = ASSETS) -> dict[str, dict]:
    """name -> card for every ``assets/<name>.json`` of kind "sequence" with its weights."""
    cards = {}
    for path in sorted(Path(assets).glob("*.json")):
        if not path.with_suffix(".safetensors").exists():
            continue
        card = json.loads(path.read_text())
        if card.get("kind") == "sequence":
            cards[path.stem] = card
    return cards


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


if __name__ == "__main__":
    print(markdown_table(), end="")
