"""What single units of a recurrent network track: text features, scores, gate saturation.

Karpathy, Johnson & Fei-Fei (2015, "Visualizing and Understanding Recurrent Networks")
found LSTM cells that switch on inside quotes, count the position in a line, or track
bracket depth. This module makes that search automatic and honest:

* ``text_features(text)`` labels every character with simple facts a program can check
  exactly (inside a string, inside brackets, depth, column, indentation, whitespace).
  Each value describes the state *after reading* that character, which is also when the
  network's h_t is recorded: the opening quote is already "inside", the closing one not.
* ``score_units`` ranks every unit of every traced quantity against one feature: AUROC
  for yes/no features (0.5 = chance; 1 or 0 = the unit separates them perfectly, in one
  direction or the other), Pearson correlation for counts.
* ``saturation`` counts how often each gate is nearly shut (< 0.1) or wide open (> 0.9).

Pure NumPy on ``autoreg.seq.trace.Trace`` arrays; no Streamlit, no plotly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoreg.seq.corpora import stdlib_heldout, third_party_docstrings
from autoreg.seq.trace import Trace

OPEN, CLOSE = "([{", ")]}"


@dataclass(frozen=True)
class Feature:
    """A per-character text feature."""

    name: str  # key, e.g. "in_string"
    label: str  # what the page shows
    binary: bool  # yes/no (scored by AUROC) or a count (scored by correlation)
    description: str  # one sentence for the page


FEATURES: dict[str, Feature] = {
    f.name: f
    for f in (
        Feature("in_string", "inside a string", True, "after reading it, a quote is open"),
        Feature("in_brackets", "inside brackets", True, "a (, [ or { is open (outside strings)"),
        Feature("bracket_depth", "bracket depth", False, "how many brackets are open"),
        Feature("since_newline", "characters since newline", False, "the column: 0 at ⏎"),
        Feature("indentation", "indentation", False, "leading spaces of the current line"),
        Feature("whitespace", "whitespace", True, "the character is a space, tab or ⏎"),
    )
}


def _quote_at(text: str, i: int) -> str | None:
    """The string delimiter starting at ``text[i]`` (triple first), or None.

    An apostrophe between two letters (don't, it's) is prose, not a quote: documentation
    text is full of them and they would otherwise open a string on every line.
    """
    c = text[i]
    if c not in "'\"":
        return None
    if text.startswith(c * 3, i):
        return c * 3
    if c == "'" and 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalpha():
        return None
    return c


def text_features(text: str) -> dict[str, np.ndarray]:
    """Every feature in ``FEATURES`` for every character of ``text``; (N,) float32 each.

    Strings: '...' and "..." close at the matching quote or at the end of the line;
    triple-quoted strings span lines; a backslash escapes the next character. Brackets
    are counted outside strings only, and the depth never goes below 0.
    """
    n = len(text)
    out = {name: np.zeros(n, dtype=np.float32) for name in FEATURES}
    quote: str | None = None  # the open string's delimiter
    depth = column = indent = 0
    at_line_start = True
    i = 0
    while i < n:
        c = text[i]
        width = 1  # characters consumed at once (a triple quote is 3)
        if quote is not None:
            if c == "\\" and i + 1 < n and text[i + 1] != "\n":
                width = 2  # the escape and the escaped character both stay inside
                vals = [1.0, 1.0]
            elif text.startswith(quote, i):
                width = len(quote)
                vals = [1.0] * (width - 1) + [0.0]  # open until the last delimiter character
                quote = None
            elif c == "\n" and len(quote) == 1:
                quote, vals = None, [0.0]  # an unterminated one-line string ends here
            else:
                vals = [1.0]
        else:
            q = _quote_at(text, i)
            if q is not None:
                quote, width = q, len(q)
                vals = [1.0] * width
            else:
                vals = [0.0]
                if c in OPEN:
                    depth += 1
                elif c in CLOSE:
                    depth = max(depth - 1, 0)
        for k in range(width):
            ch = text[i + k]
            if ch == "\n":
                column, indent, at_line_start = 0, 0, True
            else:
                column += 1
                if at_line_start and ch in " \t":
                    indent += 1
                else:
                    at_line_start = False
            j = i + k
            out["in_string"][j] = vals[k]
            out["in_brackets"][j] = float(depth > 0)
            out["bracket_depth"][j] = depth
            out["since_newline"][j] = column
            out["indentation"][j] = indent
            out["whitespace"][j] = float(ch.isspace())
        i += width
    return out


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..N down each column of ``x`` (N, K); ties share their average rank."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        return average_ranks(x[:, None])[:, 0]
    n = x.shape[0]
    ranks = np.empty_like(x)
    for k in range(x.shape[1]):
        order = np.argsort(x[:, k], kind="mergesort")
        xs = x[order, k]
        starts = np.r_[0, np.flatnonzero(np.diff(xs)) + 1]
        ends = np.r_[starts[1:], n]
        ranks[order, k] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def auroc(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Area under the ROC curve of each column of ``scores`` (N, K) for 0/1 ``labels``.

    The Mann-Whitney form: the probability that a random positive outscores a random
    negative (ties count one half). 0.5 is chance; 0 is a perfect detector, reversed.
    """
    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUROC needs both positive and negative examples of the feature.")
    ranks = average_ranks(scores)
    pos = ranks[labels].sum(axis=0) if ranks.ndim > 1 else ranks[labels].sum()
    return (pos - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def correlation(scores: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """Pearson correlation of each column of ``scores`` (N, K) with ``feature`` (N,)."""
    x = np.asarray(scores, dtype=np.float64)
    y = np.asarray(feature, dtype=np.float64)
    x = x - x.mean(axis=0)
    y = y - y.mean()
    denom = np.sqrt((x**2).sum(axis=0) * (y**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (y @ x) / denom
    return np.nan_to_num(r)  # a constant unit or feature correlates with nothing


@dataclass(frozen=True)
class UnitScore:
    """How well one unit tracks one feature."""

    feature: str
    quantity: str  # "hidden", "cell" or a gate name
    layer: int
    unit: int
    score: float  # AUROC (binary features) or Pearson r (counts)
    strength: float  # 0..1, comparable within a feature: |2·AUROC − 1| or |r|


def describe_score(s: UnitScore) -> str:
    """How the page states one unit's score, with its direction.

    An AUROC below 0.5 is as strong a unit as one above, of the opposite sign: it is
    *lower* on the feature. Stating "score 0.277" alone reads as a weak unit.
    """
    f = FEATURES[s.feature]
    if f.binary:
        side = "higher" if s.score >= 0.5 else "lower"
        return f"AUROC {s.score:.3f}: {side} {f.label}"
    side = "rises" if s.score >= 0 else "falls"
    return f"r = {s.score:+.3f}: {side} with {f.label}"


def quantities(tr: Trace) -> dict[str, np.ndarray]:
    """Every per-unit quantity of a trace, (T, L, H) each: h, c (LSTM), then the gates."""
    out = {"hidden": tr.hidden}
    if tr.cell is not None:
        out["cell"] = tr.cell
    out.update(tr.gates)
    return out


def score_units(
    tr: Trace,
    features: dict[str, np.ndarray],
    *,
    layer: int,
    names: tuple[str, ...] | None = None,
    top: int = 5,
) -> dict[str, list[UnitScore]]:
    """The ``top`` units per feature, best first, among the chosen quantities of one layer.

    A binary feature that never (or always) holds in the text is skipped: it cannot be
    scored, and the page says so by its absence.
    """
    qs = quantities(tr)
    names = tuple(qs) if names is None else names
    unknown = [n for n in names if n not in qs]
    if unknown:
        raise ValueError(f"This {tr.cell_type.upper()} has no {unknown}; it has {list(qs)}.")
    if not 0 <= layer < tr.hidden.shape[1]:
        raise ValueError(f"Layer {layer} does not exist; the model has {tr.hidden.shape[1]}.")
    acts = np.concatenate([qs[n][:, layer, :] for n in names], axis=1)  # (T, Q*H)
    H = tr.hidden.shape[2]
    ranks = None
    result: dict[str, list[UnitScore]] = {}
    for name, values in features.items():
        if len(values) != acts.shape[0]:
            raise ValueError(f"Feature {name} has {len(values)} values for {acts.shape[0]} steps.")
        if FEATURES[name].binary:
            pos = values > 0.5
            if pos.all() or not pos.any():
                continue
            if ranks is None:
                ranks = average_ranks(acts)  # shared by every binary feature
            n_pos, n_neg = int(pos.sum()), int((~pos).sum())
            score = (ranks[pos].sum(axis=0) - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
            strength = np.abs(2.0 * score - 1.0)
        else:
            score = correlation(acts, values)
            strength = np.abs(score)
        best = np.argsort(-strength, kind="stable")[:top]
        result[name] = [
            UnitScore(name, names[k // H], layer, int(k % H), float(score[k]), float(strength[k]))
            for k in best
        ]
    return result


def saturation(values: np.ndarray, low: float = 0.1, high: float = 0.9) -> np.ndarray:
    """Per unit, the fraction of steps below ``low`` and above ``high``; (2, H).

    ``values`` is (T, H), e.g. one gate of one layer. A unit on the left edge of the
    saturation plot is mostly shut, on the top edge mostly open (an integrator or a
    switch); units near the origin work in the gate's soft middle.
    """
    v = np.asarray(values)
    return np.stack([(v < low).mean(axis=0), (v > high).mean(axis=0)])


def tanh_as_gate(values: np.ndarray) -> np.ndarray:
    """Map a tanh value in (-1, 1) to (0, 1), so an RNN's h can share the gate plot."""
    return (np.asarray(values) + 1.0) / 2.0


def richest_window(feature: np.ndarray, width: int, lo: int = 0, hi: int | None = None) -> int:
    """Start of the ``width``-step window in ``[lo, hi)`` where ``feature`` varies most.

    Pages show a window of the long validation text; a window where the feature never
    changes would show nothing, so pick the one with the largest variance (for a yes/no
    feature: the most even mix of yes and no). Windows start on multiples of 50.
    """
    f = np.asarray(feature, dtype=np.float64)
    hi = len(f) if hi is None else min(hi, len(f))
    if hi - lo <= width:
        return lo
    starts = range(lo, hi - width + 1, 50)
    return max(starts, key=lambda s: (f[s : s + width].var(), -s))


def kl_bits(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(p ‖ q) in bits along the last axis: how much an intervention changed a softmax."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, None)
    q = np.clip(np.asarray(q, dtype=np.float64), 1e-12, None)
    return (p * (np.log2(p) - np.log2(q))).sum(axis=-1)


# Probe texts no shipped text model trained on: held-out standard-library files (code)
# and third-party docstrings (technical English).
PROBES = {"documentation": third_party_docstrings, "code": stdlib_heldout}


def probe_text(source: str = "documentation", n_chars: int = 4000) -> str:
    """Held-out text for finding units: technical documentation or Python code.

    ``code`` is python-stdlib's held-out test files and ``documentation`` the docstrings of
    installed third-party libraries, so the shipped models never trained on either. The
    probe starts a third of the way in and is cut at a line boundary. Documentation gives
    prose and quoted names; code gives brackets, indentation and strings. Units are scored
    on one source at a time: mixing them shifts every unit's baseline between the halves
    and blurs the scores.
    """
    if source not in PROBES:
        raise ValueError(f"Unknown probe text {source!r}; choose from {list(PROBES)}.")
    if n_chars < 200:
        raise ValueError(f"n_chars must be at least 200, got {n_chars}.")
    text = PROBES[source]()
    start = text.find("\n", len(text) // 3) + 1
    chunk = text[start : start + n_chars]
    return chunk[: chunk.rfind("\n") + 1] or chunk
