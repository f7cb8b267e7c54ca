"""What the app says, in real Chromium, about input it cannot take as given.

* an unknown page path (``/nosuchpage``): Home opens with a notice that names the path,
  and the notice stays through later reruns (the address bar already shows ``/``);
* a paste over the text limit: the box is cut to the limit and a message says so;
* a long text in a shared link: the box gets the first ``MAX_TEXT_CHARS`` characters and
  the notice quotes the text shortened.

The text checks use the Units page, one of the pages with the shared text input, and
the prompt of Generate text, which has a limit of its own.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from autoreg.ui.generate import MAX_PROMPT_CHARS
from autoreg.ui.sequences import MAX_TEXT_CHARS
from tests.browser.conftest import assert_clean, open_app, wait_idle

pytestmark = pytest.mark.browser

# Streamlit logs its own "Page not found" modal as a console error; that one is expected.
FRAMEWORK_NOT_FOUND = "The page that you have requested does not seem to exist"
TEXT_PAGE, TEXT_KEY = "units", "units"


def _alerts(page) -> list[str]:
    return page.get_by_test_id("stAlert").all_inner_texts()


def test_an_unknown_page_path_is_named_on_the_page_that_opens(app_server, page):
    open_app(page, app_server, "home")  # a server's first session decides its page mode
    open_app(page, app_server, "nosuchpage")
    notices = [n for n in _alerts(page) if "nosuchpage" in n]
    assert notices and "Home opened instead" in notices[0], _alerts(page)
    assert page.locator("h1").first.inner_text()  # Home is drawn below the notice
    if page.get_by_role("dialog").count():  # the framework's own modal, which names nothing
        page.keyboard.press("Escape")
    page.get_by_text("Presenter mode").click()  # any rerun: the notice stays on Home
    wait_idle(page)
    assert any("nosuchpage" in n for n in _alerts(page)), _alerts(page)
    page.get_by_test_id("stExpandSidebarButton").click()  # presenter mode folded it away
    page.get_by_text("Presenter mode").click()
    wait_idle(page)
    page.get_by_test_id("stSidebarNav").get_by_text("Masks", exact=True).click()
    wait_idle(page)
    assert not any("nosuchpage" in n for n in _alerts(page))  # gone once elsewhere
    page.console.errors[:] = [e for e in page.console.errors if FRAMEWORK_NOT_FOUND not in e]
    assert_clean(page)


def test_a_paste_over_the_limit_is_cut_with_a_message(app_server, page):
    open_app(page, app_server, TEXT_PAGE, urlencode({f"{TEXT_KEY}_preset": "Your own text"}))
    box = page.locator(f".st-key-{TEXT_KEY}_text textarea")
    pasted = "x = [i for i in range(9)]\n" * 300  # 7,800 characters
    box.fill(pasted)
    box.press("Control+Enter")  # what a user's click elsewhere does: send the text
    page.get_by_text("characters at the end were left out").wait_for(timeout=60_000)
    wait_idle(page)
    assert box.input_value() == pasted[:MAX_TEXT_CHARS]  # the box shows what is used
    (message,) = [a for a in _alerts(page) if "left out" in a]
    assert f"{len(pasted):,} characters" in message
    assert f"{len(pasted) - MAX_TEXT_CHARS:,} characters at the end" in message
    assert f"{MAX_TEXT_CHARS:,} of {MAX_TEXT_CHARS:,} characters" in page.inner_text("body")
    assert_clean(page)


def test_a_long_text_in_a_link_is_cut_and_quoted_shortened(app_server, page):
    text = "for n in range(10):\n    print(n)  # count\n" * 250  # 10,750 characters
    query = urlencode({f"{TEXT_KEY}_preset": "Your own text", f"{TEXT_KEY}_text": text})
    open_app(page, app_server, TEXT_PAGE, query)
    box = page.locator(f".st-key-{TEXT_KEY}_text textarea")
    assert box.input_value() == text[:MAX_TEXT_CHARS]
    (notice,) = [a for a in _alerts(page) if "link" in a]
    assert f"({len(text):,} characters)" in notice and "…" in notice
    assert len(notice) < 400, notice  # 60 characters quoted, not the whole text
    assert_clean(page)


def test_a_long_prompt_pasted_or_linked_is_cut_with_a_message(app_server, page):
    prompt = "for item in sorted(items, key=len): print(item)  # longest last; " * 25
    open_app(page, app_server, "generate")
    box = page.locator(".st-key-gen_prompt input")
    box.fill(prompt)  # 1,625 characters, one line
    box.press("Enter")
    page.get_by_text("characters at the end were left out").wait_for(timeout=60_000)
    wait_idle(page)
    assert box.input_value() == prompt[:MAX_PROMPT_CHARS]
    (message,) = [a for a in _alerts(page) if "left out" in a]
    assert f"The prompt had {len(prompt):,} characters" in message
    open_app(page, app_server, "generate", urlencode({"gen_prompt": prompt}))
    box = page.locator(".st-key-gen_prompt input")
    assert box.input_value() == prompt[:MAX_PROMPT_CHARS]
    (notice,) = [a for a in _alerts(page) if "link" in a]
    assert f"({len(prompt):,} characters)" in notice and "…" in notice
    assert len(notice) < 400, notice
    assert_clean(page)
