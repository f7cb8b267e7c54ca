"""Corpora: offline, deterministic, and bad uploads get clear messages."""

from __future__ import annotations

import json

import pytest

from autoreg.seq import corpora


def test_python_docs_and_code_are_offline_and_deterministic() -> None:
    docs = corpora.load_corpus("python-docs")
    assert len(docs) > 100_000 and "assert" in docs
    assert corpora.sha256(docs) == corpora.sha256(corpora.python_docs())
    code = corpora.load_corpus("python-code")
    assert "def " in code and "class " in code and len(code) > 100_000
    assert code == corpora.python_code()


def test_registry_lists_every_corpus() -> None:
    assert {"python-docs", "python-code", "recall", "brackets"} <= set(corpora.list_corpora())
    for c in corpora.CORPORA.values():
        assert c.description
    with pytest.raises(ValueError, match="Unknown corpus"):
        corpora.load_corpus("nope")


def test_split_is_deterministic_and_disjoint() -> None:
    text = "".join(chr(97 + i % 26) for i in range(1000))
    train, val = corpora.split(text, 0.1)
    assert train + val == text and len(val) == 100
    assert corpora.split(text, 0.1) == (train, val)
    with pytest.raises(ValueError, match="val_fraction"):
        corpora.split(text, 1.5)


def test_user_text_good_and_bad() -> None:
    good = ("hello world\r\n" * 20).encode()
    assert corpora.text_from_bytes(good).startswith("hello world\n")
    assert corpora.text_from_bytes(b"\xef\xbb\xbf" + good)[0] == "h"  # BOM dropped
    with pytest.raises(ValueError, match="empty"):
        corpora.text_from_bytes(b"")
    with pytest.raises(ValueError, match="binary"):
        corpora.text_from_bytes(b"abc\x00def" * 50)
    with pytest.raises(ValueError, match="UTF-8"):
        corpora.text_from_bytes(b"caf\xe9 " * 50)
    with pytest.raises(ValueError, match="limit"):
        corpora.text_from_bytes(b"a" * 2000, max_bytes=1000)
    with pytest.raises(ValueError, match="at least"):
        corpora.text_from_bytes(b"short")


def test_recipes_as_the_book_builds_them(tmp_path) -> None:
    path = tmp_path / "full_format_recipes.json"
    path.write_text(
        json.dumps(
            [
                {"title": "Toast", "directions": ["Toast the bread.", "Butter it."]},
                {"title": "No directions"},
                {"directions": ["untitled"]},
                {"title": "Tea", "directions": ["Boil water."]},
            ]
        )
    )
    out = corpora.recipes_from_json(path.read_bytes())
    assert out == [
        "Recipe for Toast | Toast the bread. Butter it.",
        "Recipe for Tea | Boil water.",
    ]
    with pytest.raises(ValueError, match="JSON"):
        corpora.recipes_from_json(b"{not json")
    with pytest.raises(ValueError, match="list"):
        corpora.recipes_from_json(b'{"a": 1}')
    with pytest.raises(ValueError, match="no recipe"):
        corpora.recipes_from_json(b"[{}]")


def test_recall_task_has_the_lag_and_the_answer() -> None:
    text = corpora.recall_task(50, lag=7, seed=3)
    lines = text.splitlines()
    assert len(lines) == 50
    for line in lines:
        assert len(line) == 1 + 7 + 2 and line[8] == "=" and line[0] == line[-1]
        assert line[1:8].isdigit()
    assert text == corpora.recall_task(50, lag=7, seed=3)
    assert [text[i] for i in corpora.recall_targets(text)] == [ln[0] for ln in lines]
    mixed = corpora.recall_task(200, 1, max_lag=5)
    assert {len(ln) - 3 for ln in mixed.splitlines()} == {1, 2, 3, 4, 5}
    with pytest.raises(ValueError, match="lag"):
        corpora.recall_task(5, lag=0)


def test_brackets_are_balanced() -> None:
    text = corpora.brackets_task(100, max_depth=6, seed=1)
    for line in text.splitlines():
        k = line.count("a")
        assert line == "a" * k + "b" * k and 1 <= k <= 6
    with pytest.raises(ValueError):
        corpora.brackets_task(0)
