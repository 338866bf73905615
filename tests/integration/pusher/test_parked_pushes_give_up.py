"""Parked pushes: one that keeps failing for another reason than the budget gives up (a failed result and
a dead letter, nothing lost); one that waits for the budget never does."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson
import pytest
from aiokafka.errors import KafkaConnectionError

from pipedrive_client import ApiDomainPolicy, PipedriveClientFactory, RetryPolicy
from pusher.bootstrap import build_handlers
from pusher.handlers import PusherHandlers
from pusher.parking import ParkingLimits
from schemas.codec import decode_event
from schemas.envelope import CloudEvent
from schemas.events.abm_signals import CompanyRevealed
from schemas.topics import COMPANY_REVEALED, PUSH_RESULTS, dlq_topic_name
from stream_runner.messages import Handled, OutgoingMessage
from stream_runner.producer import EventProducer
from tests.integration.pusher.conftest import PusherHarness, results_of
from tests.integration.pusher.topic_tail import TopicTail
from tests.support.conditions import eventually
from tests.topic_namespace import NAMESPACE

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
async def producer(kafka_bootstrap: str) -> AsyncIterator[EventProducer]:
    producer = EventProducer(kafka_bootstrap, client_id="pusher-itest", namespace=NAMESPACE)
    await producer.start()
    yield producer
    await producer.stop()


async def _park_in_a_storm(pusher: PusherHarness, domain: str) -> None:
    pusher.sandbox.state.faults.storm_requests_left = 50
    handled = await pusher.send(
        CompanyRevealed(domain=domain, name="Parked", revealed_at=NOW), event_id=domain
    )
    pusher.sandbox.state.faults.clear()
    assert not handled.outputs and await pusher.handlers.parked.count(pusher.tenant) == 1


async def _make_due(pusher: PusherHarness) -> None:
    await pusher.pool.execute(
        f"UPDATE {pusher.schema}.parked_pushes SET resume_at = now() - interval '1s' WHERE tenant_id = $1",
        pusher.tenant,
    )


async def test_a_parked_push_that_keeps_failing_gives_up_with_a_failed_result_and_a_dead_letter(
    pusher: PusherHarness, producer: EventProducer, kafka_bootstrap: str, client_schema: str
) -> None:
    await _park_in_a_storm(pusher, "gives-up.io")
    await _make_due(pusher)
    results = await TopicTail(kafka_bootstrap, PUSH_RESULTS.name).mark()
    dead = await TopicTail(kafka_bootstrap, dlq_topic_name("pusher")).mark()
    limits = ParkingLimits(retry_after=timedelta(0), max_failures=3, max_age=timedelta(hours=1))
    async with aiohttp.ClientSession() as session:
        # A replica deployed with the wrong credentials key: every re-drive fails, and not for the budget.
        wrong_key = PipedriveClientFactory(
            session, pusher.pool, os.urandom(32), policy=ApiDomainPolicy((pusher.sandbox.base_url,)),
            retry=RetryPolicy(max_attempts=2), schema=client_schema,
        )  # fmt: skip
        broken = build_handlers(pusher.pool, pusher.schema, wrong_key, parking=limits)
        await _redrive_until(broken, pusher, lambda n: n == 0, producer)

    [failed] = [p.event["data"] for p in await results.since_mark(pusher.tenant)]
    assert failed["outcome"] == "failed" and failed["match_key"] == "gives-up.io"
    assert str(failed["message"]).startswith("Gave up after 3 failed attempts: CredentialsUnreadable")
    [letter] = await dead.since_mark(pusher.tenant)
    assert letter.key == "k" and letter.event["type"] == "abm.company.revealed"
    assert letter.headers["dlq.origin.topic"] == COMPANY_REVEALED.name
    assert letter.headers["dlq.origin.offset"] == str(pusher.offset)
    assert letter.headers["dlq.error.class"] == "PushGaveUp" and letter.headers["dlq.service"] == "pusher"
    assert letter.headers["dlq.error.message"] == failed["message"]
    counted = await pusher.pool.fetchval(
        f"SELECT failed FROM {pusher.schema}.push_runs WHERE tenant_id = $1", pusher.tenant
    )
    assert counted == 1 and pusher.organizations("gives-up.io") == []
    # Re-driving the dead letter (the same event) applies it: giving up claimed nothing.
    [created] = results_of(await pusher.deliver(_decoded(letter.event)))
    assert created["outcome"] == "created" and len(pusher.organizations("gives-up.io")) == 1


async def test_a_push_waiting_for_the_budget_never_gives_up_and_resumes(
    pusher: PusherHarness, producer: EventProducer, kafka_bootstrap: str
) -> None:
    await _park_in_a_storm(pusher, "waits.io")
    dead = await TopicTail(kafka_bootstrap, dlq_topic_name("pusher")).mark()
    # Limits that would give up on the first failure of any other kind, and on age right away.
    strict = ParkingLimits(retry_after=timedelta(0), max_failures=1, max_age=timedelta(0))
    patient = build_handlers(pusher.pool, pusher.schema, pusher.clients, parking=strict)
    state = pusher.sandbox.state
    state.faults.storm_until = state.clock.now() + 3600
    limited_before = _limited(pusher)

    async def limited_again() -> int:
        await _make_due(pusher)
        return _limited(pusher)

    stop = asyncio.Event()
    worker = asyncio.create_task(
        patient.parked.run(patient.redrive, patient.give_up, producer.send_all, stop)
    )
    try:
        await eventually(
            limited_again, lambda n: n >= limited_before + 4, within_s=30, what="two re-drives hit 429s"
        )
        assert await pusher.handlers.parked.count(pusher.tenant) == 1
        state.faults.clear()
        await _make_due(pusher)
        await eventually(
            lambda: pusher.handlers.parked.count(pusher.tenant), lambda n: n == 0, within_s=30, what="resumed"
        )
    finally:
        stop.set()
        await worker

    assert len(pusher.organizations("waits.io")) == 1
    assert await dead.since_mark(pusher.tenant) == []


async def test_a_transient_failure_is_retried_without_counting_toward_giving_up(
    pusher: PusherHarness, producer: EventProducer, kafka_bootstrap: str
) -> None:
    await _park_in_a_storm(pusher, "flaky.io")
    await _make_due(pusher)
    dead = await TopicTail(kafka_bootstrap, dlq_topic_name("pusher")).mark()
    one_failure = ParkingLimits(retry_after=timedelta(0), max_failures=1, max_age=timedelta(hours=1))
    handlers = build_handlers(pusher.pool, pusher.schema, pusher.clients, parking=one_failure)
    outages = 3

    async def redrive_after_outages(event: CloudEvent[Any], topic: str) -> Handled:
        nonlocal outages
        if outages:
            outages -= 1
            raise ConnectionError("database connection lost")
        return await handlers.redrive(event, topic)

    stop = asyncio.Event()
    worker = asyncio.create_task(
        handlers.parked.run(redrive_after_outages, handlers.give_up, producer.send_all, stop)
    )
    try:
        await eventually(
            lambda: pusher.handlers.parked.count(pusher.tenant),
            lambda n: n == 0,
            within_s=30,
            what="re-driven",
        )
    finally:
        stop.set()
        await worker

    assert outages == 0 and len(pusher.organizations("flaky.io")) == 1
    assert await dead.since_mark(pusher.tenant) == []


async def test_a_broker_failure_while_sending_the_results_keeps_the_push_parked_and_the_worker_alive(
    pusher: PusherHarness, producer: EventProducer, kafka_bootstrap: str
) -> None:
    await _park_in_a_storm(pusher, "broker-down.io")
    await _make_due(pusher)
    results = await TopicTail(kafka_bootstrap, PUSH_RESULTS.name).mark()
    broker_down = 2

    async def send_while_the_broker_recovers(messages: Sequence[OutgoingMessage]) -> None:
        nonlocal broker_down
        if broker_down:
            broker_down -= 1
            raise KafkaConnectionError("broker unreachable")
        await producer.send_all(messages)

    handlers = pusher.handlers
    stop = asyncio.Event()
    worker = asyncio.create_task(
        handlers.parked.run(handlers.redrive, handlers.give_up, send_while_the_broker_recovers, stop)
    )
    try:
        await eventually(
            lambda: handlers.parked.count(pusher.tenant), lambda n: n == 0, within_s=60, what="re-driven"
        )
        assert not worker.done()
    finally:
        stop.set()
        await worker

    assert broker_down == 0
    # Created once in Pipedrive although the push ran three times; its result reached the topic.
    assert len(pusher.organizations("broker-down.io")) == 1
    outcomes = {p.event["data"]["outcome"] for p in await results.since_mark(pusher.tenant)}
    assert outcomes == {"created"}


def _limited(pusher: PusherHarness) -> int:
    return sum(1 for e in pusher.sandbox.state.ledger.entries if e.status == 429)


async def _redrive_until(
    handlers: PusherHandlers, pusher: PusherHarness, done: Callable[[int], bool], producer: EventProducer
) -> None:
    stop = asyncio.Event()
    worker = asyncio.create_task(
        handlers.parked.run(handlers.redrive, handlers.give_up, producer.send_all, stop)
    )
    try:
        await eventually(
            lambda: pusher.handlers.parked.count(pusher.tenant),
            done,
            within_s=30,
            what="the parked push re-driven to its end",
        )
    finally:
        stop.set()
        await worker


def _decoded(event: dict[str, Any]) -> CloudEvent[Any]:
    return decode_event(COMPANY_REVEALED.name, orjson.dumps(event))
