"""Console users: people of a tenant who sign in to the console as admins or viewers.

Kept in the `tenant_auth` schema next to the tenants and their keys; only the admin command adds, removes
and resets them, and the console reads them to sign people in (and to end the sessions of a user who was
removed, demoted or given a new password).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import asyncpg

from tenant_auth.passwords import hash_password, password_matches

SCHEMA = "tenant_auth"


class Role(StrEnum):
    """What a console user may do: an admin changes things, a viewer only looks."""

    ADMIN = "admin"
    VIEWER = "viewer"


class UnknownTenant(LookupError):
    """No tenant with that id."""


class EmailTaken(ValueError):
    """Another console user already signs in with that email."""


@dataclass(frozen=True)
class ConsoleUser:
    """One console user (never the password hash)."""

    email: str
    tenant_id: str
    role: Role
    created_at: datetime
    credentials_changed_at: datetime


def normalize_email(email: str) -> str:
    """The form an email is stored and looked up in."""
    return email.strip().lower()


class ConsoleUsers:
    """Adds, lists, removes and checks console users."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add(self, tenant_id: str, email: str, role: Role, password: str) -> ConsoleUser:
        """Create a user; `UnknownTenant`, `EmailTaken` or `WeakPassword` otherwise."""
        password_hash = hash_password(password)
        try:
            row = await self._pool.fetchrow(
                f"INSERT INTO {SCHEMA}.console_users (email, tenant_id, role, password_hash)"
                " VALUES ($1, $2, $3, $4) RETURNING *",
                normalize_email(email),
                tenant_id,
                role.value,
                password_hash,
            )
        except asyncpg.ForeignKeyViolationError as failure:
            raise UnknownTenant(f"no tenant {tenant_id}") from failure
        except asyncpg.UniqueViolationError as failure:
            raise EmailTaken(f"{normalize_email(email)} is already a console user") from failure
        assert row is not None
        return _user(row)

    async def list(self, tenant_id: str) -> list[ConsoleUser]:
        """The tenant's users by email."""
        rows = await self._pool.fetch(
            f"SELECT * FROM {SCHEMA}.console_users WHERE tenant_id = $1 ORDER BY email", tenant_id
        )
        return [_user(r) for r in rows]

    async def get(self, email: str) -> ConsoleUser | None:
        """The user who signs in with `email`, if any."""
        row = await self._pool.fetchrow(
            f"SELECT * FROM {SCHEMA}.console_users WHERE email = $1", normalize_email(email)
        )
        return _user(row) if row is not None else None

    async def remove(self, tenant_id: str, email: str) -> bool:
        """Remove one user of the tenant; True when there was one."""
        done = await self._pool.fetchval(
            f"DELETE FROM {SCHEMA}.console_users WHERE tenant_id = $1 AND email = $2 RETURNING true",
            tenant_id,
            normalize_email(email),
        )
        return bool(done)

    async def reset_password(self, tenant_id: str, email: str, password: str) -> bool:
        """Give a user of the tenant a new password (their open sessions end); True when there was one."""
        done = await self._pool.fetchval(
            f"UPDATE {SCHEMA}.console_users SET password_hash = $3, credentials_changed_at = now()"
            " WHERE tenant_id = $1 AND email = $2 RETURNING true",
            tenant_id,
            normalize_email(email),
            hash_password(password),
        )
        return bool(done)

    async def authenticate(self, email: str, password: str) -> ConsoleUser | None:
        """The user when the password is theirs; None otherwise (an unknown email costs the same time)."""
        row = await self._pool.fetchrow(
            f"SELECT * FROM {SCHEMA}.console_users WHERE email = $1", normalize_email(email)
        )
        stored = row["password_hash"] if row is not None else None
        # argon2 takes tens of milliseconds of CPU on purpose: off the event loop.
        if not await asyncio.to_thread(password_matches, password, stored) or row is None:
            return None
        return _user(row)


def _user(row: asyncpg.Record) -> ConsoleUser:
    return ConsoleUser(
        email=row["email"],
        tenant_id=row["tenant_id"],
        role=Role(row["role"]),
        created_at=row["created_at"],
        credentials_changed_at=row["credentials_changed_at"],
    )
