"""A trace packed for the in-browser player: one binary blob, exact numbers, compact.

Stepping runs in the browser (``autoreg.ui.player``): the page sends what a trace
holds once, and the browser draws every step from it. This module turns a ``Trace``
into that blob and back, with no Streamlit, plotly or torch involved, so the browser
views, the downloadable HTML file and the tests all read the same bytes.

Container (little-endian, every array 8-byte aligned so the browser views it in place)::

    b"ARP1" | u32 n | n bytes of UTF-8 JSON {"meta": {...}, "arrays": {name: spec}}
    | spaces to an 8-byte boundary | the data section: every array, each padded to 8
    spec = {"dtype": "u1"|"i2"|"i4"|"f4"|"f8", "shape": [...], "offset": into the data
            section, "scale"?: 10000}

Exact numbers. Every number the browser prints is the trace's value rounded to the
shown precision, as Python's ``format`` rounds it (``fmt``). State values (h, c, gates,
pre-activations and the products of the cell diagram) are printed with ``DECIMALS``
decimals and sent *quantised to exactly that*: ``rint(v * 10**DECIMALS)`` as int16
(or int32 when the value is larger), with ``"scale"`` in the spec. For a float32 ``v``
the product is exact in float64 (24 + 14 mantissa bits), so ``rint``, which rounds
halves to even like ``format``, gives the printed digits exactly, at 2 bytes a value
instead of 4; the colours come from the same integers. Everything else printed
(probabilities, surprise, embeddings, PCA coordinates) is sent as its own float32 or
float64 value, which the browser formats exactly (``static/player.js: fmt``). A tanh
RNN keeps no pre-activation: it is tanh⁻¹(h) where h fixes it to the printed digits,
and otherwise the bound h guarantees (``_rnn_pre``).

A step payload (``step_payload``) has a base part that covers every step (tokens, the
next-token top-k, surprise, embeddings) and two parts that can come in pieces:

- *windows* ``w<k>:<quantity>`` of the per-unit states (W steps x H units, and the
  state before the window's first step), W chosen so a window stays under
  ``WINDOW_BYTES``: the default text is one window, a 2,000-token text on a 256-unit
  LSTM four; the browser asks for the next one before the cursor gets there;
- *unit details* ``u<unit>:<name>`` (T values per unit): what only the cell diagram
  prints for its chosen unit (pre-activations, f·c, i·g, tanh c). The page sends the
  chosen unit's; the browser asks for another unit's when the user picks it.

``window_payload`` and ``units_payload`` build those pieces; ``merge`` joins blobs of
one trace; ``step_payload(..., windows=None, units=None)`` is everything at once (the
downloadable HTML file).
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from autoreg.seq.trace import Trace

MAGIC = b"ARP1"
DECIMALS = 4  # state values (h, c, gates, pre-activations) are printed with 4 decimals
SCALE = 10**DECIMALS
WINDOW_BYTES = 2 * 2**20  # per-unit states per window: the default text fits in one
TOP_K = 8  # next-token bars
COMPARE_K = 5  # bars per cell in the compare panel
_DTYPES = {"u1": np.uint8, "i2": np.int16, "i4": np.int32, "f4": np.float32, "f8": np.float64}

# The quantities of one layer the strips and the heatmap show, in display order.
LABELS = {
    "hidden": "h (hidden state)",
    "cell": "c (cell state)",
    "input": "i (input gate)",
    "forget": "f (forget gate)",
    "candidate": "g (candidate)",
    "output": "o (output gate)",
    "reset": "r (reset gate)",
    "update": "z (update gate)",
}
GRU_CANDIDATE_LABEL = "n (candidate)"
LSTM_SUBSTEPS = ("forget", "input", "candidate", "cell", "output", "hidden")
# What the cell diagram prints besides the states: name -> how it is computed.
DETAILS = {
    "lstm": ("pre_forget", "pre_input", "pre_candidate", "pre_output", "kept", "written",
             "tanh_c"),
    "gru": ("pre_reset", "pre_update", "pre_candidate", "one_minus_z", "keep", "write"),
    "rnn": ("pre", "pre_bound"),
}  # fmt: skip


# ---------------------------------------------------------------------------------------
# The container
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scaled:
    """Integers standing for ``values / scale`` (``quantise``): printed digits, exactly."""

    values: np.ndarray  # int16 or int32
    scale: int


Array = np.ndarray | Scaled


def pack(meta: Mapping, arrays: Mapping[str, Array]) -> bytes:
    """Meta (JSON-able) and named arrays -> one blob (see the module docstring).

    Array offsets count from the start of the data section, which begins at the first
    8-byte boundary after the header.
    """
    specs, blobs, offset = {}, [], 0
    for name, a in arrays.items():
        values = a.values if isinstance(a, Scaled) else a
        values = np.ascontiguousarray(values)
        spec = {"dtype": _code(values), "shape": list(values.shape), "offset": offset}
        if isinstance(a, Scaled):
            spec["scale"] = a.scale
        specs[name] = spec
        data = values.astype(values.dtype.newbyteorder("<"), copy=False).tobytes()
        blobs.append(data + b"\0" * (-len(data) % 8))
        offset += len(blobs[-1])
    head = json.dumps({"meta": meta, "arrays": specs}, ensure_ascii=False).encode()
    pad = b" " * (-(8 + len(head)) % 8)
    return b"".join([MAGIC, struct.pack("<I", len(head)), head, pad, *blobs])


def _code(a: np.ndarray) -> str:
    for code, dt in _DTYPES.items():
        if a.dtype == dt:
            return code
    raise ValueError(f"Arrays must be uint8, int16, int32, float32 or float64, not {a.dtype}.")


def _header(blob: bytes) -> tuple[dict, int]:
    if blob[:4] != MAGIC:
        raise ValueError("Not a player payload (bad magic bytes).")
    (n,) = struct.unpack("<I", blob[4:8])
    return json.loads(blob[8 : 8 + n].decode()), 8 + n + (-(8 + n) % 8)


def raw_arrays(blob: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """(header, arrays as stored): quantised arrays still as integers (sizes, exactness)."""
    header, start = _header(blob)
    out = {}
    for name, spec in header["arrays"].items():
        dt = np.dtype(_DTYPES[spec["dtype"]]).newbyteorder("<")
        count = math.prod(spec["shape"])
        a = np.frombuffer(blob, dtype=dt, count=count, offset=start + spec["offset"])
        out[name] = a.reshape(spec["shape"])
    return header, out


def unpack(blob: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """The inverse of ``pack``: (meta, arrays); quantised arrays come back as float64."""
    header, raw = raw_arrays(blob)
    arrays = {}
    for name, a in raw.items():
        scale = header["arrays"][name].get("scale")
        arrays[name] = a / scale if scale else a.astype(a.dtype.newbyteorder("="))
    return header["meta"], arrays


def annotate(blob: bytes, **meta: object) -> bytes:
    """The same blob with more fields in its meta (the arrays are not touched)."""
    header, start = _header(blob)
    header["meta"] = {**header["meta"], **meta}
    head = json.dumps(header, ensure_ascii=False).encode()
    pad = b" " * (-(8 + len(head)) % 8)
    return b"".join([MAGIC, struct.pack("<I", len(head)), head, pad, blob[start:]])


def quantise(values: np.ndarray) -> Array:
    """float32 values -> their ``DECIMALS``-decimal rounding as integers (int16 or int32).

    ``rint(float64(v) * 10**DECIMALS)`` is exact for float32 ``v`` and rounds halves to
    even, as ``format`` does, so ``fmt(v, DECIMALS)`` can be read off the integer. Values
    too large for int32 (a cell state beyond ±200,000) or not finite stay float32.
    """
    v = np.asarray(values, dtype=np.float32)
    if not np.all(np.isfinite(v)):
        return v.copy()
    n = np.rint(v.astype(np.float64) * SCALE)
    big = float(np.abs(n).max()) if n.size else 0.0
    for dt in (np.int16, np.int32):
        if big <= np.iinfo(dt).max:
            return Scaled(n.astype(dt), SCALE)
    return v.copy()


def _nbytes(a: Array) -> int:
    return (a.values if isinstance(a, Scaled) else a).nbytes


def fmt(value: float, decimals: int) -> str:
    """How every number is printed: Python's rounding, and no sign on a zero ("-0.0000")."""
    s = f"{value:.{decimals}f}"
    return s[1:] if s.startswith("-") and not s.strip("-0.") else s


# ---------------------------------------------------------------------------------------
# The step payload
# ---------------------------------------------------------------------------------------


def token_label(token: str) -> str:
    """A printable label for a token: newline, tab and space made visible."""
    return {"\n": "⏎", "\t": "⇥", " ": "␣"}.get(token, token)


def quantities(tr: Trace, layer: int) -> dict[str, np.ndarray]:
    """Every per-unit quantity of one layer, name -> (T, H): h, c (LSTM), then the gates."""
    if not 0 <= layer < tr.hidden.shape[1]:
        raise ValueError(f"Layer {layer} does not exist; the model has {tr.hidden.shape[1]}.")
    out = {"hidden": tr.hidden[:, layer]}
    if tr.cell is not None:
        out["cell"] = tr.cell[:, layer]
    out.update({name: g[:, layer] for name, g in tr.gates.items()})
    return out


def _kind(name: str) -> str:
    if name == "cell":
        return "cell"
    return "signed" if name in ("hidden", "candidate") else "gate"


@dataclass(frozen=True)
class Layout:
    """How a trace is cut: T steps, H units, W steps per window of per-unit states."""

    steps: int
    units: int
    window: int

    def windows(self) -> int:
        return -(-self.steps // self.window)

    def bounds(self, k: int) -> tuple[int, int]:
        if not 0 <= k < self.windows():
            raise ValueError(f"Window {k} is outside 0..{self.windows() - 1}.")
        return k * self.window, min(self.steps, (k + 1) * self.window)


def layout(tr: Trace, layer: int = 0, budget: int = WINDOW_BYTES) -> Layout:
    """Steps per window so that one window of every quantity stays under ``budget`` bytes."""
    q = quantities(tr, layer)
    T, H = tr.hidden.shape[0], tr.hidden.shape[2]
    # h, gates and candidates lie in [-1, 1]: int16; the cell state may need int32
    per_step = sum(4 if name == "cell" else 2 for name in q) * H
    return Layout(T, H, max(1, min(T, budget // per_step)))


def _details(tr: Trace, layer: int) -> dict[str, np.ndarray]:
    """(T, H) float32 arrays of what the cell diagram prints besides the states."""
    pre = {n: np.asarray(tr.preactivations[n])[:, layer] for n in tr.gates}
    if tr.cell_type == "lstm":
        c = tr.cell[:, layer]
        c_prev = np.concatenate([tr.initial_cell[layer][None], c[:-1]])
        g = {n: a[:, layer] for n, a in tr.gates.items()}
        return {
            **{f"pre_{n}": pre[n] for n in ("forget", "input", "candidate", "output")},
            "kept": g["forget"] * c_prev,  # float32 products, as the cell computes them
            "written": g["input"] * g["candidate"],
            "tanh_c": np.tanh(c),
        }
    if tr.cell_type == "gru":
        h = tr.hidden[:, layer]
        h_prev = np.concatenate([tr.initial_hidden[layer][None], h[:-1]])
        z, n = tr.gates["update"][:, layer], tr.gates["candidate"][:, layer]
        one_minus_z = np.float32(1) - z
        return {
            **{f"pre_{k}": pre[k] for k in ("reset", "update", "candidate")},
            "one_minus_z": one_minus_z,
            "keep": z * h_prev,
            "write": one_minus_z * n,
        }
    return _rnn_pre(tr.hidden[:, layer])


def _rnn_pre(h32: np.ndarray) -> dict[str, np.ndarray]:
    """A tanh RNN's pre-activation, as far as its float32 h = tanh(pre) tells it.

    Nothing records it, and tanh⁻¹ magnifies h's rounding (up to 2 ulp, the kernel's
    tanh included) by 1 / (1 − h²). Where that error is under half the last printed
    digit, ``pre`` is tanh⁻¹(h) and ``pre_bound`` 0; otherwise ``pre`` is the bound h
    still guarantees and ``pre_bound`` its side (+1: pre ≥ it, −1: pre ≤ it), which the
    cell diagram prints as ``≥ 8.664`` (``static/step.js``).
    """
    h = h32.astype(np.float64)
    _, exp = np.frexp(np.abs(h32))
    ulp = np.where(h32 != 0, np.ldexp(1.0, exp - 24), 2.0**-149)
    with np.errstate(divide="ignore"):
        err = np.where(np.abs(h) < 1, 2 * ulp / (1 - h * h), np.inf)
    exact = err < 0.5 * 10.0**-DECIMALS
    low = np.arctanh(np.clip(np.abs(h) - 2 * ulp, 0.0, 1 - 1e-16))
    value = np.where(exact, np.arctanh(np.clip(h, -1 + 1e-16, 1 - 1e-16)), np.sign(h) * low)
    bound = np.where(exact, 0, np.sign(h)).astype(np.float32)
    return {"pre": value.astype(np.float32), "pre_bound": bound}


def _digest(*parts: object) -> str:
    h = hashlib.sha1()
    for p in parts:
        h.update(p.tobytes() if isinstance(p, np.ndarray) else repr(p).encode())
    return h.hexdigest()[:16]


def trace_id(tr: Trace, layer: int) -> str:
    """A short content hash of one layer of a trace (the browser keys its caches by it)."""
    return _digest(tr.cell_type, layer, tr.ids, tr.hidden[:, layer], tr.probs[-1])


def _topk(probs: np.ndarray, ids: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """The k most likely next tokens after each step, and the true next token's p and rank.

    Ties rank by id (the smaller id first), in the top k and in the rank alike.
    """
    T, V = probs.shape
    k = min(k, V)
    cand = np.argpartition(-probs, k - 1, axis=1)[:, :k] if k < V else np.tile(np.arange(V), (T, 1))
    p_cand = np.take_along_axis(probs, cand, 1)
    # sort the k candidates by p descending, then id ascending
    pos = np.lexsort((cand, -p_cand), axis=1)
    top = np.take_along_axis(cand, pos, 1).astype(np.int32)
    p_next = np.full(T, np.nan, np.float32)
    rank = np.zeros(T, np.int32)  # 1 = most likely; 0 after the last step
    if T > 1:
        nxt = ids[1:]
        p = probs[np.arange(T - 1), nxt]
        before = (probs[:-1] > p[:, None]) | (
            (probs[:-1] == p[:, None]) & (np.arange(V) < nxt[:, None])
        )
        p_next[:-1] = p
        rank[:-1] = before.sum(axis=1) + 1
    return {
        "topk_ids": top,
        "topk_p": np.take_along_axis(probs, top, 1).astype(np.float32),
        "p_next": p_next,
        "next_rank": rank,
    }


def step_payload(
    tr: Trace,
    *,
    layer: int = 0,
    labels: Sequence[str],
    embedding_xy: np.ndarray | None = None,
    explained: Sequence[float] | None = None,
    orders: Mapping[str, np.ndarray] | None = None,
    compare: Mapping[str, tuple[str, Trace, Sequence[str]]] | None = None,
    model: str = "",
    budget: int = WINDOW_BYTES,
    windows: Sequence[int] | None = (0,),
    units: Sequence[int] | None = (),
) -> bytes:
    """Everything Step through shows, for one layer of a trace.

    Args:
        tr: the trace; ``tr.preactivations`` feeds the cell's equations.
        layer: which layer's states (0-based).
        labels: the vocabulary's token strings, by id.
        embedding_xy, explained: the embedding table on two principal axes (V, 2) and
            the share of variance of each axis (the PCA map); omitted if None.
        orders: extra unit orders besides "index", name -> (H,) permutation.
        compare: cell -> (model name, trace of the same text, its vocabulary): the
            compare panel (traces of another length are left out).
        model: the model's name (shown in the downloaded file).
        budget: bytes per window of per-unit states (``layout``).
        windows: which windows to include (None: all of them).
        units: units whose cell-diagram details to include (None: every unit).
    """
    T, L, H = tr.hidden.shape
    if T < 1:
        raise ValueError("The trace is empty: nothing to step through.")
    if len(labels) != tr.probs.shape[1]:
        raise ValueError(f"{len(labels)} labels for a vocabulary of {tr.probs.shape[1]}.")
    lay = layout(tr, layer, budget)
    q = quantities(tr, layer)
    ids = np.asarray(tr.ids, dtype=np.int64)
    arrays: dict[str, Array] = {
        "ids": ids.astype(np.int32),
        "surprise": np.asarray(tr.surprise_bits, dtype=np.float64),
        "emb": np.asarray(tr.embeddings, dtype=np.float32),
        **_topk(tr.probs, ids, TOP_K),
    }
    if embedding_xy is not None:
        arrays["pca"] = np.asarray(embedding_xy, dtype=np.float64)
    for name, order in (orders or {}).items():
        order = np.asarray(order)
        if sorted(order.tolist()) != list(range(H)):
            raise ValueError(f"Unit order {name!r} is not a permutation of 0..{H - 1}.")
        arrays[f"order:{name}"] = order.astype(np.int32)
    cmp_meta = []
    for cell, (name, other, other_labels) in (compare or {}).items():
        if len(other.tokens) != T:
            continue
        top = _topk(other.probs, np.asarray(other.ids), COMPARE_K)
        arrays[f"cmp:{cell}:surprise"] = np.asarray(other.surprise_bits, dtype=np.float64)
        for key in ("topk_ids", "topk_p", "p_next", "next_rank"):
            arrays[f"cmp:{cell}:{key}"] = top[key]
        bits = other.surprise_bits
        mean = float(np.nanmean(bits)) if np.isfinite(bits).any() else float("nan")
        entry = {"cell": cell, "model": name, "mean_bits": fmt(mean, 2)}
        if list(other_labels) != list(labels):
            entry["labels"] = [repr(token_label(s)) for s in other_labels]
        cmp_meta.append(entry)
    c_bound = float(np.abs(q["cell"]).max()) if "cell" in q and q["cell"].size else 1.0
    meta = {
        "view": "step",
        "id": trace_id(tr, layer),
        "n_steps": T,
        "cell": tr.cell_type,
        "model": model,
        "layer": layer,
        "layers": L,
        "units": H,
        "vocab": len(labels),
        "embed": int(tr.embeddings.shape[1]),
        "decimals": DECIMALS,
        "tokens": list(tr.tokens),
        "shown": [repr(token_label(t)) for t in tr.tokens],
        "labels": [repr(token_label(s)) for s in labels],
        "quantities": [
            {
                "name": n,
                "label": GRU_CANDIDATE_LABEL
                if (n == "candidate" and tr.cell_type == "gru")
                else LABELS.get(n, n),
                "kind": _kind(n),
            }
            for n in q
        ],
        "c_bound": max(c_bound, 1e-6),
        "orders": ["index", *(orders or {})],
        "explained": [fmt(100 * float(r), 0) for r in explained] if explained is not None else None,
        "details": list(DETAILS[tr.cell_type]),
        "substeps": list(LSTM_SUBSTEPS) if tr.cell_type == "lstm" else [],
        "window": lay.window,
        "windows": lay.windows(),
        "compare": cmp_meta,
    }
    wins = range(lay.windows()) if windows is None else windows
    arrays.update(_window_arrays(tr, layer, lay, wins))
    arrays.update(_unit_arrays(tr, layer, range(H) if units is None else sorted(set(units))))
    return pack(meta, arrays)


def _window_arrays(tr: Trace, layer: int, lay: Layout, wins) -> dict[str, Array]:
    q = quantities(tr, layer)
    out = {}
    for k in wins:
        lo, hi = lay.bounds(k)
        for name, v in q.items():
            out[f"w{k}:{name}"] = quantise(v[lo:hi])
        # the state before the window's first step: h_{t-1} and c_{t-1} of the diagram
        h_prev = tr.hidden[lo - 1, layer] if lo else tr.initial_hidden[layer]
        out[f"w{k}:prev_hidden"] = quantise(h_prev)
        if tr.cell is not None:
            c_prev = tr.cell[lo - 1, layer] if lo else tr.initial_cell[layer]
            out[f"w{k}:prev_cell"] = quantise(c_prev)
    return out


def _unit_arrays(tr: Trace, layer: int, units: Sequence[int]) -> dict[str, Array]:
    H = tr.hidden.shape[2]
    for u in units:
        if not 0 <= u < H:
            raise ValueError(f"Unit {u} is outside 0..{H - 1}.")
    out = {}
    for name, v in _details(tr, layer).items():
        q = quantise(v[:, list(units)])  # one dtype for every unit of a quantity
        for j, u in enumerate(units):
            column = (q.values if isinstance(q, Scaled) else q)[:, j].copy()
            out[f"u{u}:{name}"] = Scaled(column, q.scale) if isinstance(q, Scaled) else column
    return out


def window_payload(tr: Trace, layer: int, k: int, budget: int = WINDOW_BYTES) -> bytes:
    """Window ``k`` of the per-unit states (the browser asks for it near the window's edge)."""
    lay = layout(tr, layer, budget)
    lay.bounds(k)  # validates k
    return pack({"id": trace_id(tr, layer), "part": "window"},
                _window_arrays(tr, layer, lay, [k]))  # fmt: skip


def units_payload(tr: Trace, layer: int, units: Sequence[int]) -> bytes:
    """The cell diagram's details of some units (the browser asks when the user picks one)."""
    return pack({"id": trace_id(tr, layer), "part": "units"}, _unit_arrays(tr, layer, units))


def merge(*blobs: bytes) -> bytes:
    """One blob holding the arrays of several (the first one's meta; same ``id`` each)."""
    headers = [_header(b) for b in blobs]
    ids = {h["meta"].get("id") for h, _ in headers}
    if len(ids) > 1:
        raise ValueError(f"Payloads of different traces cannot be merged: {sorted(ids)}.")
    specs, chunks, offset = {}, [], 0
    for (header, start), blob in zip(headers, blobs, strict=True):
        data = blob[start:]
        for name, spec in header["arrays"].items():
            specs[name] = {**spec, "offset": spec["offset"] + offset}
        chunks.append(data)
        offset += len(data)  # every array section is a multiple of 8 bytes long
    head = json.dumps({"meta": headers[0][0]["meta"], "arrays": specs}, ensure_ascii=False)
    head_b = head.encode()
    pad = b" " * (-(8 + len(head_b)) % 8)
    return b"".join([MAGIC, struct.pack("<I", len(head_b)), head_b, pad, *chunks])


def parts(blob: bytes) -> tuple[list[int], list[int]]:
    """Which windows and which units' details a payload holds."""
    names = _header(blob)[0]["arrays"]
    wins = sorted({int(k[1:].split(":")[0]) for k in names if k[0] == "w" and ":" in k})
    units = sorted({int(k[1:].split(":")[0]) for k in names if k[0] == "u" and ":" in k})
    return wins, units


def payload_size(blob: bytes) -> int:
    """Bytes on the wire (the blob goes as raw bytes, no base64)."""
    return len(blob)
