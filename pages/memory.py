"""Memory: why LSTM and GRU exist. Vanishing gradients, long lags, gates that hold a token."""

import numpy as np
import streamlit as st

from autoreg.seq import cells
from autoreg.seq.memory import RECALL_LETTERS
from autoreg.ui import memory as ui
from autoreg.ui.chrome import intro, plot, presenting, require_frame, secondary
from autoreg.ui.sequences import get_trace, text_input
from autoreg.ui.urlstate import show_url_notices, url_widget
from autoreg.viz import memory as viz

require_frame()  # a shared link on a fresh server still gets the app frame
st.title("Memory: why LSTM and GRU exist")
intro(
    "A plain RNN forgets: the signal from an old input shrinks at every step. Gates give "
    "the network a path along which it can keep a value as long as it needs. Here it is, "
    "measured on the shipped models."
)
full = not presenting()

if full:  # presenter mode: the first screen goes to the player
    st.markdown(
        "**On this page:** [1. How far back](#influence) · [2. Recall and counting](#tasks) · "
        "[3. The gate that holds the letter](#gates) · [4. Sigmoid and tanh](#activations) · "
        "[5. The three cells side by side](#cells)"
    )

# 1. Gradient influence ---------------------------------------------------------------
st.header("1. How far back can a prediction still be moved?", anchor="influence")
if full:
    settings = st.container()
    models = ui.char_model_pickers(settings)
    text = text_input("memory")
    measured = st.container()
else:  # one row: the input, and beside it the models and the measure, folded (a link's
    pick, side = st.columns([1, 1], vertical_alignment="bottom")  # models still hold)
    settings = side.expander("Models and strip width")
    measured = side.expander("How influence is measured")
    models = ui.char_model_pickers(settings)
    with pick:
        text = text_input("memory")
missing = [c.upper() for c, name in models.items() if name is None]
measured.latex(  # t < T on its own line: the formula fits half a projector's width
    r"\begin{gathered} \text{influence}(t) = \frac{\lVert \partial \log p(x_T \mid x_{<T}) "
    r"/ \partial e_t \rVert_2}{\lVert \partial \log p(x_T \mid x_{<T}) / \partial e_{T-1} "
    r"\rVert_2} \\ t < T \end{gathered}"
)
measured.markdown(
    "$e_t$ is the embedding vector of input character $t$. The gradient is exact "
    "(autograd through each model's own recurrent layer). **Normalised** by the newest "
    "input's value, so every cell starts at 1 and the curves compare how fast influence "
    "decays, not the models' overall scale. Move the predicted position in your browser: "
    "← → step, Home and End jump, the slider scrubs; hover a curve or a character for "
    "its exact value."
)
if missing:
    st.info(
        f"No character-level {', '.join(missing)} model is installed, so this part "
        "compares the cells that are."
    )
chosen = {c: n for c, n in models.items() if n is not None}
names = list(chosen.values())
if chosen and len(text) >= 2:
    window = url_widget(
        (st if full else settings).slider, "Characters shown in the strips", 20, 120,
        value=60, key="memory_window",
    )  # fmt: skip
    for note in ui.show_influence(chosen, text, window, present=not full)["notes"]:
        st.warning(note, icon=":material/link_off:")
elif chosen:
    st.info("Type at least two characters: one input and one prediction.")

# 2. Long-range tasks -----------------------------------------------------------------
st.header("2. Remember a letter across a lag; count a's to close the b's", anchor="tasks")
st.markdown(
    "**Recall:** each line is a letter, $L$ random digits, `=`, and the same letter "
    "(`c3805=c`). Only a network that carries the letter across $L$ steps can get the "
    "last character right. **Counting:** lines $a^n b^n$; after the first $b$ every "
    "character is forced, if the network has counted the $a$'s."
)
c1, c2 = st.columns(2)
seed = url_widget(c1.number_input, "Seed (fresh sequences)", 0, 10_000, value=0, key="memory_seed")
n_lines = url_widget(
    secondary("Lines per lag", c2).select_slider,
    "Lines per lag",
    [50, 100, 200, 400],
    value=200,
    key="memory_lines_per_lag",
)
left, right = st.columns(2)
recall = ui.task_models("recall")
if recall:
    acc = ui.recall_curves(tuple(recall.values()), int(n_lines), int(seed))
    with left:
        plot(
            viz.accuracy_curves(
                ui.LAGS,
                acc,
                chance=1 / len(RECALL_LETTERS),
                trained_up_to=ui.trained_range(next(iter(recall.values()))),
                title="Recall accuracy against the lag L",
            ),
            width="stretch",
            key="memory_recall",
        )
        st.caption(
            " · ".join(
                f"{c.upper()}: "
                + ", ".join(
                    f"L={L} {a:.2f}" for L, a in zip(ui.LAGS, v, strict=True) if L in (10, 40, 80)
                )
                for c, v in acc.items()
            )
        )
else:
    left.info("No recall task model is installed.")
brackets = ui.task_models("brackets")
if brackets:
    bacc = ui.brackets_curves(tuple(brackets.values()), 10, int(seed))
    with right:
        plot(
            viz.accuracy_curves(
                ui.DEPTHS,
                bacc,
                x_title="n (lines aⁿbⁿ)",
                trained_up_to=ui.trained_range(next(iter(brackets.values()))),
                title="aⁿbⁿ: whole forced part right,<br>against n",
            ),
            width="stretch",
            key="memory_brackets",
        )
        st.caption(ui.brackets_caption(bacc, ui.trained_range(next(iter(brackets.values())))))
else:
    right.info("No aⁿbⁿ task model is installed.")

# 3. Gates in numbers ------------------------------------------------------------------
st.header("3. The gate that holds the letter", anchor="gates")
st.markdown(
    "The same digits are read after each of the 8 letters. Units whose state at `=` "
    "differs between letters carry the letter (★: largest spread × mean gate over the "
    "digits). LSTM: forget gate $f$ near 1 keeps $c$. GRU (PyTorch's convention): "
    "$h_t = (1-z)\\,n_t + z\\,h_{t-1}$, so update gate $z$ **near 1 keeps** the old state."
)
c1, c2 = st.columns(2)
lag = url_widget(c1.slider, "Lag L", 1, 60, value=20, key="memory_lag")
letter = url_widget(c2.selectbox, "Letter", list(RECALL_LETTERS), index=2, key="memory_letter")
gated = {c: n for c, n in recall.items() if c in ("lstm", "gru")}
for col, (cell, name) in zip(st.columns(max(len(gated), 1)), gated.items(), strict=False):
    h = ui.holding(name, int(lag), int(seed), letter)
    state = "c" if cell == "lstm" else "h"
    with col:
        plot(
            viz.gate_over_time(
                h.trace.tokens,
                h.trace.gates[h.gate][:, -1, :],
                h.order[:12],
                h.states,
                RECALL_LETTERS,
                h.held_unit,
                gate_name=h.gate,
                state_name=state,
                title=f"{cell.upper()} {h.gate} gate:<br>the 12 units most set by the letter",
            ),
            width="stretch",
            key=f"memory_gate_{cell}",
        )
        st.caption(ui.holding_caption(h, top=12))

# 4. Sigmoid and tanh ------------------------------------------------------------------
st.header("4. Why a gate is a sigmoid and a candidate a tanh", anchor="activations")
st.latex(
    r"\sigma(x) = \frac{1}{1+e^{-x}} \in (0,1), \qquad \tanh(x) = 2\sigma(2x) - 1 "
    r"\in (-1, 1)"
)
x = np.linspace(-6, 6, 241)
curves = cells.activation_curves(x)
gap = np.abs(curves["tanh"] - (2 * cells.sigmoid(2 * x) - 1)).max()
c1, c2 = st.columns(2)
plot(
    where=c1,
    fig=viz.activation_figure(x, curves, title="The two curves and their slopes"),
    width="stretch",
    key="memory_curves",
)
hist_cell = url_widget(
    c2.radio,
    "Values from",
    ["lstm", "gru"],
    horizontal=True,
    key="memory_hist_cell",
    format_func=str.upper,
)
if models.get(hist_cell):
    tr = get_trace(models[hist_cell], text)
    plot(
        where=c2,
        fig=viz.value_histograms(
            tr.gates, title=f"{hist_cell.upper()} on the text above:<br>gates and candidate"
        ),
        width="stretch",
        key="memory_hist",
    )
    c2.caption(ui.values_caption(tr.gates))
runs = ui.toy_runs(int(seed))
plot(
    viz.toy_cell_figure(
        runs, title="Toy cell c = f·c + i·g: write 10 steps (shaded), then hold 60"
    ),
    width="stretch",
    key="memory_toy",
)
st.table(ui.toy_table(runs), hide_index=True, border="horizontal")
st.markdown(
    f"**Would one function do?** As a shape, yes: tanh is a stretched sigmoid (largest "
    f"difference from $2\\sigma(2x)-1$ here: {gap:.1e}). What matters is the **range**. "
    "A gate multiplies, so it must live in (0, 1): a saturated sigmoid is a clean *closed* "
    "(0) or *open* (1). With tanh gates a strongly 'closed' input gate is −1 and writes "
    "the negated candidate every step, burying the memory; with a (0, 2) gate the state "
    "explodes. A candidate is added, so it must be signed: a sigmoid candidate can only "
    "push $c$ up and never writes a negative value."
)

# 5. The three cells side by side ------------------------------------------------------
st.header("5. The three cells side by side", anchor="cells")
ui.cell_equations()
table_names = names + [n for n in recall.values()]
if table_names:
    st.table(ui.params_table(table_names), hide_index=True, border="horizontal")
show_url_notices()
