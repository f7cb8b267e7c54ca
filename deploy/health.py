"""Is an autoreg server up? Exit 0 when its ``/_stcore/health`` answers ``ok``.

    python deploy/health.py [URL] [--wait SECONDS]

URL defaults to ``http://127.0.0.1:$AUTOREG_PORT`` (8501). With ``--wait`` it asks again
until the answer comes or SECONDS pass. The image's ``HEALTHCHECK`` runs it (the slim image
has no curl), and so does ``deploy/cluster.sh``, for each replica and for the proxy.
Standard library only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.request


def healthy(url: str, timeout: float = 3.0) -> bool:
    """Whether ``url``'s Streamlit health endpoint answers ``ok``."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/_stcore/health", timeout=timeout) as r:
            return r.status == 200 and r.read().strip() == b"ok"
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = f"http://127.0.0.1:{os.environ.get('AUTOREG_PORT', '8501')}"
    parser.add_argument("url", nargs="?", default=default)
    parser.add_argument("--wait", type=float, default=0.0, metavar="SECONDS")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.wait
    while not healthy(args.url):
        if time.monotonic() >= deadline:
            print(f"{args.url} is not healthy", file=sys.stderr)
            return 1
        time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
