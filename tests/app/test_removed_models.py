"""A shared link that names a model no longer shipped opens the default model, and says so."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("page", "key"), [("pages/step.py", "step_model"), ("pages/units.py", "units_model")]
)
def test_a_link_to_a_removed_model_gets_a_notice_and_the_default(open_page, page, key):
    at = open_page(page, **{key: "lstm-char-pydocs"})
    assert not at.exception
    assert at.selectbox(key=key).value == "lstm-char-stdlib"
    notices = " ".join(w.value for w in [*at.warning, *at.info])
    assert "lstm-char-pydocs" in notices, notices
