"""`python -m console`: serve the web console."""

from __future__ import annotations

import asyncio

from console.bootstrap import run_service
from console.settings import ConsoleSettings


def main() -> None:
    """Entrypoint: settings from the environment, then serve until stopped."""
    asyncio.run(run_service(ConsoleSettings()))


if __name__ == "__main__":
    main()
