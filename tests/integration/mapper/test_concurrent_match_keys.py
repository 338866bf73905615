"""Two mappers applying, at the same time, organizations of one domain that came on different partitions
(their source changes are keyed by Pipedrive id): one account, both organizations linked to it, and both
batches apply in one go (no unique violation, so no retries, no split, nothing dead-lettered). The
contended path of `mapper.source_changes_apply`: a batch that planned to create under a key, and found
on locking it that another unit committed a record there meanwhile, or that a record it writes over was
written meanwhile, plans the changes that reaches again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, NamedTuple

import asyncpg
import pytest

from mapper.bootstrap import build_handlers
from mapper.handlers import MapperHandlers
from schemas.catalog import build_event
from schemas.envelope import CloudEvent
from schemas.events.common import SyncObject
from schemas.events.source_changes import ChangeAction, ChangeOrigin, SourceChange
from schemas.keys import source_change_key
from schemas.topics import SOURCE_CHANGES
from stream_runner.messages import IncomingMessage
from tests.integration.mapper.conftest import MapperHarness, result_of

pytestmark = pytest.mark.integration
ORG = SyncObject.ORGANIZATION
AT = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def organization(
    tenant: str, pipedrive_id: int, website: str, partition: int, at: datetime = AT, **more: Any
) -> Any:
    change = SourceChange(
        object=ORG,
        pipedrive_id=pipedrive_id,
        action=ChangeAction.UPSERTED,
        update_time=at,
        record={"id": pipedrive_id, "name": f"Org {pipedrive_id}", "website": website, **more},
        origin=ChangeOrigin.POLL,
    )
    key = source_change_key(tenant, ORG, pipedrive_id)
    event: CloudEvent[Any] = build_event(
        change, tenant=tenant, subject=key, source="/itest", id_parts=(key, at), time=at
    )
    return event, IncomingMessage(SOURCE_CHANGES.name, partition, 0, key.encode(), b"")


async def blocked_by(pool: asyncpg.Pool, pid: int) -> set[int]:
    """The backends waiting, directly or through another waiting backend, on backend `pid`."""
    rows = await pool.fetch(
        "SELECT pid, pg_blocking_pids(pid) AS blockers FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    waiting, grown = {pid}, True
    while grown:
        more = {r["pid"] for r in rows if set(r["blockers"]) & waiting} - waiting
        waiting |= more
        grown = bool(more)
    return waiting - {pid}


async def until_waiting(pool: asyncpg.Pool, pid: int, count: int) -> None:
    """Returns once `count` backends wait on backend `pid`."""
    async with asyncio.timeout(60):  # a guard against a hang, not a measure
        while True:
            if len(await blocked_by(pool, pid)) >= count:
                return
            await asyncio.sleep(0.05)


class AccountsGate:
    """A third transaction holding back every insert into or update of `accounts` (a SHARE lock) until
    `release`: the units under test reach their writes and wait there, in an order the test chooses."""

    def __init__(self, pool: asyncpg.Pool, connection: asyncpg.Connection) -> None:
        self._pool, self._connection = pool, connection
        self._transaction = connection.transaction()

    async def hold(self, schema: str) -> None:
        await self._transaction.start()
        await self._connection.execute(f"LOCK TABLE {schema}.accounts IN SHARE MODE")

    async def until_waiting(self, count: int) -> None:
        """Returns once `count` backends wait on the gate, directly or one behind the other."""
        await until_waiting(self._pool, self._connection.get_server_pid(), count)

    async def release(self) -> None:
        await self._transaction.commit()


@contextlib.asynccontextmanager
async def accounts_gate(pool: asyncpg.Pool, database_url: str, schema: str) -> AsyncIterator[AccountsGate]:
    connection = await asyncpg.connect(database_url)
    try:
        gate = AccountsGate(pool, connection)
        await gate.hold(schema)
        yield gate
    finally:
        await connection.close()


class TwoMappers(NamedTuple):
    """The store's harness and two mappers' service layers on one schema, as two processes have them."""

    harness: MapperHarness
    first: MapperHandlers
    second: MapperHandlers


@pytest.fixture
def two_mappers(pg_pool: asyncpg.Pool, mapper_schema: str) -> TwoMappers:
    return TwoMappers(
        MapperHarness(pg_pool, mapper_schema),
        build_handlers(pg_pool, mapper_schema),
        build_handlers(pg_pool, mapper_schema),
    )


async def test_two_mappers_create_one_account_for_a_domain(
    pg_pool: asyncpg.Pool, mapper_schema: str, database_url: str, two_mappers: TwoMappers
) -> None:
    harness, first, second = two_mappers
    tenant = harness.tenant
    # Both batches read the store before either writes: a third transaction holds back every insert into
    # accounts (SHARE lock) until both mappers wait, directly or one behind the other.
    async with accounts_gate(pg_pool, database_url, mapper_schema) as gate:
        batches = [
            asyncio.ensure_future(first.source_changed_batch([organization(tenant, 1, "acme.io", 3)])),
            asyncio.ensure_future(second.source_changed_batch([organization(tenant, 2, "www.acme.io", 7)])),
        ]
        await gate.until_waiting(2)
        await gate.release()
        handled = [one for batch in await asyncio.gather(*batches) for one in batch]

    # One creates the account and links it; the other, waiting on the key, finds it linked: a duplicate.
    results = sorted((result_of(h) for h in handled), key=lambda r: r["outcome"])
    assert [r["outcome"] for r in results] == ["created", "skipped"]
    [account] = await harness.rows("accounts")
    links = await harness.rows("links")
    creator = results[0]["pipedrive_id"]
    assert {(link["pipedrive_id"], link["abm_id"]) for link in links} == {(creator, account["abm_id"])}
    assert results[1]["message"] == f"Duplicate found: acme.io is linked to Pipedrive organization {creator}"
    assert account["match_key"] == "acme.io" and not account["is_duplicate"]


async def test_a_batch_that_planned_a_domain_another_committed_meanwhile_skips_its_duplicates(
    pg_pool: asyncpg.Pool, mapper_schema: str, database_url: str, two_mappers: TwoMappers
) -> None:
    harness, first, second = two_mappers
    tenant = harness.tenant
    later = AT.replace(minute=5)
    batch = [
        organization(tenant, 2, "other.io", 7),
        organization(tenant, 4, "www.acme.io", 7),  # planned as acme.io's new account
        organization(tenant, 6, "https://acme.io/", 7),  # planned as a duplicate of 4's
        organization(tenant, 4, "beta.io", 7, at=later),  # 4 again, through its link
        organization(tenant, 8, "beta.io", 7),  # planned as beta.io's new account, 4's keeps acme.io
    ]
    # The first unit locks acme.io and is held at its insert; the second plans its whole batch (nothing
    # stored yet), then waits for acme.io. Once released, the first commits acme.io's account, linked to
    # 1, and the second finds it under the key it locked: 4 and 6 are duplicates of 1, skipped; 4's later
    # version, unlinked, makes beta.io's account, and 8 is a duplicate of that.
    async with accounts_gate(pg_pool, database_url, mapper_schema) as gate:
        one = asyncio.ensure_future(first.source_changed_batch([organization(tenant, 1, "acme.io", 3)]))
        await gate.until_waiting(1)
        other = asyncio.ensure_future(second.source_changed_batch(batch))
        await gate.until_waiting(2)
        await gate.release()
        [created] = await one
        handled = await other

    accounts = {a["match_key"]: a for a in await harness.rows("accounts")}
    assert sorted(accounts) == ["acme.io", "beta.io", "other.io"]
    assert not any(a["is_duplicate"] for a in accounts.values())
    acme = accounts["acme.io"]["abm_id"]
    assert result_of(created)["outcome"] == "created" and result_of(created)["abm_id"] == acme
    outcomes = [(result_of(h)["outcome"], result_of(h)["abm_id"]) for h in handled]
    beta = accounts["beta.io"]["abm_id"]
    assert outcomes == [
        ("created", accounts["other.io"]["abm_id"]),
        ("skipped", acme),
        ("skipped", acme),
        ("created", beta),
        ("skipped", beta),
    ]
    assert [result_of(h).get("message") for h in handled] == [
        None,
        "Duplicate found: acme.io is linked to Pipedrive organization 1",
        "Duplicate found: acme.io is linked to Pipedrive organization 1",
        None,
        "Duplicate found: beta.io is linked to Pipedrive organization 4",
    ]
    links = {link["pipedrive_id"]: link["abm_id"] for link in await harness.rows("links")}
    assert links == {1: acme, 2: accounts["other.io"]["abm_id"], 4: beta}
    assert accounts["acme.io"]["fields"]["name"] == "Org 1"  # never followed 4 or 6


async def test_two_batches_linking_one_unlinked_account_link_one_and_skip_the_other(
    pg_pool: asyncpg.Pool, mapper_schema: str, database_url: str, two_mappers: TwoMappers
) -> None:
    harness, first, second = two_mappers
    tenant = harness.tenant
    # An account no Pipedrive organization links (as a reveal makes one).
    await pg_pool.execute(
        f"INSERT INTO {mapper_schema}.accounts (tenant_id, abm_id, match_key, fields)"
        " VALUES ($1, 'revealed', 'acme.io', '{\"name\": \"Acme\"}')",
        tenant,
    )
    # Both batches load the account unlocked and plan to update and link it. The first locks its key and
    # is held at its write; the second, locking the key too, waits, then reads the account as the first
    # left it, linked to 3: its organization 4 is a duplicate of 3, skipped; the account follows 3 only.
    async with accounts_gate(pg_pool, database_url, mapper_schema) as gate:
        one = asyncio.ensure_future(
            first.source_changed_batch([organization(tenant, 3, "acme.io", 3, address="1 Main St")])
        )
        await gate.until_waiting(1)
        other = asyncio.ensure_future(second.source_changed_batch([organization(tenant, 4, "acme.io", 7)]))
        await gate.until_waiting(2)
        await gate.release()
        handled = [*await one, *await other]

    [account] = await harness.rows("accounts")
    assert [result_of(h)["outcome"] for h in handled] == ["updated", "skipped"]
    assert (
        result_of(handled[1])["message"] == "Duplicate found: acme.io is linked to Pipedrive organization 3"
    )
    assert {result_of(h)["abm_id"] for h in handled} == {account["abm_id"]}
    assert account["fields"]["name"] == "Org 3"
    assert account["fields"]["address"] == "1 Main St"
    assert [(link["pipedrive_id"], link["abm_id"]) for link in await harness.rows("links")] == [
        (3, "revealed")
    ]
