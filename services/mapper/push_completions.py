"""A push's result applied to the ABM store: the ABM record linked to the Pipedrive record the pusher
created or updated, a record Pipedrive answered 404 for marked deleted in CRM, and the values the push
wrote taken into the store at once (`mapper.pushed_versions`), so their echo from Pipedrive changes
nothing."""

from __future__ import annotations

from datetime import datetime

from mapper.planning import StoredLink, StoredRecord
from mapper.ports import AbmRecords
from mapper.pushed_versions import adopt_written_version
from schemas.events.common import RecordOutcome
from schemas.events.push import PushCompleted, WrittenVersion
from schemas.events.settings import TenantSettings

WRITTEN = frozenset({RecordOutcome.CREATED, RecordOutcome.UPDATED})


async def apply_push_completed(
    records: AbmRecords, tenant: str, pushed: PushCompleted, settings: TenantSettings | None, at: datetime
) -> None:
    """Link, mark deleted, or take the written version, as the result says (`at`: the result's time, the
    link's version when the result carries no written version)."""
    obj, pipedrive_id = pushed.object, pushed.pipedrive_id
    if pipedrive_id is None:
        return
    if pushed.written is not None and pushed.outcome in WRITTEN:
        await records.lock_match_keys([(tenant, obj, pushed.match_key)])
    abm_id = pushed.abm_id
    if abm_id is None:
        found = await records.record_by_key(tenant, obj, pushed.match_key)
        abm_id = found.abm_id if found is not None else None
    if pushed.deleted_in_pipedrive:
        await records.mark_deleted_in_crm(tenant, obj, pipedrive_id, abm_id, at)
        return
    if abm_id is None or pushed.outcome not in WRITTEN:
        return
    if pushed.written is not None:
        await _take_written_version(records, tenant, pushed, pushed.written, settings, abm_id)
    else:
        await records.link_if_unlinked(tenant, obj, pipedrive_id, abm_id, at)
    if pushed.outcome is RecordOutcome.CREATED:
        await records.mark_in_crm(tenant, obj, abm_id)


async def _take_written_version(
    records: AbmRecords,
    tenant: str,
    pushed: PushCompleted,
    written: WrittenVersion,
    settings: TenantSettings | None,
    abm_id: str,
) -> None:
    """Write the version's values over the linked ABM record (linking it first when it has no link) and
    advance the link to that version, unless the store applied it or a later one already."""
    obj, pipedrive_id = pushed.object, pushed.pipedrive_id
    assert pipedrive_id is not None
    key = (tenant, obj.value, pipedrive_id)
    row = (await records.links([key])).get(key)
    if row is None:
        await records.link_if_unlinked(tenant, obj, pipedrive_id, abm_id, written.update_time)
    link = None if row is None else StoredLink.of_row(row)
    target = abm_id if row is None else row["abm_id"]
    stored = await records.records_by_id(obj, [(tenant, target)])
    if not stored:
        return
    record = StoredRecord.of_row(stored[0])
    adoption = adopt_written_version(obj, written, settings, link, record)
    if adoption is None:
        return
    if adoption.changes:
        await records.update_record(tenant, obj, target, adoption.changes)
    if row is not None:
        merged = row["merged_into_id"]
        await records.save_links([(*key, target, adoption.version, row["deleted_in_crm"], merged)])
