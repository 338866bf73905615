"""serve_until_stopped: workers stop on the stop event; a dead worker stops the service with an error."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from service_runtime.process import WorkerFailed, serve_until_stopped
from tests.support.ports import free_port


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


def _connection_failures(failure: Exception) -> bool:
    return isinstance(failure, ConnectionError)


async def test_a_worker_dying_of_a_transient_failure_is_run_again_until_it_returns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("service_runtime.process._FIRST_RESTART_DELAY_S", 0.01)
    stop, runs = asyncio.Event(), list[int]()

    async def flaky(_stop: asyncio.Event) -> None:
        runs.append(len(runs))
        if len(runs) < 3:
            raise ConnectionRefusedError("database away")

    await asyncio.wait_for(serve_until_stopped(web.Application(), "127.0.0.1", free_port(), [flaky], stop,
                                               restart_when=_connection_failures), 5)  # fmt: skip

    assert runs == [0, 1, 2]


async def test_a_worker_dying_of_anything_else_still_stops_the_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("service_runtime.process._FIRST_RESTART_DELAY_S", 0.01)
    stop, runs = asyncio.Event(), list[int]()

    async def broken(_stop: asyncio.Event) -> None:
        runs.append(1)
        raise RuntimeError("a bug")

    with pytest.raises(WorkerFailed, match="broken"):
        await serve_until_stopped(
            web.Application(), "127.0.0.1", free_port(), [broken], stop, restart_when=_connection_failures
        )

    assert runs == [1]


async def test_a_worker_waiting_to_be_run_again_stops_with_the_service() -> None:
    stop = asyncio.Event()

    async def always_away(_stop: asyncio.Event) -> None:
        raise ConnectionRefusedError("database away")

    serving = asyncio.create_task(
        serve_until_stopped(
            web.Application(),
            "127.0.0.1",
            free_port(),
            [always_away],
            stop,
            restart_when=lambda failure: True,
        )
    )
    await asyncio.sleep(0.1)
    stop.set()

    await asyncio.wait_for(serving, 5)  # no WorkerFailed: it was waiting, not dead
