"""The pusher as a process on real Kafka: SIGKILLed right after create calls, again and again, it never
creates a record twice; a replay of its input writes nothing to Pipedrive."""

from __future__ import annotations

import uuid
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
from schemas.keys import settings_key
from schemas.topics import COMPANY_REVEALED, SETTINGS, topics_consumed_by
from tests.integration.pusher.conftest import push_settings, reveal_message
from tests.support.conditions import eventually
from tests.support.kafka_offsets import committed_short_of, end_offsets, position_group_at_end, rewind_group
from tests.support.schemas import drop_schemas
from tests.support.service_process import ServiceProcess

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)
# Two creates, each killed: the second is made by a process started after a kill, which first resolved the
# first create's intent, and is killed in turn (4 repeated the same crash twice more, 4.5 to 9 s apiece
# alone at load 8 to 12).
DOMAINS = [f"killed{n}.io" for n in range(2)]


def _env(schema: str, client_schema: str, key: bytes, sandbox: SandboxHandle, group: str) -> dict[str, str]:
    return {
        "PUSHER_GROUP_ID": group,
        "PUSHER_DB_SCHEMA": schema,
        "PUSHER_COMMIT_INTERVAL_S": "0.2",
        "PUSHER_SESSION_TIMEOUT_S": "6",
        "PSYNC_CREDENTIALS_KEY": key.hex(),
        "PIPEDRIVE_CLIENT_SCHEMA": client_schema,
        "PIPEDRIVE_ALLOWED_TEST_URLS": sandbox.base_url,
    }


async def _caught_up(kafka_bootstrap: str, admin: AIOKafkaAdminClient, group: str) -> bool:
    ends = await end_offsets(kafka_bootstrap, COMPANY_REVEALED)
    return not await committed_short_of(admin, group, {p: end for p, end in ends.items() if end > 0})


async def test_sigkill_after_create_calls_never_duplicates_and_a_replay_writes_nothing(
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
    tenant, schema = f"tk{uid}", f"itest_pusher_proc_{uid}"
    # Fresh groups read only what this test produces (the topics hold every earlier test's messages).
    for group in (f"itest-pusher-{uid}", f"itest-replay-{uid}"):
        await position_group_at_end(kafka_bootstrap, group, topics_consumed_by("pusher"))
    first_offsets: dict[TopicPartition, int] = {}
    store = CredentialStore(pg_pool, CredentialCipher(credentials_key), client_schema)
    await store.save(tenant, ApiTokenCredentials(SecretStr(sandbox.api_token), sandbox.base_url))
    settings = build_event(
        push_settings(),
        tenant=tenant,
        subject=settings_key(tenant),
        source="/itest",
        id_parts=(uid,),
        time=NOW,
    )
    sent = await producer.send_and_wait(SETTINGS.name, encode_event(settings), key=tenant.encode())
    first_offsets.setdefault(TopicPartition(sent.topic, sent.partition), sent.offset)
    env = _env(schema, client_schema, credentials_key, sandbox, f"itest-pusher-{uid}")
    # One static group member, started again after each kill: it takes its partitions back at once instead
    # of after the killed process's group session.
    restarted = {**env, "PUSHER_GROUP_INSTANCE_ID": f"itest-pusher-{uid}-0"}

    def killed_after_each_create() -> ServiceProcess:
        return ServiceProcess(
            "pusher", restarted, tmp_path / "p.log", module="tests.integration.pusher.killed_after_create"
        )

    kills = 0
    process = killed_after_each_create()
    try:
        # Ready once it read the settings topic to the end it had at start: its replica holds them.
        await process.start()
        await process.wait_ready()
        query = f"SELECT count(*) FROM {schema}.tenant_settings WHERE tenant_id = $1"
        assert await pg_pool.fetchval(query, tenant) == 1
        for domain in DOMAINS:
            key, value = reveal_message(tenant, domain, NOW)
            sent = await producer.send_and_wait(COMPANY_REVEALED.name, value, key=key)
            first_offsets.setdefault(TopicPartition(sent.topic, sent.partition), sent.offset)

        while True:
            assert process.process is not None
            done = await eventually(
                lambda p=process: _finished_or_killed(pg_pool, schema, tenant, p),  # type: ignore[misc]
                lambda state: state != "running",
                within_s=90,
                what="a create (and its SIGKILL) or all records done",
            )
            if done != "killed":
                await process.terminate()
                break
            kills += 1
            process = killed_after_each_create()
            await process.start()

        assert kills >= len(DOMAINS)
        for domain in DOMAINS:
            assert len(_organizations(sandbox, domain)) == 1, domain

        sandbox.state.ledger.reset()
        # Replay this test's input from its first message on (on a fresh cluster: from offset zero).
        await rewind_group(kafka_bootstrap, f"itest-replay-{uid}", first_offsets)
        replay = ServiceProcess(
            "pusher", {**env, "PUSHER_GROUP_ID": f"itest-replay-{uid}"}, tmp_path / "r.log"
        )
        await replay.start()
        await replay.wait_ready()
        await eventually(
            lambda: _caught_up(kafka_bootstrap, kafka_admin, f"itest-replay-{uid}"),
            bool,
            within_s=90,
            what="the replay consumed the whole topic",
        )
        assert await replay.terminate() == 0
        assert [e for e in sandbox.state.ledger.entries if e.method != "GET"] == []
    finally:
        await drop_schemas(pg_pool, schema)


async def _finished_or_killed(pool: asyncpg.Pool, schema: str, tenant: str, process: ServiceProcess) -> str:
    assert process.process is not None
    if process.process.returncode is not None:
        return "killed"
    try:
        done = await pool.fetchval(
            f"SELECT count(*) FROM {schema}.push_ledger WHERE tenant_id = $1 AND state = 'done'", tenant
        )
    except asyncpg.UndefinedTableError:
        return "running"
    return "finished" if done == len(DOMAINS) else "running"


def _organizations(sandbox: SandboxHandle, website: str) -> list[int]:
    table = sandbox.state.tables[Entity.ORGANIZATION]
    return [r.id for r in table.live() if r.data.get("website") == website]
