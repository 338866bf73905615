"""Create every topic of the registry (schemas.topics.ALL_TOPICS) on the Kafka cluster at KAFKA_BOOTSTRAP,
in the deployment's topic namespace (PSYNC_TOPIC_PREFIX, empty by default: the registry's names).

Idempotent: topics that already exist are left alone. An existing topic whose partition count differs
from the registry is reported, because keyed topics must stay co-partitioned and Kafka can only add
partitions, never remove them (locally: `make clean-state`). With --strict that report is an error.

    KAFKA_BOOTSTRAP=127.0.0.1:19092 [PSYNC_TOPIC_PREFIX=staging.] .venv/bin/python \
        deploy/local/create_topics.py [--strict]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from schemas.topics import ALL_TOPICS
from stream_runner.namespace import TopicNamespace
from stream_runner.topic_admin import create_topics

DEFAULT_BOOTSTRAP = "127.0.0.1:19092"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--strict", action="store_true", help="fail when a partition count differs")
    parser.add_argument(
        "--replication-factor", type=int, default=1, help="replicas per partition (default 1: one broker)"
    )
    args = parser.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP") or DEFAULT_BOOTSTRAP

    namespace = TopicNamespace.from_environment()
    created, present, mismatches = asyncio.run(
        create_topics(bootstrap, ALL_TOPICS, args.replication_factor, namespace=namespace)
    )
    for name in created:
        print(f"created  {name}")
    print(f"topics on {bootstrap}: {len(created)} created, {len(present)} already present")
    for line in mismatches:
        print(f"WARNING partition count differs: {line}", file=sys.stderr)
    return 1 if mismatches and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
