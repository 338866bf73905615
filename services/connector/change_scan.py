"""What a sync reads, decided from values (pure): how to find the changes since the last sync, what
`/v1/recents` says changed, and which deleted records were merged into which survivor.

A sync asks `/v1/recents` (20 tokens a page) what changed since its last scan: it lists live changes and
deletions of organizations, persons and deals alike, so an unchanged account costs one call, and every
sync sees deletes and merges. Only the objects recents names are then read through the v2 lists. Recents
reach back one month: a scan older than that (or a first sync) reads the lists whole and reconciles ids.
With webhooks on, changes arrive as they happen and a scheduled sync scans recents only now and then, to
catch what a lost delivery missed.

A merge deletes one record and changes the survivor. Webhooks name the survivor; without them, a person's
survivor names the person it absorbed (`merge_what_id`), and an organization's (or a person's) survivor
is the record its persons and deals were moved to when it was deleted: Pipedrive moves them on a merge,
never on a plain delete.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from pipedrive_client.recents import RECENTS_REACH, RecentItem
from schemas.events.common import SyncObject

SAFETY_MARGIN = timedelta(days=1)
"""A scan must start this well inside recents' reach (clocks differ, a run may take a while)."""


class ReadMode(StrEnum):
    """How one sync finds the changes since the last one."""

    FULL = "full"  # list every object from its cursor, deleted deals, reconcile ids (no usable scan)
    RECENTS = "recents"  # ask /v1/recents, read only the objects it names
    NONE = "none"  # webhooks carry the changes; the safety scan is not due


def read_mode(
    scanned_through: datetime | None,
    now: datetime,
    *,
    scheduled: bool,
    webhooks_enabled: bool,
    webhooks_scan_every: timedelta,
) -> ReadMode:
    """The mode of a sync starting `now`, whose tenant's changes were scanned through `scanned_through`."""
    if scanned_through is None or scanned_through < now - (RECENTS_REACH - SAFETY_MARGIN):
        return ReadMode.FULL
    if scheduled and webhooks_enabled and now - scanned_through < webhooks_scan_every:
        return ReadMode.NONE
    return ReadMode.RECENTS


@dataclass
class ChangeScan:
    """What recents said: objects with live changes, deleted ids (with their deletion time), persons
    a merge absorbed into a named survivor, and ids recents listed without data (to be looked up)."""

    changed: set[SyncObject] = field(default_factory=set)
    gone: dict[SyncObject, dict[int, datetime]] = field(default_factory=dict)
    absorbed: dict[SyncObject, dict[int, int]] = field(default_factory=dict)
    unknown: dict[SyncObject, set[int]] = field(default_factory=dict)
    complete: bool = True
    """False when a page did not start where the previous one ended (see `page_follows`): an item may
    have been skipped, so the scan must not count as having seen everything up to its start."""

    def add(self, items: Iterable[RecentItem], scan_started: datetime) -> None:
        """Fold one page of recents in (items of kinds that are not synced objects are ignored)."""
        for item in items:
            obj = _object_of(item.item)
            if obj is None:
                continue
            if item.data is None:
                self.unknown.setdefault(obj, set()).add(item.id)
            elif item.is_deleted:
                self.gone.setdefault(obj, {})[item.id] = item.update_time or scan_started
            else:
                self.changed.add(obj)
                if item.merge_what_id is not None:
                    self.absorbed.setdefault(obj, {})[item.merge_what_id] = item.id


def page_follows(previous_last: RecentItem, page: Sequence[RecentItem]) -> bool:
    """Whether a page of recents asked from one position before the previous page's end starts with the
    item that page ended with. Recents are paged by position and a record changed between two calls
    moves to the end of the list, so every item after its old place moves one position back: the item
    at the boundary would be skipped, and with it perhaps a deletion seen nowhere else. Only when the
    boundary item is still in place (same item, same update time) is nothing missing."""
    return bool(page) and _identity(page[0]) == _identity(previous_last)


def _identity(item: RecentItem) -> tuple[str, int, datetime | None]:
    return item.item, item.id, item.update_time


def _object_of(kind: str) -> SyncObject | None:
    try:
        return SyncObject(kind)
    except ValueError:
        return None


Relation = tuple[int | None, int | None]
"""The organization and the person a record points to (`org_id`, `person_id`)."""

RELATED_BY = {SyncObject.ORGANIZATION: 0, SyncObject.PERSON: 1}
"""Which half of a `Relation` points at records of each object."""


@dataclass
class RelationMoves:
    """Relations that changed between the version last emitted and the one read now, per target object:
    (previous target, current target) pairs."""

    moves: dict[SyncObject, list[tuple[int, int]]] = field(default_factory=dict)

    def note(self, before: Mapping[int, Relation], after: Mapping[int, Relation]) -> None:
        """Add the moves of records read now (`after`) from what was last emitted for them (`before`)."""
        for record_id, now in after.items():
            then = before.get(record_id)
            if then is None:
                continue
            for target, half in RELATED_BY.items():
                previous, current = then[half], now[half]
                if previous is not None and current is not None and previous != current:
                    self.moves.setdefault(target, []).append((previous, current))


def survivors(
    gone: Iterable[int], absorbed: Mapping[int, int], moves: Iterable[tuple[int, int]]
) -> dict[int, int]:
    """The survivor of each gone record that was merged: the one a survivor names, else the one record
    every moved relation of the gone record now points to (several candidates: not taken as a merge)."""
    gone_ids = set(gone)
    candidates: dict[int, set[int]] = {}
    for previous, current in moves:
        if previous in gone_ids and current not in gone_ids:
            candidates.setdefault(previous, set()).add(current)
    found = {loser: next(iter(targets)) for loser, targets in candidates.items() if len(targets) == 1}
    found.update({loser: survivor for loser, survivor in absorbed.items() if loser in gone_ids})
    return found
