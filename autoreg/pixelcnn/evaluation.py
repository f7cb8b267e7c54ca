"""How digit-like are a PixelCNN's samples? An independent classifier as the judge.

Likelihood (bits/dim) says how well a model predicts real pixels, not whether what it
draws looks like a digit: a model can score well on local texture and still draw loose
strokes. So we ask a second, independent model. :func:`train_judge` fits a small CNN
digit classifier on the PixelCNN's own training images (same size, same levels), and
:func:`sample_quality` compares the classifier's features of the samples with its
features of held-out test digits by the Fréchet distance between two Gaussians fitted
to them: the FID of Heusel et al. (2017), with a digit classifier in place of Inception.

The distance has no units, so two references put it on a scale: real training digits
that the judge never saw (what a perfect generator would score) and samples of the
baseline, an independent categorical per pixel (the right ink in the right places, no
strokes). Lower is better. Distances shrink as N grows, so compare them at equal N.
The classifier's confidence alone would not do: it is confident on about a third of the
baseline's blobs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from autoreg.pixelcnn.data import ImageDataset

FEATURES = 128  # the judge's feature layer, where distances are measured


class DigitClassifier(nn.Module):
    """Two conv layers, a 128-unit feature layer and a read-out over 10 digit classes."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc = nn.Linear(64 * (size // 4) ** 2, FEATURES)
        self.read_out = nn.Linear(FEATURES, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Float images ``[B, 1, S, S]`` in [0, 1] -> features ``[B, 128]``."""
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.relu(self.fc(x.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Float images ``[B, 1, S, S]`` -> class logits ``[B, 10]``."""
        return self.read_out(self.features(x))


@dataclass
class DigitJudge:
    """A trained digit classifier for images of one size and number of levels.

    Args:
        net: the classifier (eval mode).
        levels: intensity levels of the images it reads.
        test_accuracy: on the dataset's test digits.
        held_out: training digits it was not trained on, the "real" reference.
    """

    net: DigitClassifier
    levels: int
    test_accuracy: float
    held_out: torch.Tensor

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Features ``[N, 128]`` (float64) of integer images ``[N, S, S]``."""
        x = images.float()[:, None] / (self.levels - 1)
        return self.net.eval().features(x).double()


def train_judge(
    data: ImageDataset, hold_out: int = 500, epochs: int = 8, seed: int = 0
) -> DigitJudge:
    """Fit a :class:`DigitClassifier` on ``data``'s training images (a few CPU seconds).

    The first ``hold_out`` training images (at most a third) are kept out of training:
    they are real digits the judge has not seen, for the reference distance. The global
    RNG is left as it was.
    """
    held = min(hold_out, len(data.train) // 3)
    x = data.train[held:].float()[:, None] / (data.levels - 1)  # (N, 1, S, S)
    y = data.train_labels[held:]
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)  # the initial weights
        net = DigitClassifier(data.size)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), 64):
            idx = order[i : i + 64]
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        xt = data.test.float()[:, None] / (data.levels - 1)
        acc = (net.eval()(xt).argmax(-1) == data.test_labels).float().mean().item()
    return DigitJudge(net.eval(), data.levels, acc, data.train[:held])


def nearest_train_distance(images: torch.Tensor, train: torch.Tensor) -> torch.Tensor:
    """Per image ``[N, H, W]``: L1 distance, in levels summed over pixels, to the nearest
    training image.

    Why: a model can please the judge by reproducing its training digits. Samples that are
    no closer to the training set than real test digits are (compare with the test
    images' own distances) are not copies.
    """
    return torch.cdist(images.flatten(1).float(), train.flatten(1).float(), p=1).min(1).values


def baseline_samples(data: ImageDataset, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` images from the baseline: each pixel drawn alone from its training histogram."""
    levels = data.levels
    counts = F.one_hot(data.train.long(), levels).sum(0).double() + 1  # (S, S, L) add-one
    probs = (counts / counts.sum(-1, keepdim=True)).reshape(-1, levels)  # (S*S, L)
    gen = torch.Generator().manual_seed(seed)
    drawn = torch.multinomial(probs, n, replacement=True, generator=gen)  # (S*S, n)
    return drawn.T.reshape(n, data.size, data.size)


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to feature sets ``[N, D]`` and ``[M, D]``.

    ``|mu_a - mu_b|^2 + tr(Sa + Sb - 2 (Sa^1/2 Sb Sa^1/2)^1/2)``, computed in float64.
    ``Sa^1/2 Sb Sa^1/2`` is symmetric PSD (so its square root's trace is the sum of the
    square roots of its eigenvalues, clipped at 0) and has the eigenvalues of ``Sa Sb``:
    singular covariances (dead ReLU features) need no special care.
    """
    a, b = a.double(), b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)  # (D, D)
    vals, vecs = torch.linalg.eigh(cov_a)
    root_a = vecs @ torch.diag(vals.clamp_min(0).sqrt()) @ vecs.T  # Sa^1/2
    inner = root_a @ cov_b @ root_a
    cross = torch.linalg.eigvalsh((inner + inner.T) / 2).clamp_min(0).sqrt().sum()
    dist = (mu_a - mu_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * cross
    return max(0.0, float(dist))


def sample_quality(judge: DigitJudge, data: ImageDataset, samples: torch.Tensor) -> dict:
    """The Fréchet distances of samples, real digits and the baseline to the test digits.

    Args:
        judge: trained on ``data`` (:func:`train_judge`).
        data: the PixelCNN's dataset; its test images are the reference.
        samples: integer images ``[N, S, S]`` from the model (a few hundred).

    Returns:
        ``frechet_distance`` (samples), ``real_reference`` (up to N training digits the
        judge never saw), ``baseline_reference`` (N baseline samples),
        ``judge_accuracy`` (on the test digits) and ``n``.
    """
    n = len(samples)
    if n < 2:
        raise ValueError("sample_quality needs at least 2 samples.")
    reference = judge.features(data.test)
    fd = frechet_distance(judge.features(samples), reference)
    real = frechet_distance(judge.features(judge.held_out[:n]), reference)
    base = frechet_distance(judge.features(baseline_samples(data, n)), reference)
    return {
        "frechet_distance": round(fd, 1),
        "real_reference": round(real, 1),
        "baseline_reference": round(base, 1),
        "judge_accuracy": round(judge.test_accuracy, 3),
        "n": n,
    }
