"""Models for the pages: shipped ones shared by every session, and this browser's own.

Shipped models are loaded once per server with ``st.cache_resource`` and shared by every
browser session, so they are used for inference only: never trained, never mutated (the
Train page works on its own copies).

Models trained or opened in a browser belong to that browser. Each is kept on the
server's disk (``autoreg.store``) under the browser's owner id (``autoreg.ui.browser_id``,
a cookie), so a reload, a bookmark or a link opened later in the same browser finds it
again, and no other browser ever lists it. In a session they are loaded into
``st.session_state`` under ``SESSION_MODELS``; app.py calls ``open_kept_models`` on every
run, which loads the ones this session has not seen yet (trained in another tab, or
before a reload). Every page lists shipped and own models through ``model_names`` and
opens either through ``get_model``.

Names: a shipped model is its asset name (``lstm-char-stdlib``); an own model is
``session:<label>`` and ``model_label`` shows it as "<label> (yours)".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import streamlit as st
import torch

from autoreg.pretrained import (
    list_pretrained,
    load_pretrained,
    model_from_checkpoint,
    pretrained_card,
)
from autoreg.store import MAX_AGE_SECONDS, STORE
from autoreg.ui.browser_id import browser_id, remember_browser

SESSION_MODELS = "train_session_models"  # session_state key: dict[name, SessionModel]
SESSION_PREFIX = "session:"
YOURS = " (yours)"  # how pickers mark this browser's own models
KEPT_DAYS = round(MAX_AGE_SECONDS / 86400)


@dataclass
class SessionModel:
    """A model that belongs to one browser (trained or opened there).

    Args:
        model: the module, in eval mode.
        card: its checkpoint card.
        key: its key in the server's store when it is kept there, else None.
        keep_error: why it could not be kept (it then lasts as long as the session).
    """

    model: torch.nn.Module
    card: dict
    key: str | None = None
    keep_error: str | None = None


@st.cache_resource(show_spinner="Loading the model…", max_entries=32)
def pretrained_model(name: str) -> torch.nn.Module:
    """A shipped model, shared by all sessions. Read-only: inference only."""
    model = load_pretrained(name)
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


@st.cache_data(show_spinner=False)
def _pretrained_cards() -> dict[str, dict]:
    return {name: pretrained_card(name) for name in list_pretrained()}


def _session_models() -> dict[str, SessionModel]:
    return st.session_state.setdefault(SESSION_MODELS, {})


def add_session_model(
    label: str,
    model: torch.nn.Module,
    card: dict,
    *,
    keep: bool = True,
    key: str | None = None,
    keep_error: str | None = None,
) -> str:
    """Make a model this browser's own; returns its name for ``get_model``.

    With ``keep`` (and no ``key`` yet) it is also saved in the server's store, so it
    survives a reload; a failure to save is recorded in ``keep_error``, not raised: the
    model still works in this session.
    """
    model.eval()
    if keep and key is None and keep_error is None:
        try:
            key = STORE.save(browser_id(), label, model.state_dict(), card).key
        except (ValueError, OSError) as exc:
            keep_error = str(exc)
    name = SESSION_PREFIX + label
    _session_models()[name] = SessionModel(model=model, card=card, key=key, keep_error=keep_error)
    return name


def session_model(name: str) -> SessionModel | None:
    """This browser's model ``name`` as loaded in this session, or None."""
    return _session_models().get(name)


def session_labels() -> list[str]:
    """Labels of this browser's models loaded in this session."""
    return [name[len(SESSION_PREFIX) :] for name in _session_models()]


def open_kept_models() -> None:
    """Called by app.py on every run: set the browser's cookie, load its kept models.

    Only models this session has not loaded yet are read (one folder listing per run
    otherwise). A kept file that cannot be opened is deleted and named in a warning.
    """
    remember_browser()
    owner = browser_id()
    models = _session_models()
    known = {sm.key for sm in models.values() if sm.key}
    try:
        if set(STORE.keys(owner)) <= known:
            return
        listed = STORE.list(owner)
    except OSError as exc:
        st.warning(f"The models kept for this browser cannot be read ({exc}).")
        return
    for entry in listed:
        if entry.key in known:
            continue
        try:
            if entry.error:
                raise ValueError(entry.error + " It was deleted.")
            model = model_from_checkpoint(STORE.load(owner, entry.key))
        except ValueError as exc:
            STORE.delete(owner, entry.key)
            st.warning(str(exc), icon=":material/error:")
            continue
        models[SESSION_PREFIX + entry.label] = SessionModel(model.eval(), entry.card, entry.key)


def kept_note(name: str) -> str:
    """One sentence on where model ``name`` lives, for the page that made it."""
    sm = session_model(name)
    if sm is not None and sm.key is None:
        why = f" ({sm.keep_error})" if sm.keep_error else ""
        return (
            f"It could not be kept on the server{why}, so it lasts until this tab is "
            "closed: download the checkpoint to keep it."
        )
    return (
        "It is kept on this server for this browser only (a reload or a link opened "
        f"here finds it; other browsers never see it) until {KEPT_DAYS} days after its "
        "last use."
    )


def model_names(kind: str, where=None) -> list[str]:
    """Shipped and own model names of one ``kind`` ("sequence" or "pixelcnn").

    ``where(card) -> bool`` narrows the list (e.g. character-level models, or the
    models of one synthetic task). Shipped models come first, in asset order.
    """
    names = [
        name
        for name, card in _pretrained_cards().items()
        if card.get("kind") == kind and (where is None or where(card))
    ]
    names += [
        name
        for name, sm in _session_models().items()
        if sm.card.get("kind") == kind and (where is None or where(sm.card))
    ]
    return names


def model_label(name: str) -> str:
    """How a model name is shown in pickers."""
    if name.startswith(SESSION_PREFIX):
        return name[len(SESSION_PREFIX) :] + YOURS
    return name


def run_number(label: str) -> int | None:
    """The run number of a Train page label (``"lstm-char-python-docs #3"`` -> 3)."""
    m = re.search(r" #(\d+)$", label)
    return int(m.group(1)) if m else None


def model_card(name: str) -> dict:
    """The JSON card of a shipped or own model."""
    if name.startswith(SESSION_PREFIX):
        return _session_models()[name].card
    return _pretrained_cards()[name]


def get_model(name: str) -> torch.nn.Module:
    """Open a shipped (shared, read-only) or own model by name, in eval mode."""
    if name.startswith(SESSION_PREFIX):
        sessions = _session_models()
        if name not in sessions:
            raise ValueError(
                f"{model_label(name)} is not among this browser's models (kept models are "
                f"deleted {KEPT_DAYS} days after their last use)."
            )
        return sessions[name].model
    return pretrained_model(name)
