"""Download full MNIST / Fashion-MNIST (IDX files), check sha256, cache them.

For users who are online: the offline datasets (``mnist-5k``, ``digits-8x8``) need
nothing. Files land in the user cache directory (``$AUTOREG_CACHE_DIR``, else
``$XDG_CACHE_HOME/autoreg``, else ``~/.cache/autoreg``), one folder per dataset. A file
is written under a temporary name, its sha256 compared with the published value, and
only then renamed into place: a corrupt or truncated download is deleted, never cached.

The base URL can be overridden (argument or ``$AUTOREG_<DATASET>_URL``), which is how
the tests serve files from a local HTTP server on 127.0.0.1.

IDX format (LeCun et al.): big-endian magic ``0x0000 08 NN`` (NN = number of dims),
then NN uint32 sizes, then the uint8 data.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import torch

from autoreg.images import ImageDataset, check_levels, quantise, resize

# dataset -> (default base URL, {file name: sha256 of the .gz as published})
SOURCES: dict[str, tuple[str, dict[str, str]]] = {
    "mnist": (
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        {
            "train-images-idx3-ubyte.gz": (
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
            ),
            "train-labels-idx1-ubyte.gz": (
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
            ),
            "t10k-images-idx3-ubyte.gz": (
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
            ),
        },
    ),
    "fashion-mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        {
            "train-images-idx3-ubyte.gz": (
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"
            ),
            "train-labels-idx1-ubyte.gz": (
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
            ),
            "t10k-images-idx3-ubyte.gz": (
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"
            ),
        },
    ),
}


class DownloadError(ValueError):
    """A download failed (offline, HTTP error) or its checksum did not match."""


def cache_dir(override: str | Path | None = None) -> Path:
    """The cache root: ``override``, ``$AUTOREG_CACHE_DIR``, XDG cache, or ``~/.cache``."""
    if override is not None:
        return Path(override)
    if os.environ.get("AUTOREG_CACHE_DIR"):
        return Path(os.environ["AUTOREG_CACHE_DIR"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "autoreg"


def base_url(dataset: str, override: str | None = None) -> str:
    """Where ``dataset``'s files come from (argument, ``$AUTOREG_<NAME>_URL``, default)."""
    if dataset not in SOURCES:
        raise ValueError(f"Unknown download {dataset!r}; choose from {sorted(SOURCES)}.")
    env = "AUTOREG_" + dataset.upper().replace("-", "_") + "_URL"
    url = override or os.environ.get(env) or SOURCES[dataset][0]
    return url if url.endswith("/") else url + "/"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(url: str, dest: Path, sha256: str, timeout: float = 30.0) -> Path:
    """Return ``dest`` if it holds the right bytes, else download ``url`` there and check it.

    Raises:
        DownloadError: offline / HTTP failure (says so), or a sha256 mismatch (the
            downloaded file is deleted, so a retry downloads again).
    """
    if dest.exists() and sha256_file(dest) == sha256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as out:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
    except (urllib.error.URLError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise DownloadError(
            f"Could not download {url} ({reason}). Are you offline? The offline datasets "
            "'mnist-5k' and 'digits-8x8' need no download."
        ) from None
    got = sha256_file(tmp)
    if got != sha256:
        tmp.unlink(missing_ok=True)
        raise DownloadError(
            f"The file downloaded from {url} is corrupt: sha256 {got[:16]}... does not match "
            f"the published {sha256[:16]}.... It was deleted, not cached; try again later."
        )
    tmp.replace(dest)
    return dest


def parse_idx(data: bytes) -> np.ndarray:
    """Decode an (uncompressed) IDX file into a uint8 array."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError("Not an IDX file of unsigned bytes (bad magic number).")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError("IDX file truncated in its header.")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=header)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"IDX file holds {body.size} bytes but its header says {shape}.")
    return body.reshape(shape)


def download_dataset(
    dataset: str,
    url: str | None = None,
    root: str | Path | None = None,
    checksums: dict[str, str] | None = None,
) -> dict[str, Path]:
    """Fetch (or find cached) the four IDX files of ``dataset``; file name -> path."""
    base = base_url(dataset, url)
    sums = checksums or SOURCES[dataset][1]
    folder = cache_dir(root) / dataset
    return {name: fetch(base + name, folder / name, sha) for name, sha in sums.items()}


def load_idx_dataset(
    dataset: str,
    size: int = 28,
    levels: int = 256,
    url: str | None = None,
    root: str | Path | None = None,
    checksums: dict[str, str] | None = None,
) -> ImageDataset:
    """Full MNIST or Fashion-MNIST with its official train/test split, resized, quantised."""
    check_levels(levels)
    if not 2 <= size <= 28:
        raise ValueError(f"{dataset} images are 28x28; size={size!r} must be in 2..28.")
    paths = download_dataset(dataset, url, root, checksums)

    def read(name: str) -> np.ndarray:
        return parse_idx(gzip.decompress(paths[name].read_bytes()))

    parts = []
    for split in ("train", "t10k"):
        x = read(f"{split}-images-idx3-ubyte.gz").astype(np.float32) / 255.0  # (N, 28, 28)
        y = read(f"{split}-labels-idx1-ubyte.gz").astype(np.int64)  # (N,)
        if x.ndim != 3 or len(x) != len(y):
            raise ValueError(f"{dataset}: {split} images and labels do not match.")
        parts.append((quantise(resize(torch.from_numpy(x), size), levels), torch.from_numpy(y)))
    (xtr, ytr), (xte, yte) = parts
    return ImageDataset(dataset, xtr, xte, ytr, yte, levels)
