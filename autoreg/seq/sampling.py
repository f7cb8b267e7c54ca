"""Sampling from a sequence model, one visible step at a time.

The pipeline of one draw, as the Generate page shows it::

    logits --÷ temperature--> scaled --top-k mask--> masked --log_softmax--> log p --draw--> id

All of it happens in log space: ``log_softmax(logits / T)`` never overflows, even at
T = 0.05 where ``exp(logits / T)`` would. T = 0 means greedy (argmax). Every call draws
from its own ``torch.Generator`` seeded by ``seed``, so a seed widget replays the same
sample and two browser sessions never share random state (nG ``generate``; style 9, 11).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from autoreg.seq.model import SequenceModel

MIN_TEMPERATURE = 0.05  # below this (except exactly 0) the page's slider stops


@dataclass(frozen=True)
class Pipeline:
    """Every stage of turning logits (V,) into a distribution; NumPy-free torch tensors."""

    logits: torch.Tensor  # (V,) raw model output
    scaled: torch.Tensor  # (V,) logits / temperature (logits itself when temperature = 0)
    masked: torch.Tensor  # (V,) scaled with everything outside the top k set to -inf
    probs_before: torch.Tensor  # (V,) softmax(logits): the model's own distribution
    probs_after: torch.Tensor  # (V,) the distribution actually sampled (one-hot at T = 0)


def sampling_pipeline(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    exclude: tuple[int, ...] = (),
) -> Pipeline:
    """Apply temperature and top-k to one step's logits and return every stage.

    ``exclude`` lists ids that are never drawn (``sample`` excludes ``<unk>``, id 0).

    Raises:
        ValueError: for a negative temperature or a top_k below 1.
    """
    if temperature < 0 or temperature != temperature:
        raise ValueError(f"temperature must be >= 0, got {temperature}.")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be at least 1 (or None for no cut), got {top_k}.")
    logits = logits.detach().float().reshape(-1)
    probs_before = F.softmax(logits, dim=-1)
    banned = torch.zeros_like(logits, dtype=torch.bool)
    banned[list(exclude)] = True
    if banned.all():
        raise ValueError("Every token is excluded; nothing can be drawn.")
    if temperature == 0:
        masked = logits.masked_fill(banned, float("-inf"))
        after = torch.zeros_like(logits)
        after[int(masked.argmax())] = 1.0
        return Pipeline(logits, logits, masked, probs_before, after)
    scaled = logits / temperature
    masked = scaled.masked_fill(banned, float("-inf"))
    if top_k is not None and top_k < logits.numel():
        kth = torch.topk(masked, top_k).values[-1]
        masked = masked.masked_fill(masked < kth, float("-inf"))
    probs_after = F.log_softmax(masked, dim=-1).exp()  # log space: stable for tiny T
    return Pipeline(logits, scaled, masked, probs_before, probs_after)


@dataclass(frozen=True)
class SampleStep:
    """One generated token and the distributions it was drawn from."""

    index: int  # 0 for the first generated token
    logits: torch.Tensor  # (V,)
    probs_before: torch.Tensor  # (V,) softmax(logits)
    probs_after: torch.Tensor  # (V,) after temperature and top-k
    token_id: int
    token: str  # the token's text (via the model's tokenizer)


@torch.no_grad()
def sample(
    model: SequenceModel,
    prompt: str | list[int],
    steps: int = 100,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    allow_unknown: bool = False,
) -> Iterator[SampleStep]:
    """Generate ``steps`` tokens after ``prompt``, yielding each step as it is drawn.

    The prompt is read once (its final state and logits seed the loop); each later step
    feeds only the new token and the carried state, so a step costs one cell update.
    The model is used in eval mode and restored to its previous mode afterwards. The
    unknown token (id 0) is never drawn unless ``allow_unknown``.

    Raises:
        ValueError: for an empty prompt, negative steps or bad temperature / top_k.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}.")
    sampling_pipeline(torch.zeros(2), temperature, top_k)  # validate before any work
    ids = model.encode(prompt)
    if not ids:
        raise ValueError("The prompt is empty: type at least one character or word.")
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    exclude = () if allow_unknown else (0,)
    was_training = model.training
    model.eval()
    try:
        device = model.head.weight.device
        logits, _, state = model(torch.tensor([ids], device=device))
        last = logits[0, -1]
        for i in range(steps):
            p = sampling_pipeline(last.cpu(), temperature, top_k, exclude)
            if temperature == 0:
                nxt = int(p.probs_after.argmax())
            else:
                nxt = int(torch.multinomial(p.probs_after, 1, generator=gen))
            yield SampleStep(
                index=i,
                logits=p.logits,
                probs_before=p.probs_before,
                probs_after=p.probs_after,
                token_id=nxt,
                token=model.token_strings([nxt])[0],
            )
            logits, _, state = model(torch.tensor([[nxt]], device=device), state=state)
            last = logits[0, -1]
    finally:
        model.train(was_training)


def generate_text(model: SequenceModel, prompt: str, steps: int = 200, **kwargs: object) -> str:
    """The prompt plus ``steps`` sampled tokens, decoded (word models join with spaces)."""
    tok = model.tokenizer
    if tok is None:
        raise ValueError("This model has no tokenizer, so it cannot produce text.")
    new = [s.token_id for s in sample(model, prompt, steps, **kwargs)]
    sep = " " if tok.kind == "word" and new else ""
    return prompt + sep + tok.decode(new)
