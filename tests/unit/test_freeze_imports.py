"""The heap freeze that keeps Streamlit's full GC after every run cheap."""

from __future__ import annotations

import gc
import sys
import types

from autoreg.ui import chrome


def test_freezes_once_then_again_only_after_new_imports(monkeypatch):
    monkeypatch.setattr(chrome, "_frozen_modules", 0)
    try:
        gc.unfreeze()
        chrome.freeze_imports()
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # the loaded modules' objects left the collector's passes
        gc.unfreeze()
        chrome.freeze_imports()  # nothing new was imported: no second collect and freeze
        assert gc.get_freeze_count() == 0
        monkeypatch.setitem(sys.modules, "autoreg_fake_page_import", types.ModuleType("x"))
        chrome.freeze_imports()
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
