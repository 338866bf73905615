"""The audit entries of the caller's tenant: who changed what, and when.

    GET /v1/audit?limit=&cursor=     newest first

Two sources, one list: the entries the connector publishes (settings changes, connects, disconnects, with
the values that changed) and the API key issues and revocations kept by `tenant_auth` (every service reads
that schema to authenticate; the admin command and the console record who issued or revoked a key).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from auditlog.activity_api import READS, encode_cursor, parse_query
from schemas.events.audit import AuditAction
from tenant_auth.middleware import tenant_of
from tenant_auth.registry import KeyChange, TenantRegistry

KEYS = web.AppKey("audit_keys", TenantRegistry)
_KEY_ACTIONS = {"issued": AuditAction.API_KEY_ISSUED, "revoked": AuditAction.API_KEY_REVOKED}


class AuditQuery(BaseModel):
    """The query string of the audit list."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = Field(default=None, min_length=1, max_length=400)


def audit_item(row: dict[str, Any]) -> dict[str, Any]:
    """An audit entry the connector published, as the API shows it."""
    return {
        "id": f"audit:{row['event_id']}",
        "at": row["at"].isoformat(),
        "action": row["action"],
        "actor": {"key_id": row["actor_key_id"], "name": row["actor_name"]},
        "changes": row["changes"],
        "detail": row["detail"],
    }


def key_item(change: KeyChange) -> dict[str, Any]:
    """A key issued or revoked, as the API shows it."""
    label = f" ({change.label})" if change.label else ""
    return {
        "id": f"key:{change.key_id}:{change.change}",
        "at": change.at.isoformat(),
        "action": _KEY_ACTIONS[change.change].value,
        "actor": {"key_id": None, "name": change.actor},
        "changes": [],
        "detail": f"API key {change.key_id}{label}",
    }


def newest_first(
    items: list[dict[str, Any]], after: tuple[datetime, str] | None, limit: int
) -> list[dict[str, Any]]:
    """The items strictly after the position (time, id) in newest-first order, at most `limit`."""
    ordered = sorted(items, key=lambda i: (datetime.fromisoformat(i["at"]), i["id"]), reverse=True)
    if after is not None:
        ordered = [i for i in ordered if (datetime.fromisoformat(i["at"]), i["id"]) < after]
    return ordered[:limit]


async def list_audit(request: web.Request) -> web.Response:
    """One page of the tenant's audit entries, newest first."""
    query, after = parse_query(AuditQuery, request)
    tenant = tenant_of(request)
    # Ties at the cursor's time are taken from both sources and ordered here; a few more rows cover them.
    wanted = query.limit + 1 + 20
    published = await request.app[READS].audit_page(tenant, after, wanted)
    keys = await request.app[KEYS].key_changes(tenant, after[0] if after else None, wanted)
    page = newest_first([*map(audit_item, published), *map(key_item, keys)], after, query.limit + 1)
    more = len(page) > query.limit
    page = page[: query.limit]
    last = page[-1] if more else None
    next_cursor = encode_cursor(datetime.fromisoformat(last["at"]), last["id"]) if last else None
    return web.json_response({"data": page, "next_cursor": next_cursor})


def add_audit_routes(app: web.Application, keys: TenantRegistry) -> None:
    """Mount the audit API (after the activity routes, whose reads it shares)."""
    app[KEYS] = keys
    app.router.add_get("/v1/audit", list_audit)
