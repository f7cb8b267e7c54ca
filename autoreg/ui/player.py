"""The in-browser player: one Components v2 component for every stepping view of the app.

Stepping is the core gesture of a demo, so it never waits for the server. A page that
steps over something already computed (a trace, a sampled text, a replayed image)
packs it once (``autoreg.seq.payload.pack``) and mounts ``player(view, payload, ...)``.
From then on the browser does everything that moves the cursor: previous/next buttons,
← →, Home/End, space for play/pause with a speed, and a slider whose dragging redraws
on every animation frame. Pause stops on the frame on screen.

Contract for a new stepping view (Generate text, Generate pixels, Memory, Masks)::

    autoreg/ui/static/<view>.js    registerView("<view>", {label, mount, render, stepName?})
    autoreg/ui/static/<view>.css   its styles (prefix every class; inside a shadow root)

- ``mount(root, payload, options, api)`` builds the view's DOM under ``root`` once per
  payload; ``render(root, payload, t, options)`` draws step ``t`` synchronously and
  cheaply (it runs on every slider frame). ``payload`` is ``{meta, arrays, specs}``
  decoded from the blob (typed arrays, no copies) with ``num(name, i)`` and
  ``str(name, i, decimals)``: print numbers only through ``str``, which formats the
  payload's own value exactly as Python's ``format`` does (``payload.fmt``), or reads
  the digits of a quantised array (``payload.quantise``).
- ``meta.n_steps`` is the number of steps; ``meta.id`` identifies the data (the same id
  again keeps the browser's cursor and whatever it fetched).
- ``options.cursor`` holds the view's URL state: ``step`` and ``speed`` belong to the
  player, every other field to the view, which changes them with ``api.set({...})``
  (unit, sub-step...). ``options.presenter`` is presenter mode: use larger type.
- ``api`` also gives ``colours`` (the app's diverging and sequential scales as lookup
  tables), ``tip`` (one tooltip for exact values on hover), ``go(t)``, ``lib`` (DOM,
  SVG and MathML builders, ``fmt``), and ``need({windows, units})`` for parts of the
  data not sent at first; they arrive through ``fetch`` and the view redraws.

On the Python side (Step through's ``autoreg/ui/stepper.py: show`` is the example)::

    blob = pack({"view": "gen", "id": digest, "n_steps": N, ...}, {"name": array, ...})
    cursor, notes = cursor_from_url(URL, fields, DEFAULTS)   # notes: st.warning them
    live = player("gen", blob, key="gen_player", url=URL, defaults=DEFAULTS,
                  options=player_options("gen_player", cursor, presenter=presenting()))

``url`` maps cursor fields to query parameters, ``defaults`` gives each field's default
(left out of the URL), and ``live`` is the cursor the page mounted. Arrays whose numbers
are printed go through ``payload.quantise`` (digits) or stay float32/float64 (formatted
exactly). ``files`` offers files made at the browser's cursor (``SavedFile``): their
buttons sit in the player's bar.

How the URL stays true without costing the server: the player writes its cursor into
the address bar itself (``history.replaceState``, once the cursor rests, and before any
click elsewhere on the page). Every Streamlit rerun sends the URL, so the server reads
the browser's cursor from ``st.query_params`` when it next runs, and a copied address
opens the same view. A step costs the server nothing. The server hears from the browser
only when the player asks for something: next to the player (the payload; megabytes),
inside a small ``st.fragment``, a tiny *channel* component forwards those requests as its
state (``channel.js``); only that fragment reruns and answers through the channel, with
more data (windows of a long text, another unit's details) or a file.

``standalone_html`` writes the same component code and a payload into one HTML file
that steps offline with no server (course material).

The views draw with plain SVG and canvas rather than the ``plotly.min.js`` that plotly's
wheel carries, because a frame must fit in a frame: in Chromium on a 2-core machine,
``Plotly.react`` of the five charts a Step through step moves (bars, a line with a
cursor, a scatter with a marker, a 256×120 heatmap, an embedding) took a median 55 ms
and a 90th percentile of 153 ms per frame, under 20 frames a second while the slider
drags, against the 30 the ``scrub_fps`` benchmark asks; the SVG views redraw within
the frame (51-60 fps there). The static plotly charts of the pages stay plotly.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
from plotly.colors import get_colorscale

from autoreg.seq.payload import annotate, pack
from autoreg.ui.chrome import freeze_imports
from autoreg.viz.common import ACCENT, CELL_COLOURS, DIVERGING, HIGHLIGHT, SEQUENTIAL

STATIC = Path(__file__).with_name("static")
SPEEDS = (1, 2, 4, 8, 16)  # steps per second
OPTIONS_MAGIC = b"ARPO"


def asset(name: str) -> str:
    """The text of one file in ``autoreg/ui/static`` (shipped inside the package)."""
    return (STATIC / name).read_text(encoding="utf-8")


def player_js(view: str) -> str:
    """The player shell and one view's renderer, as one script without an export."""
    return asset("player.js") + "\n" + asset(f"{view}.js") + "\n"


def player_css(view: str) -> str:
    return asset("player.css") + "\n" + asset(f"{view}.css")


@functools.cache
def _component(view: str):
    # One registration per view: the JS is a module whose default export mounts.
    return st.components.v2.component(
        f"autoreg_player_{view}",
        js=player_js(view) + "export default mountPlayer;\n",
        css=player_css(view),
    )


_channel = st.components.v2.component("autoreg_player_channel", js=asset("channel.js"))


def colours() -> dict:
    """The app's colour scales (``autoreg.viz.common``), for the browser to sample."""
    return {
        "diverging": [[float(p), c] for p, c in get_colorscale(DIVERGING)],
        "sequential": [[float(p), c] for p, c in get_colorscale(SEQUENTIAL)],
        "accent": ACCENT,
        "highlight": HIGHLIGHT,
    }


def mount_bytes(options: Mapping, payload: bytes) -> bytes:
    """What the component receives: ``b"ARPO" | u32 n | options JSON | pad | payload``."""
    head = json.dumps(options, ensure_ascii=False).encode()
    pad = b" " * (-(8 + len(head)) % 8)
    return b"".join([OPTIONS_MAGIC, struct.pack("<I", len(head)), head, pad, payload])


def split_mount(data: bytes) -> tuple[dict, bytes]:
    """The inverse of ``mount_bytes`` (tests read what a page mounted)."""
    if data[:4] != OPTIONS_MAGIC:
        raise ValueError("Not a player mount.")
    (n,) = struct.unpack("<I", data[4:8])
    return json.loads(data[8 : 8 + n]), data[8 + n + (-(8 + n) % 8) :]


def player_options(
    key: str,
    cursor: Mapping,
    *,
    presenter: bool = False,
    standalone: bool = False,
    speeds: Sequence[int] = SPEEDS,
    **extra: object,
) -> dict:
    """The options every view receives (see the module docstring)."""
    return {
        "key": key,
        "cursor": dict(cursor),
        "presenter": presenter,
        "standalone": standalone,
        "speeds": list(speeds),
        "speed": 2 if 2 in speeds else speeds[0],
        "colours": colours(),
        "cell_colours": CELL_COLOURS,
        **extra,
    }


def cursor_from_url(
    url: Mapping[str, str],
    fields: Mapping[str, Sequence],
    defaults: Mapping[str, object],
    held: Mapping[str, object] | None = None,
) -> tuple[dict, list[str]]:
    """The cursor a link asks for, checked: (cursor, notices about values it cannot take).

    ``fields`` maps each cursor field to the values it may take (a ``range`` for
    integers); a missing value takes the field's default. A bad value that came with a
    link gets a notice, its default, and is dropped from the URL so the address bar
    shows what the page shows. ``held`` is the cursor the page last mounted in this
    session (None on a link's first run): with it, the URL is the browser's own, and a
    value that no longer fits (a shorter text) is clamped without a notice.
    """
    cursor, notes = {}, []
    held = held or {}
    for field, param in url.items():
        allowed = fields[field]
        default = defaults[field]
        raw = st.query_params.get(param)
        value = default if raw is None else _parse(raw, allowed)
        if value is None:
            # Once the page has mounted its player in this session, the browser writes
            # the URL: a value that no longer fits (a shorter text) is its own, clamped.
            ours = field in held
            value = _clamp(raw, allowed) if ours else None
            if value is None:
                value = default
                if not ours:
                    notes.append(
                        f"The link asked for {param}={raw!r}, which this page cannot show; "
                        f"using {default!r} instead."
                    )
            st.query_params.pop(param, None)
        cursor[field] = value
    return cursor, notes


def _parse(raw: str, allowed: Sequence) -> object | None:
    if isinstance(allowed, range) or all(isinstance(a, int) for a in allowed):
        try:
            value = int(raw)
        except ValueError:
            return None
        return value if value in allowed else None
    return raw if raw in allowed else None


def _clamp(raw: str, allowed: Sequence) -> int | None:
    if not isinstance(allowed, range) or not len(allowed):
        return None
    try:
        return min(max(int(raw), allowed.start), allowed.stop - 1)
    except ValueError:
        return None


@dataclass(frozen=True)
class SavedFile:
    """A file the player offers at the browser's cursor, made on the server when clicked.

    A Streamlit download button cannot know where the browser's cursor is (stepping
    never tells the server), so the player's own button asks for it with the cursor.
    """

    label: str  # the button's text
    name: str  # the file name the browser saves
    mime: str
    make: Callable[[dict], bytes]  # the cursor (URL fields) -> the file's bytes
    help: str = ""
    size: str = ""  # printed beside the button, e.g. "780 kB"


def player(
    view: str,
    payload: bytes,
    *,
    key: str,
    options: Mapping,
    url: Mapping[str, str],
    defaults: Mapping[str, object],
    fetch: Callable[[dict], bytes | None] | None = None,
    files: Mapping[str, SavedFile] | None = None,
) -> dict:
    """Mount the player for ``view`` and its channel; return the cursor it starts at.

    ``payload`` is a blob from ``autoreg.seq.payload``; ``options`` from
    ``player_options`` (their ``cursor`` is where the browser starts, usually
    ``cursor_from_url``); ``fetch(need)`` answers the view's ``api.need`` with another
    blob of the same ``meta.id``; ``files`` are offered in the bar, made at the cursor.
    """
    files = dict(files or {})
    shown = [
        {"kind": k, "label": f.label, "help": f.help, "size": f.size} for k, f in files.items()
    ]
    options = {**options, "url": dict(url), "defaults": dict(defaults), "files": shown}
    _component(view)(key=key, data=mount_bytes(options, payload))
    holder = st.session_state.setdefault(f"{key}_cursor", {})
    holder.update(options["cursor"])  # one dict for the page's life: callbacks may hold it
    _sync(key, dict(url), dict(defaults), fetch, files)
    return holder


def reported(key: str) -> dict | None:
    """The channel's last report from the browser: ``{cursor, need, seq}`` or None."""
    state = st.session_state.get(f"{key}_sync")
    report = state.get("report") if hasattr(state, "get") else None
    return report if isinstance(report, Mapping) else None


def write_url(cursor: Mapping, url: Mapping[str, str], defaults: Mapping[str, object]) -> None:
    """Put the cursor into the query string in one message; defaults are left out."""
    qp = st.query_params
    changed = {}
    for field, param in url.items():
        if field not in cursor:
            continue
        value = cursor[field]
        if value == defaults.get(field):
            if param in qp:
                del qp[param]
        elif qp.get(param) != str(value):
            changed[param] = str(value)
    if changed:
        qp.update(changed)


def _noop() -> None:
    """The channel's state change needs a callback to be a state; the fragment reads it."""


def file_payload(key: str, seq: int, file: SavedFile, data: bytes) -> bytes:
    """A file's bytes as a channel answer: the player saves it under ``file.name``."""
    meta = {"player": key, "answer": seq, "file": file.name, "mime": file.mime}
    return pack(meta, {"bytes": np.frombuffer(data, dtype=np.uint8)})


@st.fragment
def _sync(key: str, url: dict, defaults: dict, fetch, files: dict) -> None:
    report = reported(key)
    answer: bytes | None = None
    if report:
        cursor = report.get("cursor") or {}
        if isinstance(cursor, Mapping):
            cursor = {f: cursor[f] for f in url if f in cursor}
            write_url(cursor, url, defaults)
            holder = st.session_state.setdefault(f"{key}_cursor", {})
            holder.update(cursor)
        else:
            cursor = {}
        seq = report.get("seq") or 0
        need = report.get("need") or {}
        done = st.session_state.get(f"{key}_answered")
        kind = need.get("file") if isinstance(need, Mapping) else None
        if seq != done and isinstance(kind, str) and kind in files:
            st.session_state[f"{key}_answered"] = seq
            answer = file_payload(key, seq, files[kind], files[kind].make(dict(cursor)))
        elif fetch is not None and seq != done and (need.get("windows") or need.get("units")):
            blob = fetch(need)
            st.session_state[f"{key}_answered"] = seq
            if blob is not None:
                answer = annotate(blob, player=key, answer=seq)
    _channel(
        key=f"{key}_sync",
        data=answer or pack({"player": key}, {}),
        default={"report": None},
        on_report_change=_noop,
    )
    # This small run is the only one a step causes; it must not pay Streamlit's full GC
    # over modules the page imported after app.py last froze the heap (chrome.py).
    freeze_imports()


def standalone_html(view: str, payload: bytes, options: Mapping, *, title: str, note: str) -> bytes:
    """One HTML file: the player, the view and the payload; it steps with no server.

    The payload goes in as base64 inside a ``<script type="application/octet-stream">``
    block, the code as it runs in the app (the module's export replaced by a call).
    """
    opts = {**options, "standalone": True}
    data = base64.b64encode(mount_bytes(opts, payload)).decode("ascii")
    return "".join(
        [
            '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
            f"<title>{html.escape(title)}</title>\n<style>\n",
            "body { margin: 20px auto; max-width: 1320px; padding: 0 18px; ",
            "font-family: 'Source Sans Pro', system-ui, sans-serif; color: #212529; }\n",
            ".arp-doc-title { font-size: 30px; margin: 4px 0; }\n",
            ".arp-doc-note { color: #495057; margin: 0 0 12px; }\n",
            player_css(view),
            "\n</style>\n</head>\n<body>\n",
            f'<h1 class="arp-doc-title">{html.escape(title)}</h1>\n',
            f'<p class="arp-doc-note">{html.escape(note)}</p>\n',
            '<div id="arp-root"></div>\n',
            f'<script type="application/octet-stream" id="arp-data">{data}</script>\n',
            '<script type="module">\n',
            player_js(view),
            'const text = document.getElementById("arp-data").textContent.trim();\n',
            "const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));\n",
            'mountPlayer({ data: bytes, parentElement: document.getElementById("arp-root") });\n',
            "</script>\n</body>\n</html>\n",
        ]
    ).encode("utf-8")


def size_label(n_bytes: int) -> str:
    """A file size as people read it: 780 kB, 2.6 MB."""
    if n_bytes < 1_000_000:
        return f"{max(1, round(n_bytes / 1000))} kB"
    return f"{n_bytes / 1_000_000:.1f} MB"
