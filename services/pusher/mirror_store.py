"""The mirror on PostgreSQL (`pusher.ports.Mirror`): the `mirror` table of one schema, on the connection
of a unit of work or a view."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from postgres_store.json_rows import joined_ints, joined_texts, json_rows, texts_table, utc
from postgres_store.pool import Connection
from pusher.mirror import org_id_of, rounds_by_key
from pusher.planning import PipedriveRecord
from pusher.ports import MirrorChange
from schemas.events.common import SyncObject
from schemas.events.source_changes import ChangeAction

RecordKey = tuple[str, str, int]
"""(tenant, object, Pipedrive id) as the table holds them."""

MirrorRow = tuple[str, str, int, str | None, str, datetime, bool, int | None, bool]
"""One record version as the mirror holds it, in `MIRROR_COLUMNS`' order (what the COPY takes): tenant,
object, Pipedrive id, match key, the record's JSON text, update time, deleted, organization, echo."""


class PostgresMirror:
    """Reads and writes the `mirror` table of one schema on one connection."""

    def __init__(self, conn: Connection, schema: str) -> None:
        self._conn = conn
        self._schema = schema
        self._table = f"{schema}.mirror"

    async def apply_changes(self, changes: Sequence[MirrorChange]) -> list[bool]:
        """Mirror source changes in order, each kept unless a newer version is mirrored (a version is
        never kept over a merge) or the mirror holds it already: per round of distinct records
        (`rounds_by_key`), the versions' write (`_write_versions`) and one statement for the deletes and
        merges; one flag per change, True when it changed the mirror."""
        kept = [False] * len(changes)
        keys = [(t, str(c.object), c.pipedrive_id) for t, c, _, _ in changes]  # StrEnum: its own text
        for positions in rounds_by_key(keys):
            rows: list[MirrorRow] = []
            row_positions: list[int] = []
            gone_positions: list[int] = []
            for i in positions:
                tenant, change, match_key, echo = changes[i]
                record = change.record
                if record is not None and change.action is ChangeAction.UPSERTED:
                    obj, pipedrive_id = keys[i][1], change.pipedrive_id
                    rows.append(
                        mirror_row(tenant, obj, pipedrive_id, match_key, record, change.update_time, echo)
                    )
                    row_positions.append(i)
                else:
                    gone_positions.append(i)
            if rows:
                for i, written in zip(row_positions, await self._write_versions(rows), strict=True):
                    kept[i] = written
            if gone_positions:
                marked = await self._mark_gone_many([changes[i] for i in gone_positions])
                for i in gone_positions:
                    kept[i] = keys[i] in marked
        return kept

    async def _write_versions(self, rows: Sequence[MirrorRow]) -> list[bool]:
        """Mirror record versions, each unless a newer version or a merge is mirrored, or the row holds
        this version already; one flag per row, True when it was written.

        A batch of `COPY_FROM` or more (an import's) is split by one read of the keys the mirror holds
        (`_held_keys`): the versions of records it does not hold go in with COPY (binary), every row of
        it new, no speculative insertion, no JSON to parse, none compared; the rest by the upsert. A row
        mirrored since the read (a push's answer, another replica after a rebalance, committed or still
        open: the COPY waits for it) fails the COPY on the key: it is undone (its own savepoint) and the
        upsert writes every version of the batch, as it does a small batch, so each is kept or not as
        the version guard says, never twice."""
        if len(rows) >= COPY_FROM:
            held = await self._held_keys(rows)
            new = [row for row in rows if row[:3] not in held] if held else rows
            if len(new) >= COPY_FROM and await self._copied(new):
                if not held:
                    return [True] * len(rows)
                known = await self._upsert_versions([row for row in rows if row[:3] in held])
                return [row[:3] not in held or row[:3] in known for row in rows]
        written = await self._upsert_versions(rows)
        return [row[:3] in written for row in rows]

    async def _copied(self, rows: Sequence[MirrorRow]) -> bool:
        """COPY rows of records the mirror held none of at its read; False, the COPY undone, when one was
        mirrored since (the key's unique violation)."""
        try:
            async with self._conn.transaction():  # a savepoint inside the unit's transaction
                await self._conn.copy_records_to_table(
                    "mirror", records=rows, columns=MIRROR_COLUMNS, schema_name=self._schema
                )
        except asyncpg.UniqueViolationError:
            return False
        return True

    async def _held_keys(self, rows: Sequence[MirrorRow]) -> set[RecordKey]:
        """The keys of `rows` the mirror holds a row for, per tenant and object one statement: when
        the mirror holds no row between the least and the greatest of the ids (one probe of the primary
        key: an import's batch of new records), none; otherwise the primary key probed once an id
        (`LATERAL ... LIMIT 1`: the planner keeps that nested loop without the table's statistics, which a
        fresh mirror has none of, where it read `= ANY` or a join as a scan of the tenant's rows), about
        1.4 to 1.7 us of backend CPU an id."""
        ids: dict[tuple[str, str], list[int]] = {}
        for tenant, obj, pipedrive_id, _, _, _, _, _, _ in rows:  # no `*_`: a list per row
            ids.setdefault((tenant, obj), []).append(pipedrive_id)
        held: set[RecordKey] = set()
        for (tenant, obj), group in ids.items():
            found = await self._conn.fetchval(
                held_ids_sql(self._table), tenant, obj, joined_ints(group), min(group), max(group)
            )
            if found:
                held.update((tenant, obj, pipedrive_id) for pipedrive_id in found)
        return held

    async def _upsert_versions(self, rows: Sequence[MirrorRow]) -> set[RecordKey]:
        """Mirror record versions (the one statement that does), each unless a newer version or a merge
        is mirrored, or the row holds this version already (an unchanged row is not written again: no new
        row version, no index entries, no WAL but the row lock's); the keys of those written.

        The versions' other columns go as one JSON array of rows, split in SQL (`versions_json`): asyncpg
        binds typed arrays element by element, several us a version for eight columns. The records go
        beside them as one text, the JSON texts orjson wrote (`joined_texts`: a text array cost
        asyncpg its per-element checks), each kept as text: parsed into jsonb, as one with the rows or one
        by one, they cost the server about 12 us a record, two fifths of the statement (measured on
        2,000 sandbox organizations a statement)."""
        rows_json, records = versions_json(rows)
        written = await self._conn.fetchrow(
            f"WITH written AS (INSERT INTO {self._table} AS m ({', '.join(MIRROR_COLUMNS)})"
            " SELECT v->>0, v->>1, (v->>2)::bigint, v->>3, r, (v->>4)::timestamptz, (v->>5)::boolean,"
            " (v->>6)::bigint, (v->>7)::boolean"
            f" FROM ROWS FROM (jsonb_array_elements($1::text::jsonb), {texts_table('$2')}) AS x(v, r)"
            " ON CONFLICT (tenant_id, object, pipedrive_id) DO UPDATE SET match_key = EXCLUDED.match_key,"
            " record = EXCLUDED.record, update_time = EXCLUDED.update_time, deleted = EXCLUDED.deleted,"
            " org_id = EXCLUDED.org_id, last_change_was_echo = EXCLUDED.last_change_was_echo"
            " WHERE m.update_time <= EXCLUDED.update_time"
            " AND NOT (m.deleted AND m.merged_into_id IS NOT NULL)"
            " AND (m.record, m.match_key, m.update_time, m.deleted, m.org_id, m.last_change_was_echo)"
            " IS DISTINCT FROM (EXCLUDED.record, EXCLUDED.match_key, EXCLUDED.update_time, EXCLUDED.deleted,"
            " EXCLUDED.org_id, EXCLUDED.last_change_was_echo)"
            " RETURNING tenant_id, object, pipedrive_id)"
            " SELECT array_agg(tenant_id) AS tenants, array_agg(object) AS objects,"
            " array_agg(pipedrive_id) AS ids FROM written",
            rows_json, records,
        )  # fmt: skip
        return written_keys(written)

    async def _mark_gone_many(self, changes: Sequence[MirrorChange]) -> set[RecordKey]:
        rows = await self._conn.fetch(
            f"INSERT INTO {self._table} AS m (tenant_id, object, pipedrive_id, update_time, deleted,"
            " merged_into_id) SELECT t, o, p, u, true, g FROM unnest($1::text[], $2::text[], $3::bigint[],"
            " $4::timestamptz[], $5::bigint[]) AS x(t, o, p, u, g)"
            " ON CONFLICT (tenant_id, object, pipedrive_id) DO UPDATE SET deleted = true,"
            " merged_into_id = EXCLUDED.merged_into_id, update_time = greatest(m.update_time,"
            " EXCLUDED.update_time) WHERE NOT (m.deleted AND m.merged_into_id IS NOT DISTINCT FROM"
            " EXCLUDED.merged_into_id AND m.update_time >= EXCLUDED.update_time)"
            " RETURNING tenant_id, object, pipedrive_id",
            [t for t, _, _, _ in changes], [c.object.value for _, c, _, _ in changes],
            [c.pipedrive_id for _, c, _, _ in changes], [c.update_time for _, c, _, _ in changes],
            [c.merged_into_id for _, c, _, _ in changes],
        )  # fmt: skip
        return {(r["tenant_id"], r["object"], r["pipedrive_id"]) for r in rows}

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
        """Mirror one record version (older versions than the mirrored one are ignored)."""
        row = mirror_row(tenant, str(obj), pipedrive_id, match_key, record, update_time, echo)
        return (await self._write_versions([row]))[0]

    async def by_id(self, tenant: str, obj: SyncObject, pipedrive_id: int) -> PipedriveRecord | None:
        """The mirrored record with this id (deleted ones included), or None."""
        row = await self._conn.fetchrow(
            f"SELECT pipedrive_id, coalesce(record, '{{}}') AS record, deleted, merged_into_id"
            f" FROM {self._table} WHERE tenant_id = $1 AND object = $2 AND pipedrive_id = $3",
            tenant, obj.value, pipedrive_id,
        )  # fmt: skip
        return _record(row)

    async def by_match_key(self, tenant: str, obj: SyncObject, match_key: str) -> PipedriveRecord | None:
        """The live mirrored record with this match key (the oldest, when Pipedrive holds several)."""
        row = await self._conn.fetchrow(live_by_key_sql(self._table), tenant, obj.value, match_key)
        return _record(row)

    async def gone_by_match_key(self, tenant: str, obj: SyncObject, match_key: str) -> PipedriveRecord | None:
        """The record with this match key that Pipedrive deleted or merged away last, or None."""
        row = await self._conn.fetchrow(
            f"SELECT pipedrive_id, coalesce(record, '{{}}') AS record, deleted, merged_into_id"
            f" FROM {self._table} WHERE tenant_id = $1 AND object = $2 AND match_key = $3 AND deleted"
            " ORDER BY update_time DESC, pipedrive_id DESC LIMIT 1",
            tenant, obj.value, match_key,
        )  # fmt: skip
        return _record(row)

    async def mark_deleted(self, tenant: str, obj: SyncObject, pipedrive_id: int, at: datetime) -> None:
        """Pipedrive answered 404 for the record: it is deleted (a merge already known is kept)."""
        await self._conn.execute(
            f"INSERT INTO {self._table} AS m (tenant_id, object, pipedrive_id, update_time, deleted)"
            " VALUES ($1, $2, $3, $4, true) ON CONFLICT (tenant_id, object, pipedrive_id) DO UPDATE"
            " SET deleted = true, update_time = greatest(m.update_time, EXCLUDED.update_time)",
            tenant, obj.value, pipedrive_id, at,
        )  # fmt: skip

    async def open_deals_of(self, tenant: str, org_id: int) -> list[PipedriveRecord]:
        """The organization's live open deals (the object written out: the deals-only index serves it)."""
        rows = await self._conn.fetch(
            f"SELECT pipedrive_id, record, deleted, merged_into_id FROM {self._table}"
            f" WHERE tenant_id = $1 AND object = '{SyncObject.DEAL.value}'"
            " AND org_id = $2 AND NOT deleted AND record::json ->> 'status' = 'open' ORDER BY pipedrive_id",
            tenant, org_id,
        )  # fmt: skip
        return [r for r in (_record(row) for row in rows) if r is not None]


LIVE_KEY_TEXT = "tenant_id || chr(31) || object || chr(31) || match_key"
"""The expression the live match-key index (`mirror_by_match_key`, a hash index: migration 0012) holds."""


def live_by_key_sql(table: str) -> str:
    """The read of the live record with a match key ($1 tenant, $2 object, $3 key; the oldest first): by
    the index's expression, and by the three columns, which the expression's text alone does not pin (a
    tenant id may hold the separator)."""
    return (
        f"SELECT pipedrive_id, record, deleted, merged_into_id FROM {table}"
        " WHERE tenant_id = $1 AND object = $2 AND match_key = $3 AND NOT deleted"
        f" AND {LIVE_KEY_TEXT} = $1 || chr(31) || $2 || chr(31) || $3 ORDER BY pipedrive_id LIMIT 1"
    )


def held_ids_sql(table: str) -> str:
    """The read of the ids the mirror holds among some ($1 tenant, $2 object, $3 the ids joined by commas,
    $4 and $5 the least and the greatest of them): an array, or null when it holds none (unread when it
    holds no row between the least and the greatest)."""
    return (
        f"SELECT CASE WHEN EXISTS (SELECT FROM {table} WHERE tenant_id = $1 AND object = $2"
        " AND pipedrive_id BETWEEN $4 AND $5) THEN (SELECT array_agg(h.pipedrive_id)"
        " FROM unnest(string_to_array($3::text, ',')::bigint[]) AS x(id),"
        f" LATERAL (SELECT pipedrive_id FROM {table} WHERE tenant_id = $1 AND object = $2"
        " AND pipedrive_id = x.id LIMIT 1) AS h) END"
    )


def mirror_row(
    tenant: str, obj: str, pipedrive_id: int, match_key: str | None, record: Mapping[str, Any],
    update_time: datetime, echo: bool,
) -> MirrorRow:  # fmt: skip
    """A record version as the mirror holds it: the record as the JSON text orjson writes (kept as text:
    `versions_json`), deleted as the record says, the organization it belongs to (`org_id_of`)."""
    return (
        tenant, obj, pipedrive_id, match_key, orjson.dumps(record).decode(), update_time,
        bool(record.get("is_deleted")), org_id_of(record), echo,
    )  # fmt: skip


def versions_json(rows: Sequence[MirrorRow]) -> tuple[str, str]:
    """The mirror rows as the upsert takes them: the columns but the record as one JSON array of arrays
    (the insert's column order, `postgres_store.json_rows`; the update time in UTC), and the records' JSON
    texts as one text (`joined_texts`)."""
    return (
        json_rows([(t, o, p, k, utc(u), d, g, e) for t, o, p, k, _, u, d, g, e in rows]),
        joined_texts([row[4] for row in rows]),
    )


MIRROR_COLUMNS = (
    "tenant_id", "object", "pipedrive_id", "match_key", "record", "update_time", "deleted", "org_id",
    "last_change_was_echo",
)  # fmt: skip
COPY_FROM = 128
"""The fewest versions (and new ones among them) a round copies: below it the read and the COPY's round
trips (the read, the savepoint and its release, the COPY's two) cost more than the upsert's work they
spare."""


def written_keys(row: Any) -> set[RecordKey]:
    """The keys of the rows a statement wrote, from its one row of three aggregated arrays (each None when
    it wrote none): asyncpg decodes a row of arrays in C, where a row per key cost it a record each and
    this module a lookup by name per column."""
    if row["ids"] is None:
        return set()
    return set(zip(row["tenants"], row["objects"], row["ids"], strict=True))


def _record(row: Any) -> PipedriveRecord | None:
    if row is None or row["record"] is None:
        return None
    return PipedriveRecord(
        int(row["pipedrive_id"]), orjson.loads(row["record"]), bool(row["deleted"]), row["merged_into_id"]
    )
