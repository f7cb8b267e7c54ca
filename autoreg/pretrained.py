"""Pretrained models shipped in ``assets/`` and the loader that turns a card into a model.

Every ``assets/<name>.safetensors`` with an autoreg card is a pretrained model; its name is
the file stem (``lstm-char-stdlib``). The card's ``kind`` picks the model family; each
family module exposes ``model_from_checkpoint(ckpt) -> nn.Module`` and is imported lazily,
so loading a sequence model never imports the PixelCNN code and vice versa.

The models live in the repository's top-level ``assets/``; the wheel carries the same
folder as ``autoreg/assets/`` (``pyproject.toml`` maps it), so an installed package finds
its models next to its code and a checkout finds them one level up.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch

from autoreg.checkpoints import Checkpoint, load_checkpoint, parse_checkpoint

PACKAGE_DIR = Path(__file__).resolve().parent


def find_assets(package_dir: Path = PACKAGE_DIR) -> Path:
    """The shipped-models folder: inside the installed package, else the checkout's.

    The installed copy wins, so a wheel installed somewhere never reads a stray
    ``assets/`` that happens to sit beside ``site-packages``.
    """
    installed = package_dir / "assets"
    return installed if installed.is_dir() else package_dir.parent / "assets"


ASSETS = find_assets()

# kind -> "module:function" building an eval-mode model from a Checkpoint.
_BUILDERS = {
    "sequence": "autoreg.seq.model:model_from_checkpoint",
    "pixelcnn": "autoreg.pixelcnn.models:model_from_checkpoint",
}


def list_pretrained(kind: str | None = None) -> list[str]:
    """Names of the shipped models (optionally only one ``kind``), sorted."""
    names = []
    for card_path in sorted(ASSETS.glob("*.json")):
        if not card_path.with_suffix(".safetensors").exists():
            continue
        if kind is not None:
            import json

            if json.loads(card_path.read_text()).get("kind") != kind:
                continue
        names.append(card_path.stem)
    return names


def pretrained_card(name: str) -> dict:
    """The JSON card of a shipped model, without loading its weights."""
    import json

    path = ASSETS / f"{name}.json"
    if not path.exists():
        raise ValueError(f"Unknown pretrained model {name!r}; choose from {list_pretrained()}.")
    return json.loads(path.read_text())


def model_from_checkpoint(ckpt: Checkpoint) -> torch.nn.Module:
    """Build the model a checkpoint describes, load its weights, return it in eval mode.

    Raises:
        ValueError: when the weights do not fit the config (missing, extra or
            mis-shaped tensors), with the first offending names.
    """
    target = _BUILDERS.get(ckpt.card["kind"])
    if target is None:
        raise ValueError(f"No loader for checkpoint kind {ckpt.card['kind']!r}.")
    module_name, func_name = target.split(":")
    build = getattr(importlib.import_module(module_name), func_name)
    try:
        model = build(ckpt)
    except (TypeError, OverflowError, RuntimeError) as exc:  # odd config values in a card
        msg = str(exc)[:200]
        raise ValueError(f"The checkpoint's config cannot build a model: {msg}") from None
    model.eval()
    return model


def load_pretrained(name: str) -> torch.nn.Module:
    """Load a shipped model by name (see ``list_pretrained``), in eval mode, on the CPU."""
    path = ASSETS / f"{name}.safetensors"
    if not path.exists():
        raise ValueError(f"Unknown pretrained model {name!r}; choose from {list_pretrained()}.")
    return model_from_checkpoint(load_checkpoint(path))


def load_model_bytes(data: bytes) -> torch.nn.Module:
    """Load a model from uploaded checkpoint bytes (validated; never unpickled)."""
    return model_from_checkpoint(parse_checkpoint(data))
