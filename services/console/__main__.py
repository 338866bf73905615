"""`python -m console`: serve the web console."""

from __future__ import annotations

# First, before anything else is imported: see there.
import service_runtime.process_start  # noqa: F401

# isort: split

import asyncio

from console.bootstrap import run_service
from console.settings import ConsoleSettings
from service_runtime.settings import settings_from_environment


def main() -> None:
    """Entrypoint: settings from the environment, then serve until stopped."""
    asyncio.run(run_service(settings_from_environment(ConsoleSettings)))


if __name__ == "__main__":
    main()
