"""What the benchmarks that run a service as its own process share: a free port, a fresh consumer group
positioned at the end of the service's topics, watching a count until it reaches its target, and the CPU
its processes used."""

from __future__ import annotations

import asyncio
import resource
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.topics import topics_consumed_by
from stream_runner.namespace import TopicNamespace

TOPICS = TopicNamespace.from_environment()
"""The deployment's topic namespace (PSYNC_TOPIC_PREFIX, which the service processes inherit): where the
benchmarks write and position groups."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def position_group_at_end(bootstrap: str, group_id: str, service: str) -> None:
    """Commit the end of every topic `service` reads for `group_id`, not only the measured one: the
    service would apply the other topics' history first. In the deployment's namespace
    (PSYNC_TOPIC_PREFIX, which the service processes inherit)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=TOPICS.group(group_id), enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(TOPICS.topic(t.name), p)
            for t in topics_consumed_by(service)
            for p in range(t.partitions)
        ]
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.commit(ends)
    finally:
        await consumer.stop()


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
            await asyncio.sleep(0.2)
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
