"""A tenant of a test's own, as the services' APIs know it: registered, with an API key."""

from __future__ import annotations

from tenant_auth.registry import TenantRegistry


async def new_tenant_headers(registry: TenantRegistry, tenant: str) -> dict[str, str]:
    """Register `tenant` (named after its id) and issue it an API key; the `Authorization` header the
    tenant's calls carry."""
    await registry.create_tenant(tenant, tenant)
    key = await registry.issue_key(tenant)
    return {"Authorization": f"Bearer {key.full_key}"}
