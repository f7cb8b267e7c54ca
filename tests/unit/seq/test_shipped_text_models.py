"""The shipped character models on text they never trained on, and what the pages teach
with them: the targets stated in their cards hold, the Units finder finds string and
bracket units, the Memory page's influence curves separate the RNN from the gated cells,
and the Step through presets get sensible top-5 guesses."""

from __future__ import annotations

import numpy as np
import pytest

import autoreg
from autoreg.pretrained import pretrained_card
from autoreg.seq import corpora, memory, units
from autoreg.seq.training import evaluate_text
from autoreg.ui.sequences import PRESETS

CELLS = ("rnn", "lstm", "gru")
NAMES = {c: f"{c}-char-stdlib" for c in CELLS}
# bits per character on held-out text: (stdlib test files, third-party docstrings)
TARGETS = {"lstm": (1.8, 2.6), "gru": (None, 2.7)}

pytestmark = pytest.mark.skipif(
    not set(NAMES.values()) <= set(autoreg.list_pretrained()),
    reason="the python-stdlib character models are not shipped",
)


@pytest.fixture(scope="module")
def models() -> dict:
    return {c: autoreg.load_pretrained(n) for c, n in NAMES.items()}


def test_cards_meet_the_held_out_targets() -> None:
    metrics = {c: pretrained_card(n)["metrics"] for c, n in NAMES.items()}
    for cell, (test_max, doc_max) in TARGETS.items():
        m = metrics[cell]
        if test_max is not None:
            assert m["test_bits_per_token"] <= test_max
        assert m["docstrings_bits_per_token"] <= doc_max
        assert m["docstrings_bits_per_token"] < metrics["rnn"]["docstrings_bits_per_token"]
    for m in metrics.values():  # every model well below both baselines on both texts
        for part in ("test", "docstrings"):
            assert m[f"{part}_bits_per_token"] < m[f"{part}_bigram_bits_per_token"] - 1


@pytest.mark.slow
def test_the_card_docstring_figure_is_what_the_model_scores(models) -> None:
    """The card's figure is recomputed from the shipped weights, not copied."""
    got = evaluate_text(models["lstm"], corpora.third_party_docstrings())
    card = pretrained_card(NAMES["lstm"])["metrics"]["docstrings_bits_per_token"]
    assert got == pytest.approx(card, abs=1e-3)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_units_finder_finds_string_and_bracket_units(models, cell) -> None:
    text = units.probe_text("code", 4000)
    found = units.score_units(
        autoreg.trace(models[cell], text), units.text_features(text), layer=0, top=1
    )
    assert found["in_string"][0].strength >= 0.8
    assert max(found[f][0].strength for f in ("in_brackets", "indentation")) >= 0.8


def test_memory_influence_separates_the_rnn_from_the_gated_cells(models) -> None:
    ids = models["rnn"].encode(PRESETS["Python code"])
    target, back = len(ids) - 1, 60
    far = {
        c: memory.relative_influence(memory.gradient_influence(m, ids, target))[target - back]
        for c, m in models.items()
    }
    assert far["lstm"] > 1e3 * far["rnn"] and far["gru"] > 1e3 * far["rnn"]


@pytest.mark.parametrize("preset", ["Python code", "English prose"])
def test_presets_get_sensible_top5_guesses(models, preset) -> None:
    for cell in ("lstm", "gru"):
        tr = autoreg.trace(models[cell], PRESETS[preset])
        top5 = np.argsort(-tr.probs[:-1], axis=1)[:, :5]
        hit = (top5 == np.asarray(tr.ids[1:])[:, None]).any(axis=1).mean()
        assert hit >= 0.75, (cell, preset, hit)
