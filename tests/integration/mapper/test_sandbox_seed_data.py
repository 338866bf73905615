"""The sandbox's messy seed data (websites as typed, shared emails) matched to the right records."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import aiohttp
import pytest

from mapper.bootstrap import build_handlers
from pipedrive_sandbox import Plan, SandboxConfig, run_sandbox
from schemas.catalog import build_event
from schemas.events.common import SyncObject
from schemas.events.source_changes import ChangeAction, ChangeOrigin, SourceChange
from schemas.keys import source_change_key
from schemas.topics import SOURCE_CHANGES
from stream_runner.messages import IncomingMessage
from sync_rules.match_keys import pipedrive_match_key
from tests.integration.mapper.conftest import MapperHarness

pytestmark = pytest.mark.integration


async def _list_all(
    session: aiohttp.ClientSession, base_url: str, token: str, entity: str
) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
        async with session.get(
            f"{base_url}/api/v2/{entity}", params=params, headers={"x-api-token": token}
        ) as r:
            body = await r.json()
        records += body["data"]
        cursor = body["additional_data"]["next_cursor"]
        if cursor is None:
            return records


def _items(tenant: str, obj: SyncObject, records: list[dict[str, Any]]) -> list[Any]:
    items = []
    for offset, record in enumerate(records):
        at = datetime.fromisoformat(record["update_time"])
        change = SourceChange(
            object=obj, pipedrive_id=record["id"], action=ChangeAction.UPSERTED, update_time=at,
            record=record, origin=ChangeOrigin.IMPORT,
        )  # fmt: skip
        key = source_change_key(tenant, obj, record["id"])
        event = build_event(change, tenant=tenant, subject=key, source="/itest", id_parts=(key, at), time=at)
        items.append((event, IncomingMessage(SOURCE_CHANGES.name, 0, offset, key.encode(), b"")))
    return items


@pytest.mark.parametrize(("obj", "entity", "table"), [
    (SyncObject.ORGANIZATION, "organizations", "accounts"),
    (SyncObject.PERSON, "persons", "contacts"),
])  # fmt: skip
async def test_seeded_records_land_on_one_record_per_match_key(
    mapper: MapperHarness, obj: SyncObject, entity: str, table: str
) -> None:
    config = SandboxConfig(plan=Plan.ULTIMATE, organizations=400, seed=11)
    async with run_sandbox(config) as sandbox, aiohttp.ClientSession() as session:
        records = await _list_all(session, sandbox.base_url, sandbox.state.config.api_token, entity)
    handlers = build_handlers(mapper.pool, mapper.schema)
    of_key: dict[str, list[int]] = defaultdict(list)
    for record in records:
        key = pipedrive_match_key(obj, record)
        if key is not None:
            of_key[key].append(record["id"])
    # Each key's record is linked to the first Pipedrive record of the key; the others are its duplicates.
    expected = {key: {ids[0]} for key, ids in of_key.items()}

    results = await handlers.source_changed_batch(_items(mapper.tenant, obj, records))

    rows = await mapper.rows(table)
    assert sorted(r["match_key"] for r in rows) == sorted(expected)
    account_of = {r["abm_id"]: r["match_key"] for r in rows}
    linked: dict[str, set[int]] = defaultdict(set)
    for link in await mapper.rows("links"):
        linked[account_of[link["abm_id"]]].add(link["pipedrive_id"])
    assert linked == expected
    assert any(len(ids) > 1 for ids in of_key.values()), "the seed shares no key: the test proves less"
    skipped = sum(1 for r in records if pipedrive_match_key(obj, r) is None)
    duplicates = sum(len(ids) - 1 for ids in of_key.values())
    assert sum(1 for h in results if b'"skipped"' in h.outputs[0].value) >= skipped + duplicates
    assert sum(1 for h in results if b"is linked to Pipedrive" in h.outputs[0].value) == duplicates
