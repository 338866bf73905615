"""The manual-push API: mapping, a preview computed by the planner (no calls), confirmation publishing one
push request per record, and the batch's run ending after its last record."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from mapper.bootstrap import add_api_routes as add_mapper_api_routes
from mapper.bootstrap import install_tables as install_mapper_tables
from pusher.abm_records import AbmRecords
from pusher.manual_push_api import add_manual_push_routes
from schemas.codec import decode_event
from schemas.events.abm_signals import ContactEnriched
from schemas.events.common import SyncObject
from stream_runner.messages import OutgoingMessage
from tenant_auth.middleware import tenant_auth_middleware
from tenant_auth.registry import TenantRegistry
from tests.integration.mapper.conftest import MapperHarness
from tests.integration.pusher.conftest import PusherHarness, results_of
from tests.support.schemas import fresh_schema
from tests.support.tenants import Client, new_tenant_headers, tenant_api_client

pytestmark = pytest.mark.integration
ENRICHED_AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
async def abm_store(pusher: PusherHarness) -> AsyncIterator[tuple[MapperHarness, str]]:
    """The ABM store of the pusher's tenant (the mapper's handlers and its HTTP API, on a schema of its
    own), and the API's base URL."""
    async with fresh_schema(pusher.pool, "mapper_mp", install_mapper_tables) as schema:
        store = MapperHarness(pusher.pool, schema)
        store.tenant = pusher.tenant
        registry = TenantRegistry(pusher.pool)
        await registry.install()
        app = web.Application(middlewares=[tenant_auth_middleware(registry)])
        add_mapper_api_routes(app, pusher.pool, schema)
        server = TestServer(app)
        await server.start_server()
        yield store, str(server.make_url("")).rstrip("/")
        await server.close()


@pytest.fixture
async def api(
    pusher: PusherHarness, abm_store: tuple[MapperHarness, str]
) -> AsyncIterator[tuple[Client, dict[str, str], list[OutgoingMessage]]]:
    published: list[OutgoingMessage] = []

    async def send(messages: Sequence[OutgoingMessage]) -> None:
        published.extend(messages)

    async with aiohttp.ClientSession() as session:
        abm_records = AbmRecords(session, abm_store[1])
        routes = tenant_api_client(
            pusher.pool, lambda app: add_manual_push_routes(app, pusher.handlers, send, abm_records)
        )
        async with routes as (client, registry):
            yield client, await new_tenant_headers(registry, pusher.tenant), published


SELECTION: dict[str, Any] = {
    "object": "organization",
    "records": [
        {"abm_id": "a1", "fields": {"name": "New Co", "website": "https://newco.io"}},
        {"abm_id": "a2", "fields": {"name": "Known Co", "website": "known.io"}},
        {"abm_id": "a3", "fields": {"website": "nameless.io"}},
        {"abm_id": "a4", "fields": {"name": "No Site"}},
    ],
}


async def test_preview_shows_exact_changes_without_calling_pipedrive(
    api: tuple[Client, dict[str, str], list[OutgoingMessage]], pusher: PusherHarness
) -> None:
    client, headers, _ = api
    await pusher.mirror(SyncObject.ORGANIZATION, {"id": 7, "name": "", "website": "known.io"})

    response = await client.post("/v1/push/preview", json=SELECTION, headers=headers)

    assert response.status == 200
    body = await response.json()
    actions = [(r["action"], r.get("message")) for r in body["records"]]
    assert actions == [
        ("create", None),
        ("update", None),
        ("fail", "Required field missing: name"),
        ("skip", "No usable match key"),
    ]
    assert body["records"][1]["changes"] == {"name": {"from": "", "to": "Known Co"}}
    assert body["summary"] == {"create": 1, "update": 1, "unchanged": 0, "skip": 1, "fail": 1}
    assert pusher.calls() == 0


async def test_mapping_and_bad_input_get_clear_answers(
    api: tuple[Client, dict[str, str], list[OutgoingMessage]],
) -> None:
    client, headers, _ = api
    mapping = await (await client.get("/v1/push/mapping?object=organization", headers=headers)).json()
    assert {"abm_field": "name", "pipedrive_field": "name", "custom": False, "mode": "Fill"} in mapping[
        "fields"
    ]
    bad = await client.post("/v1/push/preview", json={"object": "planet", "records": []}, headers=headers)
    assert bad.status == 400
    body = await bad.json()
    assert body["error"] == "bad_request" and any(p.startswith("object") for p in body["problems"]), body
    assert body["message"] == "; ".join(body["problems"])
    unauthenticated = await client.post("/v1/push/preview", json=SELECTION)
    assert unauthenticated.status == 401
    # The mapping's query: before, any other name was ignored (`?objekt=person` answered organization's).
    for query, problem in (
        ("objekt=person", "objekt: Extra inputs"),
        ("object=planet", "object: Input should"),
    ):
        refused = await client.get(f"/v1/push/mapping?{query}", headers=headers)
        assert refused.status == 400, query
        assert any(p.startswith(problem) for p in (await refused.json())["problems"]), query


async def test_a_confirmed_push_publishes_requests_and_the_run_ends_after_the_last_record(
    api: tuple[Client, dict[str, str], list[OutgoingMessage]], pusher: PusherHarness
) -> None:
    client, headers, published = api
    selection = {**SELECTION, "records": SELECTION["records"][:3]}

    response = await client.post("/v1/push", json=selection, headers=headers)

    assert response.status == 202
    run_id = (await response.json())["run_id"]
    topics = [m.topic for m in published]
    assert topics == ["psync.sync-runs.v1"] + ["psync.push-requests.v1"] * 3
    outputs: list[OutgoingMessage] = []
    for message in published[1:]:
        event = decode_event(message.topic, message.value)
        handled = await pusher.deliver(event)
        outputs.extend(handled.outputs)
    finished = [orjson.loads(m.value)["data"] for m in outputs if m.topic == "psync.sync-runs.v1"]
    assert len(finished) == 1 and finished[0]["run_id"] == run_id
    assert finished[0]["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 1}
    assert finished[0]["status"] == "Warning" and finished[0]["tokens_spent"] == 10
    assert len(pusher.organizations("newco.io")) == 1  # a push writes the bare domain (DESIGN: websites)


def test_results_helper_reads_only_push_results() -> None:
    from stream_runner.messages import Handled

    assert results_of(Handled()) == []


async def test_records_named_by_abm_id_are_pushed_with_the_fields_the_abm_store_holds(
    api: tuple[Client, dict[str, str], list[OutgoingMessage]],
    abm_store: tuple[MapperHarness, str],
    pusher: PusherHarness,
) -> None:
    client, headers, published = api
    store, _ = abm_store
    await store.change(
        SyncObject.ORGANIZATION, 900, {"name": "Stored Co", "website": "https://www.stored.io/"}
    )
    stored = await store.account("stored.io")
    selection = {
        "object": "organization",
        "records": [
            {"abm_id": stored["abm_id"]},
            {"abm_id": "given-1", "fields": {"name": "Given Co", "website": "given.io"}},
        ],
    }

    preview = await (await client.post("/v1/push/preview", json=selection, headers=headers)).json()
    pushed = await client.post("/v1/push", json=selection, headers=headers)
    unknown = await client.post(
        "/v1/push", json={"object": "organization", "records": [{"abm_id": "nope"}]}, headers=headers
    )

    assert [(r["abm_id"], r["match_key"], r["action"]) for r in preview["records"]] == [
        (stored["abm_id"], "stored.io", "create"), ("given-1", "given.io", "create"),
    ]  # fmt: skip
    assert preview["records"][0]["changes"]["name"]["to"] == "Stored Co"
    assert pushed.status == 202
    requests = [orjson.loads(m.value)["data"] for m in published if m.topic == "psync.push-requests.v1"]
    assert [(r["abm_id"], r["match_key"], r["record"].get("name")) for r in requests] == [
        (stored["abm_id"], "stored.io", "Stored Co"), ("given-1", "given.io", "Given Co"),
    ]  # fmt: skip
    assert unknown.status == 400
    assert (await unknown.json())["problems"] == ["records.0.abm_id: no organization nope in the ABM store"]


async def test_a_record_without_fields_or_abm_id_is_refused(
    api: tuple[Client, dict[str, str], list[OutgoingMessage]],
) -> None:
    client, headers, _ = api

    response = await client.post(
        "/v1/push", json={"object": "organization", "records": [{"match_key": "x.io"}]}, headers=headers
    )

    assert response.status == 400
    assert "abm_id" in (await response.json())["message"]


async def test_a_field_the_object_has_not_or_a_value_of_another_kind_is_refused_and_nothing_happens(
    api: tuple[Client, dict[str, str], list[OutgoingMessage]], pusher: PusherHarness
) -> None:
    """Before, an unknown field was dropped unseen and `{"name": ["x"]}` was previewed as a create."""
    client, headers, published = api
    selection = {
        "object": "organization",
        "records": [
            {"abm_id": "fine", "fields": {"name": "Fine Co", "website": "fine.io"}},
            {"abm_id": "listed", "fields": {"name": ["x"], "website": "listed.io"}},
            {"abm_id": "coloured", "fields": {"name": "Co", "website": "coloured.io", "colour": "blue"}},
            {"abm_id": "counted", "fields": {"name": "Co", "website": "c.io", "employee_count": "many"}},
        ],
    }

    answers = [
        await client.post(path, json=selection, headers=headers) for path in ("/v1/push/preview", "/v1/push")
    ]

    for answer in answers:
        assert answer.status == 400
        body = await answer.json()
        assert body["error"] == "bad_request"
        assert (
            body["problems"][0]
            == "records.1.fields.name: name holds free text: give a string or null, not a list"
        )
        assert body["problems"][1].startswith(
            'records.2.fields.colour: ABM accounts have no field "colour"; expected one of: add_time,'
        )
        assert body["problems"][2] == (
            "records.3.fields.employee_count: employee_count holds a whole number: give a whole number or"
            " null, not a string"
        )
        assert len(body["problems"]) == 3
    assert published == []
    assert pusher.calls() == 0


async def test_a_contact_named_by_abm_id_is_pushed_with_the_fields_the_platform_keeps_on_it(
    api: tuple[Client, dict[str, str], list[OutgoingMessage]], abm_store: tuple[MapperHarness, str]
) -> None:
    """The console names its chosen records by ABM id: the store's fields, the platform's own
    `personal_email` included, are the store's and not refused as a caller's input."""
    client, headers, published = api
    store, _ = abm_store
    await store.send(ContactEnriched(email="Nora@Delta-rv.com", name="Nora Vale", enriched_at=ENRICHED_AT))
    [contact] = await store.rows("contacts")
    assert "personal_email" in contact["fields"]
    selection = {"object": "person", "records": [{"abm_id": contact["abm_id"]}]}

    preview = await client.post("/v1/push/preview", json=selection, headers=headers)
    pushed = await client.post("/v1/push", json=selection, headers=headers)

    assert preview.status == 200
    assert [r["match_key"] for r in (await preview.json())["records"]] == ["nora@delta-rv.com"]
    assert pushed.status == 202
    [request] = [orjson.loads(m.value)["data"] for m in published if m.topic == "psync.push-requests.v1"]
    assert request["record"]["name"] == "Nora Vale"
