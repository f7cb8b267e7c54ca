"""Rerunning a card's command: the command is the card's own, and the record holds.

The record (``docs/reproductions.jsonl``) is made by ``python -m autoreg.bench.reproduce``,
which trains for an hour or more per model, so the tests check what it wrote: every
shipped standard-library text model has a line, the line compares the figures the card
holds today (a retrained model makes it stale), and every figure is within the bar.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from autoreg.bench import reproduce
from autoreg.pretrained import list_pretrained, pretrained_card

STDLIB_MODELS = [n for n in list_pretrained("sequence") if n.endswith("-stdlib")]


def test_the_rerun_is_the_cards_command_with_only_the_output_moved(tmp_path) -> None:
    card = pretrained_card("rnn-char-stdlib")
    argv = reproduce.rerun_argv(card, tmp_path / "x")
    original = shlex.split(card["command"])[3:]
    i = original.index("--out")
    assert argv[:i] == original[:i] and argv[i + 2 :] == original[i + 2 :]
    assert argv[i : i + 2] == ["--out", str(tmp_path / "x")]
    with pytest.raises(ValueError, match="no command"):
        reproduce.rerun_argv({"metrics": {}}, tmp_path)


def test_compare_measures_every_held_out_figure_against_the_bar() -> None:
    card = {"command": "c", "metrics": {"val_bits_per_token": 1.5, "test_bits_per_token": 1.6}}
    near = {"metrics": {"val_bits_per_token": 1.52, "test_bits_per_token": 1.58}}
    line = reproduce.compare("m", card, near)
    assert line["ok"] and line["largest_difference"] == pytest.approx(0.02)
    assert set(line["figures"]) == {"val_bits_per_token", "test_bits_per_token"}
    far = {"metrics": {"val_bits_per_token": 1.5, "test_bits_per_token": 1.7}}
    assert not reproduce.compare("m", card, far)["ok"]


def test_write_record_keeps_one_line_per_model(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    reproduce.write_record([{"model": "b", "v": 1}, {"model": "a", "v": 1}], path)
    reproduce.write_record([{"model": "b", "v": 2}], path)
    assert reproduce.load_record(path) == [{"model": "a", "v": 1}, {"model": "b", "v": 2}]


@pytest.mark.parametrize("name", STDLIB_MODELS)
def test_every_stdlib_text_model_was_reproduced_from_its_card(name) -> None:
    lines = {x["model"]: x for x in reproduce.load_record()}
    assert name in lines, f"{name} has no rerun in docs/reproductions.jsonl"
    line, card = lines[name], pretrained_card(name)
    assert line["command"] == card["command"]
    for key, figure in line["figures"].items():
        assert figure["card"] == card["metrics"][key], f"{name}: the record is stale ({key})"
        assert abs(figure["rerun"] - figure["card"]) <= reproduce.TOLERANCE_BITS, (name, key)
    assert set(line["figures"]) >= {"val_bits_per_token", "test_bits_per_token"}
