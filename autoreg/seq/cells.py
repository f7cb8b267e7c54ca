"""The three cells side by side: parameter counts, and why a gate is a sigmoid.

Parameter counts. A recurrent layer with input size I and H units has, per "block"
(the RNN has 1, the GRU 3: r, z, n; the LSTM 4: i, f, g, o), an input matrix H×I, a
recurrent matrix H×H and a bias. Textbooks write one bias, H(I + H + 1) per block;
PyTorch keeps two (``bias_ih`` and ``bias_hh``), H(I + H + 2). They are redundant for
the RNN and the LSTM (they are always added); the GRU's ``b_hn`` is not, because the
reset gate multiplies it. ``recurrent_params`` is the formula, ``param_breakdown``
reads the real model, and the tests hold the two equal.

Sigmoid vs tanh. tanh(x) = 2σ(2x) − 1: one curve, shifted and stretched, so a single
function *would* do up to an affine change. What matters is the output range. A gate
multiplies: in (0, 1) it can only pass or shrink, saturating at 0 = closed and 1 = open.
A candidate is added: it must be signed. ``toy_cell`` changes only these ranges on one
set of pre-activations and shows what goes wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

BLOCKS = {"rnn": 1, "gru": 3, "lstm": 4}


def recurrent_params(
    cell: str, input_size: int, hidden: int, layers: int = 1, biases: int = 2
) -> int:
    """Weights of the recurrent layers: blocks · H · (I + H + biases), summed over layers.

    ``biases=2`` is PyTorch's count, ``biases=1`` the textbook's. Layers after the first
    read the H outputs of the layer below, so their I is H.
    """
    if cell not in BLOCKS:
        raise ValueError(f"Unknown cell {cell!r}; choose from {', '.join(BLOCKS)}.")
    if min(input_size, hidden, layers) < 1 or biases not in (1, 2):
        raise ValueError(
            f"Sizes must be positive and biases 1 or 2, got I={input_size}, H={hidden}, "
            f"layers={layers}, biases={biases}."
        )
    k = BLOCKS[cell]
    return sum(
        k * hidden * ((input_size if layer == 0 else hidden) + hidden + biases)
        for layer in range(layers)
    )


def model_params_formula(
    cell: str, vocab: int, embed: int, hidden: int, layers: int = 1
) -> dict[str, int]:
    """The whole language model by formula: embedding V·E, recurrent layers, head H·V + V."""
    parts = {
        "embedding": vocab * embed,
        "recurrent": recurrent_params(cell, embed, hidden, layers),
        "head": hidden * vocab + vocab,
    }
    parts["total"] = sum(parts.values())
    return parts


def param_breakdown(model: torch.nn.Module) -> dict[str, int]:
    """The same parts counted from the model's own tensors (``embed``, ``rnn``, ``head``)."""
    parts = {
        "embedding": sum(p.numel() for p in model.embed.parameters()),
        "recurrent": sum(p.numel() for p in model.rnn.parameters()),
        "head": sum(p.numel() for p in model.head.parameters()),
    }
    parts["total"] = sum(p.numel() for p in model.parameters())
    return parts


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def activation_curves(x: np.ndarray) -> dict[str, np.ndarray]:
    """σ, tanh and their derivatives: σ' = σ(1 − σ) peaks at 1/4, tanh' = 1 − tanh² at 1."""
    s, t = sigmoid(x), np.tanh(x)
    return {"sigmoid": s, "tanh": t, "d sigmoid": s * (1 - s), "d tanh": 1 - t * t}


# name -> (gate function, candidate function); only the ranges differ.
TOY_VARIANTS = {
    "LSTM: σ gates, tanh candidate": ("sigmoid", "tanh"),
    "tanh gates (−1..1)": ("tanh", "tanh"),
    "2σ gates (0..2)": ("2sigmoid", "tanh"),
    "σ candidate (0..1)": ("sigmoid", "sigmoid"),
}
_FUNCS = {"sigmoid": sigmoid, "tanh": np.tanh, "2sigmoid": lambda x: 2 * sigmoid(x)}


@dataclass(frozen=True)
class ToyRun:
    """A toy cell c_t = f_t c_{t-1} + i_t g_t run with one choice of functions."""

    name: str
    cell: np.ndarray  # (T, H) c after each step
    write_steps: int  # steps 0..write_steps-1 write (input open), the rest hold
    retention: float  # correlation over units of c at the end of writing and at the end
    max_abs: float  # largest |c| seen
    negative_share: float  # share of units with c < 0 at the end of writing


def toy_cell(
    variant: str, hidden: int = 32, write_steps: int = 10, hold_steps: int = 60, seed: int = 0
) -> ToyRun:
    """Write for ``write_steps`` steps, then hold for ``hold_steps``, with fixed pre-activations.

    The pre-activations (seeded, shared by every variant) say: while writing, input gate
    open (+3), forget gate half (0); while holding, forget gate open (+4), input gate
    closed (−4). Candidate pre-activations are N(0, 1.5²) throughout. Only the functions
    that turn them into gate and candidate values change between variants.
    """
    if variant not in TOY_VARIANTS:
        raise ValueError(f"Unknown variant {variant!r}; choose from {list(TOY_VARIANTS)}.")
    if min(hidden, write_steps, hold_steps) < 1:
        raise ValueError("hidden, write_steps and hold_steps must be at least 1.")
    rng = np.random.default_rng(seed)
    steps = write_steps + hold_steps
    writing = np.arange(steps)[:, None] < write_steps  # (T, 1)
    f_pre = np.where(writing, 0.0, 4.0) + 0.5 * rng.standard_normal((steps, hidden))
    i_pre = np.where(writing, 3.0, -4.0) + 0.5 * rng.standard_normal((steps, hidden))
    g_pre = 1.5 * rng.standard_normal((steps, hidden))
    gate_fn, cand_fn = (_FUNCS[n] for n in TOY_VARIANTS[variant])
    f, i, g = gate_fn(f_pre), gate_fn(i_pre), cand_fn(g_pre)
    c = np.zeros((steps, hidden))
    prev = np.zeros(hidden)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            prev = f[t] * prev + i[t] * g[t]
            c[t] = prev
        written, last = c[write_steps - 1], c[-1]
        retention = float(np.corrcoef(written, last)[0, 1])
    return ToyRun(
        name=variant,
        cell=c,
        write_steps=write_steps,
        retention=retention,
        max_abs=float(np.abs(c).max()),
        negative_share=float((written < 0).mean()),
    )


def value_summary(values: np.ndarray) -> dict[str, float]:
    """Share of values near 0 (< 0.1), near 1 (> 0.9), negative, and the range."""
    v = np.asarray(values, dtype=np.float64).ravel()
    return {
        "below 0.1": float((v < 0.1).mean()),
        "above 0.9": float((v > 0.9).mean()),
        "negative": float((v < 0).mean()),
        "min": float(v.min()),
        "max": float(v.max()),
    }
