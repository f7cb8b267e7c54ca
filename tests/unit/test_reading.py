"""The blind reading test: sheets hide their sources, scores count what readers named."""

import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from autoreg.pixelcnn import reading as R
from autoreg.pretrained import ASSETS, pretrained_card


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


GRID_READINGS = [  # folder under assets/reading, grid set, README marker, readers, current
    ("readme-grids", "mnist", "grids", "CDEFGH", True),
    ("readme-grids-digits8", "digits8", "grids-digits8", "OPQRST", True),
    ("mnist16-dropout-resume/grids", "mnist", "grids-dropout-resume", "UVWXYZ", False),
    ("digits8-first-model", "digits8", "grids-digits8-first", "IJKLMN", False),
]
README = (ASSETS.parent / "README.md").read_text()


def _panel(folder: str) -> dict[str, dict]:
    key, _, readers = R.read_panel(ASSETS / "reading" / folder)
    return R.grid_panel(key, readers)


def _named(panel: dict[str, dict], *sources: str) -> str:
    """'5–7': the range of cells named at once, over every reader, for these grids."""
    counts = [c for source in sources for c in panel[source]["counts"]]
    return f"{min(counts)}–{max(counts)}"


@pytest.mark.parametrize("folder, grid_set, marker, readers, current", GRID_READINGS)
def test_readme_grids_are_the_committed_pictures_and_the_readme_reports_their_reading(
    folder, grid_set, marker, readers, current
):
    """The grid-level test: the README's own sample grids, judged whole, beside anchors."""
    path = ASSETS / "reading" / folder
    key, letters, answers = R.read_panel(path)
    assert letters == list(readers)  # the panel, all of it
    settings = R.grid_settings(grid_set)
    assert sorted(key.values()) == sorted(s for setting in settings for s in setting.sources())
    grids = R.readme_grids(grid_set=grid_set)
    assert [source for source, _ in grids] == list(key.values())
    for i, (source, picture) in enumerate(grids, 1):  # what the readers saw: today's grids
        if current or source.startswith(("real-", "baseline-")):  # earlier weights: anchors
            with Image.open(path / f"grid{i}.png") as read:
                assert np.array_equal(np.asarray(picture), np.asarray(read))
    seen = re.sub(r"/work/[\w-]+/", "", (path / "brief.txt").read_text())
    assert seen.split() == R.grid_brief(len(key)).split()  # word for word, but for a folder
    panel = R.grid_panel(key, answers)
    for setting in settings:  # the anchors: every reader says yes to real digits, no to noise
        assert panel[f"real-{setting.tag}"]["yes"] == len(readers)
        assert panel[f"baseline-{setting.tag}"]["yes"] == 0
    table = R.panel_table(path, grid_set)
    assert f"<!-- {marker}:start -->\n{table}\n<!-- {marker}:end -->" in README


@pytest.mark.parametrize("folder", ["digits8-first-model", "mnist16-dropout-resume"])
def test_earlier_readings_name_weights_that_are_no_longer_shipped(folder):
    record = json.loads((ASSETS / "reading" / folder / "model.json").read_text())
    today = pretrained_card(record["model"])["samples"]["weights_digest"]
    assert record["weights_digest"] != today


def test_the_dropout_resume_read_worse_on_its_sheet_and_the_readme_says_so():
    """The withdrawn resume: its per-cell sheet, read by two more readers, in the README."""
    folder = ASSETS / "reading" / "mnist16-dropout-resume" / "sheet"
    key = json.loads((folder / "key.json").read_text())
    readers = [json.loads(p.read_text()) for p in sorted(folder.glob("reader-*.json"))]
    assert len(readers) == 2
    for source in ("real", "pixelcnn-mnist16", "gated-mnist16"):
        scores = [R.score_reading(key, answers)[source] for answers in readers]
        row = f"| mnist16, dropout resume | `{source}` | "
        assert row + " | ".join(f"{s['read']}/{s['shown']}" for s in scores) + " |" in README


def test_the_readme_states_the_panels_verdicts():
    """What the README concludes from the tables is what the rule and the answers give."""
    mnist, digits8, resume, first = (_panel(folder) for folder, *_ in GRID_READINGS)
    met = {m: mnist[m]["met"] for m in R.README_GRID_MODELS}
    assert met == {
        "pixelcnn-mnist16": False,
        "gated-mnist16": True,
        "pixelcnn-mnist28-binary": True,
        "gated-mnist28-binary": True,
    }
    assert digits8["pixelcnn-digits8"]["met"] and digits8["pixelcnn-digits8"]["yes"] == 6
    assert first["pixelcnn-digits8"]["yes"] == 0
    assert resume["pixelcnn-mnist16"]["yes"] == 0
    others = ["gated-mnist16", "pixelcnn-mnist28-binary", "gated-mnist28-binary"]
    y = mnist["pixelcnn-mnist16"]["yes"]
    for claim in [
        "Three of the four model grids are recognisable digits by the rule",
        f"`pixelcnn-mnist16`, is not: {y} of\n6, a tie",
        f"said yes to both real grids ({_named(mnist, 'real-mnist16', 'real-mnist28-binary')}",
        f"Its cells named at once, {_named(mnist, 'pixelcnn-mnist16')} of 16,",
        f"against {_named(mnist, *others)} for\nthe others",
        "The rule asked for all four\nmodel grids, so for the MNIST set as a whole it is not met.",
        f"they named {_named(first, 'pixelcnn-digits8')} of its 16 samples at once, against "
        f"{_named(first, 'real-digits8')} of 16\nreal 8×8 digits",
        f"they named {_named(digits8, 'pixelcnn-digits8')} of its 16 samples at once, against "
        f"{_named(digits8, 'real-digits8')} of 16 real 8×8\ndigits",
        "By the rule, its grid now shows recognisable digits.",
        f"None said yes to its grid ({_named(resume, 'pixelcnn-mnist16')} of 16 named at once,\n"
        f"against {_named(mnist, 'pixelcnn-mnist16')} for the shipped weights)",
    ]:
        assert claim in README, claim
    assert all(mnist[m]["yes"] == 5 for m in others)


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
    for bad in (17, 5.0, True, None):
        with pytest.raises(ValueError, match="count"):
            R.grid_panel(key, [reader("yes", "no", c=bad)])
    with pytest.raises(ValueError, match="count"):
        R.grid_panel(key, [{"grid1": "yes", "grid2": "no"}])
    with pytest.raises(ValueError, match="at least one reader"):
        R.grid_panel(key, [])
    with pytest.raises(ValueError, match="twice"):
        R.grid_panel({"grid1": "a", "grid2": "a"}, [reader("yes", "no")])


def test_panel_table_refuses_a_key_that_is_not_the_set(tmp_path):
    folder = ASSETS / "reading" / "readme-grids-digits8"
    key, _, answers = R.read_panel(folder)
    key["grid4"] = "extra"
    (tmp_path / "key.json").write_text(json.dumps(key))
    for i, a in enumerate(answers):
        a["grid4"] = {"count": 0, "verdict": "no"}
        (tmp_path / f"reader-{i}.json").write_text(json.dumps(a))
    with pytest.raises(ValueError, match="extra"):
        R.panel_table(tmp_path, "digits8")
    with pytest.raises(ValueError, match="unknown grid set"):
        R.panel_table(folder, "cifar")


def test_cli_writes_the_readme_grids_brief_and_key(tmp_path):
    assert R.main(["grids", "--out", str(tmp_path)]) == 0
    key = json.loads((tmp_path / "key.json").read_text())
    assert list(key) == [f"grid{i}" for i in range(1, 9)]
    assert (tmp_path / "brief.txt").read_text() == R.GRID_BRIEF
    assert all((tmp_path / f"{g}.png").stat().st_size > 0 for g in key)


def test_cli_score_grids_prints_the_panel(capsys):
    assert R.main(["score-grids", str(ASSETS / "reading" / "readme-grids")]) == 0
    out = capsys.readouterr().out.splitlines()
    lines = dict(line.split("\t", 1) for line in out[:-1])
    assert list(lines)[:4] == [
        "real-mnist16",
        "pixelcnn-mnist16",
        "gated-mnist16",
        "baseline-mnist16",
    ]
    assert lines["pixelcnn-mnist16"].startswith("3/6 yes\tnot met")
    assert lines["gated-mnist16"].startswith("5/6 yes\tmet")
    assert lines["real-mnist16"].startswith("6/6 yes\tanchor")
    assert out[-1] == "model grids met: 3 of 4 (readers CDEFGH)"
