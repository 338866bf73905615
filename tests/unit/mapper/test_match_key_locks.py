"""The keys and records a planned batch locks, the lock ids keys get, and what the batch does when another
process committed a record under one of those keys, or changed one of those records, after the batch
loaded (`settle`): only the changes that reaches are planned again, with the plans and view a whole
re-plan would make."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from mapper.abm_store import match_lock_id, match_lock_ids
from mapper.planning import PlanKind, tenant_rules
from mapper.source_changes_apply import (
    BatchView,
    Fresh,
    MatchLock,
    load_view,
    plan_batch,
    replan_affected,
    settle,
)
from schemas.events.common import SyncObject
from schemas.events.source_changes import (
    ChangeAction,
    ChangeOrigin,
    DuplicateHandling,
    ImportContext,
    SourceChange,
)
from tests.service.mapper_fakes import InMemoryAbmRecords, MapperTables

ORG, PERSON = SyncObject.ORGANIZATION, SyncObject.PERSON
T0 = datetime(2026, 11, 1, tzinfo=UTC)
RULES = {"t1": tenant_rules(None), "t2": tenant_rules(None)}


def change(
    obj: SyncObject,
    pipedrive_id: int,
    action: ChangeAction = ChangeAction.UPSERTED,
    *,
    later: int = 0,
    website: str | None = None,
    skip_duplicates: bool = False,
) -> SourceChange:
    record = None if action is ChangeAction.DELETED else {"id": pipedrive_id, "name": f"Org {pipedrive_id}"}
    if record is not None and website is not None:
        record["website"] = website
    context = (
        ImportContext(import_id="i1", duplicate_handling=DuplicateHandling.SKIP_DUPLICATES)
        if skip_duplicates
        else None
    )
    return SourceChange(
        object=obj, pipedrive_id=pipedrive_id, action=action, update_time=T0 + timedelta(seconds=later),
        record=record, merged_into_id=99 if action is ChangeAction.MERGED else None,
        origin=ChangeOrigin.IMPORT if skip_duplicates else ChangeOrigin.POLL, import_context=context,
    )  # fmt: skip


def org(pipedrive_id: int, domain: str, *, later: int = 0, skip_duplicates: bool = False) -> Fresh:
    one = change(ORG, pipedrive_id, later=later, website=domain, skip_duplicates=skip_duplicates)
    return ("t1", one, domain)


def record_row(abm_id: str, domain: str) -> dict[str, Any]:
    """A record as another process committed it (an account of `domain`)."""
    return {
        "tenant_id": "t1", "abm_id": abm_id, "match_key": domain, "is_duplicate": False,
        "fields": {"name": "Theirs", "website": domain}, "deleted_in_crm": False,
    }  # fmt: skip


def planned_view(fresh: Sequence[Fresh]) -> tuple[BatchView, list[Any]]:
    view = BatchView()
    return view, plan_batch(view, RULES, fresh)


def test_a_batch_locks_the_keys_it_creates_records_under_once_each() -> None:
    fresh = [
        org(1, "b.io"),
        ("t1", change(PERSON, 2), "ann@a.io"),
        org(3, "b.io"),  # the same key again: updates what change 1 created
        ("t2", change(ORG, 4, website="b.io"), "b.io"),
        ("t1", change(ORG, 5), None),  # no key: skipped
        ("t1", change(ORG, 6, ChangeAction.DELETED), "c.io"),
    ]
    view, _ = planned_view(fresh)
    assert view.created_keys() == [("t1", ORG, "b.io"), ("t1", PERSON, "ann@a.io"), ("t2", ORG, "b.io")]


def test_a_batch_that_creates_nothing_and_links_nothing_new_locks_nothing() -> None:
    view = BatchView()
    view.add_record(record_row("theirs", "a.io"), ORG)
    view.add_link(("t1", ORG, 1), {"abm_id": "theirs", "source_update_time": T0, "deleted_in_crm": False,
                                   "merged_into_id": None})  # fmt: skip
    plan_batch(view, RULES, [org(1, "a.io")])  # updates the account it links
    assert view.created_keys() == []


def test_a_batch_that_links_a_stored_record_by_its_key_locks_the_key() -> None:
    # Another process linking another organization of a.io to the account waits for this one, then
    # reads the link and skips its organization as a duplicate.
    view = BatchView()
    view.add_record(record_row("theirs", "a.io"), ORG)
    plan_batch(view, RULES, [org(1, "a.io")])
    assert view.created_keys() == [("t1", ORG, "a.io")]


def test_lock_ids_are_stable_and_differ_by_schema_tenant_object_and_key() -> None:
    base = match_lock_id("mapper", "t1", ORG, "a.io")
    assert base == match_lock_id("mapper", "t1", ORG, "a.io")
    assert -(2**63) <= base < 2**63
    others = {
        match_lock_id("other", "t1", ORG, "a.io"),
        match_lock_id("mapper", "t2", ORG, "a.io"),
        match_lock_id("mapper", "t1", PERSON, "a.io"),
        match_lock_id("mapper", "t1", ORG, "b.io"),
    }
    assert base not in others and len(others) == 4


def test_lock_ids_stay_those_every_release_took() -> None:
    # Two processes exclude each other only if they give a key the same id: during a rolling upgrade the
    # old and new releases run side by side (the ids of the releases before 2026-12-04, pinned).
    assert match_lock_id("mapper", "t1", ORG, "a.io") == 6762029348250413592
    assert match_lock_id("mapper", "tenant-β", PERSON, "ann@exämple.io") == 4779114376310276550


def test_a_batch_locks_each_key_by_its_own_id() -> None:
    keys = [
        (tenant, obj, key)
        for tenant in ("t1", "t2", "tenant-β")
        for obj in (ORG, PERSON)
        for key in ("a.io", "b.io", "ann@exämple.io", "", "a.io\x1fx")
    ]
    ids = match_lock_ids("mapper", [*keys, *keys])
    assert ids == {_whole_name_id("mapper", t, o, k) for t, o, k in keys}
    assert len(ids) == len(keys)


def _whole_name_id(schema: str, tenant: str, obj: SyncObject, match_key: str) -> int:
    """The id as the releases before 2026-12-04 computed it: BLAKE2b (8 bytes) of the whole name."""
    name = "\x1f".join(("psync-match", schema, tenant, obj.value, match_key)).encode()
    return int.from_bytes(hashlib.blake2b(name, digest_size=8).digest(), "big", signed=True)


BATCH = [
    org(1, "other.io"),
    org(2, "acme.io"),  # creates acme.io: another process committed it meanwhile
    org(3, "beta.io"),
    org(4, "acme.io"),  # a duplicate of change 2's organization: skipped
    org(2, "gamma.io", later=5),  # change 2's organization again, on another domain: linked
    org(5, "gamma.io"),  # creates gamma.io (change 2's record keeps its key, acme.io)
    org(6, "delta.io"),
]


def test_a_record_found_under_a_created_key_replans_only_the_changes_it_reaches() -> None:
    view, planned = planned_view(BATCH)
    assert ("t1", ORG, "acme.io") in view.created_keys()

    targeted = view.rebuilt()
    targeted.add_record(record_row("theirs", "acme.io"), ORG)
    again = replan_affected(targeted, RULES, planned, [("t1", ORG, "acme.io")])

    whole = view.rebuilt()
    whole.add_record(record_row("theirs", "acme.io"), ORG)
    from_scratch = plan_batch(whole, RULES, BATCH)
    assert [p.plan for p in again] == [p.plan for p in from_scratch]
    assert (targeted.records, targeted.links, targeted.by_key) == (whole.records, whole.links, whole.by_key)
    kept = [i for i, (before, after) in enumerate(zip(planned, again, strict=True)) if before is after]
    assert kept == [0, 2, 5, 6]  # 1, 3 and 4 (change 2's organization again) were planned anew
    assert [again[i].plan.kind for i in (1, 3, 4)] == [PlanKind.UPDATE, PlanKind.SKIP, PlanKind.UPDATE]
    assert {again[i].plan.abm_id for i in (1, 3, 4)} == {"theirs"}
    assert again[3].plan.message == "Duplicate found: acme.io is linked to Pipedrive organization 2"
    assert targeted.by_key[("t1", ORG, "acme.io")] == "theirs"  # linked to, not created under


class OtherProcessCommits(InMemoryAbmRecords):
    """The store as a second mapper changes it: when the batch first locks keys, the other process
    (which held them) has just committed its records under them."""

    def __init__(self, tables: MapperTables, theirs: dict[str, str]) -> None:
        super().__init__(tables)
        self.theirs = theirs
        self.locked: list[list[MatchLock]] = []

    async def lock_match_keys(self, keys: Sequence[MatchLock]) -> None:
        self.locked.append(list(keys))
        if len(self.locked) == 1:
            rows = [
                ("t1", abm_id, domain, False, {"name": "Theirs"}, False)
                for domain, abm_id in self.theirs.items()
            ]
            await self.insert_records(ORG, rows)


async def test_settling_locks_planned_creates_and_replans_what_another_process_committed() -> None:
    store = OtherProcessCommits(MapperTables(), {"acme.io": "theirs"})
    view = BatchView()
    planned = plan_batch(view, RULES, BATCH)
    view, settled = await settle(store, view, RULES, planned)

    assert store.locked == [
        [("t1", ORG, d) for d in ("other.io", "acme.io", "beta.io", "gamma.io", "delta.io")]
    ]
    assert [settled[i].plan.abm_id for i in (1, 3, 4)] == ["theirs"] * 3
    assert [settled[i].plan.kind for i in (1, 3, 4)] == [PlanKind.UPDATE, PlanKind.SKIP, PlanKind.UPDATE]
    assert view.by_key[("t1", ORG, "acme.io")] == "theirs"


async def test_a_replan_that_creates_under_a_new_key_locks_and_reads_that_key_too() -> None:
    # An import that skips duplicates creates e.io for organization 7, and a later poll updates it to
    # f.io through the link. Once another process's e.io is found, the import skips and leaves 7
    # unlinked, so the poll creates f.io, a key the batch had not locked.
    batch = [org(7, "e.io", skip_duplicates=True), org(7, "f.io", later=5)]
    store = OtherProcessCommits(MapperTables(), {"e.io": "theirs"})
    view = BatchView()
    planned = plan_batch(view, RULES, batch)
    assert [p.plan.kind for p in planned] == [PlanKind.CREATE, PlanKind.UPDATE]
    view, settled = await settle(store, view, RULES, planned)

    assert store.locked == [[("t1", ORG, "e.io")], [("t1", ORG, "f.io")]]
    assert [p.plan.kind for p in settled] == [PlanKind.SKIP, PlanKind.CREATE]
    assert view.created_keys() == [("t1", ORG, "f.io")]


async def test_a_record_changed_since_the_load_is_read_again_and_not_written_over() -> None:
    tables = MapperTables()
    store = InMemoryAbmRecords(tables)
    await store.insert_records(ORG, [("t1", "theirs", "acme.io", False, {"name": "Acme"}, False)])
    batch = [org(2, "acme.io"), org(3, "other.io"), org(4, "acme.io")]
    view = await load_view(store, batch)
    planned = plan_batch(view, RULES, batch)
    assert view.changed_loaded() == [("t1", ORG, "theirs")]
    # Another process writes the account after this batch loaded it, before it locks it.
    await store.update_records(ORG, [("t1", "theirs", {"name": "Acme", "industry": "Retail"}, False)])
    view, settled = await settle(store, view, RULES, planned)

    assert [one is before for one, before in zip(settled, planned, strict=True)] == [False, True, False]
    assert settled[0].plan.kind is PlanKind.UPDATE and settled[0].plan.abm_id == "theirs"
    assert view.records[("t1", ORG, "theirs")].fields["industry"] == "Retail"  # kept, not written over
    assert view.records[("t1", ORG, "theirs")].fields["name"] == "Org 2"  # 4 is a duplicate of 2
    assert settled[2].plan.message == "Duplicate found: acme.io is linked to Pipedrive organization 2"


async def test_records_nobody_changed_are_locked_and_keep_their_plans() -> None:
    store = InMemoryAbmRecords(MapperTables())
    await store.insert_records(ORG, [("t1", "theirs", "acme.io", False, {"name": "Acme"}, False)])
    batch = [org(2, "acme.io"), org(3, "other.io")]
    view = await load_view(store, batch)
    planned = plan_batch(view, RULES, batch)
    settled_view, settled = await settle(store, view, RULES, planned)
    assert settled_view is view and settled == planned
