"""autoreg: the app frame. Page config, the shared sidebar, and the navigation.

Pages are registered in ``autoreg/registry.py``; this file only turns that list
into ``st.Page`` objects, so the menu, the Home page and the tests never disagree.
"""

import streamlit as st
import torch

from autoreg.pretrained import ASSETS
from autoreg.registry import pages_by_section
from autoreg.ui import chrome
from autoreg.ui.models import open_kept_models
from autoreg.ui.train import adopt_finished_run

# One intra-op thread per script run. Every session's script runs in a thread of its own,
# so the sessions are the parallelism; a pool of threads per run oversubscribes the cores
# as soon as two sessions (or any other process) compute at once, and torch's small
# per-token ops then wait on descheduled threads: on a busy 2-core machine a 200-token
# sample took 0.06 s with one thread and 3 to 18 s with two (classroom_load in
# docs/benchmarks.md). The setting is process-wide, and a training job sets its own
# thread's pool through it, so every run puts it back.
if torch.get_num_threads() != 1:
    torch.set_num_threads(1)

st.set_page_config(
    page_title="autoreg: inside autoregressive models",
    page_icon=str(ASSETS / "icon.png"),  # local file: no icon CDN offline
    layout="wide",
    # presenter mode projects the page: the sidebar folds away (its arrow brings it back)
    initial_sidebar_state="collapsed" if chrome.presenter_asked() else "expanded",
)

navigation = st.navigation(
    {
        section: [
            st.Page(
                spec.path,
                title=spec.title,
                icon=spec.icon,
                url_path=spec.url_path,
                default=spec.url_path == "home",
            )
            for spec in specs
        ]
        for section, specs in pages_by_section().items()
    }
)
chrome.mark_frame()  # pages' require_frame() reruns until app.py has run in this session
chrome.sidebar()
chrome.unknown_page_notice(navigation)  # a mistyped link says so instead of opening Home
adopt_finished_run()  # a run that ended on another page (or before a reload) joins
open_kept_models()  # this browser's models kept on the server, e.g. before a reload
chrome.freeze_imports()  # keeps the full GC after each run cheap (see there)
navigation.run()
