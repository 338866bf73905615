"""The client's own Postgres schema (default `pipedrive_client`): credentials, OAuth states, budget."""

from __future__ import annotations

import re
from pathlib import Path

import asyncpg

from postgres_store.migrations import apply_migrations

DEFAULT_SCHEMA = "pipedrive_client"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def checked_schema(schema: str) -> str:
    """`schema` if it is a plain lower-case identifier (it is interpolated into SQL), else ValueError."""
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return schema


async def install_schema(pool: asyncpg.Pool, schema: str = DEFAULT_SCHEMA) -> list[int]:
    """Apply the client's pending migrations to `schema`; returns the versions applied now."""
    return await apply_migrations(pool, checked_schema(schema), MIGRATIONS_DIR)
