"""The blind reading test: sheets hide their sources, scores count what readers named."""

import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from autoreg.pixelcnn import reading as R
from autoreg.pretrained import ASSETS


def sources():
    return {
        "real": torch.zeros(20, 8, 8, dtype=torch.long),
        "model": torch.full((30, 8, 8), 3, dtype=torch.long),
    }


def test_sheet_shuffles_every_image_in_once_and_keeps_the_key():
    sheet = R.reading_sheet(sources(), levels=4, seed=0)
    assert sheet.cells[:11] == [f"A{i}" for i in range(10)] + ["B0"]
    assert len(sheet.cells) == len(set(sheet.cells)) == 50
    assert sheet.sources.count("real") == 20 and sheet.sources.count("model") == 30
    assert sheet.sources[:20] != ["real"] * 20  # mixed, not in blocks
    for img, src in zip(sheet.images, sheet.sources, strict=True):  # the key tells the truth
        assert int(img.max()) == (0 if src == "real" else 3)
    again = R.reading_sheet(sources(), levels=4, seed=0)
    assert again.sources == sheet.sources  # seeded
    assert R.reading_sheet(sources(), levels=4, seed=1).sources != sheet.sources


def test_sheet_picture_has_a_margin_for_labels_and_whole_pixels():
    picture = R.reading_sheet(sources(), levels=4, seed=0).picture()
    # 10 columns of 64 px (8 px images at 8x) with 6 px gaps, a 30 px margin, then 1.5x
    assert picture.size == ((30 + 10 * 70 + 6) * 3 // 2, (30 + 5 * 70 + 6) * 3 // 2)


def test_sheet_refuses_part_rows():
    with pytest.raises(ValueError, match="whole rows of 10"):
        R.reading_sheet({"real": torch.zeros(7, 8, 8, dtype=torch.long)}, levels=4)


def test_score_counts_cells_read_as_digits_per_source():
    key = {"A0": "real", "A1": "real", "A2": "model", "A3": "model", "A4": "model"}
    answers = {"A0": "7", "A1": "x", "A2": "3", "A3": "X", "A4": " 0 "}
    scores = R.score_reading(key, answers)
    assert scores == {
        "real": {"shown": 2, "read": 1, "share": 0.5},
        "model": {"shown": 3, "read": 2, "share": 0.667},
    }


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"A0": "7"}, "missing \\['A1'\\]"),
        ({"A0": "7", "A1": "1", "Z9": "2"}, "unknown \\['Z9'\\]"),
        ({"A0": "seven", "A1": "1"}, "not a digit or X \\['A0'\\]"),
        (["7", "1"], "JSON object"),
    ],
)
def test_score_refuses_incomplete_or_odd_answers(answers, message):
    with pytest.raises(ValueError, match=message):
        R.score_reading({"A0": "real", "A1": "model"}, answers)


def test_cli_writes_sheet_brief_and_key_then_scores(tmp_path, capsys):
    out = tmp_path / "sheet"
    args = ["sheet", "--models", "pixelcnn-digits8", "--n", "10", "--real", "10"]
    assert R.main([*args, "--seed", "3", "--out", str(out)]) == 0
    key = json.loads((out / "key.json").read_text())
    assert sorted(key.values()) == ["pixelcnn-digits8"] * 10 + ["real"] * 10
    assert (out / "brief.txt").read_text() == R.READER_BRIEF
    assert (out / "sheet.png").stat().st_size > 0
    answers = tmp_path / "reader.json"
    answers.write_text(json.dumps({c: ("X" if s == "real" else "1") for c, s in key.items()}))
    assert R.main(["score", str(out / "key.json"), str(answers)]) == 0
    printed = capsys.readouterr().out
    assert "real\t0/10\t0%" in printed and "pixelcnn-digits8\t10/10\t100%" in printed


def test_cli_refuses_models_of_different_data():
    with pytest.raises(ValueError, match="one data setting"):
        R.models_sheet(["pixelcnn-digits8", "pixelcnn-mnist16"], n=10, n_real=10, seed=0)


@pytest.mark.parametrize(
    ("data", "models"),
    [
        ("mnist16", ["pixelcnn-mnist16", "gated-mnist16"]),
        ("mnist28-binary", ["pixelcnn-mnist28-binary", "gated-mnist28-binary"]),
    ],
)
def test_committed_readings_are_of_the_shipped_weights_and_the_readme_reports_them(data, models):
    """New weights change the samples: then this fails until the sheet is read again."""
    folder = ASSETS / "reading" / data
    key = json.loads((folder / "key.json").read_text())
    sheet = R.models_sheet(models, n=40, n_real=20, seed=7)
    assert sheet.key() == key
    with Image.open(folder / "sheet.png") as read:  # what the readers saw: today's samples
        assert np.array_equal(np.asarray(sheet.picture()), np.asarray(read))
    readers = [json.loads(p.read_text()) for p in sorted(folder.glob("reader-*.json"))]
    assert len(readers) == 2
    readme = (ASSETS.parent / "README.md").read_text()
    for source in ["real", *models]:
        scores = [R.score_reading(key, answers)[source] for answers in readers]
        row = f"| {data} | `{source}` | " + " | ".join(f"{s['read']}/{s['shown']}" for s in scores)
        assert row + " |" in readme


GRID_READINGS = [  # folder under assets/reading, grid set, README marker, the readers
    ("readme-grids", "mnist", "grids", "cdefgh"),
    ("readme-grids-digits8", "digits8", "grids-digits8", "opqrst"),
]


@pytest.mark.parametrize("folder, grid_set, marker, readers", GRID_READINGS)
def test_readme_grids_are_the_committed_pictures_and_the_readme_reports_their_reading(
    folder, grid_set, marker, readers
):
    """The grid-level test: the README's own sample grids, judged whole, beside anchors."""
    folder = ASSETS / "reading" / folder
    key = json.loads((folder / "key.json").read_text())
    grids = R.readme_grids(grid_set=grid_set)
    assert [source for source, _ in grids] == list(key.values())
    settings, models = R.GRID_SETS[grid_set]
    anchors = [f"{kind}-{tag}" for kind in ("real", "baseline") for *_, tag in settings]
    assert sorted(key.values()) == sorted([*models, *anchors])
    for i, (_, picture) in enumerate(grids, 1):  # what the readers saw: today's README grids
        with Image.open(folder / f"grid{i}.png") as read:
            assert np.array_equal(np.asarray(picture), np.asarray(read))
    seen = re.sub(r"/work/[\w-]+/", "", (folder / "brief.txt").read_text())
    assert seen.split() == R.grid_brief(len(key)).split()  # word for word, but for a folder
    paths = sorted(folder.glob("reader-*.json"))
    assert [p.stem for p in paths] == [f"reader-{r}" for r in readers]  # the panel, all of it
    panel = R.grid_panel(key, [json.loads(p.read_text()) for p in paths])
    for *_, tag in settings:  # the anchors: every reader says yes to real digits, no to noise
        assert panel[f"real-{tag}"]["yes"] == len(readers)
        assert panel[f"baseline-{tag}"]["yes"] == 0
    table = R.panel_table(folder, grid_set)
    readme = (ASSETS.parent / "README.md").read_text()
    assert f"<!-- {marker}:start -->\n{table}\n<!-- {marker}:end -->" in readme


def test_the_readme_states_the_panels_verdicts():
    """What the README concludes from the tables is what the rule gives."""
    readme = (ASSETS.parent / "README.md").read_text()
    met = {}
    for folder, grid_set, _, _ in GRID_READINGS:
        path = ASSETS / "reading" / folder
        key = json.loads((path / "key.json").read_text())
        readers = [json.loads(p.read_text()) for p in sorted(path.glob("reader-*.json"))]
        panel = R.grid_panel(key, readers)
        met |= {name: panel[name]["met"] for name in R.GRID_SETS[grid_set][1]}
    assert met == {
        "pixelcnn-mnist16": False,
        "gated-mnist16": True,
        "pixelcnn-mnist28-binary": True,
        "gated-mnist28-binary": True,
        "pixelcnn-digits8": True,
    }
    assert "Three of the four model grids are recognisable digits by the rule" in readme
    assert "By the rule, its grid now shows recognisable digits." in readme
    # the first 8x8 model, read by I-N before it was retrained: every reader said no
    first = ASSETS / "reading" / "digits8-first-model"
    key = json.loads((first / "key.json").read_text())
    readers = [json.loads(p.read_text()) for p in sorted(first.glob("reader-*.json"))]
    panel = R.grid_panel(key, readers)
    assert len(readers) == 6 and panel["pixelcnn-digits8"]["yes"] == 0
    counts = panel["pixelcnn-digits8"]["counts"]
    assert f"{min(counts)}–{max(counts)} of its 16 samples at once" in readme


def test_grid_panel_counts_a_strict_majority_and_refuses_bad_answers():
    key = {"grid1": "a", "grid2": "b"}

    def reader(v1, v2, c=5):
        return {"grid1": {"count": c, "verdict": v1}, "grid2": {"count": c, "verdict": v2}}

    panel = R.grid_panel(key, [reader("yes", "yes"), reader("yes", "no"), reader("no", "no")])
    assert (panel["a"]["yes"], panel["a"]["met"]) == (2, True)
    assert (panel["b"]["yes"], panel["b"]["met"]) == (1, False)
    tie = R.grid_panel(key, [reader("yes", "no"), reader("no", "yes")])
    assert not tie["a"]["met"] and not tie["b"]["met"]  # three and three is not a majority
    assert tie["a"]["counts"] == [5, 5] and tie["a"]["verdicts"] == ["yes", "no"]
    with pytest.raises(ValueError, match="missing"):
        R.grid_panel(key, [{"grid1": {"count": 3, "verdict": "yes"}}])
    with pytest.raises(ValueError, match="verdict"):
        R.grid_panel(key, [reader("maybe", "no")])
    with pytest.raises(ValueError, match="count"):
        R.grid_panel(key, [reader("yes", "no", c=17)])


def test_cli_writes_the_readme_grids_brief_and_key(tmp_path):
    assert R.main(["grids", "--out", str(tmp_path)]) == 0
    key = json.loads((tmp_path / "key.json").read_text())
    assert list(key) == [f"grid{i}" for i in range(1, 9)]
    assert (tmp_path / "brief.txt").read_text() == R.GRID_BRIEF
    assert all((tmp_path / f"{g}.png").stat().st_size > 0 for g in key)


def test_cli_score_grids_prints_the_panel(capsys):
    folder = ASSETS / "reading" / "readme-grids"
    readers = [str(p) for p in sorted(folder.glob("reader-*.json"))]
    assert R.main(["score-grids", str(folder / "key.json"), *readers]) == 0
    lines = dict(line.split("\t", 1) for line in capsys.readouterr().out.splitlines())
    assert lines["pixelcnn-mnist16"].startswith("3/6 yes\tnot met")
    assert lines["gated-mnist16"].startswith("5/6 yes\tmet")
