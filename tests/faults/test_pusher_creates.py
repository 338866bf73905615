"""The pusher killed (SIGKILL) right after each creating call Pipedrive answered and before its ledger
records the answer, PSYNC_FAULT_CREATE_KILLS times (50 by default): as many revealed companies, each
created in Pipedrive exactly once (the sandbox's organizations), none twice."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr

from pipedrive_client import ApiTokenCredentials, CredentialCipher, CredentialStore, install_schema
from pipedrive_sandbox import SandboxConfig
from pipedrive_sandbox.store import Entity
from postgres_store.pool import create_pool
from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.events.abm_signals import CompanyRevealed
from schemas.events.common import SyncObject
from schemas.keys import record_key, settings_key
from schemas.topics import COMPANY_REVEALED, SETTINGS
from tests.faults.conftest import FaultReport
from tests.integration.pusher.conftest import push_settings
from tests.outages.private_infra import PrivateKafka, PrivatePostgres
from tests.pipedrive_client.sandbox_server import recording_sandbox
from tests.support.conditions import eventually
from tests.support.service_process import ServiceProcess
from tests.topic_namespace import NamespacedProducer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]

CREATES = int(os.environ.get("PSYNC_FAULT_CREATE_KILLS", "50"))
NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)


async def _produce(bootstrap: str, messages: list[tuple[str, bytes, bytes]]) -> None:
    """Send each (topic, value, key), acknowledged by every in-sync replica."""
    producer = NamespacedProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for topic, value, key in messages:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


def _settings(tenant: str) -> list[tuple[str, bytes, bytes]]:
    """The tenant's settings, auto-push on."""
    settings = build_event(
        push_settings(), tenant=tenant, subject=settings_key(tenant), source="/faults", id_parts=(1,),
        time=NOW,
    )  # fmt: skip
    return [(SETTINGS.name, encode_event(settings), tenant.encode())]


def _reveals(tenant: str, domains: list[str]) -> list[tuple[str, bytes, bytes]]:
    """One reveal per domain."""
    reveals = []
    for domain in domains:
        key = record_key(tenant, SyncObject.ORGANIZATION, domain)
        event = build_event(
            CompanyRevealed(domain=domain, name=domain.split(".")[0].title(), revealed_at=NOW),
            tenant=tenant, subject=key, source="/faults", id_parts=(key,), time=NOW,
        )  # fmt: skip
        reveals.append((COMPANY_REVEALED.name, encode_event(event), key.encode()))
    return reveals


async def _settings_replicated(pool: asyncpg.Pool, tenant: str) -> bool:
    """Whether the pusher's settings replica holds the tenant's settings."""
    try:
        found = await pool.fetchval("SELECT 1 FROM pusher.tenant_settings WHERE tenant_id = $1", tenant)
    except (asyncpg.UndefinedTableError, OSError):
        return False
    return found is not None


async def _pushed(pool: asyncpg.Pool, schema: str, tenant: str) -> int:
    try:
        done = await pool.fetchval(
            f"SELECT count(*) FROM {schema}.push_ledger WHERE tenant_id = $1 AND state = 'done'", tenant
        )
    except (asyncpg.UndefinedTableError, OSError):
        return 0
    return int(done or 0)


async def test_the_pusher_killed_after_each_create_never_creates_twice(
    private_postgres: PrivatePostgres, private_kafka: PrivateKafka, fault_report: FaultReport, tmp_path: Path
) -> None:
    tenant, key = f"kc{uuid.uuid4().hex[:8]}", os.urandom(32)
    domains = [f"created{n}.io" for n in range(CREATES)]
    started = time.monotonic()
    pool = await create_pool(private_postgres.url, max_size=2)
    async with recording_sandbox(SandboxConfig(organizations=0)) as sandbox:
        try:
            await install_schema(pool, "pipedrive_client")
            store = CredentialStore(pool, CredentialCipher(key))
            await store.save(
                tenant, ApiTokenCredentials(SecretStr(sandbox.handle.api_token), sandbox.base_url)
            )
            # The settings first, and the reveals only once the pusher holds them, the order of the runs
            # reported. Before the pusher read the settings topic to its end at start (`read_first`), a
            # reveal its first start read before the settings (another topic, no order between them) found
            # auto-push off and was not pushed, which left this scenario waiting for it; since then that
            # order is covered by tests/integration/pusher/test_settings_read_first.py.
            await _produce(private_kafka.bootstrap, _settings(tenant))
            env = {
                "DATABASE_URL": private_postgres.url,
                "KAFKA_BOOTSTRAP": private_kafka.bootstrap,
                "PSYNC_CREDENTIALS_KEY": key.hex(),
                "PIPEDRIVE_ALLOWED_TEST_URLS": sandbox.base_url,
                "PUSHER_SESSION_TIMEOUT_S": "6",
                "PUSHER_COMMIT_INTERVAL_S": "0.2",
                "PUSHER_LOG_LEVEL": "INFO",
            }
            kills = starts = 0
            while await _pushed(pool, "pusher", tenant) < CREATES:
                process = ServiceProcess(
                    "pusher",
                    env,
                    tmp_path / f"pusher-{kills:03d}-{starts:03d}.log",  # each start's log kept
                    module="tests.integration.pusher.killed_after_create",
                )
                starts += 1
                await process.start()
                assert process.process is not None
                if starts == 1:
                    await eventually(
                        lambda: _settings_replicated(pool, tenant),
                        bool,
                        within_s=120,
                        what="the tenant's settings in the pusher's replica",
                    )
                    await _produce(private_kafka.bootstrap, _reveals(tenant, domains))
                await eventually(
                    lambda p=process: _killed_or_done(p, pool, tenant),  # type: ignore[misc]
                    bool,
                    within_s=180,
                    what=f"start {starts} after {kills} kills: a create (and its SIGKILL), or every push"
                    f" done (its log: {process.log_path})",
                )
                if process.process.returncode is not None:
                    kills += 1
                else:
                    await process.terminate()
        finally:
            await pool.close()
        organizations = [
            r.data.get("website") for r in sandbox.handle.state.tables[Entity.ORGANIZATION].live()
        ]
    twice = sum(1 for domain in domains if organizations.count(domain) > 1)
    missing = sum(1 for domain in domains if organizations.count(domain) == 0)
    fault_report.record(
        f"pusher killed after a create, before its ledger write, x{kills}",
        {
            "companies": CREATES,
            "kills": kills,
            "duplicate_organizations": twice,
            "missing_organizations": missing,
            "seconds_to_finish": round(time.monotonic() - started, 1),
            "result": "ok" if twice == missing == 0 and kills >= CREATES else "failed",
        },
    )
    assert (twice, missing) == (0, 0)
    assert kills >= CREATES


async def _killed_or_done(process: ServiceProcess, pool: asyncpg.Pool, tenant: str) -> bool:
    assert process.process is not None
    return process.process.returncode is not None or await _pushed(pool, "pusher", tenant) >= CREATES
