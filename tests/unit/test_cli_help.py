"""Every command's --help reads like a CLI's: one line of description, grouped options
with their units and defaults, and two example command lines that really parse."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys

import pytest

from autoreg import train as train_cli
from autoreg.bench import MEASURES
from autoreg.bench.__main__ import MEASURE_HELP
from autoreg.bench.__main__ import build_parser as bench_parser
from autoreg.bench.__main__ import main as bench_main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(autouse=True)
def _width(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")  # argparse wraps to the terminal: fix it


def _help(run, capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        run()
    assert exc.value.code == 0
    return capsys.readouterr().out


def _examples(text: str) -> list[list[str]]:
    """The command lines under ``examples:``, continuation lines joined, comments dropped."""
    block = text.split("\nexamples:\n", 1)[1].replace("\\\n", " ")
    return [shlex.split(ln) for ln in block.splitlines() if ln.strip() and "#" not in ln[:5]]


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = train_cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def _check_shape(text: str, groups: tuple[str, ...]) -> None:
    lines = text.splitlines()
    assert lines[0].startswith("usage: python -m autoreg.")
    first_blank = lines.index("")
    description = lines[first_blank + 1]
    assert lines[first_blank + 2] == ""  # one line, not a paragraph
    assert description[0].isupper() and description.endswith(".") and len(description) <= 100
    for group in groups:
        assert f"\n{group}:\n" in text, group
    assert len(_examples(text)) == 2


def _check_defaults(parser: argparse.ArgumentParser, text: str) -> None:
    """Every option says its default (or that it is required), in the printed help too."""
    options = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    for action in options:
        assert "(default:" in action.help or "(required)" in action.help, action.dest
    assert text.count("(default:") == sum("(default:" in a.help for a in options)


@pytest.mark.parametrize(
    ("command", "groups", "units"),
    [
        ("seq", ("data", "model", "optimisation", "run", "output and machine"),
         ("--bptt TOKENS", "--max-minutes MIN", "--hidden-size UNITS", "--batch-size STREAMS")),
        ("pixel", ("data", "optimisation", "run and output"),
         ("--size PIXELS", "--max-minutes MIN", "--batch-size IMAGES", "--augment-shift PIXELS")),
    ],
)  # fmt: skip
def test_train_subcommand_help(capsys, command, groups, units) -> None:
    text = _help(lambda: train_cli.main([command, "--help"]), capsys)
    _check_shape(text, groups)
    _check_defaults(_subparser(command), text)
    for unit in units:
        assert unit in text
    for argv in _examples(text):  # each example is a valid command line of this CLI
        assert argv[:4] == ["python", "-m", "autoreg.train", command]
        args = train_cli.build_parser().parse_args(argv[3:])
        assert args.command == command and args.out.startswith("runs/")
    # the epilog keeps its layout: a continued example line is printed as written
    assert "examples:\n  # " in text and "\\\n      --" in text


def test_seq_help_leaves_the_module_docstring_in_the_code(capsys) -> None:
    text = _help(lambda: train_cli.main(["seq", "--help"]), capsys)
    assert "Data layout, as PE's" not in text  # the library docstring stays in the code
    assert "python-stdlib-english" in text  # the corpus list comes from the registry


def test_train_help_lists_the_commands_and_two_examples(capsys) -> None:
    text = _help(lambda: train_cli.main(["--help"]), capsys)
    _check_shape(text, ("commands",))
    for name, (line, _) in train_cli.COMMANDS.items():
        assert f"    {name:<9} {line}" in text
    parser = train_cli.build_parser()
    assert [argv[3] for argv in _examples(text)] == ["seq", "pixel"]
    for argv in _examples(text):
        parser.parse_args(argv[3:])


def test_bench_help_lists_every_measure_and_its_environment(capsys) -> None:
    text = _help(lambda: bench_main(["--help"]), capsys)
    _check_shape(text, ("positional arguments", "measures", "environment"))
    assert set(MEASURE_HELP) == set(MEASURES)  # a new measure needs its line of help
    for name in MEASURES:
        assert f"\n  {name} " in text
    for argv in _examples(text):
        while "=" in argv[0]:  # VAR=value before the command
            assert argv.pop(0).split("=")[0] in text
        argv = argv[: argv.index(">")] if ">" in argv else argv
        assert argv[:3] == ["python", "-m", "autoreg.bench"]
        measures = bench_parser().parse_args(argv[3:]).measures
        assert measures and set(measures) <= set(MEASURES)


def test_python_m_autoreg_train_pixel_help_runs() -> None:
    """The command as a user types it, through the module entry point and the split CLI."""
    out = subprocess.run(
        [sys.executable, "-m", "autoreg.train", "pixel", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "100"},
        timeout=120,
        check=True,
    ).stdout
    assert "Train a PixelCNN or Gated PixelCNN" in out and "--augment-elastic ALPHA" in out


def test_cards_help_writes_nothing_and_reads_like_a_cli(capsys, monkeypatch) -> None:
    from autoreg import cards

    written = []
    monkeypatch.setattr(cards.Path, "write_text", lambda self, text: written.append(self))
    text = _help(lambda: cards.main(["--help"]), capsys)
    assert written == []  # asking for help never rewrites the documents
    _check_shape(text, ("mode",))
    _check_defaults(cards.build_parser(), text)
    for argv in _examples(text):
        assert argv[:3] == ["python", "-m", "autoreg.cards"]
        cards.build_parser().parse_args(argv[3:])


def test_gallery_help_reads_like_a_cli(capsys) -> None:
    from autoreg.pixelcnn import gallery

    text = _help(lambda: gallery.main(["--help"]), capsys)
    _check_shape(text, ("positional arguments", "grids"))
    _check_defaults(gallery.build_parser(), text)
    for argv in _examples(text):
        assert argv[:3] == ["python", "-m", "autoreg.pixelcnn.gallery"]
        names = gallery.build_parser().parse_args(argv[3:]).names
        assert set(names) <= set(autoreg_models())


def autoreg_models() -> list[str]:
    import autoreg

    return autoreg.list_pretrained()
