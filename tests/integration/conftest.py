"""Integration-test hygiene: no service process outlives the test that started it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.service_process import ServiceProcess


@pytest.fixture(autouse=True)
async def _no_leftover_service_processes() -> AsyncIterator[None]:
    yield
    await ServiceProcess.kill_all_running()
