"""``python -m autoreg.bench [measure ...]``: one JSON object per line."""

from __future__ import annotations

import argparse
import json
import sys

from autoreg.bench import MEASURES, __doc__, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autoreg.bench", description=__doc__)
    parser.add_argument("measures", nargs="*", help=f"default: all of {sorted(MEASURES)}")
    args = parser.parse_args(argv)
    for name in args.measures or list(MEASURES):
        result = run(name)
        for line in result if isinstance(result, list) else [result]:
            print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
