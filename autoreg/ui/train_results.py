"""The Train page's results: the finished run's checkpoint, and opening uploaded ones.

A finished run's model is already this browser's own, kept on the server and in this
session's model lists (``adopt_finished_run``); here it gets links to the pages that can
open it and its checkpoint as a download (safetensors bytes with the card in the
header). An uploaded checkpoint is parsed by ``autoreg.checkpoints.parse_checkpoint``,
which reads safetensors only and refuses pickles, so opening a file from a stranger
cannot run code; it is then kept for this browser like a trained model.
"""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from autoreg.checkpoints import MAX_CHECKPOINT_BYTES, checkpoint_bytes, parse_checkpoint
from autoreg.pretrained import model_from_checkpoint
from autoreg.registry import PAGES
from autoreg.ui.models import add_session_model, kept_note, model_label
from autoreg.ui.train import USED_BY, Run, adopt_finished_run


def show_result(run: Run) -> None:
    """After the run: the error, or the model's place in this browser and its checkpoint."""
    job = run.job
    if job.state == "failed":
        st.error(f"Training failed: {job.error}", icon=":material/error:")
        with st.expander("Details (traceback)"):
            st.code(job.error_traceback, language=None)
        return
    name = adopt_finished_run()
    if name is None:
        return
    card = job.result.card
    st.success(
        f"**{job.label}** is ready: it is now listed as *{model_label(name)}* on the "
        f"pages below. {kept_note(name)}",
        icon=":material/check_circle:",
    )
    links = [p for p in PAGES if p.url_path in USED_BY[run.kind]]
    for col, spec in zip(st.columns(max(1, len(links))), links, strict=False):
        col.page_link(spec.path, label=f"Open in {spec.title}", icon=spec.icon)
    cached = st.session_state.get("train_ckpt_bytes")
    if cached is None or cached[0] != job.id:
        cached = (job.id, checkpoint_bytes(job.result.model.state_dict(), card))
        st.session_state["train_ckpt_bytes"] = cached
    blob = cached[1]
    show_scores(card)
    slug = job.label.replace(" #", "-").replace(" ", "-")
    c1 = c2 = st.container(horizontal=True)
    c1.download_button(
        "Download checkpoint (.safetensors)",
        blob,
        file_name=f"{slug}.safetensors",
        mime="application/octet-stream",
        key="train_download",
        on_click="ignore",
        type="primary",
        icon=":material/download:",
    )
    c2.download_button(
        "Download card (.json)",
        json.dumps(card, indent=2),
        file_name=f"{slug}.json",
        mime="application/json",
        key="train_download_card",
        on_click="ignore",
    )
    st.caption(
        f"{len(blob) / 1024:,.0f} KB, safetensors weights with the card in "
        "the header; open it again below or with `autoreg.load_checkpoint`."
    )


def show_scores(card: dict) -> None:
    """The final held-out loss beside the baselines the card records (lower is better)."""
    m = card.get("metrics", {})
    if card.get("kind") == "sequence":
        unit, rows = (
            "bits/token",
            [
                ("Validation loss", m.get("val_bits_per_token")),
                ("Bigram baseline", m.get("bigram_bits_per_token")),
                ("Unigram baseline", m.get("unigram_bits_per_token")),
            ],
        )
    else:
        unit, rows = (
            "bits/pixel",
            [
                ("Test loss", m.get("test_bits_per_dim")),
                ("Independent-pixel baseline", m.get("baseline_bits_per_dim")),
            ],
        )
    cols = st.columns(len(rows))
    for col, (label, value) in zip(cols, rows, strict=True):
        if value is not None:
            col.metric(f"{label} ({unit})", f"{value:.3f}")


def checkpoint_opener() -> None:
    """Upload a checkpoint to open it in this browser (validated; never unpickled)."""
    up = st.file_uploader(
        "Open a checkpoint (.safetensors from autoreg)",
        key="train_ckpt",
        max_upload_size=MAX_CHECKPOINT_BYTES // 2**20,  # the uploader shows our limit
    )
    if up is None:
        return
    opened = st.session_state.setdefault("train_opened", {})
    if up.file_id not in opened:
        try:
            ckpt = parse_checkpoint(up.getvalue())  # safetensors only: nothing is unpickled
            model = model_from_checkpoint(ckpt)  # what load_model_bytes does, keeping the card
        except Exception as exc:  # any bad file: say so, never crash the page
            opened[up.file_id] = (None, f"{up.name} is not a valid autoreg checkpoint: {exc}")
        else:
            label = f"{Path(up.name).stem} (uploaded)"
            opened[up.file_id] = (add_session_model(label, model, ckpt.card), None)
    name, error = opened[up.file_id]
    if error:
        st.error(error, icon=":material/error:")
    else:
        st.success(
            f"Opened {up.name}: listed as *{model_label(name)}* on the other pages. "
            + kept_note(name),
            icon=":material/check_circle:",
        )
