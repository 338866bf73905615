"""What the service skeleton adds to a service's own parts: the consumer loop, the pruning worker and the
readiness checks, from what the service assembled."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import asyncpg
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from console.settings import ConsoleSettings
from mapper.settings import MapperSettings
from postgres_store.pruning import Expiry
from service_runtime.process import worker_name
from service_runtime.skeleton import (
    Consumer,
    Infrastructure,
    ServiceParts,
    readiness_checks,
    service_workers,
)
from stream_runner.messages import Handled, IncomingMessage
from stream_runner.namespace import TopicNamespace
from stream_runner.producer import EventProducer

POOL = cast(asyncpg.Pool, object())


async def own_worker(stop: asyncio.Event) -> None:
    await stop.wait()


async def handled(_event: Any, _message: IncomingMessage) -> Handled:
    return Handled()


async def test_a_consuming_service_runs_the_consumer_loop_its_own_workers_and_the_pruner() -> None:
    infrastructure = Infrastructure(
        POOL, EventProducer("127.0.0.1:1", "test", namespace=TopicNamespace()), CollectorRegistry()
    )
    parts = ServiceParts(
        web.Application(),
        Consumer({"psync.settings.updated": handled}),
        workers=[own_worker],
        expiring=[Expiry("mapper.inbox", "applied_at", 60)],
    )

    workers = service_workers("mapper", MapperSettings(), infrastructure, parts)

    assert [worker_name(w) for w in workers] == ["KafkaStreamRunner.run", "own_worker", "Pruner.run"]


async def test_a_service_that_consumes_nothing_and_keeps_nothing_runs_only_its_own_workers() -> None:
    infrastructure = Infrastructure(POOL, None, CollectorRegistry())

    workers = service_workers("console", ConsoleSettings(), infrastructure, ServiceParts(web.Application()))

    assert workers == []


async def test_a_consumer_needs_the_settings_of_a_consuming_service() -> None:
    infrastructure = Infrastructure(
        POOL, EventProducer("127.0.0.1:1", "test", namespace=TopicNamespace()), CollectorRegistry()
    )
    parts = ServiceParts(web.Application(), Consumer({}))

    with pytest.raises(TypeError, match="StreamServiceSettings"):
        service_workers("console", ConsoleSettings(), infrastructure, parts)


async def test_readiness_checks_kafka_only_for_a_service_that_uses_it() -> None:
    with_kafka = Infrastructure(
        POOL, EventProducer("127.0.0.1:1", "test", namespace=TopicNamespace()), CollectorRegistry()
    )
    without = Infrastructure(POOL, None, CollectorRegistry())

    assert sorted(readiness_checks(with_kafka)) == ["kafka", "postgres"]
    assert sorted(readiness_checks(without)) == ["postgres"]
    with pytest.raises(RuntimeError, match="without Kafka"):
        _ = without.kafka
