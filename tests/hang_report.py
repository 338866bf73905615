"""When a test is about to hit its timeout, print every asyncio task of the running loop with the chain of
coroutines it waits in. pytest-timeout then prints the threads' stacks and ends the run; for asyncio code
those show only the idle event loop, and the tasks say where the test is stuck."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

_AHEAD_S = 10.0


def _where(awaitable: Any) -> Iterator[str]:
    depth = 0
    while awaitable is not None and depth < 50:
        frame: FrameType | None = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "ag_frame", None)
        if frame is not None:
            yield f"    {frame.f_code.co_qualname} ({frame.f_code.co_filename}:{frame.f_lineno})"
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "ag_await", None)
        depth += 1


def print_tasks(loop: asyncio.AbstractEventLoop, title: str) -> None:
    """Every task of `loop` and where it waits, on stderr."""
    lines = [f"\n===== asyncio tasks: {title} ====="]
    for task in asyncio.all_tasks(loop):
        lines.append(f"--- {task!r}"[:400])
        lines.extend(_where(task.get_coro()))
    print("\n".join(lines), file=sys.stderr, flush=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    marker = item.get_closest_marker("timeout")
    timeout = float(marker.args[0]) if marker and marker.args else float(item.config.getini("timeout") or 0)
    timer: threading.Timer | None = None
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        loop = None
    if loop is not None and timeout > _AHEAD_S:

        def report() -> None:
            if loop.is_running() and not loop.is_closed():
                loop.call_soon_threadsafe(print_tasks, loop, item.nodeid)

        timer = threading.Timer(timeout - _AHEAD_S, report)
        timer.daemon = True
        timer.start()
    try:
        return (yield)
    finally:
        if timer is not None:
            timer.cancel()
