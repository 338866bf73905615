"""One handler per event type the pusher applies.

Source changes feed the mirror. ABM signals (when auto-push is on) and manual push requests become record
pushes: each runs under the record's lock, and its results are committed with the event's inbox claim, so
a redelivery or a replay re-sends the results and writes nothing. A push the tenant's budget does not
allow now is parked and re-driven later (`parking`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import asyncpg

from pipedrive_client import (
    BudgetExhausted,
    InvalidApiKey,
    PipedriveClientFactory,
    PipedriveUnavailable,
    RateLimitExceeded,
    RequestRejected,
)
from postgres_store.inbox import claim_event, save_outputs, saved_outputs, was_applied
from postgres_store.pool import Connection
from pusher.auto_push import auto_push_enabled, company_push, contact_push, organization_key
from pusher.auto_push_windows import add_to_run, count_in_window, counts_of, outcome_counts
from pusher.mirror import mirror_match_key
from pusher.parking import Origin, ParkedPushes, PauseKind, PushPaused, pause_for
from pusher.pipedrive_writes import PipedriveWrites
from pusher.push_ledger import is_echo_of, still_held
from pusher.push_scopes import PushScope, manual_record_push, push_scope
from pusher.record_pusher import NO_MATCH_KEY, PushDone, RecordPusher
from pusher.results import NO_KEY, result_message, run_finished_message
from pusher.score_push import ScorePush
from pusher.visit_activity import VISITED_PAGES, VisitActivities, visit_activity_body, visit_activity_wanted
from schemas.envelope import CloudEvent
from schemas.events.abm_signals import CompanyRevealed, ContactEnriched, ScoreChanged
from schemas.events.common import RecordOutcome, SyncObject
from schemas.events.push import PushCompleted
from schemas.events.settings import TenantSettings
from schemas.events.source_changes import ChangeAction, SourceChange
from settings_replica.replica import SettingsReplica, settings_updated
from stream_runner.messages import Handled, IncomingMessage, OutgoingMessage
from stream_runner.processor import Handler
from sync_rules.mappings import CustomFieldResolutionError

Work = Callable[[TenantSettings | None, PipedriveWrites], Awaitable[list[PushDone]]]


class PusherHandlers:
    """The pusher's service layer."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str,
        settings: SettingsReplica,
        clients: PipedriveClientFactory,
        pusher: RecordPusher,
        scores: ScorePush,
        parked: ParkedPushes,
        visits: VisitActivities,
    ) -> None:
        self._pool = pool
        self._schema = schema
        self._settings = settings
        self._clients = clients
        self.pusher = pusher
        self._scores = scores
        self.parked = parked
        self._visits = visits
        self._push_handlers: Mapping[str, Callable[[CloudEvent[Any], str, bool], Awaitable[Handled]]] = {
            "abm.company.revealed": self.company_revealed,
            "abm.contact.enriched": self.contact_enriched,
            "abm.score.changed": self.score_changed,
            "psync.push.requested": self.push_requested,
        }

    async def settings_of(self, tenant: str) -> TenantSettings | None:
        """The tenant's current settings (None before the connector published any)."""
        return await self._settings.get(tenant)

    def by_event_type(self) -> Mapping[str, Handler]:
        """The handlers by event type (pushes park themselves while the tenant's budget is closed)."""
        handlers: dict[str, Handler] = {
            "psync.settings.updated": settings_updated(self._settings),
            "psync.source.changed": self.source_changed,
        }
        for event_type in self._push_handlers:
            handlers[event_type] = self._parking(event_type)
        return handlers

    async def redrive(self, event: CloudEvent[Any], topic: str) -> Handled:
        """Run a parked push again (raises `PushPaused` when the budget is still closed)."""
        return await self._push_handlers[event.type](event, topic, True)

    def _parking(self, event_type: str) -> Handler:
        async def handle(event: CloudEvent[Any], message: IncomingMessage) -> Handled:
            try:
                return await self._push_handlers[event_type](event, message.topic, False)
            except PushPaused as pause:
                await self.parked.park(event, Origin.of(message), pause)
                return Handled()

        return handle

    async def source_changed(self, event: CloudEvent[Any], _message: IncomingMessage) -> Handled:
        """Mirror one Pipedrive record version; an echo of the pusher's own write is marked as such."""
        change: SourceChange = event.data
        tenant = event.tenantid
        settings = await self._settings.get(tenant)
        match_key = None
        if change.action is ChangeAction.UPSERTED and change.record is not None:
            match_key = mirror_match_key(change.object, change.record, settings)
        async with self._pool.acquire() as conn, conn.transaction():
            echo = await self._recognize_echo(conn, tenant, change)
            kept = await self.pusher.mirror.apply_change(conn, tenant, change, match_key, echo)
        return Handled(duplicate=not kept)

    async def _recognize_echo(self, conn: Connection, tenant: str, change: SourceChange) -> bool:
        """Whether the change is the echo of the pusher's last write; if it is a newer change by someone
        else, the written values it replaced are forgotten."""
        if change.record is None:
            return False
        ledger = self.pusher.ledger
        entry = await ledger.entry_by_pipedrive_id(conn, tenant, change.object, change.pipedrive_id)
        if entry is None:
            return False
        if is_echo_of(entry, change.record, change.update_time):
            return True
        held = still_held(entry, change.record, change.update_time)
        if held is not None:
            await ledger.keep_held(conn, tenant, change.object, entry.match_key, held)
        return False

    async def company_revealed(self, event: CloudEvent[Any], topic: str, redriving: bool) -> Handled:
        """Auto-push: a revealed company creates or updates its organization."""
        revealed: CompanyRevealed = event.data
        settings = await self._settings.get(event.tenantid)
        if not auto_push_enabled(settings):
            return Handled()
        job = company_push(revealed, settings)
        scope = push_scope(event, settings)

        async def work(settings: TenantSettings | None, writes: PipedriveWrites) -> list[PushDone]:
            done = await self.pusher.push(event.tenantid, job, settings, writes, manual=False)
            if visit_activity_wanted(settings, revealed, done) and done.pipedrive_id is not None:
                body = visit_activity_body(revealed, done.pipedrive_id)
                if await self._visits.add_once(event.tenantid, event.id, body, writes):
                    done = replace(done, fields_written=(*done.fields_written, VISITED_PAGES))
            return [done]

        return await self._push(event, topic, scope, work, redriving)

    async def contact_enriched(self, event: CloudEvent[Any], topic: str, redriving: bool) -> Handled:
        """Auto-push: an enriched contact creates or updates its person (linked to its organization)."""
        enriched: ContactEnriched = event.data
        tenant = event.tenantid
        settings = await self._settings.get(tenant)
        if not auto_push_enabled(settings):
            return Handled()
        scope = push_scope(event, settings)

        async def work(settings: TenantSettings | None, writes: PipedriveWrites) -> list[PushDone]:
            org_id = await self._organization_id(tenant, enriched.company_domain, settings)
            job = contact_push(enriched, org_id)
            return [await self.pusher.push(tenant, job, settings, writes, manual=False)]

        return await self._push(event, topic, scope, work, redriving)

    async def score_changed(self, event: CloudEvent[Any], topic: str, redriving: bool) -> Handled:
        """Auto-push: a score that moved by the threshold updates the organization and its open deals."""
        changed: ScoreChanged = event.data
        settings = await self._settings.get(event.tenantid)
        if not auto_push_enabled(settings):
            return Handled()
        scope = push_scope(event, settings)

        async def work(settings: TenantSettings | None, writes: PipedriveWrites) -> list[PushDone]:
            return await self._scores.push(event.tenantid, scope.match_key, changed.score, settings, writes)

        return await self._push(event, topic, scope, work, redriving)

    async def push_requested(self, event: CloudEvent[Any], topic: str, redriving: bool) -> Handled:
        """A confirmed manual push of one record (a record deleted in Pipedrive may be created again)."""
        job = manual_record_push(event.data)
        scope = push_scope(event, None)

        async def work(settings: TenantSettings | None, writes: PipedriveWrites) -> list[PushDone]:
            return [await self.pusher.push(event.tenantid, job, settings, writes, manual=True)]

        return await self._push(event, topic, scope, work, redriving)

    async def _organization_id(
        self, tenant: str, domain: str | None, settings: TenantSettings | None
    ) -> int | None:
        key = organization_key(domain, settings) if domain else None
        if key is None:
            return None
        async with self._pool.acquire() as conn:
            entry = await self.pusher.ledger.entry(conn, tenant, SyncObject.ORGANIZATION, key)
            if entry is not None and entry.pipedrive_id is not None and not entry.unresolved_intent:
                return entry.pipedrive_id
            found = await self.pusher.mirror.by_match_key(conn, tenant, SyncObject.ORGANIZATION, key)
        return found.pipedrive_id if found else None

    async def _push(
        self, event: CloudEvent[Any], topic: str, scope: PushScope, work: Work, redriving: bool
    ) -> Handled:
        tenant = event.tenantid
        async with self._pool.acquire() as conn:
            if await was_applied(conn, self._schema, tenant, event.id):
                saved = await saved_outputs(conn, self._schema, tenant, event.id)
                return Handled(outputs=saved, duplicate=True)
        if not redriving and await self.parked.tenant_paused(tenant):
            raise PushPaused(datetime.now(UTC), "Waiting behind the tenant's paused pushes", PauseKind.QUEUED)
        if scope.match_key is None:
            done = PushDone(scope.object, None, RecordOutcome.SKIPPED, message=NO_MATCH_KEY)
            return await self._commit(event, topic, scope, None, [done], 0)
        settings = await self._settings.get(tenant)
        writes = PipedriveWrites(self._clients.for_tenant(tenant))
        async with self.pusher.record_lock(tenant, scope.object, scope.match_key):
            dones = await _paused_or_failed(scope, lambda: work(settings, writes))
            return await self._commit(event, topic, scope, settings, dones, writes.tokens)

    async def _commit(
        self,
        event: CloudEvent[Any],
        topic: str,
        scope: PushScope,
        settings: TenantSettings | None,
        dones: list[PushDone],
        tokens: int,
    ) -> Handled:
        tenant, now = event.tenantid, datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            if not await claim_event(conn, self._schema, tenant, event.id, topic):
                saved = await saved_outputs(conn, self._schema, tenant, event.id)
                return Handled(outputs=saved, duplicate=True)
            for done in dones:
                await self.pusher.remember(conn, tenant, done, settings, now)
            outputs = await self._results(conn, event, scope, dones, tokens)
            await save_outputs(conn, self._schema, tenant, event.id, outputs)
        return Handled(outputs=outputs)

    async def give_up(self, conn: Connection, event: CloudEvent[Any], reason: str) -> list[OutgoingMessage]:
        """The failed result of a parked push that gave up, counted in its run. The event is not claimed:
        re-driving its dead letter applies it."""
        scope = push_scope(event, await self._settings.get(event.tenantid))
        done = PushDone(scope.object, scope.match_key, RecordOutcome.FAILED, message=reason)
        return await self._results(conn, event, scope, [done], 0, step="gave-up")

    async def _results(
        self,
        conn: Connection,
        event: CloudEvent[Any],
        scope: PushScope,
        dones: list[PushDone],
        tokens: int,
        step: str = "pushed",
    ) -> list[OutgoingMessage]:
        """One result per record, and the counts of the run (manual batch or auto-push window)."""
        outputs: list[OutgoingMessage] = []
        for done, spent in zip(dones, split_tokens(dones, tokens), strict=True):
            result = PushCompleted(
                object=done.object, match_key=done.match_key or NO_KEY,
                abm_id=scope.abm_id if done.object is scope.object else None, outcome=done.outcome,
                pipedrive_id=done.pipedrive_id, fields_written=done.fields_written, tokens_spent=spent,
                message=done.message, run_id=scope.run_id, deleted_in_pipedrive=done.deleted_in_pipedrive,
            )  # fmt: skip
            outputs.append(result_message(event, result, time=event.time, step=step))
        if scope.manual and scope.batch_size:
            outputs.extend(await self._count_run(conn, event, scope, dones, tokens))
        elif not scope.manual:
            outputs.extend(await count_in_window(conn, self._schema, event, scope.run_id, dones, tokens))
        return outputs

    async def _count_run(
        self, conn: Connection, event: CloudEvent[Any], scope: PushScope, dones: list[PushDone], tokens: int
    ) -> list[OutgoingMessage]:
        table = f"{self._schema}.push_runs"
        await conn.execute(
            f"INSERT INTO {table} (tenant_id, run_id, kind, expected, started_at)"
            " VALUES ($1, $2, 'push', $3, $4)"
            " ON CONFLICT DO NOTHING",
            event.tenantid, scope.run_id, scope.batch_size, event.time,
        )  # fmt: skip
        row = await add_to_run(
            conn, self._schema, event.tenantid, scope.run_id, outcome_counts(dones), tokens
        )
        assert row is not None
        run_counts = counts_of(row)
        if row["finished"] or row["expected"] is None or run_counts.total < row["expected"]:
            return []
        await conn.execute(
            f"UPDATE {table} SET finished = true WHERE tenant_id = $1 AND run_id = $2",
            event.tenantid,
            scope.run_id,
        )
        return [
            run_finished_message(
                event.tenantid, scope.run_id, (scope.object,), row["started_at"], datetime.now(UTC),
                run_counts, row["tokens"],
            )
        ]  # fmt: skip


async def _paused_or_failed(
    scope: PushScope, work: Callable[[], Awaitable[list[PushDone]]]
) -> list[PushDone]:
    """Run the pushes; a closed budget pauses them, a refused credential or request fails the record."""
    try:
        return await work()
    except RateLimitExceeded as error:
        raise pause_for(5, str(error)) from error
    except BudgetExhausted as error:
        raise PushPaused(datetime.fromtimestamp(error.resume_at, UTC), str(error)) from error
    except PipedriveUnavailable as error:
        raise pause_for(5, str(error), PauseKind.UNAVAILABLE) from error
    except (InvalidApiKey, RequestRejected, CustomFieldResolutionError) as error:
        return [PushDone(scope.object, scope.match_key, RecordOutcome.FAILED, message=str(error))]


def split_tokens(dones: list[PushDone], tokens: int) -> list[int]:
    """Tokens per result: each write costs its share; lookups (fields, search) go to the first record."""
    if not dones:
        return []
    written = [d.outcome in (RecordOutcome.CREATED, RecordOutcome.UPDATED) for d in dones]
    per_write = 5
    shares = [per_write if w else 0 for w in written]
    shares[0] += max(tokens - sum(shares), 0)
    return shares
