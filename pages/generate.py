"""Generate text: logits → ÷ temperature → top-k → softmax → draw, one token at a time."""

import streamlit as st

from autoreg.ui import generate as g
from autoreg.ui.chrome import presenting, require_frame
from autoreg.ui.models import get_model
from autoreg.ui.sequences import card_summary, model_picker, unknown_tokens
from autoreg.ui.urlstate import url_notice_area, url_widget
from autoreg.viz import generate as vg
from autoreg.viz.common import token_label

require_frame()  # a shared link on a fresh server still gets the app frame
st.title("Generate text")
url_notice_area()  # bad values in a shared link are reported here
st.markdown(
    "A language model never writes a sentence: it outputs one probability distribution "
    "for the **next** token, a token is drawn from it, appended, and the model reads it."
)

present = presenting()
top = st.columns([1, 2])
with top[0]:
    name = model_picker("gen_model")
model = get_model(name)
tok = model.tokenizer
V = model.config.vocab_size
with top[1]:
    default_prompt = "def " if tok.kind == "char" else "the"
    prompt = url_widget(st.text_input, "Prompt", value=default_prompt, key="gen_prompt")
st.caption(card_summary(name))
row = st.columns(4 if not present else 2)
with row[0]:
    temperature = url_widget(
        st.slider, "Temperature T", 0.0, 2.0, 0.8, 0.05, key="gen_temp",
        help="0 = always the most likely token (argmax); 1 = the model's own distribution.",
    )  # fmt: skip
with row[1]:
    seed = url_widget(st.number_input, "Seed", 0, 1_000_000, 0, key="gen_seed")
length, top_k_raw = 200, 0
if not present:
    with row[2]:
        top_k_raw = url_widget(
            st.number_input, "Top-k (0 = off)", 0, V, 0, key="gen_topk",
            help="Keep only the k most likely tokens before drawing.",
        )  # fmt: skip
    with row[3]:
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

gen = g.generate(name, prompt, length, temperature, top_k, int(seed))
N = len(gen.tokens)

st.subheader("One draw, stage by stage")
mode = url_widget(
    st.segmented_control, "Show the text", ["All at once", "One token at a time"],
    default="All at once", key="gen_mode",
)  # fmt: skip
stepping = mode == "One token at a time"
if st.session_state.get("gen_step", 0) > N - 1:
    st.session_state["gen_step"] = N - 1


def _move(delta: int) -> None:
    st.session_state["gen_step"] = min(max(st.session_state.get("gen_step", 0) + delta, 0), N - 1)


if stepping:
    b = st.columns([1, 1, 6])
    b[0].button("◀ Back", key="gen_back", on_click=_move, args=(-1,), width="stretch")
    b[1].button("Next token ▶", key="gen_next", on_click=_move, args=(1,), type="primary",
                width="stretch")  # fmt: skip
step = url_widget(  # no default once the key holds a value: Streamlit warns on both
    st.slider, "Generated token", 0, N - 1, None if "gen_step" in st.session_state else 0,
    key="gen_step",
)  # fmt: skip
st.html(g.generated_html(prompt, gen, upto=step + 1 if stepping else None, mark=step))

pipe = g.pipeline_at(gen, step, temperature, top_k)
drawn = int(gen.ids[step])
left, right = st.columns([3, 2], gap="large")
with left:
    fig = vg.pipeline_figure(
        pipe.logits.numpy(), pipe.scaled.numpy(), pipe.masked.numpy(),
        pipe.probs_after.numpy(), tok.itos, drawn=drawn, temperature=temperature,
        top_k=top_k, probs_before=pipe.probs_before.numpy(), n=20 if not present else 12,
    )  # fmt: skip
    st.plotly_chart(fig, width="stretch", key="gen_pipeline")
with right:
    st.metric(
        f"Token {step} drawn",
        repr(token_label(gen.tokens[step])),
        f"p = {gen.p_drawn[step]:.3f}",
        delta_color="off",
    )
    st.markdown("**1. Logits**: the dense layer turns the hidden state into one score per token.")
    st.latex(r"z = W h_t + b \in \mathbb{R}^{V}")
    st.markdown("**2. Temperature** rescales them: below 1 it sharpens, above 1 it flattens.")
    st.latex(r"p_i = \frac{\exp(z_i / T)}{\sum_j \exp(z_j / T)}")
    st.markdown(
        "**3. Top-k** keeps the k largest and sets the rest to −∞. **4.** The draw uses its "
        "own seeded generator. In log space, $\\log p_i = z_i/T - \\log\\sum_j e^{z_j/T}$ "
        "never overflows, and as T → 0 all mass goes to the argmax:"
    )
    st.latex(r"\lim_{T \to 0} p = \mathrm{onehot}\left(\arg\max_i z_i\right)")

st.subheader("The same logits at three temperatures")
probs_by_t = {t: g.pipeline_at(gen, step, t, top_k).probs_after.numpy() for t in g.TEMPERATURES}
st.plotly_chart(
    vg.temperatures_figure(probs_by_t, tok.itos, logits=pipe.logits.numpy()),
    width="stretch",
    key="gen_temps",
)
st.caption(
    "Low temperature: safe, repetitive text. High temperature: surprising, then broken text. "
    "The order of the tokens never changes; only how sharply the mass is shared."
)

if not present:
    st.plotly_chart(
        vg.draw_probability_figure(gen.tokens, gen.p_drawn, step=step,
                                   title="How likely each drawn token was"),
        width="stretch", key="gen_pdrawn",
    )  # fmt: skip

st.subheader("Several samples, same prompt and settings")
n_samples = 3 if present else url_widget(st.slider, "Samples", 1, 6, 3, key="gen_n")
st.caption(f"Seeds {int(seed)} to {int(seed) + n_samples - 1}: change the seed for new ones.")
cols = st.columns(min(n_samples, 3))
for i in range(n_samples):
    other = g.generate(name, prompt, length, temperature, top_k, int(seed) + i)
    with cols[i % len(cols)]:
        st.caption(f"seed {int(seed) + i}")
        st.html(g.generated_html(prompt, other))
