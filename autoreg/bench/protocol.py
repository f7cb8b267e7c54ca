"""Streamlit's own websocket protocol, spoken by a load client that costs what a student costs.

A browser tab costs the server the messages it sends, not the pixels it draws. So the
classroom benchmark (``autoreg.bench.load``) drives the server with clients that speak
the browser's protocol and draw nothing: protobuf ``BackMsg`` frames to
``/_stcore/stream``, ``ForwardMsg`` frames back, both from the ``streamlit`` package.
What a client sends is what Streamlit 1.67's frontend sends (read from its bundle and
``web/server/starlette/starlette_websocket.py``):

- **Connect.** A websocket with subprotocols ``["streamlit", <XSRF token>, <session
  id>?]``; the token only unlocks auth cookies, so a client without cookies sends the
  frontend's own ``PLACEHOLDER_AUTH_TOKEN``. Same-origin ``Origin`` header.
- **Open a link.** ``rerun_script`` with the link's query string, ``page_name`` = the
  URL path, an empty ``page_script_hash`` and the context (URL, time zone, locale). The
  server answers ``new_session``, ``navigation`` (the pages and their hashes), deltas,
  and ``script_finished``.
- **Change a widget.** ``rerun_script`` with the current page's hash, the query
  string the server last wrote (``page_info_changed``), and the state of every widget on
  the page, the changed one with its new value; a widget inside a fragment reruns only
  that fragment (``fragment_id``).
- **Open another page from the menu.** ``rerun_script`` with the target page's hash,
  the sidebar's widget states and the query parameters those widgets own.
- **Cache.** Deltas of 10 kB or more carry a hash; the client keeps them for
  ``max_cached_message_age`` runs and lists their hashes in every rerun, and the server
  sends a reference (``ref_hash``) instead of the bytes, as it does for a browser.
- **Auto reruns.** A fragment with ``run_every`` arrives as ``auto_rerun``; the client
  reruns it on that clock between its own actions (``is_auto_rerun``).

Widgets are found by their user key, which Streamlit embeds in the element id
(``$$ID-<hash>-<key>``), and take values of their own wire type (``WidgetState``).
The app's in-browser player (``autoreg.ui.player``) is read from its mount bytes, so a
client can ask the server what the browser would ask when it steps (windows of a long
trace, a unit's details, a file), through the player's channel component.

A rerun's time runs from sending its ``BackMsg`` to the ``script_finished`` that ends
it (runs the script restarts itself, ``st.rerun``, included). Errors: exception
elements, ``page_not_found``, a compile error, a disconnect, a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import re
import struct
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

STREAM_PATH = "/_stcore/stream"
SUBPROTOCOL = "streamlit"
NO_XSRF_TOKEN = "PLACEHOLDER_AUTH_TOKEN"  # what the frontend sends without a cookie
ID_PREFIX = "$$ID"
PLAYER_PREFIX = "autoreg_player_"  # component names of autoreg.ui.player's views
CHANNEL = "autoreg_player_channel"
MOUNT_MAGIC = b"ARPO"  # autoreg.ui.player.mount_bytes
PAYLOAD_MAGIC = b"ARP1"  # autoreg.seq.payload.pack
CONTEXT = {"timezone": "UTC", "timezone_offset": 0, "locale": "en-US", "color_scheme": "light"}

FINISHED = ForwardMsg.ScriptFinishedStatus
DONE = (
    FINISHED.FINISHED_SUCCESSFULLY,
    FINISHED.FINISHED_WITH_COMPILE_ERROR,
    FINISHED.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
)
SIDEBAR = 1  # delta_path[0]: 0 main, 1 sidebar, 2 event, 3 bottom


def user_key(element_id: str) -> str | None:
    """The key a page gave a widget, from its element id (``$$ID-<hash>-<key>``)."""
    if not element_id.startswith(ID_PREFIX + "-"):
        return None
    key = element_id.split("-", 2)[-1]
    return None if key == "None" else key


# -- values -------------------------------------------------------------------------------


@dataclass
class Widget:
    """One widget on the page, as its delta described it."""

    id: str
    kind: str  # the Element oneof: selectbox, slider, text_input, button, bidi_component...
    key: str | None
    fragment_id: str = ""
    sidebar: bool = False
    options: tuple[str, ...] = ()
    value: tuple[str, Any] | None = None  # (WidgetState field, value) as the browser holds it
    query_key: str | None = None
    low: float | None = None
    high: float | None = None
    step: float | None = None
    integer: bool = False
    disabled: bool = False
    component: str = ""  # bidi components: their registered name


def _slider_values(p) -> tuple[str, Any]:
    if p.type == p.Type.SELECT_SLIDER:
        chosen = list(p.value if p.set_value else p.default)
        return "string_array_value", [p.options[int(i)] for i in chosen if 0 <= i < len(p.options)]
    return "double_array_value", list(p.value if p.set_value else p.default)


def _chosen(p) -> tuple[str, Any] | None:
    """Select box and radio: the formatted option on screen (``raw_value`` once set)."""
    if p.set_value and p.HasField("raw_value"):
        return "string_value", p.raw_value
    if p.HasField("default") and 0 <= p.default < len(p.options):
        return "string_value", p.options[p.default]
    return None


def widget_of(element, fragment_id: str = "", delta_path: Iterable[int] = ()) -> Widget | None:
    """The widget an Element holds (None for elements that are not widgets)."""
    kind = element.WhichOneof("type")
    if kind is None:
        return None
    p = getattr(element, kind)
    wid = p.id if "id" in p.DESCRIPTOR.fields_by_name else ""
    if not isinstance(wid, str) or not wid.startswith(ID_PREFIX):
        return None
    path = list(delta_path)
    w = Widget(
        id=wid,
        kind=kind,
        key=user_key(wid),
        fragment_id=fragment_id,
        sidebar=bool(path) and path[0] == SIDEBAR,
        disabled=bool(getattr(p, "disabled", False)),
    )
    if "query_param_key" in p.DESCRIPTOR.fields_by_name and p.HasField("query_param_key"):
        w.query_key = p.query_param_key
    if kind in ("selectbox", "radio"):
        w.options, w.value = tuple(p.options), _chosen(p)
    elif kind == "button_group":
        w.options = tuple(o.content for o in p.options)
        raw = list(p.raw_values) if p.set_value else [w.options[i] for i in p.default]
        w.value = ("string_array_value", raw)
    elif kind == "checkbox":
        w.value = ("bool_value", bool(p.value if p.set_value else p.default))
    elif kind in ("text_input", "text_area"):
        text = p.value if p.set_value and p.HasField("value") else p.default
        w.value = ("string_value", text) if p.HasField("default") or p.set_value else None
    elif kind == "slider":
        w.options, w.value = tuple(p.options), _slider_values(p)
        w.low, w.high, w.step = p.min, p.max, p.step
        w.integer = p.data_type == p.DataType.INT
    elif kind == "number_input":
        number = p.value if p.set_value and p.HasField("value") else p.default
        has = p.HasField("default") or (p.set_value and p.HasField("value"))
        w.value = ("double_value", float(number)) if has else None
        w.low = p.min if p.has_min else None
        w.high = p.max if p.has_max else None
        w.step, w.integer = p.step, p.data_type == p.DataType.INT
    elif kind == "bidi_component":
        w.component = p.component_name
    return w


def widget_state(widget: Widget, value: Any) -> WidgetState:
    """The ``WidgetState`` a browser sends for ``widget`` holding ``value``.

    Values: a select box or radio takes the formatted option (a string); a slider a
    list of numbers (a select slider a list of options); a segmented control a list of
    options; a checkbox or toggle a bool; a number input a float; text a string; a
    button True (a trigger); a component its state as a dict (sent as JSON).
    """
    state = WidgetState(id=widget.id)
    kind = widget.kind
    if kind in ("button", "download_button"):
        state.trigger_value = True
    elif kind in ("selectbox", "radio", "text_input", "text_area"):
        state.string_value = str(value)
    elif kind == "checkbox":
        state.bool_value = bool(value)
    elif kind == "number_input":
        state.double_value = float(value)
    elif kind == "slider":
        values = list(value) if isinstance(value, list | tuple) else [value]
        if widget.options:
            state.string_array_value.data.extend(str(v) for v in values)
        else:
            state.double_array_value.data.extend(float(v) for v in values)
    elif kind == "button_group":
        values = list(value) if isinstance(value, list | tuple) else [value]
        state.string_array_value.data.extend(str(v) for v in values)
    elif kind in ("bidi_component", "plotly_chart"):
        state.json_value = json.dumps(value)
    else:
        raise ValueError(f"No wire value for a {kind} widget.")
    return state


def _held_state(widget: Widget) -> WidgetState | None:
    """The state of a widget the user has not touched: the value it shows."""
    if widget.value is None:
        return None
    field_name, value = widget.value
    state = WidgetState(id=widget.id)
    if field_name == "string_value":
        state.string_value = value
    elif field_name == "bool_value":
        state.bool_value = value
    elif field_name == "double_value":
        state.double_value = value
    elif field_name == "double_array_value":
        state.double_array_value.data.extend(value)
    elif field_name == "string_array_value":
        state.string_array_value.data.extend(value)
    else:
        return None
    return state


def url_value(widget: Widget, value: Any) -> list[str]:
    """What a query-bound widget writes into the address bar for ``value``."""
    values = list(value) if isinstance(value, list | tuple) else [value]
    out = []
    for v in values:
        if isinstance(v, bool):
            out.append("true" if v else "false")
        elif isinstance(v, float) and widget.integer and v.is_integer():
            out.append(str(int(v)))
        else:
            out.append(str(v))
    return out


# -- messages -----------------------------------------------------------------------------


def rerun_message(
    *,
    query_string: str = "",
    page_script_hash: str = "",
    page_name: str = "",
    widgets: Iterable[WidgetState] = (),
    fragment_id: str = "",
    is_auto_rerun: bool = False,
    cached: Iterable[str] = (),
    url: str = "",
) -> bytes:
    """The ``BackMsg`` a browser sends to run the script, serialized.

    A link's first run names the page by its path (``page_name``) with no hash; every
    later run names it by hash, as the server gave it in ``navigation``.
    """
    msg = BackMsg()
    cs = msg.rerun_script
    cs.query_string = query_string
    cs.page_script_hash = page_script_hash
    cs.page_name = page_name
    cs.fragment_id = fragment_id
    cs.is_auto_rerun = is_auto_rerun
    cs.widget_states.widgets.extend(widgets)
    cs.cached_message_hashes.extend(cached)
    ctx = cs.context_info
    ctx.timezone = CONTEXT["timezone"]
    ctx.timezone_offset = CONTEXT["timezone_offset"]
    ctx.locale = CONTEXT["locale"]
    ctx.color_scheme = CONTEXT["color_scheme"]
    ctx.url = url
    ctx.is_embedded = False
    return msg.SerializeToString()


def parse_forward(data: bytes) -> ForwardMsg:
    msg = ForwardMsg()
    msg.ParseFromString(data)
    return msg


# -- the app's player -----------------------------------------------------------------------


def _payload_header(blob: bytes) -> dict | None:
    """The JSON header of an ``autoreg.seq.payload`` blob: {meta, arrays}."""
    if len(blob) < 8 or blob[:4] != PAYLOAD_MAGIC:
        return None
    (n,) = struct.unpack("<I", blob[4:8])
    return json.loads(blob[8 : 8 + n])


def read_mount(data: bytes) -> tuple[dict, dict] | None:
    """A player's mount (``autoreg.ui.player.mount_bytes``): (options, payload header)."""
    if len(data) < 8 or data[:4] != MOUNT_MAGIC:
        return None
    (n,) = struct.unpack("<I", data[4:8])
    options = json.loads(data[8 : 8 + n])
    header = _payload_header(data[8 + n + (-(8 + n) % 8) :])
    return options, header or {"meta": {}, "arrays": {}}


@dataclass
class Player:
    """What a client knows of a player on the page: enough to ask what its browser asks."""

    key: str  # the component key, e.g. "step_player"
    view: str
    id: str  # meta.id: the data it steps over
    n_steps: int
    cursor: dict
    window: int = 0  # steps per window of per-step parts (0: everything came at once)
    windows: int = 0
    units: int = 0  # units a view can show one by one (Step through's cell diagram)
    parts: set[str] = field(default_factory=set)  # array names the browser holds
    files: tuple[str, ...] = ()
    url: dict = field(default_factory=dict)  # cursor field -> query parameter
    defaults: dict = field(default_factory=dict)  # cursor field -> value left out of the URL
    seq: int = 0  # the last request's number

    def has_window(self, k: int) -> bool:
        return any(p.startswith(f"w{k}:") for p in self.parts)

    def has_unit(self, u: int) -> bool:
        return any(p.startswith(f"u{u}:") for p in self.parts)

    @property
    def has_units(self) -> bool:
        """Whether the view loads units' details on demand (Step through's cell diagram)."""
        return any(p.startswith("u") and ":" in p for p in self.parts)

    def near(self, t: int) -> list[int]:
        """Windows the view wants at step ``t``: its own, and the neighbour within a third
        of a window (``static/step.js`` and ``static/memory.js`` prefetch the same way)."""
        if not self.window:
            return []
        W, k = self.window, t // self.window
        out = [k]
        if t - k * W > 2 * W / 3 and (k + 1) * W < self.n_steps:
            out.append(k + 1)
        if t - k * W < W / 3 and k > 0:
            out.append(k - 1)
        return out

    def missing(self, t: int) -> list[int]:
        return [k for k in self.near(t) if not self.has_window(k)]


def player_of(component) -> Player | None:
    """A player from its BidiComponent proto (None for other components)."""
    name = component.component_name
    if not name.startswith(PLAYER_PREFIX) or name == CHANNEL:
        return None
    mount = read_mount(component.bytes)
    if mount is None:
        return None
    options, header = mount
    meta = header.get("meta") or {}
    return Player(
        key=str(options.get("key") or user_key(component.id) or ""),
        view=name[len(PLAYER_PREFIX) :],
        id=str(meta.get("id", "")),
        n_steps=int(meta.get("n_steps") or 0),
        cursor=dict(options.get("cursor") or {}),
        window=int(meta.get("window") or 0) if "windows" in meta else 0,
        windows=int(meta.get("windows") or 0),
        units=int(meta.get("units") or 0) if isinstance(meta.get("units"), int) else 0,
        parts=set(header.get("arrays") or {}),
        files=tuple(f.get("kind", "") for f in options.get("files") or []),
        url=dict(options.get("url") or {}),
        defaults=dict(options.get("defaults") or {}),
    )


def channel_answer(component) -> tuple[str, int, set[str]] | None:
    """A channel component's data: (player key, answer number, array names) if it answers."""
    header = _payload_header(component.bytes)
    if header is None:
        return None
    meta = header.get("meta") or {}
    return (
        str(meta.get("player", "")),
        int(meta.get("answer") or 0),
        set(header.get("arrays") or {}),
    )


async def http_get(url: str, timeout: float = 60.0) -> bytes:
    """GET ``url`` (plain HTTP/1.1 on loopback) as a browser does, with its
    ``Accept-Encoding`` (so the server compresses as it would for Chromium); the body,
    decoded. Raises OSError on a status other than 200."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(parts.hostname, parts.port or 80), timeout
    )
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Accept-Encoding: gzip, deflate, br, zstd\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if " 200 " not in lines[0] + " ":
        raise OSError(f"{url}: {lines[0]}")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    if headers.get("transfer-encoding") == "chunked":
        body = _dechunk(body)
    if headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    return body


def _dechunk(body: bytes) -> bytes:
    out, i = [], 0
    while True:
        end = body.index(b"\r\n", i)
        size = int(body[i:end].split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(body[end + 2 : end + 2 + size])
        i = end + 2 + size + 2


# -- a session ------------------------------------------------------------------------------


@dataclass
class Run:
    """One rerun as the client saw it."""

    action: str
    page: str
    seconds: float | None = None  # BackMsg sent -> script_finished; None if it never ended
    http_seconds: float | None = None  # a page load's HTTP requests before the websocket
    status: str = ""
    errors: list[str] = field(default_factory=list)


class ProtocolError(RuntimeError):
    """The server answered something a browser could not use (e.g. an unknown reference)."""


@dataclass
class _Cached:
    summary: tuple  # what the client needs of the message (see Session._element)
    run: int
    fragment_id: str


class Session:
    """One browser tab, without the browser: connect, open a link, change widgets, step.

    ``open``, ``set``, ``click`` and ``ask`` send what the frontend sends and return the
    ``Run`` they caused once the script has finished (or ``timeout`` seconds passed).
    """

    def __init__(self, base: str, *, timeout: float = 120.0) -> None:
        self.base = base.rstrip("/")
        self.timeout = timeout
        self.ws = None
        self.reader: asyncio.Task | None = None
        self.session_id = ""
        self.main_hash = ""
        self.page_hash = ""
        self.pages: dict[str, str] = {}  # url path -> page script hash
        self.page = ""  # url path of the page on screen
        self.query = ""  # the address bar's query string
        self.widgets: dict[str, Widget] = {}
        self.players: dict[str, Player] = {}
        self.channels: dict[str, Widget] = {}  # player key -> its channel widget
        self.stray: list[str] = []  # errors that arrived with no request in flight
        self.auto: dict[str, float] = {}  # fragment id -> seconds between reruns
        self.touched: dict[str, WidgetState] = {}  # widget id -> what the user set
        self.values: dict[str, Any] = {}  # widget id -> the value the user set
        self.cache: dict[str, _Cached] = {}
        self.max_age = 2
        self.runs = 0
        self.closed: str | None = None  # why the connection ended
        self.close_reported = False  # a request in flight already counted it as an error
        self.loaded = False  # the browser has fetched the app's scripts once
        self._run: Run | None = None
        self._done: asyncio.Future | None = None
        self._seen: set[str] = set()  # widget ids drawn by the run in flight
        self._fragment = ""  # the fragment the run in flight reruns ("" = the page)
        self._sent = 0.0

    # connection ------------------------------------------------------------------------

    @property
    def ws_url(self) -> str:
        parts = urlsplit(self.base)
        return f"ws://{parts.netloc}{STREAM_PATH}"

    async def connect(self) -> None:
        from websockets.asyncio.client import connect

        protocols = [SUBPROTOCOL, NO_XSRF_TOKEN] + ([self.session_id] if self.session_id else [])
        self.ws = await connect(
            self.ws_url,
            subprotocols=protocols,
            origin=self.base,
            max_size=None,
            open_timeout=self.timeout,
            ping_interval=None,  # the server pings; the library answers
        )
        self.closed = None
        self.close_reported = False
        self.reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.reader
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        self.ws = None

    # actions ---------------------------------------------------------------------------

    def url(self, page: str | None = None) -> str:
        page = self.page if page is None else page
        return f"{self.base}/{page}" + (f"?{self.query}" if self.query else "")

    async def open(self, page: str, query: str = "", action: str = "open") -> Run:
        """Open a link, ``/<page>?<query>``, as a page load does: the page's HTML (and, on
        this client's first load, the scripts it names), then a new websocket and session,
        whose first run names the page by its path. ``Run.http_seconds`` times the HTTP."""
        await self.close()
        self.page, self.query = page, query
        self.widgets.clear()
        self.players.clear()
        self.channels.clear()
        self.touched.clear()
        self.values.clear()
        self.auto.clear()
        self.cache.clear()  # the frontend's message cache lives in the page
        self.session_id = ""
        started = time.perf_counter()
        http_error = None
        try:
            await self._load_html(first=not self.loaded)
        except OSError as exc:
            http_error = f"{action} on {page}: HTTP: {exc}"
        self.loaded = True
        http = time.perf_counter() - started
        try:
            await self.connect()
        except Exception as exc:  # refused, closed at once: an error, not a stop
            run = Run(action=action, page=page, status="disconnected", http_seconds=http)
            run.errors.append(f"{action} on {page}: connect: {type(exc).__name__}: {exc}")
            return run
        msg = rerun_message(query_string=query, page_name=page, url=self.url(page))
        run = await self._request(msg, action, fragment="")
        run.http_seconds = http
        if http_error:
            run.errors.append(http_error)
        return run

    async def _load_html(self, first: bool) -> None:
        """What a browser fetches over HTTP to open a page: the HTML, the health and host
        checks, and (not cached yet) the scripts and styles the HTML names."""
        html = await http_get(self.url())
        paths = ["/_stcore/health", "/_stcore/host-config"]
        if first:
            found = re.findall(r'(?:src|href)="\./(static/[^"]+)"', html.decode("utf-8", "replace"))
            paths += ["/" + p for p in dict.fromkeys(found)]
        for path in paths:
            await http_get(self.base + path)

    async def navigate(self, page: str, action: str = "navigate") -> Run:
        """Open another page from the menu: the page's hash, the sidebar's widgets."""
        target = self.pages.get(page)
        if target is None:
            raise ProtocolError(f"No page {page!r} in the navigation: {sorted(self.pages)}")
        keep = {w.query_key for w in self.widgets.values() if w.sidebar and w.query_key}
        pairs = [(k, v) for k, v in parse_qsl(self.query, keep_blank_values=True) if k in keep]
        sidebar = [w for w in self.widgets.values() if w.sidebar]
        states = [s for s in (self._state_of(w) for w in sidebar) if s is not None]
        self.page, self.query = page, urlencode(pairs)
        self.widgets = {w.id: w for w in sidebar}
        self.touched = {i: v for i, v in self.touched.items() if i in self.widgets}
        self.values = {i: v for i, v in self.values.items() if i in self.widgets}
        self.players.clear()
        self.channels.clear()
        self.auto.clear()
        msg = rerun_message(
            query_string=self.query,
            page_script_hash=target,
            widgets=states,
            cached=list(self.cache),
            url=self.url(page),
        )
        return await self._request(msg, action, fragment="")

    def find(self, key: str) -> Widget:
        for w in self.widgets.values():
            if w.key == key:
                return w
        raise KeyError(f"No widget with key {key!r} on {self.page!r}.")

    def value(self, key: str) -> Any:
        """The value the widget ``key`` holds in this tab: what the user set, else what
        the server drew it with."""
        widget = self.find(key)
        if widget.id in self.values:
            return self.values[widget.id]
        return None if widget.value is None else widget.value[1]

    def widget_keys(self) -> list[str]:
        return [w.key for w in self.widgets.values() if w.key]

    async def set(self, key: str, value: Any, action: str = "input") -> Run:
        """Give the widget ``key`` a new value, as a user does (a rerun of its page or
        fragment, with every widget's state and the address bar updated)."""
        widget = self.find(key)
        state = widget_state(widget, value)
        self.touched[widget.id] = state
        self.values[widget.id] = value
        if widget.query_key:
            pairs = [(k, v) for k, v in parse_qsl(self.query, keep_blank_values=True)]
            pairs = [(k, v) for k, v in pairs if k != widget.query_key]
            pairs += [(widget.query_key, v) for v in url_value(widget, value)]
            self.query = urlencode(pairs)
        return await self._rerun(action, widget.fragment_id, trigger=None)

    async def click(self, key: str, action: str = "click") -> Run:
        """Press a button: a trigger, sent once."""
        widget = self.find(key)
        return await self._rerun(action, widget.fragment_id, trigger=widget_state(widget, True))

    def move(self, player: str, **cursor: Any) -> None:
        """Move a player's cursor in the browser: no message, but the player writes the
        cursor into the address bar (``history.replaceState``), which every later rerun
        sends; a field at its default is left out."""
        p = self.players[player]
        p.cursor.update(cursor)
        pairs = parse_qsl(self.query, keep_blank_values=True)
        params = {p.url[f]: v for f, v in p.cursor.items() if f in p.url}
        pairs = [(k, v) for k, v in pairs if k not in params]
        pairs += [
            (p.url[f], str(v)) for f, v in p.cursor.items() if f in p.url and v != p.defaults.get(f)
        ]
        self.query = urlencode(pairs)

    async def ask(self, player: str, need: Mapping, action: str = "step") -> Run:
        """What a player's browser asks the server (``api.need`` or a file button): its
        channel's state, ``{"report": {id, cursor, need, seq}}``, in a fragment rerun."""
        p = self.players[player]
        channel = self.channels[player]
        p.seq += 1
        report = {"id": p.id, "cursor": dict(p.cursor), "need": dict(need), "seq": p.seq}
        self.touched[channel.id] = widget_state(channel, {"report": report})
        return await self._rerun(action, channel.fragment_id, trigger=None)

    async def auto_rerun(self, fragment_id: str, action: str = "poll") -> Run:
        """One tick of a ``run_every`` fragment, as the browser's timer sends it."""
        return await self._rerun(action, fragment_id, trigger=None, auto=True)

    async def _rerun(self, action: str, fragment: str, trigger, auto: bool = False) -> Run:
        states = []
        for w in self.widgets.values():
            if trigger is not None and w.id == trigger.id:
                continue
            state = self.touched.get(w.id) or self._state_of(w)
            if state is not None:
                states.append(state)
        if trigger is not None:
            states.append(trigger)
        msg = rerun_message(
            query_string=self.query,
            page_script_hash=self.page_hash,
            widgets=states,
            fragment_id=fragment,
            is_auto_rerun=auto,
            cached=list(self.cache),
            url=self.url(),
        )
        return await self._request(msg, action, fragment=fragment)

    def _state_of(self, widget: Widget) -> WidgetState | None:
        return self.touched.get(widget.id) or _held_state(widget)

    async def _request(self, msg: bytes, action: str, fragment: str) -> Run:
        if self.ws is None or self.closed:
            raise ConnectionError(self.closed or "not connected")
        run = Run(action=action, page=self.page)
        loop = asyncio.get_running_loop()
        self._run, self._done, self._fragment = run, loop.create_future(), fragment
        self._seen = set()
        self._sent = time.perf_counter()
        await self.ws.send(msg)
        try:
            await asyncio.wait_for(asyncio.shield(self._done), self.timeout)
        except TimeoutError:
            run.errors.append(
                f"{action} on {self.page}: no script_finished in {self.timeout:.0f} s"
            )
            run.status = "timeout"
        finally:
            self._run, self._done = None, None
        return run

    # receiving -------------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            async for data in self.ws:
                if isinstance(data, str):
                    raise ProtocolError("text frame from the server")
                self._handle(parse_forward(data))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a dropped connection ends the run in flight
            self.closed = f"{type(exc).__name__}: {exc}"
        else:
            self.closed = "the server closed the connection"
        if self._done is not None and not self._done.done():
            if self._run is not None:
                self._run.errors.append(f"{self._run.action} on {self.page}: {self.closed}")
                self._run.status = "disconnected"
                self.close_reported = True
            self._done.set_result(None)

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            ns = msg.new_session
            self.main_hash = ns.main_script_hash
            self.page_hash = ns.page_script_hash or self.page_hash
            self.max_age = ns.config.max_cached_message_age or self.max_age
            self.auto.clear()  # a full run: the frontend drops its timers (fragments re-arm)
            if ns.initialize.session_id:
                self.session_id = ns.initialize.session_id
        elif kind == "navigation":
            nav = msg.navigation
            self.pages = {p.url_pathname: p.page_script_hash for p in nav.app_pages}
            if nav.page_script_hash:
                self.page_hash = nav.page_script_hash
                for path, h in self.pages.items():
                    if h == nav.page_script_hash:
                        self.page = path
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind == "page_not_found":
            self._error(f"page not found: {msg.page_not_found.page_name!r}")
        elif kind == "delta":
            self._delta(msg, msg.delta)
        elif kind == "ref_hash":
            cached = self.cache.get(msg.ref_hash)
            if cached is None:
                raise ProtocolError(f"unknown cached message {msg.ref_hash}")
            cached.run = self.runs
            self._element(cached.summary, msg.metadata.delta_path)
        elif kind == "auto_rerun":
            self.auto[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            for fid in msg.stop_auto_rerun.fragment_ids:
                self.auto.pop(fid, None)
        elif kind == "session_event":
            ev = msg.session_event
            if ev.HasField("script_compilation_exception"):
                exc = ev.script_compilation_exception
                self._error(f"compile error: {exc.type}: {exc.message[:200]}")
        elif kind == "script_finished":
            self._finished(msg.script_finished)

    def _error(self, text: str) -> None:
        if self._run is not None:
            self._run.errors.append(f"{self._run.action} on {self.page}: {text}")
        else:
            self.stray.append(f"on {self.page}: {text}")

    def _delta(self, msg: ForwardMsg, delta) -> None:
        if delta.WhichOneof("type") != "new_element":
            return
        summary = self._summarise(delta.new_element, delta.fragment_id)
        if msg.metadata.cacheable and msg.hash:
            self.cache[msg.hash] = _Cached(summary, self.runs, delta.fragment_id)
        self._element(summary, msg.metadata.delta_path)

    @staticmethod
    def _summarise(element, fragment_id: str) -> tuple:
        """What the client keeps of an element: ("exception", text), ("widget", Widget,
        Player | None, answer | None), or ("other",). Computed once, cached by hash."""
        kind = element.WhichOneof("type")
        if kind == "exception":
            e = element.exception
            if e.is_warning:
                return ("other",)
            return ("exception", f"{e.type}: {e.message[:300]}")
        widget = widget_of(element, fragment_id)
        if widget is None:
            return ("other",)
        player = answer = None
        if kind == "bidi_component":
            player = player_of(element.bidi_component)
            if widget.component == CHANNEL:
                answer = channel_answer(element.bidi_component)
        return ("widget", widget, player, answer)

    def _element(self, summary: tuple, delta_path) -> None:
        if summary[0] == "exception":
            self._error(f"exception: {summary[1]}")
            return
        if summary[0] != "widget":
            return
        _, template, player, answer = summary
        path = list(delta_path)
        widget = Widget(**{**template.__dict__, "sidebar": bool(path) and path[0] == SIDEBAR})
        self.widgets[widget.id] = widget
        self._seen.add(widget.id)
        if player is not None:
            held = self.players.get(player.key)
            if held is not None and held.id == player.id:
                player.parts |= held.parts  # the browser keeps what it fetched
                player.cursor, player.seq = held.cursor, held.seq
            self.players[player.key] = player
        if widget.component == CHANNEL and widget.key and widget.key.endswith("_sync"):
            key = widget.key[: -len("_sync")]
            self.channels[key] = widget
            if answer is not None and key in self.players:
                self.players[key].parts |= answer[2]

    def _finished(self, status: int) -> None:
        self.runs += 1
        fragment = self._fragment
        for h in [h for h, c in self.cache.items() if self.runs - c.run > self.max_age]:
            if not fragment or self.cache[h].fragment_id == fragment:
                del self.cache[h]
        if status == FINISHED.FINISHED_EARLY_FOR_RERUN:
            return  # the script restarts itself: the same request goes on
        # Widgets the run did not draw again are gone (a fragment run redraws its own).
        for wid in list(self.widgets):
            w = self.widgets[wid]
            if wid not in self._seen and (not fragment or w.fragment_id == fragment):
                del self.widgets[wid]
                self.touched.pop(wid, None)
                self.values.pop(wid, None)
        self._seen = set()
        if self._run is not None:
            self._run.seconds = time.perf_counter() - self._sent
            self._run.status = FINISHED.Name(status)
            if status == FINISHED.FINISHED_WITH_COMPILE_ERROR:
                self._run.errors.append(f"{self._run.action} on {self.page}: compile error")
        if self._done is not None and not self._done.done():
            self._done.set_result(None)
