"""`python -m auditlog`: run the activity-log service."""

from __future__ import annotations

import asyncio

from auditlog.bootstrap import run_service
from auditlog.settings import AuditlogSettings


def main() -> None:
    """Entrypoint: settings from the environment, then run until stopped."""
    asyncio.run(run_service(AuditlogSettings()))


if __name__ == "__main__":
    main()
