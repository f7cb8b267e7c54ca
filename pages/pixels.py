"""Generate pixels: watch a PixelCNN draw an image one pixel at a time."""

from functools import partial

import streamlit as st

from autoreg.pixelcnn.generation import REGIONS, Start, drawn_start, erase
from autoreg.ui import pixels as ui
from autoreg.ui.canvas import pixel_canvas
from autoreg.ui.chrome import intro, plot, presenting, require_frame
from autoreg.ui.models import get_model
from autoreg.ui.urlstate import url_notice_area, url_widget
from autoreg.viz.pixels import image_figure

STARTS = ["blank", "test image, part erased", "your drawing"]

require_frame()  # a shared link on a fresh server still gets the app frame
st.title("Generate pixels")
url_notice_area()  # bad values in a shared link are reported here
INTRO = (
    "A PixelCNN draws an image in raster order: at each pixel it outputs a distribution "
    "over the intensity levels, one level is drawn, written into the image, and the next "
    "pixel is predicted from everything drawn so far."
)
FORMULA = r"x_{r,c} \sim \operatorname{softmax}\!\big(z_{r,c}(x_{<(r,c)})\,/\,T\big)"
present = presenting()
intro(INTRO, FORMULA)

top = st.columns([2, 3], vertical_alignment="bottom")
with top[0]:
    name = ui.pixel_model_picker("pixels_model")
with top[1]:
    mode = url_widget(st.radio, "Start from", STARTS, key="pixels_start", horizontal=True)
if not present:
    st.caption(ui.card_line(name))
model = get_model(name)
size, levels = model.config.image_size, model.config.levels
# presenter mode: the batch settings fold away, so the drawing is on the first screen
row = st.columns(3) if not present else st.expander("Batch, temperature and seed").columns(3)
n = url_widget(row[0].slider, "Samples in the batch", 1, 16, 4, key="pixels_n")
temp = url_widget(row[1].slider, "Temperature T", 0.1, 2.0, 1.0, 0.05, key="pixels_temp")
seed = url_widget(row[2].number_input, "Seed", 0, 1_000_000, 0, key="pixels_seed")
start = Start.blank(size)
if mode != STARTS[0]:  # a partial start: its controls, and what it gives the model
    c2, c3 = st.columns([1, 1], gap="medium")
    with c2:
        if mode == STARTS[1]:
            images = ui.test_images(name)
            idx = url_widget(st.slider, "Test image", 0, len(images) - 1, 0, key="pixels_image")
            region = url_widget(st.radio, "Erase", list(REGIONS), key="pixels_region",
                                horizontal=True)  # fmt: skip
            box = None
            if region == "box":
                r0, r1 = url_widget(st.slider, "Box rows", 0, size - 1,
                                    (size // 4, size // 2), key="pixels_rows")  # fmt: skip
                q0, q1 = url_widget(st.slider, "Box columns", 0, size - 1,
                                    (size // 4, 3 * size // 4), key="pixels_cols")  # fmt: skip
                box = (r0, r1, q0, q1)
            start = erase(images[idx], region, box)
        else:
            st.markdown(f"Draw at the model's resolution ({size}×{size}), then press Generate.")
            drawing = pixel_canvas(size, key="pixels_canvas")
            keep = url_widget(st.radio, "Given", ["rows", "ink"], key="pixels_keep",
                              horizontal=True, format_func={
                                  "rows": "rows down to your last stroke",
                                  "ink": "only the inked pixels"}.get)  # fmt: skip
            if drawing is not None:
                start = drawn_start(drawing, levels, keep)
            else:
                st.info("The canvas is empty: draw a few strokes (or Generate from blank).")
    with c3:
        plot(
            image_figure(start.image, levels, visible=start.known, known=start.known,
                         clickable=False, title="Start (blue = given)", height=320),
            width="stretch", key="pixels_start_fig",
        )  # fmt: skip

notice = ui.stale(name, n, start, temp, seed)
if ui.start_from_link(name, n, start, temp, seed):
    st.info("The link names a pixel of a generation: drawing the same seeded sample again.")
bar = st.container(horizontal=True, vertical_alignment="center")
bar.button("Generate", type="primary", icon=":material/brush:", on_click=ui.generate,
           args=(name, n, start, temp, seed), key="pixels_go")  # fmt: skip
run = ui.current_run()
if run is not None:
    bar.button("Stop", key="pixels_stop", on_click=ui.stop_run, icon=":material/stop:",
               disabled=run.done or run.stopped, help="Stop drawing; the replay keeps "
               "the pixels drawn so far.")  # fmt: skip
    bar.button("Resample from here", key="pixels_resample", on_click=ui.resample,
               icon=":material/refresh:", help="Keep the pixels drawn up to the replay's "
               "position, redraw the rest with the next seed.")  # fmt: skip
if notice:
    st.warning(notice, icon=":material/info:")
if not present:
    st.caption(
        "The replay runs in your browser: ← → step a pixel, Home and End jump, space plays "
        "(speed in pixels per second), the slider scrubs; click a pixel to go to the step "
        "that draws it, or a sample of the batch to show it large."
    )
ui.replay(present)
run = ui.current_run()
if run is not None and run.computed and (run.done or run.stopped):
    st.download_button("Download GIF (the whole generation)", partial(run.gif, scale=4),
                       "pixelcnn-generation.gif", "image/gif", key="pixels_gif",
                       on_click="ignore")  # fmt: skip
st.markdown(
    "**Reading the picture.** Orange tint: the pixels the model can see when it predicts "
    "the current pixel (its receptive field, measured by autograd). Blue outline: pixels "
    "given by the start, kept as they are. The entropy map, in bits, shows where the model "
    "hesitated: high at stroke edges, near 0 on the empty background."
)
