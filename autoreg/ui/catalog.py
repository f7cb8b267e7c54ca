"""The shipped models as a table, read from their JSON cards (cached for all sessions)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from autoreg.pretrained import list_pretrained, pretrained_card

BASELINES = {  # what the baseline column compares with, named on every row
    "sequence": "bigram: next token from the last one",
    "pixelcnn": "each pixel alone: its level frequencies",
}


def _metric(card: dict) -> tuple[str, float | None, float | None]:
    """(unit, model value, baseline value) for the headline metric of a card."""
    m = card.get("metrics", {})
    if card.get("kind") == "sequence":
        return "bits/token (val)", m.get("val_bits_per_token"), m.get("bigram_bits_per_token")
    return "bits/dim (test)", m.get("test_bits_per_dim"), m.get("baseline_bits_per_dim")


@st.cache_data(show_spinner=False)
def shipped_models_table() -> pd.DataFrame:
    """One row per shipped model: name, family, data, size, headline metric, baseline."""
    rows = []
    for name in list_pretrained():
        card = pretrained_card(name)
        unit, value, baseline = _metric(card)
        cfg = card.get("config", {})
        data = card.get("corpus") or card.get("dataset") or ""
        if isinstance(data, dict):
            data = data.get("name", "")
        rows.append(
            {
                "model": name,
                "family": cfg.get("cell") or cfg.get("kind") or card.get("kind"),
                "data": data,
                "parameters": card.get("num_params"),
                "metric": unit,
                "model value": value,
                "baseline": baseline,
                "baseline is": BASELINES.get(card.get("kind"), ""),
            }
        )
    return pd.DataFrame(rows)
