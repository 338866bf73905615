"""`python -m pusher`: run the pusher service."""

from __future__ import annotations

# First, before anything else is imported: see there.
import service_runtime.process_start  # noqa: F401

# isort: split

import asyncio

from pusher.bootstrap import run_service
from pusher.settings import PusherSettings
from service_runtime.settings import settings_from_environment


def main() -> None:
    """Entrypoint: settings from the environment, then run until stopped."""
    asyncio.run(run_service(settings_from_environment(PusherSettings)))


if __name__ == "__main__":
    main()
