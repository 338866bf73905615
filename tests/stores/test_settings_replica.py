"""One suite, two replicas: the settings replica on PostgreSQL and the service tests' in-memory one keep
alike the newest version of each tenant's settings, one update or many in one statement."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from pusher.bootstrap import install_tables
from schemas.events.common import SyncObject
from schemas.events.settings import AutoPush, FieldMapping, ObjectSettings, TenantSettings
from settings_replica.replica import SettingsReplica
from tests.service.settings_fake import InMemorySettings
from tests.stores.backends import BACKENDS, memory_or_postgres
from tests.support.schemas import fresh_schema

Replica = SettingsReplica | InMemorySettings


@pytest.fixture(scope="module")
async def postgres_store(pg_pool: asyncpg.Pool) -> AsyncIterator[SettingsReplica]:
    """A pusher schema's replica table, shared by the module (each test has tenants of its own)."""
    async with fresh_schema(pg_pool, "settings", install_tables) as schema:
        yield SettingsReplica(pg_pool, schema)


@pytest.fixture(params=BACKENDS)
def replica(request: pytest.FixtureRequest) -> Replica:
    """The fake, or PostgreSQL."""
    return memory_or_postgres(request, InMemorySettings)


def settings(version: int, auto_push: bool = False) -> TenantSettings:
    return TenantSettings(version=version, objects={}, auto_push=AutoPush(enabled=auto_push))


async def test_settings_come_back_as_they_were_stored(replica: Replica, tenant: str) -> None:
    mapping = FieldMapping(abm_field="industry", pipedrive_field='Sector "ABM" ü', custom=True)
    stored = TenantSettings(
        version=4, objects={SyncObject.PERSON: ObjectSettings(fields=(mapping,))},
        auto_push=AutoPush(enabled=True, score_threshold=55), connected=True,
        pipedrive_web_url="https://acme.pipedrive.com",
    )  # fmt: skip

    assert await replica.store_all([(tenant, "e4", stored)]) == [True]

    assert await replica.get(tenant) == stored


async def test_many_updates_keep_each_tenants_newest_settings(replica: Replica, tenant: str) -> None:
    other = tenant + "-b"
    assert await replica.store_all([(other, "b3", settings(3))]) == [True]

    stored = await replica.store_all([
        (tenant, "a1", settings(1)),
        (tenant, "a2", settings(2, auto_push=True)),
        (other, "b2", settings(2, auto_push=True)),
        (tenant, "a2-again", settings(2)),
        (tenant, "a1-late", settings(1)),
    ])  # fmt: skip

    assert stored == [False, True, False, False, False]
    assert await replica.get(tenant) == settings(2, auto_push=True)
    kept_other = await replica.get(other)
    assert kept_other is not None and kept_other.version == 3 and not kept_other.auto_push.enabled
    assert await replica.store_all([(tenant, "a2", settings(2))]) == [False]
    assert await replica.store_all([]) == []
    assert await replica.store_all([(tenant, "a3", settings(3))]) == [True]
