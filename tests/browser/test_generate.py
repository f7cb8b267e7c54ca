"""Generate text in real Chromium: every draw steps in the browser with the sampler's numbers.

The readouts and the pipeline table are checked against ``autoreg.sample`` run here with
the page's settings; keys, the slider, play/pause and a copied link are driven as a user
would. The #25 chart defects are checked where the browser can see them: the word
model's labels never overlap, the T = 1 ticks have a legend, no metric carries an arrow.

Screenshots (look at them): tests/artifacts/generate.png (char model, mid-sample),
generate-word.png (the word model), generate-presenter.png (presenter mode, 1280x720).
"""

from __future__ import annotations

import numpy as np
import pytest

import autoreg
from autoreg.pretrained import list_pretrained, pretrained_card
from autoreg.seq.generation_payload import entropy_bits
from autoreg.seq.payload import fmt, token_label
from autoreg.seq.sampling import sample, sampling_pipeline
from tests.browser.conftest import assert_clean, screenshot, wait_idle
from tests.browser.players import (
    PLAYER,
    drag_slider,
    focus_page,
    frames,
    open_view,
    overlapping,
    play_then_pause,
    step,
    wait_url,
)

pytestmark = pytest.mark.browser


def _first(prefix: str) -> str | None:
    """The first shipped model whose name starts with ``prefix`` (the page's default)."""
    return next((n for n in sorted(list_pretrained("sequence")) if n.startswith(prefix)), None)


CHAR = _first("lstm-char")  # what the page opens with
WORD = next(
    (
        n
        for n in sorted(list_pretrained("sequence"))
        if (pretrained_card(n).get("tokenizer") or {}).get("kind") == "word"
    ),
    None,
)


@pytest.fixture(scope="module", autouse=True)
def _needs_the_models():
    if CHAR is None or WORD is None:
        pytest.skip("no character-level LSTM or no word model is shipped in assets/")


def _draws(name: str, prompt: str, n: int, temperature: float, seed: int, top_k=None):
    return list(sample(autoreg.load_pretrained(name), prompt, n, temperature, top_k, seed))


def _expected(model: str, steps, t: int, vocab: int) -> dict[str, str]:
    s = steps[t]
    order = np.argsort(-s.logits.numpy(), kind="stable")
    return {
        "tok": repr(token_label(s.token)),
        "p": fmt(float(s.probs_after[s.token_id]), 3),
        "rank": f"{list(order).index(s.token_id) + 1} of {vocab:,}",
        "bits": f"{fmt(entropy_bits(s.probs_after.numpy()), 2)} bits",
    }


def _readouts(page) -> dict[str, str]:
    return {k: page.get_by_test_id(f"gen-{k}").inner_text() for k in ("tok", "p", "rank", "bits")}


def _first_row(page) -> list[str]:
    return page.locator("[data-testid=gen-pipeline] .gen-cell .gen-value").evaluate_all(
        "(els) => els.slice(0, 4).map((e) => e.textContent)"
    )


def test_keys_step_in_the_browser_with_the_samplers_numbers(app_server, page):
    _open = "gen_seed=3&gen_temp=0.8&gen_len=60&gen_step=5"
    open_view(page, app_server, "generate", _open)
    steps = _draws(CHAR, "def ", 60, 0.8, 3)
    vocab = autoreg.load_pretrained(CHAR).config.vocab_size
    assert step(page) == 5 and _readouts(page) == _expected(CHAR, steps, 5, vocab)
    focus_page(page)
    for t in range(6, 26):
        page.keyboard.press("ArrowRight")
        assert step(page) == t  # drawn before the key press returns: no server round trip
        assert _readouts(page) == _expected(CHAR, steps, t, vocab), t
        p = sampling_pipeline(steps[t].logits, 0.8, None, (0,))
        best = int(np.argsort(-p.logits.numpy(), kind="stable")[0])
        want = [fmt(float(p.logits[best]), 2), fmt(float(p.scaled[best]), 2)]
        want += [want[1], fmt(float(p.probs_after[best]), 3)]
        assert _first_row(page) == want, t
        cur = page.locator("[data-testid=gen-text] .gen-tok.cur")
        assert cur.get_attribute("data-i") == str(t)
    page.keyboard.press("Home")
    assert step(page) == 0
    page.keyboard.press("End")
    assert step(page) == 59 and _readouts(page) == _expected(CHAR, steps, 59, vocab)
    page.keyboard.press("ArrowLeft")
    wait_url(page, "gen_step=58")  # the server keeps the URL true
    # one token at a time: the text stops at the cursor
    page.locator(".gen-seg-btn[data-mode='One token at a time']").click()
    page.keyboard.press("Home")
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    visible = page.locator("[data-testid=gen-text] .gen-tok:not(.gone)").count()
    assert visible == 5
    wait_url(page, "gen_mode=One")
    assert page.get_by_text("↑").count() == 0, "a metric carries an arrow again"
    assert_clean(page)


def test_slider_play_pause_and_a_copied_link(app_server, page, browser, artifacts_dir):
    open_view(page, app_server, "generate", "gen_seed=1&gen_len=120&gen_speed=8")
    before = frames(page)
    seen = drag_slider(page, 0.5)
    assert frames(page) - before >= 10, "the view did not redraw while dragging"
    assert len(seen) >= 10 and max(seen) >= 40
    stopped = play_then_pause(page, advance=3)
    steps = _draws(CHAR, "def ", 120, 0.8, 1)
    vocab = autoreg.load_pretrained(CHAR).config.vocab_size
    assert _readouts(page) == _expected(CHAR, steps, stopped, vocab)  # on screen = cursor
    wait_url(page, f"gen_step={stopped}")
    wait_idle(page)
    screenshot(page, artifacts_dir / "generate.png")
    other = browser.new_context(viewport={"width": 1440, "height": 1000})
    try:
        fresh = other.new_page()
        fresh.goto(page.url, wait_until="domcontentloaded")
        fresh.locator(f"{PLAYER}[data-frames]").wait_for(timeout=120_000)
        assert step(fresh) == stopped
        assert _readouts(fresh) == _readouts(page)
    finally:
        other.close()
    assert_clean(page)


def test_the_word_model_reads_cleanly(app_server, page, artifacts_dir):
    open_view(page, app_server, "generate", f"gen_model={WORD}&gen_prompt=the&gen_step=7")
    labels = "[data-testid=gen-pipeline] .gen-label"
    assert page.locator(labels).count() >= 20
    assert not overlapping(page, labels), "token labels run into each other"
    assert not overlapping(page, "[data-testid=gen-temps] .gen-tlabel")
    legend = page.get_by_test_id("gen-legend-t1")
    assert "p at T = 1" in legend.inner_text()
    assert page.locator("[data-testid=gen-pipeline] .gen-tick").count() >= 20  # what it explains
    screenshot(page, artifacts_dir / "generate-word.png")
    assert_clean(page)


def test_greedy_and_presenter_mode(app_server, page, artifacts_dir):
    page.set_viewport_size({"width": 1280, "height": 720})
    open_view(page, app_server, "generate", "gen_temp=0&gen_len=40&presenter=true")
    heads = page.locator("[data-testid=gen-pipeline] .gen-head").all_inner_texts()
    assert any("skipped at T = 0" in h for h in heads)
    assert page.get_by_test_id("gen-p").inner_text() == "1.000"
    rows = page.locator("[data-testid=gen-pipeline] .gen-label:not([hidden])").count()
    assert rows <= 13  # 12 in presenter mode, and the drawn token if it ranks lower
    value = page.get_by_test_id("gen-p").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    label = page.locator(".gen-metric-label").first.evaluate(
        "e => parseFloat(getComputedStyle(e).fontSize)"
    )
    assert value >= 1.6 * label
    page.screenshot(path=str(artifacts_dir / "generate-presenter.png"))
    assert_clean(page)
