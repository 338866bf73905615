"""The pusher's ports in memory (`pusher.ports`): what the service tests run the handlers on.

Each fake keeps rows as the Postgres tables do and answers as their SQL does; tests/stores runs one suite
against these fakes and against PostgreSQL, so a difference between them fails a test. `FakePipedrive`
stands in for the tenant's Pipedrive account behind `pusher.ports.PipedriveWriter`.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import orjson

from pipedrive_client import NotFound
from pipedrive_client.models import FieldDefinition
from postgres_store.inbox import messages_of, saved_form
from pusher.auto_push_windows import window_end
from pusher.mirror import org_id_of
from pusher.planning import PipedriveRecord
from pusher.ports import MirrorChange, ParkedRow, PushRun, RecordRef, VisitState
from pusher.push_ledger import DONE, INTENT, LedgerEntry, merge_written
from pusher.visit_activity import DONE as VISIT_DONE
from pusher.visit_activity import INTENT as VISIT_INTENT
from schemas.events.common import RecordOutcome, SyncObject
from schemas.events.settings import TenantSettings
from schemas.events.source_changes import ChangeAction, SourceChange
from schemas.events.sync_runs import RunCounts
from stream_runner.messages import OutgoingMessage
from sync_rules.mapping_resolution import record_match_key
from tests.service.inbox_fake import InMemoryInbox

Clock = Callable[[], datetime]
Row = dict[str, Any]
RecordKey = tuple[str, str, Any]
"""(tenant, object, match key or Pipedrive id)."""


@dataclass
class PusherTables:
    """The pusher's tables: the inbox, ledger, mirror, push runs, parked pushes, field codes, visits."""

    inbox: InMemoryInbox = field(default_factory=InMemoryInbox)
    ledger: dict[RecordKey, Row] = field(default_factory=dict)
    mirror: dict[RecordKey, Row] = field(default_factory=dict)
    runs: dict[tuple[str, str], Row] = field(default_factory=dict)
    parked: dict[tuple[str, str], Row] = field(default_factory=dict)
    field_codes: dict[tuple[str, str, str], str] = field(default_factory=dict)
    visits: dict[tuple[str, str], Row] = field(default_factory=dict)

    def restore(self, before: PusherTables) -> None:
        """Every table as it was (a rolled-back transaction)."""
        for name in (f.name for f in fields(self)):
            setattr(self, name, getattr(before, name))


class InMemoryLedger:
    """`pusher.ports.PushLedger` over `PusherTables` (jsonb values kept as copies)."""

    def __init__(self, tables: PusherTables, clock: Clock) -> None:
        self._tables, self._clock = tables, clock

    async def entry(self, tenant: str, obj: SyncObject, match_key: str) -> LedgerEntry | None:
        row = self._tables.ledger.get((tenant, obj.value, match_key))
        return None if row is None else _entry(match_key, row)

    def _entry_by_pipedrive_id(self, tenant: str, obj: SyncObject, pipedrive_id: int) -> LedgerEntry | None:
        rows = [
            (key[2], row)
            for key, row in self._tables.ledger.items()
            if key[:2] == (tenant, obj.value) and row["pipedrive_id"] == pipedrive_id
        ]
        if not rows:
            return None
        # ORDER BY written_at DESC NULLS LAST
        key, row = max(rows, key=lambda r: (r[1]["written_at"] is not None, r[1]["written_at"] or 0))
        return _entry(key, row)

    async def entries_by_pipedrive_ids(self, records: Sequence[RecordRef]) -> dict[RecordRef, LedgerEntry]:
        found = {r: self._entry_by_pipedrive_id(*r) for r in records}
        return {r: entry for r, entry in found.items() if entry is not None}

    async def record_intent(
        self, tenant: str, obj: SyncObject, match_key: str, body: Mapping[str, Any]
    ) -> None:
        row = self._tables.ledger.setdefault((tenant, obj.value, match_key), _ledger_row())
        row.update(state=INTENT, planned_body=copy.deepcopy(dict(body)), intent_at=self._clock())

    async def drop_intent(self, tenant: str, obj: SyncObject, match_key: str) -> None:
        row = self._tables.ledger.get((tenant, obj.value, match_key))
        if row is not None and row["state"] == INTENT:
            row["state"] = DONE

    async def record_write(
        self,
        tenant: str,
        obj: SyncObject,
        match_key: str,
        pipedrive_id: int,
        body: Mapping[str, Any],
        version: datetime | None = None,
    ) -> None:
        before = await self.entry(tenant, obj, match_key)
        written, pushed = dict(body), dict(body)
        if before is not None and before.pipedrive_id == pipedrive_id:
            written = merge_written(before.written, body)
            pushed = merge_written(before.pushed, body)
            version = version if body else before.written_version
        row = self._tables.ledger.setdefault((tenant, obj.value, match_key), _ledger_row())
        row.update(
            state=DONE, pipedrive_id=pipedrive_id, written=copy.deepcopy(written), written_at=self._clock(),
            written_version=version, pushed=copy.deepcopy(pushed),
        )  # fmt: skip

    async def keep_held(
        self, tenant: str, obj: SyncObject, match_key: str, written: Mapping[str, Any]
    ) -> None:
        row = self._tables.ledger.get((tenant, obj.value, match_key))
        if row is not None:
            row["written"] = copy.deepcopy(dict(written))


class InMemoryMirror:
    """`pusher.ports.Mirror` over `PusherTables`."""

    def __init__(self, tables: PusherTables) -> None:
        self._tables = tables

    async def _apply_change(
        self, tenant: str, change: SourceChange, match_key: str | None, echo: bool
    ) -> bool:
        if change.action is ChangeAction.UPSERTED and change.record is not None:
            return await self.upsert(
                tenant, change.object, change.pipedrive_id, change.record, change.update_time, match_key,
                echo=echo,
            )  # fmt: skip
        row = self._tables.mirror.get((tenant, change.object.value, change.pipedrive_id))
        if (
            row is not None and row["deleted"] and row["merged_into_id"] == change.merged_into_id
            and row["update_time"] >= change.update_time
        ):  # fmt: skip
            return False  # gone so already: not written again
        self._mark_gone(tenant, change.object, change.pipedrive_id, change.update_time)
        self._tables.mirror[(tenant, change.object.value, change.pipedrive_id)]["merged_into_id"] = (
            change.merged_into_id
        )
        return True

    async def apply_changes(self, changes: Sequence[MirrorChange]) -> list[bool]:
        return [await self._apply_change(*change) for change in changes]

    async def upsert(
        self,
        tenant: str,
        obj: SyncObject,
        pipedrive_id: int,
        record: Mapping[str, Any],
        update_time: datetime,
        match_key: str | None,
        *,
        echo: bool = False,
    ) -> bool:
        key = (tenant, obj.value, pipedrive_id)
        current = self._tables.mirror.get(key)
        if current is not None and (
            current["update_time"] > update_time
            or (current["deleted"] and current["merged_into_id"] is not None)
        ):
            return False
        values = {
            "match_key": match_key, "record": copy.deepcopy(dict(record)), "update_time": update_time,
            "deleted": bool(record.get("is_deleted")), "org_id": org_id_of(record),
            "last_change_was_echo": echo,
        }  # fmt: skip
        if current is not None and _same_version(current, values):
            return False  # the row holds this version already: not written again
        row = (
            current if current is not None else self._tables.mirror.setdefault(key, _mirror_row(update_time))
        )
        row.update(values)
        return True

    async def by_id(self, tenant: str, obj: SyncObject, pipedrive_id: int) -> PipedriveRecord | None:
        row = self._tables.mirror.get((tenant, obj.value, pipedrive_id))
        return None if row is None else _record(pipedrive_id, row)

    async def by_match_key(self, tenant: str, obj: SyncObject, match_key: str) -> PipedriveRecord | None:
        live = sorted(
            (key[2], row)
            for key, row in self._tables.mirror.items()
            if key[:2] == (tenant, obj.value) and row["match_key"] == match_key and not row["deleted"]
        )
        if not live or live[0][1]["record"] is None:
            return None
        return _record(*live[0])

    async def gone_by_match_key(self, tenant: str, obj: SyncObject, match_key: str) -> PipedriveRecord | None:
        gone = [
            (row["update_time"], key[2], row)
            for key, row in self._tables.mirror.items()
            if key[:2] == (tenant, obj.value) and row["match_key"] == match_key and row["deleted"]
        ]
        if not gone:
            return None
        _, pipedrive_id, row = max(gone, key=lambda g: (g[0], g[1]))
        return _record(pipedrive_id, row)

    async def mark_deleted(self, tenant: str, obj: SyncObject, pipedrive_id: int, at: datetime) -> None:
        self._mark_gone(tenant, obj, pipedrive_id, at)

    async def open_deals_of(self, tenant: str, org_id: int) -> list[PipedriveRecord]:
        deals = sorted(
            (key[2], row)
            for key, row in self._tables.mirror.items()
            if key[:2] == (tenant, SyncObject.DEAL.value) and row["org_id"] == org_id and not row["deleted"]
            and (row["record"] or {}).get("status") == "open"
        )  # fmt: skip
        return [_record(pipedrive_id, row) for pipedrive_id, row in deals]

    def _mark_gone(self, tenant: str, obj: SyncObject, pipedrive_id: int, at: datetime) -> None:
        row = self._tables.mirror.setdefault((tenant, obj.value, pipedrive_id), _mirror_row(at))
        row["deleted"], row["update_time"] = True, max(row["update_time"], at)


class InMemoryPushRuns:
    """`pusher.ports.PushRuns` over `PusherTables`."""

    def __init__(self, tables: PusherTables) -> None:
        self._tables = tables

    async def open_window(self, tenant: str, run_id: str, started_at: datetime) -> bool:
        if (tenant, run_id) in self._tables.runs:
            return False
        self._tables.runs[(tenant, run_id)] = _run_row("auto_push", None, started_at)
        return True

    async def open_batch(self, tenant: str, run_id: str, expected: int, started_at: datetime) -> None:
        self._tables.runs.setdefault((tenant, run_id), _run_row("push", expected, started_at))

    async def add(self, tenant: str, run_id: str, counts: RunCounts, tokens: int) -> PushRun | None:
        row = self._tables.runs.get((tenant, run_id))
        if row is None:
            return None
        for outcome in RecordOutcome:
            row[outcome.value] += getattr(counts, outcome.value)
        row["tokens"] += tokens
        return _push_run(tenant, run_id, row)

    async def mark_finished(self, tenant: str, run_id: str) -> None:
        row = self._tables.runs.get((tenant, run_id))
        if row is not None:
            row["finished"] = True

    async def ended_windows(self, now: datetime) -> list[PushRun]:
        return [
            _push_run(tenant, run_id, row)
            for (tenant, run_id), row in self._tables.runs.items()
            if row["kind"] == "auto_push" and not row["finished"] and window_end(row["started_at"]) <= now
        ]


@dataclass(frozen=True)
class InMemoryUnit:
    """One unit of work's (or view's) view of the tables."""

    inbox: InMemoryInbox
    ledger: InMemoryLedger
    mirror: InMemoryMirror
    runs: InMemoryPushRuns


class InMemoryDueParked:
    """A due parked push, claimed by one re-driver."""

    def __init__(self, tables: PusherTables, row: ParkedRow) -> None:
        self._tables = tables
        self.row = row
        self.runs = InMemoryPushRuns(tables)

    async def reschedule(self, resume_at: datetime, reason: str, failures: int) -> None:
        self._tables.parked[(self.row.tenant, self.row.event_id)].update(
            resume_at=resume_at, reason=reason, failures=failures
        )

    async def remove(self) -> None:
        self._tables.parked.pop((self.row.tenant, self.row.event_id), None)


class InMemoryParked:
    """`pusher.ports.ParkedStore` over `PusherTables`; a claimed row is skipped by other re-drivers."""

    def __init__(self, store: InMemoryPusherStore) -> None:
        self._store = store
        self._claimed: set[tuple[str, str]] = set()

    async def park(
        self,
        tenant: str,
        event_id: str,
        topic: str,
        event: str,
        resume_at: datetime,
        reason: str,
        origin: tuple[int | None, int | None, str | None],
    ) -> None:
        partition, offset, key = origin
        self._store.tables.parked.setdefault(
            (tenant, event_id),
            {
                "topic": topic, "event": event, "resume_at": resume_at, "reason": reason,
                "parked_at": self._store.clock(), "failures": 0, "origin_partition": partition,
                "origin_offset": offset, "origin_key": key,
            },
        )  # fmt: skip

    async def tenant_paused(self, tenant: str) -> bool:
        return await self.count(tenant) > 0

    async def count(self, tenant: str) -> int:
        return sum(1 for t, _ in self._store.tables.parked if t == tenant)

    async def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for tenant, _ in self._store.tables.parked:
            found[tenant] = found.get(tenant, 0) + 1
        return found

    @asynccontextmanager
    async def next_due(self) -> AsyncIterator[InMemoryDueParked | None]:
        key = self._due()
        if key is None:
            yield None
            return
        tables = self._store.tables
        before = copy.deepcopy(tables)
        self._claimed.add(key)
        row = tables.parked[key]
        try:
            yield InMemoryDueParked(tables, _parked_row(key, row))
        except BaseException:
            tables.restore(before)
            raise
        finally:
            self._claimed.discard(key)

    def _due(self) -> tuple[str, str] | None:
        parked, now = self._store.tables.parked, self._store.clock()
        due = [
            (row["resume_at"], key)
            for key, row in parked.items()
            if row["resume_at"] <= now
            and key not in self._claimed
            and not any(k[0] == key[0] and r["parked_at"] < row["parked_at"] for k, r in parked.items())
        ]
        return min(due)[1] if due else None


class InMemoryFieldCodeSlot:
    """One label's code under its lock."""

    def __init__(self, tables: PusherTables, key: tuple[str, str, str]) -> None:
        self._tables, self._key = tables, key

    async def known(self) -> str | None:
        return self._tables.field_codes.get(self._key)

    async def keep(self, code: str) -> None:
        if self._key in self._tables.field_codes:
            raise ValueError(f"unique violation: custom field {self._key}")
        self._tables.field_codes[self._key] = code


class InMemoryFieldCodes:
    """`pusher.ports.FieldCodes` over `PusherTables`, with a lock per label."""

    def __init__(self, store: InMemoryPusherStore) -> None:
        self._store = store
        self._locks: dict[tuple[str, str, str], asyncio.Lock] = {}

    async def known(self, tenant: str, obj: SyncObject, label: str) -> str | None:
        return self._store.tables.field_codes.get((tenant, obj.value, label))

    @asynccontextmanager
    async def slot(self, tenant: str, obj: SyncObject, label: str) -> AsyncIterator[InMemoryFieldCodeSlot]:
        key = (tenant, obj.value, label)
        async with self._locks.setdefault(key, asyncio.Lock()):
            tables = self._store.tables
            before = copy.deepcopy(tables.field_codes)
            try:
                yield InMemoryFieldCodeSlot(tables, key)
            except BaseException:
                tables.field_codes = before
                raise

    async def forget(self, tenant: str, obj: SyncObject, label: str) -> None:
        self._store.tables.field_codes.pop((tenant, obj.value, label), None)


class InMemoryVisitLog:
    """`pusher.ports.VisitLog` over `PusherTables`."""

    def __init__(self, store: InMemoryPusherStore) -> None:
        self._store = store

    async def state(self, tenant: str, event_id: str) -> VisitState | None:
        row = self._store.tables.visits.get((tenant, event_id))
        return None if row is None else VisitState(row["state"], row["intent_at"])

    async def record_intent(self, tenant: str, event_id: str, org_id: int) -> None:
        visits = self._store.tables.visits
        row = visits.setdefault((tenant, event_id), {"org_id": org_id, "activity_id": None})
        row.update(state=VISIT_INTENT, intent_at=self._store.clock())

    async def record_done(self, tenant: str, event_id: str, activity_id: int) -> None:
        row = self._store.tables.visits.get((tenant, event_id))
        if row is not None:
            row.update(state=VISIT_DONE, activity_id=activity_id)

    async def forget_intent(self, tenant: str, event_id: str) -> None:
        row = self._store.tables.visits.get((tenant, event_id))
        if row is not None and row["state"] == VISIT_INTENT:
            del self._store.tables.visits[(tenant, event_id)]


class InMemoryPusherStore:
    """`pusher.ports.PusherStore` in memory: a unit of work that raises leaves the tables as they were."""

    def __init__(self, clock: Clock = lambda: datetime.now(UTC)) -> None:
        self.tables = PusherTables()
        self.clock = clock
        self.parked = InMemoryParked(self)
        self.field_codes = InMemoryFieldCodes(self)
        self.visits = InMemoryVisitLog(self)
        self._locks: dict[RecordKey, asyncio.Lock] = {}

    def _unit(self) -> InMemoryUnit:
        tables = self.tables
        return InMemoryUnit(
            tables.inbox, InMemoryLedger(tables, self.clock), InMemoryMirror(tables), InMemoryPushRuns(tables)
        )

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[InMemoryUnit]:
        before = copy.deepcopy(self.tables)
        try:
            yield self._unit()
        except BaseException:
            self.tables.restore(before)
            raise

    @asynccontextmanager
    async def view(self) -> AsyncIterator[InMemoryUnit]:
        yield self._unit()

    @asynccontextmanager
    async def record_lock(self, tenant: str, obj: SyncObject, match_key: str) -> AsyncIterator[None]:
        async with self._locks.setdefault((tenant, obj.value, match_key), asyncio.Lock()):
            yield

    def mirrored(self, tenant: str, obj: SyncObject, pipedrive_id: int) -> Row | None:
        """A mirror row as stored."""
        return self.tables.mirror.get((tenant, obj.value, pipedrive_id))


@dataclass
class FakePipedrive:
    """One Pipedrive account in memory: records by object and id, custom fields, activities, and the calls
    it answered (method, object, id). `refusal`, when set, is raised by every call instead of an answer."""

    records: dict[SyncObject, dict[int, Row]] = field(default_factory=lambda: {o: {} for o in SyncObject})
    fields: dict[SyncObject, list[FieldDefinition]] = field(
        default_factory=lambda: {o: [] for o in SyncObject}
    )
    activities: list[Row] = field(default_factory=list)
    calls: list[tuple[str, str, int | None]] = field(default_factory=list)
    refusal: Exception | None = None
    clock: Clock = lambda: datetime.now(UTC)
    _next_id: int = 100

    def writes_for(self, _tenant: str) -> FakeWrites:
        """`pusher.ports.WritesFor`: one push's calls to this account."""
        return FakeWrites(self)

    def add(self, obj: SyncObject, record: Mapping[str, Any]) -> Row:
        """A record added in Pipedrive (by a person, or by a write)."""
        self._next_id += 1
        stamp = _stamp(self.clock())
        row = {"id": self._next_id, "add_time": stamp, "update_time": stamp, "is_deleted": False, **record}
        self.records[obj][self._next_id] = row
        return copy.deepcopy(row)

    def delete(self, obj: SyncObject, pipedrive_id: int) -> None:
        """A person deletes the record in Pipedrive (the pusher is not told)."""
        self.records[obj].pop(pipedrive_id, None)

    def writes(self) -> list[tuple[str, str, int | None]]:
        """The calls that write."""
        return [c for c in self.calls if c[0] in {"POST", "PATCH"}]


class FakeWrites:
    """`pusher.ports.PipedriveWriter` over a `FakePipedrive` (every call costs 5 tokens)."""

    def __init__(self, account: FakePipedrive) -> None:
        self._account = account
        self.tokens = 0

    def _call(self, method: str, obj: SyncObject | str, pipedrive_id: int | None = None) -> None:
        if self._account.refusal is not None:
            raise self._account.refusal
        self._account.calls.append((method, obj if isinstance(obj, str) else obj.value, pipedrive_id))
        self.tokens += 5

    async def create(self, obj: SyncObject, body: Mapping[str, Any]) -> dict[str, Any]:
        self._call("POST", obj)
        return self._account.add(obj, copy.deepcopy(dict(body)))

    async def update(self, obj: SyncObject, pipedrive_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        self._call("PATCH", obj, pipedrive_id)
        row = self._account.records[obj].get(pipedrive_id)
        if row is None:
            raise NotFound()
        row.update({k: v for k, v in body.items() if k != "custom_fields"})
        if "custom_fields" in body:
            row["custom_fields"] = {**(row.get("custom_fields") or {}), **body["custom_fields"]}
        row["update_time"] = _stamp(self._account.clock())
        return copy.deepcopy(row)

    async def get(self, obj: SyncObject, pipedrive_id: int) -> dict[str, Any] | None:
        self._call("GET", obj, pipedrive_id)
        row = self._account.records[obj].get(pipedrive_id)
        return None if row is None else copy.deepcopy(row)

    async def find_by_match_key(
        self,
        obj: SyncObject,
        match_key: str,
        planned_body: Mapping[str, Any],
        settings: TenantSettings | None,
    ) -> list[dict[str, Any]]:
        self._call("GET", f"{obj.value}/search")
        return [
            copy.deepcopy(r)
            for r in self._account.records[obj].values()
            if record_match_key(obj, r, settings) == match_key
        ]

    async def field_definitions(self, obj: SyncObject) -> list[FieldDefinition]:
        self._call("GET", f"{obj.value}Fields")
        return list(self._account.fields[obj])

    async def create_field(self, obj: SyncObject, label: str, field_type: str) -> FieldDefinition:
        self._call("POST", f"{obj.value}Fields")
        code = f"{len(self._account.fields[obj]) + 1:040x}"
        created = FieldDefinition(
            field_code=code, field_name=label, field_type=field_type, is_custom_field=True
        )
        self._account.fields[obj].append(created)
        return created

    async def add_activity(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._call("POST", "activities")
        activity = {
            "id": len(self._account.activities) + 1,
            "add_time": _stamp(self._account.clock()),
            **body,
        }
        self._account.activities.append(activity)
        return dict(activity)

    async def activities_of_organization(self, org_id: int) -> list[dict[str, Any]]:
        self._call("GET", "activities")
        return [dict(a) for a in self._account.activities if a.get("org_id") == org_id]

    async def users_by_email(self) -> dict[str, int]:
        self._call("GET", "users")
        return {}


def saved_copy(messages: list[OutgoingMessage]) -> list[OutgoingMessage]:
    """Messages as the inbox would give them back (through their saved form)."""
    return messages_of([saved_form(m) for m in messages])


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ledger_row() -> Row:
    return {
        "state": DONE, "pipedrive_id": None, "planned_body": None, "intent_at": None, "written": {},
        "written_at": None, "written_version": None, "pushed": {},
    }  # fmt: skip


def _entry(match_key: str, row: Row) -> LedgerEntry:
    return LedgerEntry(
        match_key=match_key, state=row["state"], pipedrive_id=row["pipedrive_id"],
        planned_body=copy.deepcopy(row["planned_body"]), intent_at=row["intent_at"],
        written=copy.deepcopy(row["written"]), written_at=row["written_at"],
        written_version=row["written_version"], pushed=copy.deepcopy(row["pushed"]),
    )  # fmt: skip


def _mirror_row(update_time: datetime) -> Row:
    return {
        "match_key": None, "record": None, "update_time": update_time, "deleted": False,
        "merged_into_id": None, "org_id": None, "last_change_was_echo": False,
    }  # fmt: skip


def _same_version(row: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    """Whether a mirror row holds these values already (the record as the same JSON text, as PostgreSQL
    compares it)."""
    return all(
        orjson.dumps(row[name]) == orjson.dumps(value) if name == "record" else row[name] == value
        for name, value in values.items()
    )


def _record(pipedrive_id: int, row: Row) -> PipedriveRecord:
    return PipedriveRecord(
        pipedrive_id, copy.deepcopy(row["record"] or {}), row["deleted"], row["merged_into_id"]
    )


def _run_row(kind: str, expected: int | None, started_at: datetime) -> Row:
    return {
        "kind": kind, "expected": expected, "started_at": started_at, "tokens": 0, "finished": False,
        **{o.value: 0 for o in RecordOutcome},
    }  # fmt: skip


def _push_run(tenant: str, run_id: str, row: Row) -> PushRun:
    counts = RunCounts(**{o.value: row[o.value] for o in RecordOutcome})
    return PushRun(tenant, run_id, counts, row["tokens"], row["started_at"], row["expected"], row["finished"])


def _parked_row(key: tuple[str, str], row: Row) -> ParkedRow:
    return ParkedRow(
        key[0], key[1], row["topic"], row["event"], row["parked_at"], row["failures"],
        row["origin_partition"], row["origin_offset"], row["origin_key"],
    )  # fmt: skip
