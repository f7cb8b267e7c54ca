"""Streamlit side of the Train page: settings widgets, the live run panel, checkpoints.

The run itself is an ``autoreg.jobs.TrainingJob`` (a daemon thread, no Streamlit inside)
registered in the server-wide ``autoreg.jobs.RUNS`` under this browser's owner id
(``autoreg.ui.browser_id``), so a reload or a second tab finds the running job and draws
it again; a fragment with ``run_every`` polls it, so clicking elsewhere or visiting
another page never interrupts training. When the run ends, the job thread itself keeps
the model in the server's store (``autoreg.store``) for this browser, and
``adopt_finished_run`` (called by the page and by the app frame on every page) adds it
to this session's model lists through ``autoreg.ui.models``.

A run lives in the threads of one server process. Behind a proxy with several replicas
(``deploy/``), a browser whose replica stops reconnects to another, which never had the
run. So the page also keeps a cookie naming the server process of the browser's unfinished
run (``remember_run``); a page served by another process reads it and says plainly that
the run was lost with its server (``lost_run``), unless its model was kept on a shared disk.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import secrets
from dataclasses import dataclass

import streamlit as st

from autoreg import lab
from autoreg.jobs import RUNS, SLOTS, Trained, TrainingJob
from autoreg.seq import corpora
from autoreg.store import STORE
from autoreg.ui.browser_id import browser_id, write_cookie
from autoreg.ui.chrome import plot, presenting
from autoreg.ui.models import (
    SESSION_PREFIX,
    add_session_model,
    run_number,
    session_labels,
    session_model,
)
from autoreg.ui.urlstate import url_widget
from autoreg.viz.train import image_grid, loss_figure

RUN = "train_run"  # session_state: this session's view of the browser's current Run
ADOPTED = "train_adopted"  # session_state: job id -> registered model name
RUN_COUNT = "train_run_count"
POLL_SECONDS = 1.0
UPLOAD_TEXT = "Upload a text file"
UPLOAD_RECIPES = "Upload recipe JSON (the book's format)"
PIXEL_SIZES = {"mnist-5k": [8, 12, 14, 16, 20, 28], "digits-8x8": [4, 6, 8]}
KIND_NAMES = {"PixelCNN": "pixelcnn", "Gated PixelCNN": "gated"}  # label -> config kind
USED_BY = {"sequence": ("step", "units", "generate", "memory"), "pixelcnn": ("pixels", "masks")}
SERVER_ID = secrets.token_hex(8)  # this server process, which holds its runs' threads
RUN_COOKIE = "autoreg_run"  # "<server id>.<job id>.<label, base64url>" of an unfinished run
RUN_COOKIE_KEY = "autoreg_run_cookie"
RUN_COOKIE_MAX_AGE = 24 * 3600  # longer than any run may train (autoreg.jobs.MAX_SECONDS)
LOST = "train_lost_run"  # session_state: label of this browser's run lost with its server
_RUN_TOKEN = re.compile(r"([0-9a-f]{16})\.([0-9]{1,12})\.([A-Za-z0-9_-]{1,400})")


@dataclass
class Run:
    """One training run of this browser and how to draw it."""

    job: TrainingJob
    kind: str  # "sequence" | "pixelcnn"
    unit: str  # "bits/token" | "bits/pixel"
    val_name: str  # "validation" | "test"
    reference: tuple[str, float]  # the uniform guess, drawn as a dashed line
    levels: int = 0  # PixelCNN levels, for the sample grid


@st.cache_resource(show_spinner="Loading the corpus…", max_entries=8)
def corpus_text(name: str) -> str:
    """A shipped corpus (read-only, shared by sessions)."""
    return corpora.load_corpus(name)


def current_run() -> Run | None:
    """This browser's current run: from the server's registry, so it outlives a reload."""
    found = RUNS.get(browser_id())
    if found is not None and isinstance(found[1], Run):
        st.session_state[RUN] = found[1]
    return st.session_state.get(RUN)


def remember_run(run: Run | None) -> None:
    """Keep in a cookie which server process trains this browser's run; forget it after.

    Written while the run is unfinished, deleted once it is over (its model is then kept
    in the store) or when there is none here; ``lost_run`` reads it on another server.
    """
    value = "" if run is None or run.job.finished else _run_token(run.job)
    write_cookie(RUN_COOKIE, value, RUN_COOKIE_MAX_AGE if value else 0, key=RUN_COOKIE_KEY)


def _run_token(job: TrainingJob) -> str:
    label = base64.urlsafe_b64encode(job.label.encode()[:300]).decode().rstrip("=")
    return f"{SERVER_ID}.{job.id}.{label}"


def _parse_run_token(value: object) -> tuple[str, str] | None:
    """(server id, run label) from the cookie's value, or None if it is not one."""
    found = _RUN_TOKEN.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(found[3] + "=" * (-len(found[3]) % 4))
    except (binascii.Error, ValueError):
        return None
    return found[1], raw.decode("utf-8", errors="replace")


def run_cookie() -> str | None:
    """The value of this browser's run cookie, as its page load sent it."""
    return st.context.cookies.get(RUN_COOKIE)


def lost_run() -> str | None:
    """The label of this browser's run that was training on a server that has stopped.

    The cookie of ``remember_run`` names another server process, this one has no run for
    the browser, and the store holds no model of that name (a run that ended in time was
    kept there, and replicas on one host, or with one shared folder, see it). Asked once
    per session; the page then shows it until another run starts.
    """
    if LOST not in st.session_state:
        token = _parse_run_token(run_cookie())
        lost = None
        if token is not None and token[0] != SERVER_ID and RUNS.get(browser_id()) is None:
            try:
                kept = {m.label for m in STORE.list(browser_id())}
            except OSError:
                kept = set()
            lost = None if token[1] in kept else token[1]
        st.session_state[LOST] = lost
    return st.session_state[LOST]


def show_lost_run(label: str) -> None:
    """Say plainly what was lost when the server training this browser's run stopped."""
    st.warning(
        f"**Your run {label} was lost.** It was training on a server that has stopped; "
        "this page has reconnected to another server, which never had it. Its progress and "
        "its model went with that server. Start it again below: your settings are in the "
        "address bar.",
        icon=":material/cloud_off:",
    )


def _next_number() -> int:
    """1 + the highest run number this browser has used (its kept models included)."""
    run = current_run()
    labels = [*session_labels(), *([run.job.label] if run is not None else [])]
    used = [n for n in map(run_number, labels) if n is not None]
    st.session_state[RUN_COUNT] = max([st.session_state.get(RUN_COUNT, 0), *used]) + 1
    return st.session_state[RUN_COUNT]


def _keeper(owner: str, label: str):
    """What the job thread calls with its result: keep the model for this browser."""

    def keep(result: Trained) -> str:
        return STORE.save(owner, label, result.model.state_dict(), result.card).key

    return keep


def _start(task, spec, source: str, **view) -> Run:
    owner = browser_id()
    label = lab.run_label(spec, source, _next_number())
    job = TrainingJob(task, label, on_result=_keeper(owner, label))
    run = Run(job, **view)
    RUNS.put(owner, job, run)  # before start: a reload at once still finds it
    st.session_state[LOST] = None  # a run lost with another server: this one replaces it
    job.start()
    st.session_state[RUN] = run
    return run


def start_sequence_run(spec: lab.SequenceSpec, text: str, source: str) -> Run:
    """Check the caps, then start a sequence-model run in the background."""
    task = lab.sequence_task(spec, text, source)  # raises ValueError on a broken cap
    vocab = lab.vocabulary(text[: lab.MAX_TRAIN_CHARS], spec.tokenizer, spec.max_vocab)
    ref = ("uniform guess", math.log2(vocab))
    view = {"kind": "sequence", "unit": "bits/token", "val_name": "validation"}
    return _start(task, spec, source, reference=ref, **view)


def start_pixel_run(spec: lab.PixelSpec) -> Run:
    """Check the caps, then start a PixelCNN run in the background."""
    task = lab.pixel_task(spec)
    ref = ("uniform guess", math.log2(spec.levels))
    view = {"kind": "pixelcnn", "unit": "bits/pixel", "val_name": "test"}
    return _start(task, spec, spec.dataset, reference=ref, levels=spec.levels, **view)


def adopt_finished_run() -> str | None:
    """Add the finished run's model to this session's model lists (once); its name.

    The job thread has already kept it in the store (``job.kept`` is its key), so this
    only hands the trained module to the session instead of reading it back from disk.
    """
    run = current_run()
    if run is None or run.job.result is None or not run.job.finished:
        return None
    job = run.job
    name = SESSION_PREFIX + job.label
    adopted = st.session_state.setdefault(ADOPTED, {})
    if adopted.get(job.id) != name or session_model(name) is None:
        adopted[job.id] = add_session_model(
            job.label,
            job.result.model,
            job.result.card,
            keep=False,
            key=job.kept if isinstance(job.kept, str) else None,
            keep_error=job.kept_error,
        )
    return adopted[job.id]


def sequence_settings() -> tuple[lab.SequenceSpec, str, str] | None:
    """Widgets for a sequence-model run: (spec, text, source name), or None without text."""
    sources = [*corpora.list_corpora(), UPLOAD_TEXT, UPLOAD_RECIPES]
    source = url_widget(
        st.selectbox,
        "Text to learn",
        sources,
        key="train_corpus",
    )
    if source in corpora.CORPORA:
        st.caption(corpora.CORPORA[source].description)
    # one row that wraps: segmented buttons never squeeze into a column narrower than them
    row = st.container(horizontal=True, gap="medium")
    cell = url_widget(
        row.segmented_control,
        "Cell",
        ["RNN", "LSTM", "GRU"],  # plain labels: the URL holds what the button shows
        default="LSTM",
        key="train_cell",
        required=True,
    ).lower()
    tokens = url_widget(
        row.segmented_control,
        "Tokens",
        ["char", "word"],
        default="char",
        key="train_tokens",
        required=True,
    )
    layers = url_widget(
        row.segmented_control, "Layers", [1, 2, 3], default=1, key="train_layers", required=True
    )
    c1, c2 = st.columns(2)  # two sliders a row: three would squeeze their thumbs together
    c3 = st.columns(2)[0]
    hidden = url_widget(
        c1.select_slider, "Hidden units", [16, 32, 64, 128, 256, 512], value=128, key="train_hidden"
    )
    embed = url_widget(
        c2.select_slider, "Embedding size", [8, 16, 32, 64, 100, 128], value=32, key="train_embed"
    )
    epochs = url_widget(c3.slider, "Epochs", 1, lab.MAX_EPOCHS, 8, key="train_epochs")
    spec = lab.SequenceSpec(
        cell=cell,
        tokenizer=tokens,
        embed_size=embed,
        hidden_size=hidden,
        num_layers=layers,
        epochs=epochs,
    )
    if not presenting():
        with st.expander("More settings"):
            c1, c2, c3 = st.columns(3)
            lr = url_widget(
                c1.select_slider,
                "Learning rate",
                [3e-4, 1e-3, 3e-3, 1e-2],
                value=3e-3,
                key="train_lr",
                format_func=lambda v: f"{v:g}",
            )
            bptt = url_widget(
                c2.select_slider, "Tokens per BPTT window", [16, 32, 64, 128], value=64,
                key="train_bptt",
            )  # fmt: skip
            vocab = url_widget(
                c3.select_slider,
                "Word vocabulary cap",
                [500, 1000, 2000, 5000, 10000],
                value=5000,
                key="train_max_vocab",
            )
            spec = lab.SequenceSpec(
                **{**lab.spec_dict(spec), "lr": lr, "bptt": bptt, "max_vocab": vocab}
            )
    if source in corpora.CORPORA:
        return spec, corpus_text(source), source
    summary = text_upload(recipes=source == UPLOAD_RECIPES)
    if summary is None:
        return None
    return spec, summary.text, "recipes" if source == UPLOAD_RECIPES else "upload"


def text_upload(recipes: bool) -> lab.TextSummary | None:
    """An uploader whose file is checked and described before any training."""
    label = "Recipe JSON file" if recipes else "UTF-8 text file"
    data = st.file_uploader(
        label,
        type=["json"] if recipes else None,
        key=f"train_upload_{'recipes' if recipes else 'text'}",
        max_upload_size=corpora.MAX_USER_BYTES // 2**20,  # the uploader shows our limit
    )
    if data is None:
        st.info(f"Upload a {label.lower()} (up to {corpora.MAX_USER_BYTES // 2**20} MB).")
        return None
    try:
        s = lab.inspect_upload(data.getvalue(), recipes=recipes)
    except ValueError as exc:
        st.error(f"{data.name}: {exc}", icon=":material/error:")
        return None
    c = st.columns(4)
    c[0].metric("Size", f"{s.n_bytes / 1024:,.1f} KB")
    c[1].metric("Characters", f"{s.n_chars:,}", help=f"{s.n_chars_used:,} used for training")
    c[2].metric("Distinct characters", s.n_distinct_chars, help="the char-level vocabulary")
    c[3].metric("Distinct words", f"{s.n_distinct_words:,}", help=f"of {s.n_words:,} words")
    st.caption("Preview of the first characters:")
    st.code(s.preview, language=None, wrap_lines=True)
    return s


def pixel_settings() -> lab.PixelSpec:
    """Widgets for a PixelCNN run."""
    row = st.container(horizontal=True, gap="medium")  # wraps when the column is narrow
    kind = url_widget(
        row.segmented_control,
        "Model",
        list(KIND_NAMES),
        default="PixelCNN",
        key="train_pixel_kind",
        required=True,
    )
    dataset = url_widget(
        row.segmented_control,
        "Images",
        list(PIXEL_SIZES),
        default="mnist-5k",
        key="train_dataset",
        required=True,
    )
    sizes = PIXEL_SIZES[dataset]
    c1, c2, c3, c4 = st.columns(4)
    size = url_widget(
        c1.select_slider, "Image size", sizes, value=16 if 16 in sizes else sizes[-1],
        key=f"train_size_{dataset}",
    )  # fmt: skip
    levels = url_widget(c2.select_slider, "Levels", [2, 4, 8, 16], value=4, key="train_levels")
    channels = url_widget(
        c3.select_slider, "Channels", [16, 32, 48, 64, 96, 128], value=48, key="train_channels"
    )
    blocks = url_widget(c4.slider, "Blocks", 1, 8, 4, key="train_blocks")
    epochs = url_widget(st.slider, "Epochs", 1, lab.MAX_EPOCHS, 8, key="train_pixel_epochs")
    jitter = url_widget(
        st.toggle,
        "Jitter the training digits",
        key="train_jitter",
        help="Each step rotates every digit by up to ±10°, zooms it by up to ±10% and moves "
        "it a little, at full size, before pooling and quantising. The model sees more "
        "varied digits: it learns more slowly but overfits less. The shipped plain "
        "PixelCNNs were trained this way (`--augment-affine`).",
    )
    return lab.PixelSpec(
        kind=KIND_NAMES[kind],
        dataset=dataset,
        size=size,
        levels=levels,
        channels=channels,
        n_blocks=blocks,
        epochs=epochs,
        jitter=jitter,
    )


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def progress_text(run: Run) -> str:
    p = run.job.progress()
    parts = [
        p.state,
        f"step {p.step:,}/{p.total_steps:,}",
        f"epoch {p.epoch}",
        f"{_clock(p.elapsed)} trained",
    ]
    if p.state == "queued":
        return f"queued: {SLOTS.busy} of {SLOTS.n} training slots on this server are busy"
    if p.eta is not None and p.state in ("running", "paused"):
        parts.append(f"about {_clock(p.eta)} left")
    if p.time_capped:
        parts.append(f"stopped at the {_clock(p.max_seconds)} cap")
    return " · ".join(parts)


def show_run(run: Run) -> None:
    """Progress bar, controls, live loss curves and the latest samples (polled)."""
    job = run.job
    polling = not job.finished  # a run already over when the page drew it needs no rerun

    @st.fragment(run_every=POLL_SECONDS if polling else None)
    def panel() -> None:
        st.progress(job.progress().fraction, text=progress_text(run))
        row = st.container(horizontal=True)
        if not job.finished:
            if job.paused:  # callbacks act before the redraw, so the label is current
                row.button(
                    "Resume",
                    key="train_resume",
                    icon=":material/play_arrow:",
                    on_click=job.resume,
                )
            else:
                row.button(
                    "Pause",
                    key="train_pause",
                    icon=":material/pause:",
                    on_click=job.pause,
                )
            row.button("Stop", key="train_stop", icon=":material/stop:", on_click=job.stop)
        train, val = job.history()
        fig = loss_figure(train, val, unit=run.unit, val_name=run.val_name, reference=run.reference)
        chart, sample = st.columns([3, 2], gap="medium")
        plot(where=chart, fig=fig, width="stretch", key="train_loss_chart")
        samples = job.latest_samples()
        if not samples:
            sample.caption("Samples appear here as the model trains.")
        else:
            s = samples[-1]
            caption = f"Sample after step {s.step:,} ({_clock(s.seconds)} of training)"
            if run.kind == "sequence":
                sample.caption(caption + ", temperature 0.8:")
                sample.code(s.value, language=None, wrap_lines=True)
            else:
                sample.image(
                    image_grid(s.value, run.levels),
                    caption=caption,
                    output_format="PNG",
                    width="stretch",
                )
        if polling and job.finished and st.session_state.get("train_seen_finished") != job.id:
            st.session_state["train_seen_finished"] = job.id
            st.rerun()  # a full rerun switches polling off and shows the result

    panel()
