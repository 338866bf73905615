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

    outcomes = sorted(result_of(h)["outcome"] for h in handled)
    assert outcomes == ["created", "updated"]
    [account] = await harness.rows("accounts")
    links = await harness.rows("links")
    assert {(link["pipedrive_id"], link["abm_id"]) for link in links} == {
        (1, account["abm_id"]),
        (2, account["abm_id"]),
    }
    assert account["match_key"] == "acme.io" and not account["is_duplicate"]


async def test_a_batch_that_planned_a_domain_another_committed_meanwhile_updates_that_account(
    pg_pool: asyncpg.Pool, mapper_schema: str, database_url: str, two_mappers: TwoMappers
) -> None:
    harness, first, second = two_mappers
    tenant = harness.tenant
    later = AT.replace(minute=5)
    batch = [
        organization(tenant, 2, "other.io", 7),
        organization(tenant, 4, "www.acme.io", 7),  # planned as acme.io's new account
        organization(tenant, 6, "https://acme.io/", 7),  # planned as an update of 4's
        organization(tenant, 4, "beta.io", 7, at=later),  # 4 again, through its link
        organization(tenant, 8, "beta.io", 7),  # planned as beta.io's new account, 4's keeps acme.io
    ]
    # The first unit locks acme.io and is held at its insert; the second plans its whole batch (nothing
    # stored yet), then waits for acme.io. Once released, the first commits acme.io's account, and the
    # second finds it under the key it locked and applies 4 and 6 (and 4's later version) to it.
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
    assert outcomes == [
        ("created", accounts["other.io"]["abm_id"]),
        ("updated", acme),
        ("updated", acme),
        ("updated", acme),
        ("created", accounts["beta.io"]["abm_id"]),
    ]
    links = {link["pipedrive_id"]: link["abm_id"] for link in await harness.rows("links")}
    assert links == {
        1: acme,
        2: accounts["other.io"]["abm_id"],
        4: acme,
        6: acme,
        8: accounts["beta.io"]["abm_id"],
    }
    assert accounts["acme.io"]["fields"]["website"] == "beta.io"  # 4's later version, applied last to it


async def test_two_batches_updating_one_account_keep_each_others_fields(
    pg_pool: asyncpg.Pool, mapper_schema: str, database_url: str, two_mappers: TwoMappers
) -> None:
    harness, first, second = two_mappers
    tenant = harness.tenant
    [made] = await first.source_changed_batch([organization(tenant, 1, "acme.io", 3)])
    assert result_of(made)["outcome"] == "created"
    # Both batches load the account unlocked and plan an update of it. The first locks it and is held at
    # its write; the second, locking it too, waits, then reads it as the first left it and writes its
    # change over that (the first's address stays), not over the row it loaded.
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
    assert [result_of(h)["outcome"] for h in handled] == ["updated", "updated"]
    assert {result_of(h)["abm_id"] for h in handled} == {account["abm_id"]}
    assert account["fields"]["name"] == "Org 4"
    assert account["fields"]["address"] == "1 Main St"
