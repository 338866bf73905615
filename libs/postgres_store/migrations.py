"""Ordered SQL migrations per service schema.

Each service keeps its migrations as `NNNN_description.sql` files in a folder of its own and applies them
to its own schema at start-up. Applied versions are recorded in `<schema>.schema_migrations`; an advisory
lock keyed by the schema serializes replicas that start at the same moment.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

from postgres_store.pool import session_lock

_log = structlog.get_logger(__name__)
_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


class MigrationError(Exception):
    """A migration folder or file that cannot be applied as it stands."""


@dataclass(frozen=True)
class Migration:
    """One SQL file, identified by its version number."""

    version: int
    name: str
    sql: str


def load_migrations(folder: Path) -> list[Migration]:
    """Read the folder's migrations in version order; rejects stray files and duplicate versions."""
    migrations: list[Migration] = []
    for path in sorted(folder.iterdir()):
        if path.suffix != ".sql":
            continue
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_description.sql")
        migrations.append(Migration(int(match["version"]), match["name"], path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{folder}: two migrations share a version number")
    return migrations


async def apply_migrations(
    pool: asyncpg.Pool, schema: str, folder: Path, *, ledger: str = "schema_migrations"
) -> list[int]:
    """Apply the folder's pending migrations to `schema`, each in its own transaction; returns them.

    Applied versions are recorded in `<schema>.<ledger>`: a package that installs tables of its own into
    a service's schema (the inbox) keeps its versions in a ledger of its own.
    """
    if not _SCHEMA_NAME.match(schema) or not _SCHEMA_NAME.match(ledger):
        raise MigrationError(f"invalid schema or ledger name {schema!r} {ledger!r}")
    migrations = load_migrations(folder)
    applied_now: list[int] = []
    async with pool.acquire() as conn, session_lock(conn, "$1", zlib.crc32(schema.encode())):
        # A migration that finds data it cannot fix says so with RAISE WARNING: make that visible.
        conn.add_log_listener(_log_notice)
        try:
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {schema}.{ledger} ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in await conn.fetch(f"SELECT version FROM {schema}.{ledger}")}
            for migration in migrations:
                if migration.version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(f"SET LOCAL search_path TO {schema}")
                    await conn.execute(migration.sql)
                    await conn.execute(
                        f"INSERT INTO {schema}.{ledger} (version, name) VALUES ($1, $2)",
                        migration.version,
                        migration.name,
                    )
                applied_now.append(migration.version)
                _log.info("migration_applied", schema=schema, version=migration.version, name=migration.name)
        finally:
            conn.remove_log_listener(_log_notice)
    return applied_now


def _log_notice(_conn: object, message: asyncpg.PostgresLogMessage) -> None:
    """Log a warning the server sent while migrating (notices such as "already exists" are noise)."""
    if message.severity == "WARNING":
        _log.warning("migration_warning", message=message.message)
