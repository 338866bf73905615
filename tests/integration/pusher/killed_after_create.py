"""`python -m tests.integration.pusher.killed_after_create`: the pusher, killed (SIGKILL) right after each
create call Pipedrive answered, before anything records the answer: the crash the ledger's intent guards
against, injected through `run_service`'s seam rather than a setting of the production service."""

from __future__ import annotations

import asyncio
import os
import signal

from pusher.bootstrap import run_service
from pusher.settings import PusherSettings
from service_runtime.settings import settings_from_environment


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    asyncio.run(run_service(settings_from_environment(PusherSettings), after_create=_kill_self))
