"""Train-page runs: caps, and real (tiny) sequence and PixelCNN tasks in a job."""

from __future__ import annotations

import numpy as np
import pytest

from autoreg import lab
from autoreg.checkpoints import checkpoint_bytes
from autoreg.jobs import JobSlots, TrainingJob
from autoreg.pretrained import load_model_bytes
from autoreg.seq import corpora

TINY_SEQ = lab.SequenceSpec(cell="gru", hidden_size=32, embed_size=8, epochs=2, bptt=16,
                            batch_size=8)  # fmt: skip


def test_sequence_caps():
    text = corpora.brackets_task(3000)
    with pytest.raises(ValueError, match="parameters"):
        lab.check_sequence(lab.SequenceSpec(hidden_size=1024, num_layers=3), text)
    with pytest.raises(ValueError, match="epochs"):
        lab.check_sequence(lab.SequenceSpec(epochs=lab.MAX_EPOCHS + 1), text)
    with pytest.raises(ValueError, match="too short"):
        lab.check_sequence(lab.SequenceSpec(), "ab" * 100)
    long_text = "ab\n" * lab.MAX_TRAIN_CHARS
    assert len(lab.check_sequence(lab.SequenceSpec(), long_text)) == lab.MAX_TRAIN_CHARS


def test_pixel_caps():
    with pytest.raises(ValueError, match="parameters"):
        lab.check_pixel(lab.PixelSpec(channels=256, n_blocks=12))
    assert 0 < lab.check_pixel(lab.PixelSpec()) <= lab.MAX_PIXEL_PARAMS


def test_caps_text_names_every_cap():
    text = lab.caps_text()
    for part in ("5 minutes", "2M parameters", "500k", "300,000", "5 MB", "At most 2 runs"):
        assert part in text


def test_sequence_task_trains_and_its_checkpoint_opens():
    text = corpora.brackets_task(600)
    job = TrainingJob(lab.sequence_task(TINY_SEQ, text, "brackets"), "t", slots=JobSlots(1),
                      sample_every=0.5).start()  # fmt: skip
    assert job.join(120), job.error
    assert job.state == "done", job.error
    train, val = job.history()
    assert len(val) == 2 and train[-1][0] == job.progress().total_steps
    assert val[-1][1] < val[0][1] + 0.05  # the second epoch is no worse
    assert val[-1][1] < np.log2(4)  # beats uniform over {a, b, \n, <unk>}
    samples = job.latest_samples()
    assert samples and all(isinstance(s.value, str) and s.value for s in samples)
    assert set("".join(s.value for s in samples)) <= set("ab\n")
    card = job.result.card
    assert card["kind"] == "sequence" and card["config"]["cell"] == "gru"
    assert card["corpus"]["name"] == "brackets" and card["trained_in"] == "browser"
    model = load_model_bytes(checkpoint_bytes(job.result.model.state_dict(), card))
    assert model.tokenizer.decode(model.encode("aabb\n")) == "aabb\n"


def test_pixel_task_trains_on_digits_and_samples_images():
    spec = lab.PixelSpec(dataset="digits-8x8", size=8, levels=4, channels=16, n_blocks=1,
                         epochs=2, batch_size=128)  # fmt: skip
    job = TrainingJob(lab.pixel_task(spec), "p", slots=JobSlots(1), sample_every=0.2).start()
    assert job.join(120), job.error
    assert job.state == "done", job.error
    _, val = job.history()
    assert len(val) == 2 and val[-1][1] < 2.0  # 2 bits/pixel = uniform over 4 levels
    grid = job.latest_samples()[-1].value
    assert grid.shape == (8, 8, 8) and grid.dtype == np.uint8 and grid.max() < 4
    card = job.result.card
    assert card["kind"] == "pixelcnn" and card["dataset"]["name"] == "digits-8x8"
    model = load_model_bytes(checkpoint_bytes(job.result.model.state_dict(), card))
    assert model.config.levels == 4


def test_sample_text_is_reproducible_and_restores_train_mode():
    from autoreg.seq.model import SequenceConfig, SequenceModel
    from autoreg.seq.tokenizers import CharTokenizer

    tok = CharTokenizer.fit("hello world\n")
    model = SequenceModel(SequenceConfig(vocab_size=tok.vocab_size, hidden_size=8), tok).train()
    a = lab.sample_text(model, length=30, seed=3)
    assert a == lab.sample_text(model, length=30, seed=3)
    assert len(a) == 30 and model.training


def test_run_labels_are_distinct():
    assert lab.run_label(lab.SequenceSpec(), "python-docs", 1) == "lstm-char-python-docs #1"
    assert lab.run_label(lab.PixelSpec(), "", 2) == "pixelcnn-mnist-5k-16px-4levels #2"
    jittered = lab.PixelSpec(jitter=True)
    assert lab.run_label(jittered, "", 3) == "pixelcnn-mnist-5k-16px-4levels-jitter #3"
