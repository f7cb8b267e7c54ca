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


# python-stdlib and python-stdlib-english: whole files held out, fixed by path.


def test_file_split_is_fixed_by_path_alone() -> None:
    # sha256(path)[:8] mod 20: 0 is validation, 1 is test; these values pin the rule
    assert corpora.file_split("ast.py") == "val"
    assert corpora.file_split("bisect.py") == "test"
    assert corpora.file_split("asyncio/base_events.py") == "test"
    assert corpora.file_split("json/decoder.py") == "train"
    assert corpora.file_split("os.py") == "train"
    # the same path always gets the same part, whatever else is in the library
    assert {corpora.file_split("ast.py") for _ in range(3)} == {"val"}


def _fake_lib(root, monkeypatch, n: int = 60):
    """A small Lib/ with ``n`` modules plus files in every left-out folder; the size checks
    are lowered to fit it."""
    monkeypatch.setattr(corpora, "STDLIB_MIN_FILES", 10)
    monkeypatch.setattr(corpora, "STDLIB_MIN_CHARS", 100)
    for i in range(n):
        path = root / "pkg" / f"mod{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f'"""Module number {i}."""\n# set up thing {i}\nX{i} = {i}  # noqa: E501\n',
            encoding="utf-8",
        )
    for skipped in ("test/test_x.py", "idlelib/shell.py", "site-packages/pkg/m.py",
                    "pkg/__pycache__/mod0.py"):  # fmt: skip
        (root / skipped).parent.mkdir(parents=True, exist_ok=True)
        (root / skipped).write_text('"""LEFT OUT."""\n', encoding="utf-8")
    (root / "latin1.py").write_bytes(b"# caf\xe9\n")  # not UTF-8: not Python 3 source
    return root


def test_stdlib_split_holds_out_whole_files_by_their_path(tmp_path, monkeypatch) -> None:
    lib = _fake_lib(tmp_path / "Lib", monkeypatch)
    files = corpora.stdlib_files(lib)
    assert [p for p, _ in files] == sorted(f"pkg/mod{i}.py" for i in range(60))  # left-outs gone
    parts = corpora.stdlib_split(lib)
    assert set(parts) == {"train", "val", "test"}
    assert parts["train"].startswith(corpora.python_docs())  # the pydoc topics train
    assert "LEFT OUT" not in "".join(parts.values())
    seen = {"train": 0, "val": 0, "test": 0}
    for path, source in files:
        homes = [k for k, text in parts.items() if source in text]
        assert homes == [corpora.file_split(path)], path  # whole, and in exactly one part
        seen[homes[0]] += 1
    assert seen["val"] and seen["test"] and sum(seen.values()) == 60


def test_real_stdlib_split_is_about_five_percent_each() -> None:
    files = corpora.stdlib_files()
    parts = [corpora.file_split(p) for p, _ in files]
    assert len(files) >= corpora.STDLIB_MIN_FILES
    for name in ("val", "test"):
        assert 0.03 < parts.count(name) / len(files) < 0.08, name
    assert not any(p.split("/")[0] in ("test", "idlelib", "site-packages") for p, _ in files)


def test_missing_or_truncated_stdlib_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"0 \.py files .* missing or stripped"):
        corpora.stdlib_files(tmp_path / "nowhere")
    lib = tmp_path / "Lib"
    lib.mkdir()
    for i in range(20):  # a stripped library: real-looking files, far too few
        (lib / f"m{i}.py").write_text("x = 1\n" * 100)
    with pytest.raises(ValueError, match=r"holds 20 \.py files .* at least 400 files"):
        corpora.stdlib_split(lib)
    with pytest.raises(ValueError, match="missing or stripped"):
        corpora.stdlib_english_split(lib)


def test_source_english_keeps_docstrings_and_comments_in_order() -> None:
    source = (
        "#!/usr/bin/env python3\n"
        "# -*- coding: utf-8 -*-\n"
        '"""The module says hello."""\n'
        "import os  # noqa: F401\n"
        "# ----------------\n"
        "# Two lines of comment\n"
        "# make one paragraph.\n"
        "class A:\n"
        '    """A class.\n\n        Indented body.\n    """\n'
        "    def f(self):  # type: ignore\n"
        '        """A method."""\n'
        "        return 1  # the answer\n"
    )
    assert corpora.source_english(source) == (
        "The module says hello.\n\n"
        "Two lines of comment\nmake one paragraph.\n\n"
        "A class.\n\nIndented body.\n\n"
        "A method.\n\n"
        "the answer"
    )
    assert corpora.source_english("x = 1\n") == ""
    # Python 2 source does not parse: its comments are still read
    assert corpora.source_english("# still English\nprint 'hi'\n") == "still English"


def test_stdlib_english_goes_where_its_code_goes(tmp_path, monkeypatch) -> None:
    lib = _fake_lib(tmp_path / "Lib", monkeypatch)
    code = corpora.stdlib_split(lib)
    english = corpora.stdlib_english_split(lib)
    assert english["train"].startswith(corpora.python_docs())
    for i in range(60):
        part = corpora.file_split(f"pkg/mod{i}.py")
        assert f"X{i} = {i}" in code[part]
        homes = [k for k, text in english.items() if f"Module number {i}." in text]
        assert homes == [part]
        assert f"Module number {i}.\n\nset up thing {i}" in english[part]
    assert "noqa" not in "".join(english.values()) and "X1 =" not in english["train"]


def test_english_corpus_is_registered_and_split_by_file() -> None:
    assert corpora.CORPORA["python-stdlib-english"].load_split is corpora.stdlib_english_split
    assert corpora.CORPORA["python-stdlib"].load_split is corpora.stdlib_split


def test_load_split_of_a_small_corpus_is_split() -> None:
    for name in ("python-docs", "brackets"):
        train, val = corpora.split(corpora.load_corpus(name), 0.2)
        assert corpora.load_split(name, 0.2) == {"train": train, "val": val}
    with pytest.raises(ValueError, match="Unknown corpus"):
        corpora.load_split("nope")


def test_third_party_docstrings_are_fixed_and_a_missing_package_is_named(
    tmp_path, monkeypatch
) -> None:
    a = corpora.third_party_docstrings(("numpy",), 20_000)
    assert a == corpora.third_party_docstrings(("numpy",), 20_000)
    assert len(a) == 20_001 and a.endswith("\n")  # exactly the share asked for, then "\n"
    with pytest.raises(ValueError, match="'no_such_package_xyz' is not installed"):
        corpora.third_party_docstrings(("no_such_package_xyz",))
    pkg = tmp_path / "tinydocs"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""' + "A docstring long enough to count. " * 4 + '"""\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match="'tinydocs' holds only 136 characters"):
        corpora.third_party_docstrings(("tinydocs",), 10_000)
