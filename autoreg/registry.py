"""The app's page registry: the one list that ``app.py``, the Home page and the tests read.

A page is registered here only once it is built (no placeholder pages). Adding a page is
one line; the navigation, the Home page links, the AppTest smoke test and the browser
screenshot test all pick it up from this list. Plain data, no Streamlit import, so tests
and benchmarks can read it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class PageSpec:
    """One page of the app.

    Args:
        path: the page file, relative to the repository root (``pages/home.py``).
        title: menu label and browser tab title.
        icon: a Material icon (``:material/name:``).
        url_path: the page's URL segment; also the screenshot name in tests.
        section: the navigation section ("Start", "Sequences", "Images", "Lab").
        blurb: one line for the Home page's link list.
    """

    path: str
    title: str
    icon: str
    url_path: str
    section: str
    blurb: str


SECTIONS = ("Start", "Sequences", "Images", "Lab")

PAGES: tuple[PageSpec, ...] = (
    PageSpec(
        "pages/home.py",
        "Home",
        ":material/home:",
        "home",
        "Start",
        "What an autoregressive model is, and where to look first.",
    ),
    PageSpec(
        "pages/step.py",
        "Step through",
        ":material/step_over:",
        "step",
        "Sequences",
        "Read a text token by token: hidden and cell states, every gate, the next-token guess.",
    ),
    PageSpec(
        "pages/units.py",
        "Units",
        ":material/tune:",
        "units",
        "Sequences",
        "What single units track (quotes, brackets, line position), gate saturation, clamping.",
    ),
    PageSpec(
        "pages/generate.py",
        "Generate text",
        ":material/edit_note:",
        "generate",
        "Sequences",
        "Logits, temperature, top-k, softmax and the draw, one token at a time, seeded.",
    ),
    PageSpec(
        "pages/memory.py",
        "Memory",
        ":material/memory:",
        "memory",
        "Sequences",
        "Why LSTM and GRU exist: vanishing gradients, long lags, gates that hold a token.",
    ),
    PageSpec(
        "pages/masks.py",
        "Masks",
        ":material/grid_on:",
        "masks",
        "Images",
        "Mask A and B, receptive fields growing layer by layer, the blind spot, raster order.",
    ),
    PageSpec(
        "pages/pixels.py",
        "Generate pixels",
        ":material/brush:",
        "pixels",
        "Images",
        "Watch a PixelCNN draw: blank, half-erased or your own drawing; entropy, GIF export.",
    ),
    PageSpec(
        "pages/train.py",
        "Train",
        ":material/model_training:",
        "train",
        "Lab",
        "Train any model on any data, your own text included; watch the loss fall live.",
    ),
)


def pages_by_section() -> dict[str, list[PageSpec]]:
    """Registered pages grouped by section, in menu order; empty sections left out."""
    grouped: dict[str, list[PageSpec]] = {}
    for section in SECTIONS:
        members = [p for p in PAGES if p.section == section]
        if members:
            grouped[section] = members
    return grouped


def page_spec(url_path: str) -> PageSpec:
    """The registered page with this URL segment."""
    for spec in PAGES:
        if spec.url_path == url_path:
            return spec
    raise ValueError(f"No page {url_path!r}; registered: {[p.url_path for p in PAGES]}.")


def pages_markdown() -> str:
    """The README's page table, generated from the registry (a test keeps them in sync)."""
    lines = ["| Section | Page | What it shows |", "|---|---|---|"]
    lines += [f"| {p.section} | {p.title} | {p.blurb} |" for p in PAGES]
    return "\n".join(lines)
