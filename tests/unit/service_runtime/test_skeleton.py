"""What the service skeleton adds to a service's own parts: the consumer loop, the pruning worker and the
readiness checks, from what the service assembled."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import asyncpg
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from auditlog.settings import AuditlogSettings
from console.settings import ConsoleSettings
from mapper.settings import MapperSettings
from postgres_store.pruning import Expiry
from service_runtime.process import worker_name
from service_runtime.skeleton import (
    SETTINGS_FIRST,
    Consumer,
    Infrastructure,
    ServiceParts,
    consumer_loop_of,
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


async def test_a_loop_that_reads_settings_first_is_not_ready_until_it_read_them() -> None:
    def infrastructure() -> Infrastructure:
        producer = EventProducer("127.0.0.1:1", "test", namespace=TopicNamespace())
        return Infrastructure(POOL, producer, CollectorRegistry())

    reads_first, reads_all = infrastructure(), infrastructure()
    loop = consumer_loop_of(
        "mapper",
        MapperSettings(),
        reads_first,
        ServiceParts(web.Application(), Consumer({}, read_first=SETTINGS_FIRST)),
    )
    plain = consumer_loop_of(
        "mapper", MapperSettings(), reads_all, ServiceParts(web.Application(), Consumer({}))
    )

    assert loop is not None and plain is not None
    assert sorted(readiness_checks(reads_first, loop)) == ["kafka", "postgres", "read_first"]
    with pytest.raises(RuntimeError, match="not read to their end"):
        await readiness_checks(reads_first, loop)["read_first"]()
    assert sorted(readiness_checks(reads_all, plain)) == ["kafka", "postgres"]


async def test_a_loop_reads_first_only_topics_its_service_consumes() -> None:
    infrastructure = Infrastructure(
        POOL, EventProducer("127.0.0.1:1", "test", namespace=TopicNamespace()), CollectorRegistry()
    )
    parts = ServiceParts(web.Application(), Consumer({}, read_first=SETTINGS_FIRST))

    with pytest.raises(ValueError, match="does not consume"):
        consumer_loop_of("auditlog", AuditlogSettings(), infrastructure, parts)
