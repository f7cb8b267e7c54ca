"""Character- and word-level tokenizers.

Both map text to integer ids and back, carry their vocabulary in a plain dict (saved in
the checkpoint card, so a model always travels with the tokenizer it was trained with),
and never raise on text they have not seen: an unknown character or word becomes the
explicit unknown token, and ``unknown(text)`` lists what it would replace. Tokenizers are
immutable after construction: shipped models (and their tokenizers) are shared by every
browser session, so ``encode`` must not keep per-call state.

Word-level follows *Generative Deep Learning* (2nd ed., ch. 5): lower-case the text,
make every punctuation mark its own token, keep the ``max_vocab`` most frequent words,
and map the rest to ``<unk>``. Word decoding joins tokens with spaces, so it round-trips
the *tokenised* text (``decode(encode(s)) == " ".join(tokenize(s))``), which is what the
book's model sees.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

UNK = "<unk>"  # the explicit unknown token, id 0 in both tokenizers
# Punctuation gets spaces around it (as the book's pad_punctuation does), so it is a token.
_PUNCT = re.compile(r"([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~\n])")
_WORD = re.compile(r"\n|[^\s]+")


class CharTokenizer:
    """One token per character; id 0 is ``<unk>`` for characters outside the vocabulary.

    Args:
        chars: the vocabulary, in id order (``<unk>`` is added in front).
    """

    kind = "char"

    def __init__(self, chars: Sequence[str]) -> None:
        chars = [c for c in dict.fromkeys(chars) if c != UNK]
        if any(len(c) != 1 for c in chars):
            raise ValueError("A character vocabulary must hold single characters.")
        self.itos: list[str] = [UNK, *chars]
        self.stoi: dict[str, int] = {s: i for i, s in enumerate(self.itos)}

    @classmethod
    def fit(cls, text: str, min_count: int = 1) -> CharTokenizer:
        """Vocabulary = every character seen at least ``min_count`` times, sorted.

        Rarer characters read as ``<unk>``: a few hundred stray symbols in a large corpus
        would otherwise crowd the softmax with tokens the model can never learn.
        """
        if min_count <= 1:
            return cls(sorted(set(text)))
        counts = Counter(text)
        return cls(sorted(c for c, n in counts.items() if n >= min_count))

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def tokenize(self, text: str) -> list[str]:
        return list(text)

    def encode(self, text: str) -> list[int]:
        """Ids for ``text``; unknown characters become 0 (see ``unknown``)."""
        return [self.stoi.get(c, 0) for c in text]

    def unknown(self, text: str) -> list[str]:
        """The tokens of ``text`` outside the vocabulary, in order (read as ``<unk>``)."""
        return [t for t in self.tokenize(text) if t not in self.stoi]

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.token(i) for i in ids)

    def token(self, i: int) -> str:
        """The string of one id (``<unk>`` for id 0 or an id out of range)."""
        i = int(i)
        return self.itos[i] if 0 < i < len(self.itos) else UNK

    def to_dict(self) -> dict:
        return {"kind": self.kind, "vocab": self.itos[1:]}


class WordTokenizer:
    """Book-style word tokenizer: lower-case, punctuation as tokens, capped vocabulary.

    Args:
        words: the vocabulary, in id order (``<unk>`` is added in front).
    """

    kind = "word"

    def __init__(self, words: Sequence[str]) -> None:
        words = [w for w in dict.fromkeys(words) if w != UNK]
        self.itos: list[str] = [UNK, *words]
        self.stoi: dict[str, int] = {s: i for i, s in enumerate(self.itos)}

    def tokenize(self, text: str) -> list[str]:
        """Lower-case, pad punctuation with spaces, split on whitespace; newlines are kept."""
        return _WORD.findall(_PUNCT.sub(r" \1 ", text.lower()))

    @classmethod
    def fit(cls, text: str, max_vocab: int = 10_000) -> WordTokenizer:
        """Keep the ``max_vocab - 1`` most frequent tokens (ties broken alphabetically)."""
        if max_vocab < 2:
            raise ValueError(f"max_vocab must be at least 2, got {max_vocab}.")
        counts = Counter(cls([]).tokenize(text))
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return cls([w for w, _ in ranked[: max_vocab - 1]])

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        """Ids for ``text``; unknown words become 0 (see ``unknown``)."""
        return [self.stoi.get(t, 0) for t in self.tokenize(text)]

    def unknown(self, text: str) -> list[str]:
        """The tokens of ``text`` outside the vocabulary, in order (read as ``<unk>``)."""
        return [t for t in self.tokenize(text) if t not in self.stoi]

    def decode(self, ids: Sequence[int]) -> str:
        return " ".join(self.token(i) for i in ids)

    def token(self, i: int) -> str:
        i = int(i)
        return self.itos[i] if 0 < i < len(self.itos) else UNK

    def to_dict(self) -> dict:
        return {"kind": self.kind, "vocab": self.itos[1:]}


Tokenizer = CharTokenizer | WordTokenizer


def tokenizer_from_dict(d: dict) -> Tokenizer:
    """Rebuild a tokenizer from ``to_dict()`` output (as stored in a checkpoint card)."""
    if not isinstance(d, dict) or not isinstance(d.get("vocab"), list):
        raise ValueError("The tokenizer entry must be a dict with a 'vocab' list.")
    kind = d.get("kind")
    if kind == "char":
        return CharTokenizer(d["vocab"])
    if kind == "word":
        return WordTokenizer(d["vocab"])
    raise ValueError(f"Unknown tokenizer kind {kind!r}; expected 'char' or 'word'.")
