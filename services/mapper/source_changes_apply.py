"""Source changes applied in batches: one transaction, set-based reads and writes, plans made in order.

Changes of one batch are planned one after the other against an in-memory view of the rows they touch,
so a later change sees what an earlier one did, exactly as if they had been applied one by one; the view
is then written back once. Used for a batch of one as well.

Two mappers apply different partitions at once, and organizations of one domain land on both (changes
are keyed by Pipedrive id; the sandbox's seed, like real data, has about 3% duplicate websites within 50
ids, so nearly every pair of concurrent batches shares a domain). What must hold across processes: one
non-duplicate record per domain, email or deal id, a record's fields never written over from a stale read,
and a change applied after another committed sees what that one made. The batch loads its links locked
(a Pipedrive id is one partition's) and its records unlocked, plans, and only then (`settle`) locks what
it writes: the keys it creates a non-duplicate record under (`BatchView.created_keys`, advisory locks,
one statement in lock id order) and the loaded records it writes over (`BatchView.changed_loaded`, FOR
UPDATE, in one fixed order), reading both again. A record found under such a key, or a record that
differs from its loaded row, was committed by another process after this batch loaded: the view is
rebuilt with it and only the changes it reaches are planned again (`replan_affected`: those of a found
key or reading a changed record, and after them whatever reads a link, record or key a re-planned change
touched); the rest keep their plans. A re-plan rarely creates under a key or writes a record not locked
yet (a change an import now skips leaves its Pipedrive id unlinked for a later change); those are
locked and read in the same way until none is new. Anyone else who creates under a key (a reveal,
`abm_signals`) locks it first and holds it through commit, so a unit holding a key that reads no record
under it is the only one that may create there, and one that takes the key after another committed
reads that one's record; the unique index stays unviolated, nothing retries.

Why not lock before reading, as before (every upsert's key, then each loaded record FOR UPDATE): the
locks were then held through load, planning, writes and commit, so the two mappers, sharing a key in
almost every batch, ran one after the other (end-to-end bench, 100,000 organizations: the lock statement
waited 27 s of a 107 s run on a busy machine, 10 s of 36 s on a quiet one), and a record two batches
both read (a domain of three organizations) held one batch for the other's whole batch. Now locks are
held from after planning to commit, a batch waits at most for the other's writes, and only a few
changes are planned twice. A second lock statement while the first's locks are held can deadlock with
another unit; PostgreSQL then fails one, and the runner retries it (a transient error); it is rare.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from frozen_values import frozen_value
from mapper.planning import (
    Plan,
    PlanKind,
    Situation,
    StoredLink,
    StoredRecord,
    TenantRules,
    match_key_of,
    plan_change,
)
from mapper.ports import AbmRecords, MapperUnit
from schemas.envelope import CloudEvent, deterministic_event_id
from schemas.events.common import SyncObject
from schemas.events.source_changes import SourceChange
from stream_runner.messages import IncomingMessage, OutgoingMessage

Item = tuple[CloudEvent[Any], IncomingMessage]
RecordKey = tuple[str, SyncObject, str]
LinkKey = tuple[str, SyncObject, int]
Fresh = tuple[str, SourceChange, str | None]
"""A change to plan: its tenant, the change, its match key."""
MatchLock = tuple[str, SyncObject, str]
"""A match key of one object in one tenant, as locked for the transaction of a batch."""


@dataclass(slots=True)
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
        return StoredRecord(self.abm_id, self.fields, self.deleted_in_crm, self.match_key)


@dataclass(slots=True)
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
        self.links: dict[LinkKey, _Link] = {}
        self.merges: list[tuple[str, SyncObject, int, int]] = []
        self.holders: dict[RecordKey, int] = {}
        """The Pipedrive id whose live link holds each record, as far as the batch read or made them (a
        record's key read says it, `records_by_key`'s `linked_id`; so do the batch's own links)."""
        self._held_as_read: set[RecordKey] = set()
        self._loaded_records: dict[RecordKey, tuple[dict[str, Any], SyncObject]] = {}
        self._created: dict[MatchLock, None] = {}
        self._loaded_links: list[tuple[LinkKey, dict[str, Any]]] = []

    def rebuilt(self, newer: Sequence[tuple[dict[str, Any], SyncObject]] = ()) -> BatchView:
        """A new view of the rows this one loaded (no change planned on it yet), `newer` rows (records
        read again, or found) in place of or besides them."""
        view = BatchView()
        for key, link_row in self._loaded_links:
            view.add_link(key, link_row)
        for record_row, obj in (*newer, *self._loaded_records.values()):
            view.add_record(record_row, obj)
        return view

    def changed_loaded(self) -> list[RecordKey]:
        """The loaded records the batch writes over, in a fixed order."""
        return sorted(key for key, r in self.records.items() if r.dirty and not r.new)

    def stale(
        self, obj: SyncObject, rows: Sequence[dict[str, Any]]
    ) -> list[tuple[dict[str, Any], SyncObject]]:
        """Those of `rows` (records read again) that differ from the rows the view loaded (and, read by
        key, in the live link that holds them)."""
        loaded = self._loaded_records
        return [
            (row, obj) for row in rows
            if (old := loaded.get((row["tenant_id"], obj, row["abm_id"]))) is None
            or (old[0]["fields"], old[0]["deleted_in_crm"]) != (row["fields"], row["deleted_in_crm"])
            or row.get("linked_id", None) != old[0].get("linked_id", row.get("linked_id", None))
        ]  # fmt: skip

    def created_keys(self) -> list[MatchLock]:
        """The match keys the batch creates a non-duplicate record under or links a Pipedrive id to the
        record of (one found by its key), each once, in the order it does (`lock_match_keys` takes the
        locks in its own fixed order)."""
        return list(self._created)

    def add_record(self, row: dict[str, Any], obj: SyncObject) -> None:
        """A record row as loaded (a record the view holds already is left as the batch made it). A row
        read by key says which live link holds it."""
        if "linked_id" in row and (row["tenant_id"], obj, row["abm_id"]) not in self._held_as_read:
            # The first read wins (`rebuilt` gives the rows read again first).
            self._held_as_read.add((row["tenant_id"], obj, row["abm_id"]))
            self._hold((row["tenant_id"], obj, row["abm_id"]), row["linked_id"])
        if (row["tenant_id"], obj, row["abm_id"]) in self.records:
            return
        self._loaded_records[(row["tenant_id"], obj, row["abm_id"])] = (row, obj)
        record = _Record(
            row["tenant_id"], obj, row["abm_id"], row["match_key"], row["is_duplicate"],
            dict(row["fields"]), row["deleted_in_crm"],
        )  # fmt: skip
        self.records[(record.tenant, obj, record.abm_id)] = record
        if record.match_key is not None and not record.is_duplicate:
            self.by_key[(record.tenant, obj, record.match_key)] = record.abm_id

    def add_link(self, key: LinkKey, row: dict[str, Any]) -> None:
        """A link row as loaded (a row the view holds already is left as the batch made it)."""
        if key not in self.links:
            if not row["deleted_in_crm"]:
                held = self.holders.get((key[0], key[1], row["abm_id"]))
                self.holders[(key[0], key[1], row["abm_id"])] = key[2] if held is None else min(held, key[2])
            self._loaded_links.append((key, row))
            self.links[key] = _Link(
                row["abm_id"], row["source_update_time"], row["deleted_in_crm"], row["merged_into_id"],
                in_store=True,
            )  # fmt: skip

    def _hold(self, key: RecordKey, pipedrive_id: int | None) -> None:
        if pipedrive_id is None:
            self.holders.pop(key, None)
        else:
            self.holders[key] = pipedrive_id

    def situation(self, tenant: str, change: SourceChange, match_key: str | None) -> Situation:
        link = self.links.get((tenant, change.object, change.pipedrive_id))
        linked = self.records.get((tenant, change.object, link.abm_id)) if link else None
        key_match = None
        holder = None
        if match_key is not None and looks_up_key(change, linked=linked is not None):
            found = self.by_key.get((tenant, change.object, match_key))
            key_match = self.records.get((tenant, change.object, found)) if found else None
            if found is not None and linked is None:
                holder = self.holders.get((tenant, change.object, found))
                holder = None if holder == change.pipedrive_id else holder
        return Situation(
            link=link.stored() if link else None,
            linked_record=linked.stored() if linked else None,
            key_match=key_match.stored() if key_match else None,
            key_match_linked_to=holder,
        )

    def links_record(self, tenant: str, change: SourceChange) -> bool:
        """Whether the change's Pipedrive id links a record the view holds. Once true it stays true
        while the batch is planned: a change only ever links a Pipedrive id to a record of the view."""
        link = self.links.get((tenant, change.object, change.pipedrive_id))
        return link is not None and (tenant, change.object, link.abm_id) in self.records

    def apply(self, tenant: str, change: SourceChange, plan: Plan) -> None:
        obj, version = change.object, change.update_time
        if plan.abm_id is None:
            return
        if plan.kind is PlanKind.CREATE:
            # The plan's fields as they are: a record's fields are replaced (`_update`), never changed.
            record = _Record(
                tenant, obj, plan.abm_id, plan.match_key, plan.duplicate, plan.fields, False, True
            )
            self.records[(tenant, obj, plan.abm_id)] = record
            if plan.match_key is not None and not plan.duplicate:
                self.by_key[(tenant, obj, plan.match_key)] = plan.abm_id
                self._created[(tenant, obj, plan.match_key)] = None
            self.holders[(tenant, obj, plan.abm_id)] = change.pipedrive_id
            self._link(tenant, obj, change.pipedrive_id, plan.abm_id, version)
        elif plan.kind is PlanKind.UPDATE:
            self._update(tenant, obj, plan.abm_id, plan.fields, deleted=False)
            if (tenant, obj, change.pipedrive_id) not in self.links and plan.match_key is not None:
                # Linked by its key: another process linking another record to it waits on the key.
                self._created[(tenant, obj, plan.match_key)] = None
            self.holders.setdefault((tenant, obj, plan.abm_id), change.pipedrive_id)
            self._link(tenant, obj, change.pipedrive_id, plan.abm_id, version)
        elif plan.kind is PlanKind.MARK_DELETED:
            self._update(tenant, obj, plan.abm_id, {}, deleted=True)
            self._unhold((tenant, obj, plan.abm_id), change.pipedrive_id)
            self._link(tenant, obj, change.pipedrive_id, plan.abm_id, version, deleted=True)
        elif plan.kind is PlanKind.MERGE and change.merged_into_id is not None:
            self._link(tenant, obj, change.pipedrive_id, plan.abm_id, version, deleted=True,
                       merged_into=change.merged_into_id)  # fmt: skip
            self._unhold((tenant, obj, plan.abm_id), change.pipedrive_id)
            if (tenant, obj, change.merged_into_id) not in self.links:
                self._link(tenant, obj, change.merged_into_id, plan.abm_id, version)
                self.holders.setdefault((tenant, obj, plan.abm_id), change.merged_into_id)
            self.merges.append((tenant, obj, change.pipedrive_id, change.merged_into_id))

    def _unhold(self, key: RecordKey, pipedrive_id: int) -> None:
        """The Pipedrive id's link no longer holds the record (deleted or merged away)."""
        if self.holders.get(key) == pipedrive_id:
            del self.holders[key]

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
        key = (tenant, obj, pipedrive_id)
        current = self.links.get(key)
        if current is None:
            self.links[key] = _Link(abm_id, version, deleted, merged_into, True, False)
        else:
            newest = max(version, current.version)
            self.links[key] = _Link(abm_id, newest, deleted, merged_into, True, current.in_store)


def looks_up_key(change: SourceChange, *, linked: bool) -> bool:
    """Whether planning a change asks which record holds its match key: when its Pipedrive id links no
    record. A linked change is planned by its link alone, imported or not (an import's duplicate handling
    is about records found by key; its linked record is no duplicate: `decide_match`), so a re-import of
    linked records reads no key, as a sync of them reads none."""
    return not linked


_OBJECTS = {obj.value: obj for obj in SyncObject}
"""A stored row's object column as its SyncObject (a dict look-up, not the enum's call)."""


async def load_view(
    store: AbmRecords,
    fresh: Sequence[Fresh],
    view: BatchView | None = None,
    *,
    lock: bool = True,
) -> BatchView:
    """Load every row the fresh changes may touch, into a new view or into `view`, whose rows stay as
    earlier changes left them: links locked (unless `lock` is false: a dry run), records not (those the
    batch writes over are locked and read again once it is planned, `settle`)."""
    view = view if view is not None else BatchView()
    # The objects as they are: a SyncObject is a str equal to its value (json_rows writes the value),
    # and its `.value` is a Python-level property.
    linked = [(t, c.object, c.pipedrive_id) for t, c, _ in fresh]
    # A merge links its survivor to the merged record's ABM record only when the survivor has no link yet.
    linked += [(t, c.object, c.merged_into_id) for t, c, _ in fresh if c.merged_into_id is not None]
    link_rows = await store.links(linked, lock=lock)
    for (tenant, obj, pid), row in link_rows.items():
        view.add_link((tenant, _OBJECTS[obj], pid), row)
    # One pass over the view's links and one over the changes, each in its order, bucketed by object (a
    # SyncObject is a str: equal to its value, as `linked` holds it).
    touched = set(linked)
    ids: dict[SyncObject, list[tuple[str, str]]] = {obj: [] for obj in SyncObject}
    keys: dict[SyncObject, list[tuple[str, str]]] = {obj: [] for obj in SyncObject}
    for (t, o, p), link in view.links.items():
        if (t, o, p) in touched:
            ids[o].append((t, link.abm_id))
    for obj in SyncObject:
        for row in (await store.records_by_id(obj, ids[obj], lock=False)) if ids[obj] else []:
            view.add_record(row, obj)
    # A key is read only for the changes whose plan asks for it (`looks_up_key`): a sync or a re-import
    # of linked records reads none. A change linked now stays linked while the batch is planned
    # (`links_record`); one an earlier change of the batch links reads its key needlessly, which is
    # harmless.
    for t, c, k in fresh:
        if k is not None and looks_up_key(c, linked=view.links_record(t, c)):
            keys[c.object].append((t, k))
    for obj in SyncObject:
        for row in (await store.records_by_key(obj, keys[obj], lock=False)) if keys[obj] else []:
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
            row = (t, o, pid, link.abm_id, link.version, link.deleted_in_crm, link.merged_into_id)
            rows[link.in_store].append(row)
    if rows[False]:
        await store.insert_links(rows[False])
    if rows[True]:
        await store.save_links(rows[True])
    for tenant, obj, merged, survivor in view.merges:
        await store.repoint_associations(tenant, obj, merged, survivor)


@frozen_value
class Applied:
    """What one change of a batch did: its plan (None for an already-applied event) or saved results."""

    plan: Plan | None
    saved: list[OutgoingMessage]


@frozen_value
class Planned:
    """One fresh change as planned: the change, its key, the situation it was planned in, its plan."""

    tenant: str
    change: SourceChange
    match_key: str | None
    situation: Situation
    plan: Plan

    def reads_any(self, ids: set[RecordKey]) -> bool:
        """Whether the plan read or names one of `ids` (the linked record is the link's)."""
        tenant, obj, situation, plan = self.tenant, self.change.object, self.situation, self.plan
        return (
            (plan.abm_id is not None and (tenant, obj, plan.abm_id) in ids)
            or (situation.link is not None and (tenant, obj, situation.link.abm_id) in ids)
            or (situation.key_match is not None and (tenant, obj, situation.key_match.abm_id) in ids)
        )

    def reads(self) -> tuple[str, ...]:
        """The ABM ids the plan read or names (the linked record, the key's record, the target): whether
        a re-plan reaches the change."""
        situation = self.situation
        read = (situation.link, situation.linked_record, situation.key_match, self.plan)
        return tuple(r.abm_id for r in read if r is not None and r.abm_id is not None)


def plan_one(
    view: BatchView, rules: Mapping[str, TenantRules], tenant: str, change: SourceChange,
    match_key: str | None,
) -> Planned:  # fmt: skip
    """The plan of one change against the view as it stands (not applied to it)."""
    situation = view.situation(tenant, change, match_key)
    new_id = deterministic_event_id("abm-record", tenant, change.object, change.pipedrive_id)
    plan = plan_change(change, rules[tenant], situation, new_id, match_key)
    return Planned(tenant, change, match_key, situation, plan)


def plan_batch(view: BatchView, rules: Mapping[str, TenantRules], fresh: Sequence[Fresh]) -> list[Planned]:
    """Plan the fresh changes in order, each applied to the view before the next is planned."""
    planned = []
    for tenant, change, match_key in fresh:
        one = plan_one(view, rules, tenant, change, match_key)
        view.apply(tenant, change, one.plan)
        planned.append(one)
    return planned


def replan_affected(
    view: BatchView,
    rules: Mapping[str, TenantRules],
    planned: Sequence[Planned],
    found: Iterable[MatchLock],
    changed: Iterable[RecordKey] = (),
) -> list[Planned]:
    """The batch planned again on `view` (rebuilt with what another process committed since the batch
    loaded: records under the `found` keys, and the `changed` records as they stand now): a change is
    planned anew when its key was found or an earlier re-planned change created under it (before or
    now), when it reads a changed record, or when an earlier re-planned change touched one of its
    Pipedrive ids (its own, a merge's survivor) or read or named an ABM id it reads; every other keeps
    its plan (its situation is the same), and each is applied to the view in order. The same plans and
    view as planning the whole batch again, for the few changes another process's writes reach."""
    keys: set[tuple[str, SyncObject, str | None]] = set(found)
    links: set[LinkKey] = set()
    ids: set[RecordKey] = set(changed)
    again: list[Planned] = []
    for one in planned:
        tenant, change = one.tenant, one.change
        obj, merged = change.object, change.merged_into_id
        key = (tenant, obj, one.match_key)  # never in `keys` without a match key
        if (
            key in keys
            or (tenant, obj, change.pipedrive_id) in links
            or (merged is not None and (tenant, obj, merged) in links)
            or one.reads_any(ids)
        ):
            before, one = one, plan_one(view, rules, tenant, change, one.match_key)
            links.add((tenant, obj, change.pipedrive_id))
            if merged is not None:
                links.add((tenant, obj, merged))
            ids.update((tenant, obj, abm_id) for abm_id in (*before.reads(), *one.reads()))
            if one.match_key is not None and (
                _creates_under_key(before.plan) or _creates_under_key(one.plan)
            ):
                keys.add(key)
        view.apply(tenant, change, one.plan)
        again.append(one)
    return again


def _creates_under_key(plan: Plan) -> bool:
    """Whether the plan makes a record the view finds by its key (a non-duplicate one)."""
    return plan.kind is PlanKind.CREATE and not plan.duplicate


async def settle(
    store: AbmRecords,
    view: BatchView,
    rules: Mapping[str, TenantRules],
    planned: list[Planned],
) -> tuple[BatchView, list[Planned]]:
    """Lock what the planned batch writes and plan again what another process changed meanwhile: the keys
    it creates non-duplicate records under (a record found there is new to the batch) and the loaded
    records it writes over (read again, locked: one that differs from its loaded row was written since).
    The changes a found or changed record reaches are planned again on a rebuilt view; what a re-plan
    newly creates under or writes over is locked and read in turn."""
    keys: set[MatchLock] = set()
    ids: set[RecordKey] = set()
    while True:
        new_keys = [key for key in view.created_keys() if key not in keys]
        new_ids = [key for key in view.changed_loaded() if key not in ids]
        if not new_keys and not new_ids:
            break
        if new_keys:
            await store.lock_match_keys(new_keys)
        keys.update(new_keys)
        ids.update(new_ids)
        found: list[tuple[dict[str, Any], SyncObject]] = []
        changed: list[tuple[dict[str, Any], SyncObject]] = []
        for obj in SyncObject:
            if keyed := [(t, k) for t, o, k in new_keys if o is obj]:
                found += view.stale(obj, await store.records_by_key(obj, keyed))
            if by_id := [(t, i) for t, o, i in new_ids if o is obj]:
                changed += view.stale(obj, await store.records_by_id(obj, by_id))
        if not found and not changed:
            break
        view = view.rebuilt([*found, *changed])
        planned = replan_affected(
            view, rules, planned,
            [(row["tenant_id"], obj, row["match_key"]) for row, obj in found],
            [(row["tenant_id"], obj, row["abm_id"]) for row, obj in (*found, *changed)],
        )  # fmt: skip
    return view, planned


async def apply_source_changes(
    unit: MapperUnit,
    items: Sequence[Item],
    rules: Mapping[str, TenantRules],
    *,
    claim_first: bool = True,
) -> list[Applied]:
    """Claim, plan and apply a batch of source changes in the unit of work. Without `claim_first`, every
    change is planned as fresh and the caller claims them after (and rolls back if one was not)."""
    if claim_first:
        fresh_flags = await unit.inbox.claim_batch([(e.tenantid, e.id, m.topic) for e, m in items])
    else:
        fresh_flags = [True] * len(items)
    fresh = [
        (e.tenantid, e.data, match_key_of(e.data, rules[e.tenantid]))
        for (e, _), is_fresh in zip(items, fresh_flags, strict=True)
        if is_fresh
    ]
    view = BatchView()
    planned: list[Planned] = []
    if fresh:
        await load_view(unit.records, fresh, view)
        planned = plan_batch(view, rules, fresh)
        view, planned = await settle(unit.records, view, rules, planned)
    repeats = [(e.tenantid, e.id) for (e, _), new in zip(items, fresh_flags, strict=True) if not new]
    saved = await unit.inbox.saved_outputs_of(repeats)
    plans = iter(planned)
    applied = [
        Applied(next(plans).plan, []) if is_fresh else Applied(None, saved[(event.tenantid, event.id)])
        for (event, _), is_fresh in zip(items, fresh_flags, strict=True)
    ]
    await write_view(unit.records, view)
    return applied
