"""The webhook receiver: `POST /webhooks/pipedrive/{tenant}` checks the tenant's Basic auth in constant
time, drops deliveries already accepted (by `meta.id`), queues the delivery as a hint and answers at once.
`HintReader` re-reads each hinted record through the client and emits what Pipedrive says now: payloads
are never trusted as data."""

from __future__ import annotations

import asyncio
import base64
import binascii
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from connector.api_support import ConnectorDeps, deps_of, json_error
from connector.cursors import new_versions
from connector.source_events import deleted, merged, record_digest, source_change_message, upserted
from connector.webhook_registration import credentials_match
from pipedrive_client import (
    BudgetExhausted,
    NotFound,
    PipedriveError,
    PipedriveUnavailable,
    RateLimitExceeded,
)
from pipedrive_client.models import Record
from pipedrive_client.resources import EntityResource
from schemas.events.common import SyncObject
from schemas.events.source_changes import ChangeOrigin, SourceChange
from service_runtime.http_inputs import PositiveId, read_json

_log = structlog.get_logger(__name__)


class DeliveryMeta(BaseModel):
    """The part of a v2 delivery's `meta` the receiver relies on."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=200)
    action: str = Field(max_length=50)
    entity: str = Field(max_length=50)
    entity_id: PositiveId
    timestamp: datetime | None = None
    merged_to_id: PositiveId | None = None


class Delivery(BaseModel):
    """A webhook delivery (only `meta` is read; `data` is a hint and ignored)."""

    model_config = ConfigDict(extra="ignore")

    meta: DeliveryMeta


def _basic_auth(request: web.Request) -> tuple[str, str]:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return user, password


async def receive_webhook(request: web.Request) -> web.Response:
    """Accept one delivery: authenticate, dedupe, queue the hint, answer 200."""
    deps, tenant = deps_of(request), request.match_info["tenant"]
    row = await deps.pool.fetchrow(
        f"SELECT webhook_user, webhook_secret_hash FROM {deps.schema}.tenant_settings WHERE tenant_id = $1",
        tenant,
    )
    user, password = _basic_auth(request)
    stored = (row["webhook_user"], row["webhook_secret_hash"]) if row else (None, None)
    if not credentials_match(user, password, *stored):
        raise json_error(
            401, "unauthorized", "Bad webhook credentials.", headers={"WWW-Authenticate": "Basic"}
        )
    delivery = await read_json(request, Delivery)
    meta = delivery.meta
    if meta.entity not in {o.value for o in SyncObject}:
        return web.json_response({"accepted": False, "reason": "entity not synced"})
    async with deps.pool.acquire() as conn, conn.transaction():
        fresh = await conn.fetchval(
            f"INSERT INTO {deps.schema}.webhook_deliveries (tenant_id, delivery_id) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING RETURNING true",
            tenant,
            meta.id,
        )
        if fresh:
            await conn.execute(
                f"INSERT INTO {deps.schema}.webhook_hints"
                " (tenant_id, object, pipedrive_id, action, merged_to_id, delivery_id)"
                " VALUES ($1, $2, $3, $4, $5, $6)",
                tenant,
                meta.entity,
                meta.entity_id,
                meta.action,
                meta.merged_to_id,
                meta.id,
            )
    if fresh:
        deps.hints_available.set()
    return web.json_response({"accepted": True, "duplicate": not fresh})


class HintReader:
    """Re-reads hinted records and emits their current state, one hint at a time, across replicas."""

    def __init__(self, deps: ConnectorDeps) -> None:
        self._deps = deps

    async def run(self, stop: asyncio.Event) -> None:
        """Worker: drain hints whenever some arrive (and every few seconds), until `stop`."""
        while not stop.is_set():
            self._deps.hints_available.clear()
            try:
                while await self.process_one():
                    pass
            except (BudgetExhausted, PipedriveUnavailable, RateLimitExceeded) as failure:
                _log.warning("webhook_hints_waiting", reason=str(failure))
            waiter = asyncio.ensure_future(self._deps.hints_available.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait([waiter, stopper], timeout=5, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()

    async def process_one(self) -> bool:
        """Handle the oldest hint nobody else holds; False when there is none."""
        deps = self._deps
        async with deps.pool.acquire() as conn, conn.transaction():
            hint = await conn.fetchrow(
                f"SELECT * FROM {deps.schema}.webhook_hints ORDER BY hint_id LIMIT 1 FOR UPDATE SKIP LOCKED"
            )
            if hint is None:
                return False
            try:
                await self._reread(hint["tenant_id"], SyncObject(hint["object"]), hint)
            except (BudgetExhausted, PipedriveUnavailable, RateLimitExceeded):
                raise
            except PipedriveError as failure:
                _log.warning("webhook_hint_dropped", tenant=hint["tenant_id"], reason=str(failure))
            await conn.execute(f"DELETE FROM {deps.schema}.webhook_hints WHERE hint_id = $1", hint["hint_id"])
        return True

    async def _reread(self, tenant: str, obj: SyncObject, hint: asyncpg.Record) -> None:
        deps = self._deps
        record_id: int = hint["pipedrive_id"]
        client = deps.factory.for_tenant(tenant)
        resources: dict[SyncObject, EntityResource[Any]] = {
            SyncObject.ORGANIZATION: client.organizations,
            SyncObject.PERSON: client.persons,
            SyncObject.DEAL: client.deals,
        }
        resource = resources[obj]
        now = datetime.fromtimestamp(deps.clock.now(), UTC).replace(microsecond=0)
        try:
            record: Record | None = await resource.get(record_id)
        except NotFound:
            record = None
        change: SourceChange | None
        digest: str | None = None  # of an upserted record's content
        if record is None or record.is_deleted:
            at = record.update_time.replace(microsecond=0) if record and record.update_time else now
            if hint["merged_to_id"]:
                change = merged(obj, record_id, hint["merged_to_id"], at, ChangeOrigin.WEBHOOK)
            elif hint["action"] == "delete":
                change = deleted(obj, record_id, at, ChangeOrigin.WEBHOOK)
            else:
                change = None
        else:
            assert record.update_time is not None
            stamp = record.update_time.replace(microsecond=0)
            body = record.model_dump(mode="json")
            digest = record_digest(body)
            emitted = await deps.cursors.emitted(tenant, obj, [record_id])
            fresh = new_versions([(record_id, (stamp, digest))], emitted)
            change = upserted(obj, body, stamp, ChangeOrigin.WEBHOOK) if fresh else None
        if change is None:
            return
        run_id = f"webhook-{hint['delivery_id']}"
        await deps.producer.send_all(
            [source_change_message(tenant, change, run_id=run_id, now=now, digest=digest)]
        )
        gone = change.action.value != "upserted"
        await deps.cursors.record_emitted(
            tenant, obj, [(record_id, (change.update_time, digest))], deleted=gone
        )
        _log.info("webhook_change_emitted", tenant=tenant, object=obj.value, action=change.action.value)


def add_webhook_routes(app: web.Application) -> None:
    """Mount the receiver (authenticated by Basic auth, not by tenant API keys)."""
    app.router.add_post("/webhooks/pipedrive/{tenant}", receive_webhook)
