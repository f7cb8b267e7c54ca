"""Models kept for one browser: trained or uploaded there, found again after a reload.

A model a user trains on the Train page, or opens from a checkpoint, belongs to that
user's browser. It is kept on the server's disk, under an *owner id* that only that
browser holds (the dashboard keeps it in a cookie, see ``autoreg.ui.browser_id``), so a
reload or a link opened later in the same browser finds it again, and no other browser
ever lists it: listing and loading take the owner id, and an id is 192 random bits.

Layout, under the user's cache directory (``$AUTOREG_CACHE_DIR``, else
``$XDG_CACHE_HOME/autoreg``, else ``~/.cache/autoreg``, as for dataset downloads)::

    session-models/
      <owner id>/                       one folder per browser
        <slug>-<hash of label>.safetensors

Each file is an ordinary autoreg checkpoint (safetensors weights, the card in the header
metadata) with two more metadata fields, the label shown in pickers and when it was saved.
Nothing is ever unpickled: files are read by ``autoreg.checkpoints.parse_checkpoint``, and
one that does not parse is refused with a message that says so, then deleted.

Bounds, so a public server's disk cannot fill up:

* ``MAX_AGE_SECONDS``: a model not saved or opened for this long is deleted;
* ``MAX_MODELS_PER_OWNER`` and ``MAX_BYTES_PER_OWNER``: one browser's share;
* ``MAX_BYTES_TOTAL``: every browser together.

When a cap is passed the *least recently used* models go first (a file's modification
time is its last use: saving sets it, opening touches it). A model bigger than one
browser's share is refused before anything is written.

Writes are atomic: the bytes go to a temporary file in the same folder, which is renamed
over the final name, so a crash or a full disk mid-write leaves the previous version (or
nothing), never half a file. Saving under a label that already exists replaces that model.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save as st_save

from autoreg.checkpoints import Checkpoint, parse_checkpoint, write_atomic
from autoreg.pixelcnn.data import cache_dir

MAX_AGE_SECONDS = 14 * 24 * 3600  # unused this long (saved or opened): deleted
MAX_MODELS_PER_OWNER = 24  # one browser's models; the least recently used go first
MAX_BYTES_PER_OWNER = 256 * 2**20  # one browser's share of the disk
MAX_BYTES_TOTAL = 4 * 2**30  # every browser together
FOLDER = "session-models"
SUFFIX = ".safetensors"
OWNER_ID_BYTES = 24  # secrets.token_urlsafe(24): 32 characters, 192 random bits
_OWNER = re.compile(r"[A-Za-z0-9_-]{32,64}")
_KEY = re.compile(r"[a-z0-9-]{1,80}-[0-9a-f]{12}")
_lock = threading.Lock()  # one save or eviction at a time in this process


def new_owner_id() -> str:
    """A fresh, unguessable owner id (URL- and cookie-safe)."""
    return secrets.token_urlsafe(OWNER_ID_BYTES)


def valid_owner_id(value: object) -> bool:
    """Whether ``value`` has the shape of an owner id (so it is safe as a folder name)."""
    return isinstance(value, str) and _OWNER.fullmatch(value) is not None


def model_key(label: str) -> str:
    """The file stem for ``label``: readable, and unique per label (same label, same key)."""
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:60] or "model"
    return f"{slug}-{hashlib.sha256(label.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class StoredModel:
    """One kept model, as listed (the weights are read only by ``ModelStore.load``).

    Args:
        key: the file stem, what ``load`` and ``delete`` take.
        label: the name the user sees.
        card: the checkpoint card (``{}`` when ``error`` is set).
        saved_at: when it was saved (seconds since the epoch).
        last_used: when it was last saved or opened (the file's modification time).
        n_bytes: size on disk.
        error: why the file cannot be read, or None.
    """

    key: str
    label: str
    card: dict
    saved_at: float
    last_used: float
    n_bytes: int
    error: str | None = None


class ModelStore:
    """The kept models of every browser, in one folder.

    Args:
        root: the folder; default ``<cache dir>/session-models``, looked up at each call
            so that ``$AUTOREG_CACHE_DIR`` set later (tests, a server's environment) holds.
        max_age, max_models_per_owner, max_bytes_per_owner, max_bytes_total: the bounds
            (module constants by default).
        clock: seconds since the epoch (tests pass a fake one).
    """

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        max_age: float = MAX_AGE_SECONDS,
        max_models_per_owner: int = MAX_MODELS_PER_OWNER,
        max_bytes_per_owner: int = MAX_BYTES_PER_OWNER,
        max_bytes_total: int = MAX_BYTES_TOTAL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_age <= 0 or max_models_per_owner < 1 or max_bytes_per_owner < 1:
            raise ValueError("The store's bounds must be positive.")
        self._root = Path(root) if root is not None else None
        self.max_age = max_age
        self.max_models_per_owner = max_models_per_owner
        self.max_bytes_per_owner = max_bytes_per_owner
        self.max_bytes_total = max_bytes_total
        self.clock = clock

    @property
    def root(self) -> Path:
        return self._root if self._root is not None else cache_dir() / FOLDER

    # -- writing ------------------------------------------------------------------------
    def save(
        self, owner: str, label: str, state_dict: dict[str, torch.Tensor], card: dict
    ) -> StoredModel:
        """Keep a model for ``owner`` under ``label`` (replacing one of the same label).

        Raises:
            ValueError: for a bad owner id, an empty label, a card autoreg cannot open,
                or a model larger than one browser's share.
        """
        folder = self._folder(owner)
        if not label.strip():
            raise ValueError("A kept model needs a label.")
        now = self.clock()
        tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
        data = st_save(
            tensors,
            metadata={
                "card": json.dumps(card, sort_keys=True),
                "label": label,
                "saved_at": repr(now),
            },
        )
        parse_checkpoint(data)  # what load will do: refuse now what could never be opened
        if len(data) > self.max_bytes_per_owner:
            raise ValueError(
                f"{label} is {len(data) / 2**20:.1f} MB, more than the "
                f"{self.max_bytes_per_owner / 2**20:.0f} MB a browser may keep on this server."
            )
        key = model_key(label)
        with _lock:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / (key + SUFFIX)
            write_atomic(path, data)
            os.utime(path, (now, now))
            self._evict(owner, keep=key)
        return StoredModel(key, label, card, now, now, len(data))

    def delete(self, owner: str, key: str) -> None:
        """Forget one model (no error when it is already gone)."""
        with contextlib.suppress(FileNotFoundError):
            self._path(owner, key).unlink()

    def purge(self) -> int:
        """Delete expired models of every owner and enforce the total cap; how many went."""
        with _lock:
            return self._purge_locked()

    # -- reading ------------------------------------------------------------------------
    def list(self, owner: str) -> list[StoredModel]:
        """``owner``'s models, oldest saved first; expired ones are deleted, not listed.

        A file whose header cannot be read is listed with ``error`` set (and no card),
        so the page can say which model was lost instead of dropping it silently.
        """
        folder = self._folder(owner)
        now = self.clock()
        found = []
        for path in _files(folder):
            try:
                stat = path.stat()
            except FileNotFoundError:  # evicted by another session meanwhile
                continue
            if now - stat.st_mtime > self.max_age:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                continue
            found.append(_describe(path, stat))
        return sorted(found, key=lambda m: (m.saved_at, m.key))

    def keys(self, owner: str) -> list[str]:
        """The keys of ``owner``'s model files, without reading them (cheap: one listing)."""
        return sorted(p.stem for p in _files(self._folder(owner)))

    def load(self, owner: str, key: str) -> Checkpoint:
        """Read one model's checkpoint and mark it used.

        Raises:
            ValueError: when there is no such model (expired, evicted), or the file is
                damaged; a damaged file is deleted, and the message names the model.
        """
        path = self._path(owner, key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ValueError(
                "This model is no longer kept on the server: unused models are deleted "
                f"after {self.max_age / 86400:.0f} days, or when a browser keeps too many."
            ) from None
        try:
            ckpt = parse_checkpoint(data)
        except ValueError as exc:
            label = _read_label(data) or key
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            raise ValueError(
                f"The kept model {label!r} is damaged and cannot be opened ({exc}); it was deleted."
            ) from None
        now = self.clock()
        with contextlib.suppress(FileNotFoundError):
            os.utime(path, (now, now))
        return ckpt

    def used_bytes(self, owner: str | None = None) -> int:
        """Bytes on disk for one owner, or for everyone."""
        folders = [self._folder(owner)] if owner is not None else _owner_folders(self.root)
        return sum(_size(p) for f in folders for p in _files(f))

    # -- internals ----------------------------------------------------------------------
    def _folder(self, owner: str) -> Path:
        if not valid_owner_id(owner):
            raise ValueError("Not an owner id: expected 32-64 letters, digits, '-' or '_'.")
        return self.root / owner

    def _path(self, owner: str, key: str) -> Path:
        if not isinstance(key, str) or _KEY.fullmatch(key) is None:
            raise ValueError(f"Not a kept model's key: {key!r}.")
        return self._folder(owner) / (key + SUFFIX)

    def _evict(self, owner: str, keep: str) -> None:
        """With the lock held: enforce ``owner``'s caps, then the total (LRU first)."""
        mine = sorted(_files(self._folder(owner)), key=_mtime)
        mine = [p for p in mine if p.stem != keep] + [p for p in mine if p.stem == keep]
        total = sum(_size(p) for p in mine)
        while (
            mine
            and mine[0].stem != keep
            and (len(mine) > self.max_models_per_owner or total > self.max_bytes_per_owner)
        ):
            total -= _size(mine[0])
            _unlink(mine.pop(0))
        self._purge_locked(keep=(owner, keep))

    def _purge_locked(self, keep: tuple[str, str] | None = None) -> int:
        now = self.clock()
        files = [p for f in _owner_folders(self.root) for p in _files(f)]
        gone = 0
        alive = []
        for p in files:
            if now - _mtime(p) > self.max_age and (p.parent.name, p.stem) != keep:
                _unlink(p)
                gone += 1
            else:
                alive.append(p)
        alive.sort(key=_mtime)
        total = sum(_size(p) for p in alive)
        for p in alive:
            if total <= self.max_bytes_total:
                break
            if (p.parent.name, p.stem) == keep:
                continue
            total -= _size(p)
            _unlink(p)
            gone += 1
        for folder in _owner_folders(self.root):  # tidy: folders of owners with nothing left
            with contextlib.suppress(OSError):
                folder.rmdir()
        return gone


def _files(folder: Path) -> list[Path]:
    """The checkpoint files in one owner's folder (temporary files are not models)."""
    try:
        return [
            p
            for p in folder.iterdir()
            if p.suffix == SUFFIX and not p.name.startswith(".") and _KEY.fullmatch(p.stem)
        ]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _owner_folders(root: Path) -> list[Path]:
    try:
        return [p for p in root.iterdir() if p.is_dir() and valid_owner_id(p.name)]
    except FileNotFoundError:
        return []


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _header(data: bytes) -> dict:
    """The safetensors header's metadata (raises ValueError when it cannot be read)."""
    if len(data) < 8:
        raise ValueError("the file is too short to be a checkpoint")
    n = int.from_bytes(data[:8], "little")
    if n <= 0 or 8 + n > len(data):
        raise ValueError("its header length is out of range")
    try:
        meta = json.loads(data[8 : 8 + n].decode("utf-8")).get("__metadata__") or {}
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        raise ValueError("its header is not valid JSON") from None
    if not isinstance(meta, dict):
        raise ValueError("its metadata is not a mapping")
    return meta


def _read_label(data: bytes) -> str | None:
    try:
        label = _header(data).get("label")
    except ValueError:
        return None
    return label if isinstance(label, str) else None


def _describe(path: Path, stat: os.stat_result) -> StoredModel:
    """List one file from its header alone (the tensors are not read)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            n = int.from_bytes(head, "little") if len(head) == 8 else 0
            data = head + f.read(min(n, 100 * 2**20))
        meta = _header(data)
        card = json.loads(meta["card"])
        label = meta["label"]
        saved_at = float(meta.get("saved_at", stat.st_mtime))
        if not isinstance(card, dict) or not isinstance(label, str):
            raise ValueError("its card or label is malformed")
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        why = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
        error = f"The kept model {path.stem} is damaged ({why})."
        return StoredModel(
            path.stem, path.stem, {}, stat.st_mtime, stat.st_mtime, stat.st_size, error
        )
    return StoredModel(path.stem, label, card, saved_at, stat.st_mtime, stat.st_size)


STORE = ModelStore()  # the server's store (its folder is looked up at each call)
