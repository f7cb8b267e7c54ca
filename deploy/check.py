"""Check that this checkout can serve the app: its dependencies import, its models load.

    python deploy/check.py

The image's build runs it (so an image without its models, or with a broken dependency,
fails to build), and so does ``deploy/cluster.sh`` before it starts any replica. It
loads every shipped model from ``assets/`` and imports what the pages import.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    start = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    import pandas  # noqa: F401  the pages' imports, beyond the package's
    import PIL  # noqa: F401
    import plotly  # noqa: F401
    import streamlit

    import autoreg
    from autoreg.pretrained import ASSETS

    names = autoreg.list_pretrained()
    if not names:
        print(f"deploy/check.py: no shipped models in {ASSETS}", file=sys.stderr)
        return 1
    for name in names:
        autoreg.load_pretrained(name)
    print(
        f"deploy/check.py: streamlit {streamlit.__version__}, {len(names)} models from "
        f"{ASSETS} load ({time.perf_counter() - start:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
