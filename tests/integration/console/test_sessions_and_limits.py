"""The console's session and sign-in stores on the real PostgreSQL: idle and maximum age, a password reset
or removal ending sessions, and failed sign-ins limited per account and per address."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

import asyncpg
import pytest

from console.bootstrap import install_tables
from console.session_store import SessionStore
from console.sessions import token_digest
from console.sign_in_limits import SignInLimits
from console.sign_in_store import FailedSignIns
from tenant_auth.registry import TenantRegistry
from tenant_auth.users import ConsoleUser, ConsoleUsers, Role
from tests.support.schemas import schema_fixture

pytestmark = pytest.mark.integration


schema = schema_fixture("console", install_tables)


@pytest.fixture
async def user(pg_pool: asyncpg.Pool) -> ConsoleUser:
    tenant = f"s{uuid.uuid4().hex[:8]}"
    await TenantRegistry(pg_pool).create_tenant(tenant, tenant)
    return await ConsoleUsers(pg_pool).add(tenant, f"{tenant}@example.com", Role.ADMIN, secrets.token_hex(8))


def _sessions(pool: asyncpg.Pool, schema: str) -> SessionStore:
    return SessionStore(
        pool, schema, ConsoleUsers(pool), idle=timedelta(minutes=30), max_age=timedelta(hours=12)
    )


async def _age(pool: asyncpg.Pool, schema: str, token: str, column: str, by: timedelta) -> None:
    await pool.execute(
        f"UPDATE {schema}.sessions SET {column} = {column} - $2::interval WHERE token_sha256 = $1",
        token_digest(token),
        by,
    )


async def test_a_session_lives_until_idle_for_longer_than_the_limit(
    pg_pool: asyncpg.Pool, schema: str, user: ConsoleUser
) -> None:
    sessions = _sessions(pg_pool, schema)
    token = await sessions.start(user)
    found = await sessions.find(token)
    assert found is not None and (found.tenant_id, found.email, found.role) == (
        user.tenant_id,
        user.email,
        user.role,
    )

    await _age(pg_pool, schema, token, "last_seen_at", timedelta(minutes=29))
    assert await sessions.find(token) is not None
    await _age(pg_pool, schema, token, "last_seen_at", timedelta(minutes=31))
    assert await sessions.find(token) is None
    assert await pg_pool.fetchval(f"SELECT count(*) FROM {schema}.sessions WHERE email = $1", user.email) == 0


async def test_a_session_ends_after_its_maximum_age_even_when_used(
    pg_pool: asyncpg.Pool, schema: str, user: ConsoleUser
) -> None:
    sessions = _sessions(pg_pool, schema)
    token = await sessions.start(user)
    await _age(pg_pool, schema, token, "started_at", timedelta(hours=12, minutes=1))

    assert await sessions.find(token) is None


async def test_a_new_password_ends_the_sessions_started_before_it(
    pg_pool: asyncpg.Pool, schema: str, user: ConsoleUser
) -> None:
    sessions = _sessions(pg_pool, schema)
    token = await sessions.start(user)
    await _age(pg_pool, schema, token, "started_at", timedelta(seconds=1))

    await ConsoleUsers(pg_pool).reset_password(user.tenant_id, user.email, secrets.token_hex(8))

    assert await sessions.find(token) is None
    assert await sessions.find(await sessions.start(user)) is not None


async def test_failures_lock_an_account_and_an_address_separately(pg_pool: asyncpg.Pool, schema: str) -> None:
    limits = FailedSignIns(
        pg_pool, schema, SignInLimits(per_account=3, per_address=5, window=timedelta(minutes=15))
    )
    address = f"192.0.2.{secrets.randbelow(250)}-{uuid.uuid4().hex[:4]}"
    for _ in range(3):
        assert await limits.locked_for("ann@example.com", address) is None
        await limits.record("ann@example.com", address)

    wait = await limits.locked_for("ann@example.com", "198.51.100.7")
    assert wait is not None and timedelta(minutes=14) < wait <= timedelta(minutes=15)
    assert await limits.locked_for("bob@example.com", address) is None

    await limits.record("bob@example.com", address)
    await limits.record("carl@example.com", address)
    assert await limits.locked_for("dora@example.com", address) is not None

    await limits.clear_account("ann@example.com")
    assert await limits.locked_for("ann@example.com", "198.51.100.7") is None
