"""Bad input, swept with hypothesis: every path a user can feed gives a clear ValueError.

Uploaded text goes through ``corpora.text_from_bytes`` (then a tokenizer), uploaded
checkpoints through ``pretrained.load_model_bytes`` (never unpickled), drawn images
through ``pixelcnn.generation.drawn_start`` and the sampler's start path. Accepted input
must come back intact; refused input must raise ``ValueError`` with a message, never
another exception. Example counts stay modest: 2 shared cores.
"""

from __future__ import annotations

import functools
import io
import json
import pickle
import unicodedata

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from autoreg.checkpoints import checkpoint_bytes
from autoreg.pixelcnn.generation import GenerationRun, drawn_start
from autoreg.pixelcnn.sampling import sample_images
from autoreg.pretrained import ASSETS, list_pretrained, load_model_bytes, load_pretrained
from autoreg.seq.corpora import MAX_USER_BYTES, MIN_USER_CHARS, text_from_bytes
from autoreg.seq.tokenizers import CharTokenizer

FEW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Every Unicode general category; Cs (lone surrogates) cannot be written as UTF-8 at all.
CATEGORIES = sorted({unicodedata.category(chr(i)) for i in range(0x110000)} - {"Cs"})


# --- uploaded text -------------------------------------------------------------------


def _accepted(data: bytes) -> str | None:
    """The decoded text, or None after checking the refusal is a ValueError with a message."""
    try:
        return text_from_bytes(data)
    except ValueError as exc:
        assert str(exc).strip(), "a refusal must say why"
        return None


@FEW
@given(st.binary(max_size=4096))
def test_random_bytes_are_decoded_exactly_or_refused(data):
    text = _accepted(data)
    if text is not None:
        assert text == data.decode("utf-8-sig").replace("\r\n", "\n")
        assert len(text.strip()) >= MIN_USER_CHARS


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b" \n\t" * 100, "characters"),
        (b"short text", "at least"),
        (b"a" * 200 + b"\x00" + b"b" * 200, "binary"),
        ("caf\xe9 au lait ".encode("latin-1") * 20, "UTF-8"),
        ("\ud800".encode("utf-8", "surrogatepass") * 60, "UTF-8"),
        (b"\xff\xfe" + "text in UTF-16 ".encode("utf-16-le") * 20, "binary"),
    ],
)
def test_unusable_text_gets_a_message_that_names_the_problem(data, words):
    with pytest.raises(ValueError, match=words):
        text_from_bytes(data)


def test_huge_upload_is_refused_by_size():
    with pytest.raises(ValueError, match="MB"):
        text_from_bytes(b"a" * (MAX_USER_BYTES + 1))


@FEW
@given(category=st.sampled_from(CATEGORIES), data=st.data())
def test_text_of_every_unicode_category_round_trips(category, data):
    chars = data.draw(st.text(st.characters(categories=[category]), min_size=1, max_size=40))
    text = "a" * 60 + chars + "b" * 60
    out = _accepted(text.encode("utf-8"))
    if "\x00" in chars:  # NUL marks binary files: refused, and said so
        assert out is None
        return
    assert out == text.replace("\r\n", "\n")
    tok = CharTokenizer.fit(out)
    assert tok.decode(tok.encode(out)) == out  # the trainer reads back what was uploaded


# --- checkpoint uploads ----------------------------------------------------------------


def _asset(kind: str) -> str:
    names = list_pretrained(kind)
    if not names:
        pytest.skip(f"no shipped {kind} model yet")
    return min(names, key=lambda n: (ASSETS / f"{n}.safetensors").stat().st_size)


@functools.cache
def _upload(kind: str) -> bytes:
    """A valid upload: the smallest shipped model of ``kind``, re-saved as one file."""
    name = _asset(kind)
    card = json.loads((ASSETS / f"{name}.json").read_text())
    return checkpoint_bytes(load_pretrained(name).state_dict(), card)


@pytest.fixture(scope="module")
def seq_bytes() -> bytes:
    return _upload("sequence")


@pytest.fixture(scope="module")
def pix_bytes() -> bytes:
    return _upload("pixelcnn")


def test_a_valid_upload_loads(seq_bytes, pix_bytes):
    assert isinstance(load_model_bytes(seq_bytes), torch.nn.Module)
    assert isinstance(load_model_bytes(pix_bytes), torch.nn.Module)


@FEW
@given(st.binary(max_size=2048))
def test_random_bytes_are_refused(data):
    with pytest.raises(ValueError):
        load_model_bytes(data)


@FEW
@given(kind=st.sampled_from(["sequence", "pixelcnn"]), fraction=st.floats(0, 1, exclude_max=True))
def test_truncated_checkpoints_are_refused(kind, fraction):
    data = _upload(kind)
    with pytest.raises(ValueError):
        load_model_bytes(data[: int(len(data) * fraction)])


class _Trap:
    """Unpickling this sets a flag: loading a pickle must never get that far."""

    fired = False

    def __reduce__(self):
        return (_fire, ())


def _fire():
    _Trap.fired = True
    return {}


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_pickles_are_refused_without_unpickling(protocol):
    data = pickle.dumps({"weight": _Trap()}, protocol=protocol)
    with pytest.raises(ValueError):
        load_model_bytes(data)
    assert not _Trap.fired


def test_torch_save_archives_are_refused_by_name(seq_bytes):
    buf = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, buf)
    with pytest.raises(ValueError, match="pickle"):
        load_model_bytes(buf.getvalue())


def test_a_valid_file_of_the_wrong_kind_is_refused(seq_bytes, pix_bytes):
    from safetensors.torch import load as st_load
    from safetensors.torch import save as st_save

    seq_card = json.loads(_card(seq_bytes))
    pix_card = json.loads(_card(pix_bytes))
    swapped = [
        st_save(st_load(seq_bytes), metadata={"card": json.dumps(pix_card)}),
        st_save(st_load(pix_bytes), metadata={"card": json.dumps(seq_card)}),
        st_save(st_load(seq_bytes)),  # plain safetensors, no card
        st_save(st_load(seq_bytes), metadata={"card": json.dumps({**seq_card, "kind": "gpt"})}),
        st_save(st_load(seq_bytes), metadata={"card": json.dumps({**seq_card, "format": "x"})}),
        st_save(st_load(seq_bytes), metadata={"card": "not json"}),
    ]
    for data in swapped:
        with pytest.raises(ValueError):
            load_model_bytes(data)


def _card(data: bytes) -> str:
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + n])["__metadata__"]["card"]


VALUES = st.one_of(
    st.integers(-3, 70), st.floats(allow_nan=True), st.text(max_size=5), st.none(),
    st.booleans(), st.lists(st.integers(0, 3), max_size=2),
)  # fmt: skip


@FEW
@given(data=st.data())
def test_cards_with_odd_configs_are_refused(data):
    """Any config the weights do not fit is a ValueError, whatever the value's type."""
    from safetensors.torch import load as st_load
    from safetensors.torch import save as st_save

    base = _upload(data.draw(st.sampled_from(["sequence", "pixelcnn"])))
    card = json.loads(_card(base))
    field = data.draw(st.sampled_from(sorted(card["config"])))
    card["config"][field] = data.draw(VALUES)
    upload = st_save(st_load(base), metadata={"card": json.dumps(card)})
    try:
        model = load_model_bytes(upload)
    except ValueError as exc:
        assert str(exc)
    else:  # only a change the weights cannot see (dropout, a flag) may load
        assert isinstance(model, torch.nn.Module)


@pytest.mark.parametrize("field", ["hidden_size", "vocab_size"])
def test_a_card_asking_for_a_gigantic_model_is_refused(seq_bytes, field):
    """A tiny file must not make the server allocate terabytes: clear ValueError."""
    from safetensors.torch import load as st_load
    from safetensors.torch import save as st_save

    card = json.loads(_card(seq_bytes))
    card["config"][field] = 2**30
    with pytest.raises(ValueError):
        load_model_bytes(st_save(st_load(seq_bytes), metadata={"card": json.dumps(card)}))


# --- drawn images into the pixel sampler ---------------------------------------------


@pytest.fixture(scope="module")
def pixel_model():
    return load_pretrained(_asset("pixelcnn"))


def test_an_empty_drawing_starts_a_blank_generation(pixel_model):
    cfg = pixel_model.config
    for keep in ("rows", "ink"):
        start = drawn_start(np.zeros((cfg.image_size, cfg.image_size)), cfg.levels, keep)
        assert not start.known.any()
        out = sample_images(pixel_model, n=1, start=(start.image, start.known), seed=0)
        assert out.shape == (1, cfg.image_size, cfg.image_size)


def test_a_full_drawing_leaves_nothing_to_generate(pixel_model):
    cfg = pixel_model.config
    start = drawn_start(np.ones((cfg.image_size, cfg.image_size)), cfg.levels)
    assert start.known.all()
    run = GenerationRun(pixel_model, 2, start, seed=0)
    assert run.total == 0
    out = sample_images(pixel_model, n=2, start=(start.image, start.known), seed=0)
    assert (out == cfg.levels - 1).all()


@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_any_drawing_keeps_its_given_pixels(pixel_model, data):
    cfg = pixel_model.config
    size = cfg.image_size
    pixels = data.draw(arrays(np.float32, (size, size), elements=st.floats(0, 1, width=32)))
    keep = data.draw(st.sampled_from(["rows", "ink"]))
    start = drawn_start(pixels, cfg.levels, keep)
    out = sample_images(pixel_model, n=1, start=(start.image, start.known), seed=1)[0]
    assert torch.equal(out[start.known], start.image[start.known])
    assert int(out.min()) >= 0 and int(out.max()) < cfg.levels


@pytest.mark.parametrize("shape", [(3, 5), (8,), (2, 8, 8), (0, 0)])
def test_drawings_of_the_wrong_shape_are_refused(pixel_model, shape):
    with pytest.raises(ValueError):
        drawn_start(np.zeros(shape), pixel_model.config.levels)


def test_a_drawing_of_another_size_is_refused_by_the_sampler(pixel_model):
    size = pixel_model.config.image_size + 2
    start = drawn_start(np.zeros((size, size)), pixel_model.config.levels)
    with pytest.raises(ValueError, match=r"\d+x\d+"):
        sample_images(pixel_model, n=1, start=(start.image, start.known))


def test_a_drawing_with_nan_or_inf_is_refused(pixel_model):
    cfg = pixel_model.config
    pixels = np.zeros((cfg.image_size, cfg.image_size), np.float32)
    pixels[0, :3] = [np.nan, np.inf, -np.inf]
    with pytest.raises(ValueError, match="finite"):
        drawn_start(pixels, cfg.levels)
