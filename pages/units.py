"""Units: colour text by one unit, find units that track text features, saturation, clamps."""

import streamlit as st

from autoreg.seq.units import FEATURES, describe_score, kl_bits, quantities, richest_window
from autoreg.ui import units as ui
from autoreg.ui.chrome import intro, plot, presenting, require_frame, secondary
from autoreg.ui.models import get_model
from autoreg.ui.sequences import get_trace, is_char_model, model_picker, text_input
from autoreg.ui.urlstate import bounded_default, first_default, url_notice_area, url_widget
from autoreg.viz import units as viz
from autoreg.viz.common import token_label

require_frame()  # a shared link on a fresh server still gets the app frame
st.title("Units: what single neurons track")
url_notice_area()  # bad values in a shared link are reported here
intro(
    "Each unit of a recurrent layer is one number carried from step to step. Some of them "
    "learn something a person can name: *inside a string*, *how far into the line*. "
    "Here they are found automatically, shown on the text, and switched off to see what "
    "the model loses."
)
full = not presenting()
# presenter mode: model, input, quantity and unit in one row, so the text fits the screen
top = st.columns([1, 2], gap="large") if full else st.columns([3, 3, 3, 2])
with top[0]:
    name = model_picker("units_model", where=is_char_model)
with top[1]:
    text = text_input("units")
model = get_model(name)
tr = get_trace(name, text)
n_layers, H = tr.hidden.shape[1], tr.hidden.shape[2]
qs = list(quantities(tr))
controls = st.columns(3) if full else [top[2], top[3], None]
layer = 0
if n_layers > 1:  # presenter mode: folded under the top row, a link's layer still holds
    with secondary("Layer", controls[2]):
        layer = url_widget(st.selectbox, "Layer", list(range(n_layers)), key="units_layer")
scores = ui.unit_scores(name, layer)
best = (scores.get("in_string") or next(iter(scores.values())))[0]
if st.session_state.get("units_qty", best.quantity) not in qs:  # e.g. c after LSTM -> GRU
    st.session_state["units_qty"] = best.quantity
if st.session_state.get("units_unit", 0) > H - 1:
    st.session_state["units_unit"] = H - 1
with controls[0]:
    qty = url_widget(
        st.selectbox, "Quantity", qs, key="units_qty",
        index=0 if "units_qty" in st.session_state else qs.index(best.quantity),
        format_func=lambda q: ui.QUANTITY_LABELS.get(q, f"{q} gate"),
    )  # fmt: skip
with controls[1]:
    unit = url_widget(
        st.number_input, "Unit", 0, H - 1, first_default("units_unit", best.unit),
        key="units_unit",
    )  # fmt: skip
label = f"{ui.short(qty)}[{unit}]"

# 1. Colour the text ---------------------------------------------------------------------
st.header(f"1. The text, coloured by {label}")
diverging = qty in ("hidden", "cell") or qty == "candidate"
source = url_widget(
    st.segmented_control, "Text", ui.SOURCES, key="units_src",
    default=first_default("units_src", ui.SOURCES[0]),  # "Colour the text" sets it
    label_visibility="visible" if full else "collapsed",  # the header says what it is
)  # fmt: skip
if source in ui.SOURCES[1:]:
    window = ui.probe_window(source)
    shown = ui.probe_trace(name, ui.probe_of(source))
    tokens, values = shown.tokens[window], quantities(shown)[qty][window, layer, unit]
else:
    tokens, values = tr.tokens, quantities(tr)[qty][:, layer, unit]
st.html(viz.coloured_text_html(tokens, values, diverging=diverging, label=label))
st.caption(
    "Each character's background is the unit's value **after** reading it; hover for the "
    "exact number. h and c: blue < 0 < red. Gates: 0 (dark) to 1 (yellow)."
    + (
        " c is not bounded, so the scale is set by this text's largest |c|."
        if qty == "cell"
        else ""
    )
)

# 2. Find units ---------------------------------------------------------------------------
st.header("2. Find units automatically")
probe_source = url_widget(
    st.segmented_control, "Validation text", ["documentation", "code"],
    default="documentation", key="units_probe",
) or "documentation"  # fmt: skip
probe_text, features = ui.probe(probe_source)
st.markdown(
    f"Every unit (h, c and each gate of layer {layer}) is compared with features of "
    f"{len(probe_text):,} characters the model never trained on ("
    + (
        "held-out standard-library files"
        if probe_source == "code"
        else "docstrings of NumPy, pandas and scikit-learn"
    )
    + "). Yes/no features are scored by AUROC (the chance that the unit is higher on a "
    "random *yes* than on a random *no*: 0.5 is chance, 1 or 0 is perfect), counts by "
    "Pearson correlation."
)
st.latex(
    r"\mathrm{AUROC} = P\left(a_{t^+} > a_{t^-}\right), \qquad "
    r"r = \frac{\sum_t (a_t - \bar a)(f_t - \bar f)}{\sqrt{\sum_t (a_t - \bar a)^2 "
    r"\sum_t (f_t - \bar f)^2}}"
)
found_scores = ui.unit_scores(name, layer, probe_source)
found = [s for feature in found_scores.values() for s in feature]
table = ui.scores_table(found_scores)
best_rows = table[table["rank"] == 1] if not full else table
st.dataframe(best_rows, hide_index=True, width="stretch", height=260 if full else "content")
choice = url_widget(
    st.selectbox, "Open a unit", list(range(len(found))), key="units_found",
    format_func=lambda i: f"{FEATURES[found[i].feature].label} · {ui.short(found[i].quantity)}"
    f"[{found[i].unit}] · {describe_score(found[i])}",
)  # fmt: skip
pick = found[choice]


def _open() -> None:
    st.session_state["units_qty"] = pick.quantity
    st.session_state["units_unit"] = pick.unit
    st.session_state["units_src"] = f"Validation: {probe_source}"


st.button(
    "Colour the text by this unit (section 1)",
    key="units_open",
    on_click=_open,
    type="primary",
    icon=":material/format_color_fill:",
)
probe = ui.probe_trace(name, probe_source)
w0 = richest_window(features[pick.feature], 700)
span = slice(w0, w0 + 700)
plot(
    viz.feature_track_figure(
        probe.tokens[span], quantities(probe)[pick.quantity][span, layer, pick.unit],
        features[pick.feature][span], unit_label=f"{ui.short(pick.quantity)}[{pick.unit}]",
        feature_label=FEATURES[pick.feature].label,
        title=f"Feature (top) and unit (bottom) on validation characters {w0}–{w0 + 700}",
    ),
    width="stretch", key="units_track",
)  # fmt: skip

# 3. Gate saturation ------------------------------------------------------------------------
st.header("3. Gate saturation")
st.markdown(
    "For each unit: how often is its gate nearly **shut** (< 0.1) and how often wide "
    "**open** (> 0.9), over the validation text. Units on the top edge are gates that "
    "stay open: an LSTM forget gate there keeps its memory for long stretches. The RNN "
    "has no gates; its tanh h is shown mapped to 0..1."
)
st.latex(
    r"x_u = \tfrac{1}{T}\#\{t: g_{t,u} < 0.1\}, \qquad y_u = \tfrac{1}{T}\#\{t: g_{t,u} > 0.9\}"
)
plot(viz.saturation_figure(ui.saturation_panels(name, layer)), width="stretch", key="units_sat")

# 4. Intervene --------------------------------------------------------------------------------
st.header(f"4. Clamp {'h' if model.cell != 'lstm' else 'h or c'}[{unit}] and watch the softmax")
T = len(tr.tokens)
row = st.columns(2)
with row[0]:
    target = "hidden"
    if model.cell == "lstm":
        target = url_widget(
            st.radio, "Clamp", ["hidden", "cell"], key="units_target",
            format_func=lambda q: ui.QUANTITY_LABELS[q], horizontal=True,
        )  # fmt: skip
with row[1]:
    value = url_widget(st.slider, "Value (0 = switch off)", -3.0, 3.0, 0.0, 0.1, key="units_value")
# steps to choose from: one character has only step 0 (and a slider over 0..0 is an error)
row = secondary("Clamp from step t₀, inspect step").columns(2) if T > 1 else None
start = 0
if row:
    start = url_widget(
        row[0].slider, "From step t₀", 0, T - 1, bounded_default("units_from", 0, T - 1, 0),
        key="units_from",
    )  # fmt: skip
clamped = ui.clamp(name, text, target, layer, unit, value, start)
kl = kl_bits(tr.probs, clamped)
at = int(kl.argmax())  # by default (and on a new text), the step the clamp moved most
if row:
    at = url_widget(
        row[1].slider, "Inspect step", 0, T - 1,
        bounded_default("units_at", 0, T - 1, at, keep=False), key="units_at",
    )  # fmt: skip
st.latex(
    r"h_t[u] := v \;\; (t \ge t_0)" if target == "hidden"
    else r"c_t[u] := v,\;\; h_t[u] = o_t[u]\tanh(v) \;\; (t \ge t_0)"
)  # fmt: skip
cols = st.columns([3, 2], gap="large")
with cols[0]:
    nxt = token_label(tr.tokens[at + 1]) if at + 1 < T else "(end)"
    plot(
        viz.clamp_bars_figure(tr.probs[at], clamped[at], model.tokenizer.itos,
                              title=f"After step {at} ({token_label(tr.tokens[at])!r});"
                              f"<br>the text continues with {nxt!r}"),
        width="stretch", key="units_bars",
    )  # fmt: skip
with cols[1]:
    st.metric("KL at the inspected step", f"{kl[at]:.3f} bits")
    st.metric("Mean KL from the clamp on", f"{kl[start:].mean():.3f} bits")
    st.caption(
        "KL(untouched ‖ clamped) measures how much the next-token distribution moved. "
        "A unit the model relies on moves it far; a unit it ignores barely at all."
    )
plot(
    viz.divergence_figure(kl, tr.tokens, from_step=start, step=at, title="KL per step"),
    width="stretch", key="units_kl",
)  # fmt: skip
