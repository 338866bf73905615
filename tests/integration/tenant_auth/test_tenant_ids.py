"""Tenant ids follow the envelope's `tenantid` rule: the admin command refuses any other id, and the
migration checks the ids created before the rule (validated when all comply, named in a warning when
some do not, while new rows are refused either way)."""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from structlog.testing import capture_logs

from postgres_store.migrations import apply_migrations
from tenant_auth.__main__ import main
from tenant_auth.registry import MIGRATIONS
from tests.support.commands import run_module
from tests.support.schemas import fresh_schema

pytestmark = pytest.mark.integration


async def _admin_in_process(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    """The admin command's own `main`, without starting an interpreter (its own loop, in a thread)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    code = await asyncio.to_thread(main, list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


async def _tenants_named(pool: asyncpg.Pool, tenant: str) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM tenant_auth.tenants WHERE tenant_id = $1", tenant)
    return count


@pytest.mark.parametrize("tenant", ["acme inc", "acme:eu", "", "ä" * 3, "a" * 101, "acme\n"])
async def test_the_admin_command_refuses_a_tenant_id_events_cannot_carry(
    database_url: str,
    pg_pool: asyncpg.Pool,
    tenant: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, output = await _admin_in_process(database_url, monkeypatch, capsys, "create-tenant", tenant, "Acme")

    assert code == 1, output
    assert "invalid tenant id" in output
    assert "API key" not in output
    assert await _tenants_named(pg_pool, tenant) == 0


async def test_the_admin_command_creates_a_tenant_with_a_valid_id(
    database_url: str, pg_pool: asyncpg.Pool
) -> None:
    tenant = f"Acme-{secrets.token_hex(3)}.eu_1"

    created = await run_module(
        "tenant_auth", "create-tenant", tenant, "Acme", env={"DATABASE_URL": database_url}
    )

    assert created.status == 0, created.output
    assert "API key (shown once): psk_" in created.output
    assert await _tenants_named(pg_pool, tenant) == 1


@pytest.fixture
async def scratch_schema(pg_pool: asyncpg.Pool, tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """A fresh schema holding the registry as it was before the rule (its first migration only)."""
    before = tmp_path / "before"
    before.mkdir()
    shutil.copy(MIGRATIONS / "0001_tenants_and_keys.sql", before)
    async with fresh_schema(pg_pool, "tenant_auth", before) as schema:
        yield schema, before


async def _constraint_validated(pool: asyncpg.Pool, schema: str) -> bool | None:
    validated: bool | None = await pool.fetchval(
        "SELECT c.convalidated FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
        " WHERE n.nspname = $1 AND c.conname = 'tenant_id_format'",
        schema,
    )
    return validated


async def test_the_migration_names_existing_ids_that_break_the_rule_and_refuses_new_ones(
    pg_pool: asyncpg.Pool, scratch_schema: tuple[str, Path]
) -> None:
    schema, _ = scratch_schema
    await pg_pool.execute(
        f"INSERT INTO {schema}.tenants (tenant_id, name) VALUES ('acme inc', 'bad'), ('good-1', 'good')"
    )

    with capture_logs() as logs:
        await apply_migrations(pg_pool, schema, MIGRATIONS)

    warnings = [e for e in logs if e["event"] == "migration_warning"]
    assert len(warnings) == 1 and "'acme inc'" in warnings[0]["message"]
    assert "good-1" not in warnings[0]["message"]
    assert await _constraint_validated(pg_pool, schema) is False
    with pytest.raises(asyncpg.CheckViolationError):
        await pg_pool.execute(f"INSERT INTO {schema}.tenants (tenant_id, name) VALUES ('new one', 'x')")


async def test_the_migration_validates_the_rule_when_every_existing_id_complies(
    pg_pool: asyncpg.Pool, scratch_schema: tuple[str, Path]
) -> None:
    schema, _ = scratch_schema
    await pg_pool.execute(f"INSERT INTO {schema}.tenants (tenant_id, name) VALUES ('good-1', 'good')")

    with capture_logs() as logs:
        await apply_migrations(pg_pool, schema, MIGRATIONS)

    assert [e for e in logs if e["event"] == "migration_warning"] == []
    assert await _constraint_validated(pg_pool, schema) is True
