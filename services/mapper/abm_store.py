"""The ABM store's Postgres adapter (`mapper.ports.AbmRecords`): records and their Pipedrive links.

A store is bound to the connection of a unit of work, so a change's effects, its inbox claim and its
result are committed together. Reads and writes of a batch are set-based (one statement per kind, arrays
passed whole through `unnest`). A batch's reads look each key up through a LATERAL subquery: joined to
the table, the planner hashed or sorted the whole table for every batch (it prices 2,000 index probes
above a scan, with every page in memory), a cost that grew with the store. Table names come from
`TABLES`, never from input.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from itertools import chain
from operator import itemgetter
from typing import Any

from mapper.planning import StoredRecord
from mapper.ports import LinkKey, LinkRow, RecordRow
from postgres_store.json_rows import (
    COPY_NULL,
    copy_json,
    copy_text,
    has_copy_specials,
    joined_ints,
    json_rows,
    utc,
)
from postgres_store.pool import Connection
from schemas.events.abm_signals import VisitedPage
from schemas.events.common import SyncObject

_RECORD_COLUMNS = ("tenant_id", "abm_id", "match_key", "is_duplicate", "fields", "deleted_in_crm")
"""The columns of a record row as a batch loads it and `insert_records`' COPY writes it."""
_RECORD = ", ".join(_RECORD_COLUMNS)

_LINK_COLUMNS = (
    "tenant_id", "object", "pipedrive_id", "abm_id", "source_update_time", "deleted_in_crm", "merged_into_id",
)  # fmt: skip
"""The columns of a link row, in its order (`save_links`' INSERT, `insert_links`' COPY)."""

_LINK_ROWS = (
    "SELECT r->>0, r->>1, (r->>2)::bigint, r->>3, (r->>4)::timestamptz, (r->>5)::bool, (r->>6)::bigint"
    " FROM jsonb_array_elements($1::text::jsonb) AS r"
)
"""Link rows (`save_links`) from their JSON parameter (`_link_rows`)."""


def _link_rows(rows: Sequence[tuple[Any, ...]]) -> str:
    """Link rows as `_LINK_ROWS` reads them, each version in UTC (`json_rows`' times, as the pusher's and
    the auditlog's stores write theirs)."""
    return json_rows([(*r[:4], utc(r[4]), *r[5:]) for r in rows])


def live_links_sql(links: str) -> str:
    """A live link (not deleted in CRM) of each (tenant, ABM id) of `$1`, a JSON array of pairs, in object
    `$2`: one probe of `links_by_abm_id` (abm_id, tenant_id, object) per record, stopped at the first live
    link it finds (a record two live links hold, linked before the one-link rule, gives either).

    The tenant is compared as `tenant_id || ''` so that only `links_by_abm_id` can serve the probe: with
    `tenant_id = ...` the primary key (tenant_id, object, pipedrive_id) could too, by the tenant and
    object, filtering each of the tenant's links by ABM id, and without statistics (links not analyzed
    yet, as on a new deployment's or tenant's first import) the planner prices both probes alike and
    takes the primary key's: 238 ms for 2,000 records at 90,000 links, 4 ms with the ABM id's index. Nor
    `min(pipedrive_id)`: PostgreSQL may read it from the primary key in Pipedrive id order, filtering by
    ABM id (11 ms a record at 90,000 links; as a subquery of the key read it made an import 2.5 times
    slower, ac86b93). tests/integration/mapper/test_store_indexes.py checks the plans."""
    return (
        "SELECT k->>0 AS tenant_id, k->>1 AS abm_id, l.pipedrive_id"
        " FROM jsonb_array_elements($1::text::jsonb) AS k"
        f" CROSS JOIN LATERAL (SELECT pipedrive_id FROM {links} WHERE abm_id = k->>1"
        " AND tenant_id || '' = k->>0 AND object = $2 AND NOT deleted_in_crm LIMIT 1) AS l"
    )


def record_copy_text(rows: Sequence[tuple[Any, ...]]) -> memoryview:
    """Record rows (`insert_records`') as COPY's text format: a line a row, its fields tab-separated,
    the fields as orjson's JSON (`copy_json`), booleans as t and f, a NULL key as `\\N`, and the texts
    escaped (`copy_text`) when one of the batch's needs it (one look at them all, C-level: a tenant, an
    ABM id or a match key with a backslash, tab or line break is rare). A memoryview: asyncpg's
    `copy_to_table` would take bytes for a file's path."""
    texts = chain(map(itemgetter(0), rows), map(itemgetter(1), rows), filter(None, map(itemgetter(2), rows)))
    if has_copy_specials("".join(texts)):
        rows = [
            (copy_text(t), copy_text(a), k if k is None else copy_text(k), *rest) for t, a, k, *rest in rows
        ]
    lines = [
        f"{tenant}\t{abm_id}\t{COPY_NULL if key is None else key}"
        f"\t{_COPY_BOOL[duplicate]}\t{copy_json(fields)}\t{_COPY_BOOL[deleted]}\n"
        for tenant, abm_id, key, duplicate, fields, deleted in rows
    ]
    return memoryview("".join(lines).encode())


_COPY_BOOL = {False: "f", True: "t"}


TABLES: Mapping[SyncObject, str] = {
    SyncObject.ORGANIZATION: "accounts",
    SyncObject.PERSON: "contacts",
    SyncObject.DEAL: "opportunities",
}


class AbmStore:
    """SQL of the ABM store in one service schema, on one connection."""

    def __init__(self, conn: Connection, schema: str) -> None:
        self._conn = conn
        self._schema = schema

    def _table(self, obj: SyncObject) -> str:
        return f"{self._schema}.{TABLES[obj]}"

    async def record_by_key(self, tenant: str, obj: SyncObject, match_key: str) -> StoredRecord | None:
        """The (non-duplicate) ABM record holding a match key, locked."""
        row = await self._conn.fetchrow(
            f"SELECT abm_id, fields, deleted_in_crm FROM {self._table(obj)}"
            " WHERE tenant_id = $1 AND match_key = $2 AND NOT is_duplicate FOR UPDATE",
            tenant, match_key,
        )  # fmt: skip
        return None if row is None else StoredRecord.of_row(dict(row))

    async def create_record(
        self,
        tenant: str,
        obj: SyncObject,
        abm_id: str,
        match_key: str | None,
        fields: Mapping[str, Any],
    ) -> None:
        """Insert a new ABM record."""
        await self._conn.execute(
            f"INSERT INTO {self._table(obj)} (tenant_id, abm_id, match_key, is_duplicate, fields)"
            " VALUES ($1, $2, $3, false, $4)",
            tenant, abm_id, match_key, dict(fields),
        )  # fmt: skip

    async def count_reveal(
        self, tenant: str, abm_id: str, revealed_at: datetime, pages: Sequence[VisitedPage], keep: int
    ) -> None:
        """One more reveal of an account: its count, its latest time, its `keep` most recent pages."""
        await self._conn.execute(
            f"UPDATE {self._schema}.accounts SET reveal_count = reveal_count + 1,"
            " last_revealed_at = GREATEST(last_revealed_at, $3),"
            " recent_pages = (SELECT coalesce(jsonb_agg(p), '[]') FROM"
            "   (SELECT p FROM jsonb_array_elements($4::jsonb || recent_pages) AS p LIMIT $5) AS kept)"
            " WHERE tenant_id = $1 AND abm_id = $2",
            tenant, abm_id, revealed_at, [p.model_dump(mode="json") for p in pages], keep,
        )  # fmt: skip

    async def set_score(self, tenant: str, abm_id: str, score: float, changed_at: datetime) -> None:
        """An account's engagement score, unless a later one was set."""
        await self._conn.execute(
            f"UPDATE {self._schema}.accounts SET engagement_score = $3, score_changed_at = $4"
            " WHERE tenant_id = $1 AND abm_id = $2 AND (score_changed_at IS NULL OR score_changed_at <= $4)",
            tenant, abm_id, score, changed_at,
        )  # fmt: skip

    async def update_record(
        self, tenant: str, obj: SyncObject, abm_id: str, changes: Mapping[str, Any]
    ) -> None:
        """Write changed fields over a record. Its CRM deletion mark stays: only Pipedrive (a record synced
        in, or one a manual push created) says the record exists there again."""
        await self._conn.execute(
            f"UPDATE {self._table(obj)} SET fields = fields || $3, updated_at = now()"
            " WHERE tenant_id = $1 AND abm_id = $2",
            tenant, abm_id, dict(changes),
        )  # fmt: skip

    async def mark_deleted_in_crm(
        self,
        tenant: str,
        obj: SyncObject,
        pipedrive_id: int,
        abm_id: str | None,
        version: datetime,
    ) -> None:
        """Pipedrive no longer has the record: its link is marked deleted, and the ABM record (the linked
        one, else `abm_id`) is marked deleted in CRM unless another live link holds it."""
        linked = await self._conn.fetchval(
            f"UPDATE {self._schema}.links SET deleted_in_crm = true"
            " WHERE tenant_id = $1 AND object = $2 AND pipedrive_id = $3 RETURNING abm_id",
            tenant, obj.value, pipedrive_id,
        )  # fmt: skip
        target = linked or abm_id
        if target is None:
            return
        if linked is None:
            await self._conn.execute(
                f"INSERT INTO {self._schema}.links (tenant_id, object, pipedrive_id, abm_id,"
                " source_update_time, deleted_in_crm) VALUES ($1, $2, $3, $4, $5, true)"
                " ON CONFLICT DO NOTHING",
                tenant, obj.value, pipedrive_id, target, version,
            )  # fmt: skip
        await self._conn.execute(
            f"UPDATE {self._table(obj)} r SET deleted_in_crm = true, updated_at = now()"
            " WHERE r.tenant_id = $1 AND r.abm_id = $2 AND NOT EXISTS (SELECT 1 FROM"
            f" {self._schema}.links l WHERE l.tenant_id = $1 AND l.object = $3 AND l.abm_id = $2"
            " AND NOT l.deleted_in_crm)",
            tenant, target, obj.value,
        )  # fmt: skip

    async def mark_in_crm(self, tenant: str, obj: SyncObject, abm_id: str) -> None:
        """The record exists in Pipedrive again (a manual push created it): clear its CRM deletion mark."""
        await self._conn.execute(
            f"UPDATE {self._table(obj)} SET deleted_in_crm = false, updated_at = now()"
            " WHERE tenant_id = $1 AND abm_id = $2 AND deleted_in_crm",
            tenant, abm_id,
        )  # fmt: skip

    async def link_if_unlinked(
        self,
        tenant: str,
        obj: SyncObject,
        pipedrive_id: int,
        abm_id: str,
        version: datetime,
    ) -> bool:
        """Link a Pipedrive id that has no link yet (a merge survivor, a record the pusher created)."""
        inserted = await self._conn.fetchval(
            f"INSERT INTO {self._schema}.links (tenant_id, object, pipedrive_id, abm_id, source_update_time)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING true",
            tenant, obj.value, pipedrive_id, abm_id, version,
        )  # fmt: skip
        return bool(inserted)

    async def lock_match_keys(self, keys: Sequence[tuple[str, SyncObject, str]]) -> None:
        """Transaction-scoped advisory locks on (tenant, object, match key), one statement, taken in
        ascending lock id order (no deadlock between two units that take theirs in one statement). A read
        after this statement (READ COMMITTED) sees the record a unit that held one of these locks
        committed."""
        ids = sorted(match_lock_ids(self._schema, keys))
        if ids:
            await self._conn.execute(
                "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(string_to_array($1, ',')::bigint[]) AS k",
                joined_ints(ids),
            )

    async def links(self, keys: Sequence[LinkKey], *, lock: bool = True) -> dict[LinkKey, LinkRow]:
        """Links by (tenant, object, pipedrive id), locked unless `lock` is false (a dry run)."""
        rows = await self._conn.fetch(
            "SELECT l.* FROM jsonb_array_elements($1::text::jsonb) AS k"
            f" CROSS JOIN LATERAL (SELECT * FROM {self._schema}.links WHERE tenant_id = k->>0"
            " AND object = k->>1 AND pipedrive_id = (k->>2)::bigint" + _locking(lock) + ") AS l",
            json_rows(_distinct(keys)),
        )
        return {(r["tenant_id"], r["object"], r["pipedrive_id"]): dict(r) for r in rows}

    async def records_by_id(
        self, obj: SyncObject, keys: Sequence[tuple[str, str]], *, lock: bool = True
    ) -> list[RecordRow]:
        """Records of one object by (tenant, ABM id), locked unless `lock` is false (a dry run)."""
        rows = await self._conn.fetch(
            f"SELECT {_RECORD} FROM jsonb_array_elements($1::text::jsonb) AS k"
            f" CROSS JOIN LATERAL (SELECT {_RECORD} FROM {self._schema}.{TABLES[obj]}"
            " WHERE tenant_id = k->>0 AND abm_id = k->>1" + _locking(lock) + ") AS r",
            json_rows(_distinct(keys)),
        )
        return [dict(r) for r in rows]

    async def records_by_key(
        self, obj: SyncObject, keys: Sequence[tuple[str, str]], *, lock: bool = True
    ) -> list[RecordRow]:
        """Non-duplicate records of one object by (tenant, match key), locked unless `lock` is false, each
        with `linked_id`: the Pipedrive id of a live link (not deleted in CRM) that holds it, None when
        none does. The links are a second keyed read (`live_links_sql`), made only when a key found a
        record: a batch of new records reads no link."""
        rows = await self._conn.fetch(
            f"SELECT {_RECORD} FROM jsonb_array_elements($1::text::jsonb) AS k"
            f" CROSS JOIN LATERAL (SELECT {_RECORD} FROM {self._schema}.{TABLES[obj]}"
            " WHERE tenant_id = k->>0 AND match_key = k->>1 AND NOT is_duplicate" + _locking(lock) + ") AS r",
            json_rows(_distinct(keys)),
        )
        if not rows:
            return []
        held = await self._conn.fetch(
            live_links_sql(f"{self._schema}.links"),
            json_rows([(r["tenant_id"], r["abm_id"]) for r in rows]), obj.value,
        )  # fmt: skip
        linked = {(h["tenant_id"], h["abm_id"]): h["pipedrive_id"] for h in held}
        return [dict(r, linked_id=linked.get((r["tenant_id"], r["abm_id"]))) for r in rows]

    async def insert_records(self, obj: SyncObject, rows: Sequence[tuple[Any, ...]]) -> None:
        """New records: (tenant, abm id, match key, is duplicate, fields, deleted in CRM), with a COPY in
        text format (`record_copy_text`; a binary COPY would need a binary jsonb codec, and the pool's is
        text). It fails where the plain INSERT before it failed, and cannot here: the batch holds the
        match-key lock of every non-duplicate record it creates and read the key under it (`settle`), and
        a new record's ABM id is derived from its Pipedrive id, whose changes only this partition's batch
        applies (were one to fail, the batch would roll back whole and be retried, as with a link)."""
        await self._conn.copy_to_table(
            TABLES[obj], source=record_copy_text(rows),  # type: ignore[arg-type]  # a buffer (asyncpg's docs)
            columns=_RECORD_COLUMNS, schema_name=self._schema, format="text",
        )  # fmt: skip

    async def update_records(self, obj: SyncObject, rows: Sequence[tuple[Any, ...]]) -> None:
        """Changed records: (tenant, abm id, fields, deleted in CRM) — fields as a whole, read under lock."""
        await self._conn.execute(
            f"UPDATE {self._schema}.{TABLES[obj]} AS r SET fields = u.j->2,"
            " deleted_in_crm = (u.j->>3)::bool, updated_at = now()"
            " FROM jsonb_array_elements($1::text::jsonb) AS u(j)"
            " WHERE r.tenant_id = u.j->>0 AND r.abm_id = u.j->>1",
            json_rows(rows),
        )

    async def save_links(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Links as they end the batch: (tenant, object, pipedrive id, abm id, version, deleted, merged)."""
        await self._conn.execute(
            f"INSERT INTO {self._schema}.links AS l ({', '.join(_LINK_COLUMNS)}) {_LINK_ROWS}"
            " ON CONFLICT (tenant_id, object, pipedrive_id) DO UPDATE SET abm_id = EXCLUDED.abm_id,"
            " source_update_time = GREATEST(l.source_update_time, EXCLUDED.source_update_time),"
            " deleted_in_crm = EXCLUDED.deleted_in_crm, merged_into_id = EXCLUDED.merged_into_id",
            _link_rows(rows),
        )

    async def insert_links(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """New links, none of which the batch found stored (same rows as `save_links`), with a binary
        COPY. It fails where a plain INSERT would (a link another transaction inserted meanwhile, a push
        completion's: the batch fails on the key, and the batch's retry finds it and applies the change
        to it), and costs PostgreSQL less than one of the rows' JSON, which itself costs about a third
        less than the upsert (no speculative insertion)."""
        await self._conn.copy_records_to_table(
            "links", records=rows, columns=_LINK_COLUMNS, schema_name=self._schema
        )

    async def repoint_associations(self, tenant: str, obj: SyncObject, merged: int, survivor: int) -> None:
        """Records that pointed to a Pipedrive record merged away point to its survivor (contacts and
        opportunities follow a merged organization, opportunities a merged person)."""
        field, tables = ASSOCIATED_BY.get(obj, ("", ()))
        for table in tables:
            await self._conn.execute(
                f"UPDATE {self._schema}.{table} SET fields = jsonb_set(fields, ARRAY[$2::text],"
                " to_jsonb($4::bigint)), updated_at = now() WHERE tenant_id = $1 AND fields ->> $2 = $3",
                tenant, field, str(merged), survivor,
            )  # fmt: skip


ASSOCIATED_BY: Mapping[SyncObject, tuple[str, tuple[str, ...]]] = {
    SyncObject.ORGANIZATION: ("organization", ("contacts", "opportunities")),
    SyncObject.PERSON: ("person", ("opportunities",)),
}
"""The field by which records point to a Pipedrive record of an object, and the tables that have it."""


def match_lock_id(schema: str, tenant: str, obj: SyncObject, match_key: str) -> int:
    """The advisory lock id (a signed 64-bit int) of a match key in a schema's ABM store: the BLAKE2b
    (8 bytes) of its parts joined by a unit separator. Every process must give a key the same id (the
    lock is how two of them exclude each other), a rolling upgrade's old and new ones included."""
    (lock_id,) = match_lock_ids(schema, [(tenant, obj, match_key)])
    return lock_id


def match_lock_ids(schema: str, keys: Iterable[tuple[str, SyncObject, str]]) -> set[int]:
    """`match_lock_id` of each (tenant, object, match key), each once: the hash of the parts before the
    key is taken once per tenant and object and copied for each key (the same bytes hashed: BLAKE2b
    reads its input as a stream), about a third of the cost of hashing each name whole."""
    prefixes: dict[tuple[str, SyncObject], hashlib.blake2b] = {}
    ids = set()
    for tenant, obj, match_key in keys:
        prefix = prefixes.get((tenant, obj))
        if prefix is None:
            head = "\x1f".join(("psync-match", schema, tenant, obj.value, "")).encode()
            prefix = prefixes[(tenant, obj)] = hashlib.blake2b(head, digest_size=8)
        digest = prefix.copy()
        digest.update(match_key.encode())
        ids.add(int.from_bytes(digest.digest(), "big", signed=True))
    return ids


def _locking(lock: bool) -> str:
    return " FOR UPDATE" if lock else ""


def _distinct(keys: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Each key once (a batch may hold two changes of one record), in order."""
    return list(dict.fromkeys(keys))
