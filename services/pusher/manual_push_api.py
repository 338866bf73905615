"""The manual-push HTTP API, per tenant (the tenant middleware authenticates every call).

    GET  /v1/push/mapping?object=organization   the field mapping a push uses (mode per field)
    POST /v1/push/preview   {object, records}    the exact changes, computed by the planner, nothing written
    POST /v1/push           {object, records}    publishes one push request per record; 202 with the run id

A push with `retry: {of, attempt}` is the activity log's retry of a run's failed records (the auditlog's
`POST /v1/runs/{id}/retry` sends it): its run id is `schemas.events.sync_runs.retry_run_id(of, attempt)`
and its start names the run it retries. Its push requests' event ids derive from that run id, so the same
retry sent twice pushes each record once.

A record is `{abm_id?, match_key?, fields?}` with fields by ABM field name; without a match key it is
taken from the website (organizations) or the email (persons). A given field the object's ABM records do
not have, or a value not of the field's kind (`sync_rules.record_fields`), is a 400 naming it, and nothing
of the request is previewed or pushed. A record named by `abm_id` alone is read from the ABM store (the
mapper's API, as the caller) and pushed with the fields stored there, which are the store's, not checked:
the console names the records it pushes so.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipedrive_client import PipedriveError
from pipedrive_client.http_answers import pipedrive_failure
from pusher.abm_records import AbmRecord, AbmRecords, AbmStoreUnavailable
from pusher.auto_push import RecordPush
from pusher.handlers import PusherHandlers
from pusher.push_preview import preview_pushes
from pusher.push_scopes import manual_record_push
from pusher.record_pusher import NO_MATCH_KEY, needs_pipedrive_users
from pusher.results import run_started_message
from schemas import sources
from schemas.catalog import build_event
from schemas.events.common import SyncObject
from schemas.events.push import PushRequested
from schemas.events.settings import TenantSettings
from schemas.events.sync_runs import RunKind, retry_run_id
from schemas.keys import record_key
from schemas.topics import PUSH_REQUESTS
from service_runtime.http_errors import bad_request, json_error
from service_runtime.http_inputs import read_json, read_query
from stream_runner.messages import OutgoingMessage
from sync_rules.mapping_resolution import object_switches, push_mappings
from sync_rules.record_fields import record_field_problems
from tenant_auth.middleware import tenant_of

HANDLERS = web.AppKey("push_handlers", PusherHandlers)
Send = Callable[[Sequence[OutgoingMessage]], Awaitable[None]]
SEND: web.AppKey[Send] = web.AppKey("push_send")
ABM_RECORDS = web.AppKey("abm_records", AbmRecords)
MAX_RECORDS = 1000


class PushRecordIn(BaseModel):
    """One selected account or contact: its fields, or its ABM id alone to push it as the store holds it."""

    model_config = ConfigDict(extra="forbid")

    abm_id: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^[^,\s]+$")
    match_key: str | None = Field(default=None, min_length=1, max_length=320)
    fields: dict[str, Any] | None = Field(
        default=None,
        description="The record by ABM field name: only the fields the object's ABM records have (those a"
        " field mapping may name), each value of the field's kind or null: text a string, counts a whole"
        " number, amounts a number, dates and times a string, the owner an email or a Pipedrive user id,"
        " linked records a Pipedrive id; anything else is a 400 naming the field",
    )

    @model_validator(mode="after")
    def _fields_or_abm_id(self) -> PushRecordIn:
        if self.fields is None and self.abm_id is None:
            raise ValueError("give the record's fields, or its abm_id to push it as the ABM store holds it")
        return self


class RetryOf(BaseModel):
    """The run whose failed records this push retries, and which retry of it this is."""

    model_config = ConfigDict(extra="forbid")

    of: str = Field(min_length=1, max_length=300, pattern=r"^[^\s/]+$")
    attempt: int = Field(ge=1, le=10_000)


class MappingQuery(BaseModel):
    """The query string of the push mapping."""

    model_config = ConfigDict(extra="forbid")

    object: SyncObject = Field(default=SyncObject.ORGANIZATION)


class PushBatchIn(BaseModel):
    """A selection to preview or push."""

    model_config = ConfigDict(extra="forbid")

    object: SyncObject
    records: list[PushRecordIn] = Field(min_length=1, max_length=MAX_RECORDS)
    requested_by: str | None = Field(default=None, max_length=320)
    retry: RetryOf | None = None


async def _batch(request: web.Request) -> PushBatchIn:
    """The selection, with the records named by ABM id alone read from the ABM store."""
    batch = await read_json(request, PushBatchIn)
    refused = _given_field_problems(batch)
    if refused:
        raise bad_request(refused)
    named = [r.abm_id for r in batch.records if r.fields is None and r.abm_id is not None]
    if not named:
        return batch
    try:
        stored = await request.app[ABM_RECORDS].by_ids(
            batch.object, named, request.headers.get("Authorization", "")
        )
    except AbmStoreUnavailable as failure:
        raise json_error(502, "abm_store_unavailable", str(failure)) from failure
    missing = [
        f"records.{i}.abm_id: no {batch.object.value} {r.abm_id} in the ABM store"
        for i, r in enumerate(batch.records)
        if r.fields is None and r.abm_id not in stored
    ]
    if missing:
        raise bad_request(missing)
    return batch.model_copy(update={"records": [_filled(r, stored) for r in batch.records]})


def _given_field_problems(batch: PushBatchIn) -> list[str]:
    """`records.<i>.fields.<name>: problem` for each given field the object's records do not have or whose
    value is not of the field's kind (fields read from the ABM store are the store's, not checked)."""
    return [
        f"records.{index}.fields.{name}: {problem}"
        for index, record in enumerate(batch.records)
        for name, problem in record_field_problems(batch.object, record.fields or {}).items()
    ]


def _filled(record: PushRecordIn, stored: Mapping[str, AbmRecord]) -> PushRecordIn:
    if record.fields is not None or record.abm_id is None:
        return record
    found = stored[record.abm_id]
    return record.model_copy(
        update={"fields": dict(found.fields), "match_key": record.match_key or found.match_key}
    )


def _record_push(obj: SyncObject, record: PushRecordIn, settings: TenantSettings | None) -> RecordPush:
    fields = record.fields or {}
    natural = fields.get("website" if obj is SyncObject.ORGANIZATION else "email")
    raw_key = record.match_key or (natural if isinstance(natural, str) else None)
    request = PushRequested(
        object=obj, match_key=raw_key or "-", abm_id=record.abm_id, record=fields, batch_id="preview"
    )
    job = manual_record_push(request, settings)
    return job if raw_key else RecordPush(obj, None, fields, record.abm_id)


async def show_mapping(request: web.Request) -> web.Response:
    """The fields a push of one object writes, with their modes and the object's switches."""
    obj = read_query(request, MappingQuery).object
    settings = await request.app[HANDLERS].settings_of(tenant_of(request))
    switches = object_switches(settings, obj)
    fields = [
        {
            "abm_field": m.abm_field,
            "pipedrive_field": m.pipedrive_key,
            "custom": m.custom,
            "mode": m.modes.to_pipedrive.label,
        }
        for m in push_mappings(settings, obj)
    ]
    return web.json_response({"object": obj.value, "directions": switches.model_dump(), "fields": fields})


async def preview(request: web.Request) -> web.Response:
    """What a push of the selection would do, record by record (no write). Where an owner email is to be
    matched, Pipedrive's users are read once, so the preview shows the owner change the push makes."""
    batch = await _batch(request)
    tenant = tenant_of(request)
    handlers = request.app[HANDLERS]
    settings = await handlers.settings_of(tenant)
    jobs = [_record_push(batch.object, record, settings) for record in batch.records]
    users = None
    if any(job.match_key is not None and needs_pipedrive_users(job, settings) for job in jobs):
        try:
            users = await handlers.users_by_email(tenant)
        except PipedriveError as failure:
            raise pipedrive_failure(failure) from failure
    previewed = await preview_pushes(handlers.pusher, tenant, batch.object, jobs, settings, users)
    return web.json_response(previewed)


async def push(request: web.Request) -> web.Response:
    """Publish the confirmed selection as push requests (one per record) and the run's start."""
    batch = await _batch(request)
    tenant = tenant_of(request)
    settings = await request.app[HANDLERS].settings_of(tenant)
    jobs = [_record_push(batch.object, r, settings) for r in batch.records]
    keyless = [str(i) for i, job in enumerate(jobs) if job.match_key is None]
    if keyless:
        raise bad_request([f"records.{i}: {NO_MATCH_KEY} (a website or an email)" for i in keyless])
    retry_of = batch.retry.of if batch.retry else None
    run_id = retry_run_id(batch.retry.of, batch.retry.attempt) if batch.retry else f"push-{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    messages = [run_started_message(tenant, run_id, (batch.object,), now, RunKind.PUSH, retry_of)]
    for index, job in enumerate(jobs):
        assert job.match_key is not None
        command = PushRequested(
            object=batch.object, match_key=job.match_key, abm_id=job.abm_id, record=dict(job.fields),
            batch_id=run_id, requested_by=batch.requested_by, batch_size=len(jobs),
        )  # fmt: skip
        event = build_event(
            command, tenant=tenant, subject=record_key(tenant, batch.object, job.match_key),
            source=sources.MANUAL_PUSH, id_parts=(run_id, index), time=now, correlationid=run_id,
        )  # fmt: skip
        messages.append(OutgoingMessage.of_event(PUSH_REQUESTS.name, event))
    await request.app[SEND](messages)
    return web.json_response({"run_id": run_id, "records": len(jobs)}, status=202)


def add_manual_push_routes(
    app: web.Application,
    handlers: PusherHandlers,
    send: Callable[[Sequence[OutgoingMessage]], Awaitable[None]],
    abm_records: AbmRecords,
) -> None:
    """Mount the API on the service's application."""
    app[HANDLERS] = handlers
    app[SEND] = send
    app[ABM_RECORDS] = abm_records
    app.router.add_get("/v1/push/mapping", show_mapping)
    app.router.add_post("/v1/push/preview", preview)
    app.router.add_post("/v1/push", push)
