"""Registering our webhooks (v2 deliveries, Basic auth with a per-tenant secret) in Pipedrive when a tenant
turns them on, and removing them when it turns them off or disconnects. Only the secret's hash is kept."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from pydantic import SecretStr

from connector.api_support import ConnectorDeps
from pipedrive_client import WebhookSubscription

WEBHOOK_OBJECTS = ("organization", "person", "deal")
WEBHOOK_USER = "psync"


def secret_hash(secret: str) -> bytes:
    """The stored form of a webhook password (256 random bits: a plain SHA-256 suffices)."""
    return hashlib.sha256(secret.encode()).digest()


def credentials_match(user: str, password: str, stored_user: str | None, stored_hash: bytes | None) -> bool:
    """Constant-time check of a delivery's Basic auth against the tenant's stored user and hash."""
    if stored_user is None or stored_hash is None:
        return False
    user_ok = hmac.compare_digest(user.encode(), stored_user.encode())
    password_ok = hmac.compare_digest(secret_hash(password), stored_hash)
    return user_ok and password_ok


def subscription_url(deps: ConnectorDeps, tenant: str) -> str:
    """Where Pipedrive delivers the tenant's webhooks."""
    return f"{deps.settings.public_base_url.rstrip('/')}/webhooks/pipedrive/{tenant}"


async def register_webhooks(deps: ConnectorDeps, tenant: str) -> list[int]:
    """Create one webhook per object (`*` actions) with a fresh secret; returns their ids."""
    await unregister_webhooks(deps, tenant)
    password = secrets.token_urlsafe(32)
    client = deps.factory.for_tenant(tenant)
    ids: list[int] = []
    for obj in WEBHOOK_OBJECTS:
        created = await client.webhooks.create(
            WebhookSubscription(
                subscription_url=subscription_url(deps, tenant),
                event_action="*",
                event_object=obj,
                name=f"psync {obj}",
                http_auth_user=WEBHOOK_USER,
                http_auth_password=SecretStr(password),
            )
        )
        ids.append(created.id)
    await deps.pool.execute(
        f"UPDATE {deps.schema}.tenant_settings SET webhook_user = $2, webhook_secret_hash = $3,"
        " webhook_ids = $4 WHERE tenant_id = $1",
        tenant,
        WEBHOOK_USER,
        secret_hash(password),
        ids,
    )
    return ids


async def unregister_webhooks(deps: ConnectorDeps, tenant: str) -> None:
    """Remove the webhooks we registered for the tenant (and any others pointing at our receiver)."""
    row = await deps.pool.fetchrow(
        f"SELECT webhook_ids FROM {deps.schema}.tenant_settings WHERE tenant_id = $1", tenant
    )
    known = set(row["webhook_ids"]) if row else set()
    if known:
        client = deps.factory.for_tenant(tenant)
        target = subscription_url(deps, tenant)
        for webhook in await client.webhooks.list():
            if webhook.id in known or webhook.subscription_url == target:
                await client.webhooks.delete(webhook.id)
    await deps.pool.execute(
        f"UPDATE {deps.schema}.tenant_settings SET webhook_user = NULL, webhook_secret_hash = NULL,"
        " webhook_ids = '{}' WHERE tenant_id = $1",
        tenant,
    )
