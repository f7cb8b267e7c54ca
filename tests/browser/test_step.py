"""Step through in real Chromium: stepping runs in the browser, with the trace's own numbers.

The readouts are checked against ``autoreg.trace`` computed here, step by step; the
slider, play/pause, copied links, bad links, the saved HTML file (opened from disk,
offline) and a long text that arrives in windows are driven as a user would.

Screenshots (look at them): tests/artifacts/step-mid.png (the whole page mid-sequence),
step-lstm-diagram.png (the LSTM cell at its "cell" sub-step), step-presenter.png,
step-saved.png (the saved file, opened from disk).
"""

from __future__ import annotations

import numpy as np
import pytest

import autoreg
from autoreg.pretrained import list_pretrained, pretrained_card
from autoreg.seq.payload import fmt, token_label
from autoreg.ui.player import size_label
from autoreg.ui.sequences import PRESETS
from tests.browser.conftest import assert_clean, open_app, screenshot, wait_idle
from tests.browser.players import overlapping

pytestmark = pytest.mark.browser

PLAYER = "[data-testid=autoreg-player]"
DEFAULT = "lstm-char-stdlib"


def _language_models() -> dict[str, dict]:
    cards = {name: pretrained_card(name) for name in list_pretrained("sequence")}
    return {
        n: c
        for n, c in cards.items()
        if (c.get("corpus") or {}).get("name") not in ("recall", "brackets") and c.get("tokenizer")
    }


def _default_model() -> str | None:
    """The model the page opens with (``ui.sequences.model_picker``: the first LSTM char model)."""
    return next((n for n in sorted(_language_models()) if n.startswith("lstm-char")), None)


@pytest.fixture(scope="module", autouse=True)
def _needs_the_default_model():
    if _default_model() is None:
        pytest.skip("no shipped character LSTM (the page's default model) in assets/")


@pytest.fixture(scope="module")
def tr():
    """The trace the page shows by default, computed here."""
    return autoreg.trace(autoreg.load_pretrained(_default_model()), PRESETS["Python code"])


def _open_step(page, base: str, query: str = "") -> None:
    # A fresh server maps /step to app.py's navigation only once "/" has run.
    open_app(page, base, "home")
    open_app(page, base, "step", query)
    page.locator(PLAYER).wait_for(timeout=60_000)


# the player's root: inside the component's shadow root in the app, plain in a saved file
_HOST = (
    "(document.querySelector('[data-testid=autoreg-player]') || "
    "[...document.querySelectorAll('[data-testid=stBidiComponentIsolated]')]"
    ".map((e) => e.shadowRoot && e.shadowRoot.querySelector('[data-testid=autoreg-player]'))"
    ".find(Boolean))"
)


def _wait_player(page, condition: str, timeout: float = 30_000) -> None:
    """Wait until ``condition`` (JS, with ``p`` the player's root element) holds."""
    page.wait_for_function(
        f"() => {{ const p = {_HOST}; return !!p && ({condition}); }}", timeout=timeout
    )


def _step(page) -> int:
    return int(page.locator(PLAYER).get_attribute("data-step"))


def _frames(page) -> int:
    return int(page.locator(PLAYER).get_attribute("data-frames"))


def _wait_url(page, text: str, timeout: float = 30_000) -> None:
    page.wait_for_function(f"location.search.includes({text!r})", timeout=timeout)


def _expected(tr, t: int) -> dict[str, str]:
    """The readouts at step t, from the trace (the old server-side page's wording)."""
    T = len(tr.tokens)
    if t + 1 >= T:
        return {"read": repr(token_label(tr.tokens[t])), "next": "(end)", "p": "–", "bits": "–"}
    nxt = int(tr.ids[t + 1])
    bits = tr.surprise_bits[t]
    return {
        "read": repr(token_label(tr.tokens[t])),
        "next": repr(token_label(tr.tokens[t + 1])) if nxt else "<unk>",
        "p": fmt(float(tr.probs[t, nxt]), 3),
        "bits": "unknown token" if np.isnan(bits) else f"{fmt(float(bits), 2)} bits",
    }


def _readouts(page) -> dict[str, str]:
    return {k: page.get_by_test_id(f"stp-{k}").inner_text() for k in ("read", "next", "p", "bits")}


def test_twenty_arrow_keys_step_in_the_browser_with_the_traces_numbers(app_server, page, tr):
    _open_step(page, app_server, "step_step=10")
    assert _step(page) == 10 and _readouts(page) == _expected(tr, 10)
    page.get_by_test_id("stHeading").first.click()  # focus the page, not a widget
    for t in range(11, 31):
        page.keyboard.press("ArrowRight")
        assert _step(page) == t  # drawn before the key press returns: no server round trip
        assert _readouts(page) == _expected(tr, t), t
        rows = page.locator("[data-testid=stp-topk] .stp-bar-row:not([hidden])")
        top = np.argsort(-tr.probs[t], kind="stable")[:8]
        assert rows.first.locator(".stp-bar-value").inner_text() == fmt(
            float(tr.probs[t, top[0]]), 3
        )
        marked = page.locator(
            "[data-testid=stp-topk] .stp-bar-row.true:not([hidden]) .stp-bar-label"
        )
        assert marked.inner_text().startswith(repr(token_label(tr.tokens[t + 1])))
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Home")
    assert _step(page) == 0
    page.keyboard.press("End")
    assert _step(page) == len(tr.tokens) - 1 and _readouts(page) == _expected(
        tr, len(tr.tokens) - 1
    )
    page.keyboard.press("ArrowLeft")
    _wait_url(page, f"step_step={len(tr.tokens) - 2}")  # the server keeps the URL true
    wait_idle(page)
    assert_clean(page)


def test_hover_shows_the_exact_state_value(app_server, page, tr):
    _open_step(page, app_server, "step_step=42")
    strips = page.get_by_test_id("stp-strips")
    box = strips.bounding_box()
    unit = 77
    strips.hover(position={"x": box["width"] * (unit + 0.5) / 256, "y": 3})  # the h row
    tip = page.get_by_test_id("arp-tip")
    tip.wait_for()
    assert (
        f"unit {unit} · h (hidden state) = {fmt(float(tr.hidden[42, 0, unit]), 4)}"
        in tip.inner_text()
    )
    strips.click(position={"x": box["width"] * (unit + 0.5) / 256, "y": 3})
    title = page.get_by_test_id("stp-cell-title")
    assert title.inner_text() == f"Inside the LSTM cell: unit {unit}, step 42"
    # the clicked unit's pre-activations come from the server once; then its equations
    eq = page.get_by_test_id("stp-equations")
    eq.locator("math").first.wait_for(timeout=30_000)
    pre = float(tr.preactivations["forget"][42, 0, unit])
    f = float(tr.gates["forget"][42, 0, unit])
    shown = eq.inner_text().replace(" ", "").replace("\n", "")  # (math letters come italic)
    assert f"=𝜎({fmt(pre, 4)})={fmt(f, 4)}" in shown, shown
    _wait_url(page, f"step_unit={unit}")
    assert_clean(page)


def test_the_browser_formats_like_python(app_server, page):
    _open_step(page, app_server)
    values = [0.03125, -0.03125, 0.09375, 2.5, -2.5, 1e-9, -1e-9, -0.0, 123.456789, 0.1 + 0.2]
    rng = np.random.default_rng(0)
    values += [float(v) for v in rng.standard_normal(300).astype(np.float32)]
    values += [float(v) for v in rng.standard_normal(100) * 1e3]
    for decimals in (0, 2, 3, 4, 5):
        got = page.evaluate(
            "([xs, d]) => xs.map((x) => globalThis.autoregPlayer.fmt(x, d))", [values, decimals]
        )
        assert got == [fmt(v, decimals) for v in values], decimals


def test_dragging_the_slider_redraws_continuously(app_server, page, tr):
    _open_step(page, app_server)
    slider = page.get_by_test_id("arp-slider")
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    before = _frames(page)
    page.mouse.move(box["x"] + 4, y)
    page.mouse.down()
    seen = set()
    for i in range(1, 41):
        page.mouse.move(box["x"] + 4 + (box["width"] - 8) * i / 80, y)
        seen.add(_step(page))
    page.mouse.up()
    assert _frames(page) - before >= 10, "the view did not redraw while dragging"
    assert len(seen) >= 10 and max(seen) > 60
    t = _step(page)
    assert int(slider.evaluate("e => e.value")) == t and _readouts(page) == _expected(tr, t)
    assert page.locator("[data-testid=stp-text] .cur").get_attribute("data-i") == str(t)
    assert_clean(page)


def test_play_advances_and_pause_stops_on_the_frame_on_screen(app_server, page, tr):
    _open_step(page, app_server, "step_step=3&step_speed=8")
    page.get_by_test_id("arp-play").click()
    page.locator(f"{PLAYER}[data-playing=true]").wait_for(timeout=5_000)
    _wait_player(page, "+p.dataset.step >= 9")  # it plays on its own
    page.get_by_test_id("arp-play").click()  # pause
    assert page.locator(PLAYER).get_attribute("data-playing") == "false"
    stopped = _step(page)
    assert _readouts(page) == _expected(tr, stopped)  # what is on screen is the cursor
    page.wait_for_timeout(1500)
    assert _step(page) == stopped, "the cursor moved after the pause"
    _wait_url(page, f"step_step={stopped}")
    page.get_by_test_id("stHeading").first.click()
    page.keyboard.press("Space")  # space plays again
    page.locator(f"{PLAYER}[data-playing=true]").wait_for(timeout=5_000)
    page.keyboard.press("Space")
    assert page.locator(PLAYER).get_attribute("data-playing") == "false"
    assert_clean(page)


def test_a_copied_link_opens_the_same_view(app_server, page, browser, artifacts_dir, tr):
    _open_step(page, app_server, "step_step=41&step_unit=7")
    page.get_by_test_id("stHeading").first.click()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.locator(".stp-seg-btn[data-sub=cell]").click()
    page.locator(".stp-seg-btn[data-q=forget]").click()
    _wait_url(page, "step_sub=cell")
    _wait_url(page, "step_view=forget")
    _wait_url(page, "step_step=43")
    shared = page.url
    assert "step_unit=7" in shared
    other = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    other.goto(shared, wait_until="domcontentloaded")
    wait_idle(other)
    other.locator(PLAYER).wait_for(timeout=60_000)
    assert _step(other) == 43
    assert (
        other.get_by_test_id("stp-cell-title").inner_text()
        == "Inside the LSTM cell: unit 7, step 43"
    )
    assert other.locator(".stp-seg-btn.on").all_inner_texts() == ["forget", "cell"]
    assert other.get_by_test_id("stp-equations").locator(".stp-eq").count() == 4  # f, i, g, c
    assert _readouts(other) == _expected(tr, 43)
    other.context.close()
    # the LSTM cell at the "cell" sub-step: diagram and equations
    cell = page.locator(".stp-cell")
    cell.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    cell.screenshot(path=str(artifacts_dir / "step-lstm-diagram.png"))
    assert_clean(page)


def test_steps_keep_the_url_without_the_server_or_the_history(app_server, page):
    sent: list[object] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(frame)))
    _open_step(page, app_server)
    wait_idle(page)
    page.get_by_test_id("stHeading").first.click()  # focus the page, not a widget
    page.wait_for_timeout(500)
    history, before = page.evaluate("history.length"), len(sent)
    assert before > 0, "the page's own reruns are seen on the websocket"
    for _ in range(6):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowLeft")
    _wait_url(page, "step_step=5")
    page.wait_for_timeout(1000)
    assert len(sent) == before, "a step sends the server nothing"
    assert page.evaluate("history.length") == history, "Back leaves the page, not a step"
    page.reload()  # the address bar alone reopens the view
    page.locator(PLAYER).wait_for(timeout=60_000)
    assert _step(page) == 5


def test_a_bad_step_in_a_link_gets_a_notice(app_server, page):
    _open_step(page, app_server, "step_step=99999&step_unit=-3")
    notes = page.get_by_test_id("stAlert").all_inner_texts()
    assert any("step_step" in n and "99999" in n for n in notes), notes
    assert any("step_unit" in n and "-3" in n for n in notes), notes
    assert _step(page) == 0
    assert "step_step" not in page.url
    assert_clean(page)


def test_the_saved_view_steps_offline_from_disk(
    app_server, page, browser, artifacts_dir, tmp_path, tr
):
    _open_step(page, app_server, "step_step=22&step_unit=9")
    page.get_by_test_id("stHeading").first.click()  # focus the page, not a widget
    for _ in range(3):  # stepped in the browser only: the file is made at this cursor
        page.keyboard.press("ArrowRight")
    assert _step(page) == 25
    size = page.locator(f"{PLAYER} .arp-filesize").inner_text()
    with page.expect_download(timeout=120_000) as download:
        page.get_by_test_id("arp-file-html").click()
    path = tmp_path / "step.html"
    download.value.save_as(path)
    assert download.value.suggested_filename.startswith("step-through-")
    assert size_label(path.stat().st_size) == size.strip()
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_offline(True)
    saved = context.new_page()
    errors = []
    saved.on("pageerror", lambda e: errors.append(str(e)))
    saved.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    saved.goto(path.as_uri())
    saved.locator(PLAYER).wait_for(timeout=30_000)
    assert _step(saved) == 25 and _readouts(saved) == _expected(tr, 25)
    saved.locator("body").click(position={"x": 5, "y": 5})
    for t in range(26, 31):
        saved.keyboard.press("ArrowRight")
        assert _readouts(saved) == _expected(tr, t)
    assert (
        saved.get_by_test_id("stp-cell-title").inner_text()
        == "Inside the LSTM cell: unit 9, step 30"
    )
    # every unit's cell numbers are in the file: another unit draws with no server
    strips = saved.get_by_test_id("stp-strips")
    box = strips.bounding_box()
    strips.click(position={"x": box["width"] * 200.5 / 256, "y": 3})
    saved.get_by_test_id("stp-equations").locator("math").first.wait_for(timeout=5_000)
    assert "unit 200" in saved.get_by_test_id("stp-cell-title").inner_text()
    saved.screenshot(path=str(artifacts_dir / "step-saved.png"))
    assert not errors, errors
    context.close()


def test_switch_model_keeps_the_step_and_the_gru_convention_is_on_screen(app_server, page):
    if "gru-char-stdlib" not in _language_models():
        pytest.skip("no shipped GRU language model")
    _open_step(page, app_server, "step_step=20")
    page.locator(".st-key-step_model").click()
    page.get_by_role("option", name="gru-char-stdlib", exact=True).click()
    page.get_by_test_id("stp-gru-note").wait_for(timeout=60_000)
    assert "z ≈ 1 keeps the old state" in page.get_by_test_id("stp-gru-note").inner_text()
    assert _step(page) == 20, "switching the model keeps the cursor"
    assert page.get_by_test_id("stp-cell-title").inner_text().startswith("Inside the GRU cell")
    assert page.locator(".st-key-step_layer input").is_disabled()  # one layer: nothing to pick
    assert_clean(page)


def test_a_long_text_arrives_in_windows(app_server, page):
    _open_step(page, app_server)
    page.locator(".st-key-step_input_preset").click()
    page.get_by_role("option", name="Your own text", exact=True).click()
    wait_idle(page)
    text = ("for word in words:\n    count[word] = count.get(word, 0) + 1\n" * 80)[:4000]
    area = page.locator(".st-key-step_input_text textarea")
    area.fill(text)
    area.press("Control+Enter")
    _wait_player(page, "p.querySelector('.arp-label').textContent.includes('of 3999')", 120_000)
    page.get_by_test_id("stHeading").first.click()
    page.keyboard.press("End")
    assert _step(page) == 3999
    # the last window of states comes from the server, then the strips draw it
    _wait_player(page, "p.querySelector('.stp-strip-plot .stp-wait').hidden", 60_000)
    assert page.locator(".stp-strip-plot .stp-wait").is_hidden()
    assert_clean(page)


# The SVG lines of Step through's views, and how thick each is drawn on screen (its
# stroke width in the SVG's units times the SVG's scale to screen pixels).
LINES = (".stp-area", ".stp-cursor", ".stp-wire:not(.heavy)", ".stp-wire.heavy", ".stp-part")
SCREEN_WIDTH = "e => parseFloat(getComputedStyle(e).strokeWidth) * e.getScreenCTM().a"


def _line_widths(page) -> dict[str, float]:
    return {s: page.locator(f"{PLAYER} {s}").first.evaluate(SCREEN_WIDTH) for s in LINES}


def test_screenshots_mid_sequence_and_in_presenter_mode(app_server, page, artifacts_dir):
    _open_step(page, app_server, "step_step=60&step_unit=5")
    page.get_by_test_id("stp-equations").locator("math").first.wait_for()
    assert _step(page) == 60
    assert_clean(page)
    screenshot(page, artifacts_dir / "step-mid.png")
    normal = page.locator(".stp-metric-value").first.evaluate(
        "e => parseFloat(getComputedStyle(e).fontSize)"
    )
    thin = _line_widths(page)
    open_app(page, app_server, "step", "step_step=60&step_unit=5&presenter=true")
    page.locator(f"{PLAYER}.arp-present").wait_for(timeout=60_000)
    page.get_by_test_id("stp-equations").locator("math").first.wait_for()
    big = page.locator(".stp-metric-value").first.evaluate(
        "e => parseFloat(getComputedStyle(e).fontSize)"
    )
    assert big > normal * 1.2, (big, normal)
    thick = _line_widths(page)  # lines a projector shows: at least 1.4x as thick on screen
    assert all(thick[s] >= 1.4 * thin[s] for s in LINES), (thin, thick)
    screenshot(page, artifacts_dir / "step-presenter.png")
    assert_clean(page)


def test_the_benchmark_times_the_players_steps_and_scrub(app_server, page):
    from autoreg.bench import browser as bb

    _open_step(page, app_server)
    assert bb.find_step(page) == {"key": "player", "label": "next", "player": True}
    timed = bb.click_player(page)  # returns once the debounced URL update has run too
    assert _step(page) == 1 and 0 <= timed["changed"] <= timed["ms"] < 10_000
    assert "step_step=1" in page.url
    got = bb.scrub(page, 1, 50)
    assert got["end_step"] == 51 and got["frames"] >= 10 and got["fps"] > 0
    bb.rewind_player(page)
    assert _step(page) == 0


def test_the_rnn_cell_shows_no_gate_colours(app_server, page):
    """A plain RNN has no gates: its diagram's colour bars name only what it has."""
    if "rnn-char-stdlib" not in list_pretrained():
        pytest.skip("no shipped character RNN")
    _open_step(page, app_server, "step_model=rnn-char-stdlib")
    legend = page.locator(f"{PLAYER} .stp-cell-legend")
    legend.wait_for(timeout=30_000)
    names = legend.locator(".stp-legend-name").all_inner_texts()
    assert names == ["h, (W x + U h + b)/3"], names
    assert not overlapping(page, f"{PLAYER} .stp-cell-legend .stp-legend span")
    assert_clean(page)


def test_a_copied_link_keeps_a_chosen_model_and_input(app_server, page, browser):
    """Model and input chosen in the page, then steps taken in the browser: the copied
    address opens that model on that text at that step, with that trace's numbers."""
    name = "gru-char-stdlib"
    if name not in _language_models():
        pytest.skip(f"{name} is not shipped")
    gru = autoreg.trace(autoreg.load_pretrained(name), PRESETS["English prose"])
    _open_step(page, app_server, f"step_model={name}&step_input_preset=English+prose")
    wait_idle(page)
    assert _readouts(page) == _expected(gru, 0)
    page.get_by_test_id("stHeading").first.click()
    for _ in range(17):
        page.keyboard.press("ArrowRight")
    _wait_url(page, "step_step=17")
    shared = page.url
    assert f"step_model={name}" in shared and "English" in shared
    other = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    other.goto(shared, wait_until="domcontentloaded")
    wait_idle(other)
    other.locator(PLAYER).wait_for(timeout=60_000)
    assert _step(other) == 17
    assert _readouts(other) == _expected(gru, 17)
    assert "GRU" in other.get_by_test_id("stp-cell-title").inner_text()
    other.context.close()
    assert_clean(page)
