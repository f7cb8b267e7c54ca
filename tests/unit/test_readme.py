"""The README and the docs stay true, short, and free of hand-typed measurements.

Every table and every measured number in them is a marker block that ``autoreg.cards``
fills; these tests compare each block with what it generates, character for character.
"""

from __future__ import annotations

import re

import pytest

from autoreg import cards
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
DOCS = {doc: (ROOT / doc).read_text() for doc in cards.DOCUMENTS}

# Blocks each document must hold (it may hold more).
REQUIRED = {
    "README.md": {"pages", "model-count", "sequence-models", "pixel-models", "performance"},
    "docs/training.md": {
        "training-commands",
        "sequence-training",
        "pixel-training",
        "plain-vs-gated",
    },
    "docs/benchmarks.md": {"bench-record", "bench-machine"},
}


def test_readme_opens_with_the_two_commands():
    head = README[:400]
    assert "make run" in head and "make test" in head
    assert head.index("make run") < head.index("make test")


def test_the_readme_and_training_guide_are_short():
    assert len(README.splitlines()) <= 200
    assert len(DOCS["docs/training.md"].splitlines()) <= 150


@pytest.mark.parametrize("doc", cards.DOCUMENTS)
def test_every_generated_block_is_what_the_cards_give(doc):
    text = DOCS[doc]
    blocks = cards.blocks_in(text)
    assert REQUIRED[doc] <= set(blocks), f"{doc} lacks {REQUIRED[doc] - set(blocks)}"
    assert len(blocks) == text.count(":start -->"), "a start marker without its end"
    for name, content in blocks.items():
        assert content == cards.rendered(name), (
            f"{doc}: block {name!r} is stale; run `make docs` (python -m autoreg.cards)"
        )


def test_the_page_table_is_the_registry():
    from autoreg.registry import pages_markdown

    assert cards.blocks_in(README)["pages"].strip() == pages_markdown()


def test_images_and_links_exist():
    for doc, text in DOCS.items():
        base = (ROOT / doc).parent
        for target in re.findall(r"\]\(([^)#\s]+)\)", text):
            if not target.startswith(("http://", "https://")):
                assert (base / target).exists(), f"{doc}: {target}"
    for doc in ("docs/training.md", "docs/benchmarks.md"):
        assert f"]({doc})" in README, f"the README does not link {doc}"


def test_the_readme_shows_the_screenshots_the_browser_tests_refresh():
    from tests.browser.conftest import README_SHOTS

    shown = set(re.findall(r"assets/screenshots/([\w-]+)\.png", README))
    assert shown == set(README_SHOTS)


def test_no_research_log_and_no_reading_apparatus():
    for doc, text in DOCS.items():
        low = text.lower()
        for phrase in ("assets/reading", "pre-regist", "blind read", "reader", "reading sheet"):
            assert phrase not in low, f"{doc} mentions {phrase!r}"


def test_the_readme_api_block_runs():
    """Each line of the package API block runs as written, on the shipped models."""
    (block,) = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
    needed = set(re.findall(r'load_pretrained\("([\w-]+)"\)', block))
    missing = needed - set(__import__("autoreg").list_pretrained())
    assert not missing, f"the README's example loads {missing}, which do not ship"
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)  # printed tokens go to capture
    tr, m = namespace["tr"], namespace["m"]
    assert tr.hidden.shape == (len(tr.ids), m.config.num_layers, m.config.hidden_size)
    assert set(tr.preactivations) == set(tr.gates)
    assert namespace["step"].images.shape[0] == 16
