"""`python -m psyncctl ...` (the same as the `psyncctl` console script)."""

from __future__ import annotations

import sys

from psyncctl.cli import main

if __name__ == "__main__":
    sys.exit(main())
