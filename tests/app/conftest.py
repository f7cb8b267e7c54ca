"""AppTest fixtures: run the real ``app.py`` (navigation, sidebar, pages) without a browser."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

DEFAULT_PAGE = "pages/home.py"
TIMEOUT = 90  # torch imports slowly on a cold 2-core machine; AppTest's default is 3 s


@pytest.fixture
def open_page() -> Callable[..., AppTest]:
    """Return a function that opens one registered page of the app and runs it.

    ``open_page("pages/step.py", step_model="lstm-char-stdlib")`` runs app.py, switches
    to the page and runs again; keyword arguments become URL query parameters, and
    ``state={...}`` presets session state (AppTest drops the entrypoint's sidebar after
    ``switch_page``, so presenter mode is set through state, not through its toggle).
    """

    def _open(path: str, state: dict | None = None, **query: str) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
        for key, value in (state or {}).items():
            at.session_state[key] = value
        for key, value in query.items():
            at.query_params[key] = value
        at.run()
        if path != DEFAULT_PAGE:
            assert not at.exception, at.exception
            at.switch_page(path)
            for key, value in query.items():  # switching pages clears the URL
                at.query_params[key] = value
            at.run()
        return at

    return _open
