"""The tenant's webhooks in the connector's schema: the subscriptions registered in Pipedrive (their ids,
the Basic auth user and the secret's hash, on the tenant's settings row) and the deliveries accepted,
each queued as a hint in the transaction that records it."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg


class WebhookStore:
    """Subscriptions and accepted deliveries of every tenant (each call names its tenant)."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._schema = schema

    async def credentials(self, tenant: str) -> tuple[str | None, bytes | None]:
        """The tenant's webhook user and secret hash ((None, None): it has no webhooks)."""
        row = await self._pool.fetchrow(
            f"SELECT webhook_user, webhook_secret_hash FROM {self._schema}.tenant_settings"
            " WHERE tenant_id = $1",
            tenant,
        )
        return (row["webhook_user"], row["webhook_secret_hash"]) if row else (None, None)

    async def accept(
        self, tenant: str, delivery_id: str, entity: str, pipedrive_id: int, action: str,
        merged_to_id: int | None,
    ) -> bool:  # fmt: skip
        """Record a delivery and queue its hint, once per delivery id; False for a delivery seen before."""
        async with self._pool.acquire() as conn, conn.transaction():
            fresh = await conn.fetchval(
                f"INSERT INTO {self._schema}.webhook_deliveries (tenant_id, delivery_id) VALUES ($1, $2)"
                " ON CONFLICT DO NOTHING RETURNING true",
                tenant,
                delivery_id,
            )
            if fresh:
                await conn.execute(
                    f"INSERT INTO {self._schema}.webhook_hints"
                    " (tenant_id, object, pipedrive_id, action, merged_to_id, delivery_id)"
                    " VALUES ($1, $2, $3, $4, $5, $6)",
                    tenant,
                    entity,
                    pipedrive_id,
                    action,
                    merged_to_id,
                    delivery_id,
                )
        return bool(fresh)

    async def subscription_ids(self, tenant: str) -> set[int]:
        """The ids of the webhooks registered for the tenant."""
        row = await self._pool.fetchrow(
            f"SELECT webhook_ids FROM {self._schema}.tenant_settings WHERE tenant_id = $1", tenant
        )
        return set(row["webhook_ids"]) if row else set()

    async def save_subscriptions(
        self, tenant: str, user: str, secret_hash: bytes, ids: Sequence[int]
    ) -> None:
        """Keep the webhooks registered for the tenant and their Basic auth user and secret hash."""
        await self._pool.execute(
            f"UPDATE {self._schema}.tenant_settings SET webhook_user = $2, webhook_secret_hash = $3,"
            " webhook_ids = $4 WHERE tenant_id = $1",
            tenant,
            user,
            secret_hash,
            list(ids),
        )

    async def forget_subscriptions(self, tenant: str) -> None:
        """The tenant has no webhooks any more: deliveries to its receiver are refused."""
        await self._pool.execute(
            f"UPDATE {self._schema}.tenant_settings SET webhook_user = NULL, webhook_secret_hash = NULL,"
            " webhook_ids = '{}' WHERE tenant_id = $1",
            tenant,
        )
