"""The pusher scaled from one replica to two and back to one while it pushes: each company revealed is
created in Pipedrive once, and each reveal is applied by one replica only (one result).

Two pusher processes in one consumer group against the Pipedrive sandbox; the reveals arrive on
`abm.company.revealed` as the ABM platform sends them. The tenant's API token may make 20 calls in 2
seconds (Lite): the pusher makes 20 creates, then waits in the next push for the window to open, whatever
the machine's load. A feeder keeps about `BACKLOG` reveals waiting, so a batch of pushes is in flight when
the second replica joins the group and when the first one stops (SIGTERM): the two rebalances.

A rebalance waits for the batch in flight (docs/operations.md, "A rebalance waits for the batch in
flight"): the partitions' next owner reads them from where that batch ended. Without that wait, the next
owner applies that batch's reveals again, while or after the replica giving them up applies them.
Pipedrive does not show it: the record lock (one push of a record at a time, across replicas) and the push
ledger read under it turn the second application into "No changes", no call made. The results do: the
second application sends the reveal's result again, so `psync.push-results.v1` carries it twice (the
activity log keeps one, by event id). Without the wait this test failed 8 runs of 8 (14 to 25 of 80 to 100
reveals applied twice), with it passed 10 of 10 (2026-12-04, load 2 to 6)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import SecretStr

from pipedrive_client import ApiTokenCredentials, CredentialCipher, CredentialStore
from pipedrive_sandbox import SandboxHandle
from pipedrive_sandbox.store import Entity
from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.events.common import SyncObject
from schemas.keys import record_key, settings_key
from schemas.topics import COMPANY_REVEALED, PUSH_RESULTS, SETTINGS
from tests.integration.pusher.conftest import push_settings, reveal_message
from tests.integration.pusher.topic_tail import TopicTail
from tests.support.conditions import eventually
from tests.support.kafka_offsets import committed_short_of, end_offsets
from tests.support.service_env import isolated_env
from tests.support.service_process import ServiceProcess

pytestmark = pytest.mark.integration

WAVE = 10
"""Reveals sent at once, each of a new company."""
BACKLOG = 20
"""The feeder sends a wave whenever fewer reveals than this wait to be pushed."""
WAIT_S = 90
WRITES = {"POST", "PATCH", "PUT", "DELETE"}


class Feeder:
    """Sends reveals of new companies, a wave at a time, keeping about `BACKLOG` of them waiting."""

    def __init__(self, producer: AIOKafkaProducer, sandbox: SandboxHandle, tenant: str) -> None:
        self._producer, self._sandbox, self.tenant = producer, sandbox, tenant
        self.domains: list[str] = []

    async def created(self) -> int:
        """How many of the companies Pipedrive holds (the sandbox runs in this process)."""
        return len(organizations(self._sandbox))

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: a wave whenever fewer than `BACKLOG` reveals wait."""
        while not stop.is_set():
            if len(self.domains) - await self.created() < BACKLOG:
                await self._wave()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)

    async def _wave(self) -> None:
        first = len(self.domains)
        wave = [f"scaled{first + n}-{self.tenant}.io" for n in range(WAVE)]
        now = datetime.now(UTC)
        sends = []
        for domain in wave:
            key, value = reveal_message(self.tenant, domain, now)
            sends.append(await self._producer.send(COMPANY_REVEALED.name, value, key=key))
        await asyncio.gather(*sends)
        self.domains += wave


def organizations(sandbox: SandboxHandle) -> list[str]:
    """The website of every live organization in the sandbox."""
    return [r.data.get("website") or "" for r in sandbox.state.tables[Entity.ORGANIZATION].live()]


async def reveals_applied(process: ServiceProcess) -> int:
    """The reveals the replica applied (its own pushes, not results it sent again)."""
    return await process.messages_processed("applied", COMPANY_REVEALED.name)


async def applied_at_least(process: ServiceProcess, more: int, what: str) -> None:
    """Wait until the replica applied `more` reveals than it has so far."""
    before = await reveals_applied(process)
    await eventually(
        lambda: reveals_applied(process), lambda n: n >= before + more, within_s=WAIT_S, what=what
    )


async def test_scaling_the_pusher_out_and_back_mid_batch_creates_each_record_once_with_one_result(
    pg_pool: asyncpg.Pool,
    kafka_admin: AIOKafkaAdminClient,
    kafka_bootstrap: str,
    producer: AIOKafkaProducer,
    sandbox: SandboxHandle,
    client_schema: str,
    credentials_key: bytes,
    tmp_path: Path,
) -> None:
    uid = uuid.uuid4().hex[:8]
    tenant = f"so{uid}"
    store = CredentialStore(pg_pool, CredentialCipher(credentials_key), client_schema)
    await store.save(tenant, ApiTokenCredentials(SecretStr(sandbox.api_token), sandbox.base_url))
    settings = build_event(
        push_settings(), tenant=tenant, subject=settings_key(tenant), source="/itest", id_parts=(uid,),
        time=datetime.now(UTC),
    )  # fmt: skip
    await producer.send_and_wait(SETTINGS.name, encode_event(settings), key=tenant.encode())
    results = await TopicTail(kafka_bootstrap, PUSH_RESULTS.name).mark()
    reveals_before = await end_offsets(kafka_bootstrap, COMPANY_REVEALED)
    feeder = Feeder(producer, sandbox, tenant)
    async with isolated_env(
        pg_pool, kafka_bootstrap, "pusher", commit_interval_s="0.2", session_timeout_s="6"
    ) as service_env:
        env = {
            **service_env,
            "PSYNC_CREDENTIALS_KEY": credentials_key.hex(),
            "PIPEDRIVE_CLIENT_SCHEMA": client_schema,
            "PIPEDRIVE_ALLOWED_TEST_URLS": sandbox.base_url,
        }
        group = env["PUSHER_GROUP_ID"]
        first, second = (ServiceProcess("pusher", env, tmp_path / f"pusher-{n}.log") for n in (1, 2))

        # One replica, in the middle of its pushes; reveals keep coming until the end of the last phase.
        await first.start()
        await first.wait_ready()
        stop_feeding = asyncio.Event()
        feeding = asyncio.create_task(feeder.run(stop_feeding))
        try:
            await applied_at_least(first, WAVE, "the first replica pushing")
            # A second replica joins the group and pushes its partitions' reveals.
            await second.start()
            await second.wait_ready()
            await applied_at_least(second, WAVE, "the second replica pushing beside the first")
            # Back to one: the first replica stops while it pushes, the second takes every partition.
            assert await first.terminate() == 0, first.log_tail()
            await applied_at_least(second, WAVE, "the second replica pushing alone")
        finally:
            stop_feeding.set()
            await feeding

        # Every reveal pushed and committed: every result there is to send was sent.
        await eventually(
            feeder.created, lambda n: n >= len(feeder.domains), within_s=WAIT_S, what="every company created"
        )

        async def uncommitted() -> dict[TopicPartition, int]:
            ends = await end_offsets(kafka_bootstrap, COMPANY_REVEALED)
            moved = {p: end for p, end in ends.items() if end > reveals_before.get(p, 0)}
            return await committed_short_of(kafka_admin, group, moved)

        await eventually(uncommitted, lambda short: not short, within_s=WAIT_S, what="every reveal committed")
        assert await second.terminate() == 0, second.log_tail()

    domains = feeder.domains
    assert len(domains) >= 4 * WAVE
    # Pipedrive: one organization per company, one create call each, nothing else written.
    assert Counter(organizations(sandbox)) == Counter(domains)
    writes = [
        (e.method, e.path) for e in sandbox.state.ledger.entries if e.method in WRITES and e.status < 300
    ]
    assert Counter(writes) == {("POST", "/api/v2/organizations"): len(domains)}
    # Each reveal applied once: one result per company, sent once.
    sent = Counter((r.key, r.event["data"]["outcome"]) for r in await results.since_mark(tenant))
    expected = {(record_key(tenant, SyncObject.ORGANIZATION, domain), "created"): 1 for domain in domains}
    again = sorted(key for (key, _), n in sent.items() if n > 1)
    assert sent == expected, f"{len(again)} of {len(domains)} reveals' results sent more than once: {again}"
