"""Training command line: ``python -m autoreg.train seq|pixel ...``.

The training loops live with their model families (``autoreg.seq.training`` and
``autoreg.pixelcnn.training``, whose CLI is ``autoreg.pixelcnn.cli``). This module only
wires their argument parsers together, so ``python -m autoreg.train seq --help`` and
``... pixel --help`` each list their own options, and it records the command line for
the checkpoint card.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys

from autoreg.checkpoints import CheckpointWriteError

# subcommand -> (one line for the list, module exposing DESCRIPTION, EPILOG,
# add_arguments(parser) and main(args) -> int)
COMMANDS = {
    "seq": ("train an RNN/LSTM/GRU language model", "autoreg.seq.training"),
    "pixel": ("train a PixelCNN or Gated PixelCNN", "autoreg.pixelcnn.cli"),
}

DESCRIPTION = "Train an autoreg model and save it as a checkpoint (safetensors + JSON)."

EPILOG = """\
Each command prints its progress and saves <out>.safetensors with a JSON card (config,
data, metrics, the command line) that autoreg.load_pretrained and the pages read.
'python -m autoreg.train seq --help' and '... pixel --help' list each one's options.

examples:
  python -m autoreg.train seq --corpus python-stdlib --cell lstm --hidden-size 256 \\
      --epochs 6 --checkpoint-minutes 10 --resume --out runs/lstm-char-stdlib
  python -m autoreg.train pixel --dataset mnist-5k --size 16 --levels 4 --epochs 10 \\
      --out runs/pixelcnn-mnist16
"""


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m autoreg.train`` with one subparser per family."""
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="python -m autoreg.train", description=DESCRIPTION, epilog=EPILOG, formatter_class=raw
    )
    sub = parser.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND")
    for name, (help_text, module_name) in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(
            name,
            help=help_text,
            description=module.DESCRIPTION,
            epilog=module.EPILOG,
            formatter_class=raw,
        )
        module.add_arguments(p)
        p.set_defaults(_main=module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.command_line = shlex.join(["python", "-m", "autoreg.train", *argv])  # for the card
    try:
        return int(args._main(args) or 0)
    except (ValueError, CheckpointWriteError) as exc:  # a bad option, a full disk: no traceback
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
