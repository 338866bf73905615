"""Creating a deployment's topics: every topic of the registry (or those given), in the deployment's
namespace, with the registry's partition counts and configuration.

Idempotent: topics that already exist are left alone. An existing topic whose partition count differs
from the registry is reported, because keyed topics must stay co-partitioned and Kafka can only add
partitions, never remove them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from schemas.topics import TopicSpec
from stream_runner.namespace import TopicNamespace

_DESCRIBE_ATTEMPTS = 20
_DESCRIBE_PAUSE_S = 0.25


def _new_topic(spec: TopicSpec, replication_factor: int) -> NewTopic:
    return NewTopic(
        name=spec.name,
        num_partitions=spec.partitions,
        replication_factor=replication_factor,
        topic_configs=spec.kafka_config(),
    )


async def _existing_partition_counts(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    """Partition count of each of `names` that exists on the cluster."""
    described: list[dict[str, Any]] = await admin.describe_topics(names)
    counts: dict[str, int] = {}
    for topic in described:
        if topic.get("error_code", 0) == 0:
            counts[topic["topic"]] = len(topic["partitions"])
    return counts


async def _visible_partition_counts(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    """Partition counts of topics the cluster says exist: its metadata can lag behind a topic created a
    moment ago (described as unknown, refused as already existing), so they are asked for a few times."""
    counts: dict[str, int] = {}
    for _ in range(_DESCRIBE_ATTEMPTS):
        counts.update(await _existing_partition_counts(admin, [n for n in names if n not in counts]))
        if len(counts) == len(names):
            break
        await asyncio.sleep(_DESCRIBE_PAUSE_S)
    return counts


async def create_topics(
    bootstrap: str, specs: Sequence[TopicSpec], replication_factor: int, *, namespace: TopicNamespace
) -> tuple[list[str], list[str], list[str]]:
    """Create the missing topics of `specs` in `namespace`; return the cluster's names of those created,
    of those already present, and the partition-count mismatches."""
    specs = [replace(s, name=namespace.topic(s.name)) for s in specs]  # the cluster's names from here on
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    await admin.start()
    try:
        names = [s.name for s in specs]
        existing = await _existing_partition_counts(admin, names)
        missing = [s for s in specs if s.name not in existing]
        created: list[str] = []
        if missing:
            response = await admin.create_topics([_new_topic(s, replication_factor) for s in missing])
            failures = []
            for topic_error in response.topic_errors:
                name, code = topic_error[0], topic_error[1]
                error = for_code(code)
                if code == 0:
                    created.append(name)
                elif error is TopicAlreadyExistsError:
                    pass  # created concurrently by someone else since we looked: fine
                else:
                    message = topic_error[2] if len(topic_error) > 2 else ""
                    failures.append(f"{name}: {error.__name__} {message or ''}".rstrip())
            if failures:
                raise RuntimeError("could not create topics:\n  " + "\n  ".join(failures))
            # Partition counts of topics that appeared concurrently are checked below like the rest.
            existing.update(
                await _visible_partition_counts(admin, [s.name for s in missing if s.name not in created])
            )
        present = [s.name for s in specs if s.name not in created]
        mismatches = [
            f"{s.name}: has {existing[s.name]} partitions, registry says {s.partitions}"
            for s in specs
            if s.name in existing and existing[s.name] != s.partitions
        ]
        return created, present, mismatches
    finally:
        await admin.close()
