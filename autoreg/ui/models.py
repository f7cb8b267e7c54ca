"""Models for the pages: shipped ones shared by every session, and this session's own.

Shipped models are loaded once per server with ``st.cache_resource`` and shared by every
browser session, so they are used for inference only: never trained, never mutated (the
Train page works on its own copies). Models trained or uploaded in a session live in
that session's ``st.session_state`` under ``SESSION_MODELS`` and are visible to no one
else. Every page lists both through ``model_names`` and opens either through ``get_model``.

Names: a shipped model is its asset name (``lstm-char-pydocs``); a session model is
``session:<label>`` and ``model_label`` shows it as "<label> (yours, this session)".
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
import torch

from autoreg.pretrained import list_pretrained, load_pretrained, pretrained_card

SESSION_MODELS = "train_session_models"  # session_state key: dict[name, SessionModel]
SESSION_PREFIX = "session:"


@dataclass
class SessionModel:
    """A model that belongs to one browser session (trained or uploaded there)."""

    model: torch.nn.Module
    card: dict


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


def add_session_model(label: str, model: torch.nn.Module, card: dict) -> str:
    """Register a model for this session only; returns its name for ``get_model``."""
    model.eval()
    name = SESSION_PREFIX + label
    _session_models()[name] = SessionModel(model=model, card=card)
    return name


def model_names(kind: str, where=None) -> list[str]:
    """Shipped and session model names of one ``kind`` ("sequence" or "pixelcnn").

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
        return f"{name[len(SESSION_PREFIX) :]} (yours, this session)"
    return name


def model_card(name: str) -> dict:
    """The JSON card of a shipped or session model."""
    if name.startswith(SESSION_PREFIX):
        return _session_models()[name].card
    return _pretrained_cards()[name]


def get_model(name: str) -> torch.nn.Module:
    """Open a shipped (shared, read-only) or session model by name, in eval mode."""
    if name.startswith(SESSION_PREFIX):
        sessions = _session_models()
        if name not in sessions:
            raise ValueError(f"{model_label(name)} is no longer in this session.")
        return sessions[name].model
    return pretrained_model(name)
