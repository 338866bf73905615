"""In-memory tables of organizations, persons and deals, with sorted indexes for fast cursor pages.

Each record keeps its API v2 representation ready to serialize (`Record.data`), so listing is slicing an
index and handing dicts to orjson. The indexes are sorted lists of `(sort value, id)` kept up to date on
every write, which makes keyset pagination stable while records change under a running sync.
"""

from __future__ import annotations

import base64
import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from pipedrive_sandbox.errors import InvalidRequest
from pipedrive_sandbox.timestamps import format_time, parse_time

DELETED_RETENTION_SECONDS = 30 * 24 * 3600


class Entity(StrEnum):
    """The three entities the sandbox serves through API v2."""

    ORGANIZATION = "organization"
    PERSON = "person"
    DEAL = "deal"

    @property
    def plural(self) -> str:
        """The URL segment: organizations, persons, deals."""
        return f"{self.value}s"


class SortField(StrEnum):
    """The `sort_by` values of v2 list operations."""

    ID = "id"
    UPDATE_TIME = "update_time"
    ADD_TIME = "add_time"


@dataclass(slots=True)
class Record:
    """One organization, person or deal: its v2 representation plus numeric times for the indexes."""

    id: int
    data: dict[str, Any]
    add_ts: int
    update_ts: int
    deleted_ts: int | None = None
    merged_from_id: int | None = None  # the record last merged into this one (v1 `merge_what_id`)

    def sort_value(self, sort_by: SortField) -> int:
        """The value this record is ordered by under `sort_by`."""
        if sort_by is SortField.UPDATE_TIME:
            return self.update_ts
        if sort_by is SortField.ADD_TIME:
            return self.add_ts
        return self.id


@dataclass
class ListQuery:
    """A validated v2 list request: filters, order and page position."""

    limit: int = 100
    sort_by: SortField = SortField.ID
    descending: bool = False
    cursor_key: tuple[int, int] | None = None
    updated_since: int | None = None
    updated_until: int | None = None
    include_live: bool = True
    include_deleted_since: int | None = None
    predicates: list[Callable[[Record], bool]] = field(default_factory=list)


class EntityTable:
    """All records of one entity with `id`, `update_time` and `add_time` indexes."""

    def __init__(self, entity: Entity) -> None:
        self.entity = entity
        self.records: dict[int, Record] = {}
        self.next_id = 1
        self._indexes: dict[SortField, list[tuple[int, int]]] = {f: [] for f in SortField}

    def allocate_id(self) -> int:
        """Reserve the next id."""
        new_id = self.next_id
        self.next_id += 1
        return new_id

    def insert(self, record: Record) -> None:
        """Add a record and index it."""
        self.records[record.id] = record
        self.next_id = max(self.next_id, record.id + 1)
        for sort_by, index in self._indexes.items():
            bisect.insort(index, (record.sort_value(sort_by), record.id))

    def bulk_load(self, records: list[Record]) -> None:
        """Add many records at once and rebuild the indexes with one sort each (seeding)."""
        for record in records:
            self.records[record.id] = record
            self.next_id = max(self.next_id, record.id + 1)
        values = self.records.values()
        self._indexes[SortField.ID] = [(r.id, r.id) for r in values]
        self._indexes[SortField.ID].sort()
        self._indexes[SortField.UPDATE_TIME] = sorted([(r.update_ts, r.id) for r in values])
        self._indexes[SortField.ADD_TIME] = sorted([(r.add_ts, r.id) for r in values])

    def touch(self, record: Record, update_ts: int) -> None:
        """Set a record's update time (data and index)."""
        index = self._indexes[SortField.UPDATE_TIME]
        old = (record.update_ts, record.id)
        position = bisect.bisect_left(index, old)
        if position < len(index) and index[position] == old:
            del index[position]
        record.update_ts = update_ts
        record.data["update_time"] = format_time(update_ts)
        bisect.insort(index, (update_ts, record.id))

    def get(self, record_id: int) -> Record | None:
        """The record with this id, deleted or not."""
        return self.records.get(record_id)

    def live(self) -> Iterator[Record]:
        """Records that are not deleted, in id order."""
        return (r for r in self.records.values() if r.deleted_ts is None)

    def page(self, query: ListQuery) -> tuple[list[Record], tuple[int, int] | None]:
        """One page of records matching `query` and the key to continue from (None at the end)."""
        index = self._indexes[query.sort_by]
        positions = self._positions(index, query)
        bounded = query.sort_by is SortField.UPDATE_TIME
        found: list[Record] = []
        last_key: tuple[int, int] | None = None
        for position in positions:
            value, record_id = index[position]
            if bounded and self._past_bound(value, query):
                break
            record = self.records[record_id]
            if not self._matches(record, query):
                continue
            if len(found) == query.limit:
                return found, last_key
            found.append(record)
            last_key = (value, record_id)
        return found, None

    def _positions(self, index: list[tuple[int, int]], query: ListQuery) -> range:
        low_key = query.cursor_key
        if query.descending:
            top = bisect.bisect_left(index, low_key) if low_key else len(index)
            if query.sort_by is SortField.UPDATE_TIME and query.updated_until is not None:
                top = min(top, bisect.bisect_left(index, (query.updated_until, -1)))
            return range(top - 1, -1, -1)
        start = bisect.bisect_right(index, low_key) if low_key else 0
        if query.sort_by is SortField.UPDATE_TIME and query.updated_since is not None:
            start = max(start, bisect.bisect_left(index, (query.updated_since, -1)))
        return range(start, len(index))

    @staticmethod
    def _past_bound(value: int, query: ListQuery) -> bool:
        if query.descending:
            return query.updated_since is not None and value < query.updated_since
        return query.updated_until is not None and value >= query.updated_until

    @staticmethod
    def _matches(record: Record, query: ListQuery) -> bool:
        if record.deleted_ts is None:
            if not query.include_live:
                return False
        elif query.include_deleted_since is None or record.deleted_ts < query.include_deleted_since:
            return False
        if query.updated_since is not None and record.update_ts < query.updated_since:
            return False
        if query.updated_until is not None and record.update_ts >= query.updated_until:
            return False
        return all(predicate(record) for predicate in query.predicates)


def encode_cursor(sort_by: SortField, descending: bool, key: tuple[int, int]) -> str:
    """Encode a page position the way Pipedrive does: unpadded base64 of a small JSON object."""
    value: int | str = key[0] if sort_by is SortField.ID else format_time(key[0])
    payload = {
        "field": sort_by.value,
        "fieldValue": value,
        "sortDirection": "desc" if descending else "asc",
        "id": key[1],
    }
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def decode_cursor(cursor: str, sort_by: SortField, descending: bool) -> tuple[int, int]:
    """Decode a cursor made by `encode_cursor` for the same order; InvalidRequest otherwise."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = orjson.loads(base64.urlsafe_b64decode(padded))
        if payload["field"] != sort_by.value or (payload["sortDirection"] == "desc") != descending:
            raise ValueError("cursor made for another order")
        raw = payload["fieldValue"]
        value = int(raw) if sort_by is SortField.ID else parse_time(str(raw))
        return value, int(payload["id"])
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as error:
        raise InvalidRequest("Invalid cursor") from error
