"""Train: train a sequence model or a PixelCNN live, watch it learn, keep the checkpoint."""

import streamlit as st

from autoreg import lab
from autoreg.ui import train as ui
from autoreg.ui import train_results
from autoreg.ui.chrome import intro, presenting, require_frame
from autoreg.ui.urlstate import show_url_notices, url_widget

require_frame()  # a shared link on a fresh server still gets the app frame
st.title("Train")
intro(
    "Train a model of your choice right here, on a shipped corpus, a synthetic task, your "
    "own text or a set of digit images, and watch its loss fall and its samples take shape."
)

run = ui.current_run()
busy = run is not None and not run.job.finished
lost = ui.lost_run() if run is None else None  # a run on a replica that has stopped
ui.remember_run(run)
if lost is not None:
    ui.show_lost_run(lost)
if run is not None:  # the run first, where the eye is after pressing Start
    st.subheader(f"Run: {run.job.label}")
    ui.show_run(run)
    if run.job.finished:
        train_results.show_result(run)
    st.subheader("Start another run")

left, right = st.columns([3, 2], gap="large")
with left:
    family = url_widget(
        st.segmented_control,
        "What to train",
        ["Sequence model", "PixelCNN"],
        default="Sequence model",
        key="train_family",
        required=True,
    )
    with st.container(border=True):
        chosen = ui.sequence_settings() if family == "Sequence model" else ui.pixel_settings()
        start = st.button(
            "Start training",
            key="train_start",
            type="primary",
            icon=":material/model_training:",
            disabled=busy or chosen is None,
            help="One run at a time per session; stop the current run to start another."
            if busy
            else None,
        )
    show_url_notices()
    if start and chosen is not None:
        try:
            if family == "Sequence model":
                run = ui.start_sequence_run(*chosen)
            else:
                run = ui.start_pixel_run(chosen)
        except ValueError as exc:
            st.error(str(exc), icon=":material/error:")
        else:
            st.rerun()  # a full rerun shows the new run at the top and starts polling

with right:
    if run is None:
        st.info(
            "Choose what to train and press **Start training**. The defaults learn "
            "something visible in about a minute; the loss curve and samples appear above.",
            icon=":material/info:",
        )
    if family == "Sequence model":
        st.markdown(
            "A language model learns to predict the next token. Its loss is the average "
            "surprise of the true next token, in **bits per token**: a uniform guess over "
            "$V$ tokens costs $\\log_2 V$ bits, and every bit below that is structure the "
            "model has found. The surprise $s_t$ of each token is the one Step through shows, "
            "with $p_t = p_\\theta(x_{t+1} \\mid x_{\\le t})$ the probability the model gave "
            "the true next token."
        )
        # short lines: a longer one would be cut off in this column on a 1024-pixel screen
        st.latex(r"\mathcal{L} = \frac{1}{T}\sum_{t=1}^{T} s_t")
        st.latex(r"s_t = -\log_2 p_t")
    else:
        st.markdown(
            "A PixelCNN predicts each pixel's level from the pixels above and to its left. "
            "Its loss is in **bits per pixel**: $\\log_2 L$ for a uniform guess over $L$ "
            "levels, less once it has learned what digits look like."
        )
        st.latex(r"\mathcal{L} = -\frac{1}{HW}\sum_{i=1}^{HW} \log_2 p_\theta(x_i \mid x_{<i})")
    if not presenting():
        st.caption(lab.caps_text())

if not presenting():
    st.subheader("Open a checkpoint")
    st.write(
        "A `.safetensors` file saved here (or by `python -m autoreg.train`) opens as one "
        "of your models on the other pages. Only safetensors is read: nothing is unpickled."
    )
    train_results.checkpoint_opener()
