"""The incremental sync of one tenant. It asks `/v1/recents` what changed since its last scan (one call
when nothing did; deletes and merges included), reads only the objects recents names through the v2
lists (per object, `updated_since = cursor - overlap`, sorted by update_time, pages of 500; only versions
newer than the last emitted are emitted; the cursor moves only after Kafka acknowledged the page), then
emits the deletions and merges recents listed. Without a usable scan (a first sync, or a last scan older
than recents' one-month reach) it lists every object, deleted deals, and reconciles ids. `change_scan`
holds the rules and the reasons (a deliberate deviation from "never /v1/recents", see the README)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from connector.change_scan import (
    ChangeScan,
    ReadMode,
    Relation,
    RelationMoves,
    page_follows,
    read_mode,
    survivors,
)
from connector.record_versions import Version, new_versions, read_from
from connector.run_executor import ALL_OBJECTS, RunContext
from connector.source_events import (
    UpsertEncoder,
    deleted,
    merged,
    record_digest,
    source_change_message,
    sync_read_is_bulk,
)
from pipedrive_client import ListFilters, NotFound
from pipedrive_client.pagination import Page, read_ahead
from pipedrive_client.recents import MAX_RECENTS_PAGE
from pipedrive_client.resources import EntityResource
from pipedrive_client.rows import RecordRow
from schemas.events.common import SyncObject
from schemas.events.source_changes import ChangeOrigin, ImportContext
from service_runtime.turns import in_turns
from stream_runner.producer import Delivery, acknowledged

_log = structlog.get_logger(__name__)

WebhooksEnabled = Callable[[str], Awaitable[bool]]


def resource_of(context: RunContext, obj: SyncObject) -> EntityResource[Any]:
    """The client resource of an object kind."""
    client = context.client
    resources: dict[SyncObject, EntityResource[Any]] = {
        SyncObject.ORGANIZATION: client.organizations,
        SyncObject.PERSON: client.persons,
        SyncObject.DEAL: client.deals,
    }
    return resources[obj]


class IncrementalSync:
    """The work of a sync run; knows whether the tenant's webhooks are on."""

    def __init__(self, webhooks_enabled: WebhooksEnabled) -> None:
        self._webhooks_enabled = webhooks_enabled

    async def __call__(self, context: RunContext) -> None:
        """Read what changed since the last sync, as the tenant's read mode says."""
        started = context.now()
        mode = read_mode(
            await context.cursors.scanned_through(context.tenant),
            started,
            scheduled=context.run.trigger == "schedule",
            webhooks_enabled=await self._webhooks_enabled(context.tenant),
            webhooks_scan_every=timedelta(seconds=context.options.webhooks_scan_every_s),
        )
        if mode is ReadMode.NONE:
            return
        if mode is ReadMode.FULL:
            await read_everything(context)
        elif not await read_recent_changes(context):
            _log.warning("recents_scan_shifted", tenant=context.tenant, run_id=context.run.run_id)
            return  # changes made during the scan moved items: the next sync scans the same window
        await context.cursors.mark_scanned(context.tenant, started)


async def read_everything(context: RunContext) -> None:
    """Every object from its cursor, deals deleted since then, and every id reconciled (a first read
    needs no reconciliation)."""
    for obj in ALL_OBJECTS:
        first_read = await context.cursors.cursor(context.tenant, obj) is None
        await sync_object(context, obj)
        if obj is SyncObject.DEAL:
            await sync_deleted_deals(context)
        if first_read:
            await context.cursors.mark_reconciled(context.tenant, obj, context.now())
        else:
            await reconcile(context, obj)


async def read_recent_changes(context: RunContext) -> bool:
    """What recents lists since the last scan: the objects it names read through v2, then its deletions
    and merges emitted. False when the scan may have skipped an item (`ChangeScan.complete`)."""
    scanned = await context.cursors.scanned_through(context.tenant)
    assert scanned is not None
    scan = await scan_recents(context, scanned - timedelta(seconds=context.options.overlap_seconds))
    await look_up_unknown(context, scan)
    moves = RelationMoves()
    for obj in ALL_OBJECTS:
        if obj in scan.changed:
            await sync_object(context, obj, moves)
    for obj in ALL_OBJECTS:
        gone = scan.gone.get(obj, {})
        merges = survivors(gone, scan.absorbed.get(obj, {}), moves.moves.get(obj, ()))
        await emit_gone(context, obj, gone, merges)
    return scan.complete


async def scan_recents(context: RunContext, since: datetime) -> ChangeScan:
    """Every page of recents of the synced objects since `since`. Each page after the first is asked
    from one position back, to check that it starts where the previous one ended (`page_follows`)."""
    scan, start, last = ChangeScan(), 0, None
    kinds = [obj.value for obj in ALL_OBJECTS]
    while True:
        page = await context.client.recents.page(since, kinds, start, MAX_RECENTS_PAGE)
        items = page.items
        if last is not None:
            if page_follows(last, items):
                items = items[1:]
            else:
                scan.complete = False  # keep the whole page: an item read twice is emitted once
        scan.add(items, context.now())
        await context.checkpoint()
        if page.next_start is None:
            return scan
        last = page.items[-1] if page.items else last
        start = page.next_start - 1


async def look_up_unknown(context: RunContext, scan: ChangeScan) -> None:
    """Records recents listed without data: read each (1 token) to learn whether it is deleted."""
    for obj, ids in scan.unknown.items():
        for record_id in sorted(ids):
            try:
                record = await resource_of(context, obj).get(record_id)
            except NotFound:
                scan.gone.setdefault(obj, {})[record_id] = context.now()
                continue
            if record.is_deleted:
                at = record.update_time or context.now()
                scan.gone.setdefault(obj, {})[record_id] = at
            else:
                scan.changed.add(obj)


async def sync_object(context: RunContext, obj: SyncObject, moves: RelationMoves | None = None) -> None:
    """Emit every new version of the object since its cursor (minus the overlap)."""
    cursor = await context.cursors.cursor(context.tenant, obj)
    since = read_from(cursor, context.options.overlap_seconds)
    bulk = sync_read_is_bulk(cursor, context.run.trigger)
    filters = ListFilters(updated_since=since, sort_by="update_time", sort_direction="asc")
    resource = resource_of(context, obj)

    async def fetch(cursor: str | None) -> Page[RecordRow]:
        return await resource.list_rows(filters, cursor, context.options.page_size)

    async with aclosing(read_ahead(fetch)) as pages:
        async for page in pages:
            await emit_versions(context, obj, page.items, ChangeOrigin.POLL, moves=moves, bulk=bulk)
            await context.checkpoint()


async def emit_versions(
    context: RunContext,
    obj: SyncObject,
    records: Sequence[RecordRow],
    origin: ChangeOrigin,
    import_context: ImportContext | None = None,
    moves: RelationMoves | None = None,
    bulk: bool = False,
) -> int:
    """Emit the records' versions not emitted before, wait for the acks, then store them (with what they
    point to), the moved cursor and the run's counts at once; returns how many were emitted. Imports emit
    every record read (their own event ids) and move no cursor. `moves` collects the relations that
    changed since the versions last emitted; `bulk`: the records are bulk work (`source_change_topic`)."""
    handed = await hand_over(context, obj, records, origin, import_context, bulk=bulk)
    return await store_versions(context, handed, moves)


@dataclass
class HandedOver:
    """A page's versions handed to the producer, not yet acknowledged: what storing them needs."""

    obj: SyncObject
    read: int
    """Records of the page (those without an update_time are counted failed when the page is stored)."""
    versions: Sequence[tuple[int, Version]]
    fresh: dict[int, Version]
    chosen: list[RecordRow]
    deliveries: list[Delivery]
    lookup: asyncio.Future[dict[int, Version]]
    """The versions emitted before (an import only counts with them: created or updated)."""
    is_import: bool

    async def discard(self) -> None:
        """Forget a page that will not be stored (the run failed first): its lookup is ended."""
        await _settled(self.lookup)


async def hand_over(
    context: RunContext,
    obj: SyncObject,
    records: Sequence[RecordRow],
    origin: ChangeOrigin,
    import_context: ImportContext | None = None,
    *,
    bulk: bool = False,
) -> HandedOver:
    """Encode the records' versions not emitted before and hand them to the producer, without waiting
    for Kafka; `store_versions` waits for the acks and stores them. Nothing of the run (counts,
    staged versions) changes here, so a page handed over while the one before it is stored stays out of
    that page's checkpoint."""
    dated = [r for r in records if r.update_time is not None]
    # The versions emitted before decide what a sync emits. An import emits every record it reads and
    # only counts with them (created or updated): its lookup runs while the page is encoded and sent.
    lookup = asyncio.ensure_future(context.cursors.emitted(context.tenant, obj, [r.id for r in dated]))
    try:
        versions = await in_turns(_versions, dated)
        fresh = dict(new_versions(versions, await lookup) if import_context is None else versions)
        chosen = [
            (r, version)
            for r, (_, version) in zip(dated, versions, strict=True)
            if fresh.get(r.id) == version
        ]
        encoder = UpsertEncoder(
            context.tenant,
            obj,
            origin,
            run_id=context.run.run_id,
            now=context.now(),
            import_context=import_context,
            bulk=bulk,
        )

        messages = await in_turns(encoder.messages, chosen)
        deliveries = await context.hand_over(messages)
    except BaseException:
        await _settled(lookup)
        raise
    return HandedOver(
        obj,
        len(records),
        versions,
        fresh,
        [r for r, _ in chosen],
        deliveries,
        lookup,
        import_context is not None,
    )


def _versions(records: Sequence[RecordRow]) -> list[tuple[int, tuple[datetime, str]]]:
    """Each record's id and version (its update_time's stamp and its content's digest)."""
    return [(r.id, (_stamp(r), record_digest(r.values))) for r in records]


async def store_versions(context: RunContext, page: HandedOver, moves: RelationMoves | None = None) -> int:
    """Wait until Kafka acknowledged the page's messages, then count them and store their versions (a
    sync's with its cursor, now; an import's staged for the checkpoint after its page); returns how many
    were emitted."""
    try:
        await acknowledged(page.deliveries)
        emitted = await page.lookup
    finally:
        await _settled(page.lookup)
    obj, chosen, counts = page.obj, page.chosen, context.run.counts
    created = sum(1 for r in chosen if r.id not in emitted)
    counts.failed += page.read - len(page.versions)
    counts.created += created
    counts.updated += len(chosen) - created
    counts.skipped += len(page.versions) - len(chosen)
    if page.is_import:
        # An import's versions and counts are stored with its page cursor, in the page's one transaction
        # (the checkpoint after the page), so that a page emitted again after a crash is counted once.
        context.stage_versions(obj, list(page.fresh.items()), new=not emitted)
        return len(chosen)
    relations = {r.id: relation_of(r) for r in chosen}
    if moves is not None and obj is not SyncObject.ORGANIZATION:
        moves.note(await context.cursors.relations(context.tenant, obj, list(relations)), relations)
    newest = max((at for _, (at, _) in page.versions), default=None)
    await context.record_page(obj, list(page.fresh.items()), advance_to=newest, relations=relations)
    return len(chosen)


async def sync_deleted_deals(context: RunContext) -> None:
    """Emit deals deleted since the deal cursor (Pipedrive lists them for 30 days)."""
    cursor = await context.cursors.cursor(context.tenant, SyncObject.DEAL)
    filters = ListFilters(updated_since=read_from(cursor, context.options.overlap_seconds), status="deleted")
    page_cursor: str | None = None
    while True:
        page = await context.client.deals.list_rows(filters, page_cursor, context.options.page_size)
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


async def reconcile(context: RunContext, obj: SyncObject) -> None:
    """List every id of the object; ids emitted as live but no longer listed were deleted (or merged
    away) in Pipedrive."""
    now = context.now()
    known = await context.cursors.live_ids(context.tenant, obj)
    listed: set[int] = set()
    resource = resource_of(context, obj)
    page_cursor: str | None = None
    while True:
        page = await resource.list_rows(None, page_cursor, context.options.page_size)
        listed.update(r.id for r in page.items)
        if page.next_cursor is None:
            break
        page_cursor = page.next_cursor
    gone = sorted(known - listed)
    await _emit_deletes(context, obj, [(i, (now, None)) for i in gone], ChangeOrigin.RECONCILE)
    await context.cursors.mark_reconciled(context.tenant, obj, now)
    await context.checkpoint()


async def emit_gone(
    context: RunContext, obj: SyncObject, gone: Mapping[int, datetime], merges: Mapping[int, int]
) -> None:
    """Emit the deletions recents listed that were not emitted before; a merged record as merged into
    its survivor."""
    stamped = [(i, (at.replace(microsecond=0), None)) for i, at in sorted(gone.items())]
    emitted = await context.cursors.emitted(context.tenant, obj, [i for i, _ in stamped])
    fresh = new_versions(stamped, emitted)
    await _emit_deletes(context, obj, fresh, ChangeOrigin.POLL, merges)


async def _emit_deletes(
    context: RunContext,
    obj: SyncObject,
    versions: Sequence[tuple[int, Version]],
    origin: ChangeOrigin,
    merges: Mapping[int, int] | None = None,
) -> None:
    now, into = context.now(), merges or {}
    changes = [
        merged(obj, i, into[i], at, origin) if i in into else deleted(obj, i, at, origin)
        for i, (at, _) in versions
    ]
    messages = [
        source_change_message(context.tenant, change, run_id=context.run.run_id, now=now)
        for change in changes
    ]
    await context.emit(messages)
    context.run.counts.updated += len(messages)
    await context.record_page(obj, versions, deleted=True)


async def _settled(task: asyncio.Future[Any]) -> None:
    """Cancel `task` when it still runs and wait for its end, its outcome taken (the page failed and no
    longer needs it, or it was already awaited)."""
    if not task.done():
        task.cancel()
        await asyncio.wait([task])
    if not task.cancelled():
        task.exception()


def relation_of(record: RecordRow) -> Relation:
    """The organization and person a record points to."""
    return record.reference("org_id"), record.reference("person_id")


def _stamp(record: RecordRow) -> datetime:
    assert record.update_time is not None
    return record.update_time if record.plain_time else record.update_time.replace(microsecond=0)
