"""The topic namespace of this test process: every xdist worker (and a run without workers) has topics and
consumer groups of its own on the shared Kafka, so two workers' stacks of service processes never consume
each other's tenants' events.

Importing this module sets `PSYNC_TOPIC_PREFIX` for the process (tests/conftest.py imports it first), so
every settings object a test builds and every service process it starts (they inherit the environment)
use the same namespace as `NAMESPACE`. Tests that produce, read, position groups or create topics on Kafka
themselves name topics and groups through `NAMESPACE` (the registry's names are the logical ones).
"""

from __future__ import annotations

import os
from typing import Any

from aiokafka import AIOKafkaProducer

from stream_runner.namespace import TOPIC_PREFIX_ENV, TopicNamespace


def worker_prefix(worker: str | None, outer: str = "") -> str:
    """The topic prefix of one xdist worker (`gw0`, `gw1`, ...), or of a run without workers (None),
    inside the caller's own prefix (`outer`, the `PSYNC_TOPIC_PREFIX` the test run was started with), so
    two test runs on one Kafka given different prefixes never share topics or consumer groups."""
    return f"{outer}test-{worker or 'main'}."


# The caller's prefix, kept apart on first import: xdist's workers inherit the controller's environment,
# where this module has already replaced PSYNC_TOPIC_PREFIX with the controller's own namespace.
_OUTER_PREFIX = os.environ.setdefault("PSYNC_TEST_OUTER_TOPIC_PREFIX", os.environ.get(TOPIC_PREFIX_ENV, ""))
os.environ[TOPIC_PREFIX_ENV] = worker_prefix(os.environ.get("PYTEST_XDIST_WORKER"), _OUTER_PREFIX)
NAMESPACE = TopicNamespace.from_environment()
"""Where this test process's topics and consumer groups are on the cluster."""


class NamespacedProducer(AIOKafkaProducer):  # type: ignore[misc]
    """aiokafka's producer for tests that write raw records: `send` (and `send_and_wait`, which calls it)
    take a logical topic name and write to its topic in `NAMESPACE`; the record metadata they return is
    the cluster's (its `topic` the namespaced name)."""

    async def send(self, topic: str, *args: Any, **kwargs: Any) -> Any:
        return await super().send(NAMESPACE.topic(topic), *args, **kwargs)
