"""A pusher starting with an empty settings replica reads the settings topic to its end before any reveal.

Two tenants publish settings with auto-push on, then reveals, all before the pusher's first start on a new
schema: one tenant's settings and reveals are all after the group's committed offsets (a new deployment:
no order between the two topics), the other's settings before them (a new or restored schema under a
group that read them already: only reading the topic from its beginning brings them back). Every reveal
is pushed to the sandbox.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr

from pipedrive_client import ApiTokenCredentials, CredentialCipher, CredentialStore
from pipedrive_sandbox import SandboxHandle
from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.keys import settings_key
from schemas.topics import COMPANY_REVEALED, SETTINGS, topics_consumed_by
from tests.integration.pusher.conftest import push_settings, reveal_message
from tests.support.conditions import eventually
from tests.support.kafka_offsets import position_group_at_end
from tests.support.schemas import drop_schemas
from tests.support.service_process import ServiceProcess

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)
REVEALS = 6


async def _publish_settings(producer: AIOKafkaProducer, tenant: str) -> None:
    subject = settings_key(tenant)
    event = build_event(
        push_settings(), tenant=tenant, subject=subject, source="/itest", id_parts=(tenant,), time=NOW
    )
    await producer.send_and_wait(SETTINGS.name, encode_event(event), key=tenant.encode())


async def _reveal(producer: AIOKafkaProducer, tenant: str, domains: list[str]) -> None:
    for domain in domains:
        key, value = reveal_message(tenant, domain, NOW)
        await producer.send_and_wait(COMPANY_REVEALED.name, value, key=key)


async def _pushed(sandbox: SandboxHandle, domains: list[str]) -> list[str]:
    """The domains among `domains` that Pipedrive's organizations have as websites, read as a user of the
    account would: its API (one page holds them all: the sandbox starts empty)."""
    url = f"{sandbox.base_url}/api/v2/organizations?limit=500"
    headers = {"x-api-token": sandbox.api_token}
    async with aiohttp.ClientSession(headers=headers) as http, http.get(url) as answer:
        assert answer.status == 200, await answer.text()
        body = await answer.json()
    assert body["additional_data"].get("next_cursor") is None
    websites = {organization.get("website") for organization in body["data"]}
    return sorted(d for d in domains if d in websites)


async def test_reveals_published_before_the_first_start_are_pushed_with_the_settings_before_them(
    pg_pool: asyncpg.Pool,
    kafka_bootstrap: str,
    producer: AIOKafkaProducer,
    sandbox: SandboxHandle,
    client_schema: str,
    credentials_key: bytes,
    tmp_path: Path,
) -> None:
    uid = uuid.uuid4().hex[:8]
    schema, group = f"itest_pusher_first_{uid}", f"itest-pusher-first-{uid}"
    read_before, new = f"tb{uid}", f"tn{uid}"
    domains = {tenant: [f"{tenant}-{n}.io" for n in range(REVEALS)] for tenant in (read_before, new)}
    store = CredentialStore(pg_pool, CredentialCipher(credentials_key), client_schema)
    for tenant in domains:
        await store.save(tenant, ApiTokenCredentials(SecretStr(sandbox.api_token), sandbox.base_url))
    await _publish_settings(producer, read_before)
    # The group's committed offsets: after the first tenant's settings, before everything else.
    await position_group_at_end(kafka_bootstrap, group, topics_consumed_by("pusher"))
    await _publish_settings(producer, new)
    for tenant, revealed in domains.items():
        await _reveal(producer, tenant, revealed)
    env = {
        "PUSHER_GROUP_ID": group,
        "PUSHER_DB_SCHEMA": schema,
        "PUSHER_COMMIT_INTERVAL_S": "0.2",
        "PSYNC_CREDENTIALS_KEY": credentials_key.hex(),
        "PIPEDRIVE_CLIENT_SCHEMA": client_schema,
        "PIPEDRIVE_ALLOWED_TEST_URLS": sandbox.base_url,
    }
    process = ServiceProcess("pusher", env, tmp_path / "pusher.log")
    try:
        await process.start()
        await process.wait_ready()
        every = sorted(d for revealed in domains.values() for d in revealed)
        # Every reveal handled (one dropped as auto-push off is handled too, without a push), then pushed.
        await eventually(
            lambda: process.messages_processed(None, COMPANY_REVEALED.name),
            lambda handled: handled >= len(every),
            within_s=60,
            what=f"every reveal handled (the pusher's log: {process.log_path})",
        )
        assert await _pushed(sandbox, every) == every
        assert await process.terminate() == 0
    finally:
        await drop_schemas(pg_pool, schema)
