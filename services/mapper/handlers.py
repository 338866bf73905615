"""One handler per event type the mapper applies; each effect commits with its inbox claim."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import asyncpg
from pydantic import BaseModel

from mapper.abm_signals import apply_company_revealed, apply_contact_enriched, apply_score_changed
from mapper.abm_store import AbmStore
from mapper.planning import Plan, PlanKind, Situation, match_key_of, plan_change
from postgres_store.inbox import Connection, claim_event, save_outputs, saved_outputs
from schemas.catalog import build_event
from schemas.envelope import CloudEvent, deterministic_event_id
from schemas.events.common import RecordOutcome, SyncObject
from schemas.events.push import PushCompleted
from schemas.events.record_results import RecordApplied
from schemas.events.source_changes import SourceChange
from schemas.keys import record_key
from schemas.topics import RECORD_RESULTS
from settings_replica.replica import SettingsReplica
from stream_runner.messages import Handled, IncomingMessage, OutgoingMessage
from stream_runner.processor import Handler

SOURCE = "/psync/mapper"
NO_KEY = "-"

Effect = Callable[[Connection], Awaitable[list[OutgoingMessage]]]


class MapperHandlers:
    """The mapper's service layer: each handler claims the event, applies its effect, returns results."""

    def __init__(self, pool: asyncpg.Pool, schema: str, settings: SettingsReplica) -> None:
        self._pool = pool
        self._schema = schema
        self._settings = settings
        self._store = AbmStore(schema)

    def by_event_type(self) -> Mapping[str, Handler]:
        """The handlers by event type."""
        return {
            "psync.settings.updated": self._settings.handler(),
            "psync.source.changed": self.source_changed,
            "psync.push.completed": self.push_completed,
            "abm.company.revealed": self._signal(apply_company_revealed),
            "abm.contact.enriched": self._signal(apply_contact_enriched),
            "abm.score.changed": self._signal(apply_score_changed),
        }

    async def _once(self, event: CloudEvent[Any], message: IncomingMessage, effect: Effect) -> Handled:
        """Run `effect` once per event id; a redelivery re-sends the results it produced the first time."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await claim_event(conn, self._schema, event.tenantid, event.id, message.topic):
                saved = await saved_outputs(conn, self._schema, event.tenantid, event.id)
                return Handled(outputs=[_from_saved(m) for m in saved], duplicate=True)
            outputs = await effect(conn)
            if outputs:
                await save_outputs(
                    conn, self._schema, event.tenantid, event.id, [_to_saved(m) for m in outputs]
                )
        return Handled(outputs=outputs)

    async def source_changed(self, event: CloudEvent[Any], message: IncomingMessage) -> Handled:
        """Apply one Pipedrive record version to the ABM store and report its outcome."""
        change: SourceChange = event.data
        tenant = event.tenantid
        settings = await self._settings.get(tenant)
        match_key = match_key_of(change, settings)

        async def effect(conn: Connection) -> list[OutgoingMessage]:
            situation = await self._situation(conn, tenant, change, match_key)
            new_id = deterministic_event_id("abm-record", tenant, change.object.value, change.pipedrive_id)
            plan = plan_change(change, settings, situation, new_id)
            await self._apply(conn, tenant, change, plan)
            return [self._result(event, change, plan)]

        return await self._once(event, message, effect)

    async def _situation(
        self, conn: Connection, tenant: str, change: SourceChange, match_key: str | None
    ) -> Situation:
        link = await self._store.link_of(conn, tenant, change.object, change.pipedrive_id)
        linked = await self._store.record(conn, tenant, change.object, link.abm_id) if link else None
        key_match = None
        if match_key is not None and (linked is None or change.import_context is not None):
            key_match = await self._store.record_by_key(conn, tenant, change.object, match_key)
        return Situation(link=link, linked_record=linked, key_match=key_match)

    async def _apply(self, conn: Connection, tenant: str, change: SourceChange, plan: Plan) -> None:
        store, obj, version = self._store, change.object, change.update_time
        if plan.kind is PlanKind.CREATE and plan.abm_id is not None:
            await store.create_record(
                conn, tenant, obj, plan.abm_id, plan.match_key, plan.fields, is_duplicate=plan.duplicate
            )
            await store.save_link(conn, tenant, obj, change.pipedrive_id, plan.abm_id, version)
        elif plan.kind is PlanKind.UPDATE and plan.abm_id is not None:
            if plan.fields:
                await store.update_record(conn, tenant, obj, plan.abm_id, plan.fields)
            await store.save_link(conn, tenant, obj, change.pipedrive_id, plan.abm_id, version)
        elif plan.kind is PlanKind.MARK_DELETED and plan.abm_id is not None:
            await store.mark_deleted_in_crm(conn, tenant, obj, plan.abm_id)
            await store.save_link(
                conn, tenant, obj, change.pipedrive_id, plan.abm_id, version, deleted_in_crm=True
            )
        elif plan.kind is PlanKind.MERGE and plan.abm_id is not None and change.merged_into_id is not None:
            await store.save_link(
                conn, tenant, obj, change.pipedrive_id, plan.abm_id, version,
                deleted_in_crm=True, merged_into_id=change.merged_into_id,
            )  # fmt: skip
            await store.link_if_unlinked(conn, tenant, obj, change.merged_into_id, plan.abm_id, version)

    def _result(self, event: CloudEvent[Any], change: SourceChange, plan: Plan) -> OutgoingMessage:
        match_key = plan.match_key or NO_KEY
        result = RecordApplied(
            object=change.object,
            match_key=match_key,
            pipedrive_id=change.pipedrive_id,
            abm_id=plan.abm_id,
            outcome=plan.outcome,
            message=plan.message,
            run_id=event.correlationid,
        )
        return _result_message(event, change.object, match_key, result)

    async def push_completed(self, event: CloudEvent[Any], message: IncomingMessage) -> Handled:
        """Link an ABM record to the Pipedrive record the pusher created or updated for it."""
        pushed: PushCompleted = event.data

        async def effect(conn: Connection) -> list[OutgoingMessage]:
            if (
                pushed.outcome not in {RecordOutcome.CREATED, RecordOutcome.UPDATED}
                or pushed.pipedrive_id is None
            ):
                return []
            abm_id = pushed.abm_id
            if abm_id is None:
                found = await self._store.record_by_key(conn, event.tenantid, pushed.object, pushed.match_key)
                abm_id = found.abm_id if found is not None else None
            if abm_id is not None:
                await self._store.link_if_unlinked(
                    conn, event.tenantid, pushed.object, pushed.pipedrive_id, abm_id, event.time
                )
            return []

        return await self._once(event, message, effect)

    def _signal(self, apply: Callable[[AbmStore, Connection, str, Any, str], Awaitable[None]]) -> Handler:
        async def handle(event: CloudEvent[Any], message: IncomingMessage) -> Handled:
            async def effect(conn: Connection) -> list[OutgoingMessage]:
                await apply(self._store, conn, event.tenantid, event.data, event.id)
                return []

            return await self._once(event, message, effect)

        return handle


def _result_message(
    event: CloudEvent[Any], obj: SyncObject, match_key: str, result: BaseModel
) -> OutgoingMessage:
    outgoing = build_event(
        result,
        tenant=event.tenantid,
        subject=record_key(event.tenantid, obj, match_key),
        source=SOURCE,
        id_parts=(event.id, "applied"),
        time=event.time,
        correlationid=event.correlationid,
        causationid=event.id,
    )
    return OutgoingMessage.of_event(RECORD_RESULTS.name, outgoing)


def _to_saved(message: OutgoingMessage) -> dict[str, Any]:
    # The value is kept as text: jsonb would reorder its keys, and a re-sent result must be byte-equal.
    return {"topic": message.topic, "key": message.key, "value": message.value.decode()}


def _from_saved(saved: Mapping[str, Any]) -> OutgoingMessage:
    return OutgoingMessage(topic=saved["topic"], key=saved["key"], value=saved["value"].encode())
