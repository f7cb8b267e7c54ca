"""Masks: how a masked convolution hides the future, and what a stack of them can see."""

import streamlit as st

from autoreg.pixelcnn.demos import dot_product_example
from autoreg.pixelcnn.receptive import blind_spot_size
from autoreg.ui.chrome import intro, plot, presenting, require_frame, secondary
from autoreg.ui.masks import chosen_pixel, raster_player
from autoreg.ui.pixels import cached_stack_fields, example_digit, mask_demo
from autoreg.ui.urlstate import (
    bounded_default,
    notice,
    show_url_notices,
    url_notice_area,
    url_widget,
)
from autoreg.viz.masks import curves_figure, dot_product_figure, field_figure, mask_figure
from autoreg.viz.pixels import grid_figure

SIZE = 15  # the stacked-layers canvas
require_frame()  # a shared link on a fresh server still gets the app frame
st.title("Masks and receptive fields")
url_notice_area()  # bad values in a shared link are reported here
intro(
    "A PixelCNN predicts every pixel from the pixels **before it in raster order**. "
    "A plain convolution would also read the pixel itself and the ones after it, so each "
    "kernel is multiplied by a fixed 0/1 **mask**.",
    r"p(x) = \prod_{i=1}^{H\cdot W} p\left(x_i \mid x_1, \dots, x_{i-1}\right)",
)

st.header("One masked convolution", divider="gray")
c1, c2 = st.columns([1, 2], gap="large")  # the three panels below get the page's width
with c1:
    k = url_widget(st.select_slider, "Kernel size", [3, 5, 7, 9], value=5, key="masks_k")
    mtype = url_widget(
        st.radio,
        "Mask type",
        ["A", "B"],
        key="masks_type",
        horizontal=True,
        help="A: first layer, hides the centre. B: later layers, keeps it.",
    )
digit = example_digit().float() / 3  # a real 16x16 test digit, 4 levels -> intensities 0..1
dp = dot_product_example(digit, 7, 7, k, mtype)
with c1:  # a narrow column: the title in two lines
    plot(mask_figure(dp.mask, mtype, title=f"{k}×{k} mask {mtype}<br>orange: centre"),
         width="stretch")  # fmt: skip
with c2:
    st.latex(  # two lines: one never fits a narrow column or a projector
        rf"\begin{{aligned}} y_{{7,7}} &= b + \sum_{{i,j}} m_{{ij}}\, w_{{ij}}\, "
        rf"x_{{7+i,\,7+j}} \\ &= {dp.bias:.2f} + ({float(dp.products.sum()):.4f}) "
        rf"= {dp.output:.4f} \end{{aligned}}"
    )
    st.caption(
        f"The number is what `MaskedConv2d` itself returns at pixel (7, 7) of a test digit "
        f"(random kernel, seed 0). Without the mask the same kernel gives "
        f"{dp.unmasked_output:.4f}: it would have read "
        f"{'the centre and ' if mtype == 'A' else ''}the pixels after it."
    )
plot(dot_product_figure(dp.patch, dp.weight, dp.mask), width="stretch")

st.header("Stack layers: the receptive field grows", divider="gray")
st.markdown(
    "Layer 1 is mask A, every later layer mask B. **Click a pixel** to choose it; the "
    "coloured pixels are the inputs whose value changes its prediction, measured by "
    "autograd (`receptive_field`), coloured by the layer at which they join."
)
row, col = chosen_pixel("masks_pixel", SIZE, ("masks_pick_plain", "masks_pick_gated"))
c3, c1, c2 = st.columns(3)  # the kernel first: a slider's thumb at its right end sits
# on the column edge, where a radio group beside it would cover it
depth = url_widget(c1.slider, "Depth (layers)", 1, 8, 4, key="masks_depth")
layer = depth
if depth > 1:  # (a slider from 1 to 1 is an error) presenter mode: folded, a link's layer holds
    with secondary("Show an earlier layer", c2):
        layer = url_widget(
            st.slider, "Show the field after layer", 1, depth,
            bounded_default("masks_layer", 1, depth, depth), key="masks_layer",
        )  # fmt: skip
layer = min(layer, depth)
sk = url_widget(c3.radio, "Layer kernel", [3, 5], key="masks_stack_k", horizontal=True)
plain = cached_stack_fields(depth, "pixelcnn", sk, SIZE, row, col)
gated = cached_stack_fields(depth, "gated", sk, SIZE, row, col)
left, right = st.columns(2, gap="large")
n_blind = int(plain.blind[layer - 1].sum())
with left:
    st.subheader("PixelCNN")
    plot(
        field_figure(plain.first_layer, (row, col), layer, plain.blind[layer - 1],
                     title=f"pixel ({row}, {col}), {layer} layer(s)<br>blind spot {n_blind} px"),
        key="masks_pick_plain", on_select="rerun", selection_mode="points", width="stretch",
    )  # fmt: skip
with right:
    st.subheader("Gated PixelCNN")
    n_gated = int(gated.blind[layer - 1].sum())
    plot(
        field_figure(gated.first_layer, (row, col), layer, gated.blind[layer - 1],
                     title=f"pixel ({row}, {col}), {layer} layer(s)<br>blind spot {n_gated} px"),
        key="masks_pick_gated", on_select="rerun", selection_mode="points", width="stretch",
    )  # fmt: skip
st.markdown(
    f"**Blind spot: {n_blind} pixels** (orange) that come before ({row}, {col}) and lie "
    f"inside the layers' reach, yet never reach it: each mask-B layer grows the field one "
    f"column further right per row up, so a wedge to the upper right stays dark. "
    f"The Gated PixelCNN splits each layer into a vertical stack (whole rows above) and a "
    f"horizontal stack (the row so far): **{n_gated} pixels** missed."
)
if sk == 3 and row >= layer and col + layer < SIZE:
    st.caption(
        f"Geometry predicts n(n+1)/2 = {blind_spot_size(layer - 1)} for n = {layer - 1} "
        "mask-B layers after the first (away from the borders)."
    )

st.header("Raster order", divider="gray")
st.markdown(
    "Generation visits pixels left to right, top to bottom: press Play to watch, or step "
    "with ← → and the slider (in your browser); click a pixel to jump to it."
)
for note in raster_player(example_digit(), 4, present=presenting()):
    notice(note)

st.header("Switch the mask off", divider="gray")
off = url_widget(st.toggle, "Disable the mask (train a twin that can see its own pixel)",
                 key="masks_off")  # fmt: skip
if off:
    demo = mask_demo()
    st.caption(
        f"Two identical tiny PixelCNNs trained the same way on digits-8×8 (4 levels) in "
        f"{demo.seconds:.0f} s, once per server and shared by every visitor."
    )
    a, b = st.columns(2)
    a.metric("Test NLL with masks", f"{demo.test_bits['masked'][-1]:.3f} bits/pixel")
    b.metric("Test NLL without masks", f"{demo.test_bits['unmasked'][-1]:.3f} bits/pixel",
             delta=f"{demo.test_bits['unmasked'][-1] - demo.test_bits['masked'][-1]:.3f}",
             delta_color="inverse")  # fmt: skip
    plot(curves_figure(demo.train_bits, demo.test_bits), width="stretch")
    st.markdown(
        "The loss without masks looks excellent because the model **reads the answer**: "
        "the pixel it predicts is in its input. When it generates, that pixel is not "
        "drawn yet, so it copies whatever the canvas holds: blank from a blank canvas, "
        "noise from a noisy one. The masked model never reads an undrawn pixel, so its "
        "samples are the same whatever the canvas started as."
    )
    cols = [*st.columns(2), *st.columns(2)]  # 2 x 2: four in a row are too narrow to read
    for col_, (name, label) in zip(cols, [
        ("masked", "masked, blank canvas"), ("masked-noise", "masked, noise canvas"),
        ("unmasked", "no mask, blank canvas"), ("unmasked-noise", "no mask, noise canvas"),
    ], strict=True):  # fmt: skip
        plot(where=col_, fig=grid_figure(demo.samples[name], 4, title=label, height=260),
                          width="stretch")  # fmt: skip
    fld = demo.field_of("unmasked", 4, 4)
    st.caption(
        f"Receptive field of pixel (4, 4) without masks, by autograd: {int(fld.sum())} of 64 "
        f"pixels, including itself: {bool(fld[4, 4])}."
    )
show_url_notices()
