"""`python -m pusher`: run the pusher service."""

from __future__ import annotations

import asyncio

from pusher.bootstrap import run_service
from pusher.settings import PusherSettings


def main() -> None:
    """Entrypoint: settings from the environment, then run until stopped."""
    asyncio.run(run_service(PusherSettings()))


if __name__ == "__main__":
    main()
