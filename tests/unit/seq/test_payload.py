"""The player's payload: it round-trips, it is small, and every printed digit is the trace's.

Tiny two-layer models with random weights cover the three cells; a 256-unit LSTM covers
the sizes of a default text and of a 2,000-token one. Whether the browser prints the
same digits is checked in tests/browser/test_step.py (the same ``fmt`` values).
"""

from __future__ import annotations

import json
import math
import struct

import numpy as np
import pytest
import torch

from autoreg.seq import payload as pl
from autoreg.seq.model import SequenceConfig, SequenceModel
from autoreg.seq.tokenizers import CharTokenizer
from autoreg.seq.trace import trace

TEXT = "def f(x):\n    return 'a' + x  # (done)\n"
TOK = CharTokenizer.fit("abcdefghijklmnopqrstuvwxyz ()'+:#\n")  # "=" etc. unknown on purpose
LABELS = [TOK.token(i) for i in range(TOK.vocab_size)]


def _model(cell: str, hidden: int = 12, layers: int = 2, vocab=TOK) -> SequenceModel:
    torch.manual_seed({"rnn": 0, "lstm": 1, "gru": 2}[cell])
    model = SequenceModel(SequenceConfig(cell, vocab.vocab_size, 6, hidden, layers), vocab).eval()
    with torch.no_grad():
        for p in model.rnn.parameters():
            p.mul_(3.0)  # livelier gates than the default init
    return model.requires_grad_(False)


@pytest.fixture(scope="module", params=["rnn", "lstm", "gru"])
def tr(request):
    return trace(_model(request.param), TEXT)


def _digits(n: int, decimals: int = pl.DECIMALS) -> str:
    """What the browser prints for a quantised integer (player.js: fmtInt)."""
    s = str(abs(int(n))).rjust(decimals + 1, "0")
    body = f"{s[:-decimals]}.{s[-decimals:]}"
    return ("-" if n < 0 else "") + body


# ---------------------------------------------------------------------------------------
# The container
# ---------------------------------------------------------------------------------------


def test_pack_round_trips_every_dtype_aligned():
    rng = np.random.default_rng(0)
    arrays = {
        "a": rng.integers(-3000, 3000, size=(3, 5)).astype(np.int16),
        "b": rng.integers(-(2**30), 2**30, size=7).astype(np.int32),
        "c": rng.standard_normal((2, 3, 4)).astype(np.float32),
        "d": rng.standard_normal(5),
        "e": np.frombuffer(b"\x89PNG bytes", dtype=np.uint8),  # a file's bytes (saved views)
        "q": pl.quantise(np.float32([0.5, -0.25, 0.12345678])),
    }
    meta = {"tokens": ["é", "⏎", '"'], "n": 3}
    blob = pl.pack(meta, arrays)
    header, raw = pl.raw_arrays(blob)
    (n,) = struct.unpack("<I", blob[4:8])
    start = 8 + n + (-(8 + n) % 8)
    assert blob[:4] == b"ARP1" and start % 8 == 0
    for spec in header["arrays"].values():
        assert (start + spec["offset"]) % 8 == 0  # the browser views arrays in place
    got_meta, got = pl.unpack(blob)
    assert got_meta == meta
    for name in "abcde":
        assert got[name].dtype == arrays[name].dtype
        assert np.array_equal(got[name], arrays[name])
    assert header["arrays"]["q"]["scale"] == pl.SCALE and raw["q"].dtype == np.int16
    assert np.array_equal(raw["q"], [5000, -2500, 1235])
    with pytest.raises(ValueError, match="magic"):
        pl.unpack(b"nope" + blob[4:])
    with pytest.raises(ValueError, match="uint8, int16, int32"):
        pl.pack({}, {"x": np.zeros(2, np.uint16)})


def test_quantised_digits_are_pythons_rounding_even_at_ties():
    rng = np.random.default_rng(1)
    values = np.concatenate(
        [
            rng.uniform(-1, 1, 20_000),
            rng.uniform(-40, 40, 2_000),
            # exact halves at the 5th decimal (dyadic): format() rounds them to even
            [0.03125, -0.03125, 0.09375, 0.40625, 1 / 64, -1 / 64, 0.5, -0.5, 1.0, -1.0],
            [1e-9, -1e-9, -0.00004, 0.00005, -0.00006, 0.0, -0.0],  # signs of zero
        ]
    ).astype(np.float32)
    q = pl.quantise(values)
    assert isinstance(q, pl.Scaled) and q.values.dtype == np.int32  # |v| up to 40 needs int32
    for v, n in zip(values, q.values, strict=True):
        assert _digits(n) == pl.fmt(float(v), pl.DECIMALS), v
    assert pl.quantise(np.float32([0.5, -1.0])).values.dtype == np.int16
    huge = pl.quantise(np.float32([3e5]))
    assert isinstance(huge, np.ndarray) and huge.dtype == np.float32  # kept exact, unscaled
    assert pl.fmt(-0.00001, 4) == "0.0000" and pl.fmt(-0.5, 1) == "-0.5"


def test_annotate_merge_and_parts():
    a = pl.pack({"id": "x", "k": 1}, {"w0:h": np.arange(3, dtype=np.float32)})
    b = pl.pack({"id": "x"}, {"u7:kept": pl.quantise(np.float32([0.1, 0.2]))})
    merged = pl.merge(a, b)
    meta, arrays = pl.unpack(merged)
    assert meta == {"id": "x", "k": 1} and set(arrays) == {"w0:h", "u7:kept"}
    assert np.array_equal(arrays["w0:h"], [0, 1, 2]) and np.allclose(arrays["u7:kept"], [0.1, 0.2])
    assert pl.parts(merged) == ([0], [7])
    tagged = pl.annotate(merged, player="p", answer=3)
    assert pl.unpack(tagged)[0] == {"id": "x", "k": 1, "player": "p", "answer": 3}
    assert np.array_equal(pl.unpack(tagged)[1]["w0:h"], arrays["w0:h"])
    with pytest.raises(ValueError, match="different traces"):
        pl.merge(a, pl.pack({"id": "y"}, {}))


# ---------------------------------------------------------------------------------------
# The step payload holds the trace's own numbers
# ---------------------------------------------------------------------------------------


def _full(tr, layer=1):
    return pl.step_payload(tr, layer=layer, labels=LABELS, windows=None, units=None)


def test_round_trip_states_tokens_and_next_token_table(tr):
    meta, arrays = pl.unpack(_full(tr))
    T, L, H = tr.hidden.shape
    assert (meta["n_steps"], meta["units"], meta["cell"], meta["layers"]) == (T, H, tr.cell_type, L)
    assert meta["tokens"] == tr.tokens and meta["labels"][0] == repr("<unk>")
    assert meta["shown"][TEXT.index("\n")] == repr("⏎")
    assert np.array_equal(arrays["ids"], tr.ids)
    assert np.array_equal(arrays["surprise"], tr.surprise_bits, equal_nan=True)
    assert np.array_equal(arrays["emb"], tr.embeddings)
    q = pl.quantities(tr, 1)
    assert [x["name"] for x in meta["quantities"]] == list(q)
    for name, values in q.items():
        # the windows put back together are the trace rounded to the printed decimals
        got = np.concatenate([arrays[f"w{k}:{name}"] for k in range(meta["windows"])])
        assert np.array_equal(got, np.rint(values.astype(np.float64) * pl.SCALE) / pl.SCALE)
    top = np.argsort(-tr.probs, axis=1, kind="stable")[:, : pl.TOP_K]
    assert np.array_equal(arrays["topk_ids"], top)
    assert np.array_equal(arrays["topk_p"], np.take_along_axis(tr.probs, top, 1))
    for t in range(T - 1):
        nxt, p = tr.ids[t + 1], tr.probs[t, tr.ids[t + 1]]
        assert arrays["p_next"][t] == p
        ahead = (tr.probs[t] > p).sum() + (tr.probs[t, :nxt] == p).sum()
        assert arrays["next_rank"][t] == ahead + 1
        if nxt in top[t]:
            assert top[t][ahead] == nxt
    assert np.isnan(arrays["p_next"][-1]) and arrays["next_rank"][-1] == 0


def test_cell_details_are_the_cells_own_float32_products(tr):
    header, raw = pl.raw_arrays(_full(tr, layer=0))
    H = tr.hidden.shape[2]
    u = H // 2
    printed = {k.split(":", 1)[1]: raw[k] for k in raw if k.startswith(f"u{u}:")}
    assert list(printed) == list(pl.DETAILS[tr.cell_type])
    g = {n: a[:, 0, u] for n, a in tr.gates.items()}
    if tr.cell_type == "lstm":
        c_prev = np.concatenate([tr.initial_cell[0, u : u + 1], tr.cell[:-1, 0, u]])
        expect = {
            "kept": g["forget"] * c_prev,
            "written": g["input"] * g["candidate"],
            "tanh_c": np.tanh(tr.cell[:, 0, u]),
            **{f"pre_{n}": tr.preactivations[n][:, 0, u] for n in tr.gates},
        }
        # σ(pre) is the gate: the pre-activation printed is the one the cell used
        assert np.allclose(1 / (1 + np.exp(-expect["pre_forget"])), g["forget"], atol=1e-6)
    elif tr.cell_type == "gru":
        h_prev = np.concatenate([tr.initial_hidden[0, u : u + 1], tr.hidden[:-1, 0, u]])
        z = g["update"]
        expect = {
            "one_minus_z": np.float32(1) - z,
            "keep": z * h_prev,
            "write": (np.float32(1) - z) * g["candidate"],
            **{f"pre_{n}": tr.preactivations[n][:, 0, u] for n in tr.gates},
        }
    else:
        h = tr.hidden[:, 0, u]
        bound = printed["pre_bound"] // pl.SCALE
        for hv, side, n in zip(h, bound, printed["pre"], strict=True):
            shown = ("≥ " if side > 0 else "≤ " if side < 0 else "") + _digits(n)
            assert shown == rnn_pre_text(float(hv), pl.DECIMALS).replace("−", "-"), hv
        expect = {}
    for name, values in expect.items():
        assert header["arrays"][f"u{u}:{name}"]["scale"] == pl.SCALE
        for v, n in zip(values.astype(np.float32), printed[name], strict=True):
            assert _digits(n) == pl.fmt(float(v), pl.DECIMALS), (name, v)


def rnn_pre_text(h: float, digits: int = 3) -> str:
    """The rule for a plain RNN's pre-activation, one scalar at a time (what the payload's
    vectorised ``_rnn_pre`` must print): tanh⁻¹(h) where h's float32 rounding (2 ulp,
    magnified by 1 / (1 − h²)) stays under half the last digit, else the bound h keeps."""
    ulp = 2.0 ** (math.frexp(abs(h))[1] - 24) if h else 2.0**-149
    err = 2 * ulp / (1 - h * h) if abs(h) < 1 else math.inf
    if err < 0.5 * 10.0**-digits:
        return f"{math.atanh(h):.{digits}f}"
    low = math.atanh(max(0.0, abs(h) - 2 * ulp))
    return f"≥ {low:.{digits}f}" if h > 0 else f"≤ −{low:.{digits}f}"


def test_a_saturated_rnn_unit_prints_the_bound_its_h_guarantees():
    h = np.float32([0.5, -0.25, 0.99999994, -1.0, 0.0])
    got = pl._rnn_pre(h[:, None])
    assert np.array_equal(got["pre_bound"][:, 0], [0, 0, 1, -1, 0])
    assert got["pre"][0, 0] == np.float32(np.arctanh(0.5)) and got["pre"][4, 0] == 0
    ulp = 2.0**-24
    assert got["pre"][2, 0] == np.float32(np.arctanh(float(h[2]) - 2 * ulp))  # pre >= this
    assert got["pre"][3, 0] == -np.float32(np.arctanh(1 - 2 * 2.0**-23))  # 1.0 has a larger ulp


def test_every_printed_state_digit_equals_format_of_the_trace(tr):
    header, raw = pl.raw_arrays(_full(tr))
    q = pl.quantities(tr, 1)
    for name, values in q.items():
        spec = header["arrays"][f"w0:{name}"]
        assert spec["scale"] == pl.SCALE and spec["dtype"] in ("i2", "i4")
        flat = values[: spec["shape"][0]].ravel()
        ints = raw[f"w0:{name}"].ravel()
        assert [_digits(n) for n in ints] == [pl.fmt(float(v), pl.DECIMALS) for v in flat]
    # what is printed as a float is the trace's float itself (the browser formats it)
    assert (
        header["arrays"]["topk_p"]["dtype"] == "f4"
        and header["arrays"]["surprise"]["dtype"] == "f8"
    )


def test_base_payload_holds_only_what_was_asked(tr):
    blob = pl.step_payload(tr, layer=0, labels=LABELS, units=[3])
    assert pl.parts(blob) == ([0], [3])
    more = pl.merge(blob, pl.units_payload(tr, 0, [5, 3]), pl.window_payload(tr, 0, 0))
    assert pl.parts(more) == ([0], [3, 5])
    with pytest.raises(ValueError, match="Unit 99"):
        pl.units_payload(tr, 0, [99])
    with pytest.raises(ValueError, match="Window 4"):
        pl.window_payload(tr, 0, 4)
    with pytest.raises(ValueError, match="Layer 2"):
        pl.step_payload(tr, layer=2, labels=LABELS)
    with pytest.raises(ValueError, match="labels"):
        pl.step_payload(tr, labels=LABELS[:-1])


def test_windows_cover_every_step_once_and_carry_the_state_before_them():
    tr = trace(_model("lstm", hidden=16, layers=1), TEXT * 3)
    budget = 16 * 14 * 25  # 25 steps of (h, c, 4 gates) per window
    lay = pl.layout(tr, 0, budget)
    assert lay.window == 25 and lay.windows() == -(-len(tr.tokens) // 25)
    blob = pl.step_payload(tr, labels=LABELS, windows=None, budget=budget)
    meta, arrays = pl.unpack(blob)
    assert (meta["window"], meta["windows"]) == (25, lay.windows())
    for k in range(lay.windows()):
        lo, hi = lay.bounds(k)
        assert arrays[f"w{k}:hidden"].shape == (hi - lo, 16)
        before = tr.hidden[lo - 1, 0] if lo else tr.initial_hidden[0]
        assert np.array_equal(
            arrays[f"w{k}:prev_hidden"], pl.unpack(pl.pack({}, {"x": pl.quantise(before)}))[1]["x"]
        )
    one = pl.window_payload(tr, 0, 2, budget)
    assert pl.parts(one) == ([2], []) and pl.unpack(one)[0]["id"] == meta["id"]


def test_compare_and_orders():
    lstm, gru = trace(_model("lstm"), TEXT), trace(_model("gru"), TEXT)
    order = np.arange(12)[::-1]
    blob = pl.step_payload(
        lstm,
        labels=LABELS,
        orders={"clustered": order},
        compare={
            "gru": ("tiny-gru", gru, LABELS),
            "rnn": ("short", trace(_model("rnn"), "ab"), LABELS),
        },
    )
    meta, arrays = pl.unpack(blob)
    assert meta["orders"] == ["index", "clustered"] and np.array_equal(
        arrays["order:clustered"], order
    )
    assert [c["cell"] for c in meta["compare"]] == ["gru"]  # another length is left out
    assert meta["compare"][0]["mean_bits"] == pl.fmt(float(np.nanmean(gru.surprise_bits)), 2)
    assert np.array_equal(arrays["cmp:gru:surprise"], gru.surprise_bits, equal_nan=True)
    assert arrays["cmp:gru:topk_ids"].shape == (len(TEXT), pl.COMPARE_K)
    with pytest.raises(ValueError, match="permutation"):
        pl.step_payload(lstm, labels=LABELS, orders={"bad": np.zeros(12, int)})


# ---------------------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------------------


def _wide_lstm() -> SequenceModel:
    chars = "".join(chr(c) for c in range(32, 127)) + "\n"
    tok = CharTokenizer.fit(chars)
    torch.manual_seed(3)
    model = SequenceModel(SequenceConfig("lstm", tok.vocab_size, 32, 256, 1), tok).eval()
    return model.requires_grad_(False)


def test_default_text_payload_is_under_a_megabyte():
    from autoreg.ui.sequences import PRESETS  # the page's default input

    model = _wide_lstm()
    tr = trace(model, PRESETS["Python code"])
    labels = [model.tokenizer.token(i) for i in range(model.config.vocab_size)]
    blob = pl.step_payload(tr, labels=labels, units=[0], embedding_xy=np.zeros((len(labels), 2)))
    assert pl.parts(blob) == ([0], [0])  # the whole default text is one window
    assert len(blob) < 1_000_000, len(blob)
    _, raw = pl.raw_arrays(blob)
    states = sum(a.nbytes for k, a in raw.items() if k.startswith("w0:"))
    # two bytes a value (int16), four at most for the cell state (int32)
    assert len(tr.tokens) * 256 * 12 <= states <= (len(tr.tokens) + 2) * 256 * 14


def test_a_2000_token_text_comes_in_windows_under_the_budget():
    model = _wide_lstm()
    text = ("for i in range(10):\n    print(i, 'x' * i)\n" * 60)[:2000]
    tr = trace(model, text)
    labels = [model.tokenizer.token(i) for i in range(model.config.vocab_size)]
    blob = pl.step_payload(tr, labels=labels, units=[0])
    meta = pl.unpack(blob)[0]
    assert meta["n_steps"] == 2000 and meta["windows"] >= 3
    assert len(blob) < 3_000_000, len(blob)  # base part + one window
    for k in range(meta["windows"]):
        assert len(pl.window_payload(tr, 0, k)) <= pl.WINDOW_BYTES + 4096
    # JSON header stays small: tokens and labels, not numbers
    (n,) = struct.unpack("<I", blob[4:8])
    assert n < 100_000 and json.loads(blob[8 : 8 + n])["meta"]["window"] == meta["window"]
