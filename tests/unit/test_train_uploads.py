"""Uploaded training text: every bad file gets a clear message; a good one is described."""

from __future__ import annotations

import json

import pytest

from autoreg import lab
from autoreg.seq import corpora

GOOD = ("The cat sat on the mat. The dog sat on the log!\n" * 20).encode("utf-8")


def test_empty_file():
    with pytest.raises(ValueError, match="empty"):
        lab.inspect_upload(b"")


def test_binary_file():
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
    with pytest.raises(ValueError, match="binary"):
        lab.inspect_upload(png)


def test_non_utf8_file():
    latin1 = ("Café crème brûlée, déjà vu. " * 10).encode("latin-1")
    with pytest.raises(ValueError, match="not UTF-8") as err:
        lab.inspect_upload(latin1)
    assert "position 3" in str(err.value)  # names where decoding failed: the é


def test_too_large_file():
    big = b"a" * (corpora.MAX_USER_BYTES + 1)
    with pytest.raises(ValueError, match=r"limit is 5\.0 MB"):
        lab.inspect_upload(big)


def test_too_short_file():
    with pytest.raises(ValueError, match="at least"):
        lab.inspect_upload(b"hello world")


def test_valid_file_is_described():
    s = lab.inspect_upload(GOOD)
    assert s.n_bytes == len(GOOD)
    assert s.text == GOOD.decode()
    assert s.n_chars == len(GOOD.decode()) == s.n_chars_used
    assert s.n_distinct_chars == len(set(GOOD.decode()))
    # words are lower-cased, punctuation is its own token, newlines are tokens
    assert s.n_words == 20 * (12 + 2 + 1)
    words = {"the", "cat", "sat", "on", "mat", ".", "dog", "log", "!", "\n"}
    assert s.n_distinct_words == len(words)
    assert s.preview == GOOD.decode()[: lab.PREVIEW_CHARS]


def test_utf8_bom_and_crlf_are_normalised():
    s = lab.inspect_upload(b"\xef\xbb\xbf" + GOOD.replace(b"\n", b"\r\n"))
    assert s.text == GOOD.decode()


def test_long_text_is_cut_to_the_cap():
    data = ("abcdefghij" * (lab.MAX_TRAIN_CHARS // 5)).encode()
    s = lab.inspect_upload(data)
    assert s.n_chars == 2 * lab.MAX_TRAIN_CHARS and s.n_chars_used == lab.MAX_TRAIN_CHARS


def test_recipe_json():
    recipes = [
        {"title": "Toast", "directions": ["Toast the bread.", "Butter it."]},
        {"title": "No directions"},
        {"title": "Tea", "directions": ["Boil water.", "Steep the tea for four minutes."]},
    ]
    s = lab.inspect_upload(json.dumps(recipes).encode(), recipes=True)
    assert s.text.splitlines() == [
        "Recipe for Toast | Toast the bread. Butter it.",
        "Recipe for Tea | Boil water. Steep the tea for four minutes.",
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "empty"), (b"{not json", "not valid JSON"), (b'{"a": 1}', "JSON list"),
     (b'[{"title": "x"}]', "no recipe")],
)  # fmt: skip
def test_bad_recipe_json(data, message):
    with pytest.raises(ValueError, match=message):
        lab.inspect_upload(data, recipes=True)
