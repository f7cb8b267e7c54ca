"""Step through in AppTest: the server side of the in-browser player.

AppTest cannot run the component's JavaScript, so these tests read what the page
mounts (the player's options and payload, from the element's bytes), inject what the
browser's channel would report (``st.session_state["step_player_sync"]``), and check
the URL and the answers. The page is driven with this session's own tiny models (an
RNN, a two-layer LSTM and a GRU on the same characters), so the tests do not depend on
which shipped models exist; the browser tests open the shipped ones.
"""

from __future__ import annotations

import base64
import re

import pytest
import torch

from autoreg.seq import payload as pl
from autoreg.seq.model import SequenceConfig, SequenceModel, checkpoint_card
from autoreg.seq.tokenizers import CharTokenizer
from autoreg.ui import player as pp
from autoreg.ui import stepper
from autoreg.ui.models import SESSION_MODELS, YOURS, SessionModel
from autoreg.ui.sequences import PRESETS

PAGE = "pages/step.py"
TOK = CharTokenizer.fit("".join(PRESETS.values()))
N_STEPS = len(PRESETS["Python code"])
# A select box keeps its *shown* label in the URL; session models show as "<label> (yours)".
LABEL = {cell: f"tiny-{cell}{YOURS}" for cell in ("rnn", "lstm", "gru")}
SYNC = f"{stepper.KEY}_sync"


def _session_models() -> dict[str, SessionModel]:
    out = {}
    for seed, (cell, layers) in enumerate((("rnn", 1), ("lstm", 2), ("gru", 1))):
        torch.manual_seed(seed)
        model = SequenceModel(SequenceConfig(cell, TOK.vocab_size, 8, 16, layers), TOK).eval()
        model.requires_grad_(False)
        card = checkpoint_card(model, corpus={"name": "python-docs"})
        out[f"session:tiny-{cell}"] = SessionModel(model=model, card=card)
    return out


@pytest.fixture
def open_step(open_page):
    def _open(state: dict | None = None, **query: str):
        query.setdefault("step_model", LABEL["lstm"])
        return open_page(PAGE, state={SESSION_MODELS: _session_models(), **(state or {})}, **query)

    return _open


def _ok(at) -> None:
    assert not at.exception, [e.message for e in at.exception]


def _mounted(at) -> tuple[dict, dict, dict]:
    """(options, payload meta, payload arrays) of the player the page mounted."""
    el = next(e for e in at.get("bidi_component") if e.proto.component_name.endswith("_step"))
    options, blob = pp.split_mount(el.proto.bytes)
    meta, arrays = pl.unpack(blob)
    return options, meta, arrays


def _channel(at) -> bytes:
    return next(
        e.proto.bytes
        for e in at.get("bidi_component")
        if e.proto.component_name.endswith("channel")
    )


def _report(at, seq: int = 0, need: dict | None = None, **cursor) -> None:
    full = {**stepper.DEFAULTS, **cursor}
    at.session_state[SYNC] = {"report": {"cursor": full, "need": need or {}, "seq": seq}}


def test_page_mounts_the_player_at_the_links_step(open_step):
    at = open_step(step_step="10", step_unit="5")
    _ok(at)
    options, meta, arrays = _mounted(at)
    assert options["cursor"] == {**stepper.DEFAULTS, "step": 10, "unit": 5}
    assert options["key"] == stepper.KEY and not options["presenter"]
    assert meta["view"] == "step" and meta["n_steps"] == N_STEPS and meta["cell"] == "lstm"
    assert meta["model"] == "session:tiny-lstm" and meta["layers"] == 2
    assert "u5:kept" in arrays and "w0:hidden" in arrays  # the chosen unit's cell numbers
    assert meta["orders"] == ["index", "clustered"] and "pca" in arrays
    assert at.title[0].value == "Step through"


def test_the_channels_report_keeps_the_url_true_and_later_runs_start_there(open_step):
    at = open_step()
    _report(at, step=17, unit=3, sub="cell", view="forget")
    at.run()
    _ok(at)
    expected = {"step_step": "17", "step_unit": "3", "step_sub": "cell", "step_view": "forget"}
    assert {k: at.query_params[k] for k in expected} == expected
    assert "step_order" not in at.query_params  # defaults stay out of the link
    at.toggle(key="step_compare").set_value(True).run()  # any full run starts at the URL
    _ok(at)
    options, meta, arrays = _mounted(at)
    assert options["cursor"]["step"] == 17 and options["cursor"]["unit"] == 3
    assert "u3:kept" in arrays
    assert [c["cell"] for c in meta["compare"]] == ["rnn", "lstm", "gru"]
    _report(at, step=0, unit=3, sub="all", view="forget")
    at.run()
    assert "step_step" not in at.query_params and "step_sub" not in at.query_params


def test_the_channel_answers_requests_once(open_step):
    at = open_step()
    _report(at, seq=7, need={"units": [9, 11], "windows": [0]})
    at.run()
    _ok(at)
    answer = _channel(at)
    meta = pl.unpack(answer)[0]
    assert meta["player"] == stepper.KEY and meta["answer"] == 7
    assert meta["id"] == _mounted(at)[1]["id"]  # the browser merges it into its payload
    assert pl.parts(answer) == ([0], [9, 11])
    at.run()  # the same request again is not answered twice
    assert pl.parts(_channel(at)) == ([], [])
    _report(at, seq=8, need={"units": [99], "windows": [40]})  # nothing that exists
    at.run()
    _ok(at)
    assert pl.parts(_channel(at)) == ([], [])
    _report(at, seq=9, need={"units": ["x", None, 2.5, True, 4], "windows": "0"})  # junk
    at.run()
    _ok(at)
    assert pl.parts(_channel(at)) == ([], [4])


def test_switching_model_and_layer_keeps_the_cursor(open_step):
    at = open_step(step_step="40")
    for name in ("session:tiny-gru", "session:tiny-rnn"):
        at.selectbox(key="step_model").set_value(name).run()
        _ok(at)
        options, meta, _ = _mounted(at)
        assert options["cursor"]["step"] == 40, "switching the model keeps the cursor"
        assert meta["cell"] == name.rsplit("-", 1)[1]
    at.selectbox(key="step_model").set_value("session:tiny-lstm").run()
    at.selectbox(key="step_layer").set_value(2).run()
    _ok(at)
    options, meta, _ = _mounted(at)
    assert meta["layer"] == 1 and options["cursor"]["step"] == 40


def test_a_shorter_text_clamps_the_pages_own_step_without_a_notice(open_step):
    at = open_step(step_step=str(N_STEPS - 5))
    at.selectbox(key="step_input_preset").set_value("Brackets and quotes").run()
    _ok(at)
    options, meta, _ = _mounted(at)
    assert meta["n_steps"] == len(PRESETS["Brackets and quotes"])
    assert options["cursor"]["step"] == meta["n_steps"] - 1
    assert not at.warning, [w.value for w in at.warning]


def test_typed_text_flags_unknown_characters_without_failing(open_step):
    at = open_step()
    at.selectbox(key="step_input_preset").set_value("Your own text").run()
    at.text_area(key="step_input_text").input("naïve café ✓ (x)").run()
    _ok(at)
    assert any("never saw" in w.value and "'✓'" in w.value for w in at.warning)
    assert _mounted(at)[1]["n_steps"] == len("naïve café ✓ (x)")


@pytest.mark.parametrize(
    ("key", "bad"),
    [("step_step", "99999"), ("step_model", "no-such-model"), ("step_unit", "-4"),
     ("step_layer", "7"), ("step_view", "bogus"), ("step_sub", "nope"), ("step_speed", "3"),
     ("step_step", "2.5")],
)  # fmt: skip
def test_bad_url_values_fall_back_with_a_notice(open_step, key, bad):
    at = open_step(**{key: bad})
    _ok(at)
    assert any(key in w.value and bad in w.value for w in at.warning), [w.value for w in at.warning]
    assert at.title[0].value == "Step through"
    if key in stepper.URL.values():
        field = next(f for f, p in stepper.URL.items() if p == key)
        assert _mounted(at)[0]["cursor"][field] == stepper.DEFAULTS[field]
        assert key not in at.query_params  # the address bar shows what the page shows


def test_downloads_and_their_size(open_step):
    at = open_step()
    _ok(at)
    assert at.download_button(key="step_csv").proto.label == "CSV"
    (saved,) = _mounted(at)[0]["files"]  # in the player's bar: it knows the cursor
    assert saved["kind"] == "html" and "HTML" in saved["label"]
    assert re.fullmatch(r"\d+(\.\d)? [kM]B", saved["size"])


def test_the_saved_view_opens_at_the_cursor_the_browser_sends(open_step):
    at = open_step()
    _report(at, seq=3, need={"file": "html"}, step=5, unit=2)
    at.run()
    _ok(at)
    meta, arrays = pl.unpack(_channel(at))
    assert meta["file"] == "step-through-session-tiny-lstm.html"  # a name any disk takes
    assert meta["mime"] == "text/html" and meta["answer"] == 3
    page = arrays["bytes"].tobytes().decode()
    data = re.search(r'id="arp-data">([^<]+)<', page).group(1)
    options, _ = pp.split_mount(base64.b64decode(data))
    assert options["standalone"] is True
    assert options["cursor"]["step"] == 5 and options["cursor"]["unit"] == 2


def test_presenter_mode_enlarges_the_player_and_hides_secondary_controls(open_step):
    at = open_step(state={"presenter": True})
    _ok(at)
    assert _mounted(at)[0]["presenter"] is True
    assert not at.download_button and _mounted(at)[0]["files"] == []


def test_saved_view_is_the_same_code_with_the_payload_inside():
    blob = pl.pack({"view": "step", "id": "x", "n_steps": 2}, {"ids": pl.np.zeros(2, pl.np.int32)})
    options = pp.player_options("k", {"step": 1}, presenter=False)
    page = pp.standalone_html("step", blob, options, title="A <b>title</b>", note="n & m").decode()
    assert "A &lt;b&gt;title&lt;/b&gt;" in page and "n &amp; m" in page
    assert "\nexport default" not in page and "mountPlayer({ data: bytes" in page
    assert pp.asset("step.js") in page and pp.asset("player.js") in page
    data = re.search(r'id="arp-data">([^<]+)<', page).group(1)
    got_options, got_blob = pp.split_mount(base64.b64decode(data))
    assert got_blob == blob and got_options["standalone"] is True
    assert got_options["cursor"] == {"step": 1}
    assert pp.size_label(999) == "1 kB" and pp.size_label(2_640_000) == "2.6 MB"


def test_a_saved_file_holds_every_units_cell_unless_the_text_is_long():
    from autoreg.seq.trace import trace

    model = _session_models()["session:tiny-lstm"].model
    short = trace(model, PRESETS["Python code"])
    assert stepper.saved_units(short, 0, 5) is None  # every unit: any can be drawn offline
    long = trace(model, "x" * 60_000)
    assert stepper.saved_units(long, 0, 5) == (5,)  # one unit's, or the file grows past 8 MB
