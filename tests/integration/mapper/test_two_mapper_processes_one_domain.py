"""Two mapper processes of one deployment (one consumer group, one schema, as `make up` runs them), seen
from outside: a burst of source changes of organizations sharing website domains, from different records
(so keyed to different partitions, so worked by both processes at once), goes in on
`psync.source-changes.v1`; the mapper's accounts API and `psync.record-results.v1` come out. Each domain
has exactly one account, one organization of it created it and is linked to it, and every other was
skipped as a duplicate naming that one (every result names the domain's account, none failed). The
in-process version of the race is tests/integration/mapper/test_concurrent_match_keys.py; this one runs
the processes themselves."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest

from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.events.common import SyncObject
from schemas.events.source_changes import ChangeAction, ChangeOrigin, SourceChange
from schemas.keys import source_change_key
from schemas.topics import KEYED_PARTITIONS, RECORD_RESULTS
from tenant_auth.registry import TenantRegistry
from tests.integration.mapper.test_mapper_scale_out import owned_partitions, produce
from tests.support.conditions import eventually
from tests.support.kafka_offsets import end_offsets, values_since
from tests.support.service_process import ServiceProcess

pytestmark = pytest.mark.integration

DOMAINS = 24
RECORDS_PER_DOMAIN = 8
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _change(tenant: str, pipedrive_id: int, domain: str, run_id: str) -> tuple[bytes, bytes]:
    """A sync's change of one organization whose website is on `domain` (spelled a few ways)."""
    at = T0 + timedelta(seconds=pipedrive_id)
    website = (f"https://www.{domain}/", domain, f"HTTP://{domain.upper()}/about", f"www.{domain}.")[
        pipedrive_id % 4
    ]
    change = SourceChange(
        object=SyncObject.ORGANIZATION,
        pipedrive_id=pipedrive_id,
        action=ChangeAction.UPSERTED,
        update_time=at,
        record={"id": pipedrive_id, "name": f"Org {pipedrive_id}", "website": website},
        origin=ChangeOrigin.POLL,
    )
    key = source_change_key(tenant, SyncObject.ORGANIZATION, pipedrive_id)
    event = build_event(
        change, tenant=tenant, subject=key, source="/itest", id_parts=(key, at), time=at, correlationid=run_id
    )
    return key.encode(), encode_event(event)


async def _accounts(url: str, api_key: str) -> list[dict[str, Any]]:
    """Every account of the tenant, through the accounts API's pages."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {api_key}"}) as session:
        while True:
            params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
            async with session.get(f"{url}/v1/accounts", params=params) as response:
                assert response.status == 200, await response.text()
                page = await response.json()
            found += page["data"]
            cursor = page["next_cursor"]
            if cursor is None:
                return found


async def test_two_mapper_processes_make_one_account_per_domain_and_skip_its_duplicates(
    mapper_env: dict[str, str], kafka_bootstrap: str, pg_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    tenant = f"twomap{uuid.uuid4().hex[:8]}"
    registry = TenantRegistry(pg_pool)
    await registry.create_tenant(tenant, "Two mappers")
    api_key = (await registry.issue_key(tenant, "test")).full_key
    env = {**mapper_env, "MAPPER_LOG_LEVEL": "WARNING", "MAPPER_SESSION_TIMEOUT_S": "6"}
    mappers = [ServiceProcess("mapper", env, tmp_path / f"mapper-{n}.log") for n in (1, 2)]
    for mapper in mappers:
        await mapper.start()
    for mapper in mappers:
        await mapper.wait_ready()
    await eventually(
        lambda: _owned(mappers),
        lambda owned: [len(o) for o in owned] == [KEYED_PARTITIONS // 2] * 2,
        within_s=90,
        what="both mapper processes owning half the partitions",
    )
    domains = [f"shared{n}-{tenant}.com" for n in range(DOMAINS)]
    domain_of = {n + 1: domains[n % DOMAINS] for n in range(DOMAINS * RECORDS_PER_DOMAIN)}
    results_before = await end_offsets(kafka_bootstrap, RECORD_RESULTS)

    landed = await produce(
        kafka_bootstrap, [_change(tenant, pid, domain, "sync-1") for pid, domain in domain_of.items()]
    )

    async def results() -> dict[int, dict[str, Any]]:
        values = await values_since(kafka_bootstrap, RECORD_RESULTS, results_before)
        events = (orjson.loads(value or b"{}") for value in values)
        return {e["data"]["pipedrive_id"]: e["data"] for e in events if e.get("tenantid") == tenant}

    done = await eventually(
        results, lambda r: len(r) == len(domain_of), within_s=120, what="a result for every change"
    )
    accounts = await _accounts(mappers[1].url, api_key)
    for mapper in mappers:
        assert await mapper.terminate() == 0, mapper.log_tail()

    assert len(set(landed)) > KEYED_PARTITIONS // 2, "the burst did not reach both processes' partitions"
    creators = {domain_of[pid]: pid for pid, r in done.items() if r["outcome"] == "created"}
    assert sorted(creators) == sorted(domains)
    assert sum(r["outcome"] == "created" for r in done.values()) == DOMAINS
    unexplained = {
        pid: r.get("message") for pid, r in done.items() if r["outcome"] != "created"
        and r.get("message") != f"Duplicate found: {domain_of[pid]} is linked to Pipedrive organization"
        f" {creators[domain_of[pid]]}"
    }  # fmt: skip
    assert unexplained == {}, list(unexplained.items())[:5]
    by_domain: dict[str, list[str]] = defaultdict(list)
    for account in accounts:
        by_domain[account["domain"]].append(account["abm_id"])
    assert sorted(by_domain) == sorted(domains)
    assert {d: len(ids) for d, ids in by_domain.items() if len(ids) != 1} == {}
    elsewhere = {
        pid for pid, r in done.items() if r["abm_id"] != by_domain[domain_of[pid]][0]
    }  # every change's result names its domain's one account
    assert elsewhere == set()


async def _owned(mappers: list[ServiceProcess]) -> list[set[int]]:
    return [await owned_partitions(m) for m in mappers]
