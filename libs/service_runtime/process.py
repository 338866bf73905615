"""Running a service process: serve its HTTP app, run its workers, stop cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import structlog
from aiohttp import web

from service_runtime.http_server import ApiRunner
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


_FIRST_RESTART_DELAY_S = 1.0
_MAX_RESTART_DELAY_S = 30.0


def worker_name(worker: Worker) -> str:
    """A worker's name in logs: its qualified name (`Scheduler.run`, not every loop's `run`)."""
    qualified = str(getattr(worker, "__qualname__", "") or "")
    return qualified if qualified and "<locals>" not in qualified else getattr(worker, "__name__", "worker")


async def run_restarting(
    worker: Worker, stop: asyncio.Event, restart_when: Callable[[Exception], bool] | None
) -> None:
    """Run a worker until it returns; when it dies of a failure `restart_when` accepts (the database or
    the broker away), wait, doubling from 1 s up to 30 s, and run it again, until `stop`."""
    delay, name = _FIRST_RESTART_DELAY_S, worker_name(worker)
    while True:
        started = time.monotonic()
        try:
            await worker(stop)
            return
        except Exception as failure:
            if restart_when is None or not restart_when(failure) or stop.is_set():
                raise
            if time.monotonic() - started > 2 * _MAX_RESTART_DELAY_S:
                delay = _FIRST_RESTART_DELAY_S  # it had been running fine: a new outage
            _log.warning(
                "worker_restarting",
                worker=name,
                error_class=type(failure).__name__,
                error=str(failure)[:300],
                retry_in_s=delay,
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        if stop.is_set():
            return
        delay = min(delay * 2, _MAX_RESTART_DELAY_S)


def tune_garbage_collection() -> None:
    """Set the garbage collector up for a service's work, once what lives as long as the process exists
    (a service process does it after its imports, before its start's first wait, and again once it
    serves; a benchmark of a service's work in-process does the same)."""
    # What is alive now (modules, models, the app) lives as long as the process: move it out of the
    # garbage collector's generations, so each collection scans only what message handling allocated.
    gc.freeze()
    # Handling a batch allocates tens of thousands of objects that live as long as the batch: collect the
    # youngest generation every 100,000 allocations rather than every 700. At 20,000, a mapper process in
    # bench_mapper_apply (50,000 records, batches of 2,000) spent 0.80 s CPU in collections (about 7% of
    # its CPU, gc.callbacks), each young collection scanning a batch's live objects; at 100,000, 0.22 s.
    gc.set_threshold(100_000, 10, 10)
    # A service's entry point paused the collector while the process started (service_runtime.process_start).
    gc.enable()


async def serve_until_stopped(
    app: web.Application,
    host: str,
    port: int,
    workers: Sequence[Worker],
    stop: asyncio.Event,
    *,
    restart_when: Callable[[Exception], bool] | None = None,
) -> None:
    """Serve `app` and run `workers` until `stop` is set or a worker dies; then shut down in order.

    A worker that dies of a failure `restart_when` accepts (transient: the database or the broker away)
    is run again after a pause instead: the service rides the outage out, and /readyz says it is
    unavailable meanwhile. Raises WorkerFailed after the shutdown when a worker died of anything else,
    so the process exits non-zero.
    """
    runner = ApiRunner(app, access_log_class=AccessLog)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    _log.info("service_started", host=host, port=port)
    tune_garbage_collection()
    tasks = [asyncio.create_task(run_restarting(w, stop, restart_when), name=worker_name(w)) for w in workers]
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
