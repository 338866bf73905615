"""Create every topic of the registry (schemas.topics.ALL_TOPICS) on the Kafka cluster at KAFKA_BOOTSTRAP.

Idempotent: topics that already exist are left alone. An existing topic whose partition count differs
from the registry is reported, because keyed topics must stay co-partitioned and Kafka can only add
partitions, never remove them (locally: `make clean-state`). With --strict that report is an error.

    KAFKA_BOOTSTRAP=127.0.0.1:19092 .venv/bin/python deploy/local/create_topics.py [--strict]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from schemas.topics import ALL_TOPICS, TopicSpec

DEFAULT_BOOTSTRAP = "127.0.0.1:19092"


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


async def create_topics(
    bootstrap: str, specs: tuple[TopicSpec, ...], replication_factor: int
) -> tuple[list[str], list[str], list[str]]:
    """Create the missing topics; return (created, already present, partition-count mismatches)."""
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
            existing.update(await _existing_partition_counts(admin, [s.name for s in missing]))
        present = [s.name for s in specs if s.name not in created]
        mismatches = [
            f"{s.name}: has {existing[s.name]} partitions, registry says {s.partitions}"
            for s in specs
            if s.name in existing and existing[s.name] != s.partitions
        ]
        return created, present, mismatches
    finally:
        await admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--strict", action="store_true", help="fail when a partition count differs")
    parser.add_argument(
        "--replication-factor", type=int, default=1, help="replicas per partition (default 1: one broker)"
    )
    args = parser.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP") or DEFAULT_BOOTSTRAP

    created, present, mismatches = asyncio.run(create_topics(bootstrap, ALL_TOPICS, args.replication_factor))
    for name in created:
        print(f"created  {name}")
    print(f"topics on {bootstrap}: {len(created)} created, {len(present)} already present")
    for line in mismatches:
        print(f"WARNING partition count differs: {line}", file=sys.stderr)
    return 1 if mismatches and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
