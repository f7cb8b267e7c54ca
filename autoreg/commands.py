"""The command line behind each shipped model, read from its card.

Cards written by today's training CLI keep the exact command (``"command"``). Older cards
keep their settings instead; :func:`training_command` rebuilds a command from them with
the CLI's own parsers, leaving out options at today's defaults, and says what the card
cannot tell (earlier runs of a resumed model, a time limit that cut a run short). The
tests parse every rebuilt command back and compare it with the card.
"""

from __future__ import annotations

import shlex

# The pixel CLI's options and where a card keeps each value: (section, key, dest).
_PIXEL_FIELDS = (
    ("config", "kind", "model"),
    ("dataset", "name", "dataset"),
    ("config", "image_size", "size"),
    ("config", "levels", "levels"),
    ("config", "channels", "channels"),
    ("config", "n_blocks", "blocks"),
    ("config", "first_kernel", "first_kernel"),
    ("config", "kernel", "kernel"),
    ("training", "epochs", "epochs"),
    ("training", "batch_size", "batch_size"),
    ("training", "lr", "lr"),
    ("training", "augment_shift", "augment_shift"),
    ("training", "augment_affine", "augment_affine"),
    ("training", "augment_elastic", "augment_elastic"),
    ("training", "ema", "ema"),
    ("training", "dropout", "dropout"),
    ("training", "device", "device"),
    ("training", "seed", "seed"),
)


def _subparser(command: str):
    from autoreg.train import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sub.choices[command]


# Options a command always names, even at their default: they say what the model is.
_ALWAYS = {
    "seq": ("corpus", "tokenizer", "cell"),
    "pixel": ("model", "dataset", "size", "levels"),
}


def _flags(command: str, values: dict) -> list[str]:
    """CLI flags that set ``values`` (dest -> value), in the parser's order; flags left at
    their default are left out, except the few of ``_ALWAYS``."""
    args = []
    for action in _subparser(command)._actions:
        if action.dest not in values or not action.option_strings:
            continue
        value = values[action.dest]
        if action.dest not in _ALWAYS[command] and value == action.default:
            continue
        flag = action.option_strings[0]
        if action.nargs == 0:  # a switch such as --augment-affine
            args += [flag] if value else []
        else:
            args += [flag, repr(value) if isinstance(value, float) else str(value)]
    return args


def training_command(name: str, card: dict) -> tuple[str, str]:
    """The command behind a shipped model, and a note on where it comes from.

    Cards written by today's CLI keep the exact command line. Older cards keep the
    settings instead; their command is rebuilt from them (options left at today's
    defaults are left out), and the note says what the card cannot tell.
    """
    if card.get("command"):
        return card["command"], "as run"
    if card["kind"] == "sequence":
        argv = ["seq", *_flags("seq", card.get("training", {})), "--out", f"assets/{name}"]
        return shlex.join(["python", "-m", "autoreg.train", *argv]), "rebuilt from the card"
    values = {dest: card.get(sec, {}).get(key) for sec, key, dest in _PIXEL_FIELDS}
    values = {k: v for k, v in values.items() if v is not None}
    argv = ["pixel", *_flags("pixel", values)]
    m = card.get("metrics", {})
    notes = ["rebuilt from the card"]
    if "resumed_from_epochs" in m:
        argv += ["--resume", f"assets/{name}.safetensors"]
        notes.append(f"its last run, after {m['resumed_from_epochs']} epochs of earlier runs")
    if m.get("stopped_early"):
        notes.append(f"stopped early, after {m['epochs']} epochs")
    argv += ["--out", f"assets/{name}"]
    return shlex.join(["python", "-m", "autoreg.train", *argv]), "; ".join(notes)
