"""Text corpora, all offline: CPython's own docs and source, user text, recipes, tasks.

* ``python-docs``: the documentation topics shipped with every CPython in
  ``pydoc_data.topics`` (~465k characters), joined in sorted key order.
* ``python-code``: a fixed, documented list of pure-Python standard-library modules
  (``PYTHON_CODE_MODULES``), read from this interpreter's ``Lib/`` directory and joined
  in list order, so the corpus is the same on every machine with the same Python.
* ``python-stdlib``: every ``.py`` file of this interpreter's ``Lib/`` (``test/``,
  ``idlelib/`` and ``site-packages/`` left out, ~11 MB) plus the pydoc topics, split by
  whole files (``stdlib_split``): held-out files are text the model has never seen.
* ``python-stdlib-english``: the English of those same files, their docstrings (read
  with ``ast``) and comments (read with ``tokenize``) in source order, plus the pydoc
  topics; a file's English lands in the part its code lands in (``stdlib_english_split``).
* user text (``text_from_bytes``), the book's recipe JSON (``recipes_from_json``), and
  two synthetic tasks for the Memory page (``recall_task``, ``brackets_task``).

``split(text, val_fraction)`` is the train/validation rule of the small corpora: the last
fraction of the text is validation. It is deterministic and never leaks: validation is
text the model never saw, as in the book's and PE's splits. ``python-stdlib`` holds out
whole files instead, by a hash of each file's path (``file_split``), so the rule does not
depend on the order or number of files.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import io
import json
import random
import re
import sysconfig
import tokenize
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


# python-stdlib: which folders of Lib/ are left out, and the least a real CPython holds.
STDLIB_EXCLUDED = ("test", "idlelib", "site-packages", "__pycache__")
STDLIB_MIN_FILES = 400  # CPython 3.11 ships ~670 such files
STDLIB_MIN_CHARS = 6_000_000  # and ~11.3M characters of them


def file_split(relative_path: str) -> str:
    """``"val"``, ``"test"`` or ``"train"`` for one stdlib file, fixed by its path alone.

    The first 8 hex digits of sha256(path), mod 20: 0 is validation, 1 is test (about 5%
    each), the rest train. Paths use ``/`` on every OS.
    """
    bucket = int(hashlib.sha256(relative_path.encode("utf-8")).hexdigest()[:8], 16) % 20
    return {0: "val", 1: "test"}.get(bucket, "train")


def stdlib_files(lib: Path | None = None) -> list[tuple[str, str]]:
    """``(relative path, source)`` of every stdlib ``.py`` file in sorted path order.

    Raises:
        ValueError: the standard library is missing or much smaller than a CPython's,
            so a model would silently be trained on less text than its card says.
    """
    lib = Path(sysconfig.get_paths()["stdlib"]) if lib is None else lib
    return list(_stdlib_files(str(lib)))


@functools.lru_cache(maxsize=2)
def _stdlib_files(lib: str) -> tuple[tuple[str, str], ...]:
    root = Path(lib)
    paths = sorted(
        p
        for p in root.rglob("*.py")
        if not any(part in STDLIB_EXCLUDED for part in p.relative_to(root).parts[:-1])
    )
    files = []
    for p in paths:  # one pass; a file that is not UTF-8 is not Python 3 source here
        try:
            files.append((p.relative_to(root).as_posix(), p.read_text(encoding="utf-8")))
        except (UnicodeDecodeError, OSError):
            continue
    chars = sum(len(t) for _, t in files)
    if len(files) < STDLIB_MIN_FILES or chars < STDLIB_MIN_CHARS:
        raise ValueError(
            f"The standard library under {root} holds {len(files)} .py files "
            f"({chars:,} characters); python-stdlib needs at least {STDLIB_MIN_FILES} files "
            f"and {STDLIB_MIN_CHARS:,} characters. This Python's Lib/ is missing or "
            "stripped: install a full CPython or choose another corpus."
        )
    return tuple(files)


def stdlib_split(lib: Path | None = None) -> dict[str, str]:
    """The python-stdlib corpus as ``{"train", "val", "test"}`` texts.

    Each part is its files joined in path order, each file preceded by a blank line; the
    pydoc topics are training text. Whole files are held out (``file_split``).
    """
    parts: dict[str, list[str]] = {"train": [python_docs()], "val": [], "test": []}
    for path, text in stdlib_files(lib):
        parts[file_split(path)].append(text)
    return {k: "\n\n".join(v) for k, v in parts.items()}


def stdlib_heldout(part: str = "test", lib: Path | None = None) -> str:
    """The held-out ``part`` ("val" or "test") of python-stdlib's files, read alone.

    For probing trained models on code they never saw, without reading the whole library.
    """
    if part not in ("val", "test"):
        raise ValueError(f"part must be 'val' or 'test', got {part!r}.")
    root = Path(sysconfig.get_paths()["stdlib"]) if lib is None else lib
    texts = []
    for p in sorted(root.rglob("*.py")):
        rel = p.relative_to(root)
        if any(x in STDLIB_EXCLUDED for x in rel.parts[:-1]) or file_split(rel.as_posix()) != part:
            continue
        try:
            texts.append(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, OSError):
            continue
    if not texts:
        raise ValueError(f"No held-out standard-library files ({part}) under {root}.")
    return "\n\n".join(texts)


# Comments that are directives for tools, not English: left out of python-stdlib-english.
_DIRECTIVE = re.compile(r"(!|-\*-|(type|noqa|pragma|fmt|pylint|mypy|isort)\b)", re.IGNORECASE)


def source_english(source: str) -> str:
    """The docstrings and comments of one Python source, in source order.

    Docstrings (module, class, function) come from ``ast`` and are cleaned of their
    indentation; comments come from ``tokenize``, without the ``#``, and consecutive
    comment lines stay one paragraph. Tool directives (``# noqa``, ``# type: ...``, a
    shebang, a coding line) and comments without a letter (rulers such as ``#----``) are
    not English and are left out. Paragraphs are separated by a blank line. Source that
    does not parse (a few Python 2 fixtures in the standard library) gives what could be
    read before the error.
    """
    blocks: list[tuple[int, str]] = []  # (first line, text)
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        tree = None
    if tree is not None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc and doc.strip():
                    blocks.append((node.body[0].lineno, doc.strip()))
    comments: list[tuple[int, int, str]] = []  # (first line, last line, text)
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type != tokenize.COMMENT:
                continue
            text, row = tok.string.lstrip("#").strip(), tok.start[0]
            if not text or not any(c.isalpha() for c in text) or _DIRECTIVE.match(text):
                continue
            if comments and comments[-1][1] == row - 1:  # the paragraph goes on
                first, _, previous = comments[-1]
                comments[-1] = (first, row, previous + "\n" + text)
            else:
                comments.append((row, row, text))
    except (tokenize.TokenError, SyntaxError):
        pass  # keep the comments read so far
    blocks += [(first, text) for first, _, text in comments]
    blocks.sort(key=lambda b: b[0])
    return "\n\n".join(text for _, text in blocks)


def stdlib_english_split(lib: Path | None = None) -> dict[str, str]:
    """The python-stdlib-english corpus as ``{"train", "val", "test"}`` texts.

    The English (``source_english``) of every file of ``stdlib_files``, in path order, in
    the part ``file_split`` gives that file's code, so no held-out sentence of a
    python-stdlib model's test files was seen in training here either. The pydoc topics
    are training text. Files without any docstring or comment add nothing.
    """
    lib = Path(sysconfig.get_paths()["stdlib"]) if lib is None else lib
    parts: dict[str, list[str]] = {"train": [python_docs()], "val": [], "test": []}
    for path, text in _stdlib_english(str(lib)):
        parts[file_split(path)].append(text)
    return {k: "\n\n".join(v) for k, v in parts.items()}


@functools.lru_cache(maxsize=2)
def _stdlib_english(lib: str) -> tuple[tuple[str, str], ...]:
    pairs = ((path, source_english(text)) for path, text in _stdlib_files(lib))
    return tuple((path, english) for path, english in pairs if english)


def python_stdlib_english() -> str:
    """The whole python-stdlib-english corpus (train, then validation, then test)."""
    parts = stdlib_english_split()
    return "\n\n".join(parts[k] for k in ("train", "val", "test"))


def python_stdlib() -> str:
    """The whole python-stdlib corpus (train, then validation, then test files)."""
    parts = stdlib_split()
    return "\n\n".join(parts[k] for k in ("train", "val", "test"))


# Technical English the training corpora do not contain: the docstrings of installed
# third-party libraries (pinned in requirements.txt), a fixed share from each.
DOCSTRING_PACKAGES = ("numpy", "pandas", "sklearn")
DOCSTRING_CHARS_PER_PACKAGE = 100_000


def third_party_docstrings(
    packages: tuple[str, ...] = DOCSTRING_PACKAGES,
    chars_per_package: int = DOCSTRING_CHARS_PER_PACKAGE,
) -> str:
    """Module, class and function docstrings of ``packages``, in sorted file order.

    Each package gives its first ``chars_per_package`` characters of docstrings (files in
    path order, test folders left out), so the set is the same wherever the same versions
    are installed.

    Raises:
        ValueError: a package is not installed or holds too few docstrings.
    """
    out = []
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise ValueError(f"Package {name!r} is not installed; it gives held-out docstrings.")
        root = Path(next(iter(spec.submodule_search_locations)))
        docs: list[str] = []
        size = 0
        for path in sorted(root.rglob("*.py")):
            if any(p in ("tests", "test", "testing") for p in path.relative_to(root).parts):
                continue
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"))
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            for node in ast.walk(tree):
                if isinstance(
                    node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
                ):
                    doc = ast.get_docstring(node)
                    if doc and len(doc) >= 80:
                        docs.append(doc)
                        size += len(doc) + 2
            if size >= chars_per_package:
                break
        text = "\n\n".join(docs)[:chars_per_package]
        if len(text) < chars_per_package // 2:
            raise ValueError(f"Package {name!r} holds only {len(text)} characters of docstrings.")
        out.append(text)
    return "\n\n".join(out) + "\n"


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
    load_split: Callable[[], dict[str, str]] | None = None  # held-out files, if it has them


CORPORA: dict[str, Corpus] = {
    c.name: c
    for c in (
        Corpus(
            "python-docs", "CPython's documentation topics (pydoc_data), ~465k chars", python_docs
        ),
        Corpus("python-code", "22 standard-library modules' source code", python_code),
        Corpus(
            "python-stdlib",
            "the whole standard library's source and the pydoc topics (~11 MB, by file)",
            python_stdlib,
            stdlib_split,
        ),
        Corpus(
            "python-stdlib-english",
            "the docstrings and comments of the standard library and the pydoc topics (by file)",
            python_stdlib_english,
            stdlib_english_split,
        ),
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


def load_split(name: str, val_fraction: float = 0.1) -> dict[str, str]:
    """``{"train", "val"[, "test"]}`` of a registered corpus: its own held-out files where it
    has them, else ``split`` of its text."""
    if name not in CORPORA:
        raise ValueError(f"Unknown corpus {name!r}; choose from {list_corpora()}.")
    corpus = CORPORA[name]
    if corpus.load_split is not None:
        return corpus.load_split()
    train, val = split(corpus.load(), val_fraction)
    return {"train": train, "val": val}
