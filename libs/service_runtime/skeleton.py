"""The skeleton every service process runs on: one way to start, serve, consume and stop.

The skeleton opens what every service needs (logging, stop signals, the PostgreSQL pool, the service's
tables, the Kafka producer, a metrics registry), asks the service to assemble its own parts on them (an
HTTP application, the handlers of what it consumes, its workers, the tables it prunes), adds what every
service serves and runs (/healthz, /readyz, /metrics; the consumer loop; the pruning worker), serves until
SIGTERM or SIGINT and closes everything in order. A service's `bootstrap.py` keeps only what is its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import asyncpg
import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry

from postgres_store.pool import check_database, create_pool, where_is
from postgres_store.pruning import Expiry, Pruner
from schemas.topics import SETTINGS, TopicSpec, topics_consumed_by
from service_runtime.health import ReadinessCheck, add_operational_routes
from service_runtime.logs import configure_logging
from service_runtime.process import Worker, install_stop_signals, serve_until_stopped, tune_garbage_collection
from service_runtime.secret_keys import warn_of_development_keys
from service_runtime.settings import ServiceSettings, StreamServiceSettings
from stream_runner.errors import is_transient
from stream_runner.kafka_runner import KafkaStreamRunner
from stream_runner.metrics import RunnerMetrics
from stream_runner.processor import BatchHandler, DeadLetterHandler, Handler, MessageProcessor, RepeatLookup
from stream_runner.producer import EventProducer
from stream_runner.reachability import Unreachable

_log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Infrastructure:
    """What the skeleton opened for a service: its pool, its started producer (None for a service that
    uses no Kafka) and the registry its metrics go to."""

    pool: asyncpg.Pool
    producer: EventProducer | None
    registry: CollectorRegistry

    @property
    def kafka(self) -> EventProducer:
        """The producer of a service that uses Kafka."""
        if self.producer is None:
            raise RuntimeError("this service was started without Kafka")
        return self.producer


@dataclass(frozen=True)
class Consumer:
    """What a service consumes: its handlers by event type, those applied in batches, what it records
    of an event it dead-letters, and how its inbox tells which events of a type it applied already (those
    are not decoded nor handled again: what they produced is re-sent). The skeleton runs them in the one
    consumer loop, on the topics the registry says the service reads."""

    handlers: Mapping[str, Handler]
    batch_handlers: Mapping[str, BatchHandler] = field(default_factory=dict)
    dead_letter_handlers: Mapping[str, DeadLetterHandler] = field(default_factory=dict)
    repeat_lookups: Mapping[str, RepeatLookup] = field(default_factory=dict)
    read_first: Sequence[str] = ()
    """Topics (of those consumed) read to their end offsets at start, with these handlers, before the loop
    handles any other: the settings topic of a service with a settings replica (`SETTINGS_FIRST`)."""
    tenant_concurrency: int = 1
    """How many tenants' messages of a poll are processed at once, each tenant's in order
    (`MessageProcessor`); 1: the poll in order."""


SETTINGS_FIRST = (SETTINGS.name,)
"""`Consumer.read_first` of a service with a settings replica: a signal read before its tenant's settings
(another topic, no order between them) would find them missing, as if auto-push were off."""


@dataclass(frozen=True)
class ServiceParts:
    """What a service assembles on its infrastructure: its HTTP application, what it consumes, its own
    workers and the tables it remembers things in only for a while."""

    app: web.Application
    consumer: Consumer | None = None
    workers: Sequence[Worker] = ()
    expiring: Sequence[Expiry] = ()


S = TypeVar("S", bound=ServiceSettings)

Assemble = Callable[[S, Infrastructure], AbstractAsyncContextManager[ServiceParts]]
"""Builds a service's parts on its infrastructure; what it opens it closes when the context ends."""

InstallTables = Callable[[asyncpg.Pool, str], Awaitable[object]]
"""Creates or migrates the tables a service keeps in its schema, before it assembles its parts."""


async def run_service_process(
    name: str,
    settings: S,
    assemble: Assemble[S],
    install_tables: InstallTables,
    *,
    kafka: bool = True,
    development_keys: Sequence[str] = (),
) -> None:
    """Run one service process until SIGTERM or SIGINT: stop consuming, finish the work in flight,
    commit, close. A worker dying of a transient failure (the database or the broker away) is run again
    after a pause; one dying of anything else stops the process with WorkerFailed."""
    configure_logging(name, settings.log_level, json=settings.log_json)
    warn_of_development_keys(list(development_keys))
    stop = asyncio.Event()
    install_stop_signals(stop)
    # The collector was paused while the service imported (service_runtime.process_start): started again
    # here, what the imports made frozen, before the first wait that can last (PostgreSQL or Kafka not
    # there yet, another replica's migration): a start that waits must not run without it meanwhile.
    tune_garbage_collection()
    with exit_when_unreachable(settings):
        pool = await create_pool(
            settings.database_url.get_secret_value(),
            max_size=settings.db_pool_size,
            connect_deadline_s=settings.start_deadline_s,
        )
    producer = (
        EventProducer(settings.kafka_bootstrap, client_id=name, namespace=settings.topic_namespace)
        if kafka
        else None
    )
    try:
        await install_tables(pool, settings.db_schema)
        if producer is not None:
            with exit_when_unreachable(settings):
                await producer.start(connect_deadline_s=settings.start_deadline_s)
        infrastructure = Infrastructure(pool, producer, CollectorRegistry())
        async with assemble(settings, infrastructure) as parts:
            loop = consumer_loop_of(name, settings, infrastructure, parts)
            checks = readiness_checks(infrastructure, loop)
            add_operational_routes(parts.app, checks, infrastructure.registry)
            workers = service_workers(name, settings, infrastructure, parts, loop)
            await serve_until_stopped(
                parts.app, settings.http_host, settings.http_port, workers, stop, restart_when=is_transient
            )
    finally:
        if producer is not None:
            await producer.stop()
        await pool.close()


@contextmanager
def exit_when_unreachable(settings: ServiceSettings) -> Iterator[None]:
    """Turn a dependency still unreachable at the start's deadline into one `start_failed` error line
    naming the setting to check, and exit status 1 (no traceback: nothing in the code went wrong)."""
    try:
        yield
    except Unreachable as failure:
        where = {
            "kafka": f"KAFKA_BOOTSTRAP ({settings.kafka_bootstrap})",
            "postgres": f"DATABASE_URL ({where_is(settings.database_url.get_secret_value())})",
        }
        _log.error(
            "start_failed",
            error=f"{failure}; check {where.get(failure.dependency, failure.dependency)}",
            dependency=failure.dependency,
        )
        raise SystemExit(1) from None


def readiness_checks(
    infrastructure: Infrastructure, loop: KafkaStreamRunner | None = None
) -> dict[str, ReadinessCheck]:
    """What /readyz checks: PostgreSQL, Kafka for a service that uses it, and that the consumer loop read
    the topics it reads first (`Consumer.read_first`) for a service that has some."""
    pool = infrastructure.pool
    checks: dict[str, ReadinessCheck] = {"postgres": lambda: check_database(pool)}
    if infrastructure.producer is not None:
        checks["kafka"] = infrastructure.producer.check_cluster
    if loop is not None and not loop.caught_up:
        checks["read_first"] = loop.check_caught_up
    return checks


def consumer_loop_of(
    name: str, settings: ServiceSettings, infrastructure: Infrastructure, parts: ServiceParts
) -> KafkaStreamRunner | None:
    """The consumer loop of a service that consumes (None for one that does not)."""
    if parts.consumer is None:
        return None
    if not isinstance(settings, StreamServiceSettings):
        raise TypeError(f"{name} consumes: its settings must be StreamServiceSettings")
    return consumer_loop(name, settings, infrastructure, parts.consumer)


def service_workers(
    name: str,
    settings: ServiceSettings,
    infrastructure: Infrastructure,
    parts: ServiceParts,
    loop: KafkaStreamRunner | None = None,
) -> list[Worker]:
    """The consumer loop (for a service that consumes: `loop`, or one made here), the service's own
    workers, and the pruning worker (for a service that keeps rows for a while)."""
    workers: list[Worker] = []
    loop = loop or consumer_loop_of(name, settings, infrastructure, parts)
    if loop is not None:
        workers.append(loop.run)
    workers.extend(parts.workers)
    if parts.expiring:
        workers.append(Pruner(infrastructure.pool, parts.expiring, settings.prune_every_s).run)
    return workers


def batched_topics(topics: Sequence[TopicSpec], batch_handlers: Collection[str]) -> list[str]:
    """The topics whose every event type has a batch handler (the consumer loop tops up their polls)."""
    return [t.name for t in topics if t.event_types and set(t.event_types) <= set(batch_handlers)]


def consumer_loop(
    name: str, settings: StreamServiceSettings, infrastructure: Infrastructure, consumer: Consumer
) -> KafkaStreamRunner:
    """The one consumer loop of a service, in its group, on the topics the registry says it reads."""
    processor = MessageProcessor(
        name,
        consumer.handlers,
        infrastructure.kafka,
        RunnerMetrics(infrastructure.registry),
        batch_handlers=consumer.batch_handlers,
        dead_letter_handlers=consumer.dead_letter_handlers,
        repeat_lookups=consumer.repeat_lookups,
        tenant_concurrency=consumer.tenant_concurrency,
    )
    topics = topics_consumed_by(name)
    unread = set(consumer.read_first) - {t.name for t in topics}
    if unread:
        raise ValueError(f"{name} reads first topics it does not consume: {sorted(unread)}")
    return KafkaStreamRunner(
        bootstrap=settings.kafka_bootstrap,
        group_id=settings.group_id,
        topics=[t.name for t in topics],
        processor=processor,
        client_id=name,
        namespace=settings.topic_namespace,
        commit_interval_s=settings.commit_interval_s,
        max_poll_records=min(settings.poll_records or settings.max_batch, settings.max_batch),
        max_batch_records=settings.max_batch,
        batched_topics=batched_topics(topics, consumer.batch_handlers),
        session_timeout_s=settings.session_timeout_s,
        group_instance_id=settings.group_instance_id,
        read_first=[t for t in topics if t.name in consumer.read_first],
        bulk_topics=[t.name for t in topics if t.bulk],
    )
