"""The benchmark's floor: a bare Streamlit page with one plotly chart and a button.

``python -m autoreg.bench page_load_ratio`` serves this script next to the real app and
divides every page's time by this page's time, measured the same way in the same run. It
is deliberately nothing else: whatever a real page costs above this is the page's own
work (models, traces, figure size, the number of elements), not the framework's.

The "Next" button moves a cursor one step along a 200-point line, the way a page's step
control moves its cursor, so a click costs one full script run and one chart redraw.
"""

import math

import plotly.graph_objects as go
import streamlit as st

N_POINTS = 200
step = st.session_state.setdefault("ref_step", 0)
if st.button("Next", key="ref_next"):
    step = st.session_state["ref_step"] = (step + 1) % N_POINTS

xs = list(range(N_POINTS))
fig = go.Figure(go.Scatter(x=xs, y=[math.sin(x / 12) for x in xs], mode="lines"))
fig.add_vline(x=step)
st.plotly_chart(fig, width="stretch", key="ref_chart")
