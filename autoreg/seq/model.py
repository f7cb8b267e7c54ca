"""Token-level language models: Embedding -> RNN / LSTM / GRU -> Linear.

The recurrent core is PyTorch's own fused ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (fast to
train); ``autoreg.seq.trace`` recomputes every gate from these same weights, exactly, when a
page needs to see inside. The model is the book's (Embedding 100 -> LSTM 128 -> Dense
softmax) generalised to three cells and several layers, and follows PE's
``word_language_model`` contract::

    idx (B, T) --Embedding--> (B, T, E) --rnn--> (B, T, H) --dropout, Linear--> (B, T, V)

The tokenizer travels with the model (``model.tokenizer``) and is saved in the card.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from autoreg.checkpoints import Checkpoint, load_state_strict, save_checkpoint
from autoreg.seq.tokenizers import Tokenizer, tokenizer_from_dict

CELLS = ("rnn", "lstm", "gru")
_MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

# h (layers, B, H) for RNN/GRU; (h, c) for LSTM.
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class SequenceConfig:
    """Shape of a ``SequenceModel``; saved in the checkpoint card."""

    cell: str = "lstm"  # "rnn" (tanh), "lstm" or "gru"
    vocab_size: int = 100  # number of token ids, <unk> included
    embed_size: int = 32  # E: embedding width
    hidden_size: int = 256  # H: units per recurrent layer
    num_layers: int = 1  # stacked recurrent layers
    dropout: float = 0.0  # between layers and before the output layer (training only)

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"Unknown cell {self.cell!r}; choose from {', '.join(CELLS)}.")
        for name in ("vocab_size", "embed_size", "hidden_size", "num_layers"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}.")


class SequenceModel(nn.Module):
    """Embedding -> fused recurrent layers -> Linear logits.

    Args:
        config: the model's shape.
        tokenizer: optional; kept as ``self.tokenizer`` so traces and samples can show text.
    """

    def __init__(self, config: SequenceConfig, tokenizer: Tokenizer | None = None) -> None:
        super().__init__()
        if tokenizer is not None and tokenizer.vocab_size != config.vocab_size:
            raise ValueError(
                f"The tokenizer has {tokenizer.vocab_size} tokens but the config says "
                f"vocab_size={config.vocab_size}."
            )
        self.config = config
        self.tokenizer = tokenizer
        self.embed = nn.Embedding(config.vocab_size, config.embed_size)
        kwargs = {"nonlinearity": "tanh"} if config.cell == "rnn" else {}
        self.rnn = _MODULES[config.cell](
            config.embed_size,
            config.hidden_size,
            num_layers=config.num_layers,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            **kwargs,
        )
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, config.vocab_size)

    @property
    def cell(self) -> str:
        return self.config.cell

    def init_state(self, batch_size: int = 1) -> State:
        """Zero state: h (layers, B, H), and (h, c) for the LSTM."""
        c = self.config
        h = torch.zeros(c.num_layers, batch_size, c.hidden_size, device=self.head.weight.device)
        return (h, h.clone()) if c.cell == "lstm" else h

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        state: State | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, State]:
        """Logits (B, T, V), mean cross-entropy in nats when ``targets`` (B, T) are given, state."""
        if idx.dim() != 2:
            raise ValueError(f"idx must be (batch, time), got shape {tuple(idx.shape)}.")
        x = self.embed(idx)  # (B, T, E)
        out, state = self.rnn(x, state)  # (B, T, H)
        logits = self.head(self.drop(out))  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss, state

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def encode(self, text_or_ids: str | list[int] | torch.Tensor) -> list[int]:
        """Token ids for text (needs the tokenizer) or ids checked against the vocabulary."""
        if isinstance(text_or_ids, str):
            if self.tokenizer is None:
                raise ValueError("This model has no tokenizer; pass token ids instead of text.")
            return self.tokenizer.encode(text_or_ids)
        ids = [
            int(i) for i in (text_or_ids.tolist() if torch.is_tensor(text_or_ids) else text_or_ids)
        ]
        bad = [i for i in ids if not 0 <= i < self.config.vocab_size]
        if bad:
            raise ValueError(
                f"Token id {bad[0]} is outside the vocabulary 0..{self.config.vocab_size - 1}."
            )
        return ids

    def token_strings(self, ids: list[int]) -> list[str]:
        if self.tokenizer is None:
            return [str(i) for i in ids]
        return [self.tokenizer.token(i) for i in ids]


def checkpoint_card(model: SequenceModel, **extra: object) -> dict:
    """The JSON card for a sequence model: config, tokenizer and any extra facts (metrics...)."""
    card = {
        "format": "autoreg",
        "version": 1,
        "kind": "sequence",
        "config": asdict(model.config),
        "tokenizer": model.tokenizer.to_dict() if model.tokenizer is not None else None,
        "num_params": model.num_params(),
        "torch_version": torch.__version__,
    }
    card.update(extra)
    return card


def save_model(path: str, model: SequenceModel, **extra: object) -> None:
    """Save weights + card atomically via ``autoreg.checkpoints.save_checkpoint``."""
    save_checkpoint(path, model.state_dict(), checkpoint_card(model, **extra))


def model_from_checkpoint(ckpt: Checkpoint) -> SequenceModel:
    """Build a ``SequenceModel`` from a checkpoint (config, tokenizer, weights); eval mode."""
    raw = ckpt.card["config"]
    fields = set(SequenceConfig.__dataclass_fields__)
    unknown = sorted(set(raw) - fields)
    if unknown:
        raise ValueError(f"The card's config has unknown fields {unknown}.")
    try:
        config = SequenceConfig(**raw)
    except TypeError as exc:
        raise ValueError(f"The card's config is not a sequence model config ({exc}).") from None
    tok = ckpt.card.get("tokenizer")
    tokenizer = tokenizer_from_dict(tok) if tok is not None else None
    model = SequenceModel(config, tokenizer)
    load_state_strict(model, ckpt.tensors)
    return model.eval()
