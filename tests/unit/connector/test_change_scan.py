"""The sync's read rules: which mode a sync reads in, what recents say, and who survived a merge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connector.change_scan import (
    ChangeScan,
    ReadMode,
    RelationMoves,
    page_follows,
    read_mode,
    survivors,
)
from pipedrive_client.recents import RecentItem
from schemas.events.common import SyncObject

NOW = datetime(2026, 8, 20, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def _mode(scanned: datetime | None, *, scheduled: bool = False, webhooks: bool = False) -> ReadMode:
    return read_mode(scanned, NOW, scheduled=scheduled, webhooks_enabled=webhooks, webhooks_scan_every=DAY)


def test_a_first_sync_or_one_beyond_the_month_of_recents_reads_everything() -> None:
    assert _mode(None) is ReadMode.FULL
    assert _mode(NOW - 30 * DAY) is ReadMode.FULL
    assert _mode(NOW - 28 * DAY) is ReadMode.RECENTS


def test_with_webhooks_on_only_a_manual_or_a_due_scheduled_sync_scans() -> None:
    assert _mode(NOW - timedelta(hours=1), scheduled=True, webhooks=True) is ReadMode.NONE
    assert _mode(NOW - 2 * DAY, scheduled=True, webhooks=True) is ReadMode.RECENTS
    assert _mode(NOW - timedelta(hours=1), webhooks=True) is ReadMode.RECENTS
    assert _mode(NOW - timedelta(hours=1), scheduled=True) is ReadMode.RECENTS


def _item(kind: str, record_id: int, **data: object) -> RecentItem:
    return RecentItem(item=kind, id=record_id, data={"update_time": "2026-08-20 11:00:00", **data})


def test_recents_split_into_changed_objects_deletions_and_absorbed_persons() -> None:
    scan = ChangeScan()

    scan.add(
        [
            _item("organization", 1, active_flag=True),
            _item("deal", 7, active_flag=False, deleted=True),
            _item("person", 3, active_flag=False),
            _item("person", 4, active_flag=True, merge_what_id=3),
            _item("note", 9, active_flag=True),
            RecentItem(item="deal", id=8, data=None),
        ],
        NOW,
    )

    assert scan.changed == {SyncObject.ORGANIZATION, SyncObject.PERSON}
    at = datetime(2026, 8, 20, 11, tzinfo=UTC)
    assert scan.gone == {SyncObject.DEAL: {7: at}, SyncObject.PERSON: {3: at}}
    assert scan.absorbed == {SyncObject.PERSON: {3: 4}}
    assert scan.unknown == {SyncObject.DEAL: {8}}


def test_relations_that_moved_are_noted_per_target_object() -> None:
    moves = RelationMoves()

    moves.note(
        {1: (10, 20), 2: (10, None), 3: (None, 20)}, {1: (11, 21), 2: (10, None), 3: (12, 20), 4: (5, 6)}
    )

    assert moves.moves == {SyncObject.ORGANIZATION: [(10, 11)], SyncObject.PERSON: [(20, 21)]}


def test_a_gone_record_whose_relations_all_moved_to_one_record_was_merged_into_it() -> None:
    moves = [(10, 11), (10, 11), (12, 13), (12, 14), (15, 16), (17, 10)]

    found = survivors(gone={10, 12, 17, 20}, absorbed={20: 21, 30: 31}, moves=moves)

    # 12 moved to two records: a delete, not a merge; 17 moved to a record also gone; 30 is not gone.
    assert found == {10: 11, 20: 21}


def test_a_page_follows_only_when_it_starts_with_the_item_the_previous_page_ended_with() -> None:
    boundary = _item("person", 5, active_flag=False)
    after = _item("person", 6, active_flag=False)

    assert page_follows(boundary, [_item("person", 5, active_flag=False), after])
    assert not page_follows(boundary, [after]), "the boundary item moved back: one item was skipped"
    assert not page_follows(boundary, [_item("person", 4), boundary]), "items were added before it"
    changed = RecentItem(item="person", id=5, data={"update_time": "2026-08-20 11:00:09"})
    assert not page_follows(boundary, [changed, after]), "the boundary record itself changed"
    assert not page_follows(boundary, [_item("deal", 5), after]), "another kind with the same id"
    assert not page_follows(boundary, []), "items vanished"
