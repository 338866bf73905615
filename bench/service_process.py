"""What the benchmarks that run a service as its own process share: a free port, a fresh consumer group
positioned at the end of the service's topics, and the CPU its processes used."""

from __future__ import annotations

import resource
import socket

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.topics import topics_consumed_by


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def position_group_at_end(bootstrap: str, group_id: str, service: str) -> None:
    """Commit the end of every topic `service` reads for `group_id`, not only the measured one: the
    service would apply the other topics' history first."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(t.name, p) for t in topics_consumed_by(service) for p in range(t.partitions)
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
