"""The tenants' catalogs of their connected Pipedrive, kept in the connector's schema (one row each)."""

from __future__ import annotations

import asyncpg

from connector.catalog import Catalog


class CatalogStore:
    """The tenants' catalogs in the connector's schema."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._table = f"{schema}.catalogs"

    async def get(self, tenant: str) -> Catalog | None:
        """The stored catalog, if any."""
        raw = await self._pool.fetchval(f"SELECT catalog FROM {self._table} WHERE tenant_id = $1", tenant)
        return Catalog.model_validate(raw) if raw is not None else None

    async def save(self, tenant: str, catalog: Catalog) -> None:
        """Keep a freshly read catalog."""
        await self._pool.execute(
            f"INSERT INTO {self._table} (tenant_id, catalog, refreshed_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (tenant_id) DO UPDATE SET catalog = $2, refreshed_at = $3",
            tenant,
            catalog.model_dump(mode="json"),
            catalog.refreshed_at,
        )

    async def forget(self, tenant: str) -> None:
        """Drop the tenant's catalog (its connection changed)."""
        await self._pool.execute(f"DELETE FROM {self._table} WHERE tenant_id = $1", tenant)
