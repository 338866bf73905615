"""Registering our webhooks (v2 deliveries, Basic auth with a per-tenant secret) in Pipedrive when a tenant
turns them on, and removing them when it turns them off or disconnects. Only the secret's hash is kept."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from pydantic import SecretStr

from connector.ports import WebhookSubscriptions
from pipedrive_client import PipedriveClientFactory, WebhookSubscription

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


class WebhookRegistration:
    """Our webhooks in each tenant's Pipedrive, and their user and secret hash in `WebhookStore`."""

    def __init__(
        self, factory: PipedriveClientFactory, store: WebhookSubscriptions, public_base_url: str
    ) -> None:
        self._factory = factory
        self._store = store
        self._public_base_url = public_base_url

    def subscription_url(self, tenant: str) -> str:
        """Where Pipedrive delivers the tenant's webhooks."""
        return f"{self._public_base_url.rstrip('/')}/webhooks/pipedrive/{tenant}"

    async def register(self, tenant: str) -> list[int]:
        """Create one webhook per object (`*` actions) with a fresh secret; returns their ids."""
        await self.unregister(tenant)
        password = secrets.token_urlsafe(32)
        client = self._factory.for_tenant(tenant)
        ids: list[int] = []
        for obj in WEBHOOK_OBJECTS:
            created = await client.webhooks.create(
                WebhookSubscription(
                    subscription_url=self.subscription_url(tenant),
                    event_action="*",
                    event_object=obj,
                    name=f"psync {obj}",
                    http_auth_user=WEBHOOK_USER,
                    http_auth_password=SecretStr(password),
                )
            )
            ids.append(created.id)
        await self._store.save_subscriptions(tenant, WEBHOOK_USER, secret_hash(password), ids)
        return ids

    async def unregister(self, tenant: str) -> None:
        """Remove the webhooks we registered for the tenant (and any others pointing at our receiver)."""
        known = await self._store.subscription_ids(tenant)
        if known:
            client = self._factory.for_tenant(tenant)
            target = self.subscription_url(tenant)
            for webhook in await client.webhooks.list():
                if webhook.id in known or webhook.subscription_url == target:
                    await client.webhooks.delete(webhook.id)
        await self._store.forget_subscriptions(tenant)
