"""A shared link that names a model no longer shipped opens the default model, and says so."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("page", "key", "default"),
    [
        ("pages/step.py", "step_model", "lstm-char-stdlib"),
        ("pages/units.py", "units_model", "lstm-char-stdlib"),
        ("pages/generate.py", "gen_model", "lstm-char-stdlib"),
        ("pages/memory.py", "memory_model_lstm", "lstm-char-stdlib"),
    ],
)
def test_a_link_to_a_removed_model_gets_a_notice_and_the_default(open_page, page, key, default):
    at = open_page(page, **{key: "lstm-char-pydocs"})
    assert not at.exception
    assert at.selectbox(key=key).value == default
    notices = " ".join(w.value for w in [*at.warning, *at.info])
    assert "lstm-char-pydocs" in notices, notices
