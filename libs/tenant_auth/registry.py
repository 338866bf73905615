"""The tenant registry in its own schema (`tenant_auth`), shared by every service's HTTP API.

Like the Pipedrive client's credentials, this schema is a deliberate exception to "services never read
each other's tables": every API must authenticate the same keys, and only the admin command writes them.

Every request reads its key's row (one primary-key lookup): a revoked key is refused at once by every
replica of every service, with no cache to invalidate and no window in which it still works.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

from postgres_store.migrations import apply_migrations
from schemas.envelope import TENANT_ID_MAX_LENGTH, is_valid_tenant_id
from tenant_auth.keys import NewApiKey, mint_api_key, secret_matches, split_api_key

SCHEMA = "tenant_auth"
MIGRATIONS = Path(__file__).parent / "migrations"


class InvalidTenantId(ValueError):
    """A tenant id events cannot carry (the envelope's `tenantid` rule)."""

    def __init__(self, tenant_id: str) -> None:
        rule = f"1 to {TENANT_ID_MAX_LENGTH} letters, digits, '_', '.' or '-'"
        super().__init__(f"invalid tenant id {tenant_id!r}: use {rule}")


@dataclass(frozen=True)
class KeyChange:
    """A key issued or revoked: when, which, and by whom (None: not recorded)."""

    at: datetime
    change: str  # issued | revoked
    key_id: str
    label: str | None
    actor: str | None


class TenantRegistry:
    """Creates tenants and keys, and resolves a presented key to its tenant."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def install(self) -> None:
        """Create or upgrade the schema."""
        await apply_migrations(self._pool, SCHEMA, MIGRATIONS)

    async def create_tenant(self, tenant_id: str, name: str) -> None:
        """Register a tenant (idempotent); InvalidTenantId for an id events could not carry."""
        if not is_valid_tenant_id(tenant_id):
            raise InvalidTenantId(tenant_id)
        await self._pool.execute(
            f"INSERT INTO {SCHEMA}.tenants (tenant_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            tenant_id,
            name,
        )

    async def issue_key(
        self, tenant_id: str, label: str | None = None, issued_by: str | None = None
    ) -> NewApiKey:
        """A new key for the tenant (`issued_by`: who asked for it); the caller shows `full_key` once."""
        key = mint_api_key()
        await self._pool.execute(
            f"INSERT INTO {SCHEMA}.api_keys (tenant_id, key_id, secret_sha256, label, issued_by)"
            " VALUES ($1, $2, $3, $4, $5)",
            tenant_id,
            key.key_id,
            key.secret_sha256,
            label,
            issued_by,
        )
        return key

    async def revoke_key(self, tenant_id: str, key_id: str, revoked_by: str | None = None) -> bool:
        """Revoke one key of the tenant; True when it existed. Every replica refuses it from now on."""
        done = await self._pool.fetchval(
            f"UPDATE {SCHEMA}.api_keys SET revoked_at = now(), revoked_by = $3"
            " WHERE tenant_id = $1 AND key_id = $2 AND revoked_at IS NULL RETURNING true",
            tenant_id,
            key_id,
            revoked_by,
        )
        return bool(done)

    async def key_changes(self, tenant_id: str, before: datetime | None, limit: int) -> list[KeyChange]:
        """The tenant's key issues and revocations, newest first: up to `limit` at or before `before`."""
        rows = await self._pool.fetch(
            f"SELECT * FROM (SELECT created_at AS at, 'issued' AS change, key_id, label, issued_by AS actor"
            f" FROM {SCHEMA}.api_keys WHERE tenant_id = $1 UNION ALL"
            " SELECT revoked_at, 'revoked', key_id, label, revoked_by"
            f" FROM {SCHEMA}.api_keys WHERE tenant_id = $1 AND revoked_at IS NOT NULL) AS c"
            " WHERE $2::timestamptz IS NULL OR at <= $2 ORDER BY at DESC, key_id DESC LIMIT $3",
            tenant_id,
            before,
            limit,
        )
        return [KeyChange(r["at"], r["change"], r["key_id"], r["label"], r["actor"]) for r in rows]

    async def tenant_of(self, presented: str) -> str | None:
        """The tenant a presented key belongs to, or None (malformed, unknown, revoked, wrong secret)."""
        try:
            key_id, secret = split_api_key(presented)
        except ValueError:
            return None
        row = await self._pool.fetchrow(
            f"SELECT tenant_id, secret_sha256 FROM {SCHEMA}.api_keys"
            " WHERE key_id = $1 AND revoked_at IS NULL",
            key_id,
        )
        if row is None or not secret_matches(secret, row["secret_sha256"]):
            return None
        return str(row["tenant_id"])
