"""Training command line: ``python -m autoreg.train seq|pixel ...``.

The training loops live with their model families (``autoreg.seq.training`` and
``autoreg.pixelcnn.training``); this module only wires their argument parsers together,
so ``python -m autoreg.train seq --help`` and ``... pixel --help`` each list their own
options.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys

# subcommand -> module exposing add_arguments(parser) and main(args) -> int
COMMANDS = {
    "seq": ("train an RNN/LSTM/GRU language model", "autoreg.seq.training"),
    "pixel": ("train a PixelCNN or Gated PixelCNN", "autoreg.pixelcnn.training"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autoreg.train", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, module_name) in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text, description=module.__doc__)
        module.add_arguments(p)
        p.set_defaults(_main=module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.command_line = shlex.join(["python", "-m", "autoreg.train", *argv])  # for the card
    return int(args._main(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
