"""Shared test settings: torch's thread count, where artifacts go, the repository root."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

# One intra-op thread for the whole session, set once here before any test module runs.
# The tests' models and tensors are tiny, so thread start-up and synchronisation cost more
# than the parallel work saves, and a pool per core oversubscribes a CPU shared with other
# processes (background training, the Streamlit servers of the browser tests). Results
# do not depend on it: the exactness tests compare with tolerances, not bit patterns.
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
