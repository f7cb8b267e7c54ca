"""Streamlit helpers of the Masks page: the chosen pixel kept in the URL, and the raster
order stepped in the browser (``autoreg.ui.player``, view ``static/masks.js``).

The chosen pixel is set by clicks on the receptive-field charts (plotly selections), not
by a widget, so it is written to the query string here (``masks_row``, ``masks_col``)
and read back from a link on a session's first run, with a notice for a pixel the canvas
does not have.
"""

from __future__ import annotations

import streamlit as st
import torch

from autoreg.pixelcnn.replay import raster_payload
from autoreg.ui import player as pp
from autoreg.ui.pixels import clicked_pixel
from autoreg.ui.urlstate import notice

PIXEL_URL = ("masks_row", "masks_col")
RASTER_KEY = "masks_raster_player"
RASTER_URL = {"step": "masks_raster", "speed": "masks_raster_speed"}
RASTER_SPEEDS = (4, 8, 16, 32, 64)  # pixels per second


def chosen_pixel(key: str, size: int, picks: tuple[str, ...]) -> tuple[int, int]:
    """The pixel chosen on the Masks page: from the link at first, then from clicks on
    the charts ``picks``; kept in ``st.session_state[key]`` and in the URL."""
    s = st.session_state
    default = (size // 2, size // 2)
    if key not in s:
        raw = [st.query_params.get(p) for p in PIXEL_URL]
        value = default
        if any(r is not None for r in raw):
            try:
                row, col = (
                    int(r) if r is not None else d for r, d in zip(raw, default, strict=True)
                )
            except ValueError:
                row, col = -1, -1
            if 0 <= row < size and 0 <= col < size:
                value = (row, col)
            else:
                asked = ", ".join(f"{p}={r}" for p, r in zip(PIXEL_URL, raw, strict=True) if r)
                notice(f"The link asked for the pixel {asked}, which a {size}×{size} canvas "
                       f"does not have; using {default} instead.")  # fmt: skip
        s[key] = value
    for pick in picks:
        new = clicked_pixel(pick)
        if new is not None:
            s[key] = new
    row, col = s[key]
    for param, v, d in zip(PIXEL_URL, (row, col), default, strict=True):
        if v == d:
            if param in st.query_params:
                del st.query_params[param]
        elif st.query_params.get(param) != str(v):
            st.query_params[param] = str(v)
    return int(row), int(col)


def raster_player(image: torch.Tensor, levels: int, *, present: bool) -> list[str]:
    """The raster order of ``image`` stepped in the browser; returns link notices."""
    size = int(image.shape[-1])
    n = size * size
    defaults = {"step": n // 3, "speed": 16}
    fields = {"step": range(n + 1), "speed": RASTER_SPEEDS}
    held = st.session_state.get(f"{RASTER_KEY}_cursor")
    cursor, notes = pp.cursor_from_url(RASTER_URL, fields, defaults, held)
    options = pp.player_options(
        RASTER_KEY, cursor, presenter=present, speeds=RASTER_SPEEDS, speed=16, burst=4,
        speed_unit="pixels/s",
    )  # fmt: skip
    pp.player("masks", raster_payload(image, levels), key=RASTER_KEY, options=options,
              url=RASTER_URL, defaults=defaults)  # fmt: skip
    return notes
