"""The webhook receiver: `POST /webhooks/pipedrive/{tenant}` checks the tenant's Basic auth in constant
time, drops deliveries already accepted (by `meta.id`), queues the delivery as a hint and answers at once.
`HintReader` re-reads each hinted record through the client and emits what Pipedrive says now: payloads
are never trusted as data."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from connector.api_support import json_error
from connector.cursor_store import CursorStore
from connector.ports import WebhookDeliveries
from connector.record_versions import new_versions
from connector.source_events import deleted, merged, record_digest, source_change_message, upserted
from connector.webhook_hint_store import Hint, HintQueue
from connector.webhook_registration import credentials_match
from connector.webhook_run_store import WebhookRuns
from pipedrive_client import (
    BudgetExhausted,
    Clock,
    CredentialsUnreadable,
    NotFound,
    PipedriveClientFactory,
    PipedriveError,
    PipedriveUnavailable,
    RateLimitExceeded,
)
from pipedrive_client.models import Record
from pipedrive_client.resources import EntityResource
from schemas.events.common import SyncObject
from schemas.events.source_changes import ChangeOrigin, SourceChange
from service_runtime.http_inputs import PositiveId, read_json_document, validated
from stream_runner.errors import is_transient
from stream_runner.producer import EventProducer

_log = structlog.get_logger(__name__)
_LEASE = timedelta(seconds=120)
"""How long a taken hint is left to its reader before another may take it (longer than any re-read)."""
_BACKOFF = timedelta(seconds=30)
"""How long a tenant's hints wait after Pipedrive refused (429) or failed them, or its credentials did
not decrypt."""
_IDLE_WAKE_S = 5.0


def _log_drain_failure(task: asyncio.Task[None]) -> None:
    """Log a tenant's hint drain that died (the database away): its hint is taken up again later."""
    if not task.cancelled() and task.exception() is not None:
        _log.warning("webhook_hints_interrupted", worker=task.get_name(), exc_info=task.exception())


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


def _read_part(document: Any) -> Any:
    """The part of a delivery the receiver reads, its `meta`: the record in `data` (and `previous`) is a
    hint, never read, so a value there PostgreSQL could not hold (a NUL character someone typed in
    Pipedrive) is no reason to refuse the delivery."""
    if not isinstance(document, dict):
        return document
    return {"meta": document["meta"]} if "meta" in document else {}


def _basic_auth(request: web.Request) -> tuple[str, str]:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return user, password


@dataclass(frozen=True)
class WebhookReceiver:
    """What the receiver uses: the tenants' webhook credentials and deliveries, and the hint reader's
    wake-up."""

    store: WebhookDeliveries
    hints_available: asyncio.Event


RECEIVER = web.AppKey("webhook_receiver", WebhookReceiver)


async def receive_webhook(request: web.Request) -> web.Response:
    """Accept one delivery: authenticate, dedupe, queue the hint, answer 200."""
    receiver, tenant = request.app[RECEIVER], request.match_info["tenant"]
    stored = await receiver.store.credentials(tenant)
    user, password = _basic_auth(request)
    if not credentials_match(user, password, *stored):
        raise json_error(
            401, "unauthorized", "Bad webhook credentials.", headers={"WWW-Authenticate": "Basic"}
        )
    delivery = validated(Delivery, _read_part(await read_json_document(request)))
    meta = delivery.meta
    if meta.entity not in {o.value for o in SyncObject}:
        return web.json_response({"accepted": False, "reason": "entity not synced"})
    fresh = await receiver.store.accept(
        tenant, meta.id, meta.entity, meta.entity_id, meta.action, meta.merged_to_id
    )
    if fresh:
        receiver.hints_available.set()
    return web.json_response({"accepted": True, "duplicate": not fresh})


class HintReader:
    """Re-reads hinted records and emits their current state: each tenant's hints in order, tenants side by
    side, so one tenant's closed budget, 429s or unreadable credentials delay that tenant only; hints are
    leased, so several replicas share the queue and a replica that dies leaves its hint to another."""

    def __init__(
        self,
        queue: HintQueue,
        runs: WebhookRuns,
        factory: PipedriveClientFactory,
        cursors: CursorStore,
        producer: EventProducer,
        pool: asyncpg.Pool,
        clock: Clock,
        hints_available: asyncio.Event,
    ) -> None:
        self._queue = queue
        self.runs = runs
        self._factory = factory
        self._cursors = cursors
        self._producer = producer
        self._pool = pool  # a change's version and its run's count are stored in one transaction
        self._clock = clock
        self._hints_available = hints_available
        self._active: dict[str, asyncio.Task[None]] = {}

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    async def run(self, stop: asyncio.Event) -> None:
        """Worker: drain each tenant's hints whenever some arrive (and every few seconds), until `stop`."""
        while not stop.is_set():
            self._hints_available.clear()
            try:
                await self._start_tenants()
                await self.runs.close_ended(self._now(), _LEASE)
            except Exception as failure:  # the database away: try again at the next wake-up
                if not is_transient(failure):
                    raise
                _log.warning("webhook_hints_unavailable", error=f"{type(failure).__name__}: {failure}")
            waiter = asyncio.ensure_future(self._hints_available.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait([waiter, stopper], timeout=_IDLE_WAKE_S, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()
        if self._active:
            await asyncio.gather(*self._active.values(), return_exceptions=True)

    async def _start_tenants(self) -> None:
        self._active = {t: task for t, task in self._active.items() if not task.done()}
        for tenant in await self._queue.tenants_ready(self._now()):
            if tenant not in self._active:
                task = asyncio.create_task(self._drain(tenant), name=f"hints-{tenant}")
                task.add_done_callback(_log_drain_failure)
                self._active[tenant] = task

    async def _drain(self, tenant: str) -> None:
        while await self.process_one(tenant):
            pass

    async def process_one(self, tenant: str | None = None) -> bool:
        """Handle the oldest ready hint (of `tenant`, or of any tenant); False when there is none, or when
        the tenant had to be deferred (its budget closed, Pipedrive refusing or away, its credentials
        unreadable)."""
        now = self._now()
        hint = await self._queue.take(now, now + _LEASE, tenant)
        if hint is None:
            return False
        try:
            if (reopens := await self._factory.budget.closed_until(hint.tenant_id)) is not None:
                return await self._defer(hint, datetime.fromtimestamp(reopens, UTC), "budget closed")
            await self._reread(hint)
        except BudgetExhausted as exhausted:
            return await self._defer(hint, datetime.fromtimestamp(exhausted.resume_at, UTC), str(exhausted))
        except (RateLimitExceeded, PipedriveUnavailable, CredentialsUnreadable) as failure:
            return await self._defer(hint, self._now() + _BACKOFF, str(failure))
        except PipedriveError as failure:
            _log.warning("webhook_hint_dropped", tenant=hint.tenant_id, reason=str(failure))
        except Exception as failure:
            if is_transient(failure):  # the database or the broker away: the hint waits for them
                with contextlib.suppress(Exception):  # else it is taken up again after the lease
                    await self._queue.release(hint)
                raise
            # A hint is only a hint: the next scheduled sync reads the record anyway.
            _log.error("webhook_hint_dropped", tenant=hint.tenant_id, exc_info=failure)
        await self._queue.finish(hint)
        return True

    async def _defer(self, hint: Hint, until: datetime, reason: str) -> bool:
        await self._queue.defer_tenant(hint.tenant_id, until)
        _log.warning("webhook_hints_deferred", tenant=hint.tenant_id, until=until.isoformat(), reason=reason)
        return False

    async def _reread(self, hint: Hint) -> None:
        tenant, obj = hint.tenant_id, hint.object
        record_id = hint.pipedrive_id
        client = self._factory.for_tenant(tenant)
        resources: dict[SyncObject, EntityResource[Any]] = {
            SyncObject.ORGANIZATION: client.organizations,
            SyncObject.PERSON: client.persons,
            SyncObject.DEAL: client.deals,
        }
        resource = resources[obj]
        now = datetime.fromtimestamp(self._clock.now(), UTC).replace(microsecond=0)
        run_id = await self.runs.open(tenant, now)
        try:
            record: Record | None = await resource.get(record_id)
        except NotFound:
            record = None
        change: SourceChange | None
        digest: str | None = None  # of an upserted record's content
        if record is None or record.is_deleted:
            at = record.update_time.replace(microsecond=0) if record and record.update_time else now
            if hint.merged_to_id:
                change = merged(obj, record_id, hint.merged_to_id, at, ChangeOrigin.WEBHOOK)
            elif hint.action == "delete":
                change = deleted(obj, record_id, at, ChangeOrigin.WEBHOOK)
            else:
                change = None
        else:
            assert record.update_time is not None
            stamp = record.update_time.replace(microsecond=0)
            body = record.model_dump(mode="json")
            digest = record_digest(body)
            emitted = await self._cursors.emitted(tenant, obj, [record_id])
            fresh = new_versions([(record_id, (stamp, digest))], emitted)
            change = upserted(obj, body, stamp, ChangeOrigin.WEBHOOK) if fresh else None
        if change is None:
            await self.runs.count(tenant, run_id, emitted=0, tokens=client.tokens_spent)
            return
        await self._producer.send_all(
            [source_change_message(tenant, change, run_id=run_id, now=now, digest=digest)]
        )
        gone = change.action.value != "upserted"
        async with self._pool.acquire() as conn, conn.transaction():
            await self._cursors.record_emitted(
                tenant, obj, [(record_id, (change.update_time, digest))], deleted=gone, conn=conn
            )
            await self.runs.count(tenant, run_id, emitted=1, tokens=client.tokens_spent, conn=conn)
        _log.info("webhook_change_emitted", tenant=tenant, object=obj.value, action=change.action.value)


def add_webhook_routes(app: web.Application, receiver: WebhookReceiver) -> None:
    """Mount the receiver (authenticated by Basic auth, not by tenant API keys)."""
    app[RECEIVER] = receiver
    app.router.add_post("/webhooks/pipedrive/{tenant}", receive_webhook)
