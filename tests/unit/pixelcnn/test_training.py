"""PixelCNN training: the loop learns, reports, stops on request; the CLI writes a card."""

import argparse
import math
import threading

import pytest
import torch

from autoreg.checkpoints import load_checkpoint
from autoreg.pixelcnn import PixelCNNConfig, build_model, cli, model_from_checkpoint
from autoreg.pixelcnn import augment as A
from autoreg.pixelcnn import training as T
from autoreg.pixelcnn.data import load_images


@pytest.fixture(scope="module")
def digits():
    return load_images("digits-8x8", size=8, levels=4)


def tiny(kind="pixelcnn"):
    torch.manual_seed(0)
    cfg = PixelCNNConfig(kind=kind, image_size=8, levels=4, channels=8, n_blocks=1, first_kernel=3)
    return build_model(cfg)


@pytest.mark.parametrize("kind", ["pixelcnn", "gated"])
def test_training_lowers_test_nll_and_reports_steps(digits, kind):
    model = tiny(kind)
    before = T.evaluate_bits(model, digits.test)
    steps = []
    metrics = T.train(
        model, digits, T.PixelTrainConfig(epochs=2, batch_size=64, lr=3e-3), on_step=steps.append
    )
    assert metrics["test_bits_per_dim"] < before - 0.2
    assert len(steps) == metrics["steps"] == 2 * math.ceil(len(digits.train) / 64)
    assert [s.step for s in steps] == list(range(1, len(steps) + 1))
    assert sum(s.test_bits is not None for s in steps) == 2  # once per epoch
    assert all(s.step_time > 0 and s.lr > 0 for s in steps)
    assert not model.training


def test_stop_flag_stops_after_current_step(digits):
    model = tiny()
    stop = threading.Event()
    seen = []

    def on_step(s):
        seen.append(s.step)
        if s.step == 3:
            stop.set()

    metrics = T.train(model, digits, T.PixelTrainConfig(epochs=5), on_step=on_step, stop=stop)
    assert seen == [1, 2, 3] and metrics["stopped_early"] and metrics["steps"] == 3
    assert math.isfinite(metrics["test_bits_per_dim"])


def test_eval_restores_train_mode(digits):
    model = tiny().train()
    T.evaluate_bits(model, digits.test[:10])
    assert model.training


def test_evaluation_builds_no_autograd_graph(digits):
    model = tiny()
    seen = []
    model.register_forward_hook(lambda *_: seen.append(torch.is_grad_enabled()))
    T.evaluate_bits(model, digits.test[:8])
    assert seen == [False]


def test_mismatched_dataset_raises(digits):
    model = build_model(PixelCNNConfig(image_size=16, channels=8, n_blocks=0, first_kernel=3))
    with pytest.raises(ValueError, match="expects 16x16"):
        T.train(model, digits, T.PixelTrainConfig(epochs=1))


def test_baseline_is_independent_categorical():
    train = torch.tensor([[[0, 1]], [[0, 1]], [[0, 0]]])  # (3, 1, 2)
    test = torch.tensor([[[0, 1]]])
    # add-one smoothed: p(pixel0=0) = 4/5, p(pixel1=1) = 3/5 (2 levels)
    expected = -(math.log2(4 / 5) + math.log2(3 / 5)) / 2
    assert T.baseline_bits(train, test, 2) == pytest.approx(expected)


def test_lr_schedule_is_pure_cosine():
    assert T.lr_at(0, 100, 1.0) == pytest.approx(1.0)
    assert T.lr_at(100, 100, 1.0) == pytest.approx(0.1)
    assert T.lr_at(50, 100, 1.0) == pytest.approx(0.55)


def test_cli_trains_and_writes_checkpoint_with_card(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    out = tmp_path / "m"
    args = parser.parse_args(
        [
            "--model",
            "gated",
            "--dataset",
            "digits-8x8",
            "--size",
            "8",
            "--levels",
            "2",
            "--channels",
            "8",
            "--blocks",
            "1",
            "--first-kernel",
            "3",
            "--epochs",
            "2",
            "--out",
            str(out),
        ]
    )
    args.command_line = "python -m autoreg.train pixel --model gated ..."  # as autoreg.train sets
    assert cli.main(args) == 0
    assert "test" in capsys.readouterr().out
    ckpt = load_checkpoint(out.with_suffix(".safetensors"))
    card = ckpt.card
    assert card["command"] == args.command_line
    assert card["kind"] == "pixelcnn" and card["config"]["kind"] == "gated"
    assert card["dataset"]["name"] == "digits-8x8" and card["dataset"]["levels"] == 2
    m = card["metrics"]
    assert m["epochs"] == 2 and m["train_seconds"] > 0
    assert 0 < m["test_bits_per_dim"] < 1.0 and 0 < m["baseline_bits_per_dim"] < 1.0
    assert m["test_nats_per_image"] == pytest.approx(m["test_bits_per_dim"] * math.log(2) * 64)
    assert "baseline_nats_per_image" in m
    model = model_from_checkpoint(ckpt)
    x = load_images("digits-8x8", size=8, levels=2).test[:4].long()
    assert model(x).shape == (4, 2, 8, 8)
    assert (out.with_suffix(".json")).exists()


def test_cli_resume_continues_from_checkpoint(tmp_path):
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    common = [
        "--dataset",
        "digits-8x8",
        "--size",
        "8",
        "--levels",
        "4",
        "--channels",
        "8",
        "--blocks",
        "1",
        "--first-kernel",
        "3",
    ]
    first = tmp_path / "a"
    cli.main(parser.parse_args([*common, "--epochs", "1", "--out", str(first)]))
    second = tmp_path / "b"
    # model options differ on purpose: the checkpoint's config wins
    cli.main(
        parser.parse_args(
            [
                "--dataset",
                "digits-8x8",
                "--channels",
                "32",
                "--epochs",
                "1",
                "--resume",
                str(first.with_suffix(".safetensors")),
                "--out",
                str(second),
            ]
        )
    )
    a = load_checkpoint(first.with_suffix(".safetensors")).card
    b = load_checkpoint(second.with_suffix(".safetensors")).card
    assert b["config"] == a["config"]
    assert b["metrics"]["epochs_total"] == 2 and b["metrics"]["resumed_from_epochs"] == 1
    assert b["metrics"]["test_bits_per_dim"] < a["metrics"]["test_bits_per_dim"]


def test_shift_images_moves_without_wrapping():
    x = torch.zeros(200, 5, 5, dtype=torch.uint8)
    x[:, 2, 2] = 3  # one bright pixel in the middle of every image
    x[:, 0, 4] = 1  # and one in the top-right corner
    out = A.shift_images(x, 1, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    centre = torch.nonzero(out == 3)  # (image, row, col): exactly one per image
    assert len(centre) == 200 and torch.equal(centre[:, 0], torch.arange(200))
    offsets = centre[:, 1:] - 2
    assert offsets.abs().max() == 1
    assert len({tuple(o) for o in offsets.tolist()}) == 9  # every offset in [-1, 1]^2 drawn
    # the corner pixel moves with its image or leaves it; it never wraps to another edge
    for img, (dy, dx) in zip(out, offsets.tolist(), strict=True):
        r, c = 0 + dy, 4 + dx
        inside = 0 <= r < 5 and 0 <= c < 5
        assert (img == 1).sum() == int(inside)
        if inside:
            assert img[r, c] == 1


def test_shift_images_is_seeded_and_off_at_zero():
    x = torch.randint(0, 4, (16, 8, 8), dtype=torch.uint8)
    assert A.shift_images(x, 0, torch.Generator()) is x
    a = A.shift_images(x, 2, torch.Generator().manual_seed(5))
    b = A.shift_images(x, 2, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and not torch.equal(a, x)


def test_augmented_training_learns_and_card_says_so(digits, tmp_path):
    model = tiny()
    before = T.evaluate_bits(model, digits.test)
    tcfg = T.PixelTrainConfig(epochs=2, batch_size=64, lr=3e-3, augment_shift=1)
    metrics = T.train(model, digits, tcfg)
    assert metrics["test_bits_per_dim"] < before - 0.2
    card = T.make_card(model, digits, tcfg, metrics)
    assert card["training"]["augment_shift"] == 1 and card["training"]["device"] == "cpu"


def test_affine_jitter_of_zero_is_identity_and_small_otherwise():
    data = load_images("mnist-5k", size=28, levels=256)
    native = data.train[:32]
    still = A.affine_jitter(native, torch.Generator(), degrees=0, scale=0, shift=0)
    assert torch.allclose(still, native.float() / 255, atol=1e-5)
    moved = A.affine_jitter(native, torch.Generator().manual_seed(0))
    assert moved.shape == (32, 28, 28) and moved.min() >= 0 and moved.max() <= 1
    assert not torch.allclose(moved, still, atol=0.1)
    # still the same digit: ink stays within a pixel or two of where it was
    ink_before, ink_after = (still > 0.5).float(), (moved > 0.5).float()
    near = torch.nn.functional.max_pool2d(ink_before[:, None], 7, 1, 3)[:, 0]  # within 3 px
    assert (ink_after * (1 - near)).sum() < 0.02 * ink_after.sum()
    again = A.affine_jitter(native, torch.Generator().manual_seed(0))
    assert torch.equal(moved, again)


def test_native_train_images_line_up_with_the_dataset():
    from autoreg.pixelcnn.data import native_train_images, quantise, resize

    data = load_images("mnist-5k", size=16, levels=4)
    native = native_train_images(data)
    assert native.shape == (len(data.train), 28, 28) and native.dtype == torch.uint8
    assert torch.equal(quantise(resize(native.float() / 255, 16), 4), data.train)
    shuffled = type(data)(data.name, data.train.flip(0), data.test, data.train_labels,
                          data.test_labels, data.levels)  # fmt: skip
    with pytest.raises(ValueError, match="do not match"):
        native_train_images(shuffled)


def test_affine_augmented_training_learns(tmp_path):
    data = load_images("digits-8x8", size=8, levels=4)
    model = tiny()
    before = T.evaluate_bits(model, data.test)
    tcfg = T.PixelTrainConfig(epochs=2, batch_size=64, lr=3e-3, augment_affine=True)
    metrics = T.train(model, data, tcfg)
    assert metrics["test_bits_per_dim"] < before - 0.2
    assert T.make_card(model, data, tcfg, metrics)["training"]["augment_affine"] is True


def test_elastic_field_is_in_pixels_smooth_seeded_and_scaled():
    gen = torch.Generator
    # no blur (sigma -> 0): the field is alpha * uniform noise, in grid units of 2/S a pixel
    raw = A.elastic_field(64, 28, alpha=5, sigma=0.01, gen=gen().manual_seed(0)) * 28 / 2
    assert 4.9 < raw.abs().max() <= 5 and abs(raw.std() - 5 / 3**0.5) < 0.05
    field = A.elastic_field(64, 28, alpha=20, sigma=4, gen=gen().manual_seed(0))
    assert field.shape == (64, 28, 28, 2)
    px = field * 28 / 2  # grid units -> pixels
    assert abs(px.mean()) < 0.05 and 0.65 < px.std() < 0.8  # Simard's blur: ~0.73 px RMS
    # smooth: neighbouring pixels move almost together (raw noise would not, r = 0)
    a, b = px[:, :, :-1].flatten(), px[:, :, 1:].flatten()
    assert torch.corrcoef(torch.stack([a, b]))[0, 1] > 0.9
    assert torch.equal(field, A.elastic_field(64, 28, alpha=20, sigma=4, gen=gen().manual_seed(0)))
    double = A.elastic_field(64, 28, alpha=40, sigma=4, gen=gen().manual_seed(0))
    assert torch.allclose(double, 2 * field)


@pytest.mark.parametrize(("axis", "where"), [(0, (10, 9)), (1, (9, 10))])
def test_a_field_of_one_pixel_moves_the_image_by_one_pixel(monkeypatch, axis, where):
    """Grid units and axis order: 2/S in x (axis 0) reads the pixel one to the right."""
    img = torch.zeros(1, 28, 28, dtype=torch.uint8)
    img[0, 10, 10] = 255

    def one_pixel(b, s, alpha, sigma, gen):
        field = torch.zeros(b, s, s, 2)
        field[..., axis] = 2 / s
        return field

    monkeypatch.setattr(A, "elastic_field", one_pixel)
    moved = A.affine_jitter(img, torch.Generator(), degrees=0, scale=0, shift=0, elastic=1)[0]
    assert moved[where] == 1 and moved.sum() == 1


def test_elastic_warp_bends_strokes_but_keeps_the_digit():
    native = load_images("mnist-5k", size=28, levels=256).train[:32]
    still = A.affine_jitter(native, torch.Generator(), degrees=0, scale=0, shift=0)
    near = torch.nn.functional.max_pool2d((still > 0.5).float()[:, None], 7, 1, 3)[:, 0]
    affine = A.jittered(native, T.PixelTrainConfig(augment_affine=True), torch.Generator())
    for cfg in [
        T.PixelTrainConfig(augment_elastic=20),  # elastic alone: no rotation, zoom, shift
        T.PixelTrainConfig(augment_affine=True, augment_elastic=20),  # both, as trained
    ]:
        warped = A.jittered(native, cfg, torch.Generator())
        assert warped.shape == (32, 28, 28) and warped.min() >= 0 and warped.max() <= 1
        assert not torch.allclose(warped, still, atol=0.1)
        assert not torch.allclose(warped, affine, atol=0.1)
        ink_after = (warped > 0.5).float()  # still the same digit: ink within 3 px of before
        assert (ink_after * (1 - near)).sum() < 0.02 * ink_after.sum()
    plain = A.jittered(native, T.PixelTrainConfig(), torch.Generator())
    assert torch.allclose(plain, still, atol=1e-5)  # no augmentation asked: unchanged


def test_elastic_warp_keeps_its_share_of_the_digit_at_any_size(monkeypatch):
    fields = []
    real = A.elastic_field

    def spy(b, s, alpha, sigma, gen):
        fields.append(real(b, s, alpha, sigma, gen) * s / 2)  # in pixels
        return fields[-1] * 2 / s

    monkeypatch.setattr(A, "elastic_field", spy)
    share = {}
    for size in (8, 16, 28):
        native = torch.zeros(256, size, size, dtype=torch.uint8)
        A.jittered(native, T.PixelTrainConfig(augment_elastic=20), torch.Generator())
        share[size] = float(fields[-1].std()) / size  # RMS displacement / image side
    assert 0.024 < share[28] < 0.029  # 0.73 px of 28
    assert abs(share[8] - share[28]) < 0.1 * share[28] > abs(share[16] - share[28])


def test_elastic_augmented_training_warps_every_batch(monkeypatch):
    data = load_images("digits-8x8", size=8, levels=4)
    model = tiny()
    before = T.evaluate_bits(model, data.test)
    calls = []
    real = A.elastic_field

    def spy(b, s, alpha, sigma, gen):
        calls.append((b, s, alpha))
        return real(b, s, alpha, sigma, gen)

    monkeypatch.setattr(A, "elastic_field", spy)
    tcfg = T.PixelTrainConfig(epochs=2, batch_size=64, lr=3e-3, augment_elastic=28)
    metrics = T.train(model, data, tcfg)
    assert metrics["test_bits_per_dim"] < before - 0.2
    assert len(calls) == 2 * math.ceil(len(data.train) / 64)  # every step of both epochs
    assert calls[0] == (64, 8, pytest.approx(28 * (8 / 28) ** 2))
    assert T.make_card(model, data, tcfg, metrics)["training"]["augment_elastic"] == 28


def test_weight_average_is_the_warmed_up_ema_of_the_raw_steps(digits):
    """Recompute the average by hand from the raw weights after every step."""
    model = tiny()
    params = list(model.parameters())
    average = [p.detach().clone() for p in params]
    decay = 0.9

    def on_step(s):  # the raw weights the optimiser just produced; s.step counts from 1
        nonlocal average
        d = min(decay, s.step / (9 + s.step))
        average = [d * a + (1 - d) * p.detach() for a, p in zip(average, params, strict=True)]

    epoch_weights = []

    def on_epoch(_epoch, _bits):  # what a checkpoint would store
        epoch_weights.append([p.detach().clone() for p in params])

    tcfg = T.PixelTrainConfig(epochs=2, batch_size=64, lr=3e-3, ema=decay)
    metrics = T.train(model, digits, tcfg, on_step=on_step, on_epoch=on_epoch)
    for p, a, e in zip(params, average, epoch_weights[-1], strict=True):
        torch.testing.assert_close(p.detach(), a, rtol=0, atol=1e-6)
        torch.testing.assert_close(e, a, rtol=0, atol=1e-6)
    assert metrics["test_bits_per_dim"] == pytest.approx(T.evaluate_bits(model, digits.test))
    raw = tiny()  # the same run without the average ends on different weights
    T.train(raw, digits, T.PixelTrainConfig(epochs=2, batch_size=64, lr=3e-3))
    assert (raw.out.weight - model.out.weight).abs().max() > 1e-3
    assert T.make_card(model, digits, tcfg, metrics)["training"]["ema"] == decay


def test_block_dropout_acts_only_in_train_mode_inside_its_context(digits):
    model = tiny()
    x = digits.train[:16].long()
    model.eval()
    ref = model(x)
    with T.block_dropout(model, 0.5):
        assert torch.equal(model(x), ref)  # eval mode: the identity
        model.train()
        assert not torch.equal(model(x), model(x))  # train mode: features are dropped
    assert torch.equal(model(x), model(x))  # context left: deterministic again
    assert all(not m._forward_pre_hooks for m in model.modules())
    model.eval()
    assert torch.equal(model(x), ref)


def test_dropout_training_learns_changes_the_result_and_card_says_so(digits):
    def run(p):
        model = tiny()
        tcfg = T.PixelTrainConfig(epochs=2, batch_size=64, lr=3e-3, dropout=p)
        return model, tcfg, T.train(model, digits, tcfg)

    before = T.evaluate_bits(tiny(), digits.test)
    plain, _, _ = run(0.0)
    model, tcfg, metrics = run(0.3)
    assert metrics["test_bits_per_dim"] < before - 0.2
    assert T.make_card(model, digits, tcfg, metrics)["training"]["dropout"] == 0.3
    assert not torch.equal(model.out.weight, plain.out.weight)
    assert all(not m._forward_pre_hooks for m in model.modules())
    # the test NLL it reports was measured without dropout: it is the model's own
    assert metrics["test_bits_per_dim"] == pytest.approx(T.evaluate_bits(model, digits.test))


def test_dropout_with_ema_reports_the_average_and_hooks_go_even_on_error(digits):
    model = tiny()
    tcfg = T.PixelTrainConfig(epochs=1, batch_size=64, lr=3e-3, dropout=0.3, ema=0.9)
    metrics = T.train(model, digits, tcfg)
    assert metrics["test_bits_per_dim"] == pytest.approx(T.evaluate_bits(model, digits.test))

    def fail(step):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        T.train(model, digits, tcfg, on_step=fail)
    assert all(not m._forward_pre_hooks for m in model.modules())


def test_dropout_is_refused_out_of_range_and_for_gated_models(digits):
    with pytest.raises(ValueError, match="dropout must be in"):
        T.train(tiny(), digits, T.PixelTrainConfig(epochs=1, dropout=1.0))
    with pytest.raises(ValueError, match="residual blocks"):
        T.train(tiny("gated"), digits, T.PixelTrainConfig(epochs=1, dropout=0.1))


def test_weight_average_refuses_a_bad_decay():
    with pytest.raises(ValueError, match="between 0 and 1"):
        T.WeightAverage(tiny(), 1.0)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--augment-shift", "-1"], "0 or more"),
        (["--augment-elastic", "-2"], "elastic must be 0 or more"),
        (["--ema", "1.5"], "decay in"),
        (["--dropout", "-0.1"], "dropout must be in"),
        (["--model", "gated", "--dropout", "0.1"], "residual blocks"),
        (["--device", "cuda"], "no CUDA GPU"),
    ],
)
def test_cli_refuses_bad_augmentation_and_missing_gpu(tmp_path, extra, message):
    if "cuda" in extra and torch.cuda.is_available():
        pytest.skip("this machine has a GPU, so --device cuda is valid here")
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    common = ["--dataset", "digits-8x8", "--size", "8", "--epochs", "1"]
    args = parser.parse_args([*common, *extra, "--out", str(tmp_path / "m")])
    with pytest.raises(ValueError, match=message):
        cli.main(args)
    assert not (tmp_path / "m.safetensors").exists()
