"""The server computes with one intra-op thread per script run.

``classroom_load`` found sessions waiting seconds on torch's thread pools: each session's
script runs in a thread of its own, and a pool per run oversubscribes the cores as soon
as two of them compute at once. The app frame puts the process-wide setting back to one
thread on every run, whatever changed it (a training job sets its own thread's pool).
"""

from __future__ import annotations

import threading

import torch
from streamlit.testing.v1 import AppTest

from autoreg.bench.browser import ROOT


def _threads_in_a_new_thread() -> int:
    seen = []
    worker = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    worker.start()
    worker.join()
    return seen[0]


def test_a_run_of_the_app_puts_torch_back_to_one_thread():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)  # as a training job with two threads leaves it
        assert _threads_in_a_new_thread() == 2
        AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
        assert _threads_in_a_new_thread() == 1  # the next session's script thread
    finally:
        torch.set_num_threads(before)
