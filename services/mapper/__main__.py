"""`python -m mapper`: run the mapper service."""

from __future__ import annotations

# First, before anything else is imported: see there.
import service_runtime.process_start  # noqa: F401

# isort: split

import asyncio

from mapper.bootstrap import run_service
from mapper.settings import MapperSettings
from service_runtime.settings import settings_from_environment


def main() -> None:
    """Entrypoint: settings from the environment, then run until stopped."""
    asyncio.run(run_service(settings_from_environment(MapperSettings)))


if __name__ == "__main__":
    main()
