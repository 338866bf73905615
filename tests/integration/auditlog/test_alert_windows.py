"""The alert windows on the real Kafka and PostgreSQL, with the auditlog's consumer loop that hands them the
failed records: failed record results of a tenant over its threshold raise one `failures` alert,
delivered to a local webhook receiver; a dead letter of a tenant raises a `dead_letters` alert. The
auditlog's workers run in this process as its bootstrap assembles them, under a group of their own (the
windows' app id, consumer group and topics follow from it; deleted after)."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry

from auditlog.alert_rules import AlertSettings
from auditlog.alert_store import AlertStore
from auditlog.bootstrap import assemble, install_tables, windows_config
from auditlog.settings import AuditlogSettings
from schemas.catalog import build_event
from schemas.events.common import RecordOutcome, SyncObject
from schemas.events.record_results import RecordApplied
from schemas.topics import RECORD_RESULTS, dlq_topic_name, topics_consumed_by
from service_runtime.skeleton import Infrastructure, service_workers
from stream_runner.messages import OutgoingMessage
from stream_runner.producer import EventProducer
from tests.integration.alert_receiver import Receiver, serve_receiver
from tests.support.conditions import eventually
from tests.support.kafka_offsets import position_group_at_end
from tests.support.schemas import drop_schemas
from tests.topic_namespace import NAMESPACE

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def windows(
    kafka_bootstrap: str,
    database_url: str,
    kafka_admin: AIOKafkaAdminClient,
    pg_pool: asyncpg.Pool,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[AlertStore]:
    """The auditlog's consumer loop, alert windows and alert delivery running, as the service runs them."""
    uid = uuid.uuid4().hex[:8]
    settings = AuditlogSettings.model_validate(
        {
            "KAFKA_BOOTSTRAP": kafka_bootstrap,
            "PSYNC_TOPIC_PREFIX": NAMESPACE.prefix,
            "DATABASE_URL": database_url,
            "group_id": f"itest-alert-windows-{uid}",
            "db_schema": f"itest_alert_windows_{uid}",
            "data_dir": str(tmp_path_factory.mktemp("windows")),
            "session_timeout_s": 6,
            "alert_poll_every_s": 0.05,
            "alert_first_retry_s": 0.05,
        }
    )
    await install_tables(pg_pool, settings.db_schema)
    await position_group_at_end(kafka_bootstrap, settings.group_id, topics_consumed_by("auditlog"))
    producer = EventProducer(kafka_bootstrap, client_id="itest-alert-windows-auditlog", namespace=NAMESPACE)
    await producer.start()
    infrastructure, stop = Infrastructure(pg_pool, producer, CollectorRegistry()), asyncio.Event()
    try:
        async with assemble(settings, infrastructure) as parts:
            workers = service_workers("auditlog", settings, infrastructure, parts)
            running = [asyncio.create_task(worker(stop)) for worker in workers]
            yield AlertStore(pg_pool, settings.db_schema)
            stop.set()
            await asyncio.gather(*running, return_exceptions=True)
    finally:
        await producer.stop()
        app_id = windows_config(settings).app_id
        own = [t for t in await kafka_admin.list_topics() if t.startswith(NAMESPACE.group(app_id))]
        if own:
            await kafka_admin.delete_topics(own)
        await drop_schemas(pg_pool, settings.db_schema)


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[EventProducer]:
    started = EventProducer(kafka_bootstrap, client_id="itest-alert-windows", namespace=NAMESPACE)
    await started.start()
    yield started
    await started.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    async with serve_receiver() as served:
        yield served


class Throttled:
    """Sends at most one message every half second, however often it is asked (the windows' app reads
    from the latest offsets once it has its partitions: what was sent before it may be missed, so a test
    keeps sending until the alert comes, without flooding shared topics)."""

    def __init__(self, producer: EventProducer) -> None:
        self._producer = producer
        self._last = 0.0

    async def send(self, message: OutgoingMessage) -> None:
        if time.monotonic() - self._last >= 0.5:
            await self._producer.send_all([message])
            self._last = time.monotonic()


def _failed(tenant: str, n: int) -> OutgoingMessage:
    result = RecordApplied(
        object=SyncObject.ORGANIZATION, match_key=f"org{n}.io", outcome=RecordOutcome.FAILED,
        message="Required field missing: name", run_id="apply-run-1",
    )  # fmt: skip
    key = f"{tenant}:organization:org{n}.io"
    event = build_event(
        result, tenant=tenant, subject=key, source="/psync/mapper", id_parts=(n,), time=datetime.now(UTC)
    )
    return OutgoingMessage.of_event(RECORD_RESULTS.name, event)


async def test_failures_over_the_threshold_raise_one_alert_delivered_to_the_webhook(
    windows: AlertStore, producer: EventProducer, receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    tenant = f"t{uuid.uuid4().hex[:8]}"
    await windows.save_settings(tenant, AlertSettings(webhook_url=url, failure_threshold=3, window_minutes=5))
    numbers, throttled = itertools.count(), Throttled(producer)

    async def fail_once_more() -> list[dict[str, object]]:
        await throttled.send(_failed(tenant, next(numbers)))
        return [a for a in await windows.active_alerts(tenant, 10) if a["cause"] == "failures"]

    await eventually(fail_once_more, lambda found: len(found) == 1, within_s=60, what="failures alert")
    [delivered] = await eventually(
        lambda: asyncio.sleep(0, hook.of(tenant)), lambda got: len(got) >= 1, within_s=10, what="delivery"
    )
    assert "Records are failing" in delivered["text"] and "threshold 3" in delivered["text"]
    await producer.send_all([_failed(tenant, next(numbers)) for _ in range(3)])
    [alert] = await windows.active_alerts(tenant, 10)
    assert alert["cause"] == "failures"


async def test_a_dead_letter_raises_an_alert(windows: AlertStore, producer: EventProducer) -> None:
    tenant, throttled = f"t{uuid.uuid4().hex[:8]}", Throttled(producer)
    dead = OutgoingMessage(dlq_topic_name("mapper"), f"{tenant}:organization:x.io", b"{")

    async def dead_letter_once_more() -> list[dict[str, object]]:
        await throttled.send(dead)
        return await windows.active_alerts(tenant, 10)

    [alert] = await eventually(
        dead_letter_once_more, lambda found: len(found) >= 1, within_s=60, what="alert"
    )
    assert alert["cause"] == "dead_letters" and "mapper" in str(alert["detail"])
