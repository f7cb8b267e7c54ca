"""SequenceModel: the forward contract, state handling, config validation, the card."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from autoreg.checkpoints import Checkpoint
from autoreg.seq.model import SequenceConfig, SequenceModel, checkpoint_card, model_from_checkpoint
from autoreg.seq.tokenizers import CharTokenizer


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_forward_shapes_loss_and_state(cell: str) -> None:
    torch.manual_seed(0)
    model = SequenceModel(SequenceConfig(cell, 11, 4, 8, 2)).eval()
    idx = torch.randint(0, 11, (3, 7))
    logits, loss, state = model(idx)
    assert logits.shape == (3, 7, 11) and loss is None
    h = state[0] if cell == "lstm" else state
    assert h.shape == (2, 3, 8)
    _, loss, _ = model(idx, idx)
    assert loss.item() == pytest.approx(
        F.cross_entropy(logits.reshape(-1, 11), idx.reshape(-1)).item()
    )
    # carrying the state across two halves equals one pass
    a, _, s = model(idx[:, :3])
    b, _, _ = model(idx[:, 3:], state=s)
    torch.testing.assert_close(torch.cat([a, b], 1), logits)
    init = model.init_state(3)
    torch.testing.assert_close(model(idx, state=init)[0], logits)


def test_module_layout_and_num_params() -> None:
    model = SequenceModel(SequenceConfig("lstm", 10, 100, 128, 1))
    assert isinstance(model.rnn, torch.nn.LSTM) and model.rnn.batch_first
    expected = 10 * 100 + 4 * 128 * (100 + 128 + 2) + 128 * 10 + 10
    assert model.num_params() == expected
    assert isinstance(SequenceModel(SequenceConfig("gru")).rnn, torch.nn.GRU)
    assert isinstance(SequenceModel(SequenceConfig("rnn")).rnn, torch.nn.RNN)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="cell"):
        SequenceConfig("transformer")
    with pytest.raises(ValueError, match="hidden_size"):
        SequenceConfig(hidden_size=0)
    with pytest.raises(ValueError, match="dropout"):
        SequenceConfig(dropout=1.0)
    with pytest.raises(ValueError, match="tokenizer has"):
        SequenceModel(SequenceConfig(vocab_size=3), CharTokenizer.fit("abcdef"))
    with pytest.raises(ValueError, match="batch, time"):
        SequenceModel(SequenceConfig(vocab_size=3))(torch.zeros(4, dtype=torch.long))


def test_encode_needs_tokenizer_for_text_and_checks_ids() -> None:
    model = SequenceModel(SequenceConfig(vocab_size=5))
    with pytest.raises(ValueError, match="no tokenizer"):
        model.encode("abc")
    with pytest.raises(ValueError, match="outside"):
        model.encode([1, 5])
    assert model.encode(torch.tensor([1, 4])) == [1, 4]
    assert model.token_strings([1, 2]) == ["1", "2"]


def test_card_round_trip_keeps_tokenizer_and_weights() -> None:
    tok = CharTokenizer.fit("hello world")
    model = SequenceModel(SequenceConfig("gru", tok.vocab_size, 3, 6), tok)
    card = checkpoint_card(model, metrics={"val_bits_per_token": 2.0})
    assert card["kind"] == "sequence" and card["tokenizer"]["vocab"] == tok.itos[1:]
    assert card["num_params"] == model.num_params() and card["metrics"]["val_bits_per_token"] == 2.0
    back = model_from_checkpoint(Checkpoint(dict(model.state_dict()), card))
    assert not back.training and back.tokenizer.itos == tok.itos
    idx = torch.tensor([tok.encode("hello")])
    torch.testing.assert_close(back(idx)[0], model.eval()(idx)[0])
    bad = dict(card, config={**card["config"], "heads": 4})
    with pytest.raises(ValueError, match="unknown fields"):
        model_from_checkpoint(Checkpoint(dict(model.state_dict()), bad))
