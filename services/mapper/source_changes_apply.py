"""Source changes applied in batches: one transaction, set-based reads and writes, plans made in order.

Changes of one batch are planned one after the other against an in-memory view of the rows they touch
(loaded and locked up front), so a later change sees what an earlier one did, exactly as if they had been
applied one by one; the view is then written back once. Used for a batch of one as well.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mapper.planning import Plan, PlanKind, Situation, StoredLink, StoredRecord, match_key_of, plan_change
from mapper.ports import AbmRecords, MapperUnit
from schemas.envelope import CloudEvent, deterministic_event_id
from schemas.events.common import SyncObject
from schemas.events.settings import TenantSettings
from schemas.events.source_changes import ChangeAction, SourceChange
from stream_runner.messages import IncomingMessage, OutgoingMessage

Item = tuple[CloudEvent[Any], IncomingMessage]
RecordKey = tuple[str, SyncObject, str]


@dataclass
class _Record:
    tenant: str
    obj: SyncObject
    abm_id: str
    match_key: str | None
    is_duplicate: bool
    fields: dict[str, Any]
    deleted_in_crm: bool
    new: bool = False
    dirty: bool = False

    def stored(self) -> StoredRecord:
        return StoredRecord(self.abm_id, self.fields, self.deleted_in_crm)


@dataclass
class _Link:
    abm_id: str
    version: datetime
    deleted_in_crm: bool = False
    merged_into_id: int | None = None
    dirty: bool = False
    in_store: bool = False  # the row exists (loaded, locked): written back as an upsert, else inserted

    def stored(self) -> StoredLink:
        return StoredLink(self.abm_id, self.version, self.deleted_in_crm)


class BatchView:
    """The rows a batch touches, as they stand after each planned change."""

    def __init__(self) -> None:
        self.records: dict[RecordKey, _Record] = {}
        self.by_key: dict[RecordKey, str] = {}
        self.links: dict[tuple[str, SyncObject, int], _Link] = {}
        self.merges: list[tuple[str, SyncObject, int, int]] = []

    def add_record(self, row: dict[str, Any], obj: SyncObject) -> None:
        """A record row as loaded (a record the view holds already is left as the batch made it)."""
        if (row["tenant_id"], obj, row["abm_id"]) in self.records:
            return
        record = _Record(
            row["tenant_id"], obj, row["abm_id"], row["match_key"], row["is_duplicate"],
            dict(row["fields"]), row["deleted_in_crm"],
        )  # fmt: skip
        self.records[(record.tenant, obj, record.abm_id)] = record
        if record.match_key is not None and not record.is_duplicate:
            self.by_key[(record.tenant, obj, record.match_key)] = record.abm_id

    def add_link(self, key: tuple[str, SyncObject, int], row: dict[str, Any]) -> None:
        """A link row as loaded (a row the view holds already is left as the batch made it)."""
        if key not in self.links:
            self.links[key] = _Link(
                row["abm_id"], row["source_update_time"], row["deleted_in_crm"], row["merged_into_id"],
                in_store=True,
            )  # fmt: skip

    def situation(self, tenant: str, change: SourceChange, match_key: str | None) -> Situation:
        link = self.links.get((tenant, change.object, change.pipedrive_id))
        linked = self.records.get((tenant, change.object, link.abm_id)) if link else None
        key_match = None
        if match_key is not None and (linked is None or change.import_context is not None):
            found = self.by_key.get((tenant, change.object, match_key))
            key_match = self.records.get((tenant, change.object, found)) if found else None
        return Situation(
            link=link.stored() if link else None,
            linked_record=linked.stored() if linked else None,
            key_match=key_match.stored() if key_match else None,
        )

    def apply(self, tenant: str, change: SourceChange, plan: Plan) -> None:
        obj, version = change.object, change.update_time
        if plan.abm_id is None:
            return
        if plan.kind is PlanKind.CREATE:
            record = _Record(
                tenant, obj, plan.abm_id, plan.match_key, plan.duplicate, dict(plan.fields), False, True
            )
            self.records[(tenant, obj, plan.abm_id)] = record
            if plan.match_key is not None and not plan.duplicate:
                self.by_key[(tenant, obj, plan.match_key)] = plan.abm_id
            self._link(tenant, obj, change.pipedrive_id, plan.abm_id, version)
        elif plan.kind is PlanKind.UPDATE:
            self._update(tenant, obj, plan.abm_id, plan.fields, deleted=False)
            self._link(tenant, obj, change.pipedrive_id, plan.abm_id, version)
        elif plan.kind is PlanKind.MARK_DELETED:
            self._update(tenant, obj, plan.abm_id, {}, deleted=True)
            self._link(tenant, obj, change.pipedrive_id, plan.abm_id, version, deleted=True)
        elif plan.kind is PlanKind.MERGE and change.merged_into_id is not None:
            self._link(tenant, obj, change.pipedrive_id, plan.abm_id, version, deleted=True,
                       merged_into=change.merged_into_id)  # fmt: skip
            if (tenant, obj, change.merged_into_id) not in self.links:
                self._link(tenant, obj, change.merged_into_id, plan.abm_id, version)
            self.merges.append((tenant, obj, change.pipedrive_id, change.merged_into_id))

    def _update(
        self, tenant: str, obj: SyncObject, abm_id: str, changes: dict[str, Any], *, deleted: bool
    ) -> None:
        record = self.records[(tenant, obj, abm_id)]
        if changes or record.deleted_in_crm != deleted:
            record.fields = {**record.fields, **changes}
            record.deleted_in_crm = deleted
            record.dirty = True

    def _link(
        self, tenant: str, obj: SyncObject, pipedrive_id: int, abm_id: str, version: datetime,
        *, deleted: bool = False, merged_into: int | None = None,
    ) -> None:  # fmt: skip
        current = self.links.get((tenant, obj, pipedrive_id))
        newest = max(version, current.version) if current else version
        in_store = current.in_store if current else False
        self.links[(tenant, obj, pipedrive_id)] = _Link(
            abm_id, newest, deleted, merged_into, dirty=True, in_store=in_store
        )


MatchLock = tuple[str, SyncObject, str]
"""A match key of one object in one tenant, as locked for the transaction of a batch."""


def match_keys_to_lock(fresh: Sequence[tuple[str, SourceChange, str | None]]) -> list[MatchLock]:
    """The match keys under which a batch may create a record (an upsert's domain, email or deal id),
    each once. Locked before the batch reads the store, they make two batches that share a key (two
    organizations of one domain on different partitions, applied by two mappers) apply one after the
    other, the second seeing the first's record; batches with no key in common never wait."""
    upserts = (entry for entry in fresh if entry[1].action is ChangeAction.UPSERTED)
    return sorted({(t, c.object, k) for t, c, k in upserts if k is not None})


async def load_view(
    store: AbmRecords,
    fresh: Sequence[tuple[str, SourceChange, str | None]],
    view: BatchView | None = None,
    *,
    lock: bool = True,
) -> BatchView:
    """Load (and lock, unless `lock` is false: a dry run) every row the fresh changes may touch, into a
    new view or into `view`, whose rows stay as earlier changes left them."""
    view = view if view is not None else BatchView()
    linked = [(t, c.object.value, c.pipedrive_id) for t, c, _ in fresh]
    # A merge links its survivor to the merged record's ABM record only when the survivor has no link yet.
    linked += [(t, c.object.value, c.merged_into_id) for t, c, _ in fresh if c.merged_into_id is not None]
    link_rows = await store.links(linked, lock=lock)
    for (tenant, obj, pid), row in link_rows.items():
        view.add_link((tenant, SyncObject(obj), pid), row)
    touched = {(t, SyncObject(o), p) for t, o, p in linked}
    for obj in SyncObject:
        ids = [
            (t, link.abm_id) for (t, o, p), link in view.links.items() if o is obj and (t, o, p) in touched
        ]
        keys = [(t, k) for t, c, k in fresh if c.object is obj and k is not None]
        rows = (await store.records_by_id(obj, ids, lock=lock)) if ids else []
        rows += (await store.records_by_key(obj, keys, lock=lock)) if keys else []
        for row in rows:
            view.add_record(row, obj)
    return view


async def write_view(store: AbmRecords, view: BatchView) -> None:
    """Write back what the batch created or changed."""
    for obj in SyncObject:
        records = [r for r in view.records.values() if r.obj is obj]
        new = [
            (r.tenant, r.abm_id, r.match_key, r.is_duplicate, r.fields, r.deleted_in_crm)
            for r in records
            if r.new
        ]
        changed = [(r.tenant, r.abm_id, r.fields, r.deleted_in_crm) for r in records if r.dirty and not r.new]
        if new:
            await store.insert_records(obj, new)
        if changed:
            await store.update_records(obj, changed)
    rows: dict[bool, list[tuple[Any, ...]]] = {False: [], True: []}  # by: in the store already
    for (t, o, pid), link in view.links.items():
        if link.dirty:
            row = (t, o.value, pid, link.abm_id, link.version, link.deleted_in_crm, link.merged_into_id)
            rows[link.in_store].append(row)
    if rows[False]:
        await store.insert_links(rows[False])
    if rows[True]:
        await store.save_links(rows[True])
    for tenant, obj, merged, survivor in view.merges:
        await store.repoint_associations(tenant, obj, merged, survivor)


@dataclass(frozen=True)
class Applied:
    """What one change of a batch did: its plan (None for an already-applied event) or saved results."""

    plan: Plan | None
    saved: list[OutgoingMessage]


async def apply_source_changes(
    unit: MapperUnit,
    items: Sequence[Item],
    settings: Mapping[str, TenantSettings | None],
    *,
    claim_first: bool = True,
) -> list[Applied]:
    """Claim, plan and apply a batch of source changes in the unit of work. Without `claim_first`, every
    change is planned as fresh and the caller claims them after (and rolls back if one was not)."""
    if claim_first:
        fresh_flags = await unit.inbox.claim_batch([(e.tenantid, e.id, m.topic) for e, m in items])
    else:
        fresh_flags = [True] * len(items)
    keys = [
        match_key_of(e.data, settings[e.tenantid]) if fresh else None
        for (e, _), fresh in zip(items, fresh_flags, strict=True)
    ]
    fresh = [
        (e.tenantid, e.data, key)
        for (e, _), is_fresh, key in zip(items, fresh_flags, keys, strict=True)
        if is_fresh
    ]
    if fresh:
        await unit.records.lock_match_keys(match_keys_to_lock(fresh))
    view = await load_view(unit.records, fresh) if fresh else BatchView()
    repeats = [(e.tenantid, e.id) for (e, _), new in zip(items, fresh_flags, strict=True) if not new]
    saved = await unit.inbox.saved_outputs_of(repeats)
    applied: list[Applied] = []
    for (event, _), is_fresh, match_key in zip(items, fresh_flags, keys, strict=True):
        if not is_fresh:
            applied.append(Applied(None, saved[(event.tenantid, event.id)]))
            continue
        change: SourceChange = event.data
        tenant = event.tenantid
        new_id = deterministic_event_id("abm-record", tenant, change.object.value, change.pipedrive_id)
        plan = plan_change(
            change, settings[tenant], view.situation(tenant, change, match_key), new_id, match_key
        )
        view.apply(tenant, change, plan)
        applied.append(Applied(plan, []))
    await write_view(unit.records, view)
    return applied
