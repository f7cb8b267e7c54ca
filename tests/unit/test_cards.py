"""The generated tables say what the cards say, and every command gives back its card."""

from __future__ import annotations

import shlex

import pytest
import torch

from autoreg import cards
from autoreg.cards import markdown_table, pixel_markdown_table, sequence_cards
from autoreg.commands import training_command
from autoreg.pretrained import ASSETS, list_pretrained
from autoreg.seq.model import SequenceConfig, SequenceModel, save_model
from autoreg.seq.tokenizers import CharTokenizer
from autoreg.train import build_parser

PIXEL_CARD = {
    "kind": "pixelcnn",
    "config": {"kind": "gated", "image_size": 16, "levels": 4, "channels": 8, "n_blocks": 2,
               "first_kernel": 7, "kernel": 3},
    "dataset": {"name": "mnist-5k", "n_train": 4500},
    "training": {"epochs": 30, "batch_size": 64, "lr": 0.0005, "seed": 0,
                 "augment_affine": True, "ema": 0.9995, "device": "cpu"},
    "metrics": {"test_bits_per_dim": 0.33333, "baseline_bits_per_dim": 0.7305,
                "epochs": 12, "epochs_total": 40, "resumed_from_epochs": 28,
                "stopped_early": True},
    "num_params": 1234,
    "samples": {"frechet_distance": 21.66, "real_reference": 7.24, "baseline_reference": 491.1},
}  # fmt: skip


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


def _pixel_assets(tmp_path, card: dict, name: str = "gated-toy"):
    import json

    (tmp_path / f"{name}.json").write_text(json.dumps(card))
    (tmp_path / f"{name}.safetensors").write_bytes(b"")  # only its presence is read
    return tmp_path


def test_pixel_table_rows_come_from_the_card(tmp_path) -> None:
    table = pixel_markdown_table(_pixel_assets(tmp_path, PIXEL_CARD))
    row = table.strip().splitlines()[-1]
    assert row == (
        "| `gated-toy` | gated, 8 ch, 2 blocks, 3×3 | mnist-5k 16×16, 4 levels | 1,234 "
        "| 0.333 | 0.731 | 21.7 (7.2 / 491.1) |"
    )
    training = cards.pixel_training_table(tmp_path).strip().splitlines()[-1]
    assert training.startswith("| `gated-toy` | 40 (resumed) |")


def test_plain_and_gated_pair_up_by_data_setting(tmp_path) -> None:
    plain = {**PIXEL_CARD, "config": {**PIXEL_CARD["config"], "kind": "pixelcnn"}}
    _pixel_assets(tmp_path, PIXEL_CARD)
    _pixel_assets(tmp_path, plain, "plain-toy")
    other = {**plain, "config": {**plain["config"], "image_size": 8}}
    _pixel_assets(tmp_path, other, "plain-alone")  # no gated twin: left out
    rows = cards.plain_vs_gated(tmp_path).strip().splitlines()[2:]
    assert [r.split(" | ")[1] for r in rows] == ["`plain-toy`", "`gated-toy`"]
    assert cards.models_trained_with("augment_affine", tmp_path).count("`") == 6
    assert cards.models_trained_with("dropout", tmp_path) == "none of the shipped models"


def test_a_card_with_its_command_line_gives_it_back_as_run() -> None:
    card = {"kind": "sequence", "command": "python -m autoreg.train seq --out runs/x"}
    assert training_command("x", card) == ("python -m autoreg.train seq --out runs/x", "as run")


def test_a_rebuilt_pixel_command_says_what_the_card_cannot_tell() -> None:
    command, note = training_command("gated-toy", PIXEL_CARD)
    assert "--resume assets/gated-toy.safetensors" in command
    assert "--augment-affine" in command and "--ema 0.9995" in command
    assert "28 epochs of earlier runs" in note and "after 12 epochs" in note


@pytest.mark.parametrize("name", list_pretrained())
def test_every_shipped_command_parses_back_to_its_card(name) -> None:
    card = cards.cards_of_kind("sequence") | cards.cards_of_kind("pixelcnn")
    card = card[name]
    command, note = training_command(name, card)
    argv = shlex.split(command)
    assert argv[:3] == ["python", "-m", "autoreg.train"]
    args = build_parser().parse_args(argv[3:])
    if note == "as run":
        return
    if card["kind"] == "sequence":
        for key, value in card["training"].items():
            assert getattr(args, key) == value, key
    else:
        cfg, data, tr = card["config"], card["dataset"], card["training"]
        assert (args.model, args.dataset, args.size, args.levels) == (
            cfg["kind"], data["name"], cfg["image_size"], cfg["levels"])  # fmt: skip
        assert (args.channels, args.blocks, args.first_kernel, args.kernel) == (
            cfg["channels"], cfg["n_blocks"], cfg["first_kernel"], cfg["kernel"])  # fmt: skip
        for key, value in tr.items():
            assert getattr(args, key) == value, key


def test_blocks_are_refilled_inline_or_on_lines_of_their_own() -> None:
    text = "We ship <!-- model-count:start -->0<!-- model-count:end --> models.\n"
    text += "<!-- pages:start -->\nold\n<!-- pages:end -->\n"
    new = cards.refresh(text)
    assert f"ship <!-- model-count:start -->{len(list_pretrained())}<!--" in new
    assert cards.blocks_in(new)["pages"] == "\n" + cards.BLOCKS["pages"]()
    assert cards.refresh(new) == new
    with pytest.raises(ValueError, match="no-such-block"):
        cards.refresh("<!-- no-such-block:start --><!-- no-such-block:end -->")


def test_shipped_sequence_models_meet_the_bar() -> None:
    """LSTM and GRU beat the RNN; every char model beats the bigram baseline clearly;
    the gated cells recall across long lags where the RNN cannot; files stay small."""
    cards_ = sequence_cards()
    for corpus in ("pydocs", "stdlib"):
        char = {c: cards_.get(f"{c}-char-{corpus}") for c in ("rnn", "lstm", "gru")}
        if not all(char.values()):
            continue
        bits = {c: card["metrics"]["val_bits_per_token"] for c, card in char.items()}
        assert bits["lstm"] < bits["rnn"] and bits["gru"] < bits["rnn"]
        for card in char.values():
            m = card["metrics"]
            assert m["val_bits_per_token"] < m["bigram_bits_per_token"] - 1
    for name, card in cards_.items():  # the book's word model: a 10,000-word softmax
        cap = 12 if card.get("tokenizer", {}).get("kind") == "word" else 3
        assert (ASSETS / f"{name}.safetensors").stat().st_size <= cap * 2**20
    recall = {
        c: cards_[f"{c}-recall"]["metrics"]["recall_accuracy"] for c in ("rnn", "lstm", "gru")
    }
    for c in ("lstm", "gru"):
        assert recall[c]["40"] > recall["rnn"]["40"] + 0.5


def test_every_shipped_sequence_model_loads_and_traces() -> None:
    import autoreg

    for name in list_pretrained(kind="sequence"):
        model = autoreg.load_pretrained(name)
        assert not model.training and model.tokenizer is not None
        tr = autoreg.trace(model, "def f(x):\n    return x")
        cfg = model.config
        assert tr.hidden.shape == (len(tr.ids), cfg.num_layers, cfg.hidden_size)
        assert tr.probs.shape == (len(tr.ids), cfg.vocab_size)
