"""The activity log tells one truth, seen from outside only.

Connector, mapper, pusher and auditlog run as processes against a sandbox of the test's own; the tests
drive the sandbox's API (organizations), the connector's API (connect, settings, imports), the
`abm.company-revealed.v1` topic, and read the auditlog's API. An import's run counts equal its records'
outcomes (its apply run's), records already up to date are `unchanged` and leave the run a Success
(under "skip duplicates" too: a record linked to its very organization is no duplicate), each apply run
holds its entries, and the two runs link to each other; the open auto-push window shows its counts as it goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
import pytest

from pipedrive_sandbox import SandboxConfig
from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.events.abm_signals import CompanyRevealed
from schemas.events.common import SyncObject
from schemas.keys import record_key
from schemas.topics import COMPANY_REVEALED, topics_consumed_by
from tenant_auth.keys import split_api_key
from tenant_auth.registry import TenantRegistry
from tests.integration.psyncctl.conftest import run_psyncctl_process
from tests.pipedrive_client.sandbox_server import RecordingSandbox, recording_sandbox
from tests.support.conditions import eventually
from tests.support.kafka_offsets import position_group_at_end
from tests.support.push_runs import push_run_of_failures
from tests.support.schemas import drop_schemas
from tests.support.service_process import ServiceProcess
from tests.support.tenants import new_tenant_headers
from tests.topic_namespace import NamespacedProducer

ORGANIZATIONS = 14
PIPEDRIVE_POLL_S = 0.5
"""The least time between two polls of the sandbox's Pipedrive API on the account's token."""
# The mapper, the pusher and the auditlog read every tenant's events of a Kafka shared with other suites:
# they may have thousands of other tenants' events to get through before this test's (alone: seconds).
WAIT_S = 240
SANDBOXES = 6  # one per test of the module
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


@dataclass
class Stack:
    """The test's tenant and its key, its own sandbox, the module's processes, an HTTP session."""

    tenant: str
    connector: ServiceProcess
    auditlog: ServiceProcess
    sandbox: RecordingSandbox
    headers: dict[str, str]
    http: aiohttp.ClientSession
    pool: asyncpg.Pool
    pusher_schema: str
    mapper: ServiceProcess
    pusher: ServiceProcess
    auditlog_schema: str

    async def connect(self) -> None:
        body = {"api_token": self.sandbox.handle.api_token, "api_base_url": self.sandbox.base_url}
        await self.call(self.connector, "POST", "/v1/connection/api-token", json=body)

    async def call(self, service: ServiceProcess, method: str, path: str, **kwargs: Any) -> Any:
        async with self.http.request(method, service.url + path, headers=self.headers, **kwargs) as response:
            assert response.status < 300, (path, response.status, await response.text())
            return await response.json()

    async def run(self, run_id: str, settled: bool = True) -> dict[str, Any]:
        """The run as the activity log shows it once it shows its final status (its apply run ended, its
        records' results all in the log); `settled=False`: once it has ended (it may be `finishing`)."""

        async def shown() -> dict[str, Any] | None:
            async with self.http.get(f"{self.auditlog.url}/v1/runs/{run_id}", headers=self.headers) as got:
                return (await got.json())["data"] if got.status == 200 else None

        still = ("running", "finishing") if settled else ("running",)
        run = await eventually(
            shown,
            lambda r: r is not None and r["status"] not in still,
            within_s=WAIT_S,
            what=f"{run_id} ended",
        )
        assert run is not None
        return run

    async def runs(self, **params: str) -> list[dict[str, Any]]:
        return list((await self.call(self.auditlog, "GET", "/v1/runs", params=params))["data"])

    async def imported(self, duplicate_handling: str) -> dict[str, Any]:
        body = {"source": "all_organizations", "duplicate_handling": duplicate_handling}
        queued = await self.call(self.connector, "POST", "/v1/imports", json=body)
        return await self.run(queued["run_id"])

    async def entries(self, run_id: str) -> list[dict[str, Any]]:
        return list((await self.call(self.auditlog, "GET", f"/v1/runs/{run_id}/entries"))["data"])


@dataclass
class Services:
    """The module's processes (started once for its tests) and the sandboxes not yet given to a test:
    each test has a tenant and a Pipedrive account of its own."""

    connector: ServiceProcess
    mapper: ServiceProcess
    auditlog: ServiceProcess
    pusher: ServiceProcess
    pusher_schema: str
    sandboxes: list[RecordingSandbox]
    auditlog_schema: str


@pytest.fixture(scope="module")
async def services(
    pg_pool: asyncpg.Pool, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Services]:
    uid = uuid.uuid4().hex[:8]
    logs = tmp_path_factory.mktemp("activity_log_flow")
    schemas = [f"itest_{name}_{uid}" for name in ("connector", "pdc", "mapper", "auditlog", "pusher")]
    for service in ("mapper", "auditlog", "pusher"):
        await position_group_at_end(kafka_bootstrap, f"itest-{service}-{uid}", topics_consumed_by(service))
    await TenantRegistry(pg_pool).install()
    async with contextlib.AsyncExitStack() as opened:
        sandboxes = [
            await opened.enter_async_context(recording_sandbox(SandboxConfig(organizations=0)))
            for _ in range(SANDBOXES)
        ]
        allowed = ",".join(sandbox.base_url for sandbox in sandboxes)
        connector = ServiceProcess("connector", {
            "CONNECTOR_DB_SCHEMA": schemas[0], "PIPEDRIVE_CLIENT_SCHEMA": schemas[1],
            "PIPEDRIVE_ALLOWED_TEST_URLS": allowed,
            "CONNECTOR_DEFAULT_API_BASE_URL": sandboxes[0].base_url,
            "CONNECTOR_SCHEDULER_INTERVAL_S": "0.2",
        }, logs / "connector.log", shared=True)  # fmt: skip
        mapper = ServiceProcess("mapper", {
            "MAPPER_DB_SCHEMA": schemas[2], "MAPPER_GROUP_ID": f"itest-mapper-{uid}",
            "MAPPER_COMMIT_INTERVAL_S": "0.2",
        }, logs / "mapper.log", shared=True)  # fmt: skip
        auditlog = ServiceProcess("auditlog", {
            "AUDITLOG_DB_SCHEMA": schemas[3], "AUDITLOG_GROUP_ID": f"itest-auditlog-{uid}",
        }, logs / "auditlog.log", shared=True)  # fmt: skip
        pusher = ServiceProcess("pusher", {
            "PUSHER_DB_SCHEMA": schemas[4], "PUSHER_GROUP_ID": f"itest-pusher-{uid}",
            "PUSHER_COMMIT_INTERVAL_S": "0.2", "PIPEDRIVE_CLIENT_SCHEMA": schemas[1],
            "PIPEDRIVE_ALLOWED_TEST_URLS": allowed,
        }, logs / "pusher.log", shared=True)  # fmt: skip
        # Where the pusher reads the ABM store, and where the auditlog sends retries: this stack's own.
        pusher.env["PUSHER_MAPPER_URL"] = mapper.url
        auditlog.env.update(AUDITLOG_PUSHER_URL=pusher.url, AUDITLOG_CONNECTOR_URL=connector.url)
        processes = (connector, mapper, auditlog, pusher)
        try:
            for process in processes:
                await process.start()
            for process in processes:
                await process.wait_ready()
            yield Services(connector, mapper, auditlog, pusher, schemas[4], sandboxes, schemas[3])
        finally:
            for process in processes:
                if process.process is not None and process.process.returncode is None:
                    await process.kill()
            await drop_schemas(pg_pool, *schemas)


@pytest.fixture
async def stack(services: Services, pg_pool: asyncpg.Pool) -> AsyncIterator[Stack]:
    """A fresh tenant with its own sandbox, on the module's processes."""
    registry = TenantRegistry(pg_pool)
    tenant = f"flow{secrets.token_hex(5)}"
    headers = await new_tenant_headers(registry, tenant)
    async with aiohttp.ClientSession() as http:
        yield Stack(
            tenant, services.connector, services.auditlog, services.sandboxes.pop(),
            headers, http, pg_pool, services.pusher_schema,
            services.mapper, services.pusher, services.auditlog_schema,
        )  # fmt: skip


async def _seed_organizations(stack: Stack) -> None:
    """Organizations created through the sandbox's own API, each with a website."""
    token = {"x-api-token": stack.sandbox.handle.api_token}
    for n in range(ORGANIZATIONS):
        body = {"name": f"Flow Org {n}", "website": f"https://www.Flow-Org-{n}.io/about"}
        async with stack.http.post(
            f"{stack.sandbox.base_url}/api/v2/organizations", json=body, headers=token
        ) as r:
            assert r.status == 200, await r.text()


async def test_an_imports_counts_are_its_records_outcomes_in_one_truth(stack: Stack) -> None:
    await _seed_organizations(stack)
    await stack.connect()

    first = await stack.imported("skip_duplicates")
    assert (first["status"], first["created"], first["skipped"], first["emitted"]) == ("Success", 14, 0, 14)

    # Every record is imported already, each linked to its very organization: no duplicate of itself.
    # A re-import of unchanged data (skipping duplicates, the default) finds them unchanged: a Success.
    known = await stack.imported("skip_duplicates")
    assert (known["created"], known["updated"], known["unchanged"], known["skipped"]) == (0, 0, 14, 0)
    assert (known["status"], known["message"]) == ("Success", None)
    apply_id = known["links"]["apply_run_id"]
    applied = await stack.run(apply_id)
    assert (applied["kind"], applied["unchanged"], applied["links"]["applies_run_id"]) == (
        "apply",
        14,
        known["run_id"],
    )
    entries = await stack.entries(apply_id)
    assert [(e["outcome"], e["message"], e["run_id"]) for e in entries] == [
        ("unchanged", "No changes", apply_id)
    ] * 14
    # Each entry names its record as Pipedrive does, in the API and in the CSV export.
    names = sorted(f"Flow Org {n}" for n in range(ORGANIZATIONS))
    assert sorted(e["name"] for e in entries) == names
    async with stack.http.get(
        f"{stack.auditlog.url}/v1/runs/{apply_id}/entries.csv", headers=stack.headers
    ) as r:
        exported = list(csv.DictReader(io.StringIO(await r.text())))
    assert sorted(row["name"] for row in exported) == names

    # Updating records that are already up to date changes nothing: unchanged, and a Success.
    again = await stack.imported("update_existing")
    assert (again["status"], again["message"], again["updated"], again["unchanged"]) == (
        "Success",
        None,
        0,
        14,
    )
    unchanged = await stack.entries(again["links"]["apply_run_id"])
    assert {e["outcome"] for e in unchanged} == {"unchanged"}

    async with stack.http.get(
        f"{stack.auditlog.url}/v1/runs/no-such-run/entries", headers=stack.headers
    ) as r:
        assert r.status == 404


async def test_two_organizations_of_one_website_link_the_account_to_one_the_other_a_duplicate_naming_it(
    stack: Stack,
) -> None:
    # Two organizations of acme-rv.com imported with "update existing": the account is linked to one of
    # them, and follows it; the other is skipped as its duplicate (both once updated the account and were
    # linked to it, so the account showed whichever changed last).
    token = {"x-api-token": stack.sandbox.handle.api_token}
    ids = []
    for name, website in (("Acme RV", "https://acme-rv.com"), ("Acme RV (copy)", "www.acme-rv.com")):
        async with stack.http.post(
            f"{stack.sandbox.base_url}/api/v2/organizations", json={"name": name, "website": website},
            headers=token,
        ) as r:  # fmt: skip
            assert r.status == 200, await r.text()
            ids.append((await r.json())["data"]["id"])
    await stack.connect()

    for attempt in ("first", "again"):
        run = await stack.imported("update_existing")
        assert (run["status"], run["skipped"], run["message"]) == ("Warning", 1, "1 skipped: Duplicate found")
        entries = {e["pipedrive_id"]: e for e in await stack.entries(run["links"]["apply_run_id"])}
        [linked] = [pid for pid, e in entries.items() if e["outcome"] != "skipped"]
        [duplicate] = [pid for pid in ids if pid != linked]
        assert entries[linked]["outcome"] == ("created" if attempt == "first" else "unchanged")
        assert entries[duplicate]["message"] == (
            f"Duplicate found: acme-rv.com is linked to Pipedrive organization {linked}"
        )
        assert entries[duplicate]["abm_id"] == entries[linked]["abm_id"], attempt


async def test_the_open_auto_push_window_shows_its_counts_as_its_pushes_happen(
    stack: Stack, kafka_bootstrap: str
) -> None:
    await stack.connect()
    both_ways = {f"{op}_in_{side}": True for op in ("create", "update") for side in ("pipedrive", "abm")}
    wanted = {"objects": {"organization": {"directions": both_ways}}, "auto_push": {"enabled": True}}
    settings = await stack.call(stack.connector, "PUT", "/v1/settings", json=wanted)
    held = f"SELECT version FROM {stack.pusher_schema}.tenant_settings WHERE tenant_id = $1"
    await eventually(
        lambda: stack.pool.fetchval(held, stack.tenant), lambda v: v == settings["version"], within_s=WAIT_S,
        what="the pusher holds the settings",
    )  # fmt: skip
    producer = NamespacedProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for n, domain in enumerate(["window-one.io", "window-two.io", "window-one.io"]):
            revealed = CompanyRevealed(
                domain=domain, name=domain.split(".")[0], revealed_at=datetime.now(UTC)
            )
            key = record_key(stack.tenant, SyncObject.ORGANIZATION, domain)
            event = build_event(
                revealed, tenant=stack.tenant, subject=key, source="/itest/abm", id_parts=(key, n),
                time=datetime.now(UTC),
            )  # fmt: skip
            await producer.send_and_wait(COMPANY_REVEALED.name, encode_event(event), key=key.encode())
    finally:
        await producer.stop()

    async def windows() -> list[dict[str, Any]]:
        found = await stack.call(stack.auditlog, "GET", "/v1/runs", params={"kind": "auto_push"})
        return list(found["data"])

    def counted(shown: list[dict[str, Any]]) -> int:
        return sum(w[n] for w in shown for n in ("created", "updated", "unchanged", "skipped", "failed"))

    # Three pushes, three outcomes counted as they happen. (Which outcomes is the pusher tests' business:
    # on a shared Kafka another suite's pusher, without this tenant's credentials, may report first.)
    shown = await eventually(windows, lambda w: counted(w) == 3, within_s=WAIT_S, what="live counts")
    # The window of this hour is open: running, its counts those of the pushes so far (unless the hour
    # ended meanwhile: then the window closed with those counts).
    this_hour = datetime.now(UTC).strftime("%Y-%m-%dT%H")
    if shown[0]["started_at"].startswith(this_hour):
        assert shown[0]["status"] == "running" and shown[0]["finished_at"] is None


async def _reveal(stack: Stack, kafka_bootstrap: str, domains: list[str]) -> None:
    producer = NamespacedProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for domain in domains:
            revealed = CompanyRevealed(
                domain=domain, name=domain.split(".")[0], revealed_at=datetime.now(UTC)
            )
            key = record_key(stack.tenant, SyncObject.ORGANIZATION, domain)
            event = build_event(
                revealed, tenant=stack.tenant, subject=key, source="/itest/abm", id_parts=(key, "retry"),
                time=datetime.now(UTC),
            )  # fmt: skip
            await producer.send_and_wait(COMPANY_REVEALED.name, encode_event(event), key=key.encode())
    finally:
        await producer.stop()


async def _retry(stack: Stack, run_id: str) -> Any:
    """Retry the run's failed records once the log holds them all: the run's end can come before its
    last record results (another topic), and the API answers 409 results_still_arriving until then."""

    async def asked() -> tuple[int, Any]:
        async with stack.http.post(
            f"{stack.auditlog.url}/v1/runs/{run_id}/retry", headers=stack.headers
        ) as response:
            return response.status, await response.json()

    status, body = await eventually(
        asked,
        lambda answer: answer[0] != 409 or answer[1].get("error") != "results_still_arriving",
        within_s=WAIT_S,
        what="the run's failed records all in the activity log",
    )
    assert status == 202, (status, body)
    return body


async def test_a_pushs_failed_records_are_pushed_again_by_a_retry_run_linked_to_it(
    stack: Stack, kafka_bootstrap: str
) -> None:
    await stack.connect()
    both_ways = {f"{op}_in_{side}": True for op in ("create", "update") for side in ("pipedrive", "abm")}
    settings = await stack.call(
        stack.connector, "PUT", "/v1/settings", json={"objects": {"organization": {"directions": both_ways}}}
    )
    held = f"SELECT version FROM {stack.pusher_schema}.tenant_settings WHERE tenant_id = $1"
    await eventually(
        lambda: stack.pool.fetchval(held, stack.tenant), lambda v: v == settings["version"], within_s=WAIT_S,
        what="the pusher holds the settings",
    )  # fmt: skip
    await _reveal(stack, kafka_bootstrap, ["retry-one.io", "retry-two.io"])

    async def accounts() -> list[dict[str, Any]]:
        return list((await stack.call(stack.mapper, "GET", "/v1/accounts"))["data"])

    stored = await eventually(accounts, lambda a: len(a) == 2, within_s=WAIT_S, what="the ABM accounts")
    records = [{"abm_id": a["abm_id"]} for a in stored]
    # Pipedrive refuses every call (a 400): both pushes fail.
    faults = f"{stack.sandbox.base_url}/_sandbox/faults"
    async with stack.http.post(faults, json={"error_share": 1.0, "error_status": 400}) as r:
        assert r.status == 200
    pushed = await stack.call(
        stack.pusher, "POST", "/v1/push", json={"object": "organization", "records": records}
    )
    first = await stack.run(pushed["run_id"])
    assert (first["status"], first["failed"]) == ("Error", 2)
    async with stack.http.delete(faults) as r:
        assert r.status == 200

    retried = await _retry(stack, first["run_id"])

    # The retry went from the auditlog to this stack's pusher, which created both in Pipedrive: only it
    # holds the tenant's credentials. (What the activity log counts of it is asserted in
    # tests/integration/pusher/test_retry_push.py: here, every other stack's pusher on the shared Kafka
    # reads the same push requests and, without the credentials, reports them failed under the same
    # result ids; the activity log keeps whichever report comes first.)
    # Each poll is a call on the account's token, which the pusher's creates share: paced like a client
    # sharing the account's rate limit and token budget, a 429's wait honoured (polled every 10 to 50 ms
    # in a loaded make test, the polls drew 429s and then the sandbox's 403 for a token ignoring them).
    polls = {"next_at": 0.0}

    async def created_in_pipedrive() -> list[str]:
        await asyncio.sleep(max(0.0, polls["next_at"] - time.monotonic()))
        polls["next_at"] = time.monotonic() + PIPEDRIVE_POLL_S
        token = {"x-api-token": stack.sandbox.handle.api_token}
        async with stack.http.get(f"{stack.sandbox.base_url}/api/v2/organizations", headers=token) as r:
            if r.status == 429:  # not yet: ask again after the wait the answer gives
                told = r.headers.get("retry-after") or r.headers.get("x-ratelimit-reset") or "1"
                polls["next_at"] = time.monotonic() + min(float(told), 5.0)
                return []
            assert r.status == 200, await r.text()
            return sorted(o["website"] for o in (await r.json())["data"])

    websites = await eventually(
        created_in_pipedrive, lambda w: len(w) == 2, within_s=WAIT_S, what="both created in Pipedrive"
    )
    assert websites == sorted(a["website"] for a in stored)
    # Ended is enough: what it counts, and so when its results are all in, is not this test's (see above).
    retry = await stack.run(retried["data"]["run_id"], settled=False)
    assert (retry["links"]["retry_of"], retry["trigger"]) == (first["run_id"], "retry")
    linked = await stack.call(stack.auditlog, "GET", f"/v1/runs/{first['run_id']}")
    assert linked["data"]["links"]["retried_by"] == [retry["run_id"]]


async def test_settings_changes_connects_disconnects_and_key_changes_are_audited_with_who(
    stack: Stack, pg_pool: asyncpg.Pool
) -> None:
    ann = {**stack.headers, "X-Psync-Actor": "ann@acme.example"}
    await stack.connect()
    async with stack.http.patch(
        f"{stack.connector.url}/v1/settings", json={"frequency": "1h"}, headers=ann
    ) as changed:
        assert changed.status == 200, await changed.text()
    async with stack.http.delete(f"{stack.connector.url}/v1/connection", headers=ann) as gone:
        assert gone.status == 200
    registry = TenantRegistry(pg_pool)
    extra = await registry.issue_key(stack.tenant, "ci", issued_by="operator bob")
    await registry.revoke_key(stack.tenant, extra.key_id, revoked_by="operator bob")

    async def audit() -> list[dict[str, Any]]:
        return list((await stack.call(stack.auditlog, "GET", "/v1/audit"))["data"])

    entries = await eventually(audit, lambda e: len(e) >= 6, within_s=WAIT_S, what="the audit entries")
    actions = [(e["action"], e["actor"]["name"]) for e in entries]
    assert actions[:4] == [
        ("api_key_revoked", "operator bob"), ("api_key_issued", "operator bob"),
        ("disconnected", "ann@acme.example"), ("settings_changed", "ann@acme.example"),
    ]  # fmt: skip
    assert actions[4][0] == "connected" and actions[4][1] is None  # no name sent: the key is who
    assert entries[4]["actor"]["key_id"] == split_api_key(stack.headers["Authorization"].split(" ")[1])[0]
    assert entries[3]["changes"] == [{"path": "frequency", "before": "manual", "after": "1h"}]
    assert entries[2]["changes"][0] == {"path": "connected", "before": True, "after": False}
    assert entries[1]["detail"] == f"API key {extra.key_id} (ci)"
    first = await stack.call(stack.auditlog, "GET", "/v1/audit", params={"limit": "2"})
    rest = await stack.call(stack.auditlog, "GET", "/v1/audit", params={"cursor": first["next_cursor"]})
    assert [e["id"] for e in first["data"] + rest["data"]] == [e["id"] for e in entries]


async def test_a_run_whose_end_comes_before_its_last_results_is_finishing_and_its_retry_waits_for_them(
    stack: Stack, kafka_bootstrap: str
) -> None:
    # A push run as the pusher publishes it: its start and end on the runs topic, its records' results on
    # the push results topic, the second failure's result held back (the topics are read independently).
    run = push_run_of_failures(stack.tenant, 2)
    run_id = run.run_id
    producer = NamespacedProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:

        async def publish(*messages: Any) -> None:
            for m in messages:
                await producer.send_and_wait(m.topic, m.value, key=m.key.encode())

        await publish(run.started, run.results[0], run.finished)

        async def retry() -> tuple[int, Any]:
            async with stack.http.post(
                f"{stack.auditlog.url}/v1/runs/{run_id}/retry", headers=stack.headers
            ) as response:
                return response.status, await response.json()

        await stack.run(run_id, settled=False)  # its end is in the log (and so the run: no 404 below)
        one_logged = await eventually(
            lambda: stack.entries(run_id), lambda e: len(e) == 1, within_s=WAIT_S, what="the first entry"
        )
        assert [e["outcome"] for e in one_logged] == ["failed"]
        # Ended, one of its two results in the log: shown finishing with what is logged, not as an Error of
        # two failed records whose second is nowhere to be seen; left out of the list of Error runs.
        ended = (await stack.call(stack.auditlog, "GET", f"/v1/runs/{run_id}"))["data"]
        shown = (ended["status"], ended["failed"], ended.get("results_pending"), ended["finished_at"])
        assert shown == ("finishing", 1, 1, None), ended
        assert [r["status"] for r in await stack.runs(kind="push") if r["run_id"] == run_id] == ["finishing"]
        assert run_id not in [r["run_id"] for r in await stack.runs(kind="push", status="Error")]
        assert [r["run_id"] for r in await stack.runs(kind="push", status="finishing")] == [run_id]
        # The operators' tool says the same, read while the services run.
        ctl = await run_psyncctl_process(
            "runs", "show", run_id, "--json", env={"PSYNCCTL_AUDITLOG_SCHEMA": stack.auditlog_schema}
        )
        assert ctl.status == 0, ctl.stderr
        shown_by_ctl = ctl.json()
        assert (shown_by_ctl["tenant"], shown_by_ctl["status"], shown_by_ctl["results_pending"]) == (
            stack.tenant, "finishing", 1,
        )  # fmt: skip
        status, body = await retry()
        assert (status, body["error"]) == (409, "results_still_arriving"), body
        await publish(run.results[1])
        # Its second result in: the run's final status and counts, as its end reported them.
        final = await stack.run(run_id)
        assert (final["status"], final["failed"], final["results_pending"]) == ("Error", 2, 0), final
        assert len(await stack.entries(run_id)) == 2
        assert run_id in [r["run_id"] for r in await stack.runs(kind="push", status="Error")]
        assert await stack.runs(kind="push", status="finishing") == []
        status, body = await retry()
        # Past the wait: the retry is decided (the pusher takes it, or refuses the unknown ABM records).
        assert body.get("error") != "results_still_arriving", (status, body)
    finally:
        await producer.stop()
