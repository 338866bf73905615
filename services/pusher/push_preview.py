"""The manual-push preview: what a push of a selection would do, record by record, decided by the same
planner a push runs (no write; Pipedrive's users are read once when an owner email is to be matched)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pusher.auto_push import RecordPush
from pusher.planning import PipedriveRecord, PushAction, PushInput, PushPlan, comparable_fields, plan_push
from pusher.record_pusher import NO_MATCH_KEY, RecordPusher
from schemas.events.common import SyncObject
from schemas.events.settings import TenantSettings
from sync_rules.mapping_resolution import push_mappings


async def preview_pushes(
    pusher: RecordPusher,
    tenant: str,
    obj: SyncObject,
    jobs: Sequence[RecordPush],
    settings: TenantSettings | None,
    users_by_email: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Each record's action, Pipedrive id, changes (from, to) and message, and how many of each action;
    owners matched against `users_by_email` (Pipedrive's users, read by the caller when needed)."""
    items, counts = [], {action.value: 0 for action in PushAction}
    for job in jobs:
        item = {
            "abm_id": job.abm_id,
            "match_key": job.match_key,
            **await _preview(pusher, tenant, job, settings, users_by_email),
        }
        counts[item["action"]] += 1
        items.append(item)
    return {"object": obj.value, "summary": counts, "records": items}


async def _preview(
    pusher: RecordPusher,
    tenant: str,
    job: RecordPush,
    settings: TenantSettings | None,
    users_by_email: Mapping[str, int] | None,
) -> dict[str, Any]:
    if job.match_key is None:
        return {"action": "skip", "message": NO_MATCH_KEY}
    entry = await pusher.entry(tenant, job.object, job.match_key)
    given = await pusher.plan(
        tenant, job, entry, settings, None, manual=True, users_by_email=users_by_email or {}
    )
    plan = plan_push(given)
    target = written_record(given, plan)
    before = comparable_fields(target.record, push_mappings(settings, job.object)) if target else {}
    changes = {f: {"from": before.get(f), "to": job.fields.get(f)} for f in plan.fields_written}
    return {
        "action": plan.action.value,
        "pipedrive_id": plan.pipedrive_id,
        "changes": changes,
        "message": plan.message,
    }


def written_record(given: PushInput, plan: PushPlan) -> PipedriveRecord | None:
    """The Pipedrive record the plan writes to (its values are the changes' "from"): none for a create,
    even where a record deleted in Pipedrive is linked (a manual push creates it anew)."""
    if plan.action is PushAction.CREATE:
        return None
    candidates = (given.linked, given.key_match)
    return next((r for r in candidates if r is not None and r.pipedrive_id == plan.pipedrive_id), None)
