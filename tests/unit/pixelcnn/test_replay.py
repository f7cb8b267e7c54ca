"""The pixel replay's payload: the run's own record, exactly, and small.

Whatever the browser draws at step s must be what ``GenerationRun`` answers for step s:
the image (start + the first s positions from the batch as it ended), the distribution
and entropy of the s-th pixel, the entropy map and the receptive field of the pixel.
These tests rebuild each of them from the payload alone, as ``pixels.js`` does.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autoreg.pixelcnn.generation import FieldStencil, GenerationRun, erase
from autoreg.pixelcnn.models import PixelCNNConfig, build_model
from autoreg.pixelcnn.replay import level_names, replay_payload, run_id
from autoreg.seq import payload as pl


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    cfg = PixelCNNConfig(image_size=8, levels=4, channels=8, n_blocks=2, first_kernel=5)
    return build_model(cfg).eval()


@pytest.fixture(scope="module")
def run(tiny):
    img = torch.randint(0, 4, (8, 8), generator=torch.Generator().manual_seed(1))
    r = GenerationRun(tiny, 3, erase(img, "bottom half"), temperature=0.8, seed=5)
    r.advance(10**6)
    return r


def _image_at(arrays, f: int, s: int) -> np.ndarray:
    """What pixels.js draws for image f after s steps (-1: not there yet)."""
    img = np.where(arrays["known"][f] == 1, arrays["image0"][f], -1)
    for r, c in arrays["pos"][:s]:
        img[r, c] = arrays["final"][f, r, c]
    return img


def test_every_step_is_the_runs_record(run, tiny):
    stencil = FieldStencil(tiny)
    meta, a = pl.unpack(replay_payload(run, stencil, model="tiny"))
    assert meta["view"] == "pixels" and meta["n_steps"] == run.total + 1 == 33
    assert meta["done"] and not meta["stopped"] and meta["id"] == run_id(run)
    assert meta["level_names"] == ["0 black", "1", "2", "3 white"] == level_names(4)
    assert [tuple(p) for p in a["pos"]] == run.positions
    for s in range(run.total + 1):
        for f in range(run.n):
            img = _image_at(a, f, s)
            visible = (run.known[f] | run.drawn_mask(s)).numpy()
            assert np.array_equal(img >= 0, visible)
            assert np.array_equal(img[visible], run.images_at(s)[f].numpy()[visible]), (s, f)
        if s:
            np.testing.assert_array_equal(a["probs"][s - 1], run.probs_at(s).numpy())
            ent = run.entropy_map(s)
            r, c = run.position(s)
            for f in range(run.n):
                if not run.known[f, r, c]:
                    assert a["entropy"][s - 1, f] == ent[f, r, c]  # float32, bit for bit
    # the field of (r, c): the stencil moved so that its centre lands on (r, c)
    F, k = a["field"].shape[0], meta["centre"]
    for r, c in [(0, 0), (4, 3), (7, 7)]:
        field = np.zeros((8, 8), bool)
        for i in range(F):
            for j in range(F):
                if a["field"][i, j] and 0 <= r + i - k < 8 and 0 <= c + j - k < 8:
                    field[r + i - k, c + j - k] = True
        assert np.array_equal(field, stencil.at(r, c, 8).numpy())


def test_a_growing_record_keeps_its_id_and_prints_float32_values(tiny):
    live = GenerationRun(tiny, 2, None, temperature=1.0, seed=3)
    stencil = FieldStencil(tiny)
    live.advance(10)
    first = replay_payload(live, stencil)
    live.advance(20)
    second = replay_payload(live, stencil)
    m1, a1 = pl.unpack(first)
    m2, a2 = pl.unpack(second)
    assert m1["id"] == m2["id"] and (m1["n_steps"], m2["n_steps"]) == (11, 31)
    assert not m2["done"] and m2["total"] == 64
    np.testing.assert_array_equal(a2["probs"][:10], a1["probs"])
    assert pl.unpack(replay_payload(live, stencil, upto=5))[0]["n_steps"] == 6
    header, raw = pl.raw_arrays(second)
    assert raw["probs"].dtype == np.float32 and raw["entropy"].dtype == np.float32
    for spec in header["arrays"].values():
        assert spec["offset"] % 8 == 0 and "scale" not in spec
    for v in a2["probs"].ravel()[:50]:  # what the bars print
        assert pl.fmt(float(v), 2) == f"{float(v):.2f}"
    other = GenerationRun(tiny, 2, None, temperature=1.0, seed=3)
    other.uid = "another run"
    assert run_id(other) != run_id(live), "two runs with the same settings are told apart"


def test_a_16_image_28x28_replay_stays_small():
    torch.manual_seed(0)
    cfg = PixelCNNConfig(image_size=28, levels=2, channels=4, n_blocks=1, first_kernel=3)
    model = build_model(cfg).eval()
    run = GenerationRun(model, 16, None, seed=0)
    run.advance(10**6)
    blob = replay_payload(run, FieldStencil(model))
    assert pl.payload_size(blob) < 250_000, len(blob)  # 784 pixels x 16 images
