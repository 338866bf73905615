"""What the benchmarks that run a service as its own process share: topics of the run's own, a fresh
consumer group positioned at the end of the service's topics, the sandbox as its own process, waiting
until a process answers, watching a count until it reaches its target, and the CPU its processes used. A
free port, when a group is up, waiting on a condition and counting rows of a schema a process creates
come from the support package the tests use (tests/support), re-exported here where a bench names them."""

from __future__ import annotations

import asyncio
import compileall
import os
import resource
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from schemas.topics import ALL_TOPICS, topics_consumed_by
from stream_runner.namespace import TOPIC_PREFIX_ENV, TopicNamespace
from stream_runner.topic_admin import create_topics

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # a bench runs as a script (`python bench/bench_x.py`): tests/ is not installed
    sys.path.insert(0, str(ROOT))

from tests.support.conditions import eventually  # noqa: E402
from tests.support.consumer_groups import GroupReady, group_ready  # noqa: E402
from tests.support.kafka_offsets import position_group_at_end as position_at_end  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.rows import count_rows  # noqa: E402
from tests.support.service_process import http_status  # noqa: E402

__all__ = [
    "BOOTSTRAP", "DSN", "ROOT", "GroupReady", "Progress", "children_cpu_seconds", "count_rows",
    "deployed_processes", "free_port", "group_ready", "own_topics", "position_group_at_end", "start_sandbox",
    "start_service", "topics", "wait_answering", "watch_until",
]  # fmt: skip


BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:19092")
DSN = os.environ.get("DATABASE_URL", "postgresql://psync:psync@127.0.0.1:55432/psync")
"""Where the benchmarks find Kafka and PostgreSQL: as `make bench` sets them, else the local deployment's."""


def compile_project() -> None:
    """Write the bytecode of the project's packages before any service process starts, as a deployed
    image has it (pip compiles what it installs). A service process started with PYTHONDONTWRITEBYTECODE
    set (the development machine's environment, which runs outside `make bench` keep) compiles every
    module whose bytecode is missing or stale at each start, without writing it: about 0.1 s of CPU of
    each mapper process in a fresh checkout (its 90 modules), counted in the bench's figures. Up to date,
    this is a check of each file's time stamp."""
    for package in ("schemas", "libs", "services"):
        compileall.compile_dir(ROOT / package, quiet=1)


compile_project()


def deployed_processes(service: str) -> int:
    """How many processes of `service` the default deployment (`make up`) runs: the local deployment
    script's instances (its default replicas unless <SERVICE>_REPLICAS says otherwise)."""
    listed = subprocess.run(
        [str(ROOT / "deploy" / "local" / "services.sh"), "instances"],
        env={**os.environ, "SERVICES": service},
        capture_output=True,
        text=True,
        check=True,
    )
    return len(listed.stdout.split())


TOPICS = TopicNamespace.from_environment()
"""The deployment's topic namespace (PSYNC_TOPIC_PREFIX, which the service processes inherit): where the
benchmarks write and position groups. A bench that runs in topics of its own (`own_topics`) asks
`topics()` instead, once they are set."""


def topics() -> TopicNamespace:
    """The deployment's topic namespace now (`own_topics` sets it for the run)."""
    return TopicNamespace.from_environment()


async def position_group_at_end(bootstrap: str, group_id: str, service: str) -> None:
    """Commit the end of every topic `service` reads for `group_id`, not only the measured one: the
    service would apply the other topics' history first. In the deployment's namespace
    (PSYNC_TOPIC_PREFIX, which the service processes inherit)."""
    await position_at_end(bootstrap, group_id, topics_consumed_by(service))


@asynccontextmanager
async def own_topics(bootstrap: str, bench: str) -> AsyncIterator[TopicNamespace]:
    """A topic namespace of this run's own: PSYNC_TOPIC_PREFIX set for this process and the service
    processes it starts (they inherit it), the registry's topics created under it, and every topic
    under it deleted after (the alert windows' too). Other runs on the same Kafka (benches and tests of
    others) are then neither consumed by these services nor counted in their CPU; a quiet machine's
    figure is the same with or without it. A SIGTERM to the bench cancels the run, so the services it
    started are stopped and the topics deleted as at its end (by default it would leave both behind)."""
    namespace = TopicNamespace(f"bench-{bench}-{uuid.uuid4().hex[:8]}.")
    before = os.environ.get(TOPIC_PREFIX_ENV)
    os.environ[TOPIC_PREFIX_ENV] = namespace.prefix
    loop, run = asyncio.get_running_loop(), asyncio.current_task()
    if run is not None:
        loop.add_signal_handler(signal.SIGTERM, run.cancel)
    try:
        await create_topics(bootstrap, ALL_TOPICS, 1, namespace=namespace)
        yield namespace
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        if before is None:
            os.environ.pop(TOPIC_PREFIX_ENV, None)
        else:
            os.environ[TOPIC_PREFIX_ENV] = before
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            own = [t for t in await admin.list_topics() if namespace.owns(t)]
            if own:
                await admin.delete_topics(own)
        finally:
            await admin.close()


async def start_service(
    service: str, group: str, schema: str, port: int | None = None, data_dir: Path | None = None
) -> asyncio.subprocess.Process:
    """`python -m <service>` in its consumer group `group` (of the deployment's namespace) with its tables
    in `schema`, serving HTTP on `port` (a free one when None), logs at WARNING (to the bench's output),
    its data directory `data_dir` when given."""
    prefix = service.upper()
    env = {
        **os.environ,
        f"{prefix}_GROUP_ID": group,
        f"{prefix}_DB_SCHEMA": schema,
        f"{prefix}_HTTP_PORT": str(port if port is not None else free_port()),
        f"{prefix}_LOG_LEVEL": "WARNING",
        **({f"{prefix}_DATA_DIR": str(data_dir)} if data_dir is not None else {}),
    }
    return await asyncio.create_subprocess_exec(sys.executable, "-m", service, env=env)


async def start_sandbox(port: int, organizations: int, api_token: str) -> asyncio.subprocess.Process:
    """`python -m pipedrive_sandbox` on `port`: the Ultimate plan (its burst limit enforced),
    `organizations` seeded from seed 42, `api_token` its API token; its output discarded. It answers once
    seeded: `wait_answering(f"{url}/_sandbox/state", ...)`."""
    env = {
        **os.environ,
        "SANDBOX_PLAN": "ultimate",
        "SANDBOX_ORGANIZATIONS": str(organizations),
        "SANDBOX_API_TOKEN": api_token,
        "SANDBOX_SEED": "42",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pipedrive_sandbox", "--port", str(port), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def wait_answering(url: str, exited: Callable[[], bool], within_s: float) -> float:
    """Wait until GET `url` answers 200 and return the seconds it took; fails as soon as `exited()` says
    a process it waits on has ended, or after `within_s` seconds."""
    started = time.perf_counter()

    async def status() -> int:
        if exited():
            raise RuntimeError(f"a process exited before {url} answered")
        return await http_status(url)

    await eventually(status, lambda answer: answer == 200, within_s=within_s, what=f"{url} answering")
    return time.perf_counter() - started


def children_cpu_seconds() -> float:
    """User + system CPU of the child processes waited for so far (the service processes)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Progress:
    """How long the processes took to reach their count: from their start, and from the first unit."""

    reached: int
    seconds: float
    seconds_from_first: float
    first_count: int

    @property
    def per_second(self) -> float:
        return self.reached / self.seconds

    @property
    def per_second_from_first(self) -> int:
        return round((self.reached - self.first_count) / self.seconds_from_first)


def next_poll_s(done: int, elapsed_s: float, target: int) -> float:
    """How long to wait before counting again: half the time the rest should take at the pace so far
    (0.1 s to 2 s; 0.2 s while nothing is counted yet). The counts scan tables of up to `target` rows
    on the measured PostgreSQL: counting every 0.2 s cost it about a tenth of the run's CPU (the mapper
    bench's count of links: 4 to 6 s of server time in a 100,000-record run); this counts a few times
    per halving of the rest and still sees the end within 0.1 s."""
    if done <= 0 or elapsed_s <= 0:
        return 0.2
    rest_s = (target - done) / (done / elapsed_s)
    return min(2.0, max(0.1, rest_s / 2))


async def watch_until(
    count: Callable[[], Awaitable[int]],
    target: int,
    processes: Sequence[asyncio.subprocess.Process],
    started: float,
    timeout_s: float = 1800,
) -> Progress:
    """Poll `count` until it reaches `target` (or the timeout); raises if a process exited. Then stop the
    processes with SIGTERM and wait for them, so their CPU is counted in `children_cpu_seconds`."""
    reached, first = 0, None
    try:
        while reached < target and time.perf_counter() < started + timeout_s:
            await asyncio.sleep(next_poll_s(reached, time.perf_counter() - started, target))
            if any(p.returncode is not None for p in processes):
                raise RuntimeError("a service process exited")
            reached = await count()
            if reached and first is None:
                first = (time.perf_counter(), reached)
        now = time.perf_counter()
        assert first is not None, "nothing was counted"
        return Progress(reached, now - started, now - first[0], first[1])
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            await process.wait()
