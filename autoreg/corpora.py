"""Text corpora, all offline: CPython's own docs and source, user text, recipes, tasks.

* ``python-docs``: the documentation topics shipped with every CPython in
  ``pydoc_data.topics`` (~465k characters), joined in sorted key order.
* ``python-code``: a fixed, documented list of pure-Python standard-library modules
  (``PYTHON_CODE_MODULES``), read from this interpreter's ``Lib/`` directory and joined
  in list order, so the corpus is the same on every machine with the same Python.
* user text (``text_from_bytes``), the book's recipe JSON (``recipes_from_json``), and
  two synthetic tasks for the Memory page (``recall_task``, ``brackets_task``).

``split(text, val_fraction)`` is the one train/validation rule: the last fraction of the
text is validation. It is deterministic and never leaks: validation is text the model
never saw, as in the book's and PE's splits.
"""

from __future__ import annotations

import hashlib
import json
import random
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MAX_USER_BYTES = 5 * 1024 * 1024  # uploads above 5 MB are refused (training is on CPU)
MIN_USER_CHARS = 100  # below this there is nothing to learn or validate on

# Pure-Python stdlib modules present in every CPython >= 3.11; chosen for varied, idiomatic
# code (classes, docstrings, comprehensions). Order is fixed; missing files are skipped.
PYTHON_CODE_MODULES = (
    "abc.py",
    "bisect.py",
    "calendar.py",
    "colorsys.py",
    "contextlib.py",
    "copy.py",
    "dataclasses.py",
    "difflib.py",
    "fnmatch.py",
    "fractions.py",
    "functools.py",
    "heapq.py",
    "keyword.py",
    "numbers.py",
    "operator.py",
    "queue.py",
    "random.py",
    "shlex.py",
    "statistics.py",
    "string.py",
    "textwrap.py",
    "tokenize.py",
)


def python_docs() -> str:
    """The pydoc topics shipped with CPython, sorted by topic name, blank-line separated."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k].strip("\n") for k in sorted(topics)) + "\n"


def python_code() -> str:
    """Source of the modules in ``PYTHON_CODE_MODULES`` from this Python's standard library."""
    lib = Path(sysconfig.get_paths()["stdlib"])
    parts = [
        (lib / m).read_text(encoding="utf-8") for m in PYTHON_CODE_MODULES if (lib / m).exists()
    ]
    if not parts:
        raise ValueError(f"No standard-library sources found under {lib}.")
    return "\n\n".join(parts)


def text_from_bytes(data: bytes, max_bytes: int = MAX_USER_BYTES) -> str:
    """Decode an uploaded text file, refusing what cannot be trained on with a clear message.

    Raises:
        ValueError: empty, too large, binary (NUL bytes) or not UTF-8, or too short.
    """
    if not data:
        raise ValueError("The file is empty.")
    if len(data) > max_bytes:
        raise ValueError(
            f"The file is {len(data) / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.1f} MB."
        )
    if b"\x00" in data[:65536]:
        raise ValueError("This looks like a binary file (it contains NUL bytes), not text.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"The file is not UTF-8 text (invalid byte at position {exc.start}). "
            "Save it as UTF-8 and upload it again."
        ) from None
    text = text.replace("\r\n", "\n")
    if len(text.strip()) < MIN_USER_CHARS:
        raise ValueError(
            f"The text has {len(text.strip())} characters; at least {MIN_USER_CHARS} are needed."
        )
    return text


def recipes_from_json(data: bytes | str) -> list[str]:
    """The book's recipe strings from an Epicurious-style JSON list of recipes.

    As in *Generative Deep Learning* ch. 5: keep recipes with a title and directions, and
    build ``"Recipe for {title} | {directions joined by spaces}"``.
    """
    try:
        recipes = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"The recipe file is not valid JSON ({exc}).") from None
    if not isinstance(recipes, list):
        raise ValueError("The recipe file must hold a JSON list of recipes.")
    out = []
    for r in recipes:
        if not isinstance(r, dict) or not r.get("title") or not r.get("directions"):
            continue
        directions = r["directions"]
        if isinstance(directions, str):
            directions = [directions]
        out.append(f"Recipe for {r['title']} | {' '.join(directions)}")
    if not out:
        raise ValueError("The recipe file has no recipe with both a title and directions.")
    return out


def recall_task(
    n: int, lag: int, max_lag: int | None = None, alphabet: str = "abcdefgh", seed: int = 0
) -> str:
    """Lines ``<k> + lag random digits + "=" + <k>``: recall one symbol after ``lag`` steps.

    Only the last symbol of each line is predictable from far back: the model must carry
    the first symbol across ``lag`` distracting digits (the long-time-lag problems of
    Hochreiter & Schmidhuber 1997). With ``max_lag`` each line draws its lag uniformly
    from ``lag..max_lag``, so one model can be scored at every lag. Example, lag 4:
    ``"c3805=c\\n"``.
    """
    max_lag = lag if max_lag is None else max_lag
    if lag < 1 or n < 1 or max_lag < lag:
        raise ValueError(
            f"recall_task needs n >= 1 and 1 <= lag <= max_lag, got n={n}, lag={lag}, "
            f"max_lag={max_lag}."
        )
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        k = rng.choice(alphabet)
        filler = "".join(rng.choice("0123456789") for _ in range(rng.randint(lag, max_lag)))
        lines.append(f"{k}{filler}={k}\n")
    return "".join(lines)


def recall_targets(text: str) -> list[int]:
    """Positions (in ``text``) of the recalled symbols: the character after each ``=``."""
    return [i + 1 for i, c in enumerate(text) if c == "=" and i + 1 < len(text)]


def brackets_task(n: int, max_depth: int = 12, seed: int = 0) -> str:
    """Lines ``a^k b^k`` with k uniform in 1..max_depth: counting, the simplest grammar."""
    if n < 1 or max_depth < 1:
        raise ValueError(f"brackets_task needs n >= 1 and max_depth >= 1, got {n}, {max_depth}.")
    rng = random.Random(seed)
    return "".join("a" * k + "b" * k + "\n" for k in (rng.randint(1, max_depth) for _ in range(n)))


def split(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """Deterministic split: the first ``1 - val_fraction`` is train, the rest validation."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}.")
    cut = int(len(text) * (1.0 - val_fraction))
    return text[:cut], text[cut:]


def sha256(text: str) -> str:
    """Provenance hash saved in the checkpoint card."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Corpus:
    """A named, offline corpus the Train page and the CLI can list and load."""

    name: str  # registry key, e.g. "python-docs"
    description: str  # one line for the UI
    load: Callable[[], str]  # returns the whole text


CORPORA: dict[str, Corpus] = {
    c.name: c
    for c in (
        Corpus(
            "python-docs", "CPython's documentation topics (pydoc_data), ~465k chars", python_docs
        ),
        Corpus("python-code", "22 standard-library modules' source code", python_code),
        Corpus(
            "recall",
            "long-range recall: a letter, 1-40 random digits, '=', the same letter",
            lambda: recall_task(6000, 1, max_lag=40),
        ),
        Corpus("brackets", "balanced a^n b^n lines, n up to 12", lambda: brackets_task(6000)),
    )
}


def list_corpora() -> list[str]:
    return list(CORPORA)


def load_corpus(name: str) -> str:
    """Text of a registered corpus by name."""
    if name not in CORPORA:
        raise ValueError(f"Unknown corpus {name!r}; choose from {list_corpora()}.")
    return CORPORA[name].load()
