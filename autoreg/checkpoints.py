"""Checkpoints: weights in safetensors, facts in a JSON card.

A checkpoint is one ``.safetensors`` file whose header metadata carries the card (so an
uploaded file is self-contained), plus a copy of the card as ``<name>.json`` beside it
for people and for the README table. Nothing here ever unpickles: ``torch.load`` is not
used, and a file that looks like a pickle or a PyTorch zip archive is refused with a
message that says so.

The card is a plain dict. Required keys::

    {"format": "autoreg", "version": 1, "kind": "sequence" | "pixelcnn",
     "config": {...}, ...anything else (metrics, data provenance, timing)...}

Which model class a card builds is decided by ``autoreg.pretrained`` (it dispatches on
``kind``); this module only moves bytes and validates them.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

FORMAT = "autoreg"
VERSION = 1
KINDS = ("sequence", "pixelcnn")
MAX_CHECKPOINT_BYTES = 64 * 1024 * 1024  # uploads above this are refused before parsing


@dataclass(frozen=True)
class Checkpoint:
    """Weights and card of one saved model.

    Args:
        tensors: the state dict, parameter name -> tensor (CPU).
        card: the JSON card (config, metrics, provenance).
    """

    tensors: dict[str, torch.Tensor]
    card: dict


def checkpoint_bytes(state_dict: dict[str, torch.Tensor], card: dict) -> bytes:
    """Serialise weights plus card into safetensors bytes (card in the header metadata)."""
    _check_card(card)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    return st_save(tensors, metadata={"card": json.dumps(card, sort_keys=True)})


def tensors_digest(tensors: dict[str, torch.Tensor]) -> str:
    """A short sha256 of a state dict (names, dtypes, shapes and values), for provenance."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (full disk, no permission); the file that was
    there before is untouched. Its message names the file and the reason."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


def _temporary(path: Path) -> Path:
    # one name per process and thread: two writers of one path never share a temp file
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def _write_temporary(path: Path, data: bytes) -> Path:
    """``data`` in a temporary file beside ``path``, flushed to disk; removed on failure."""
    tmp = _temporary(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise _write_error(path, len(data), exc) from None
        raise
    return tmp


def _write_error(path: Path, size: int, exc: OSError) -> CheckpointWriteError:
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        reason += " (the disk is full)"
    return CheckpointWriteError(
        exc.errno,
        f"Could not save {path} ({_size(size)}): {reason}. "
        f"The file that was there before is kept unchanged.",
    )


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 100 * 1024 else f"{max(1, round(n / 1024))} kB"


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` all or nothing: a temporary file, fsync, then a rename.

    A process killed mid-write (SIGKILL, power loss) leaves the old file in place, and a
    full disk raises :class:`CheckpointWriteError` with the old file intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _move_into_place([(_write_temporary(path, data), path)], len(data))


def _move_into_place(moves: list[tuple[Path, Path]], size: int) -> None:
    """Rename each written temporary file onto its target; on failure or interruption
    remove the temporary files not yet moved, so no stray file stays beside the targets."""
    for k, (tmp, target) in enumerate(moves):
        try:
            os.replace(tmp, target)
        except BaseException as exc:
            for left, _ in moves[k:]:
                with contextlib.suppress(OSError):
                    left.unlink()
            if isinstance(exc, OSError):
                raise _write_error(target, size, exc) from None
            raise


def save_checkpoint(path: str | Path, state_dict: dict[str, torch.Tensor], card: dict) -> Path:
    """Write ``path`` (.safetensors) and its card ``path.with_suffix('.json')``.

    Both go to temporary files first and are renamed into place only once both are
    written, so an interrupted or failed save (Ctrl-C, SIGKILL, a full disk) never leaves
    a half-written file. The weights file carries its own card and is what loading
    reads; the ``.json`` beside it is a copy for people, renamed just after it (a kill
    between the two renames leaves that copy one save behind).

    Raises:
        CheckpointWriteError: the disk is full or not writable; the old files are kept.
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        path = path.with_suffix(".safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    card_path = path.with_suffix(".json")
    data = checkpoint_bytes(state_dict, card)
    weights = _write_temporary(path, data)
    try:
        card_text = json.dumps(card, indent=2, sort_keys=True) + "\n"
        text = _write_temporary(card_path, card_text.encode())
    except BaseException:
        with contextlib.suppress(OSError):
            weights.unlink()
        raise
    _move_into_place([(weights, path), (text, card_path)], len(data))
    return path


def parse_checkpoint(data: bytes, card: dict | None = None) -> Checkpoint:
    """Validate and decode checkpoint bytes (for uploads: never unpickles).

    Raises:
        ValueError: with a message a user can act on, for empty, oversized, pickled,
            corrupt or foreign files, and for a missing or malformed card.
    """
    if not data:
        raise ValueError("The checkpoint file is empty.")
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise ValueError(
            f"The checkpoint is {len(data) / 2**20:.1f} MB; the limit is "
            f"{MAX_CHECKPOINT_BYTES / 2**20:.0f} MB."
        )
    # A safetensors file starts with its header length (u64, little-endian) and then "{";
    # that length's low byte may be 0x80, so the pickle check must not fire on it.
    if (data[:1] == b"\x80" or data[:2] == b"PK") and data[8:9] != b"{":
        raise ValueError(
            "This looks like a pickle or a PyTorch .pt/.pth archive. autoreg only opens "
            ".safetensors checkpoints and never unpickles files, because unpickling can run "
            "arbitrary code."
        )
    try:
        tensors = st_load(data)
        metadata = _read_metadata(data)
    except (SafetensorError, ValueError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"This is not a valid safetensors file ({exc}).") from None
    if card is None:
        raw = metadata.get("card")
        if raw is None:
            raise ValueError(
                "This safetensors file has no autoreg card (config and metrics), so autoreg "
                "cannot tell which model it holds. Save checkpoints with autoreg."
            )
        try:
            card = json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError("The checkpoint's card is not valid JSON.") from None
    _check_card(card)
    return Checkpoint(tensors=tensors, card=card)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint from disk; the card comes from the file, else from ``.json``."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"No checkpoint at {path}.")
    data = path.read_bytes()
    card = None
    card_path = path.with_suffix(".json")
    if card_path.exists() and b'"card"' not in data[:65536]:
        try:
            card = json.loads(card_path.read_text())
        except json.JSONDecodeError:
            raise ValueError(f"The card {card_path} is not valid JSON.") from None
    return parse_checkpoint(data, card)


def _read_metadata(data: bytes) -> dict[str, str]:
    """The safetensors header's ``__metadata__`` (format: 8-byte length, JSON header)."""
    if len(data) < 8:
        raise ValueError("file too short")
    n = int.from_bytes(data[:8], "little")
    if n <= 0 or 8 + n > len(data):
        raise ValueError("header length out of range")
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict):
        raise ValueError("metadata is not a mapping")
    return meta


def _check_card(card: dict) -> None:
    if not isinstance(card, dict):
        raise ValueError("The checkpoint's card must be a JSON object.")
    if card.get("format") != FORMAT:
        raise ValueError(
            f"This checkpoint was not made by autoreg (its card has no 'format': '{FORMAT}')."
        )
    if card.get("kind") not in KINDS:
        raise ValueError(
            f"Unknown checkpoint kind {card.get('kind')!r}; expected one of {', '.join(KINDS)}."
        )
    if not isinstance(card.get("config"), dict):
        raise ValueError("The checkpoint's card has no model config.")


def load_state_strict(model: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """``load_state_dict`` that reports mismatches as a ``ValueError`` a user can read."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    wrong = sorted(
        k
        for k in set(expected) & set(tensors)
        if tuple(expected[k].shape) != tuple(tensors[k].shape)
    )
    if missing or extra or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:3]}")
        if extra:
            parts.append(f"unexpected {extra[:3]}")
        if wrong:
            k = wrong[0]
            parts.append(
                f"shape mismatch for {k}: file {tuple(tensors[k].shape)}, "
                f"config {tuple(expected[k].shape)}"
            )
        raise ValueError("The weights do not match the model config: " + "; ".join(parts) + ".")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()})
