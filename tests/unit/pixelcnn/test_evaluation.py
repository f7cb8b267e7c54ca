"""The sample judge: Fréchet distance, its references, and the cards that record it."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from autoreg.checkpoints import load_checkpoint, tensors_digest
from autoreg.pixelcnn import gallery, sample_images
from autoreg.pixelcnn.data import load_images
from autoreg.pixelcnn.evaluation import (
    baseline_samples,
    frechet_distance,
    nearest_train_distance,
    sample_quality,
    train_judge,
)
from autoreg.pixelcnn.gallery import QUALITY_SAMPLES, QUALITY_SEEDS, measure_samples
from autoreg.pretrained import ASSETS, list_pretrained, load_pretrained, pretrained_card


@pytest.fixture(scope="module")
def digits():
    data = load_images("digits-8x8", size=8, levels=4)
    return data, train_judge(data)


def test_frechet_distance_of_gaussians():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(4000, 3, generator=gen, dtype=torch.float64)
    b = torch.randn(4000, 3, generator=gen, dtype=torch.float64)
    assert frechet_distance(a, b) < 0.02  # same distribution: ~0
    shifted = b + torch.tensor([2.0, 0.0, 0.0], dtype=torch.float64)
    assert frechet_distance(a, shifted) == pytest.approx(4.0, abs=0.1)  # |mu|^2
    scaled = b * 3  # N(0, 9 I) vs N(0, I): 3 * (1 + 9 - 2 * 3) = 12
    assert frechet_distance(a, scaled) == pytest.approx(12.0, rel=0.05)
    assert frechet_distance(a, scaled) == pytest.approx(frechet_distance(scaled, a), rel=1e-6)


def test_frechet_distance_with_covariances_that_do_not_commute():
    gen = torch.Generator().manual_seed(1)
    mix_a = torch.tensor([[2.0, 0.0, 0.0], [1.5, 0.5, 0.0], [0.0, 0.3, 1.0]], dtype=torch.float64)
    mix_b = torch.tensor([[1.0, 0.8, 0.0], [0.0, 1.0, 0.0], [0.7, 0.0, 0.2]], dtype=torch.float64)
    a = torch.randn(3000, 3, generator=gen, dtype=torch.float64) @ mix_a
    b = torch.randn(3000, 3, generator=gen, dtype=torch.float64) @ mix_b + 1
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    assert not torch.allclose(cov_a @ cov_b, cov_b @ cov_a)
    # tr((Sa Sb)^1/2) from the eigenvalues of Sa Sb itself, an independent route
    cross = torch.linalg.eigvals(cov_a @ cov_b).sqrt().real.sum()
    mu = (a.mean(0) - b.mean(0)).square().sum()
    expected = mu + cov_a.trace() + cov_b.trace() - 2 * cross
    assert frechet_distance(a, b) == pytest.approx(float(expected), rel=1e-9)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    assert frechet_distance(a.float(), a.float()) >= 0.0


def test_judge_reads_digits_and_keeps_real_ones_unseen(digits):
    data, judge = digits
    assert judge.test_accuracy > 0.9
    assert len(judge.held_out) == 500 and torch.equal(judge.held_out, data.train[:500])
    assert judge.features(data.test[:5]).shape == (5, 128)


def test_baseline_samples_have_the_training_ink(digits):
    data, _ = digits
    base = baseline_samples(data, 2000)
    assert base.shape == (2000, 8, 8) and base.min() >= 0 and base.max() <= 3
    mean_real = data.train.float().mean(0)
    assert (base.float().mean(0) - mean_real).abs().max() < 0.25  # per pixel


def test_real_digits_score_far_better_than_the_baseline(digits):
    data, judge = digits
    q = sample_quality(judge, data, data.train[-300:])
    assert q["frechet_distance"] < 0.2 * q["baseline_reference"]
    assert q["real_reference"] < 0.2 * q["baseline_reference"]
    shuffled = data.train[-300:].flatten(1)[:, torch.randperm(64)].reshape(-1, 8, 8)
    assert sample_quality(judge, data, shuffled)["frechet_distance"] > 4 * q["frechet_distance"]


def test_train_judge_leaves_the_global_rng_alone():
    data = load_images("digits-8x8", size=8, levels=2)
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    train_judge(data, epochs=1)
    assert torch.equal(torch.rand(3), expected)


def test_tensors_digest_sees_any_change():
    state = {"w": torch.zeros(2, 3), "b": torch.ones(3)}
    base = tensors_digest(state)
    assert tensors_digest({"b": torch.ones(3), "w": torch.zeros(2, 3)}) == base
    assert tensors_digest({**state, "w": torch.zeros(3, 2)}) != base  # shape
    assert tensors_digest({**state, "b": torch.tensor([1.0, 1.0, 1.0 + 1e-7])}) != base


def test_sample_quality_refuses_a_single_sample(digits):
    data, judge = digits
    with pytest.raises(ValueError, match="at least 2"):
        sample_quality(judge, data, data.test[:1])


def test_measure_samples_writes_both_copies_of_the_card(tmp_path, monkeypatch):
    name = "pixelcnn-digits8"
    for ext in (".safetensors", ".json"):
        shutil.copy(ASSETS / f"{name}{ext}", tmp_path / f"{name}{ext}")
    before = load_checkpoint(tmp_path / f"{name}.safetensors")
    drawn, real = [], gallery.sample_images  # every sample set measure_samples judges

    def spy(*args, **kwargs):
        drawn.append(real(*args, **kwargs))
        return drawn[-1]

    monkeypatch.setattr(gallery, "sample_images", spy)
    quality = measure_samples(name, assets=tmp_path)
    assert len(drawn) == len(QUALITY_SEEDS)  # one set of samples per seed, each its own
    assert all(not torch.equal(a, b) for i, a in enumerate(drawn) for b in drawn[i + 1 :])
    after = load_checkpoint(tmp_path / f"{name}.safetensors")
    json_card = json.loads((tmp_path / f"{name}.json").read_text())
    assert after.card["samples"] == json_card["samples"] == quality
    assert quality["n"] == QUALITY_SAMPLES and quality["temperature"] == 1.0
    distances = quality["frechet_distances"]
    assert len(distances) == len(QUALITY_SEEDS)
    assert quality["frechet_distance"] == pytest.approx(sum(distances) / len(distances), abs=0.05)
    assert after.card["metrics"] == before.card["metrics"]
    assert quality["weights_digest"] == tensors_digest(before.tensors)
    for key, tensor in before.tensors.items():
        assert torch.equal(after.tensors[key], tensor)


@pytest.mark.parametrize("name", list_pretrained("pixelcnn"))
def test_shipped_samples_are_measured_and_beat_the_baseline(name):
    q = pretrained_card(name).get("samples")
    assert q is not None, f"run python -m autoreg.pixelcnn.gallery {name}"
    weights = load_checkpoint(ASSETS / f"{name}.safetensors").tensors
    assert q["weights_digest"] == tensors_digest(weights), "measured on other weights"
    assert q["n"] == QUALITY_SAMPLES and q["seeds"] == list(QUALITY_SEEDS)
    assert q["real_reference"] < q["frechet_distance"] < 0.5 * q["baseline_reference"]


def test_measure_samples_leaves_an_unchanged_card_alone(tmp_path):
    name = "pixelcnn-digits8"
    for ext in (".safetensors", ".json"):
        shutil.copy(ASSETS / f"{name}{ext}", tmp_path / f"{name}{ext}")
    first = measure_samples(name, assets=tmp_path)  # writes the record if it differs
    files = [tmp_path / f"{name}{ext}" for ext in (".safetensors", ".json")]
    stamps = [f.stat().st_mtime_ns for f in files]
    assert measure_samples(name, assets=tmp_path) == first
    assert [f.stat().st_mtime_ns for f in files] == stamps


def test_nearest_train_distance_is_zero_for_a_copy_and_counts_levels(digits):
    data, _ = digits
    train = data.train[:50]
    moved = train[7].clone()
    moved[3, 4] = 0 if moved[3, 4] > 0 else 2  # one pixel, 1 to 3 levels away from train[7]
    far = torch.stack([train[3], moved])
    d = nearest_train_distance(far, train)
    by_hand = min(float((moved.long() - x.long()).abs().sum()) for x in train)
    assert d.shape == (2,) and d[0] == 0
    assert d[1] == by_hand
    assert 0 < by_hand <= float((moved.long() - train[7].long()).abs().sum()) <= 3


def test_the_shipped_8x8_model_does_not_copy_its_training_digits(digits):
    """The closest of 1,500 samples is at least as far from the training set as the
    closest real test digit: the small model draws new digits, not memorised ones."""
    data, _ = digits
    model = load_pretrained("pixelcnn-digits8")
    samples = torch.cat([sample_images(model, n=500, seed=s) for s in QUALITY_SEEDS])
    ours = nearest_train_distance(samples, data.train)
    test = nearest_train_distance(data.test, data.train)
    assert ours.min() >= test.min() > 0  # no sample copies a training digit
