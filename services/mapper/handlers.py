"""One handler per event type the mapper applies; each effect commits with its inbox claim."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mapper.abm_signals import apply_company_revealed, apply_contact_enriched, apply_score_changed
from mapper.apply_runs import RunRef, RunsTallied, StartedRun, run_messages, started_message, tally_outcomes
from mapper.planning import Plan, PlanKind, TenantRules, tenant_rules
from mapper.ports import AbmRecords, MapperStore, MapperUnit, TenantSettingsSource
from mapper.push_completions import apply_push_completed
from mapper.record_results import result_message_of
from mapper.source_changes_apply import Applied, Item, apply_source_changes
from schemas.envelope import CloudEvent
from schemas.events.common import RecordOutcome
from schemas.events.push import PushCompleted
from schemas.events.settings import TenantSettings
from schemas.events.sync_runs import RunFinished, apply_run_id
from settings_replica.replica import settings_updated_batch
from stream_runner.messages import Handled, IncomingMessage, OutgoingMessage
from stream_runner.processor import BatchHandler, DeadLetterHandler, Handler, RepeatLookup

Effect = Callable[[MapperUnit], Awaitable[list[OutgoingMessage]]]
SignalEffect = Callable[[AbmRecords, str, Any, TenantSettings | None], Awaitable[None]]
"""An ABM signal applied to the store under the tenant's settings."""


class MapperHandlers:
    """The mapper's service layer: each handler claims the event, applies its effect, returns results."""

    def __init__(self, store: MapperStore, settings: TenantSettingsSource) -> None:
        self._store = store
        self._settings = settings

    def batch_handlers(self) -> Mapping[str, BatchHandler]:
        """The event types applied in batches (settings too: the skeleton reads them first with it)."""
        return {
            "psync.settings.updated": settings_updated_batch(self._settings),
            "psync.source.changed": self.source_changed_batch,
        }

    def dead_letter_handlers(self) -> Mapping[str, DeadLetterHandler]:
        """What the mapper records of an event it dead-letters."""
        return {"psync.source.changed": self.source_change_dead_lettered}

    def repeat_lookups(self) -> Mapping[str, RepeatLookup]:
        """The event types whose already-applied events (a replay, a redelivery) the consumer loop finds
        in the inbox before decoding them: their saved results are re-sent without a transaction."""
        return {"psync.source.changed": self._store.applied_outputs_of}

    def by_event_type(self) -> Mapping[str, Handler]:
        """The handlers of the event types applied one at a time (those in `batch_handlers` are applied
        with those, a lone event as a batch of one)."""
        return {
            "psync.push.completed": self.push_completed,
            "psync.run.finished": self.run_finished,
            "abm.company.revealed": self._signal(apply_company_revealed),
            "abm.contact.enriched": self._signal(apply_contact_enriched),
            "abm.score.changed": self._signal(apply_score_changed),
        }

    async def _once(self, event: CloudEvent[Any], message: IncomingMessage, effect: Effect) -> Handled:
        """Run `effect` once per event id; a redelivery re-sends the results it produced the first time."""
        async with self._store.unit() as unit:
            if not await unit.inbox.claim(event.tenantid, event.id, message.topic):
                return Handled(
                    outputs=await unit.inbox.saved_outputs(event.tenantid, event.id), duplicate=True
                )
            outputs = await effect(unit)
            if outputs:
                await unit.inbox.save_outputs(event.tenantid, event.id, outputs)
        return Handled(outputs=outputs)

    async def source_changed_batch(self, items: Sequence[Item]) -> list[Handled]:
        """Apply consecutive source changes in one transaction; one result per change.

        The batch is first applied as if none of its events was applied before (the usual case: the
        consumer loop sends known repeats again without calling this) and claimed last, each event's
        inbox row written once with its results. When the claim finds one applied before (a redelivery
        the loop did not know of), that transaction is rolled back and the batch applied again claiming
        first, which re-sends the saved results of the repeats. Each tenant's rules are worked out once
        for the batch, for the objects it changes."""
        tenants = {event.tenantid for event, _ in items}
        objects = {event.data.object for event, _ in items}
        rules = {tenant: tenant_rules(await self._settings.get(tenant), objects) for tenant in tenants}
        if distinct_events(items):
            try:
                async with self._store.unit() as unit:
                    return await self._apply_changes(unit, items, rules, claim_first=False)
            except AppliedBefore:
                pass
        async with self._store.unit() as unit:
            return await self._apply_changes(unit, items, rules, claim_first=True)

    async def _apply_changes(
        self,
        unit: MapperUnit,
        items: Sequence[Item],
        rules: Mapping[str, TenantRules],
        *,
        claim_first: bool,
    ) -> list[Handled]:
        applied = await apply_source_changes(unit, items, rules, claim_first=claim_first)
        handled, runs = handled_and_runs(items, applied)
        tallied = await unit.runs.add_applied(tally_outcomes(runs.outcomes))
        _attach_run_reports(items, runs.positions, handled, tallied)
        if claim_first:
            await unit.inbox.save_outputs_of(
                [
                    (e.tenantid, e.id, h.outputs)
                    for (e, _), h in zip(items, handled, strict=True)
                    if not h.duplicate
                ]
            )
            return handled
        claims = [(e.tenantid, e.id, m.topic, h.outputs) for (e, m), h in zip(items, handled, strict=True)]
        if not await unit.inbox.claim_all_with_outputs(claims):
            raise AppliedBefore()
        return handled

    async def push_completed(self, event: CloudEvent[Any], message: IncomingMessage) -> Handled:
        """Link an ABM record to the Pipedrive record the pusher created or updated for it, and keep the
        values the push wrote; a record the pusher found deleted in Pipedrive (404) is marked deleted in
        CRM."""
        pushed: PushCompleted = event.data
        settings = await self._settings.get(event.tenantid)

        async def effect(unit: MapperUnit) -> list[OutgoingMessage]:
            await apply_push_completed(unit.records, event.tenantid, pushed, settings, event.time)
            return []

        return await self._once(event, message, effect)

    async def source_change_dead_lettered(
        self, event: CloudEvent[Any], message: IncomingMessage, error: BaseException
    ) -> Handled:
        """A change that will not be applied: a failed result, and one failure counted in its run."""
        async with self._store.unit() as unit:
            saved = await unit.runs.claim_dead_letter(event.tenantid, event.id)
            if saved is not None:
                return Handled(outputs=saved, duplicate=True)
            failed = Plan(PlanKind.SKIP, RecordOutcome.FAILED, message=dead_lettered_message(error))
            outputs = [change_result(event, failed)]
            if event.correlationid is not None and belongs_to_reported_run(event):
                tally = tally_outcomes([((event.tenantid, event.correlationid), RecordOutcome.FAILED)])
                tallied = await unit.runs.add_applied(tally)
                ref, objects = (event.tenantid, event.correlationid), (event.data.object,)
                starts = [started_message(StartedRun(*ref, objects, at)) for _, at in tallied.started]
                outputs = [*starts, *outputs, *(m for run in tallied.completed for m in run_messages(run))]
            await unit.runs.save_dead_letter_outputs(event.tenantid, event.id, outputs)
        return Handled(outputs=outputs)

    async def run_finished(self, event: CloudEvent[Any], message: IncomingMessage) -> Handled:
        """Learn how many changes a connector run emitted; report the apply run if all are applied."""
        finished: RunFinished = event.data
        if finished.service != "connector" or finished.emitted is None:
            return Handled()

        async def effect(unit: MapperUnit) -> list[OutgoingMessage]:
            completed = await unit.runs.add_emitted(event.tenantid, finished)
            return [m for run in completed for m in run_messages(run)]

        return await self._once(event, message, effect)

    def _signal(self, apply: SignalEffect) -> Handler:
        async def handle(event: CloudEvent[Any], message: IncomingMessage) -> Handled:
            settings = await self._settings.get(event.tenantid)

            async def effect(unit: MapperUnit) -> list[OutgoingMessage]:
                await apply(unit.records, event.tenantid, event.data, settings)
                return []

            return await self._once(event, message, effect)

        return handle


class AppliedBefore(Exception):
    """A batch applied as if fresh holds an event applied before: its transaction is rolled back."""


def dead_lettered_message(error: BaseException) -> str:
    """The activity log's message of a change the mapper could not apply: what happened, what failed (for
    whoever looks into it) and what becomes of the change, so the admin reading the run knows it is not
    lost."""
    return (
        f"Could not be applied ({type(error).__name__}): kept in the mapper's dead letters, where an"
        " operator can re-drive it once the cause is fixed"
    )


def distinct_events(items: Sequence[Item]) -> bool:
    """Whether no event comes twice in the batch (a repeat within one batch is applied claiming first)."""
    return len({(event.tenantid, event.id) for event, _ in items}) == len(items)


def belongs_to_reported_run(event: CloudEvent[Any]) -> bool:
    """Whether a source change counts toward an apply run: it carries its connector run (a sync, an
    import, or the hourly window of a tenant's webhook changes), which ends with a RunFinished."""
    return event.correlationid is not None


def change_result(event: CloudEvent[Any], plan: Plan) -> OutgoingMessage:
    """The record result of a source change as `plan` decided it, filed under `result_run_id`."""
    return result_message_of(event, event.data, plan, result_run_id(event))


def result_run_id(event: CloudEvent[Any]) -> str | None:
    """The run a change's result is filed under in the activity log: the apply run of its connector run
    (or its correlation id, for a change of no reported run)."""
    if event.correlationid is not None and belongs_to_reported_run(event):
        return apply_run_id(event.correlationid)
    return event.correlationid


@dataclass(slots=True)
class BatchRuns:
    """The connector runs of a batch's changes applied now (not redeliveries): each change's outcome
    in its run (`tally_outcomes` counts them) and, per run, the positions of its changes in the batch."""

    outcomes: list[tuple[RunRef, RecordOutcome]] = field(default_factory=list)
    positions: dict[RunRef, list[int]] = field(default_factory=dict)


def handled_and_runs(items: Sequence[Item], applied: Sequence[Applied]) -> tuple[list[Handled], BatchRuns]:
    """Each change's handling (the result of its plan, or the saved results of a redelivery) and the
    batch's runs, in one pass over the batch (it runs for every change applied)."""
    handled: list[Handled] = []
    runs = BatchRuns()
    outcomes, positions = runs.outcomes, runs.positions
    for i, ((event, _), one) in enumerate(zip(items, applied, strict=True)):
        plan = one.plan
        if plan is None:
            handled.append(Handled(outputs=one.saved, duplicate=True))
            continue
        handled.append(Handled(outputs=[change_result(event, plan)]))
        if event.correlationid is not None:
            ref = (event.tenantid, event.correlationid)
            if (at := positions.get(ref)) is None:
                positions[ref] = [i]
            else:
                at.append(i)
            if belongs_to_reported_run(event):
                outcomes.append((ref, plan.outcome))
    return handled, runs


def _attach_run_reports(
    items: Sequence[Item], positions: Mapping[RunRef, list[int]], handled: list[Handled], tallied: RunsTallied
) -> None:
    """Put each run's start before the outputs of its first change in the batch, and each completed run's
    report after those of its last change (saved with them, so a redelivery re-sends them); `positions`
    holds each run's changes applied now, in the batch's order (`BatchRuns.positions`)."""
    for ref, at in tallied.started:
        first = positions[ref][0]
        objects = tuple(dict.fromkeys(items[i][0].data.object for i in positions[ref]))
        start = started_message(StartedRun(ref[0], ref[1], objects, at))
        handled[first] = Handled(outputs=[start, *handled[first].outputs])
    for run in tallied.completed:
        last = positions[(run.tenant, run.source_run_id)][-1]
        handled[last] = Handled(outputs=[*handled[last].outputs, *run_messages(run)])
