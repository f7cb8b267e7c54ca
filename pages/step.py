"""Step through: read a text one token at a time and watch every number the model computes."""

import streamlit as st

from autoreg.ui import stepper as ui
from autoreg.ui.chrome import intro, presenting, require_frame
from autoreg.ui.models import get_model
from autoreg.ui.sequences import card_summary, get_trace, model_picker, text_input, unknown_tokens
from autoreg.ui.urlstate import show_url_notices, url_widget

require_frame()  # a shared link on a fresh server still gets the app frame
st.title("Step through")
intro(
    "A recurrent network reads the text one token at a time and carries a state from step "
    "to step. Move the cursor and watch every number it computes: the state, the gates, "
    "and its guess for the next token. Stepping runs in your browser: ← → step, Home and "
    "End jump, space plays, and the slider scrubs."
)
present = presenting()
notices = st.container()

top = st.columns([3, 1, 3])
with top[0]:
    name = model_picker("step_model")
    st.caption(card_summary(name))
n_layers = get_model(name).config.num_layers
with top[1]:
    if st.session_state.get("step_layer", 1) > n_layers:
        st.session_state["step_layer"] = 1
    layer = url_widget(
        st.selectbox,
        "Layer",
        list(range(1, n_layers + 1)),
        key="step_layer",
        help="1 reads the embeddings; each next layer reads the one below",
        disabled=n_layers == 1,
    )
    layer -= 1  # 0-based from here on
with top[2]:
    text = text_input("step_input")
unknown = sorted(set(unknown_tokens(name, text)))
if unknown:
    st.warning(
        f"This model never saw {', '.join(repr(u) for u in unknown[:12])}: it reads them as "
        "the unknown token `<unk>`, and their surprise is not counted.",
        icon=":material/help:",
    )
tr = get_trace(name, text)
T = len(tr.tokens)
if T < 2:
    st.info("Type at least two tokens to step through.")
    st.stop()

with st.expander("The equations", expanded=not present):
    st.markdown(
        "After reading token $x_t$ the cell updates its state; a dense layer and a softmax "
        "turn $h_t$ into the distribution of the next token. Surprise is how many bits the "
        "true next token cost: $-\\log_2 p(x_{t+1})$, 0 when the model was sure and right."
    )
    st.latex(r"h_t = \mathrm{cell}(h_{t-1}, x_t)")
    st.latex(r"p(x_{t+1} \mid x_{\le t}) = \mathrm{softmax}(W h_t + b)")
    if tr.cell_type == "gru":
        st.info(
            "GRU in PyTorch: $h_t = (1-z_t)\\,n_t + z_t\\,h_{t-1}$, so an update gate "
            "**z ≈ 1 keeps the old state** and z ≈ 0 writes the candidate (many diagrams "
            "use the opposite convention)."
        )

bar = st.columns([5, 1], vertical_alignment="center")
compare = url_widget(bar[0].toggle, "Compare RNN, LSTM and GRU", key="step_compare")
shown = ui.show(name, text, layer, compare, present=present)
if not present:
    bar[1].download_button(
        "CSV",
        data=ui.csv_exporter(name, text),
        file_name=f"trace-{name.replace(':', '-')}.csv",
        mime="text/csv",
        icon=":material/download:",
        key="step_csv",
        on_click="ignore",
        help="The whole trace: one row per step × layer × unit × quantity.",
    )
with notices:
    for note in shown["notes"]:
        st.warning(note, icon=":material/link_off:")
    show_url_notices()
