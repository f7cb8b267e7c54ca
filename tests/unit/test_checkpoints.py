"""Checkpoints: round trip, and each kind of bad file gets a clear ValueError."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

from autoreg.checkpoints import checkpoint_bytes, load_checkpoint, parse_checkpoint
from autoreg.pretrained import load_model_bytes, model_from_checkpoint
from autoreg.seq.model import SequenceConfig, SequenceModel, checkpoint_card, save_model
from autoreg.seq.tokenizers import CharTokenizer


def _model() -> SequenceModel:
    torch.manual_seed(0)
    tok = CharTokenizer.fit("hello world")
    return SequenceModel(SequenceConfig("lstm", tok.vocab_size, 4, 8), tok).eval()


def test_round_trip_via_file_and_bytes(tmp_path) -> None:
    model = _model()
    save_model(str(tmp_path / "m"), model, metrics={"val_bits_per_token": 1.5})
    assert (tmp_path / "m.safetensors").exists() and (tmp_path / "m.json").exists()
    back = model_from_checkpoint(load_checkpoint(tmp_path / "m.safetensors"))
    idx = torch.tensor([[1, 2, 3]])
    torch.testing.assert_close(back(idx)[0], model(idx)[0])
    again = load_model_bytes((tmp_path / "m.safetensors").read_bytes())
    torch.testing.assert_close(again(idx)[0], model(idx)[0])
    assert json.loads((tmp_path / "m.json").read_text())["metrics"]["val_bits_per_token"] == 1.5


def test_corrupt_and_truncated_files(tmp_path) -> None:
    data = checkpoint_bytes(_model().state_dict(), checkpoint_card(_model()))
    with pytest.raises(ValueError, match="not a valid safetensors"):
        parse_checkpoint(b"garbage bytes that are not a checkpoint")
    with pytest.raises(ValueError, match="not a valid safetensors"):
        parse_checkpoint(data[: len(data) // 2])  # truncated
    with pytest.raises(ValueError, match="empty"):
        parse_checkpoint(b"")
    with pytest.raises(ValueError, match="No checkpoint"):
        load_checkpoint(tmp_path / "missing.safetensors")


def test_pickles_are_refused() -> None:
    with pytest.raises(ValueError, match="pickle"):
        parse_checkpoint(pickle.dumps({"weight": [1, 2, 3]}))


def test_missing_or_foreign_card() -> None:
    from safetensors.torch import save

    bare = save({"w": torch.zeros(2)})
    with pytest.raises(ValueError, match="no autoreg card"):
        parse_checkpoint(bare)
    foreign = save({"w": torch.zeros(2)}, metadata={"card": json.dumps({"format": "other"})})
    with pytest.raises(ValueError, match="not made by autoreg"):
        parse_checkpoint(foreign)


def test_mismatched_shapes_are_named() -> None:
    model = _model()
    card = checkpoint_card(model)
    card["config"]["hidden_size"] = 16
    data = checkpoint_bytes(model.state_dict(), card)
    with pytest.raises(ValueError, match="shape mismatch"):
        load_model_bytes(data)
    tensors = dict(model.state_dict())
    tensors.pop("head.bias")
    with pytest.raises(ValueError, match="missing"):
        load_model_bytes(checkpoint_bytes(tensors, checkpoint_card(model)))
