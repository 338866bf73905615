"""When a consumer group is up: Stable, with all its processes, each with partitions (the services up and
consuming, as a deployed service is when events arrive). In the process's namespace (`PSYNC_TOPIC_PREFIX`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient

from stream_runner.namespace import TopicNamespace


@dataclass(frozen=True)
class GroupReady:
    """When a consumer group first held all its processes, each with its partitions (the services up
    and consuming, as a deployed service is when events arrive), and how far they had counted then."""

    at: float
    counted: int


async def group_ready(
    bootstrap: str, group_id: str, members: int, count: Callable[[], Awaitable[int]], timeout_s: float = 300
) -> GroupReady:
    """Poll the group (in the deployment's namespace) until it is Stable with `members` members, each
    assigned partitions; returns that moment (perf_counter) and `count()` read right after it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            for response in await admin.describe_consumer_groups(
                [TopicNamespace.from_environment().group(group_id)]
            ):
                # DescribeGroupsResponse: (error_code, group_id, state, protocol_type, protocol, members)
                for group in response.groups:
                    state, described = group[2], group[5]
                    if state == "Stable" and len(described) == members and all(m[4] for m in described):
                        at = time.perf_counter()
                        return GroupReady(at, await count())
            await asyncio.sleep(0.05)
        raise TimeoutError(f"group {group_id} never had {members} consuming members")
    finally:
        await admin.close()
