"""`python -m mapper`: run the mapper service."""

from __future__ import annotations

import asyncio

from mapper.bootstrap import run_service
from mapper.settings import MapperSettings


def main() -> None:
    """Entrypoint: settings from the environment, then run until stopped."""
    asyncio.run(run_service(MapperSettings()))


if __name__ == "__main__":
    main()
