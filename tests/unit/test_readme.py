"""The README stays true: it opens with the two commands and lists every registered page."""

from __future__ import annotations

from autoreg.registry import pages_markdown
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_readme_opens_with_the_two_commands():
    head = README[:400]
    assert "make run" in head and "make test" in head
    assert head.index("make run") < head.index("make test")


def test_readme_page_table_matches_the_registry():
    start = README.index("<!-- pages:start -->") + len("<!-- pages:start -->")
    end = README.index("<!-- pages:end -->")
    assert README[start:end].strip() == pages_markdown(), (
        "README page table is stale; paste autoreg.registry.pages_markdown() into it"
    )


def test_readme_images_exist():
    import re

    for path in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README):
        assert (ROOT / path).is_file(), path


def test_readme_sequence_model_table_matches_the_cards():
    from autoreg.cards import markdown_table

    start = README.index("<!-- sequence-models:start -->") + len("<!-- sequence-models:start -->")
    end = README.index("<!-- sequence-models:end -->")
    assert README[start:end].strip() == markdown_table().strip(), (
        "README model table is stale; paste `python -m autoreg.cards` into it"
    )


def test_readme_pixelcnn_table_matches_the_cards():
    from autoreg.cards import pixel_markdown_table

    start = README.index("<!-- pixel-models:start -->") + len("<!-- pixel-models:start -->")
    end = README.index("<!-- pixel-models:end -->")
    assert README[start:end].strip() == pixel_markdown_table().strip(), (
        "README PixelCNN table is stale; paste `python -m autoreg.cards` into it"
    )
