"""A planted API token never leaves the credentials store: the connector runs as a real process (JSON
logs at DEBUG to a file), is connected with the token, syncs, receives a webhook, previews an import,
fails on the revoked token and is disconnected; then its log file, every HTTP answer, every row it stored
and every Kafka message produced meanwhile are searched for the token (and for a wrong token tried first)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from pipedrive_sandbox import SandboxConfig
from pipedrive_sandbox.events import ChangeSource
from pipedrive_sandbox.store import Entity
from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.events.abm_signals import CompanyRevealed
from schemas.events.common import SyncObject
from schemas.keys import record_key
from schemas.topics import (
    COMPANY_REVEALED,
    PUSH_RESULTS,
    SETTINGS,
    SOURCE_CHANGES,
    SYNC_RUNS,
    topics_consumed_by,
)
from tests.integration.connector.conftest import ConnectorProcesses
from tests.support.conditions import eventually
from tests.support.kafka_offsets import position_group_at_end
from tests.support.rows import count_rows
from tests.support.schemas import drop_schemas
from tests.support.service_process import ServiceProcess
from tests.topic_namespace import NamespacedProducer

pytestmark = pytest.mark.integration

PLANTED = secrets.token_hex(20)
WRONG = secrets.token_hex(20)


class Api:
    """The process's API with the tenant's key; keeps every answer (status, headers, body)."""

    def __init__(self, http: aiohttp.ClientSession, process: ServiceProcess) -> None:
        self._http = http
        self._url = process.url
        self.answers: list[str] = []

    async def call(self, method: str, path: str, json: object = None) -> tuple[int, Any]:
        """Send one request; its status and JSON body."""
        async with self._http.request(method, self._url + path, json=json) as response:
            text = await response.text()
            self.answers.append(f"{response.status} {dict(response.headers)} {text}")
            return response.status, await response.json()


async def _finished(processes: ConnectorProcesses, run_id: str) -> dict[str, Any]:
    row = await eventually(
        lambda: processes.run_row(run_id),
        lambda r: r is not None and r["state"] == "finished",
        within_s=60,
        what=f"run {run_id} finished",
    )
    assert row is not None
    return row


async def _stored_rows(processes: ConnectorProcesses) -> str:
    """Every row of the tenant in the connector's and the client's schemas, as text (bytes included)."""
    schemas = (processes.schema, processes.env["PIPEDRIVE_CLIENT_SCHEMA"])
    tables = await processes.pool.fetch(
        "SELECT table_schema, table_name FROM information_schema.columns"
        " WHERE table_schema = ANY($1::text[]) AND column_name = 'tenant_id'",
        list(schemas),
    )
    found: list[str] = []
    for table in tables:
        rows = await processes.pool.fetch(
            f"SELECT * FROM {table['table_schema']}.{table['table_name']} WHERE tenant_id = $1",
            processes.tenant,
        )
        found.extend(f"{table['table_name']}: {dict(r)!r}" for r in rows)
    return "\n".join(found)


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=40, api_token=PLANTED)])
async def test_a_planted_token_appears_in_no_log_answer_row_or_message(
    connector_processes: ConnectorProcesses,
) -> None:
    processes = connector_processes
    state = processes.sandbox.handle.state
    connector = processes.process("connector", CONNECTOR_LOG_LEVEL="DEBUG")
    await connector.start()
    await connector.wait_ready()
    async with aiohttp.ClientSession(headers=processes.headers) as http:
        api = Api(http, connector)
        refused, _ = await api.call("POST", "/v1/connection/api-token", {"api_token": WRONG})
        connected, _ = await api.call("POST", "/v1/connection/api-token", {"api_token": PLANTED})
        await api.call("GET", "/v1/connection")
        hooked, _ = await api.call("PUT", "/v1/webhooks", {"enabled": True})
        _, sync = await api.call("POST", "/v1/sync")
        synced = await _finished(processes, sync["run_id"])

        org = next(state.tables[Entity.ORGANIZATION].live())
        state.clock.advance(2)
        state.entities.update(Entity.ORGANIZATION, org.id, {"name": "Planted Co"}, 1, ChangeSource.APP)
        await eventually(
            processes.events,
            lambda found: any(e["data"]["origin"] == "webhook" for e in found),
            within_s=30,
            what="the webhook's change on the topic",
        )
        previewed, _ = await api.call(
            "POST", "/v1/imports/preview", {"source": "filtered_organizations", "filter": 'Name CONTAINS "a"'}
        )

        state.revoked_api_tokens.add(PLANTED)
        _, failing = await api.call("POST", "/v1/sync")
        failed = await _finished(processes, failing["run_id"])
        stored = await _stored_rows(processes)
        disconnected, _ = await api.call("DELETE", "/v1/connection")
        await api.call("GET", "/v1/runs")
    assert await connector.terminate() == 0, connector.log_tail()

    assert (refused, connected, hooked, previewed, disconnected) == (400, 200, 200, 200, 200)
    assert synced["status"] == "Success"
    assert (failed["status"], failed["message"]) == ("Error", "Invalid API key")
    assert any(r.headers.get("x-api-token") == PLANTED for r in processes.sandbox.received), "token used"
    log = connector.log_text()
    assert '"pipedrive_call"' in log and '"webhook_change_emitted"' in log and '"run_finished"' in log
    messages = b"\n".join(
        [m for topic in (SOURCE_CHANGES, SETTINGS, SYNC_RUNS) for m in await _raw(processes, topic.name)]
    )
    assert processes.tenant.encode() in messages
    for secret in (PLANTED, WRONG):
        assert secret not in log, "a log line holds the token"
        assert secret not in "\n".join(api.answers), "an HTTP answer holds the token"
        assert secret not in stored, "a stored row holds the token in clear"
        assert secret.encode() not in messages, "a Kafka message holds the token"


async def _raw(processes: ConnectorProcesses, topic: str) -> list[bytes]:
    return await processes.reader.raw_since(topic, processes.marks[topic])


def _revealed(tenant: str, domain: str) -> tuple[bytes, bytes]:
    """A company reveal (key, value) for the pusher's auto-push."""
    key = record_key(tenant, SyncObject.ORGANIZATION, domain)
    event = build_event(
        CompanyRevealed(domain=domain, name=domain.split(".")[0].title(), revealed_at=datetime.now(UTC)),
        tenant=tenant,
        subject=key,
        source="/itest",
        id_parts=(key,),
        time=datetime.now(UTC),
    )
    return key.encode(), encode_event(event)


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=10, api_token=PLANTED)])
async def test_a_planted_token_appears_in_no_log_row_or_message_of_the_pusher_either(
    connector_processes: ConnectorProcesses, kafka_bootstrap: str
) -> None:
    processes = connector_processes
    state = processes.sandbox.handle.state
    uid = secrets.token_hex(4)
    pusher_schema, group = f"itest_pusher_t{uid}", f"itest-pusher-t{uid}"
    await position_group_at_end(kafka_bootstrap, group, topics_consumed_by("pusher"))
    marks = {PUSH_RESULTS.name: await processes.reader.end_offsets(PUSH_RESULTS.name)}
    connector = processes.process("connector")
    pusher = ServiceProcess(
        "pusher",
        {
            "PUSHER_GROUP_ID": group,
            "PUSHER_DB_SCHEMA": pusher_schema,
            "PUSHER_COMMIT_INTERVAL_S": "0.2",
            "PIPEDRIVE_CLIENT_SCHEMA": processes.env["PIPEDRIVE_CLIENT_SCHEMA"],
            "PIPEDRIVE_ALLOWED_TEST_URLS": processes.sandbox.base_url,
            "PUSHER_LOG_LEVEL": "DEBUG",
        },
        processes.log_dir / "pusher.log",
    )
    producer = NamespacedProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for service in (connector, pusher):
            await service.start()
        for service in (connector, pusher):
            await service.wait_ready()
        async with aiohttp.ClientSession(headers=processes.headers) as http:
            api = Api(http, connector)
            await api.call("POST", "/v1/connection/api-token", {"api_token": PLANTED})
            both_ways = {k: True for k in ("create_in_pipedrive", "update_in_pipedrive", "create_in_abm")}
            saved, _ = await api.call(
                "PUT",
                "/v1/settings",
                {"objects": {"organization": {"directions": both_ways}}, "auto_push": {"enabled": True}},
            )
            assert saved == 200
            held = f"SELECT count(*) FROM {pusher_schema}.tenant_settings WHERE tenant_id = $1"
            await eventually(
                lambda: _count(processes, held), lambda n: n == 1, within_s=60, what="pusher holds settings"
            )
            key, value = _revealed(processes.tenant, "planted.io")
            await producer.send_and_wait(COMPANY_REVEALED.name, value, key=key)
            await eventually(
                lambda: _websites(processes),
                lambda found: any("planted.io" in w for w in found),
                within_s=60,
                what="the pusher created the revealed company in Pipedrive",
            )
            state.revoked_api_tokens.add(PLANTED)
            key, value = _revealed(processes.tenant, "revoked.io")
            await producer.send_and_wait(COMPANY_REVEALED.name, value, key=key)
            await eventually(
                lambda: _results(processes, marks),
                lambda found: b"Invalid API key" in found,
                within_s=60,
                what="the pusher's push fails with Invalid API key",
            )
        rows = [
            repr(dict(r))
            for t in await processes.pool.fetch(
                "SELECT DISTINCT table_name FROM information_schema.columns"
                " WHERE table_schema = $1 AND column_name = 'tenant_id'",
                pusher_schema,
            )
            for r in await processes.pool.fetch(
                f"SELECT * FROM {pusher_schema}.{t['table_name']} WHERE tenant_id = $1", processes.tenant
            )
        ]
        assert await pusher.terminate() == 0, pusher.log_tail()
        assert await connector.terminate() == 0, connector.log_tail()
    finally:
        await producer.stop()
        await drop_schemas(processes.pool, pusher_schema)

    assert any(
        r.method == "POST" and r.headers.get("x-api-token") == PLANTED for r in processes.sandbox.received
    )
    assert '"pipedrive_call"' in pusher.log_text()
    results = await _results(processes, marks)
    for secret in (PLANTED, WRONG):
        assert secret not in pusher.log_text() and secret not in connector.log_text()
        assert secret not in "\n".join(rows)
        assert secret.encode() not in results


async def _count(processes: ConnectorProcesses, query: str) -> int:
    return await count_rows(processes.pool, query, processes.tenant)


async def _websites(processes: ConnectorProcesses) -> list[str]:
    table = processes.sandbox.handle.state.tables[Entity.ORGANIZATION]
    return [str(r.data.get("website") or "") for r in table.live()]


async def _results(processes: ConnectorProcesses, marks: dict[str, Any]) -> bytes:
    return b"\n".join(await processes.reader.raw_since(PUSH_RESULTS.name, marks[PUSH_RESULTS.name]))
