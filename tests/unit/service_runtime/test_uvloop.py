"""run_on_uvloop: a service's main coroutine runs to its end on uvloop's loop; the mapper's entry point
uses it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvloop

import mapper.__main__ as mapper_main
from service_runtime.process import run_on_uvloop


def test_the_main_coroutine_runs_on_uvloops_loop_and_the_loop_is_closed_after() -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    async def main() -> None:
        loops.append(asyncio.get_running_loop())
        await asyncio.sleep(0)

    run_on_uvloop(main())

    assert isinstance(loops[0], uvloop.Loop)
    assert loops[0].is_closed()


def test_a_failure_of_the_main_coroutine_reaches_the_caller() -> None:
    async def main() -> None:
        raise RuntimeError("worker died")

    with pytest.raises(RuntimeError, match="worker died"):
        run_on_uvloop(main())


def test_the_mapper_process_runs_its_service_on_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[tuple[Any, type[asyncio.AbstractEventLoop]]] = []

    async def run_service(settings: Any) -> None:
        ran.append((settings, type(asyncio.get_running_loop())))

    monkeypatch.setattr(mapper_main, "run_service", run_service)
    monkeypatch.setattr(mapper_main, "settings_from_environment", lambda kind: "the mapper's settings")
    mapper_main.main()

    assert ran == [("the mapper's settings", uvloop.Loop)]
