"""Incremental read positions and emitted versions, in the connector's schema.

After Kafka acknowledges a page's events, `record_emitted` stores those versions and moves the cursor in
one transaction (the overlap rule that decides which versions are new: `record_versions`).

Lookups by a page's ids probe the primary key once per id (`unnest` and a `LATERAL ... LIMIT 1`) rather
than `pipedrive_id = ANY($ids)`: before a table has statistics (a new schema, or a new tenant in an old
one) the planner rates the key's `(tenant_id, object)` prefix as nearly unique and, for `= ANY`, scans
every row of the tenant's object and filters them, a page costing more than the one before (a second per
page of 500 at 100,000 rows). A probe by the whole key is one row whatever the statistics say, and a
`LIMIT` keeps the subquery from being flattened into a join the planner could order the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from connector.change_scan import Relation
from connector.record_versions import Version
from postgres_store.json_rows import joined_ints
from schemas.events.common import SyncObject

Connection = asyncpg.Connection | PoolConnectionProxy


def versions_upsert(schema: str) -> str:
    """The statement storing emitted versions ($1 to $9, `versions_upsert_arguments`): each (tenant,
    object, id) keeps its latest update_time and that version's digest.

    The columns come as comma-separated text (`n` for a null; times as microseconds since the epoch,
    whole seconds and microseconds added apart, each product exact in the interval arithmetic's float8
    for any year from 1 to 9999), split and cast here: asyncpg encodes typed arrays element by element
    (a timestamptz about 2 µs, any other element about 0.6 µs: several µs per imported record), a
    joined string at a tenth of that."""
    return (
        f"{versions_insert(schema)} ON CONFLICT (tenant_id, object, pipedrive_id) DO UPDATE"
        " SET update_time = greatest(v.update_time, EXCLUDED.update_time),"
        " digest = CASE WHEN EXCLUDED.update_time >= v.update_time THEN EXCLUDED.digest"
        " ELSE v.digest END,"
        " deleted = EXCLUDED.deleted,"
        " org_id = CASE WHEN $7 THEN EXCLUDED.org_id ELSE v.org_id END,"
        " person_id = CASE WHEN $7 THEN EXCLUDED.person_id ELSE v.person_id END"
    )


def versions_insert(schema: str) -> str:
    """`versions_upsert` for versions none of whose records has a stored version: a plain INSERT, which
    fails on the key (`asyncpg.UniqueViolationError`, the statement undone) when one has one after all.
    It costs PostgreSQL less than the upsert's speculative insertion (in-process, 500 rows a statement:
    5.5 to 7.2 against 6.4 to 9.3 µs of backend CPU a row). A new row points to what `relations` gave
    ($7), to none without it, as the upsert inserts it."""
    return (
        f"INSERT INTO {schema}.record_versions AS v"
        " (tenant_id, object, pipedrive_id, update_time, digest, deleted, org_id, person_id)"
        " SELECT $1, $2, i::bigint, timestamptz 'epoch' + (t::bigint / 1000000) * interval '1 second'"
        " + (t::bigint % 1000000) * interval '1 microsecond', d, $6,"
        " CASE WHEN $7 THEN o::bigint END, CASE WHEN $7 THEN p::bigint END"
        " FROM unnest(string_to_array($3, ','), string_to_array($4, ','), string_to_array($5, ',', 'n'),"
        " string_to_array($8, ',', 'n'), string_to_array($9, ',', 'n')) AS u(i, t, d, o, p)"
    )


def versions_upsert_arguments(
    tenant: str,
    obj: SyncObject,
    versions: Sequence[tuple[int, Version]],
    *,
    deleted: bool = False,
    relations: Mapping[int, Relation] | None = None,
) -> tuple[Any, ...]:
    """The arguments of `versions_upsert` (`relations`: what each version's record points to; without
    it, what a stored record pointed to stays)."""
    if relations:
        pointed = [relations.get(i, (None, None)) for i, _ in versions]
        orgs, persons = _joined([o for o, _ in pointed]), _joined([p for _, p in pointed])
    else:
        orgs = persons = ",".join(["n"] * len(versions))
    return (
        tenant,
        obj.value,
        joined_ints([i for i, _ in versions]),
        ",".join([_epoch_microseconds(at) for _, (at, _) in versions]),
        _joined([digest for _, (_, digest) in versions]),
        deleted,
        relations is not None,
        orgs,
        persons,
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECONDS = 1_000_000


def _epoch_microseconds(at: datetime) -> str:
    """`at` as whole microseconds since the epoch (a naive time taken as local, as asyncpg takes it)."""
    since = (at if at.tzinfo is not None else at.astimezone(UTC)) - _EPOCH
    return str((since.days * 86_400 + since.seconds) * _MICROSECONDS + since.microseconds)


def _joined(values: Sequence[object]) -> str:
    """Ids or digests (neither holds a comma, no digest is `n`) joined by commas, `n` for None."""
    return ",".join(["n" if v is None else str(v) for v in values])


class CursorStore:
    """Cursors and last emitted versions per tenant and object."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._schema = schema

    async def cursor(self, tenant: str, obj: SyncObject) -> datetime | None:
        """The highest update_time emitted for the object (None before the first read)."""
        value: datetime | None = await self._pool.fetchval(
            f"SELECT cursor FROM {self._schema}.cursors WHERE tenant_id = $1 AND object = $2",
            tenant,
            obj.value,
        )
        return value

    async def emitted(self, tenant: str, obj: SyncObject, ids: Sequence[int]) -> dict[int, Version]:
        """The last emitted version of each of `ids` that has one."""
        rows = await self._pool.fetch(
            "SELECT u.i AS pipedrive_id, v.update_time, v.digest"
            " FROM unnest(string_to_array($3, ',')::bigint[]) AS u(i)"
            " CROSS JOIN LATERAL (SELECT update_time, digest"
            f" FROM {self._schema}.record_versions"
            " WHERE tenant_id = $1 AND object = $2 AND pipedrive_id = u.i LIMIT 1) AS v",
            tenant,
            obj.value,
            joined_ints(ids),  # joined: half the binding of a bigint[] (`versions_upsert`)
        )
        return {r["pipedrive_id"]: (r["update_time"], r["digest"]) for r in rows}

    async def record_emitted(
        self,
        tenant: str,
        obj: SyncObject,
        versions: Sequence[tuple[int, Version]],
        *,
        deleted: bool = False,
        advance_to: datetime | None = None,
        relations: Mapping[int, Relation] | None = None,
        conn: Connection | None = None,
    ) -> None:
        """Store acknowledged versions and move the cursor forward (never back) in one transaction (the
        caller's, when it passes `conn`). `relations` holds the organization and person each version's
        record points to (absent ids point to none); without it, what a stored record pointed to stays."""
        if conn is None:
            async with self._pool.acquire() as own, own.transaction():
                await self.record_emitted(
                    tenant,
                    obj,
                    versions,
                    deleted=deleted,
                    advance_to=advance_to,
                    relations=relations,
                    conn=own,
                )
            return
        if versions:
            # One statement: an ON CONFLICT probes the key row by row, so no plan can scan the tenant's
            # rows for it (an UPDATE joined to the page's ids could, see the module's docstring).
            await conn.execute(
                versions_upsert(self._schema),
                *versions_upsert_arguments(tenant, obj, versions, deleted=deleted, relations=relations),
            )
        if advance_to is not None:
            await conn.execute(
                f"INSERT INTO {self._schema}.cursors AS c (tenant_id, object, cursor) VALUES ($1, $2, $3)"
                " ON CONFLICT (tenant_id, object) DO UPDATE"
                " SET cursor = greatest(c.cursor, EXCLUDED.cursor)",
                tenant,
                obj.value,
                advance_to,
            )

    async def relations(
        self, tenant: str, obj: SyncObject, ids: Sequence[int]
    ) -> dict[int, tuple[int | None, int | None]]:
        """The organization and person each of `ids` pointed to when last emitted."""
        rows = await self._pool.fetch(
            "SELECT u.i AS pipedrive_id, v.org_id, v.person_id FROM unnest($3::bigint[]) AS u(i)"
            " CROSS JOIN LATERAL (SELECT org_id, person_id"
            f" FROM {self._schema}.record_versions"
            " WHERE tenant_id = $1 AND object = $2 AND pipedrive_id = u.i LIMIT 1) AS v",
            tenant,
            obj.value,
            list(ids),
        )
        return {r["pipedrive_id"]: (r["org_id"], r["person_id"]) for r in rows}

    async def scanned_through(self, tenant: str) -> datetime | None:
        """Up to when the tenant's changes were last scanned (None: never)."""
        value: datetime | None = await self._pool.fetchval(
            f"SELECT scanned_through FROM {self._schema}.change_scans WHERE tenant_id = $1", tenant
        )
        return value

    async def mark_scanned(self, tenant: str, through: datetime) -> None:
        """Record that every change up to `through` was seen (never moves back)."""
        await self._pool.execute(
            f"INSERT INTO {self._schema}.change_scans AS s (tenant_id, scanned_through) VALUES ($1, $2)"
            " ON CONFLICT (tenant_id) DO UPDATE"
            " SET scanned_through = greatest(s.scanned_through, EXCLUDED.scanned_through)",
            tenant,
            through,
        )

    async def live_ids(self, tenant: str, obj: SyncObject) -> set[int]:
        """Ids emitted as live (not deleted) for the object."""
        rows = await self._pool.fetch(
            f"SELECT pipedrive_id FROM {self._schema}.record_versions"
            " WHERE tenant_id = $1 AND object = $2 AND NOT deleted",
            tenant,
            obj.value,
        )
        return {r["pipedrive_id"] for r in rows}

    async def reconciled_at(self, tenant: str, obj: SyncObject) -> datetime | None:
        """When the object's ids were last reconciled."""
        value: datetime | None = await self._pool.fetchval(
            f"SELECT reconciled_at FROM {self._schema}.cursors WHERE tenant_id = $1 AND object = $2",
            tenant,
            obj.value,
        )
        return value

    async def mark_reconciled(self, tenant: str, obj: SyncObject, at: datetime) -> None:
        """Record a finished reconciliation of the object's ids."""
        await self._pool.execute(
            f"INSERT INTO {self._schema}.cursors (tenant_id, object, reconciled_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (tenant_id, object) DO UPDATE SET reconciled_at = EXCLUDED.reconciled_at",
            tenant,
            obj.value,
            at,
        )

    async def rewind(
        self, tenant: str, objects: Sequence[SyncObject], since: datetime, *, dry_run: bool = False
    ) -> dict[SyncObject, tuple[datetime | None, int]]:
        """Make the next sync read the objects again from `since`: each cursor and the tenant's change
        scan move back to it (never forward) and the live versions updated at or after it are forgotten,
        so they are emitted again,
        with the event ids they had (consumers that applied them drop them by id). Deleted versions are
        kept: a deletion is not re-read. Per object: the cursor before, and how many versions were
        forgotten. With `dry_run` the same statements run and are rolled back.
        """
        report: dict[SyncObject, tuple[datetime | None, int]] = {}
        async with self._pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            try:
                for obj in objects:
                    before: datetime | None = await conn.fetchval(
                        f"SELECT cursor FROM {self._schema}.cursors"
                        " WHERE tenant_id = $1 AND object = $2 FOR UPDATE",
                        tenant,
                        obj.value,
                    )
                    await conn.execute(
                        f"UPDATE {self._schema}.cursors SET cursor = least(cursor, $3)"
                        " WHERE tenant_id = $1 AND object = $2",
                        tenant,
                        obj.value,
                        since,
                    )
                    forgotten = await conn.execute(
                        f"DELETE FROM {self._schema}.record_versions"
                        " WHERE tenant_id = $1 AND object = $2 AND update_time >= $3 AND NOT deleted",
                        tenant,
                        obj.value,
                        since,
                    )
                    report[obj] = (before, int(forgotten.rsplit(" ", 1)[-1]))
                # The next sync asks /v1/recents from `since` (or reads everything when that is beyond
                # recents' reach), so the forgotten versions are read again whatever its read mode.
                await conn.execute(
                    f"UPDATE {self._schema}.change_scans SET scanned_through = least(scanned_through, $2)"
                    " WHERE tenant_id = $1",
                    tenant,
                    since,
                )
            except BaseException:
                await transaction.rollback()
                raise
            await (transaction.rollback() if dry_run else transaction.commit())
        return report
