"""Tokenizers round-trip on their own vocabulary and count, never raise on, unknowns."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autoreg.seq.tokenizers import UNK, CharTokenizer, WordTokenizer, tokenizer_from_dict

TEXT = "def f(x):\n    return x  # the answer, (really)!\n"


@given(st.text(alphabet=sorted(set(TEXT)), max_size=200))
def test_char_round_trip_on_own_vocabulary(s: str) -> None:
    tok = CharTokenizer.fit(TEXT)
    assert tok.decode(tok.encode(s)) == s
    assert tok.unknown(s) == []


def test_char_unknowns_map_to_zero_and_are_counted() -> None:
    tok = CharTokenizer.fit("abc")
    assert tok.itos[0] == UNK and tok.vocab_size == 4
    ids = tok.encode("abzzc€")
    assert ids == [1, 2, 0, 0, 3, 0]
    assert tok.unknown("abzzc€") == ["z", "z", "€"]
    assert tok.decode(ids) == f"ab{UNK}{UNK}c{UNK}"
    assert tok.token(999) == UNK


def test_word_tokenizer_is_book_style() -> None:
    tok = WordTokenizer.fit("The cat sat. The cat, the HAT!")
    assert tok.tokenize("The cat, sat!") == ["the", "cat", ",", "sat", "!"]
    assert tok.itos[:3] == [UNK, "the", "cat"]  # by frequency, <unk> first
    assert "," in tok.stoi and "." in tok.stoi and "!" in tok.stoi
    assert tok.tokenize("a\nb") == ["a", "\n", "b"]


@given(st.lists(st.sampled_from(["the", "cat", "sat", ",", ".", "(", ")", "on"]), max_size=50))
def test_word_round_trip_on_own_vocabulary(words: list[str]) -> None:
    tok = WordTokenizer.fit("the cat sat on ( the ) mat , . the")
    text = " ".join(words)
    assert tok.decode(tok.encode(text)) == " ".join(tok.tokenize(text))
    assert tok.tokenize(tok.decode(tok.encode(text))) == tok.tokenize(text)
    assert tok.unknown(text) == []


def test_word_vocabulary_cap_and_unknowns() -> None:
    text = "a a a a b b b c c d"
    tok = WordTokenizer.fit(text, max_vocab=3)
    assert tok.itos == [UNK, "a", "b"]
    assert tok.encode("a c d zebra b") == [1, 0, 0, 0, 2]
    assert tok.unknown("a c d zebra b") == ["c", "d", "zebra"]
    with pytest.raises(ValueError, match="max_vocab"):
        WordTokenizer.fit(text, max_vocab=1)


@pytest.mark.parametrize("tok", [CharTokenizer.fit(TEXT), WordTokenizer.fit(TEXT)])
def test_to_dict_round_trip(tok) -> None:
    back = tokenizer_from_dict(tok.to_dict())
    assert type(back) is type(tok) and back.itos == tok.itos
    assert back.encode(TEXT) == tok.encode(TEXT)


def test_from_dict_rejects_bad_entries() -> None:
    with pytest.raises(ValueError, match="kind"):
        tokenizer_from_dict({"kind": "bpe", "vocab": []})
    with pytest.raises(ValueError, match="vocab"):
        tokenizer_from_dict({"kind": "char"})
    with pytest.raises(ValueError, match="single characters"):
        CharTokenizer(["ab"])


def test_encoding_leaves_a_shared_tokenizer_unchanged() -> None:
    """Shipped models are shared by every session: encode must not keep per-call state."""
    tok = CharTokenizer.fit("abc")
    before = dict(vars(tok))
    tok.encode("abzz€")
    assert vars(tok) == before
