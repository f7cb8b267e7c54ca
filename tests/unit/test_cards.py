"""The README table lists every shipped sequence model with the numbers of its card."""

from __future__ import annotations

import torch

from autoreg.cards import markdown_table, sequence_cards
from autoreg.pretrained import list_pretrained
from autoreg.sequence import SequenceConfig, SequenceModel, save_model
from autoreg.tokenizers import CharTokenizer


def test_table_lists_every_shipped_sequence_model() -> None:
    table = markdown_table()
    names = list_pretrained(kind="sequence")
    assert set(sequence_cards()) == set(names)
    for name in names:
        assert f"`{name}`" in table
    assert len(table.strip().splitlines()) == 2 + len(names)


def test_table_matches_the_cards(tmp_path) -> None:
    tok = CharTokenizer.fit("abc")
    torch.manual_seed(0)
    model = SequenceModel(SequenceConfig("gru", tok.vocab_size, 2, 3), tok)
    metrics = {"val_bits_per_token": 1.23456, "unigram_bits_per_token": 2.5,
               "bigram_bits_per_token": 2.0, "epochs_done": 4}  # fmt: skip
    save_model(str(tmp_path / "gru-toy"), model, corpus={"name": "toy"}, metrics=metrics)
    (tmp_path / "orphan.json").write_text("{}")  # no weights: not listed
    table = markdown_table(tmp_path)
    row = table.strip().splitlines()[-1]
    assert row.startswith("| `gru-toy` | GRU E2 H3x1 V4 | char | toy |")
    assert "| 1.235 | 2.500 | 2.000 | 4 |  |" in row
    assert "orphan" not in table
