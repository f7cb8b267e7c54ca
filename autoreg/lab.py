"""What the Train page can train, within caps: run specs, training tasks, uploaded text.

The page builds a :class:`SequenceSpec` or :class:`PixelSpec` from its widgets;
``sequence_task`` / ``pixel_task`` turn one into a task for ``autoreg.jobs.TrainingJob``.
The tasks reuse the library training loops of the cores
(``autoreg.seq.training.train`` and ``autoreg.pixelcnn.training.train``) and their
checkpoint-card helpers, so a model trained in the browser has the same card as one
trained by ``python -m autoreg.train``. Every model is built fresh here: the shared
pretrained models are never trained.

Caps keep one browser session from starving the others on a small CPU server; the page
states them on screen (``caps_text``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from autoreg.jobs import MAX_CONCURRENT_JOBS, MAX_SECONDS, JobContext, Trained
from autoreg.seq import corpora
from autoreg.seq.tokenizers import WordTokenizer

MAX_TRAIN_CHARS = 300_000  # longer texts are cut to their first 300k characters
MAX_SEQ_PARAMS = 2_000_000
MAX_PIXEL_PARAMS = 500_000
MAX_EPOCHS = 50
PREVIEW_CHARS = 400


def caps_text() -> str:
    """The caps in one sentence, for the page."""
    return (
        f"Caps per run: {MAX_SECONDS / 60:.0f} minutes of training, "
        f"{MAX_SEQ_PARAMS / 1e6:.0f}M parameters for sequence models and "
        f"{MAX_PIXEL_PARAMS / 1e3:.0f}k for PixelCNNs, the first {MAX_TRAIN_CHARS:,} "
        f"characters of a text, uploads up to {corpora.MAX_USER_BYTES / 2**20:.0f} MB, "
        f"{MAX_EPOCHS} epochs, one CPU thread. At most {MAX_CONCURRENT_JOBS} runs train at "
        "once on this server; a run started beyond that waits in a queue."
    )


@dataclass(frozen=True)
class SequenceSpec:
    """A sequence-model run chosen on the page."""

    cell: str = "lstm"  # rnn | lstm | gru
    tokenizer: str = "char"  # char | word
    embed_size: int = 32
    hidden_size: int = 128
    num_layers: int = 1
    epochs: int = 6
    lr: float = 3e-3
    batch_size: int = 32
    bptt: int = 64
    max_vocab: int = 5000  # word level only

    def train_config(self, corpus: str) -> Any:
        from autoreg.seq.training import TrainConfig

        return TrainConfig(
            corpus=corpus,
            tokenizer=self.tokenizer,
            max_vocab=self.max_vocab,
            cell=self.cell,
            embed_size=self.embed_size,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            batch_size=self.batch_size,
            bptt=self.bptt,
            epochs=self.epochs,
            lr=self.lr,
            min_lr=self.lr / 10,
            warmup_steps=20,
            eval_batches=20,
        )


@dataclass(frozen=True)
class PixelSpec:
    """A PixelCNN run chosen on the page."""

    kind: str = "pixelcnn"  # pixelcnn | gated
    dataset: str = "mnist-5k"
    size: int = 16
    levels: int = 4
    channels: int = 48
    n_blocks: int = 4
    epochs: int = 8
    lr: float = 3e-3
    batch_size: int = 64
    jitter: bool = False  # rotate, zoom and move each training digit a little (less overfitting)


def sequence_params(spec: SequenceSpec, vocab_size: int) -> int:
    """Parameter count of the model ``spec`` builds for a vocabulary (checked before a run)."""
    from autoreg.seq.model import SequenceConfig, SequenceModel

    cfg = SequenceConfig(
        cell=spec.cell,
        vocab_size=vocab_size,
        embed_size=spec.embed_size,
        hidden_size=spec.hidden_size,
        num_layers=spec.num_layers,
    )
    return SequenceModel(cfg).num_params()


def check_sequence(spec: SequenceSpec, text: str) -> str:
    """The text the run will use (cut to the cap); ValueError when the run breaks a cap."""
    if not 1 <= spec.epochs <= MAX_EPOCHS:
        raise ValueError(f"epochs must be in 1..{MAX_EPOCHS}, got {spec.epochs}.")
    text = text[:MAX_TRAIN_CHARS]
    vocab = vocabulary(text, spec.tokenizer, spec.max_vocab)
    n = sequence_params(spec, vocab)
    if n > MAX_SEQ_PARAMS:
        raise ValueError(
            f"This model has {n:,} parameters; the cap is {MAX_SEQ_PARAMS:,}. "
            "Choose fewer units, layers or words."
        )
    needed = spec.batch_size * (spec.bptt + 1) * 2
    if len(text) < needed * (1 if spec.tokenizer == "char" else 4):
        raise ValueError(
            f"The text is too short for {spec.batch_size} streams of {spec.bptt} tokens "
            f"(about {needed:,} tokens are needed). Upload a longer text."
        )
    return text


def check_pixel(spec: PixelSpec) -> int:
    """Parameter count of the PixelCNN ``spec`` builds; ValueError above the caps."""
    from autoreg.pixelcnn import PixelCNNConfig, build_model

    if not 1 <= spec.epochs <= MAX_EPOCHS:
        raise ValueError(f"epochs must be in 1..{MAX_EPOCHS}, got {spec.epochs}.")
    cfg = PixelCNNConfig(
        kind=spec.kind,
        image_size=spec.size,
        levels=spec.levels,
        channels=spec.channels,
        n_blocks=spec.n_blocks,
    )
    n = build_model(cfg).num_params()
    if n > MAX_PIXEL_PARAMS:
        raise ValueError(
            f"This PixelCNN has {n:,} parameters; the cap is {MAX_PIXEL_PARAMS:,}. "
            "Choose fewer channels or blocks."
        )
    return n


def vocabulary(text: str, tokenizer: str, max_vocab: int = 5000) -> int:
    """Vocabulary size (``<unk>`` included) the tokenizer would fit on ``text``."""
    if tokenizer == "char":
        return len(set(text)) + 1
    return WordTokenizer.fit(text, max_vocab=max_vocab).vocab_size


@dataclass(frozen=True)
class TextSummary:
    """What the page shows about an uploaded text before training on it."""

    text: str
    n_bytes: int
    n_chars: int
    n_chars_used: int  # after the MAX_TRAIN_CHARS cut
    n_distinct_chars: int
    n_words: int
    n_distinct_words: int
    preview: str


def inspect_upload(data: bytes, recipes: bool = False) -> TextSummary:
    """Check an uploaded file and describe it; ValueError with a clear message otherwise.

    ``recipes=True`` reads the book's recipe JSON (one ``Recipe for ... | ...`` line per
    recipe); otherwise the file must be UTF-8 text (``corpora.text_from_bytes`` refuses
    empty, binary, non-UTF-8 and over-size files).
    """
    if recipes:
        if not data:
            raise ValueError("The file is empty.")
        if len(data) > corpora.MAX_USER_BYTES:
            raise ValueError(
                f"The file is {len(data) / 2**20:.1f} MB; the limit is "
                f"{corpora.MAX_USER_BYTES / 2**20:.1f} MB."
            )
        text = "\n".join(corpora.recipes_from_json(data)) + "\n"
    else:
        text = corpora.text_from_bytes(data)
    words = WordTokenizer([]).tokenize(text)
    return TextSummary(
        text=text,
        n_bytes=len(data),
        n_chars=len(text),
        n_chars_used=min(len(text), MAX_TRAIN_CHARS),
        n_distinct_chars=len(set(text)),
        n_words=len(words),
        n_distinct_words=len(set(words)),
        preview=text[:PREVIEW_CHARS],
    )


@torch.no_grad()
def sample_text(model: Any, length: int = 200, temperature: float = 0.8, seed: int = 0) -> str:
    """A progress preview: ``length`` tokens drawn after a newline by ``autoreg.sample``
    (own generator, ``<unk>`` never drawn, the model's train/eval mode restored)."""
    from autoreg.seq.sampling import sample

    tok = model.tokenizer
    prompt = "\n" if "\n" in tok.stoi else tok.token(1 if tok.vocab_size > 1 else 0)
    steps = sample(model, prompt, length, temperature=temperature, seed=seed)
    return tok.decode([step.token_id for step in steps])


def sequence_task(spec: SequenceSpec, text: str, corpus: str):
    """A job task: train a fresh sequence model on ``text`` with the core's loop."""
    from autoreg.seq.model import checkpoint_card
    from autoreg.seq.training import card_extras, train

    text = check_sequence(spec, text)
    cfg = spec.train_config(corpus)
    sha = corpora.sha256(text)

    def task(ctx: JobContext) -> Trained:
        model_ref: list = []

        def on_step(s) -> None:
            ctx.report_step(s.step, s.total_steps, s.epoch, s.loss)
            if model_ref and ctx.sample_due():
                ctx.report_sample(sample_text(model_ref[0], seed=s.step))

        def on_epoch(e, model) -> None:
            ctx.report_val(e.val_bits)
            if not model_ref:  # the loop builds the model; keep it to sample from
                model_ref.append(model)
                ctx.report_sample(sample_text(model, seed=0))

        result = train(cfg, text, on_step=on_step, on_epoch=on_epoch, stop=ctx.stop)
        ctx.report_sample(sample_text(result.model, seed=result.metrics["steps"]))
        card = checkpoint_card(result.model, **card_extras(cfg, result, sha))
        card["trained_in"] = "browser"
        return Trained(result.model, card)

    return task


def pixel_task(spec: PixelSpec, data: Any = None):
    """A job task: train a fresh PixelCNN on ``spec.dataset`` with the core's loop."""
    from autoreg.pixelcnn import PixelCNNConfig, build_model, sample_images
    from autoreg.pixelcnn.data import load_images
    from autoreg.pixelcnn.training import PixelTrainConfig, make_card, train

    check_pixel(spec)
    cfg = PixelCNNConfig(
        kind=spec.kind,
        image_size=spec.size,
        levels=spec.levels,
        channels=spec.channels,
        n_blocks=spec.n_blocks,
    )
    tcfg = PixelTrainConfig(
        epochs=spec.epochs, batch_size=spec.batch_size, lr=spec.lr, augment_affine=spec.jitter
    )

    def draw(model, seed: int) -> np.ndarray:
        return sample_images(model, n=8, seed=seed).numpy().astype(np.uint8)

    def task(ctx: JobContext) -> Trained:
        images = data or load_images(spec.dataset, size=spec.size, levels=spec.levels)
        torch.manual_seed(tcfg.seed)
        model = build_model(cfg)

        def on_step(s) -> None:
            ctx.report_step(s.step, s.total_steps, s.epoch + 1, s.loss_bits)
            if s.test_bits is not None:
                ctx.report_val(s.test_bits)
            if ctx.sample_due():
                ctx.report_sample(draw(model, s.step))

        metrics = train(model, images, tcfg, on_step=on_step, stop=ctx.stop)
        ctx.report_sample(draw(model, metrics["steps"]))
        card = make_card(model, images, tcfg, metrics)
        card["trained_in"] = "browser"
        return Trained(model, card)

    return task


def run_label(spec: SequenceSpec | PixelSpec, source: str, n: int) -> str:
    """A short, unique name for this session's run number ``n``."""
    if isinstance(spec, SequenceSpec):
        return f"{spec.cell}-{spec.tokenizer}-{source} #{n}"
    jitter = "-jitter" if spec.jitter else ""
    return f"{spec.kind}-{spec.dataset}-{spec.size}px-{spec.levels}levels{jitter} #{n}"


def spec_dict(spec: SequenceSpec | PixelSpec) -> dict:
    return dataclasses.asdict(spec)
