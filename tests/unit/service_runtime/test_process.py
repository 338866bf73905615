"""serve_until_stopped: workers stop on the stop event; a dead worker stops the service with an error."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from service_runtime.process import WorkerFailed, serve_until_stopped
from tests.integration.service_process import free_port


async def test_workers_finish_and_the_server_closes_when_stop_is_set() -> None:
    stop = asyncio.Event()
    finished: list[str] = []

    async def worker(stop: asyncio.Event) -> None:
        await stop.wait()
        finished.append("worker")

    port = free_port()
    serving = asyncio.create_task(serve_until_stopped(web.Application(), "127.0.0.1", port, [worker], stop))
    stop.set()
    await asyncio.wait_for(serving, 5)

    assert finished == ["worker"]
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as session:
            await session.get(f"http://127.0.0.1:{port}/")


async def test_a_dead_worker_stops_the_others_and_raises() -> None:
    stop = asyncio.Event()
    stopped: list[str] = []

    async def dies(_stop: asyncio.Event) -> None:
        raise RuntimeError("boom")

    async def survives(stop: asyncio.Event) -> None:
        await stop.wait()
        stopped.append("survivor")

    with pytest.raises(WorkerFailed, match="dies"):
        await asyncio.wait_for(
            serve_until_stopped(web.Application(), "127.0.0.1", free_port(), [dies, survives], stop), 5
        )
    assert stopped == ["survivor"]
