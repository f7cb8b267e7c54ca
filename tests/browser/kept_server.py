"""A server of the app whose kept models go to a test folder, never the user's cache.

Tests that train or open models in the browser make the server keep them on disk
(``autoreg.store``). The server reads ``$AUTOREG_CACHE_DIR`` from its environment, so
this starts one with the variable pointing at a temporary folder.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from tests.browser.conftest import serve_app


@contextlib.contextmanager
def serve_with_cache(cache: Path, log_name: str) -> Iterator[str]:
    """``streamlit run app.py`` with ``AUTOREG_CACHE_DIR=cache``; yields the base URL."""
    old = os.environ.get("AUTOREG_CACHE_DIR")
    os.environ["AUTOREG_CACHE_DIR"] = str(cache)
    try:
        with serve_app(log_name) as base:
            _restore(old)  # the server has its environment; this process gets its own back
            yield base
    finally:
        _restore(old)


def _restore(old: str | None) -> None:
    if old is None:
        os.environ.pop("AUTOREG_CACHE_DIR", None)
    else:
        os.environ["AUTOREG_CACHE_DIR"] = old
