"""The whole product as processes (connector, mapper, pusher, auditlog) on a given PostgreSQL and Kafka,
against an in-process Pipedrive sandbox, with one tenant connected: what fault tests import through
while they crash things, and what they read back to prove that nothing was lost or doubled.

Every figure is read from what the product keeps (its APIs, its tables, its topics), for the stack's
tenant only.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson

from mapper.bootstrap import install_tables as install_mapper_tables
from pipedrive_sandbox import SandboxConfig
from pipedrive_sandbox.store import Entity
from postgres_store.pool import create_pool
from schemas.topics import BULK_SOURCE_CHANGES, SOURCE_CHANGES, SYNC_RUNS, topics_consumed_by
from tenant_auth.registry import TenantRegistry
from tests.integration.mapper.test_mapper_crash import apply_cleanly, store_rows
from tests.pipedrive_client.sandbox_server import RecordingSandbox, recording_sandbox
from tests.support.conditions import eventually
from tests.support.kafka_offsets import end_offsets, keyed_values_since, position_group_at_end
from tests.support.service_process import ServiceProcess

SERVICES = ("connector", "mapper", "pusher", "auditlog")


@dataclass(frozen=True)
class Tally:
    """What the product holds for the tenant after an import, and the repeats among it."""

    sandbox: int
    emitted_ids: int
    emitted_messages: int
    mapper_inbox: int
    applied_counted: int
    audit_entries: int
    audit_entry_records: int
    pusher_mirror: int
    store_equals_clean_apply: bool

    @property
    def lost(self) -> int:
        """Records missing from some service (summed over the figures that fall short)."""
        return sum(max(wanted - found, 0) for found, wanted in self._counts().values())

    @property
    def doubled(self) -> int:
        """Records some service holds more than once (summed over the figures that exceed)."""
        return sum(max(found - wanted, 0) for found, wanted in self._counts().values())

    def _counts(self) -> dict[str, tuple[int, int]]:
        return {
            "emitted_ids": (self.emitted_ids, self.sandbox),
            "mapper_inbox": (self.mapper_inbox, self.sandbox),
            "applied_counted": (self.applied_counted, self.sandbox),
            "audit_entries": (self.audit_entries, self.sandbox),
            "audit_entry_records": (self.audit_entry_records, self.sandbox),
            "pusher_mirror": (self.pusher_mirror, self.sandbox),
        }

    @property
    def lost_or_doubled(self) -> dict[str, int | bool]:
        """Every figure that differs from what one clean pass over the sandbox gives."""
        expected: dict[str, tuple[int | bool, int | bool]] = {
            "emitted_ids": (self.emitted_ids, self.sandbox),
            "mapper_inbox": (self.mapper_inbox, self.emitted_ids),
            "applied_counted": (self.applied_counted, self.emitted_ids),
            "audit_entries": (self.audit_entries, self.emitted_ids),
            "audit_entry_records": (self.audit_entry_records, self.emitted_ids),
            "pusher_mirror": (self.pusher_mirror, self.sandbox),
            "store_equals_clean_apply": (self.store_equals_clean_apply, True),
        }
        return {name: found for name, (found, wanted) in expected.items() if found != wanted}


def store_projection(rows: dict[str, list[Any]]) -> dict[str, Counter[Any]]:
    """What two applies of one import must agree on whatever the order across partitions (which of two
    organizations sharing a domain creates its account, and is linked to it, is a race even without
    faults): every account's match key, and the match keys the links point to, each as many times as
    it occurs."""
    key_of = {row[0]: row[1] for row in rows["accounts"]}
    return {
        "accounts": Counter(row[1] for row in rows["accounts"]),
        "links": Counter((row[0], key_of.get(row[2])) for row in rows["links"]),
    }


@dataclass
class ImportStack:
    """Processes of every service on one PostgreSQL and one Kafka, one tenant, one sandbox."""

    database_url: str
    bootstrap: str
    sandbox: RecordingSandbox
    log_dir: Path
    tenant: str = field(default_factory=lambda: f"out{uuid.uuid4().hex[:10]}")
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    processes: dict[str, ServiceProcess] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    pool: asyncpg.Pool | None = None
    marks: dict[str, Any] = field(default_factory=dict)
    log_level: str = "WARNING"

    def env(self, service: str) -> dict[str, str]:
        """The environment of one service process."""
        shared = {
            "DATABASE_URL": self.database_url,
            "KAFKA_BOOTSTRAP": self.bootstrap,
            "PIPEDRIVE_ALLOWED_TEST_URLS": self.sandbox.base_url,
            "PIPEDRIVE_CLIENT_SCHEMA": f"pdc_{self.suffix}",
            f"{service.upper()}_DB_SCHEMA": f"{service}_{self.suffix}",
            f"{service.upper()}_LOG_LEVEL": self.log_level,
        }
        own = {
            "connector": {
                "CONNECTOR_DEFAULT_API_BASE_URL": self.sandbox.base_url,
                "CONNECTOR_SCHEDULER_INTERVAL_S": "0.5",
            },
            "mapper": {"MAPPER_GROUP_ID": f"out-mapper-{self.suffix}", "MAPPER_SESSION_TIMEOUT_S": "6"},
            "pusher": {"PUSHER_GROUP_ID": f"out-pusher-{self.suffix}", "PUSHER_SESSION_TIMEOUT_S": "6"},
            "auditlog": {
                "AUDITLOG_GROUP_ID": f"out-auditlog-{self.suffix}",
                "AUDITLOG_SESSION_TIMEOUT_S": "6",
            },
        }
        return {**shared, **own[service]}

    def process(self, service: str, generation: int = 1) -> ServiceProcess:
        """A (new, not started) process of the service; `generation` numbers its restarts' logs."""
        process = ServiceProcess(service, self.env(service), self.log_dir / f"{service}-{generation}.log")
        if service == "connector":  # the sandbox delivers webhooks to the connector's own listener
            process.env["CONNECTOR_PUBLIC_BASE_URL"] = process.url
        self.processes[service] = process
        return process

    async def start(self) -> None:
        """Position the consumer groups at the topics' ends, start every service, connect the tenant."""
        self.pool = await create_pool(self.database_url, max_size=4)
        for service in SERVICES[1:]:
            group = self.env(service)[f"{service.upper()}_GROUP_ID"]
            await position_group_at_end(self.bootstrap, group, topics_consumed_by(service))
        for topic in (BULK_SOURCE_CHANGES, SOURCE_CHANGES):
            self.marks[topic.name] = await end_offsets(self.bootstrap, topic)
        self.marks[SYNC_RUNS.name] = await end_offsets(self.bootstrap, SYNC_RUNS)
        for service in SERVICES:
            await self.process(service).start()
        for service in SERVICES:
            await self.processes[service].wait_ready(within_s=120)
        registry = TenantRegistry(self.pool)
        await registry.install()
        await registry.create_tenant(self.tenant, self.tenant)
        key = await registry.issue_key(self.tenant)
        self.headers = {"Authorization": f"Bearer {key.full_key}"}
        connected = await self.call(
            "connector", "POST", "/v1/connection/api-token", {"api_token": self.sandbox.handle.api_token}
        )
        assert connected[0] == 200, connected

    async def call(
        self, service: str, method: str, path: str, body: Any = None
    ) -> tuple[int, dict[str, Any]]:
        """One API call to a service as the tenant: (status, JSON body)."""
        url = self.processes[service].url + path
        async with (
            aiohttp.ClientSession(headers=self.headers) as http,
            http.request(method, url, json=body) as answer,
        ):
            return answer.status, await answer.json(content_type=None)

    async def start_import(self) -> str:
        """Import every organization; the run's id."""
        status, run = await self.call("connector", "POST", "/v1/imports", {"source": "all_organizations"})
        assert status == 202, run
        return str(run["run_id"])

    async def run_of(self, run_id: str) -> dict[str, Any]:
        """The connector's run, as its API shows it ({} while the connector does not answer)."""
        with contextlib.suppress(aiohttp.ClientError, OSError):
            status, run = await self.call("connector", "GET", f"/v1/runs/{run_id}")
            if status == 200:
                return run
        return {}

    async def readiness(self) -> dict[str, int]:
        """Every running service's /readyz status (0: nothing answers)."""
        return {name: await process.get("/readyz") for name, process in self.processes.items()}

    def exited(self) -> dict[str, int]:
        """Services whose process ended, with their exit codes."""
        return {
            name: process.process.returncode
            for name, process in self.processes.items()
            if process.process is not None and process.process.returncode is not None
        }

    async def count(self, query: str) -> int:
        """A count over the private tables (0 while they do not exist or the database is away)."""
        assert self.pool is not None
        try:
            return int(await self.pool.fetchval(query, self.tenant) or 0)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):  # not there (yet), or away
            return 0

    async def applied(self) -> int:
        """Source changes of the tenant the mapper applied (its inbox)."""
        return await self.count(
            f"SELECT count(*) FROM mapper_{self.suffix}.inbox WHERE tenant_id = $1"
            f" AND topic IN ('{BULK_SOURCE_CHANGES.name}', '{SOURCE_CHANGES.name}')"
        )

    async def audit_entries(self) -> int:
        """Activity-log entries of the tenant."""
        return await self.count(f"SELECT count(*) FROM auditlog_{self.suffix}.entries WHERE tenant_id = $1")

    async def pusher_mirror(self) -> int:
        """Records of the tenant in the pusher's mirror."""
        return await self.count(f"SELECT count(*) FROM pusher_{self.suffix}.mirror WHERE tenant_id = $1")

    def organizations(self) -> int:
        """Organizations in the sandbox."""
        return sum(1 for _ in self.sandbox.handle.state.tables[Entity.ORGANIZATION].live())

    async def settled(self, within_s: float) -> None:
        """Wait until the mapper applied, the activity log recorded and the pusher mirrored every
        organization once."""
        expected = self.organizations()

        async def figures() -> tuple[int, int, int]:
            return await self.applied(), await self.audit_entries(), await self.pusher_mirror()

        await eventually(
            figures,
            lambda found: all(n >= expected for n in found),
            within_s=within_s,
            what=f"{expected} changes applied, activity entries and mirrored records",
        )
        await eventually(self.apply_runs, bool, within_s=within_s, what="the apply run reported")

    async def apply_runs(self) -> list[dict[str, Any]]:
        """The mapper's finished apply runs of the tenant, as the activity log shows them."""
        with contextlib.suppress(aiohttp.ClientError, OSError):
            status, runs = await self.call("auditlog", "GET", "/v1/runs?kind=apply&limit=10")
            if status == 200:
                return [run for run in runs["data"] if run.get("status") not in (None, "running")]
        return []

    async def emitted(self) -> list[tuple[bytes, bytes]]:
        """(key, value) of the tenant's source changes (bulk reads' first) since the stack started."""
        found = []
        for topic in (BULK_SOURCE_CHANGES, SOURCE_CHANGES):
            for key, value in await keyed_values_since(self.bootstrap, topic, self.marks[topic.name]):
                if value and orjson.loads(value).get("tenantid") == self.tenant:
                    found.append((key, value))
        return found

    async def run_accounts(self) -> dict[str, Any]:
        """What each side holds of the tenant's runs: the connector's runs (counts, emitted), the mapper's
        apply-run tallies, the run events on the sync-runs topic and the activity log's apply runs; what
        an unreported apply run is diagnosed from."""
        assert self.pool is not None
        s = self.suffix
        connector = await self.pool.fetch(
            f"SELECT run_id, kind, state, counts, progress FROM connector_{s}.runs WHERE tenant_id = $1",
            self.tenant,
        )
        mapper = await self.pool.fetch(
            f"SELECT * FROM mapper_{s}.apply_runs WHERE tenant_id = $1", self.tenant
        )
        events = []
        for _, value in await keyed_values_since(self.bootstrap, SYNC_RUNS, self.marks[SYNC_RUNS.name]):
            event = orjson.loads(value)
            if event.get("tenantid") == self.tenant:
                data = event.get("data", {})
                events.append(
                    {
                        "type": event.get("type"),
                        "id": event.get("id"),
                        "service": data.get("service"),
                        "run_id": data.get("run_id"),
                        "emitted": data.get("emitted"),
                        "counts": data.get("counts"),
                    }
                )
        return {
            "connector_runs": [dict(r) for r in connector],
            "mapper_apply_runs": [dict(r) for r in mapper],
            "sync_run_events": events,
            "auditlog_apply_runs": await self.apply_runs(),
        }

    async def tally(self) -> Tally:
        """Every figure, for the tenant."""
        emitted = await self.emitted()
        ids = {orjson.loads(value)["id"] for _, value in emitted}
        s = self.suffix
        counted = sum(
            sum(run[c] or 0 for c in ("created", "updated", "unchanged", "skipped", "failed"))
            for run in await self.apply_runs()
        )
        return Tally(
            sandbox=self.organizations(),
            emitted_ids=len(ids),
            emitted_messages=len(emitted),
            mapper_inbox=await self.applied(),
            applied_counted=counted,
            audit_entries=await self.audit_entries(),
            audit_entry_records=await self.count(
                f"SELECT count(DISTINCT (object, pipedrive_id)) FROM auditlog_{s}.entries"
                " WHERE tenant_id = $1"
            ),
            pusher_mirror=await self.pusher_mirror(),
            store_equals_clean_apply=await self._store_equals_clean_apply(emitted),
        )

    async def _store_equals_clean_apply(self, emitted: list[tuple[bytes, bytes]]) -> bool:
        """Whether the ABM store equals, row for row, what the same events applied once each give."""
        assert self.pool is not None
        clean = f"clean_{self.suffix}"
        await install_mapper_tables(self.pool, clean)
        unique = list({orjson.loads(value)["id"]: (key, value) for key, value in emitted}.values())
        await apply_cleanly(self.pool, clean, unique)
        ours = store_projection(await store_rows(self.pool, f"mapper_{self.suffix}", self.tenant))
        return ours == store_projection(await store_rows(self.pool, clean, self.tenant))

    async def kill_and_restart(self, service: str, generation: int) -> None:
        """SIGKILL the service's process and start a new one (as a supervisor would), until ready."""
        await self.processes[service].kill()
        await self.process(service, generation).start()
        await self.processes[service].wait_ready(within_s=120)

    def pipedrive_writes(self) -> int:
        """Calls to the sandbox that could change a record (an import must make none)."""
        return sum(1 for e in self.sandbox.handle.state.ledger.entries if e.method not in ("GET", "HEAD"))

    async def stop(self) -> None:
        """Stop every process (SIGKILL what does not stop) and close the pool."""
        for process in self.processes.values():
            if process.process is not None and process.process.returncode is None:
                with contextlib.suppress(Exception):
                    await process.terminate(within_s=30)
                if process.process.returncode is None:
                    await process.kill()
        if self.pool is not None:
            await self.pool.close()

    async def drop_schemas(self) -> None:
        """Drop the schemas the stack made (its services', the Pipedrive client's, the clean apply's):
        for a database that outlives the test. After `stop`."""
        connection = await asyncpg.connect(self.database_url)
        try:
            for prefix in (*SERVICES, "pdc", "clean"):
                await connection.execute(f"DROP SCHEMA IF EXISTS {prefix}_{self.suffix} CASCADE")
        finally:
            await connection.close()


@contextlib.asynccontextmanager
async def import_stack(
    database_url: str,
    bootstrap: str,
    organizations: int,
    log_dir: Path,
    *,
    log_level: str = "WARNING",
    shared_database: bool = False,
    **sandbox: Any,
) -> AsyncIterator[ImportStack]:
    """A started stack with a sandbox of `organizations` (and no persons or deals; other `sandbox`
    settings, such as its `api_token`, as given); stopped afterwards, and its schemas dropped when the
    database is a `shared_database` (one that outlives the test)."""
    config = SandboxConfig(
        organizations=organizations, persons_per_organization=0, deals_per_organization=0, **sandbox
    )
    async with recording_sandbox(config) as recording:
        stack = ImportStack(database_url, bootstrap, recording, log_dir, log_level=log_level)
        try:
            await stack.start()
            yield stack
        finally:
            await stack.stop()
            if shared_database:
                await stack.drop_schemas()
