"""Dry runs of an import: what the mapper would do with an import's changes, planned with the very
rules it applies them with (`plan_change` over a `BatchView`), against the ABM store as it stands, and
written nowhere. The connector's import preview streams the changes it would emit; the outcomes come back
counted per object, with the reasons of what would be skipped, for each duplicate handling asked for.

Changes are planned in the order given, each against the view earlier ones left (two organizations of one
domain in one import: the second finds the first), exactly as an import's batches are applied.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from mapper.planning import match_key_of, plan_change, tenant_rules
from mapper.ports import MapperStore
from mapper.source_changes_apply import BatchView, load_view
from schemas.envelope import deterministic_event_id
from schemas.events.common import RecordOutcome, SyncObject
from schemas.events.settings import TenantSettings
from schemas.events.source_changes import DuplicateHandling, ImportContext, SourceChange
from sync_rules.duplicates import summary_reason


@dataclass
class PlannedOutcomes:
    """What one duplicate handling would do: outcome counts and skip reasons, per object."""

    counts: dict[SyncObject, Counter[RecordOutcome]] = field(default_factory=dict)
    reasons: dict[SyncObject, Counter[str]] = field(default_factory=dict)

    def add(self, obj: SyncObject, outcome: RecordOutcome, message: str | None) -> None:
        """Count one planned change."""
        self.counts.setdefault(obj, Counter())[outcome] += 1
        if outcome in (RecordOutcome.SKIPPED, RecordOutcome.FAILED) and message:
            self.reasons.setdefault(obj, Counter())[summary_reason(message)] += 1

    def as_json(self) -> dict[str, dict[str, object]]:
        """`{object: {created, updated, unchanged, skipped, failed, reasons: {message: count}}}`."""
        return {
            obj.value: {
                **{outcome.value: self.counts[obj][outcome] for outcome in RecordOutcome},
                "reasons": dict(self.reasons.get(obj, Counter()).most_common()),
            }
            for obj in self.counts
        }


class _Plan:
    """One duplicate handling's dry run: its own view of the store, as the import would change it."""

    def __init__(self, handling: DuplicateHandling) -> None:
        self.handling = handling
        self.view = BatchView()
        self.outcomes = PlannedOutcomes()

    def as_handled(self, change: SourceChange) -> SourceChange:
        context = change.import_context or ImportContext(
            import_id="preview", duplicate_handling=self.handling
        )
        return change.model_copy(
            update={"import_context": context.model_copy(update={"duplicate_handling": self.handling})}
        )


async def plan_import(
    store: MapperStore,
    tenant: str,
    settings: TenantSettings | None,
    handlings: Sequence[DuplicateHandling],
    batches: AsyncIterator[Sequence[SourceChange]],
) -> dict[DuplicateHandling, PlannedOutcomes]:
    """Plan every change of the batches under each duplicate handling; nothing is written."""
    plans = [_Plan(h) for h in dict.fromkeys(handlings)]
    rules = tenant_rules(settings)
    async for batch in batches:
        for plan in plans:
            changes = [plan.as_handled(c) for c in batch]
            keyed = [(tenant, c, match_key_of(c, rules)) for c in changes]
            async with store.dry_run() as records:
                await load_view(records, keyed, plan.view, lock=False)
            for _, change, key in keyed:
                new_id = deterministic_event_id(
                    "abm-record", tenant, change.object.value, change.pipedrive_id
                )
                decided = plan_change(change, rules, plan.view.situation(tenant, change, key), new_id, key)
                plan.view.apply(tenant, change, decided)
                plan.outcomes.add(change.object, decided.outcome, decided.message)
    return {plan.handling: plan.outcomes for plan in plans}
