"""A blind reading test: does a person read a model's samples as digits?

The Fréchet distance (``judge.py``) compares samples with real digits through a
classifier's features; it does not ask whether someone can name the digit. Here the
question is asked directly and without bias. :func:`reading_sheet` shuffles images from
several sources (real test digits, samples of each model) into one labelled grid and
keeps the key apart. A reader who sees only the picture names each cell's digit or
writes ``X``; :func:`score_reading` then counts, per source, the cells read as a digit.
Real digits in the same sheet show how strict the reader was.

``python -m autoreg.pixelcnn.reading sheet --models pixelcnn-mnist16 gated-mnist16
--out runs/reading`` writes ``sheet.png``, ``brief.txt`` and ``key.json``. Give a reader
the PNG and the brief only and collect ``{"A0": "7", "A1": "X", ...}`` as JSON; then
``python -m autoreg.pixelcnn.reading score runs/reading/key.json answers.json ...``.
``... reading grids --out runs/grids`` asks about the README's own sample grids, judged
whole, shuffled among real and baseline grids (:func:`readme_grids`, ``GRID_BRIEF``);
``--set digits8`` reads the 8×8 model's grid apart; ``... reading score-grids FOLDER``
tallies the verdicts (:func:`grid_panel`) and :func:`panel_table` writes the README's table.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from autoreg.images import load_images
from autoreg.pixelcnn.sampling import sample_images
from autoreg.pretrained import ASSETS, load_pretrained, pretrained_card

if TYPE_CHECKING:
    from PIL import Image

VERDICTS = ("yes", "no")
ANSWERS = set("0123456789X")  # a digit, or X: not a digit a reader would name at once
COLS = 10
ROWS = string.ascii_uppercase
READER_BRIEF = """\
This is a legibility test of small handwritten-digit images. The picture is a grid of
cells: rows are labelled with letters on the left, columns with digits 0-9 on top. Each
cell holds one small image (white ink on black).

For every cell, write what you read: a single digit 0-9 if the cell shows a handwritten
digit that a typical person would read the same way without hesitation, or X if it is
not a recognisable digit (a scribble, a broken fragment, a blob, or something you could
only guess at). Be strict: if you hesitate between two readings or have to squint to see
a digit, write X. Look at each cell on its own.

Answer as JSON: an object that maps every cell name to its answer, {"A0": "7", "A1": "X",
...}.
"""  # what each reader is told, word for word, besides where the picture is


_GRID_BRIEF = """\
{count} pictures: grid1.png ... grid{n}.png. Each is one grid of 16 small images (white on
black), shown as 2 rows of 8. Look only at these {lower} PNG files: do not open or search
any other file or folder.

For each grid, give:
1. count: how many of its 16 cells show a handwritten digit that you would name at once,
   without hesitating between two readings (0-16).
2. verdict: "yes" or "no" to the statement "this grid shows recognisable handwritten
   digits". Judge it as a person would who is shown the grid and asked what it shows.
3. reason: one short sentence.

Judge each grid on its own. Answer as JSON only:
{{"grid1": {{"count": 11, "verdict": "yes", "reason": "..."}}, ..., "grid{n}": {{...}}}}
"""


def grid_brief(n: int) -> str:
    """What each reader of ``n`` grids is told, word for word, besides where they are.

    The read sets have 3 and 8 grids, spelled out as in the briefs readers saw; any other
    ``n`` is written in figures.
    """
    words = {3: "Three", 8: "Eight"}
    count = words.get(n, str(n))
    return _GRID_BRIEF.format(count=count, lower=count.lower(), n=n)


GRID_BRIEF = grid_brief(8)  # the grid-level test: the README's MNIST grids, judged whole


@dataclass(frozen=True)
class GridSetting:
    """One data setting of a read grid set: the models' README grids and their anchors.

    The anchors are 16 real test digits (``real-<tag>``) and 16 samples of the per-pixel
    baseline (``baseline-<tag>``) of ``dataset`` at ``size`` and ``levels``.
    """

    dataset: str
    size: int
    levels: int
    tag: str
    models: tuple[str, ...]

    def sources(self) -> list[str]:
        """The README table's rows for this setting: real, the models, baseline."""
        return [f"real-{self.tag}", *self.models, f"baseline-{self.tag}"]


# Which README grids are read together. The 8×8 grids would stand out among the others.
GRID_SETS: dict[str, tuple[GridSetting, ...]] = {
    "mnist": (
        GridSetting("mnist-5k", 16, 4, "mnist16", ("pixelcnn-mnist16", "gated-mnist16")),
        GridSetting(
            "mnist-5k", 28, 2, "mnist28-binary", ("pixelcnn-mnist28-binary", "gated-mnist28-binary")
        ),
    ),
    "digits8": (GridSetting("digits-8x8", 8, 4, "digits8", ("pixelcnn-digits8",)),),
}
README_GRID_MODELS = [m for setting in GRID_SETS["mnist"] for m in setting.models]


def grid_settings(grid_set: str) -> tuple[GridSetting, ...]:
    """``GRID_SETS[grid_set]``, with a clear error for an unknown name."""
    if grid_set not in GRID_SETS:
        raise ValueError(f"unknown grid set {grid_set!r}; choose from {sorted(GRID_SETS)}")
    return GRID_SETS[grid_set]


@dataclass
class ReadingSheet:
    """Images to read, in the shuffled order of the grid, with the hidden key."""

    images: torch.Tensor  # (N, H, W) integer levels
    levels: int
    cells: list[str]  # "A0", "A1", ...: row letter, column digit
    sources: list[str]  # the key: where each cell's image came from

    def key(self) -> dict[str, str]:
        """Cell name -> source, what :func:`score_reading` needs (keep it from the reader)."""
        return dict(zip(self.cells, self.sources, strict=True))

    def picture(self):
        """The grid as a PIL image with row letters and column digits in the margin."""
        from PIL import Image, ImageDraw

        from autoreg.pixelcnn.gallery import grid

        size = self.images.shape[-1]
        cell = size * max(1, round(64 / size))  # whole screen pixels per image pixel
        pad, margin = 6, 30
        body = grid(self.images, self.levels, cols=COLS, cell=cell, pad=pad)
        page = Image.new("L", (body.width + margin, body.height + margin), 255)
        page.paste(body, (margin, margin))
        draw = ImageDraw.Draw(page)
        step = cell + pad
        for c in range(COLS):
            draw.text((margin + pad + c * step + cell // 2 - 3, 10), str(c), fill=0)
        for r in range(len(self.images) // COLS):
            draw.text((10, margin + pad + r * step + cell // 2 - 5), ROWS[r], fill=0)
        return page.resize((page.width * 3 // 2, page.height * 3 // 2), Image.NEAREST)


def reading_sheet(sources: dict[str, torch.Tensor], levels: int, seed: int = 0) -> ReadingSheet:
    """Shuffle every source's images into one sheet; the key records which is which."""
    labelled = [(name, img) for name, imgs in sources.items() for img in imgs]
    if not labelled or len(labelled) % COLS or len(labelled) > COLS * len(ROWS):
        raise ValueError(
            f"A sheet holds whole rows of {COLS}, at most {len(ROWS)} rows; got {len(labelled)}."
        )
    order = torch.randperm(len(labelled), generator=torch.Generator().manual_seed(seed))
    labelled = [labelled[i] for i in order.tolist()]
    cells = [f"{ROWS[i // COLS]}{i % COLS}" for i in range(len(labelled))]
    images = torch.stack([img for _, img in labelled])
    return ReadingSheet(images, levels, cells, [name for name, _ in labelled])


def score_reading(key: dict[str, str], answers: dict[str, str]) -> dict[str, dict]:
    """Per source: cells shown, cells read as a digit, and that share."""
    if not isinstance(answers, dict):
        raise ValueError('Answers must be a JSON object of cell -> answer: {"A0": "7", ...}.')
    missing = sorted(set(key) - set(answers), key=_cell_order)
    extra = sorted(set(answers) - set(key))
    bad = sorted(c for c, a in answers.items() if str(a).strip().upper() not in ANSWERS)
    if missing or extra or bad:
        raise ValueError(
            "Answers must name every cell of the sheet once, each as a digit 0-9 or X: "
            f"missing {missing[:5]}, unknown {extra[:5]}, not a digit or X {bad[:5]}."
        )
    result: dict[str, dict] = {}
    for cell, source in key.items():
        r = result.setdefault(source, {"shown": 0, "read": 0})
        r["shown"] += 1
        r["read"] += str(answers[cell]).strip().upper() != "X"
    for r in result.values():
        r["share"] = round(r["read"] / r["shown"], 3)
    return result


def grid_panel(key: dict[str, str], readers: list[dict]) -> dict[str, dict]:
    """Per source: every reader's count and verdict, the yes votes, and the majority.

    Why a majority: two readers split on one grid, and one vote each way decides
    nothing; the rule (``assets/reading/readme-grids/PLAN.md``) was fixed before more
    readers answered. ``met`` is a strict majority of yes; a tie is not met.
    """
    if not readers:
        raise ValueError("no answers: a panel needs at least one reader")
    if len(set(key.values())) != len(key):
        raise ValueError(f"the key names a source twice: {sorted(key.values())}")
    for answers in readers:
        if set(answers) != set(key):
            missing, unknown = sorted(set(key) - set(answers)), sorted(set(answers) - set(key))
            raise ValueError(f"answers must cover every grid: missing {missing}, unknown {unknown}")
        for grid, a in answers.items():
            count = a.get("count") if isinstance(a, dict) else None
            if type(count) is not int or not 0 <= count <= 16 or a.get("verdict") not in VERDICTS:
                raise ValueError(f"{grid}: need a count 0-16 and a verdict 'yes' or 'no', got {a}")
    panel = {}
    for grid, source in key.items():
        votes = [a[grid]["verdict"] for a in readers]
        yes = votes.count("yes")
        panel[source] = {
            "counts": [a[grid]["count"] for a in readers],
            "verdicts": votes,
            "yes": yes,
            "met": 2 * yes > len(readers),
        }
    return panel


def read_panel(folder: Path) -> tuple[dict[str, str], list[str], list[dict]]:
    """A read grid set's ``key.json`` and its ``reader-<letter>.json`` answers.

    Returns the key, the readers' letters (upper case) and their answers, in letter order.
    """
    key = json.loads((folder / "key.json").read_text())
    paths = sorted(folder.glob("reader-*.json"))
    letters = [p.stem.removeprefix("reader-").upper() for p in paths]
    return key, letters, [json.loads(p.read_text()) for p in paths]


def panel_table(folder: Path, grid_set: str) -> str:
    """The README's Markdown table of a read grid set: a row per grid, a column per reader.

    Rows run per data setting (:meth:`GridSetting.sources`); the key must name exactly
    those grids, so a table cannot leave one out.
    """
    key, letters, readers = read_panel(folder)
    panel = grid_panel(key, readers)
    rows = [source for setting in grid_settings(grid_set) for source in setting.sources()]
    if sorted(rows) != sorted(panel):
        raise ValueError(f"{folder}: the key names {sorted(panel)}, the set {sorted(rows)}")
    lines = [
        "| grid | " + " | ".join(letters) + " | yes |",
        "|---|" + "---|" * len(letters) + "---:|",
    ]
    for source in rows:
        p = panel[source]
        cells = [f"{c}, {v}" for c, v in zip(p["counts"], p["verdicts"], strict=True)]
        lines.append(f"| `{source}` | " + " | ".join(cells) + f" | {p['yes']}/{len(letters)} |")
    return "\n".join(lines)


def _cell_order(cell: str) -> tuple[int, int]:
    return ROWS.index(cell[0]), int(cell[1:])


def models_sheet(models: list[str], n: int, n_real: int, seed: int) -> ReadingSheet:
    """Samples of shipped models (same data setting) and real test digits, shuffled."""
    cards = [pretrained_card(m) for m in models]
    settings = {
        (c["dataset"]["name"], c["config"]["image_size"], c["config"]["levels"]) for c in cards
    }
    if len(settings) != 1:
        raise ValueError(f"Put models of one data setting on a sheet; these have {settings}.")
    (dataset, size, levels) = settings.pop()
    test = load_images(dataset, size=size, levels=levels).test
    pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:n_real]
    sources = {"real": test[pick]}
    for name in models:
        sources[name] = sample_images(load_pretrained(name), n=n, seed=seed)
    return reading_sheet(sources, levels, seed=seed)


def readme_grids(
    seed: int = 3, order: int = 5, grid_set: str = "mnist"
) -> list[tuple[str, Image.Image]]:
    """The README's sample grids beside real and independent-pixel grids, shuffled.

    Why: the per-cell sheets measure samples in bulk; this asks about the very pictures
    the README shows, judged whole, with two anchors per data setting: 16 real test
    digits (what "yes" looks like) and 16 samples of the per-pixel baseline (what "no"
    looks like). ``seed`` picks the real digits, ``order`` shuffles the grids; the
    baseline is drawn with seed 0, like the README's grids. Returns ``[(source,
    picture), ...]`` in the order grid1, grid2, ... ``grid_set`` names an entry of
    ``GRID_SETS``: the four MNIST grids, or the 8×8 model's.
    """
    from PIL import Image

    from autoreg.pixelcnn.gallery import grid
    from autoreg.pixelcnn.judge import baseline_samples

    settings = grid_settings(grid_set)
    pictures: dict[str, Image.Image] = {}
    for setting in settings:
        data = load_images(setting.dataset, size=setting.size, levels=setting.levels)
        pick = torch.randperm(len(data.test), generator=torch.Generator().manual_seed(seed))
        real, baseline = data.test[pick[:16]], baseline_samples(data, 16, seed=0)
        pictures[f"real-{setting.tag}"] = grid(real, setting.levels, cols=8)
        pictures[f"baseline-{setting.tag}"] = grid(baseline, setting.levels, cols=8)
    for name in (m for setting in settings for m in setting.models):  # after every anchor
        with Image.open(ASSETS / f"{name}-samples.png") as shown:
            pictures[name] = shown.convert("L")
    names = list(pictures)
    random.Random(order).shuffle(names)
    doubled = {n: p.resize((p.width * 2, p.height * 2), Image.NEAREST) for n, p in pictures.items()}
    return [(name, doubled[name]) for name in names]  # every picture is grey ("L") already


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autoreg.pixelcnn.reading")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sheet", help="sheet.png, brief.txt for the reader; key.json kept apart")
    s.add_argument("--models", nargs="+", required=True, help="shipped models of one data set")
    s.add_argument("--n", type=int, default=40, help="samples per model")
    s.add_argument("--real", type=int, default=20, help="real test digits on the sheet")
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--out", required=True, help="folder for sheet.png and key.json")
    g = sub.add_parser("grids", help="the README's sample grids, shuffled among anchors")
    g.add_argument("--out", required=True, help="folder for grid1.png ... and key.json")
    g.add_argument("--set", default="mnist", choices=sorted(GRID_SETS), dest="grid_set")
    c = sub.add_parser("score", help="count, per source, the cells read as digits")
    c.add_argument("key")
    c.add_argument("answers", nargs="+", help="one JSON file per reader")
    v = sub.add_parser("score-grids", help="per grid: the readers' verdicts and the majority")
    v.add_argument("folder", help="holds key.json and reader-<letter>.json per reader")
    v.add_argument("--set", default="mnist", choices=sorted(GRID_SETS), dest="grid_set")
    args = parser.parse_args(argv)
    if args.command == "sheet":
        torch.set_num_threads(1)
        sheet = models_sheet(args.models, args.n, args.real, args.seed)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        sheet.picture().save(out / "sheet.png")
        (out / "brief.txt").write_text(READER_BRIEF)
        (out / "key.json").write_text(json.dumps(sheet.key()))
        print(out / "sheet.png", "for the reader;", out / "key.json", "kept apart")
        return 0
    if args.command == "grids":
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        key: dict[str, str] = {}
        for i, (source, picture) in enumerate(readme_grids(grid_set=args.grid_set), 1):
            picture.save(out / f"grid{i}.png")
            key[f"grid{i}"] = source
        (out / "brief.txt").write_text(grid_brief(len(key)))
        (out / "key.json").write_text(json.dumps(key, indent=1))
        print(out, "grid*.png and brief.txt for the reader;", out / "key.json", "kept apart")
        return 0
    if args.command == "score-grids":
        key, letters, readers = read_panel(Path(args.folder))
        panel = grid_panel(key, readers)
        models = [m for setting in grid_settings(args.grid_set) for m in setting.models]
        for setting in grid_settings(args.grid_set):
            for source in setting.sources():
                p = panel[source]
                verdict = ("met" if p["met"] else "not met") if source in models else "anchor"
                print(f"{source}\t{p['yes']}/{len(readers)} yes\t{verdict}\tcounts {p['counts']}")
        met = sum(panel[m]["met"] for m in models)
        print(f"model grids met: {met} of {len(models)} (readers {''.join(letters)})")
        return 0
    key = json.loads(Path(args.key).read_text())
    for path in args.answers:
        scores = score_reading(key, json.loads(Path(path).read_text()))
        for source, r in scores.items():
            print(f"{path}\t{source}\t{r['read']}/{r['shown']}\t{r['share']:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
