"""Generate pixels: watch a PixelCNN draw an image one pixel at a time."""

from functools import partial

import streamlit as st

from autoreg.pixelcnn.generation import REGIONS, Start, drawn_start, erase
from autoreg.ui import pixels as ui
from autoreg.ui.canvas import pixel_canvas
from autoreg.ui.chrome import require_frame
from autoreg.ui.models import get_model, model_label
from autoreg.ui.urlstate import url_notice_area, url_widget
from autoreg.viz.pixels import entropy_figure, grid_figure, image_figure, probs_figure

STARTS = ["blank", "test image, part erased", "your drawing"]
S = st.session_state
S.setdefault("pixels_pos", 0)
S.setdefault("pixels_playing", False)
S.setdefault("pixels_jump", False)

require_frame()  # a shared link on a fresh server still gets the app frame
st.title("Generate pixels")
url_notice_area()  # bad values in a shared link are reported here
st.markdown(
    "A PixelCNN draws an image in raster order: at each pixel it outputs a distribution "
    "over the intensity levels, one level is drawn, written into the image, and the next "
    "pixel is predicted from everything drawn so far."
)
st.latex(r"x_{r,c} \sim \operatorname{softmax}\!\big(z_{r,c}(x_{<(r,c)})\,/\,T\big)")

name = ui.pixel_model_picker("pixels_model")
st.caption(ui.card_line(name))
model = get_model(name)
size, levels = model.config.image_size, model.config.levels
c1, c2, c3 = st.columns([1, 1, 1.3], gap="medium")
with c1:
    mode = url_widget(st.radio, "Start from", STARTS, key="pixels_start")
    n = url_widget(st.slider, "Samples in the batch", 1, 16, 4, key="pixels_n")
    temp = url_widget(st.slider, "Temperature T", 0.1, 2.0, 1.0, 0.05, key="pixels_temp")
    seed = url_widget(st.number_input, "Seed", 0, 1_000_000, 0, key="pixels_seed")
start = Start.blank(size)
with c2:
    if mode == STARTS[1]:
        images = ui.test_images(name)
        idx = url_widget(st.slider, "Test image", 0, len(images) - 1, 0, key="pixels_image")
        region = url_widget(st.radio, "Erase", list(REGIONS), key="pixels_region")
        box = None
        if region == "box":
            r0, r1 = st.slider("Box rows", 0, size - 1, (size // 4, size // 2), key="pixels_rows")
            q0, q1 = st.slider("Box columns", 0, size - 1, (size // 4, 3 * size // 4),
                               key="pixels_cols")  # fmt: skip
            box = (r0, r1, q0, q1)
        start = erase(images[idx], region, box)
    elif mode == STARTS[2]:
        st.markdown(f"Draw at the model's resolution ({size}×{size}), then press Generate.")
        drawing = pixel_canvas(size, key="pixels_canvas")
        keep = st.radio("Given", ["rows", "ink"], key="pixels_keep", horizontal=True,
                        format_func={"rows": "rows down to your last stroke",
                                     "ink": "only the inked pixels"}.get)  # fmt: skip
        if drawing is not None:
            start = drawn_start(drawing, levels, keep)
        else:
            st.info("The canvas is empty: draw a few strokes (or Generate from blank).")
with c3:
    st.plotly_chart(
        image_figure(start.image, levels, visible=start.known, known=start.known,
                     clickable=False, title="Start (blue = given)", height=300),
        width="stretch", key="pixels_start_fig",
    )  # fmt: skip


st.button("Generate", type="primary", icon=":material/brush:", on_click=ui.generate,
          args=(name, n, start, temp, seed), key="pixels_go")  # fmt: skip


def draw(run, step: int) -> None:
    """Everything that depends on the position (reruns alone, inside the replay fragment)."""
    if run.model_name != name:
        st.warning(
            f"Shown: a generation by {model_label(run.model_name)}. "
            "Press Generate to use this model."
        )
    size, levels = run.size, run.levels
    focus = min(S.get("pixels_focus", 0), run.n - 1)
    step = run.clamp(step)
    f = focus
    imgs = run.images_at(step)
    drawn = run.drawn_mask(step)
    pos = run.position(step) or run.position(1)
    field = ui.field_stencil(run.model_name).at(*pos, size)
    left, right = st.columns([1.25, 1], gap="medium")
    with left:
        st.plotly_chart(
            image_figure(imgs[f], levels, visible=run.known[f] | drawn, known=run.known[f],
                         current=pos, field=field, height=470,
                         title=f"sample {f}: pixel {pos} · click a pixel to go to it"),
            key="pixels_pick", on_select="rerun", selection_mode="points", width="stretch",
        )  # fmt: skip
    with right:
        probs = run.probs_at(step)
        if probs is None:
            st.info(f"Next: pixel {pos}. Press Play or Step.")
        else:
            lvl = int(imgs[f][pos])
            st.plotly_chart(probs_figure(probs[f], lvl, height=230,
                            title=f"p(level) at {pos}, T = {run.temperature:g}"),
                            width="stretch")  # fmt: skip
        st.plotly_chart(entropy_figure(run.entropy_map(step)[f], levels, height=250,
                        title="entropy of each drawn pixel"), width="stretch")  # fmt: skip
    st.plotly_chart(
        grid_figure(imgs, levels, visible=run.known.all(0) | drawn, focus=f, height=300,
                    title=f"the batch: {run.n} samples, seed {run.seed}"),
        width="stretch",
    )  # fmt: skip
    st.number_input("Sample shown large", 0, run.n - 1, focus, key="pixels_focus")
    # Files are made on click (callables): an eager file is replaced on every step, and
    # a browser still drawing an older step then asks for a file that is gone (404).
    d1, d2 = st.columns(2)
    d1.download_button("Download PNG (the batch at this step)", partial(run.png, step),
                       "pixelcnn-samples.png", "image/png", key="pixels_png")  # fmt: skip
    if run.done or run.stopped:
        d2.download_button("Download GIF (the whole generation)", partial(run.gif, scale=4),
                           "pixelcnn-generation.gif", "image/gif", key="pixels_gif")  # fmt: skip


ui.player(draw)
st.markdown(
    "**Reading the picture.** Orange tint: the pixels the model can see when it predicts "
    "the current pixel (its receptive field, measured by autograd). Blue outline: pixels "
    "given by the start, kept as they are. The entropy map, in bits, shows where the model "
    "hesitated: high at stroke edges, near 0 on the empty background."
)
