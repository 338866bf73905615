"""Pushing what one event asks for: once per event id, under the record's lock, the results committed with
the event's inbox claim, so a redelivery or a replay re-sends the results and writes nothing. A push the
tenant's budget does not allow now raises `PushPaused` (the handlers park it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pipedrive_client import (
    BudgetExhausted,
    InvalidApiKey,
    PipedriveUnavailable,
    RateLimitExceeded,
    RequestRejected,
)
from pusher.auto_push_windows import count_in_window, outcome_counts
from pusher.parking import PauseKind, PushPaused, pause_for
from pusher.ports import PipedriveWriter, PusherStore, PushRuns, WritesFor
from pusher.push_scopes import PushScope
from pusher.record_pusher import PushDone, UpdateRejected, no_match_key, remember
from pusher.results import NO_KEY, result_message, run_finished_message, written_version
from schemas.envelope import CloudEvent
from schemas.events.common import RecordOutcome
from schemas.events.push import PushCompleted
from schemas.events.settings import TenantSettings
from stream_runner.messages import Handled, OutgoingMessage
from sync_rules.mappings import CustomFieldResolutionError

Work = Callable[[PipedriveWriter], Awaitable[list[PushDone]]]
"""The Pipedrive calls of one event's push (under the record lock), and their outcomes."""


class EventPushes:
    """Runs an event's push once and reports it: a result per record, and the counts of its run."""

    def __init__(self, store: PusherStore, writes_for: WritesFor) -> None:
        self._store = store
        self._writes_for = writes_for

    def writes(self, tenant: str) -> PipedriveWriter:
        """Calls to the tenant's Pipedrive outside a push (the manual-push preview's read of its users)."""
        return self._writes_for(tenant)

    async def run(
        self,
        event: CloudEvent[Any],
        topic: str,
        scope: PushScope,
        settings: TenantSettings | None,
        work: Work,
        redriving: bool,
    ) -> Handled:
        """Push once: an applied event re-sends its results; a tenant with parked pushes parks this one
        behind them (unless it is being re-driven)."""
        tenant = event.tenantid
        async with self._store.view() as view:
            saved = await view.inbox.applied_outputs(tenant, event.id)
        if saved is not None:
            return Handled(outputs=saved, duplicate=True)
        if not redriving and await self._store.parked.tenant_paused(tenant):
            raise PushPaused(datetime.now(UTC), "Waiting behind the tenant's paused pushes", PauseKind.QUEUED)
        if scope.match_key is None:
            done = PushDone(scope.object, None, RecordOutcome.SKIPPED, message=no_match_key(scope.given_key))
            return await self._commit(event, topic, scope, None, [done], 0)
        writes = self._writes_for(tenant)
        async with self._store.record_lock(tenant, scope.object, scope.match_key):
            dones = await _paused_or_failed(scope, lambda: work(writes))
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
        async with self._store.unit() as unit:
            if not await unit.inbox.claim(tenant, event.id, topic):
                saved = await unit.inbox.saved_outputs(tenant, event.id)
                return Handled(outputs=saved, duplicate=True)
            for done in dones:
                await remember(unit, tenant, done, settings, now)
            outputs = await self.results(unit.runs, event, scope, dones, tokens)
            await unit.inbox.save_outputs(tenant, event.id, outputs)
        return Handled(outputs=outputs)

    async def results(
        self,
        runs: PushRuns,
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
                written=written_version(done.outcome, done.record, done.body),
            )  # fmt: skip
            outputs.append(result_message(event, result, time=event.time, step=step))
        if scope.manual and scope.batch_size:
            outputs.extend(await count_in_batch(runs, event, scope, dones, tokens))
        elif not scope.manual:
            outputs.extend(await count_in_window(runs, event, scope.run_id, dones, tokens))
        return outputs


async def count_in_batch(
    runs: PushRuns, event: CloudEvent[Any], scope: PushScope, dones: list[PushDone], tokens: int
) -> list[OutgoingMessage]:
    """Add a manual push's outcomes to its batch's run; the batch's last record also ends the run."""
    assert scope.batch_size is not None
    await runs.open_batch(event.tenantid, scope.run_id, scope.batch_size, event.time)
    run = await runs.add(event.tenantid, scope.run_id, outcome_counts(dones), tokens)
    assert run is not None
    if run.finished or run.expected is None or run.counts.total < run.expected:
        return []
    await runs.mark_finished(event.tenantid, scope.run_id)
    return [
        run_finished_message(
            event.tenantid, scope.run_id, (scope.object,), run.started_at, datetime.now(UTC), run.counts,
            run.tokens,
        )
    ]  # fmt: skip


async def _paused_or_failed(
    scope: PushScope, work: Callable[[], Awaitable[list[PushDone]]]
) -> list[PushDone]:
    """Run the pushes; a closed budget pauses them, a refused credential or request fails the record (a
    refused update names the Pipedrive record it was for)."""
    try:
        return await work()
    except RateLimitExceeded as error:
        raise pause_for(5, str(error)) from error
    except BudgetExhausted as error:
        raise PushPaused(datetime.fromtimestamp(error.resume_at, UTC), str(error)) from error
    except PipedriveUnavailable as error:
        raise pause_for(5, str(error), PauseKind.UNAVAILABLE) from error
    except (InvalidApiKey, RequestRejected, CustomFieldResolutionError) as error:
        target = error.pipedrive_id if isinstance(error, UpdateRejected) else None
        return [PushDone(scope.object, scope.match_key, RecordOutcome.FAILED, target, message=str(error))]


def split_tokens(dones: list[PushDone], tokens: int) -> list[int]:
    """Tokens per result: each write costs its share; lookups (fields, search) go to the first record."""
    if not dones:
        return []
    written = [d.outcome in (RecordOutcome.CREATED, RecordOutcome.UPDATED) for d in dones]
    per_write = 5
    shares = [per_write if w else 0 for w in written]
    shares[0] += max(tokens - sum(shares), 0)
    return shares
