"""A service started as its own process (`python -m <service>`), as an operator would run it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.support.conditions import eventually
from tests.support.ports import free_port, listens_on


class ServiceProcess:
    """Starts, probes, stops (SIGTERM) or kills (SIGKILL) one service process; logs go to a file."""

    _started: list[ServiceProcess] = []

    @classmethod
    async def kill_all_running(cls) -> None:
        """SIGKILL every process a test started and left running (a failed test's, say); shared
        processes are left to their fixtures."""
        for service in cls._started:
            if service.process is not None and service.process.returncode is None:
                await service.kill()
        cls._started.clear()

    def __init__(
        self,
        service: str,
        env: dict[str, str],
        log_path: Path,
        module: str | None = None,
        shared: bool = False,
    ) -> None:
        self.service = service
        # A process several tests share (a module's stack): its fixture stops it, not the end of each test.
        self.shared = shared
        # What `python -m` runs: the service, or a test's entry point wrapping it (a fault injected).
        self.module = module or service
        self.port = free_port()
        self.env = {**os.environ, **env, f"{service.upper()}_HTTP_PORT": str(self.port)}
        self.env.setdefault(f"{service.upper()}_LOG_JSON", "true")
        self.env.setdefault(f"{service.upper()}_DATA_DIR", str(log_path.parent / "data"))
        # Every auditlog a test starts has a group of its own: its alert windows' faust app would create
        # its own topics on the shared Kafka each time. Tests of the alert windows run them themselves.
        self.env.setdefault("AUDITLOG_ALERT_WINDOWS", "false")
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Start the process (logs appended to `log_path`)."""
        log = self.log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", self.module, env=self.env, stdout=log, stderr=log
        )
        log.close()
        if not self.shared:
            ServiceProcess._started.append(self)

    async def get(self, path: str) -> int:
        """The HTTP status of GET `path`, or 0 when nothing answers."""
        return await http_status(self.url + path)

    async def messages_processed(self, outcome: str | None, topic: str | None = None) -> int:
        """How many messages the running process counted with `outcome` (or any outcome: None) in its
        `psync_messages_total` metric, of one (logical) topic or all; 0 when nothing answers."""
        return await messages_counted(self.url, outcome, topic)

    async def wait_ready(self, within_s: float = 60) -> None:
        """Wait until /readyz answers 200; fails with the log tail if the process died."""

        async def probe() -> int:
            if self.process is not None and self.process.returncode is not None:
                raise AssertionError(f"{self.service} exited {self.process.returncode}:\n{self.log_tail()}")
            return await self.get("/readyz")

        await eventually(probe, lambda s: s == 200, within_s=within_s, what=f"{self.service} ready")
        if self.process is not None and listens_on(self.process.pid, self.port) is False:
            raise AssertionError(
                f"{self.service}'s port {self.port} answered, but not from its process"
                f" (exit code {self.process.returncode}):\n{self.log_tail()}"
            )

    async def terminate(self, within_s: float = 30) -> int:
        """SIGTERM and wait for the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), within_s)

    async def kill(self) -> None:
        """SIGKILL: no clean-up, no commit."""
        assert self.process is not None
        self.process.kill()
        await self.process.wait()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


async def http_status(url: str) -> int:
    """The HTTP status of GET `url`, or 0 when nothing answers."""
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return response.status
    except aiohttp.ClientError:
        return 0


async def messages_counted(url: str, outcome: str | None, topic: str | None = None) -> int:
    """How many messages the service at `url` counted with `outcome` (or any outcome: None) in its
    `psync_messages_total` metric, of one (logical) topic or all; 0 when nothing answers."""
    try:
        async with aiohttp.ClientSession() as session, session.get(url + "/metrics") as response:
            text = await response.text()
    except aiohttp.ClientError:
        return 0
    return int(
        sum(
            sample.value
            for family in text_string_to_metric_families(text)
            if family.name == "psync_messages"
            for sample in family.samples
            if sample.name == "psync_messages_total"
            and (outcome is None or sample.labels.get("outcome") == outcome)
            and (topic is None or sample.labels.get("topic") == topic)
        )
    )
