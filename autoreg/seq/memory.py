"""Why gated cells remember: gradient influence, long-range tasks and gates that hold a token.

Everything the Memory page measures on real models, with no Streamlit and no plotly:

* ``gradient_influence``: how strongly each earlier input can still move one prediction,
  the norm of d log p(x_T | x_<T) / d e_t for every input embedding e_t (t < T), by
  autograd through the model's own fused recurrent module. A plain RNN multiplies by
  W_hh and tanh' at every step back, so this norm shrinks geometrically (Bengio et al.
  1994; Hochreiter & Schmidhuber 1997); the LSTM's additive cell path c_t = f c_{t-1} + ...
  lets it survive while f stays near 1.
* ``recall_scores`` / ``recall_curve``: the recall task of ``autoreg.seq.corpora`` (a letter,
  L random digits, "=", the same letter), scored line by line with the model's argmax.
  Chance is 1 / (number of letters).
* ``brackets_curve``: aⁿbⁿ lines, scored on the forced part (every b after the first and the
  newline), for n inside and beyond the training range.
* ``holding_units``: the units that carry the recalled letter across the lag, found by
  reading the same digits after each of the letters and measuring how far apart the
  letters keep each unit's state.

The cached, shared models are never changed: gradients are taken with respect to a
detached copy of the embeddings, so no parameter needs ``requires_grad``.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from autoreg.seq import corpora
from autoreg.seq.model import SequenceModel
from autoreg.seq.trace import Trace, trace

RECALL_LETTERS = "abcdefgh"  # corpora.recall_task's default alphabet: chance = 1/8
DIGITS = "0123456789"


def gradient_influence(model: SequenceModel, ids: list[int], target: int) -> np.ndarray:
    """Norms ‖∂ log p(x_target | x_<target) / ∂ e_t‖₂ for t = 0 .. target-1, shape (target,).

    ``e_t`` is the embedding vector of input ``ids[t]``; the prediction of ``ids[target]``
    is made from the output after step ``target - 1``. The model is run in eval mode and
    is never modified (the gradient flows into a detached copy of the embeddings).

    Raises:
        ValueError: when ``target`` is not a position with at least one input before it.
    """
    if not 1 <= target < len(ids):
        raise ValueError(
            f"The predicted position must be between 1 and {len(ids) - 1}, got {target}."
        )
    idx = torch.tensor(ids[: target + 1], dtype=torch.long).unsqueeze(0)  # (1, T+1)
    model = _in_eval(model)
    with torch.enable_grad():
        emb = model.embed(idx[:, :target]).detach().requires_grad_(True)  # (1, T, E)
        out, _ = model.rnn(emb)  # (1, T, H)
        logp = F.log_softmax(model.head(out[0, -1]), dim=-1)  # (V,)
        (grad,) = torch.autograd.grad(logp[idx[0, target]], emb)
    return grad[0].norm(dim=-1).numpy().astype(np.float64)


def _in_eval(model: SequenceModel) -> SequenceModel:
    """The model itself when it is in eval mode (shared models always are), else an eval
    copy: measurements never flip a flag on a model that other sessions may be using."""
    return copy.deepcopy(model).eval() if model.training else model


def relative_influence(norms: np.ndarray, floor: float = 1e-12) -> np.ndarray:
    """Influence relative to the newest input (t = T-1), the page's normalisation.

    Dividing by the last value makes every cell's curve start at 1, so the curves compare
    how fast influence decays with distance, not the models' overall gradient scale.
    """
    norms = np.asarray(norms, dtype=np.float64)
    return np.maximum(norms, floor) / max(float(norms[-1]), floor)


@dataclass(frozen=True)
class RecallScores:
    """One row per recall line of a text: its lag and whether the argmax was right."""

    lags: np.ndarray  # (n,) digits between the letter and "="
    correct: np.ndarray  # (n,) bool: argmax after "=" is the remembered letter
    predicted: list[str]  # (n,) the model's argmax token after "="

    @property
    def accuracy(self) -> float:
        return float(self.correct.mean()) if len(self.correct) else float("nan")


@torch.no_grad()
def recall_scores(model: SequenceModel, text: str) -> RecallScores:
    """Score every ``<letter><digits>=<letter>`` line of ``text`` in one forward pass.

    The state runs through the whole text as in training (lines follow one another),
    and the prediction for the letter after "=" is the argmax of the output at "=".
    """
    model = _in_eval(model)
    ids = model.encode(text)
    if len(ids) < 2:
        raise ValueError("The recall text is too short to score.")
    x = torch.tensor(ids).unsqueeze(0)  # (1, T)
    logits, _, _ = model(x)
    pred = logits[0].argmax(-1).numpy()  # (T,) prediction for position t + 1
    lags, correct, predicted = [], [], []
    for pos in corpora.recall_targets(text):
        start = text.rfind("\n", 0, pos) + 1  # first char of this line: the letter
        lags.append(pos - 1 - start - 1)  # digits between the letter and "="
        correct.append(int(pred[pos - 1]) == ids[pos])
        predicted.append(model.token_strings([int(pred[pos - 1])])[0])
    return RecallScores(np.asarray(lags), np.asarray(correct, dtype=bool), predicted)


def recall_curve(model: SequenceModel, lags: list[int], n: int = 200, seed: int = 0) -> np.ndarray:
    """Accuracy at each lag on ``n`` fresh lines (``corpora.recall_task``), seeded per lag."""
    acc = []
    for lag in lags:
        text = corpora.recall_task(n, lag, alphabet=RECALL_LETTERS, seed=seed * 10_007 + lag)
        acc.append(recall_scores(model, text).accuracy)
    return np.asarray(acc)


@torch.no_grad()
def brackets_curve(
    model: SequenceModel, depths: list[int], reps: int = 20, seed: int = 0
) -> np.ndarray:
    """Share of aⁿbⁿ lines whose forced part the argmax predicts entirely, per n.

    Lines of all requested depths, ``reps`` each, are shuffled (seeded) into one stream,
    so each line is read after unrelated lines, as in training. Three short unscored
    lines come first: a training stream never starts a line from the zero state, and a
    first line read from it is no fair test of counting. The forced part is every b
    after the first (the first b is a guess: the a's could go on) and the newline.
    """
    if not depths or min(depths) < 1:
        raise ValueError(f"Depths must be positive integers, got {depths}.")
    order = [d for d in depths for _ in range(reps)]
    random.Random(seed).shuffle(order)
    warmup = "\nab\naabb\naaabbb\n"  # unscored, see above
    text = warmup + "".join("a" * d + "b" * d + "\n" for d in order)
    model = _in_eval(model) if isinstance(model, SequenceModel) else model
    ids = model.encode(text)
    pred = model(torch.tensor(ids).unsqueeze(0))[0][0].argmax(-1).numpy()  # (T,)
    hits: dict[int, list[bool]] = {d: [] for d in depths}
    start = len(warmup)
    for d in order:
        forced = range(start + d + 1, start + 2 * d + 1)  # b_2..b_d and "\n"
        hits[d].append(all(int(pred[t - 1]) == ids[t] for t in forced))
        start += 2 * d + 1
    return np.asarray([np.mean(hits[d]) for d in depths])


def training_range(task: str, sha256: str | None = None) -> int:
    """The longest lag (``recall``) or deepest n (``brackets``) in the task's training text.

    Read from the registered corpus itself; with ``sha256`` (from a model card) the text
    must be the one the model was trained on, else ``ValueError``.
    """
    text = corpora.load_corpus(task)
    if sha256 is not None and corpora.sha256(text) != sha256:
        raise ValueError(f"The {task!r} corpus differs from the one this model was trained on.")
    lines = [line for line in text.split("\n") if line]
    if task == "recall":
        return max(line.index("=") - 1 for line in lines)
    if task == "brackets":
        return max(line.count("a") for line in lines)
    raise ValueError(f"{task!r} is not a synthetic task; choose 'recall' or 'brackets'.")


@dataclass(frozen=True)
class Holding:
    """How one recall line is carried: traces per letter and units ranked by memory."""

    text: str  # the line shown: "\\n" + letter + digits + "=" + letter
    letter: str  # the letter of ``trace``
    trace: Trace  # trace of ``text``
    states: np.ndarray  # (letters, T, H): c (LSTM) or h (RNN/GRU) for each letter
    spread: np.ndarray  # (H,) std over letters of the state at "=": memory per unit
    order: np.ndarray  # (H,) units, most letter-dependent first
    gate: str | None  # "forget" (LSTM), "update" (GRU), None (RNN)
    gate_mean: np.ndarray | None  # (H,) mean gate over the digits (1 = keeps the old state)
    held_unit: int  # the unit with the largest spread x mean gate: held by its gate


def holding_units(model: SequenceModel, lag: int, seed: int = 0, letter: str = "c") -> Holding:
    """Read the same ``lag`` digits after every letter and rank units by what they keep.

    A unit that remembers the letter has a different state at "=" for each letter, so
    the spread (std over letters) of its state at "=" measures how much of the letter it
    still holds after the lag. LSTM: the cell state c; GRU and RNN: h.
    """
    if lag < 1:
        raise ValueError(f"The lag must be at least 1, got {lag}.")
    if letter not in RECALL_LETTERS:
        raise ValueError(f"The letter must be one of {RECALL_LETTERS!r}, got {letter!r}.")
    rng = random.Random(seed)
    digits = "".join(rng.choice(DIGITS) for _ in range(lag))
    texts = {k: f"\n{k}{digits}={k}" for k in RECALL_LETTERS}
    traces = {k: trace(model, t) for k, t in texts.items()}
    use_c = model.cell == "lstm"
    states = np.stack([(tr.cell if use_c else tr.hidden)[:, -1, :] for tr in traces.values()])
    eq = texts[letter].index("=")
    spread = states[:, eq, :].std(axis=0)
    gate = {"lstm": "forget", "gru": "update"}.get(model.cell)
    gate_mean = None
    held = int(np.argmax(spread))
    if gate is not None:
        gate_mean = traces[letter].gates[gate][2:eq, -1, :].mean(axis=0)  # over the digits
        held = int(np.argmax(spread * gate_mean))
    return Holding(
        text=texts[letter],
        letter=letter,
        trace=traces[letter],
        states=states,
        spread=spread,
        order=np.argsort(-spread),
        gate=gate,
        gate_mean=gate_mean,
        held_unit=held,
    )
