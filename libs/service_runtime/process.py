"""Running a service process: serve its HTTP app, run its workers, stop cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import structlog
from aiohttp import web

from service_runtime.logs import AccessLog

_log = structlog.get_logger(__name__)


class WorkerFailed(Exception):
    """A worker of the service died; the process must exit non-zero so its supervisor restarts it."""


Worker = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
"""A long-running task that returns once the stop event is set (after finishing in-flight work)."""


def install_stop_signals(stop: asyncio.Event) -> None:
    """Set `stop` on SIGTERM and SIGINT."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def serve_until_stopped(
    app: web.Application, host: str, port: int, workers: Sequence[Worker], stop: asyncio.Event
) -> None:
    """Serve `app` and run `workers` until `stop` is set or a worker dies; then shut down in order.

    Raises WorkerFailed after the shutdown when a worker died, so the process exits non-zero.
    """
    runner = web.AppRunner(app, access_log_class=AccessLog)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    _log.info("service_started", host=host, port=port)
    # What is alive now (modules, models, the app) lives as long as the process: move it out of the
    # garbage collector's generations, so each collection scans only what message handling allocated.
    gc.freeze()
    # Handling a batch allocates tens of thousands of short-lived objects: collect the youngest
    # generation every 20,000 allocations rather than every 700.
    gc.set_threshold(20_000, 10, 10)
    tasks = [asyncio.create_task(w(stop), name=getattr(w, "__name__", "worker")) for w in workers]
    stop_waiter = asyncio.create_task(stop.wait())
    failed: list[str] = []
    try:
        done, _ = await asyncio.wait([stop_waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stop_waiter and task.exception() is not None:
                _log.error("worker_failed", worker=task.get_name(), exc_info=task.exception())
                failed.append(task.get_name())
        stop.set()
        # Workers finish in-flight work and commit once they see the stop event.
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        stop_waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stop_waiter
        await runner.cleanup()
        _log.info("service_stopped", failed_workers=failed)
    if failed:
        raise WorkerFailed(f"worker(s) failed: {', '.join(failed)}")
