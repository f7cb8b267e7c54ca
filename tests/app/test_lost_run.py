"""A run whose server stopped: the Train page served by another server says it was lost.

Behind a proxy with replicas (``deploy/``), a browser whose replica stops reconnects to
another one, which has none of the first one's runs. The Train page keeps a cookie that
names the server process of the browser's unfinished run; AppTest cannot send cookies,
so ``run_cookie`` is replaced here by what the browser would send.
"""

from __future__ import annotations

import pytest

PAGE = "pages/train.py"
LABEL = "lstm-char-python-docs #3"
OTHER_SERVER = "0123456789abcdef"


@pytest.fixture(autouse=True)
def kept_models(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOREG_CACHE_DIR", str(tmp_path))


@pytest.fixture
def browser(monkeypatch):
    """``browser(cookie)``: later page loads send this run cookie and one owner id."""
    import autoreg.ui.browser_id as browser_id
    import autoreg.ui.train as train
    from autoreg.store import new_owner_id

    owner = new_owner_id()
    monkeypatch.setattr(browser_id, "cookie_id", lambda: owner)

    def use(cookie: str | None) -> str:
        monkeypatch.setattr(train, "run_cookie", lambda: cookie)
        return owner

    return use


def _token(server: str, label: str = LABEL, job_id: int = 7) -> str:
    import base64

    return f"{server}.{job_id}.{base64.urlsafe_b64encode(label.encode()).decode().rstrip('=')}"


def _lost(at) -> list[str]:
    return [w.value for w in at.warning if "was lost" in w.value]


def test_a_run_on_a_server_that_stopped_is_said_to_be_lost(open_page, browser):
    browser(_token(OTHER_SERVER))
    at = open_page(PAGE)
    assert not at.exception, at.exception
    (text,) = _lost(at)
    assert LABEL in text and "server that has stopped" in text
    assert "model went with that server" in text
    at.run()  # said for the rest of the session, not only once
    assert len(_lost(at)) == 1


def test_no_message_for_this_servers_run_or_a_bad_cookie(open_page, browser):
    from autoreg.ui.train import SERVER_ID

    for cookie in (None, _token(SERVER_ID), "junk", f"{OTHER_SERVER}.7.%%%", _token("xyz")):
        browser(cookie)
        at = open_page(PAGE)
        assert not at.exception, at.exception
        assert not _lost(at), cookie


def test_a_run_that_finished_and_was_kept_is_not_lost(open_page, browser):
    """A run that ended before its server stopped left its model in the shared store."""
    from autoreg.pretrained import ASSETS, list_pretrained, load_checkpoint
    from autoreg.store import STORE

    owner = browser(_token(OTHER_SERVER))
    ckpt = load_checkpoint(ASSETS / f"{list_pretrained('sequence')[0]}.safetensors")
    STORE.save(owner, LABEL, ckpt.tensors, ckpt.card)
    at = open_page(PAGE)
    assert not at.exception, at.exception
    assert not _lost(at)


def test_the_run_token_round_trips_any_label():
    from autoreg.ui.train import _parse_run_token

    for label in (LABEL, "gated-mnist-5k #12", "über (uploaded) #1"):
        assert _parse_run_token(_token(OTHER_SERVER, label)) == (OTHER_SERVER, label)
