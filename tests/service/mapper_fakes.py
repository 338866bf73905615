"""The mapper's ports in memory (`mapper.ports`): what the service tests run the handlers on.

Each fake keeps rows as the Postgres tables do and answers as their SQL does; tests/stores runs one suite
against these fakes and against PostgreSQL, so a difference between them fails a test.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mapper.abm_store import ASSOCIATED_BY, TABLES
from mapper.apply_runs import CompletedRun, RunRef, RunsTallied, is_complete
from mapper.planning import StoredRecord
from mapper.ports import LinkKey, LinkRow, RecordRow
from schemas.events.abm_signals import VisitedPage
from schemas.events.common import SyncObject
from schemas.events.sync_runs import RunCounts, RunFinished
from stream_runner.messages import EventRef, OutgoingMessage
from tests.service.inbox_fake import InMemoryInbox

Clock = Callable[[], datetime]
COUNTS = ("created", "updated", "unchanged", "skipped", "failed")


def new_record(
    match_key: str | None, fields: Mapping[str, Any], duplicate: bool, deleted: bool
) -> dict[str, Any]:
    """A record row with the tables' defaults."""
    return {
        "match_key": match_key, "is_duplicate": duplicate, "fields": dict(fields), "deleted_in_crm": deleted,
        "reveal_count": 0, "last_revealed_at": None, "recent_pages": [], "engagement_score": None,
        "score_changed_at": None,
    }  # fmt: skip


@dataclass
class MapperTables:
    """The mapper's tables: the inbox, the ABM store, apply runs and dead-lettered changes."""

    inbox: InMemoryInbox = field(default_factory=InMemoryInbox)
    records: dict[str, dict[tuple[str, str], dict[str, Any]]] = field(
        default_factory=lambda: {table: {} for table in TABLES.values()}
    )
    links: dict[LinkKey, dict[str, Any]] = field(default_factory=dict)
    runs: dict[RunRef, dict[str, Any]] = field(default_factory=dict)
    dead_letters: dict[tuple[str, str], list[OutgoingMessage] | None] = field(default_factory=dict)


class InMemoryAbmRecords:
    """`mapper.ports.AbmRecords` over `MapperTables` (locks are no-ops: one task at a time)."""

    def __init__(self, tables: MapperTables) -> None:
        self._tables = tables

    def _rows(self, obj: SyncObject) -> dict[tuple[str, str], dict[str, Any]]:
        return self._tables.records[TABLES[obj]]

    def _by_key(self, tenant: str, obj: SyncObject, match_key: str) -> tuple[str, dict[str, Any]] | None:
        for (t, abm_id), row in self._rows(obj).items():
            if t == tenant and row["match_key"] == match_key and not row["is_duplicate"]:
                return abm_id, row
        return None

    async def record_by_key(self, tenant: str, obj: SyncObject, match_key: str) -> StoredRecord | None:
        found = self._by_key(tenant, obj, match_key)
        return (
            None if found is None else StoredRecord(found[0], found[1]["fields"], found[1]["deleted_in_crm"])
        )

    async def create_record(
        self, tenant: str, obj: SyncObject, abm_id: str, match_key: str | None, fields: Mapping[str, Any]
    ) -> None:
        self._insert(obj, tenant, abm_id, new_record(match_key, fields, False, False))

    def _insert(self, obj: SyncObject, tenant: str, abm_id: str, row: dict[str, Any]) -> None:
        taken = row["match_key"] is not None and not row["is_duplicate"]
        if (tenant, abm_id) in self._rows(obj) or (taken and self._by_key(tenant, obj, row["match_key"])):
            raise ValueError(f"unique violation: {tenant} {obj.value} {abm_id}")
        self._rows(obj)[(tenant, abm_id)] = row

    async def update_record(
        self, tenant: str, obj: SyncObject, abm_id: str, changes: Mapping[str, Any]
    ) -> None:
        row = self._rows(obj).get((tenant, abm_id))
        if row is not None:
            row["fields"] = {**row["fields"], **changes}

    async def count_reveal(
        self, tenant: str, abm_id: str, revealed_at: datetime, pages: Sequence[VisitedPage], keep: int
    ) -> None:
        row = self._rows(SyncObject.ORGANIZATION).get((tenant, abm_id))
        if row is None:
            return
        row["reveal_count"] += 1
        last = row["last_revealed_at"]
        row["last_revealed_at"] = revealed_at if last is None else max(last, revealed_at)
        row["recent_pages"] = ([p.model_dump(mode="json") for p in pages] + row["recent_pages"])[:keep]

    async def set_score(self, tenant: str, abm_id: str, score: float, changed_at: datetime) -> None:
        row = self._rows(SyncObject.ORGANIZATION).get((tenant, abm_id))
        if row is not None and (row["score_changed_at"] is None or row["score_changed_at"] <= changed_at):
            row["engagement_score"], row["score_changed_at"] = score, changed_at

    async def mark_deleted_in_crm(
        self, tenant: str, obj: SyncObject, pipedrive_id: int, abm_id: str | None, version: datetime
    ) -> None:
        link = self._tables.links.get((tenant, obj.value, pipedrive_id))
        if link is not None:
            link["deleted_in_crm"] = True
        target = link["abm_id"] if link is not None else abm_id
        if target is None:
            return
        if link is None:
            self._tables.links[(tenant, obj.value, pipedrive_id)] = _link(target, version, True, None)
        live = any(
            k[0] == tenant and k[1] == obj.value and v["abm_id"] == target and not v["deleted_in_crm"]
            for k, v in self._tables.links.items()
        )
        row = self._rows(obj).get((tenant, target))
        if row is not None and not live:
            row["deleted_in_crm"] = True

    async def mark_in_crm(self, tenant: str, obj: SyncObject, abm_id: str) -> None:
        row = self._rows(obj).get((tenant, abm_id))
        if row is not None:
            row["deleted_in_crm"] = False

    async def link_if_unlinked(
        self, tenant: str, obj: SyncObject, pipedrive_id: int, abm_id: str, version: datetime
    ) -> bool:
        if (tenant, obj.value, pipedrive_id) in self._tables.links:
            return False
        self._tables.links[(tenant, obj.value, pipedrive_id)] = _link(abm_id, version, False, None)
        return True

    async def lock_match_keys(self, keys: Sequence[tuple[str, SyncObject, str]]) -> None:
        return None  # one unit of work at a time: nothing to wait for

    async def links(self, keys: Sequence[LinkKey], *, lock: bool = True) -> dict[LinkKey, LinkRow]:
        found = {key: self._tables.links.get(key) for key in keys}
        return {
            key: {"tenant_id": key[0], "object": key[1], "pipedrive_id": key[2], **row}
            for key, row in found.items()
            if row is not None
        }

    async def records_by_id(
        self, obj: SyncObject, keys: Sequence[tuple[str, str]], *, lock: bool = True
    ) -> list[RecordRow]:
        rows = self._rows(obj)
        return [_record_row(key, rows[key]) for key in keys if key in rows]

    async def records_by_key(
        self, obj: SyncObject, keys: Sequence[tuple[str, str]], *, lock: bool = True
    ) -> list[RecordRow]:
        found = [(t, self._by_key(t, obj, key)) for t, key in keys]
        return [
            {**_record_row((t, hit[0]), hit[1]), "linked_id": self._linked_id(t, obj, hit[0])}
            for t, hit in found
            if hit is not None
        ]

    def _linked_id(self, tenant: str, obj: SyncObject, abm_id: str) -> int | None:
        """The Pipedrive id of a live link of the record (the lowest, should there be two: the store names
        either), as `AbmStore.records_by_key` reads it."""
        live = [
            pid for (t, o, pid), row in self._tables.links.items()
            if (t, o) == (tenant, obj) and row["abm_id"] == abm_id and not row["deleted_in_crm"]
        ]  # fmt: skip
        return min(live, default=None)

    async def insert_records(self, obj: SyncObject, rows: Sequence[tuple[Any, ...]]) -> None:
        for tenant, abm_id, match_key, duplicate, fields, deleted in rows:
            self._insert(obj, tenant, abm_id, new_record(match_key, fields, duplicate, deleted))

    async def update_records(self, obj: SyncObject, rows: Sequence[tuple[Any, ...]]) -> None:
        for tenant, abm_id, fields, deleted in rows:
            row = self._rows(obj).get((tenant, abm_id))
            if row is not None:
                row["fields"], row["deleted_in_crm"] = dict(fields), deleted

    async def save_links(self, rows: Sequence[tuple[Any, ...]]) -> None:
        for tenant, obj, pipedrive_id, abm_id, version, deleted, merged in rows:
            current = self._tables.links.get((tenant, obj, pipedrive_id))
            newest = version if current is None else max(current["source_update_time"], version)
            self._tables.links[(tenant, obj, pipedrive_id)] = _link(abm_id, newest, deleted, merged)

    async def insert_links(self, rows: Sequence[tuple[Any, ...]]) -> None:
        for tenant, obj, pipedrive_id, *_ in rows:
            if (tenant, obj, pipedrive_id) in self._tables.links:
                raise ValueError(f"unique violation: {tenant} {obj} {pipedrive_id}")
        await self.save_links(rows)

    async def repoint_associations(self, tenant: str, obj: SyncObject, merged: int, survivor: int) -> None:
        name, tables = ASSOCIATED_BY.get(obj, ("", ()))
        for table in tables:
            for (t, _), row in self._tables.records[table].items():
                if t == tenant and name in row["fields"] and _as_text(row["fields"][name]) == str(merged):
                    row["fields"] = {**row["fields"], name: survivor}


class InMemoryApplyRuns:
    """`mapper.ports.ApplyRuns` over `MapperTables`; `now` is the unit of work's start, as in SQL, and a run
    counts as started by the unit that applied its first records."""

    def __init__(self, tables: MapperTables, now: datetime) -> None:
        self._tables = tables
        self._now = now
        self._started_here: set[RunRef] = set()

    async def add_applied(self, tallies: Mapping[RunRef, RunCounts]) -> RunsTallied:
        touched, started = [], []
        for ref, counts in tallies.items():
            row = self._tables.runs.setdefault(ref, _run_row())
            for name in COUNTS:
                row[name] += getattr(counts, name)
            row["last_applied_at"] = self._now
            if row["first_applied_at"] is None:
                row["first_applied_at"] = self._now
                self._started_here.add(ref)
            if ref in self._started_here:
                started.append((ref, self._now))
            touched.append((ref, row))
        return RunsTallied(sorted(started), self._report(touched))

    async def add_emitted(self, tenant: str, finished: RunFinished) -> list[CompletedRun]:
        ref = (tenant, finished.run_id)
        row = self._tables.runs.setdefault(ref, _run_row())
        row["emitted"], row["source_kind"] = finished.emitted, finished.kind.value
        row["objects"] = [o.value for o in finished.objects]
        return self._report([(ref, row)])

    async def claim_dead_letter(self, tenant: str, event_id: str) -> list[OutgoingMessage] | None:
        if (tenant, event_id) not in self._tables.dead_letters:
            self._tables.dead_letters[(tenant, event_id)] = None
            return None
        return list(self._tables.dead_letters[(tenant, event_id)] or [])

    async def save_dead_letter_outputs(
        self, tenant: str, event_id: str, outputs: Sequence[OutgoingMessage]
    ) -> None:
        if (tenant, event_id) in self._tables.dead_letters:
            self._tables.dead_letters[(tenant, event_id)] = list(outputs)

    def _report(self, rows: Sequence[tuple[RunRef, dict[str, Any]]]) -> list[CompletedRun]:
        completed = []
        for ref, row in sorted(rows, key=lambda r: r[0]):
            counts = RunCounts(**{name: row[name] for name in COUNTS})
            if row["reported_at"] is not None or not is_complete(counts, row["emitted"]):
                continue
            row["reported_at"] = self._now
            objects = tuple(SyncObject(o) for o in row["objects"])
            started = row["first_applied_at"] or self._now
            completed.append(CompletedRun(ref[0], ref[1], counts, objects, started, self._now))
        return completed


@dataclass(frozen=True)
class InMemoryUnit:
    """One unit of work's view of the tables."""

    inbox: InMemoryInbox
    records: InMemoryAbmRecords
    runs: InMemoryApplyRuns


class InMemoryMapperStore:
    """`mapper.ports.MapperStore` in memory: a unit of work that raises leaves the tables as they were."""

    def __init__(self, clock: Clock = lambda: datetime.now(UTC)) -> None:
        self.tables = MapperTables()
        self._clock = clock

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[InMemoryUnit]:
        before = copy.deepcopy(self.tables)
        tables = self.tables
        try:
            yield InMemoryUnit(
                tables.inbox, InMemoryAbmRecords(tables), InMemoryApplyRuns(tables, self._clock())
            )
        except BaseException:
            self.tables = before
            raise

    @asynccontextmanager
    async def dry_run(self) -> AsyncIterator[InMemoryAbmRecords]:
        yield InMemoryAbmRecords(self.tables)

    async def applied_outputs_of(self, events: Sequence[EventRef]) -> dict[EventRef, list[OutgoingMessage]]:
        rows = self.tables.inbox.rows
        return {e: list(rows[e].outputs or []) for e in events if e in rows}

    def record(self, tenant: str, obj: SyncObject, abm_id: str) -> dict[str, Any] | None:
        """A record row as stored (what the audiences API would read)."""
        return self.tables.records[TABLES[obj]].get((tenant, abm_id))


def _link(abm_id: str, version: datetime, deleted: bool, merged: int | None) -> dict[str, Any]:
    return {
        "abm_id": abm_id,
        "source_update_time": version,
        "deleted_in_crm": deleted,
        "merged_into_id": merged,
    }


def _record_row(key: tuple[str, str], row: dict[str, Any]) -> RecordRow:
    return {
        "tenant_id": key[0], "abm_id": key[1], "match_key": row["match_key"],
        "is_duplicate": row["is_duplicate"], "fields": dict(row["fields"]),
        "deleted_in_crm": row["deleted_in_crm"],
    }  # fmt: skip


def _run_row() -> dict[str, Any]:
    return {
        **dict.fromkeys(COUNTS, 0), "emitted": None, "source_kind": None, "objects": [],
        "first_applied_at": None, "last_applied_at": None, "reported_at": None,
    }  # fmt: skip


def _as_text(value: Any) -> str:
    """A jsonb value as `->>` gives it: strings as they are, everything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)
