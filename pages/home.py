"""Home: what an autoregressive model is, and a map of the app."""

import streamlit as st

from autoreg.registry import pages_by_section
from autoreg.ui.catalog import shipped_models_table
from autoreg.ui.chrome import require_frame

require_frame()  # a shared link on a fresh server still gets the app frame
st.title("Inside autoregressive models")
st.markdown(
    "An **autoregressive model** writes a sequence one piece at a time, and each piece "
    "is predicted from everything written before it. Text is generated character by "
    "character, images pixel by pixel. This app opens real, trained models and shows "
    "every number they compute on the way."
)
st.latex(r"p(x) \;=\; \prod_{t=1}^{T} p\left(x_t \mid x_1, \dots, x_{t-1}\right)")
st.markdown(
    "The chain rule of probability makes this exact: any distribution over sequences "
    "can be factored this way. A model only has to learn one thing, the distribution "
    "of the **next** piece given the past, and it can then score any sequence "
    "(multiply the factors) or generate one (draw a piece, append it, repeat)."
)

left, right = st.columns(2, gap="large")
with left, st.container(border=True):
    st.subheader(":material/notes: Sequences: RNN, LSTM, GRU")
    st.markdown(
        "A recurrent network reads the text left to right and carries a state "
        "$h_t$ that summarises the past. The **LSTM** adds a cell state $c_t$ and three "
        "gates that decide what to forget, what to write and what to show; the **GRU** "
        "does the same with two gates. After each step a dense layer and a softmax turn "
        "$h_t$ into $p(x_{t+1} \\mid x_{\\le t})$."
    )
    st.latex(r"h_t = f(h_{t-1}, x_t)")
    st.latex(  # two lines: a card is narrow at classroom sizes
        r"\begin{gathered} p(x_{t+1} \mid x_{\le t}) \\ = \mathrm{softmax}(W h_t + b) "
        r"\end{gathered}"
    )
with right, st.container(border=True):
    st.subheader(":material/grid_on: Images: PixelCNN, Gated PixelCNN")
    st.markdown(
        "An image is a sequence of pixels in **raster order**: left to right, top to "
        "bottom. A PixelCNN predicts every pixel at once in training, and **masked "
        "convolutions** guarantee that each prediction sees only the pixels above it "
        "and to its left. Sampling then fills the image one pixel at a time."
    )
    st.latex(  # two lines: a card is narrow at classroom sizes
        r"\begin{gathered} p(\mathbf{x}) = \prod_{i=1}^{H}\prod_{j=1}^{W} "
        r"p\left(x_{ij} \mid \mathbf{c}_{ij}\right) \\ "
        r"\mathbf{c}_{ij} = \left(x_{<i,\cdot},\, x_{i,<j}\right) \end{gathered}"
    )

sections = {
    section: [spec for spec in specs if spec.url_path != "home"]
    for section, specs in pages_by_section().items()
}
sections = {section: specs for section, specs in sections.items() if specs}
if sections:
    st.header("Where to look")
    columns = st.columns(len(sections), gap="large")
    for column, (section, specs) in zip(columns, sections.items(), strict=True):
        with column:
            st.markdown(f"**{section}**")
            for spec in specs:
                st.page_link(spec.path, label=spec.title, icon=spec.icon, help=spec.blurb)
                st.caption(spec.blurb)

st.header("The models")
table = shipped_models_table()
if table.empty:
    st.info("No pretrained models are installed in `assets/` yet.")
else:
    st.caption(
        "Trained by this project with `python -m autoreg.train`; the numbers come from "
        "each model's card (validation or test set, lower is better)."
    )
    numbers = {"parameters": "{:,}", "model value": "{:.3f}", "baseline": "{:.3f}"}
    st.table(table.style.format(numbers, na_rep="–"), hide_index=True, border="horizontal")
st.caption(
    "Reference: David Foster, *Generative Deep Learning*, 2nd ed., chapter 5 "
    "(autoregressive models)."
)
