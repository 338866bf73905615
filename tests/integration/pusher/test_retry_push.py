"""A push's failed records retried, from the activity log to Pipedrive and back.

The auditlog's retry API asks the pusher's push API over HTTP (with the caller's key); the messages the
pusher publishes go to its own handlers and to the auditlog's, as Kafka would carry them, by the test's
hand. No consumer of a shared Kafka takes part on purpose: there, every other stack's pusher reads this
tenant's push requests too and, without its credentials, reports each one failed under the same result
ids, and the activity log keeps whichever report comes first. (tests/integration/test_activity_log_flow.py
runs the same retry through the service processes and checks what no other pusher can change.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from auditlog.activity_log_store import PostgresActivityLog
from auditlog.bootstrap import add_run_routes
from auditlog.bootstrap import install_tables as install_auditlog_tables
from auditlog.handlers import build_handlers as build_auditlog_handlers
from mapper.bootstrap import add_api_routes as add_mapper_api_routes
from mapper.bootstrap import install_tables as install_mapper_tables
from pusher.abm_records import AbmRecords
from pusher.manual_push_api import add_manual_push_routes
from schemas.codec import decode_event
from schemas.events.common import SyncObject
from stream_runner.messages import IncomingMessage, OutgoingMessage
from tenant_auth.middleware import tenant_api_app, tenant_auth_middleware
from tenant_auth.registry import TenantRegistry
from tests.integration.mapper.conftest import MapperHarness
from tests.integration.pusher.conftest import PusherHarness
from tests.support.schemas import fresh_schema
from tests.support.tenants import new_tenant_headers

pytestmark = pytest.mark.integration
Client = TestClient[web.Request, web.Application]


@dataclass
class Chain:
    """The auditlog's and the pusher's APIs of one tenant, and the messages between them."""

    pusher: PusherHarness
    abm_store: MapperHarness
    auditlog: Client
    push_api: Client
    auditlog_log: PostgresActivityLog
    headers: dict[str, str]
    http: aiohttp.ClientSession
    published: list[OutgoingMessage] = field(default_factory=list)

    async def deliver_published(self) -> None:
        """Every message published so far, and what it leads to, to the handlers that read its topic."""
        auditlog = build_auditlog_handlers(self.auditlog_log)
        offset = 0
        while self.published:
            message = self.published.pop(0)
            event, offset = decode_event(message.topic, message.value), offset + 1
            incoming = IncomingMessage(message.topic, 0, offset, b"k", message.value)
            if message.topic == "psync.push-requests.v1":
                self.published.extend((await self.pusher.deliver(event)).outputs)
            if event.type in auditlog:
                await auditlog[event.type](event, incoming)

    async def sandbox_refuses_every_call(self, refuses: bool) -> None:
        faults = f"{self.pusher.sandbox.base_url}/_sandbox/faults"
        if refuses:
            async with self.http.post(faults, json={"error_share": 1.0, "error_status": 400}) as r:
                assert r.status == 200
        else:
            async with self.http.delete(faults) as r:
                assert r.status == 200

    async def run(self, run_id: str) -> dict[str, Any]:
        answer = await self.auditlog.get(f"/v1/runs/{run_id}", headers=self.headers)
        assert answer.status == 200, await answer.text()
        return dict((await answer.json())["data"])

    async def entries(self, run_id: str) -> list[tuple[str, str]]:
        answer = await self.auditlog.get(f"/v1/runs/{run_id}/entries", headers=self.headers)
        return sorted((e["abm_id"], e["outcome"]) for e in (await answer.json())["data"])


@pytest.fixture
async def chain(pusher: PusherHarness) -> AsyncIterator[Chain]:
    async with (
        fresh_schema(pusher.pool, "mapper_rp", install_mapper_tables) as mapper_schema,
        fresh_schema(pusher.pool, "auditlog_rp", install_auditlog_tables) as auditlog_schema,
    ):
        abm_store = MapperHarness(pusher.pool, mapper_schema)
        abm_store.tenant = pusher.tenant
        registry = TenantRegistry(pusher.pool)
        await registry.install()
        headers = await new_tenant_headers(registry, pusher.tenant)
        log = PostgresActivityLog(pusher.pool, auditlog_schema)
        published: list[OutgoingMessage] = []

        async def publish(messages: Any) -> None:
            published.extend(messages)

        mapper_app = web.Application(middlewares=[tenant_auth_middleware(registry)])
        add_mapper_api_routes(mapper_app, pusher.pool, mapper_schema)
        async with (
            aiohttp.ClientSession() as http,
            TestClient(TestServer(mapper_app)) as mapper,
        ):
            push_app = web.Application(middlewares=[tenant_auth_middleware(registry)])
            abm_records = AbmRecords(http, str(mapper.make_url("")).rstrip("/"))
            add_manual_push_routes(push_app, pusher.handlers, publish, abm_records)
            async with TestClient(TestServer(push_app)) as push_api:
                auditlog_app = tenant_api_app(registry)
                urls = {"pusher": str(push_api.make_url("")).rstrip("/"), "connector": "http://127.0.0.1:9"}
                add_run_routes(auditlog_app, pusher.pool, auditlog_schema, http, urls)
                async with TestClient(TestServer(auditlog_app)) as auditlog:
                    yield Chain(pusher, abm_store, auditlog, push_api, log, headers, http, published)


async def test_a_pushs_failed_records_are_pushed_again_by_a_retry_run_linked_to_it(chain: Chain) -> None:
    for n, name in enumerate(("retry-one", "retry-two")):
        record = {"name": name, "website": f"https://www.{name}.io/"}
        await chain.abm_store.change(SyncObject.ORGANIZATION, 900 + n, record)
    abm_ids = [(await chain.abm_store.account(f"{name}.io"))["abm_id"] for name in ("retry-one", "retry-two")]
    await chain.sandbox_refuses_every_call(True)
    selection = {"object": "organization", "records": [{"abm_id": a} for a in abm_ids]}
    pushed = await chain.push_api.post("/v1/push", json=selection, headers=chain.headers)
    assert pushed.status == 202, await pushed.text()
    await chain.deliver_published()
    first = await chain.run((await pushed.json())["run_id"])
    assert (first["status"], first["failed"]) == ("Error", 2)
    await chain.sandbox_refuses_every_call(False)

    answer = await chain.auditlog.post(f"/v1/runs/{first['run_id']}/retry", headers=chain.headers)
    assert answer.status == 202, await answer.text()
    await chain.deliver_published()

    retry = await chain.run((await answer.json())["data"]["run_id"])
    assert (retry["status"], retry["created"], retry["failed"]) == ("Success", 2, 0)
    assert (retry["links"]["retry_of"], retry["trigger"]) == (first["run_id"], "retry")
    assert (await chain.run(first["run_id"]))["links"]["retried_by"] == [retry["run_id"]]
    assert await chain.entries(retry["run_id"]) == sorted((a, "created") for a in abm_ids)
    assert [len(chain.pusher.organizations(f"{n}.io")) for n in ("retry-one", "retry-two")] == [
        1,
        1,
    ]
