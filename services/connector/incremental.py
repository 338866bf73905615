"""The incremental sync of one tenant: per object, `updated_since = cursor - overlap`, sorted by
update_time, pages of 500; only versions newer than the last emitted are emitted; the cursor moves only
after Kafka acknowledged the page. Deleted deals come from `status=deleted`; deleted organizations and
persons from a periodic reconciliation of ids. Never `/v1/recents`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from connector.cursors import Version, new_versions, read_from
from connector.source_events import deleted, record_digest, source_change_message, upserted
from connector.sync_runs import ALL_OBJECTS, RunContext
from pipedrive_client import ListFilters
from pipedrive_client.models import Record
from pipedrive_client.resources import EntityResource
from schemas.events.common import SyncObject
from schemas.events.source_changes import ChangeOrigin, ImportContext


def resource_of(context: RunContext, obj: SyncObject) -> EntityResource[Any]:
    """The client resource of an object kind."""
    client = context.client
    resources: dict[SyncObject, EntityResource[Any]] = {
        SyncObject.ORGANIZATION: client.organizations,
        SyncObject.PERSON: client.persons,
        SyncObject.DEAL: client.deals,
    }
    return resources[obj]


async def run_sync(context: RunContext) -> None:
    """Read every object's changes since its cursor, then reconcile ids when due."""
    for obj in ALL_OBJECTS:
        first_read = await context.cursors.cursor(context.tenant, obj) is None
        await sync_object(context, obj)
        if obj is SyncObject.DEAL:
            await sync_deleted_deals(context)
        elif first_read:
            await context.cursors.mark_reconciled(context.tenant, obj, context.now())
        else:
            await reconcile_if_due(context, obj)


async def sync_object(context: RunContext, obj: SyncObject) -> None:
    """Emit every new version of the object since its cursor (minus the overlap)."""
    since = read_from(await context.cursors.cursor(context.tenant, obj), context.options.overlap_seconds)
    filters = ListFilters(updated_since=since, sort_by="update_time", sort_direction="asc")
    resource = resource_of(context, obj)
    page_cursor: str | None = None
    while True:
        page = await resource.list_page(filters, page_cursor, context.options.page_size)
        await emit_versions(context, obj, page.items, ChangeOrigin.POLL)
        await context.checkpoint()
        if page.next_cursor is None:
            return
        page_cursor = page.next_cursor


async def emit_versions(
    context: RunContext,
    obj: SyncObject,
    records: Sequence[Record],
    origin: ChangeOrigin,
    import_context: ImportContext | None = None,
) -> int:
    """Emit the records' versions not emitted before, wait for the acks, then store them, the moved cursor
    and the run's counts at once; returns how many were emitted. Imports emit every record read (their
    own event ids) and move no cursor."""
    dated = [r for r in records if r.update_time is not None]
    context.run.counts.failed += len(records) - len(dated)
    emitted = await context.cursors.emitted(context.tenant, obj, [r.id for r in dated])
    read = [(r, r.model_dump(mode="json")) for r in dated]
    versions = [(r.id, (_stamp(r), record_digest(body))) for r, body in read]
    fresh = dict(new_versions(versions, emitted) if import_context is None else versions)
    chosen = [
        (r, body, version)
        for (r, body), (_, version) in zip(read, versions, strict=True)
        if fresh.get(r.id) == version
    ]
    now = context.now()
    messages = [
        source_change_message(
            context.tenant,
            upserted(obj, body, at, origin, import_context),
            run_id=context.run.run_id,
            now=now,
            digest=digest,
        )
        for _, body, (at, digest) in chosen
    ]
    await context.emit(messages)
    counts = context.run.counts
    counts.created += sum(1 for r, _, _ in chosen if r.id not in emitted)
    counts.updated += sum(1 for r, _, _ in chosen if r.id in emitted)
    counts.skipped += len(dated) - len(chosen)
    newest = max((_stamp(r) for r in dated), default=None)
    if import_context is None:
        await context.record_page(obj, list(fresh.items()), advance_to=newest)
    else:
        # An import's counts are stored with its page cursor (after the page), so that a page emitted
        # again after a crash is counted once.
        await context.cursors.record_emitted(context.tenant, obj, list(fresh.items()))
    return len(messages)


async def sync_deleted_deals(context: RunContext) -> None:
    """Emit deals deleted since the deal cursor (Pipedrive lists them for 30 days)."""
    cursor = await context.cursors.cursor(context.tenant, SyncObject.DEAL)
    filters = ListFilters(updated_since=read_from(cursor, context.options.overlap_seconds), status="deleted")
    page_cursor: str | None = None
    while True:
        page = await context.client.deals.list_page(filters, page_cursor, context.options.page_size)
        dated: list[tuple[int, Version]] = [
            (d.id, (_stamp(d), None)) for d in page.items if d.update_time is not None
        ]
        emitted = await context.cursors.emitted(context.tenant, SyncObject.DEAL, [i for i, _ in dated])
        fresh = new_versions(dated, emitted)
        await _emit_deletes(context, SyncObject.DEAL, fresh, ChangeOrigin.POLL)
        await context.checkpoint()
        if page.next_cursor is None:
            return
        page_cursor = page.next_cursor


async def reconcile_if_due(context: RunContext, obj: SyncObject) -> None:
    """List every id of the object when a reconciliation is due; ids emitted as live but no longer
    listed were deleted (or merged away) in Pipedrive."""
    last = await context.cursors.reconciled_at(context.tenant, obj)
    now = context.now()
    if last is not None and now - last < timedelta(seconds=context.options.reconcile_every_s):
        return
    known = await context.cursors.live_ids(context.tenant, obj)
    listed: set[int] = set()
    resource = resource_of(context, obj)
    page_cursor: str | None = None
    while True:
        page = await resource.list_page(None, page_cursor, context.options.page_size)
        listed.update(r.id for r in page.items)
        if page.next_cursor is None:
            break
        page_cursor = page.next_cursor
    gone = sorted(known - listed)
    await _emit_deletes(context, obj, [(i, (now, None)) for i in gone], ChangeOrigin.RECONCILE)
    await context.cursors.mark_reconciled(context.tenant, obj, now)
    await context.checkpoint()


async def _emit_deletes(
    context: RunContext, obj: SyncObject, versions: Sequence[tuple[int, Version]], origin: ChangeOrigin
) -> None:
    now = context.now()
    messages = [
        source_change_message(context.tenant, deleted(obj, i, at, origin), run_id=context.run.run_id, now=now)
        for i, (at, _) in versions
    ]
    await context.emit(messages)
    context.run.counts.updated += len(messages)
    await context.record_page(obj, versions, deleted=True)


def _stamp(record: Record) -> datetime:
    assert record.update_time is not None
    return record.update_time.replace(microsecond=0)
