"""The alert banner every page shows: the signed-in tenant's active alerts, from the auditlog."""

from __future__ import annotations

from typing import Any

from console.service_api import ServiceUnreachable, TenantApi

BANNER_LIMIT = 5


async def banner_alerts(api: TenantApi) -> list[dict[str, Any]]:
    """The tenant's active alerts for the banner, newest first; none when the auditlog does not answer (a
    page never fails for its banner)."""
    try:
        answer = await api.get("auditlog", "/v1/alerts", {"limit": str(BANNER_LIMIT)})
    except ServiceUnreachable:
        return []
    return list(answer.body.get("data", [])) if answer.ok and isinstance(answer.body, dict) else []
