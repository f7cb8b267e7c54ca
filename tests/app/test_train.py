"""AppTest of the Train page: real (tiny) background runs driven through the widgets."""

from __future__ import annotations

import json
import time

import pytest

from autoreg.checkpoints import checkpoint_bytes
from autoreg.ui.models import SESSION_MODELS

PAGE = "pages/train.py"


@pytest.fixture(autouse=True)
def kept_models(tmp_path, monkeypatch):
    """Models kept for a browser land in a fresh cache directory, never the user's."""
    monkeypatch.setenv("AUTOREG_CACHE_DIR", str(tmp_path))
    return tmp_path / "session-models"


TEXT = (
    "def add(a, b):\n    return a + b\n\n"
    "class Point:\n    def __init__(self, x, y):\n        self.x, self.y = x, y\n\n"
) * 60  # about 6 kB of Python: enough for one tiny epoch


def run_until_finished(at, timeout: float = 120.0):
    """Poll like the fragment does: rerun until the job ends, then once more."""
    deadline = time.monotonic() + timeout
    while not at.session_state["train_run"].job.finished:
        assert time.monotonic() < deadline, "the run did not finish in time"
        time.sleep(0.5)
        at.run()
        assert not at.exception, at.exception
    at.run()  # the full rerun the fragment asks for when it sees the end
    return at.session_state["train_run"].job


def tiny_sequence_settings(at) -> None:
    at.select_slider(key="train_hidden").set_value(16)
    at.select_slider(key="train_embed").set_value(8)
    at.slider(key="train_epochs").set_value(1)
    at.select_slider(key="train_bptt").set_value(16)
    at.run()


def upload_text(at, data: bytes, name: str = "mine.py"):
    at.selectbox(key="train_corpus").set_value("Upload a text file").run()
    at.file_uploader(key="train_upload_text").upload(name, data, "text/plain").run()
    return at


def chart_spec(at) -> dict:
    charts = [e for e in at.get("plotly_chart")]
    assert charts, "no loss chart"
    return json.loads(charts[0].proto.spec)


def test_page_opens_with_defaults_and_every_control(open_page):
    at = open_page(PAGE)
    assert not at.exception, at.exception
    assert at.title[0].value == "Train"
    assert any("Caps per run" in c.value for c in at.caption)
    assert at.button(key="train_start").disabled is False
    for key, value in (("train_cell", "GRU"), ("train_tokens", "word"), ("train_layers", 2)):
        at.segmented_control(key=key).set_value(value).run()
        assert not at.exception, at.exception
    at.slider(key="train_epochs").set_value(3).run()
    at.select_slider(key="train_lr").set_value(1e-3).run()
    at.select_slider(key="train_max_vocab").set_value(1000).run()
    for source in ("python-code", "recall", "brackets", "Upload recipe JSON (the book's format)"):
        at.selectbox(key="train_corpus").set_value(source).run()
        assert not at.exception, at.exception
    at.segmented_control(key="train_family").set_value("PixelCNN").run()
    for key, value in (("train_pixel_kind", "Gated PixelCNN"), ("train_dataset", "digits-8x8")):
        at.segmented_control(key=key).set_value(value).run()
    at.select_slider(key="train_levels").set_value(2).run()
    at.select_slider(key="train_channels").set_value(16).run()
    at.slider(key="train_blocks").set_value(2).run()
    at.slider(key="train_pixel_epochs").set_value(2).run()
    assert not at.exception, at.exception
    assert not at.error


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "empty"), (b"\x00\x01binary\x00" * 50, "binary"),
     ("déjà vu, ".encode("latin-1") * 30, "not UTF-8"), (b"x" * (5 * 2**20 + 1), "limit")],
)  # fmt: skip
def test_bad_text_uploads_get_a_message_and_block_training(open_page, data, message):
    at = upload_text(open_page(PAGE), data)
    assert not at.exception, at.exception
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert at.button(key="train_start").disabled


def test_valid_upload_is_described_before_training(open_page):
    at = upload_text(open_page(PAGE), TEXT.encode())
    assert not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Characters"] == f"{len(TEXT):,}"
    assert metrics["Distinct characters"] == str(len(set(TEXT)))
    assert any("def add(a, b)" in c.value for c in at.code)  # the preview
    assert not at.button(key="train_start").disabled


def test_short_run_completes_and_opens_on_step_through(open_page):
    at = upload_text(open_page(PAGE), TEXT.encode())
    tiny_sequence_settings(at)
    at.button(key="train_start").click().run()
    assert not at.exception, at.exception
    job = run_until_finished(at)
    assert job.state == "done", job.error
    assert "done" in at.get("progress")[0].proto.text
    spec = chart_spec(at)
    names = [t["name"] for t in spec["data"]]
    assert {"train (each step)", "train (smoothed)", "validation"} <= set(names)
    assert any("is ready" in s.value for s in at.success)
    name = "session:" + job.label
    assert name in at.session_state[SESSION_MODELS]
    assert at.session_state[SESSION_MODELS][name].card["corpus"]["name"] == "upload"
    assert any("Sample after step" in c.value for c in at.caption)
    # the result opens on the Step-through page, listed as this session's own model
    at.switch_page("pages/step.py").run()
    assert not at.exception, at.exception
    picker = at.selectbox(key="step_model")
    assert name in picker.options or job.label + " (yours)" in picker.options
    picker.set_value(name).run()
    assert not at.exception, at.exception


def test_pause_resume_stop_buttons(open_page):
    at = open_page(PAGE)
    at.selectbox(key="train_corpus").set_value("brackets").run()
    at.select_slider(key="train_hidden").set_value(16).run()
    at.button(key="train_start").click().run()
    job = at.session_state["train_run"].job
    deadline = time.monotonic() + 60
    while job.step < 3:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    at.run()
    at.button(key="train_pause").click().run()
    assert job.paused
    at.button(key="train_resume").click().run()
    assert not job.paused
    at.button(key="train_stop").click().run()
    job = run_until_finished(at)
    assert job.state == "stopped"
    assert at.button(key="train_start").disabled is False


def test_pixel_run_shows_image_samples(open_page):
    at = open_page(PAGE)
    at.segmented_control(key="train_family").set_value("PixelCNN").run()
    at.segmented_control(key="train_dataset").set_value("digits-8x8").run()
    at.select_slider(key="train_channels").set_value(16).run()
    at.slider(key="train_blocks").set_value(1).run()
    at.slider(key="train_pixel_epochs").set_value(1).run()
    at.toggle(key="train_jitter").set_value(True).run()
    at.button(key="train_start").click().run()
    job = run_until_finished(at)
    assert job.state == "done", job.error
    assert at.get("image"), "no sample grid"
    assert "test" in [t["name"] for t in chart_spec(at)["data"]]
    name = "session:" + job.label
    card = at.session_state[SESSION_MODELS][name].card
    assert card["kind"] == "pixelcnn" and card["training"]["augment_affine"] is True
    assert "-jitter" in job.label


def test_checkpoint_upload_bad_and_good(open_page):
    at = open_page(PAGE)
    up = at.file_uploader(key="train_ckpt")
    up.upload("weights.safetensors", b"\x80\x04not a checkpoint", "application/octet-stream")
    at.run()
    assert any("not a valid autoreg checkpoint" in e.value for e in at.error)
    assert any("never unpickles" in e.value for e in at.error)
    assert not at.session_state[SESSION_MODELS] if SESSION_MODELS in at.session_state else True

    from autoreg.pretrained import list_pretrained, load_checkpoint

    name = list_pretrained("sequence")[0]
    from autoreg.pretrained import ASSETS

    ckpt = load_checkpoint(ASSETS / f"{name}.safetensors")
    data = checkpoint_bytes(ckpt.tensors, ckpt.card)
    at.file_uploader(key="train_ckpt").upload("mine.safetensors", data, "application/octet-stream")
    at.run()
    assert not at.exception, at.exception
    assert any("Opened mine.safetensors" in s.value for s in at.success)
    assert "session:mine (uploaded)" in at.session_state[SESSION_MODELS]


def test_settings_come_from_the_url_for_shared_links(open_page):
    at = open_page(PAGE, train_corpus="python-code", train_cell="GRU", train_hidden="64")
    assert not at.exception, at.exception
    assert at.selectbox(key="train_corpus").value == "python-code"
    assert at.segmented_control(key="train_cell").value == "GRU"
    assert at.select_slider(key="train_hidden").value == 64
    assert not at.warning, [w.value for w in at.warning]
    bad = open_page(PAGE, train_corpus="no-such-corpus")
    assert any("train_corpus" in w.value for w in bad.warning)


# -- this browser's models and run, after a reload ----------------------------------------


@pytest.fixture
def as_browser(monkeypatch):
    """``as_browser(owner)``: later page loads come from a browser whose cookie holds
    ``owner`` (AppTest cannot send cookies; a new AppTest is a new page load)."""
    import autoreg.ui.browser_id as browser_id

    def use(owner: str) -> str:
        monkeypatch.setattr(browser_id, "cookie_id", lambda: owner)
        return owner

    return use


def _pretrained_bytes() -> bytes:
    from autoreg.pretrained import ASSETS, list_pretrained, load_checkpoint

    ckpt = load_checkpoint(ASSETS / f"{list_pretrained('sequence')[0]}.safetensors")
    return checkpoint_bytes(ckpt.tensors, ckpt.card)


def test_an_uploaded_model_comes_back_after_a_reload_in_this_browser_only(
    open_page, as_browser, kept_models
):
    from autoreg.store import new_owner_id

    a = as_browser(new_owner_id())
    at = open_page(PAGE)
    assert at.session_state["_browser_id"] == a
    up = at.file_uploader(key="train_ckpt")
    up.upload("mine.safetensors", _pretrained_bytes(), "application/octet-stream").run()
    assert any("kept on this server for this browser only" in s.value for s in at.success)
    assert len(list((kept_models / a).glob("*.safetensors"))) == 1  # on disk, for a
    # a reload: a new session of the same browser lists it again, read back from disk
    again = open_page("pages/step.py")
    assert not again.exception, again.exception
    kept = again.session_state[SESSION_MODELS]["session:mine (uploaded)"]
    assert (
        kept.key is not None
        and kept.model is not at.session_state[SESSION_MODELS]["session:mine (uploaded)"].model
    )
    # another browser never sees it
    as_browser(new_owner_id())
    other = open_page("pages/step.py")
    assert "session:mine (uploaded)" not in other.session_state[SESSION_MODELS]


def test_a_running_job_is_shown_again_after_a_reload_and_keeps_its_model(
    open_page, as_browser, kept_models
):
    from autoreg.jobs import RUNS
    from autoreg.store import new_owner_id

    owner = as_browser(new_owner_id())
    at = open_page(PAGE)
    at.selectbox(key="train_corpus").set_value("brackets").run()
    at.select_slider(key="train_hidden").set_value(16).run()
    at.slider(key="train_epochs").set_value(1).run()
    at.button(key="train_start").click().run()
    job = at.session_state["train_run"].job
    job.pause()  # still running when the page is reloaded
    reloaded = open_page(PAGE)  # same browser, new session: nothing in its session state
    assert not reloaded.exception, reloaded.exception
    assert reloaded.session_state["train_run"].job is job
    assert any(job.label in s.value for s in reloaded.subheader)
    assert reloaded.get("progress") and reloaded.button(key="train_resume")
    assert reloaded.button(key="train_start").disabled  # one run at a time per browser
    reloaded.button(key="train_resume").click().run()
    assert not job.paused
    job = run_until_finished(reloaded)
    assert job.state == "done", job.error
    assert isinstance(job.kept, str) and job.kept_error is None  # kept by the job thread
    assert (kept_models / owner / f"{job.kept}.safetensors").exists()
    assert "session:" + job.label in reloaded.session_state[SESSION_MODELS]
    # once the server has forgotten the run, the model is still this browser's
    RUNS.forget(owner)
    later = open_page("pages/step.py")
    assert "session:" + job.label in later.session_state[SESSION_MODELS]
    # and the next run goes on counting from it
    nxt = open_page(PAGE)
    assert nxt.session_state.get("train_run") is None
    nxt.selectbox(key="train_corpus").set_value("brackets").run()
    nxt.select_slider(key="train_hidden").set_value(16).run()
    nxt.slider(key="train_epochs").set_value(1).run()
    nxt.button(key="train_start").click().run()
    second = nxt.session_state["train_run"].job
    assert second.label.endswith(" #2") and job.label.endswith(" #1")
    second.stop()
    run_until_finished(nxt)


def test_another_browser_sees_neither_the_run_nor_its_model(open_page, as_browser):
    from autoreg.store import new_owner_id

    as_browser(new_owner_id())
    at = open_page(PAGE)
    at.selectbox(key="train_corpus").set_value("brackets").run()
    at.select_slider(key="train_hidden").set_value(16).run()
    at.button(key="train_start").click().run()
    job = at.session_state["train_run"].job
    as_browser(new_owner_id())
    other = open_page(PAGE)
    assert other.session_state.get("train_run") is None
    assert not other.get("progress") and other.button(key="train_start").disabled is False
    job.stop()
    assert job.join(60)


def test_a_damaged_kept_model_is_named_and_removed(open_page, as_browser, kept_models):
    from autoreg.store import new_owner_id

    owner = as_browser(new_owner_id())
    at = open_page(PAGE)
    up = at.file_uploader(key="train_ckpt")
    up.upload("mine.safetensors", _pretrained_bytes(), "application/octet-stream").run()
    (path,) = (kept_models / owner).glob("*.safetensors")
    path.write_bytes(path.read_bytes()[:-100])  # cut short on disk
    reloaded = open_page("pages/home.py")  # app.py's run, where kept models are read
    assert not reloaded.exception, reloaded.exception
    notes = [w.value for w in reloaded.warning]
    assert any("'mine (uploaded)' is damaged" in n and "deleted" in n for n in notes), notes
    assert not path.exists()
    assert "session:mine (uploaded)" not in reloaded.session_state[SESSION_MODELS]


def test_every_setting_opens_from_a_link(open_page):
    at = open_page(PAGE, train_lr="0.01", train_bptt="32", train_max_vocab="2000")
    assert not at.exception
    got = {k: at.select_slider(key=k).value for k in ("train_lr", "train_bptt", "train_max_vocab")}
    assert got == {"train_lr": 0.01, "train_bptt": 32, "train_max_vocab": 2000}
    assert not at.warning, [w.value for w in at.warning]
    size = {"train_size_mnist-5k": "28"}  # one image-size slider per data set
    px = open_page(PAGE, train_family="PixelCNN", train_dataset="mnist-5k", **size)
    assert not px.exception and px.select_slider(key="train_size_mnist-5k").value == 28
