"""deploy/local/create_topics.py (stream_runner.topic_admin) and kafka_probe.py against a real broker
(KAFKA_BOOTSTRAP).

`make test` always provides KAFKA_BOOTSTRAP (the local broker unless the caller points elsewhere). When it
is set and the broker does not answer, these tests fail rather than skip.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from schemas.topics import ALL_TOPICS, TopicSpec
from stream_runner.namespace import TopicNamespace
from stream_runner.topic_admin import create_topics
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / "deploy" / "local"

pytestmark = pytest.mark.integration

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP", "")
needs_kafka = pytest.mark.skipif(not BOOTSTRAP, reason="KAFKA_BOOTSTRAP not set (make test sets it)")


def load_script(name: str) -> ModuleType:
    """deploy/local is a folder of scripts, not a package: load one by path."""
    spec = importlib.util.spec_from_file_location(f"deploy_local_{name}", LOCAL / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def spec_named(name: str, partitions: int) -> TopicSpec:
    return TopicSpec(name=name, event_types=(), key="k", producers=(), consumers=(), partitions=partitions)


SCRATCH_NAMESPACE = TopicNamespace(f"infra-{uuid.uuid4().hex[:6]}.")
"""Where the scratch topic is created again, as a deployment with PSYNC_TOPIC_PREFIX would."""


@pytest.fixture
async def scratch_topic() -> AsyncIterator[str]:
    name = f"psync.infra-test.{uuid.uuid4().hex[:10]}"
    yield name
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        await admin.delete_topics([t for t in (name, SCRATCH_NAMESPACE.topic(name)) if t in existing])
    finally:
        await admin.close()


@needs_kafka
async def test_create_topics_is_idempotent_reports_partition_drift_and_keeps_namespaces_apart(
    scratch_topic: str,
) -> None:
    plain = TopicNamespace()
    spec = spec_named(scratch_topic, 3)

    created, present, mismatches = await create_topics(BOOTSTRAP, (spec,), 1, namespace=plain)
    assert (created, present, mismatches) == ([scratch_topic], [], [])

    created, present, mismatches = await create_topics(BOOTSTRAP, (spec,), 1, namespace=plain)
    assert (created, present, mismatches) == ([], [scratch_topic], [])

    created, present, mismatches = await create_topics(
        BOOTSTRAP, (spec_named(scratch_topic, 5),), 1, namespace=plain
    )
    assert created == []
    assert mismatches == [f"{scratch_topic}: has 3 partitions, registry says 5"]

    # Another deployment's namespace: the same logical topic is a topic of its own there.
    prefixed = SCRATCH_NAMESPACE.topic(scratch_topic)
    created, present, mismatches = await create_topics(
        BOOTSTRAP, (spec_named(scratch_topic, 5),), 1, namespace=SCRATCH_NAMESPACE
    )
    assert (created, present, mismatches) == ([prefixed], [], [])


@needs_kafka
async def test_every_registry_topic_exists_with_its_partition_count() -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        described = await admin.describe_topics([t.name for t in ALL_TOPICS])
    finally:
        await admin.close()
    by_name = {t["topic"]: t for t in described}
    for spec in ALL_TOPICS:
        assert by_name[spec.name]["error_code"] == 0, f"{spec.name} missing: run make infra-up"
        assert len(by_name[spec.name]["partitions"]) == spec.partitions


@needs_kafka
def test_probe_answers_for_the_broker_and_fails_fast_without_one() -> None:
    probe = str(LOCAL / "kafka_probe.py")
    ok = subprocess.run([sys.executable, probe, BOOTSTRAP], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "broker(s)" in ok.stdout

    # A port that was free a moment ago: nothing listens there.
    unused = free_port()
    down = subprocess.run(
        [sys.executable, probe, f"127.0.0.1:{unused}", "--timeout", "2"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert down.returncode == 1
