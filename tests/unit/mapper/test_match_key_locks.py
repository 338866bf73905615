"""Which match keys a batch of source changes locks before it plans, and the lock ids they get."""

from __future__ import annotations

from datetime import UTC, datetime

from mapper.abm_store import match_lock_id
from mapper.source_changes_apply import match_keys_to_lock
from schemas.events.common import SyncObject
from schemas.events.source_changes import ChangeAction, ChangeOrigin, SourceChange

ORG, PERSON = SyncObject.ORGANIZATION, SyncObject.PERSON


def change(obj: SyncObject, pipedrive_id: int, action: ChangeAction = ChangeAction.UPSERTED) -> SourceChange:
    record = None if action is ChangeAction.DELETED else {"id": pipedrive_id}
    merged = 99 if action is ChangeAction.MERGED else None
    return SourceChange(
        object=obj, pipedrive_id=pipedrive_id, action=action, update_time=datetime(2026, 11, 1, tzinfo=UTC),
        record=record, merged_into_id=merged, origin=ChangeOrigin.POLL,
    )  # fmt: skip


def test_upserts_lock_their_match_keys_once_each_in_a_fixed_order() -> None:
    fresh = [
        ("t2", change(ORG, 1), "b.io"),
        ("t1", change(PERSON, 2), "ann@a.io"),
        ("t1", change(ORG, 3), "b.io"),
        ("t2", change(ORG, 4), "b.io"),  # the same key again
        ("t1", change(ORG, 5), None),  # no key: nothing to create one under
    ]
    assert match_keys_to_lock(fresh) == [("t1", ORG, "b.io"), ("t1", PERSON, "ann@a.io"), ("t2", ORG, "b.io")]
    assert match_keys_to_lock(list(reversed(fresh))) == match_keys_to_lock(fresh)


def test_deletes_and_merges_create_nothing_so_lock_nothing() -> None:
    fresh = [
        ("t1", change(ORG, 1, ChangeAction.DELETED), "a.io"),
        ("t1", change(ORG, 2, ChangeAction.MERGED), "b.io"),
    ]
    assert match_keys_to_lock(fresh) == []


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
