"""Generate text: logits → ÷ temperature → top-k → softmax → draw, one token at a time."""

import streamlit as st

from autoreg.ui import generate as g
from autoreg.ui.chrome import intro, presenting, require_frame, secondary
from autoreg.ui.models import get_model
from autoreg.ui.sequences import capped_text, card_summary, model_picker, unknown_tokens
from autoreg.ui.urlstate import notice, url_notice_area, url_widget

require_frame()  # a shared link on a fresh server still gets the app frame
st.title("Generate text")
url_notice_area()  # bad values in a shared link are reported here
INTRO = (
    "A language model never writes a sentence: it outputs one probability distribution "
    "for the **next** token, a token is drawn from it, appended, and the model reads it."
)
present = presenting()
intro(INTRO)
if present:  # a projector's first screen belongs to the draw: settings in one row
    top = st.columns([3, 3, 2, 1.3])
    row = top[2:]
else:
    top = st.columns([1, 2])
with top[0]:
    name = model_picker("gen_model")
model = get_model(name)
tok = model.tokenizer
V = model.config.vocab_size
with top[1]:
    prompt = capped_text(
        st.text_input, "Prompt", key="gen_prompt", value="def " if tok.kind == "char" else "the",
        limit=g.MAX_PROMPT_CHARS, what="prompt",
    )  # fmt: skip
if not present:
    st.caption(card_summary(name))
    row = st.columns(4)
# presenter mode: top-k, length and samples fold away, and a link's values for them hold
more = row[2:] if not present else secondary("Top-k, length and samples").columns(3)
with row[0]:
    temperature = url_widget(
        st.slider, "Temperature T", 0.0, 2.0, 0.8, 0.05, key="gen_temp",
        help="0 = always the most likely token (argmax); 1 = the model's own distribution.",
    )  # fmt: skip
with row[1]:
    seed = url_widget(st.number_input, "Seed", 0, 1_000_000, 0, key="gen_seed")
with more[0]:
    top_k_raw = url_widget(
        st.number_input, "Top-k (0 = off)", 0, V, 0, key="gen_topk",
        help="Keep only the k most likely tokens before drawing.",
    )  # fmt: skip
with more[1]:
    length = url_widget(st.slider, "Tokens to generate", 10, 400, 200, 10, key="gen_len")
top_k = int(top_k_raw) or None
if not prompt:
    st.info("Type a prompt: the model continues it.")
    st.stop()
unknown = unknown_tokens(name, prompt)
if unknown:
    st.warning(
        f"{len(unknown)} token(s) of the prompt are not in this model's vocabulary and are read "
        f"as <unk>: {', '.join(repr(u) for u in dict.fromkeys(unknown))}",
        icon=":material/help:",
    )

if not present:
    st.subheader("Every draw, one token at a time")
    st.caption(
        "Step through the drawn tokens in your browser: ← → step, Home and End jump, space "
        "plays, the slider scrubs; click a token in the text to go to it. Hover a bar for "
        "its exact value."
    )
shown = g.show(name, prompt, length, temperature, top_k, int(seed), present=present)
for note in shown["notes"]:
    notice(note)  # into the notice area at the top, with the other link notices

eq = [*st.columns(2, gap="large"), *st.columns(2, gap="large")]  # 2 x 2: the equations fit
with eq[0]:
    st.markdown("**1. Logits**: the dense layer turns the hidden state into one score per token.")
    st.latex(r"z = W h_t + b \in \mathbb{R}^{V}")
with eq[1]:
    st.markdown("**2. Temperature** rescales them: below 1 it sharpens, above 1 it flattens.")
    st.latex(r"p_i = \frac{\exp(z_i / T)}{\sum_j \exp(z_j / T)}")
with eq[2]:
    st.markdown(
        "**3. Top-k** keeps the k largest and sets the rest to −∞. **4.** The draw uses its "
        "own seeded generator."
    )
with eq[3]:
    st.markdown(
        "In log space, $\\log p_i = z_i/T - \\log\\sum_j e^{z_j/T}$ never overflows, and "
        "as T → 0 all mass goes to the argmax:"
    )
    st.latex(r"\lim_{T \to 0} p = \mathrm{onehot}\left(\arg\max_i z_i\right)")

st.subheader("Several samples, same prompt and settings")
with more[2] if present else st.container():
    n_samples = url_widget(st.slider, "Samples", 1, 6, 3, key="gen_n")
st.caption(f"Seeds {int(seed)} to {int(seed) + n_samples - 1}: change the seed for new ones.")
cols = st.columns(min(n_samples, 3))
for i in range(n_samples):
    other = g.generate(name, prompt, length, temperature, top_k, int(seed) + i)
    with cols[i % len(cols)]:
        st.caption(f"seed {int(seed) + i}")
        st.html(g.generated_html(prompt, other))
