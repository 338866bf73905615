"""`python -m connector`: run the connector service."""

from __future__ import annotations

# First, before anything else is imported: see there.
import service_runtime.process_start  # noqa: F401

# isort: split

import asyncio

from connector.bootstrap import run_service
from connector.settings import ConnectorSettings
from service_runtime.settings import settings_from_environment


def main() -> None:
    """Entrypoint: settings from the environment, then run until stopped."""
    asyncio.run(run_service(settings_from_environment(ConnectorSettings)))


if __name__ == "__main__":
    main()
