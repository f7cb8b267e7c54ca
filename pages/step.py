"""Step through: read a text one token at a time and watch every number the model computes."""

import streamlit as st

from autoreg.ui import stepper as ui
from autoreg.ui.chrome import presenting, require_frame
from autoreg.ui.models import get_model
from autoreg.ui.sequences import card_summary, get_trace, model_picker, text_input, unknown_tokens
from autoreg.ui.urlstate import show_url_notices, url_widget
from autoreg.viz import cell_diagram as cd
from autoreg.viz import stepper as vs

require_frame()  # a shared link on a fresh server still gets the app frame
st.title("Step through")
st.markdown(
    "A recurrent network reads the text one token at a time and carries a state from step "
    "to step. Move the cursor and watch every number it computes: the state, the gates, "
    "and its guess for the next token."
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

bar = st.columns([3, 3, 1], vertical_alignment="bottom")
compare = url_widget(bar[0].toggle, "Compare RNN, LSTM and GRU", key="step_compare")
if not present:
    ordering = bar[1].selectbox(
        "Unit order", vs.ORDERINGS, key="step_order", help="clustered: similar units sit together"
    )
    bar[2].download_button(
        "CSV",
        data=ui.csv_exporter(name, text),
        file_name=f"trace-{name}.csv",
        mime="text/csv",
        icon=":material/download:",
        key="step_csv",
        help="The whole trace: one row per step × layer × unit × quantity.",
    )
else:
    ordering = st.session_state.get("step_order", "index")
labels = ui.vocabulary(name)
q = vs.quantities(tr, layer)
H = q["hidden"].shape[1]
order = ui.unit_order(name, text, layer, ordering)
coords, ratio = ui.embedding_pca(name)


def draw(t: int) -> None:
    """Everything that depends on the step (reruns alone, inside the stepping fragment)."""
    st.html(ui.text_strip(tr.tokens, t))
    for col, (k, v) in zip(st.columns(4), ui.step_facts(tr, t, labels).items(), strict=True):
        col.metric(k, v)
    true_id = int(tr.ids[t + 1]) if t + 1 < T else None
    left, right = st.columns(2)
    left.plotly_chart(
        vs.topk_bars(tr.probs[t], labels, true_id=true_id), width="stretch", key="step_topk"
    )
    right.plotly_chart(
        vs.surprise_line(tr.surprise_bits, tr.tokens, t, height=300),
        width="stretch",
        key="step_surprise",
    )
    left, right = st.columns(2)
    left.plotly_chart(
        vs.embedding_bar(tr.embeddings[t], tr.tokens[t], height=320),
        width="stretch",
        key="step_emb",
    )
    right.plotly_chart(
        vs.embedding_map(coords, labels, int(tr.ids[t]), ratio=ratio),
        width="stretch",
        key="step_pca",
    )

    st.subheader("Every unit at this step")
    ui.clamp_state("step_unit", H - 1)
    unit = int(
        url_widget(
            st.number_input,
            "Unit (outlined; drawn in the cell below)",
            0,
            H - 1,
            key="step_unit",
            width=260,
        )
    )
    st.plotly_chart(
        vs.step_strips(q, t, order=order, unit=unit), width="stretch", key="step_strips"
    )
    view = (
        url_widget(
            st.segmented_control,
            "Over time",
            list(q),
            default="hidden",
            key="step_view",
        )
        or "hidden"
    )
    st.plotly_chart(
        vs.overview_heatmap(q[view], tr.tokens, t, name=view, order=order, unit=unit),
        width="stretch",
        key="step_heatmap",
    )

    st.subheader(f"Inside the {tr.cell_type.upper()} cell: unit {unit}, step {t}")
    sub = None
    if tr.cell_type == "lstm":
        sub = (
            url_widget(
                st.segmented_control,
                "Sub-step",
                [*cd.LSTM_SUBSTEPS, "all"],
                default="all",
                key="step_sub",
            )
            or "all"
        )
        sub = None if sub == "all" else sub
    values = cd.unit_values(tr, layer, unit, t)
    c_bound = vs.value_range("cell", q["cell"])[1] if "cell" in q else 1.0
    st.plotly_chart(
        cd.cell_diagram(tr.cell_type, values, substep=sub, c_bound=c_bound),
        width="stretch",
        key="step_diagram",
    )
    # one KaTeX block, not one element per line: each element is a separate render
    st.latex(
        r"\begin{gathered}"
        + r" \\[6pt] ".join(cd.cell_equations(tr.cell_type, values, substep=sub))
        + r"\end{gathered}"
    )
    if compare:
        ui.compare_panel(name, text, t)


ui.player(T, draw, show_speed=not present)
with notices:
    show_url_notices()
