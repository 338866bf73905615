"""A long two-way run: the pusher and the connector as processes against the sandbox, twelve rounds of ABM
changes pushed into Pipedrive and Pipedrive edits synced back; then the input stops.

Checked from the sandbox's ledger and change history: Pipedrive received exactly one write per real change
(no write caused by an echo, a repeated reveal, a score step below the threshold or a stale reveal), no
write after the input stopped, and no field a person edited in Pipedrive was set back by the pusher.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from pipedrive_sandbox import SandboxHandle
from pipedrive_sandbox.events import ChangeEvent, ChangeSource
from pipedrive_sandbox.store import Entity
from schemas.catalog import build_event, event_type_of
from schemas.codec import encode_event
from schemas.events.abm_signals import CompanyRevealed, ScoreChanged
from schemas.events.common import SyncObject
from schemas.keys import record_key
from schemas.topics import topics_consumed_by
from tenant_auth.registry import TenantRegistry
from tests.support.conditions import eventually
from tests.support.kafka_offsets import position_group_at_end
from tests.support.schemas import drop_schemas
from tests.support.service_process import ServiceProcess

pytestmark = pytest.mark.integration
ROUNDS = 12
COMPANIES = 6
WRITES = {"POST", "PATCH", "PUT", "DELETE"}
# The pusher reads every tenant's source changes: on a Kafka shared with other suites' imports it may have
# thousands to get through before this test's, so waits are generous (a quiet run takes about 20 s).
WAIT_S = 120
ORGANIZATION_FIELDS = [
    {"abm_field": "name", "pipedrive_field": "name", "to_pipedrive": "overwrite", "to_abm": "overwrite"},
    {"abm_field": "website", "pipedrive_field": "website", "to_pipedrive": "fill", "to_abm": "fill"},
    {
        "abm_field": "employee_count",
        "pipedrive_field": "employee_count",
        "to_pipedrive": "overwrite",
        "to_abm": "dont_sync",
    },
    {
        "abm_field": "address",
        "pipedrive_field": "address",
        "to_pipedrive": "dont_sync",
        "to_abm": "overwrite",
    },
]
BOTH_WAYS = {
    "create_in_pipedrive": True,
    "update_in_pipedrive": True,
    "create_in_abm": True,
    "update_in_abm": True,
}


@dataclass
class Company:
    """The ABM platform's view of one company, and what Pipedrive should hold after each round."""

    domain: str
    name: str
    employees: int
    score: int | None = None  # the score Pipedrive holds
    renamed_at: datetime | None = None
    name_before_rename: str | None = None


@dataclass
class History:
    """Every change the sandbox made to organizations, in order: (id, field, old, new, source)."""

    changes: list[tuple[int, str, Any, Any, ChangeSource]] = field(default_factory=list)

    def listen(self, event: ChangeEvent) -> None:
        if event.entity is not Entity.ORGANIZATION or not event.previous or event.data is None:
            return
        for name, old in event.previous.items():
            self.changes.append((event.entity_id, name, old, event.data.get(name), event.change_source))

    def user_edits_set_back(self) -> list[tuple[int, str, Any]]:
        """(id, field, value) where the API restored a value a person had just replaced in the app."""
        reverted, replaced = [], {}
        for record_id, name, old, new, source in self.changes:
            if source is ChangeSource.APP:
                replaced[(record_id, name)] = old
            elif replaced.get((record_id, name)) == new:
                reverted.append((record_id, name, new))
        return reverted

    def flips(self) -> list[tuple[int, str]]:
        """(id, field) whose value went A -> B -> A."""
        seen: dict[tuple[int, str], list[Any]] = {}
        for record_id, name, old, new, _source in self.changes:
            values = seen.setdefault((record_id, name), [old])
            values.append(new)
        return [
            key
            for key, values in seen.items()
            if any(values[i] == values[i + 2] for i in range(len(values) - 2))
        ]


class TwoWayRun:
    """The processes, the tenant's API key, and the ABM side's events."""

    def __init__(
        self, pool: asyncpg.Pool, sandbox: SandboxHandle, producer: AIOKafkaProducer, uid: str
    ) -> None:
        self.pool, self.sandbox, self.producer, self.uid = pool, sandbox, producer, uid
        self.tenant = f"tw{uid}"
        self.pusher_schema = f"itest_pusher_2w_{uid}"
        self.headers: dict[str, str] = {}
        self.connector: ServiceProcess | None = None
        self.sent = 0

    async def send(self, payload: BaseModel, domain: str, *id_parts: object) -> None:
        key = record_key(self.tenant, SyncObject.ORGANIZATION, domain)
        event = build_event(
            payload,
            tenant=self.tenant,
            subject=key,
            source="/itest/abm",
            id_parts=(self.uid, *map(str, id_parts)),
            time=datetime.now(UTC),
        )
        topic = event_type_of(payload).topic.name
        await self.producer.send_and_wait(topic, encode_event(event), key=key.encode())
        self.sent += 1

    async def pushes_applied(self) -> None:
        """Wait until the pusher applied every ABM event sent so far."""
        query = f"SELECT count(*) FROM {self.pusher_schema}.inbox WHERE tenant_id = $1 AND topic LIKE 'abm.%'"
        await eventually(
            lambda: self.pool.fetchval(query, self.tenant),
            lambda n: n == self.sent,
            within_s=WAIT_S,
            what="the pusher applied the ABM events",
        )

    async def api(self, method: str, path: str, body: Any = None) -> Any:
        assert self.connector is not None
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.connector.url + path, json=body, headers=self.headers) as response,
        ):
            assert response.status < 300, await response.text()
            return await response.json()

    async def sync_back(self) -> None:
        """Sync now, wait for the run, then for the pusher's mirror to hold every organization's version."""
        run = await self.api("POST", "/v1/sync")
        await eventually(
            lambda: self.api("GET", f"/v1/runs/{run['run_id']}"),
            lambda r: r["state"] == "finished",
            within_s=WAIT_S,
            what="the connector's sync",
        )
        await eventually(self._mirror_lag, lambda lag: lag == 0, within_s=WAIT_S, what="the pusher's mirror")

    async def _mirror_lag(self) -> int:
        rows = await self.pool.fetch(
            f"SELECT pipedrive_id, update_time FROM {self.pusher_schema}.mirror"
            " WHERE tenant_id = $1 AND object = 'organization'",
            self.tenant,
        )
        mirrored = {r["pipedrive_id"]: int(r["update_time"].timestamp()) for r in rows}
        table = self.sandbox.state.tables[Entity.ORGANIZATION]
        return sum(1 for r in table.live() if mirrored.get(r.id) != r.update_ts)

    async def next_second(self) -> None:
        """Pipedrive stamps versions in whole seconds: an edit in the second of the last write would share
        its version, which an incremental read cannot tell apart. The sandbox's clock is moved there
        rather than waited for."""
        table = self.sandbox.state.tables[Entity.ORGANIZATION]
        last = max((r.update_ts for r in table.live()), default=0)
        clock = self.sandbox.state.clock
        if int(clock.now()) <= last:
            clock.advance(last + 1 - clock.now())

    def writes(self) -> int:
        """Writes Pipedrive carried out (a call refused with a 429 changed nothing)."""
        return sum(1 for e in self.sandbox.state.ledger.entries if e.method in WRITES and e.status < 300)

    def organization(self, domain: str) -> Any:
        table = self.sandbox.state.tables[Entity.ORGANIZATION]
        return next(r for r in table.live() if r.data.get("website") == domain)


async def test_a_long_two_way_run_writes_each_real_change_once_and_stops_when_the_input_stops(
    pg_pool: asyncpg.Pool,
    kafka_bootstrap: str,
    sandbox: SandboxHandle,
    producer: AIOKafkaProducer,
    tmp_path: Path,
) -> None:
    uid = uuid.uuid4().hex[:8]
    run = TwoWayRun(pg_pool, sandbox, producer, uid)
    history = History()
    sandbox.state.entities.listeners.append(history.listen)
    schemas = (run.pusher_schema, f"itest_connector_2w_{uid}", f"itest_pdc_2w_{uid}")
    try:
        await _start(run, tmp_path, kafka_bootstrap, schemas)
        companies = [Company(f"tw{c}-{uid}.io", f"Two Way {c}", 10 * (c + 1)) for c in range(COMPANIES)]
        expected = 0
        for number in range(1, ROUNDS + 1):
            expected += await _abm_round(run, companies, number)
            await run.next_second()
            _pipedrive_round(run, companies, number)
            await run.sync_back()
            for company in companies:  # the Pipedrive name flows back into the ABM platform
                company.name = run.organization(company.domain).data["name"]

        assert run.writes() == expected
        # The input stops: more syncs bring back only echoes, and the ABM platform repeating what it
        # knows (every reveal, every score) is no change either.
        await run.sync_back()
        for company in companies:
            await run.send(_reveal(company), company.domain, "final", company.domain)
            await run.send(_score(company, company.score or 0), company.domain, "final-score", company.domain)
        await run.pushes_applied()
        await run.sync_back()

        assert run.writes() == expected
        echoes = (
            f"SELECT count(*) FROM {run.pusher_schema}.mirror WHERE tenant_id = $1 AND last_change_was_echo"
        )
        assert await pg_pool.fetchval(echoes, run.tenant) > 0, "the pusher's writes came back as echoes"
        assert history.user_edits_set_back() == []
        assert history.flips() == []
        for company in companies:
            record = run.organization(company.domain).data
            assert (record["name"], record["employee_count"]) == (company.name, company.employees)
    finally:
        await ServiceProcess.kill_all_running()
        await drop_schemas(pg_pool, *schemas)


async def _abm_round(run: TwoWayRun, companies: list[Company], number: int) -> int:
    """One round of ABM changes; returns how many Pipedrive writes they call for."""
    writes = 0
    changed = companies[number % COMPANIES]
    if number > 1:
        changed.employees += 10
        writes += 1
    for company in companies:
        await run.send(_reveal(company), company.domain, number, "reveal", company.domain)
    writes += COMPANIES if number == 1 else 0
    stale = [c for c in companies if c.renamed_at is not None and c.name_before_rename is not None]
    for company in stale:  # delayed reveals from before the rename: Pipedrive's newer name stays
        late = CompanyRevealed(
            domain=company.domain,
            name=company.name_before_rename or company.name,
            employee_count=company.employees,
            revealed_at=(company.renamed_at or datetime.now(UTC)) - timedelta(seconds=30),
        )
        await run.send(late, company.domain, number, "late", company.domain)
        company.renamed_at = None
    await run.pushes_applied()
    scored = companies[(number + 1) % COMPANIES]
    if number == 1:
        writes += 1  # the first score creates the engagement-score field, once for the account
    step = 15 if number % 2 == 0 else 3  # 3 is below the threshold: Pipedrive keeps the old score
    new = 40 if scored.score is None else scored.score + step
    await run.send(_score(scored, new), scored.domain, number, "score", scored.domain)
    if scored.score is None or step >= 10:
        scored.score, writes = new, writes + 1
    await run.pushes_applied()
    return writes


def _pipedrive_round(run: TwoWayRun, companies: list[Company], number: int) -> None:
    """People edit Pipedrive: an address (Pipedrive's own field) and, from round 2, a name."""
    state = run.sandbox.state
    user = state.admin_user.id
    addressed = run.organization(companies[(number + 2) % COMPANIES].domain)
    state.entities.update(
        Entity.ORGANIZATION,
        addressed.id,
        {"address": {"value": f"{number} Main Street"}},
        user,
        ChangeSource.APP,
    )
    if number < 2:
        return
    renamed = companies[(number + 3) % COMPANIES]
    record = run.organization(renamed.domain)
    renamed.name_before_rename = record.data["name"]
    state.entities.update(
        Entity.ORGANIZATION, record.id, {"name": f"{renamed.name} R{number}"}, user, ChangeSource.APP
    )
    renamed.renamed_at = datetime.fromtimestamp(record.update_ts, UTC)


def _reveal(company: Company) -> CompanyRevealed:
    return CompanyRevealed(
        domain=company.domain,
        name=company.name,
        employee_count=company.employees,
        revealed_at=datetime.now(UTC),
    )


def _score(company: Company, score: int) -> ScoreChanged:
    return ScoreChanged(domain=company.domain, score=score, changed_at=datetime.now(UTC))


async def _start(run: TwoWayRun, tmp_path: Path, kafka_bootstrap: str, schemas: tuple[str, str, str]) -> None:
    """The connector (connected by API token, two-way settings with auto-push) and the pusher."""
    key = uuid.uuid4().bytes.hex() * 2
    pusher_schema, connector_schema, client_schema = schemas
    group = f"itest-pusher-2w-{run.uid}"
    await position_group_at_end(kafka_bootstrap, group, topics_consumed_by("pusher"))
    connector = ServiceProcess(
        "connector",
        {
            "CONNECTOR_DB_SCHEMA": connector_schema,
            "PIPEDRIVE_CLIENT_SCHEMA": client_schema,
            "PSYNC_CREDENTIALS_KEY": key,
            "PIPEDRIVE_ALLOWED_TEST_URLS": run.sandbox.base_url,
            "CONNECTOR_DEFAULT_API_BASE_URL": run.sandbox.base_url,
            "CONNECTOR_OVERLAP_SECONDS": "60",
        },
        tmp_path / "connector.log",
    )
    pusher = ServiceProcess(
        "pusher",
        {
            "PUSHER_GROUP_ID": group,
            "PUSHER_DB_SCHEMA": pusher_schema,
            "PUSHER_COMMIT_INTERVAL_S": "0.2",
            "PSYNC_CREDENTIALS_KEY": key,
            "PIPEDRIVE_CLIENT_SCHEMA": client_schema,
            "PIPEDRIVE_ALLOWED_TEST_URLS": run.sandbox.base_url,
        },
        tmp_path / "pusher.log",
    )
    # Both start at once (the pusher's group is positioned: it reads the settings whenever it joins).
    await connector.start()
    await pusher.start()
    await connector.wait_ready()
    run.connector = connector
    registry = TenantRegistry(run.pool)
    await registry.create_tenant(run.tenant, run.tenant)
    run.headers = {"Authorization": f"Bearer {(await registry.issue_key(run.tenant)).full_key}"}
    await run.api("POST", "/v1/connection/api-token", {"api_token": run.sandbox.api_token})
    settings = await run.api(
        "PUT",
        "/v1/settings",
        {
            "objects": {"organization": {"directions": BOTH_WAYS, "fields": ORGANIZATION_FIELDS}},
            "auto_push": {"enabled": True, "score_threshold": 10},
        },
    )
    await pusher.wait_ready()
    query = f"SELECT version FROM {pusher_schema}.tenant_settings WHERE tenant_id = $1"
    await eventually(
        lambda: run.pool.fetchval(query, run.tenant),
        lambda v: v == settings["version"],
        within_s=WAIT_S,
        what="the pusher holds the two-way settings",
    )
