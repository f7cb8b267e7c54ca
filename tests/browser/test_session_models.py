"""A browser's own models in real Chromium: found again after a reload, never by another.

Two browser contexts are two browsers (separate cookie jars). Context A opens a
checkpoint on the Train page, reloads, opens a link in a new tab, and finds the model
each time; context B, on the same server at the same time, never lists it. The server
keeps models in a temporary folder (``kept_server``), which is also checked: A's model is
on disk under one owner folder, in safetensors.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from autoreg.checkpoints import checkpoint_bytes
from autoreg.pretrained import ASSETS, list_pretrained, load_checkpoint, pretrained_card
from autoreg.ui.sequences import is_char_model
from tests.browser.conftest import (
    VIEWPORT,
    assert_clean,
    open_app,
    wait_idle,
    watched_page,
)
from tests.browser.kept_server import serve_with_cache
from tests.browser.players import picker_options

pytestmark = pytest.mark.browser
LABEL = "classroom-model (uploaded) (yours)"


@pytest.fixture(scope="module")
def kept(chromium_path, tmp_path_factory) -> Iterator[tuple[str, object]]:
    """(base URL, folder of kept models) of a server with its own cache directory."""
    cache = tmp_path_factory.mktemp("cache")
    with serve_with_cache(cache, "server-session-models.log") as base:
        yield base, cache / "session-models"


def _context(browser):
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    return context, watched_page(context)


def _checkpoint(tmp_path) -> str:
    name = next(n for n in list_pretrained("sequence") if is_char_model(pretrained_card(n)))
    ckpt = load_checkpoint(ASSETS / f"{name}.safetensors")  # a language model: every picker
    path = tmp_path / "classroom-model.safetensors"
    path.write_bytes(checkpoint_bytes(ckpt.tensors, ckpt.card))
    return str(path)


def test_an_opened_model_survives_a_reload_in_its_browser_and_only_there(
    kept, browser, tmp_path, artifacts_dir
):
    base, folder = kept
    ctx_a, a = _context(browser)
    ctx_b, b = _context(browser)
    try:
        open_app(a, base, "home")
        open_app(b, base, "home")
        ids = {c["name"]: c["value"] for c in ctx_a.cookies()}
        assert "autoreg_browser" in ids  # written by the page's own script
        open_app(a, base, "train")
        a.locator(".st-key-train_ckpt input[type=file]").set_input_files(_checkpoint(tmp_path))
        a.get_by_text("Opened classroom-model.safetensors").wait_for(timeout=60_000)
        assert (
            "kept on this server for this browser only"
            in a.get_by_test_id("stAlertContentSuccess").inner_text()
        )
        owners = [p.name for p in folder.iterdir()]
        assert owners == [ids["autoreg_browser"]]  # on disk, under A's id only
        assert len(list((folder / owners[0]).glob("*.safetensors"))) == 1

        # A reloads: a new session of the same browser lists the model again
        open_app(a, base, "generate")
        a.reload(wait_until="domcontentloaded")
        wait_idle(a)
        assert LABEL in picker_options(a, "gen_model")
        # a link opened in a new tab of the same browser finds it too
        tab = watched_page(ctx_a)
        open_app(tab, base, "generate")
        assert LABEL in picker_options(tab, "gen_model")
        assert_clean(tab)

        # B, another browser, never sees it: not in its pickers, not after a reload
        open_app(b, base, "generate")
        assert not any("(yours)" in o for o in picker_options(b, "gen_model"))
        b.reload(wait_until="domcontentloaded")
        wait_idle(b)
        assert not any("(yours)" in o for o in picker_options(b, "gen_model"))
        # nor through a link that names A's model
        open_app(b, base, "generate", f"gen_model={LABEL}")
        assert not any("(yours)" in o for o in picker_options(b, "gen_model"))
        a.screenshot(path=str(artifacts_dir / "session-models-a.png"))
        assert_clean(a)
        assert_clean(b)
    finally:
        ctx_a.close()
        ctx_b.close()
