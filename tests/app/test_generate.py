"""The Generate page in AppTest: settings, the player's payload and its URL, no exception.

AppTest cannot run the player's JavaScript (tests/browser/test_generate.py does), so
these tests read what the page mounts (options and payload, from the element's bytes)
and inject what the browser's channel would report (``gen_player_sync``).
"""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from autoreg.seq import payload as pl
from autoreg.seq.sampling import generate_text, sample, sampling_pipeline
from autoreg.ui import generate as g
from autoreg.ui import player as pp
from tests.app.presenter import assert_link_holds, folded, open_presenting

PAGE = "pages/generate.py"
SYNC = f"{g.KEY}_sync"


def ok(at) -> None:
    assert not at.exception, [e.message for e in at.exception]


def texts(at) -> list[str]:
    """The generated-text boxes of the samples (one per seed), HTML tags stripped."""
    return [html.unescape(re.sub(r"<[^>]+>", "", h.proto.body)) for h in at.get("html")]


def mounted(at) -> tuple[dict, dict, dict]:
    """(options, payload meta, payload arrays) of the player the page mounted."""
    el = next(e for e in at.get("bidi_component") if e.proto.component_name.endswith("_generate"))
    options, blob = pp.split_mount(el.proto.bytes)
    meta, arrays = pl.unpack(blob)
    return options, meta, arrays


def report(at, **cursor) -> None:
    full = {**g.DEFAULTS, **cursor}
    at.session_state[SYNC] = {"report": {"cursor": full, "need": {}, "seq": 0}}


@pytest.fixture
def gen_page(open_page):
    def _open(state=None, **query):
        return open_page(PAGE, state=state, **query)

    return _open


def test_every_control_runs(gen_page):
    at = gen_page()
    ok(at)
    assert at.title[0].value == "Generate text"
    for name in at.selectbox(key="gen_model").options:
        at.selectbox(key="gen_model").set_value(name).run()
        ok(at)
        assert mounted(at)[1]["model"] == name
    at.selectbox(key="gen_model").set_value(at.selectbox(key="gen_model").options[0]).run()
    at.text_input(key="gen_prompt").set_value("for i in ").run()
    for t in (0.0, 0.05, 2.0, 0.8):
        at.slider(key="gen_temp").set_value(t).run()
        ok(at)
        assert mounted(at)[1]["temperature"] == t
    at.number_input(key="gen_seed").set_value(42).run()
    at.number_input(key="gen_topk").set_value(5).run()
    at.slider(key="gen_len").set_value(50).run()
    ok(at)
    _, meta, arrays = mounted(at)
    assert meta["n_steps"] == 50 and meta["top_k"] == 5 and meta["seed"] == 42
    assert (arrays["kept"].sum(axis=1) <= 5).all()
    at.slider(key="gen_n").set_value(6).run()
    ok(at)
    assert len(at.get("html")) == 6


def test_the_payload_is_the_samplers_numbers(gen_page):
    at = gen_page(gen_seed="5", gen_temp="0.7", gen_len="30", gen_prompt="def ")
    ok(at)
    name = at.selectbox(key="gen_model").value
    from autoreg.pretrained import load_pretrained

    model = load_pretrained(name)
    want = generate_text(model, "def ", 30, temperature=0.7, seed=5)
    assert texts(at)[0].replace("⏎", "") == want  # the first sample is this seed's
    _, meta, a = mounted(at)
    assert meta["prompt"] + "".join(meta["tokens"]) == want
    steps = list(sample(model, "def ", 30, 0.7, None, 5))
    for i in (0, 13, 29):
        p = sampling_pipeline(steps[i].logits, 0.7, None, (0,))
        np.testing.assert_array_equal(a["p"][i], p.probs_after.numpy()[a["top"][i]])
        assert a["d_p"][i] == steps[i].probs_after[steps[i].token_id]


def test_the_link_opens_the_same_token_and_the_channel_keeps_the_url(gen_page):
    at = gen_page(gen_step="7", gen_mode="One token at a time", gen_len="40")
    ok(at)
    options, meta, _ = mounted(at)
    assert options["cursor"] == {"step": 7, "mode": "One token at a time", "speed": 2}
    assert options["key"] == g.KEY and meta["view"] == "generate"
    report(at, step=12, mode="All at once", speed=4)
    at.run()
    ok(at)
    assert at.query_params["gen_step"] == ["12"] or at.query_params["gen_step"] == "12"
    assert "gen_mode" not in at.query_params  # a default stays out of the link
    at.number_input(key="gen_seed").set_value(3).run()  # a full run starts at the URL
    assert mounted(at)[0]["cursor"]["step"] == 12
    report(at, step=0, mode="All at once", speed=2)
    at.run()
    assert "gen_step" not in at.query_params


def test_a_shorter_generation_clamps_the_pages_own_step_without_a_notice(gen_page):
    at = gen_page(gen_len="100")
    report(at, step=90)
    at.run()
    at.slider(key="gen_len").set_value(20).run()
    ok(at)
    assert mounted(at)[0]["cursor"]["step"] == 19
    assert not any("gen_step" in w.value for w in at.warning)


def test_seed_replays_and_zero_temperature_is_greedy(gen_page):
    a = gen_page(gen_seed="9", gen_len="40")
    b = gen_page(gen_seed="9", gen_len="40")
    c = gen_page(gen_seed="10", gen_len="40")
    assert mounted(a)[1]["id"] == mounted(b)[1]["id"] != mounted(c)[1]["id"]
    assert texts(a)[0] == texts(b)[0] != texts(c)[0]
    greedy = gen_page(gen_temp="0", gen_len="40")
    ok(greedy)
    assert len(set(texts(greedy))) == 1  # every seed gives the argmax text
    _, meta, arrays = mounted(greedy)
    assert meta["greedy"] and np.all(arrays["d_p"] == 1.0)


@pytest.mark.parametrize(
    ("key", "bad"),
    [("gen_temp", "7"), ("gen_model", "no-such-model"), ("gen_step", "99999"),
     ("gen_mode", "sideways"), ("gen_speed", "3")],
)  # fmt: skip
def test_bad_url_values_fall_back_with_a_notice(gen_page, key, bad):
    at = gen_page(**{key: bad})
    ok(at)
    notes = " ".join(w.value for w in at.warning)
    assert key in notes and bad in notes, notes
    if key in g.URL.values():
        field = next(f for f, p in g.URL.items() if p == key)
        assert mounted(at)[0]["cursor"][field] == g.DEFAULTS[field]
        assert key not in at.query_params


def test_presenter_mode_folds_secondary_controls(gen_page):
    at = gen_page(state={"presenter": True})
    ok(at)
    assert {"gen_temp", "gen_seed"} <= {w.key for w in at.slider} | {w.key for w in at.number_input}
    for key in ("gen_topk", "gen_len", "gen_n"):
        assert folded(at, key) == "Top-k, length and samples"
    assert not folded(at, "gen_temp") and not folded(at, "gen_seed")
    assert mounted(at)[0]["presenter"] is True


LINK = {"gen_topk": "5", "gen_len": "40", "gen_n": "2", "gen_seed": "3"}


def _uses_link(at) -> None:
    _, meta, _ = mounted(at)
    assert meta["top_k"] == 5 and meta["n_steps"] == 40 and meta["seed"] == 3
    assert len(texts(at)) == 2  # two samples, seeds 3 and 4
    assert any("Seeds 3 to 4" in c.value for c in at.caption)


def test_a_presenter_link_samples_what_it_names(open_page):
    """A prepared link with presenter=true draws the same text as without it."""
    at = open_presenting(open_page, PAGE, **LINK)
    _uses_link(at)
    assert_link_holds(at, {k: v for k, v in LINK.items() if k != "gen_seed"})
    normal = open_page(PAGE, **LINK)
    assert texts(normal) == texts(at)


def test_turning_presenter_mode_on_keeps_the_links_values(gen_page):
    at = gen_page(**LINK)
    _uses_link(at)
    at.session_state["presenter"] = True
    at.run()
    ok(at)
    _uses_link(at)
    assert_link_holds(at, {k: v for k, v in LINK.items() if k != "gen_seed"})


LONG_PROMPT = "total = sum(x * x for x in values)  # squares; " * 30  # 1,410 characters


def test_a_long_prompt_is_cut_to_the_limit_with_a_message(gen_page):
    at = gen_page()
    at.text_input(key="gen_prompt").input(LONG_PROMPT).run()
    ok(at)
    cut = LONG_PROMPT[: g.MAX_PROMPT_CHARS]
    assert at.text_input(key="gen_prompt").value == cut  # the box shows what is used
    (message,) = [w.value for w in at.warning if "left out" in w.value]
    assert f"The prompt had {len(LONG_PROMPT):,} characters" in message
    assert f"{len(LONG_PROMPT) - g.MAX_PROMPT_CHARS:,} characters at the end" in message
    assert mounted(at)[1]["prompt"] == cut
    at.text_input(key="gen_prompt").input("def ").run()  # a short prompt: the message goes
    assert not [w for w in at.warning if "left out" in w.value]


def test_a_long_prompt_in_a_link_is_cut_and_quoted_shortened(gen_page):
    at = gen_page(gen_prompt=LONG_PROMPT)
    ok(at)
    cut = LONG_PROMPT[: g.MAX_PROMPT_CHARS]
    assert at.text_input(key="gen_prompt").value == cut
    (note,) = [w.value for w in at.warning if "link" in w.value]
    assert f"({len(LONG_PROMPT):,} characters)" in note and "…" in note
    assert len(note) < 400, note  # 60 characters quoted, not the whole prompt
    assert mounted(at)[1]["prompt"] == cut
    value = at.query_params["gen_prompt"]
    assert (value[0] if isinstance(value, list) else value) == cut
