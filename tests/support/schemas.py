"""A PostgreSQL schema of a test's own: a name no other test or run uses, what the test needs in it (a
service's tables, a folder of migrations), and the schema dropped with everything in it afterwards.

`fresh_schema` is the context manager; `schema_fixture` makes the pytest fixture of the common case (one
service's tables, for a test, a module or the session); `schema_name` and `drop_schemas` serve the tests
whose schemas a service process creates itself (the test only names them and drops them)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import asyncpg
import pytest

from postgres_store.migrations import apply_migrations

Install = Callable[[asyncpg.Pool, str], Awaitable[object]]
"""What fills a schema: a service's `install_tables`, the Pipedrive client's `install_schema`."""

Scope = Literal["session", "package", "module", "class", "function"]


def schema_name(label: str) -> str:
    """`itest_<label>_<8 hex digits>`: a schema name of one test (or module, or session) only."""
    return f"itest_{label}_{secrets.token_hex(4)}"


async def drop_schemas(pool: asyncpg.Pool, *names: str) -> None:
    """Drop each schema, if it is there, with everything in it."""
    for name in names:
        await pool.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


async def install(pool: asyncpg.Pool, schema: str, *contents: Install | Path) -> None:
    """Fill `schema` in order: an `Install` is called, a folder's migrations are applied."""
    for content in contents:
        if isinstance(content, Path):
            await apply_migrations(pool, schema, content)
        else:
            await content(pool, schema)


@asynccontextmanager
async def fresh_schema(pool: asyncpg.Pool, label: str, *contents: Install | Path) -> AsyncIterator[str]:
    """A schema named by `schema_name(label)` holding `contents` (see `install`; none: only the name, for
    a process that creates it), dropped on the way out, also when installing failed."""
    name = schema_name(label)
    try:
        await install(pool, name, *contents)
        yield name
    finally:
        await drop_schemas(pool, name)


def schema_fixture(label: str, *contents: Install | Path, scope: Scope = "function") -> Any:
    """A pytest fixture (on `pg_pool`) yielding the name of a `fresh_schema(pg_pool, label, *contents)`,
    made once per `scope`. Bind it to the fixture's name in a test module or conftest:
    `mapper_schema = schema_fixture("mapper", install_tables, scope="session")`."""

    @pytest.fixture(scope=scope)
    async def schema(pg_pool: asyncpg.Pool) -> AsyncIterator[str]:
        async with fresh_schema(pg_pool, label, *contents) as name:
            yield name

    return schema
