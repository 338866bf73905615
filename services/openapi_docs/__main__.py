"""`python -m openapi_docs`: regenerate docs/openapi/<service>.json (`--check`: exit 1 when stale)."""

from __future__ import annotations

import sys

from openapi_docs import rendered, stale

if __name__ == "__main__":
    if "--check" in sys.argv[1:]:
        outdated = stale()
        for path in outdated:
            print(f"stale: {path}", file=sys.stderr)
        sys.exit(1 if outdated else 0)
    for path, body in rendered().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
