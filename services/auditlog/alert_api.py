"""The alerts API of the caller's tenant (the console's banner and its alert settings).

GET  /v1/alerts/settings                 the webhook URL, failure threshold and window (defaults if unset)
PUT  /v1/alerts/settings                 replace them (400 naming each problem; nothing saved then)
GET  /v1/alerts?limit=                   active alerts (not acknowledged), newest first
POST /v1/alerts/{alert_id}/acknowledge   take one off the banner (404 for an unknown alert)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from auditlog.alert_rules import AlertSettings, webhook_refusal
from auditlog.ports import AlertAdmin
from service_runtime.http_errors import bad_request, json_error
from service_runtime.http_inputs import read_json, read_query
from tenant_auth.actors import actor_of
from tenant_auth.middleware import tenant_of

ALERTS = web.AppKey("alerts", AlertAdmin)
HTTP_HOSTS = web.AppKey("alert_webhook_http_hosts", frozenset)


class AlertsQuery(BaseModel):
    """The query string of the active alerts."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=20, ge=1, le=200)


def alert_item(row: dict[str, Any]) -> dict[str, Any]:
    """An active alert as the API shows it, with the state of its webhook delivery (null: no webhook)."""
    item = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
    delivery = None
    if row["attempts"] is not None:
        state = "delivered" if row["delivered_at"] else "abandoned" if row["abandoned_at"] else "pending"
        delivery = {"state": state, "attempts": row["attempts"], "delivered_at": item["delivered_at"]}
    shown = {
        k: item[k] for k in ("alert_id", "cause", "title", "detail", "run_id", "raised_at", "last_seen_at")
    }
    return {**shown, "occurrences": row["occurrences"], "delivery": delivery}


async def get_settings(request: web.Request) -> web.Response:
    """The tenant's alert settings."""
    settings = await request.app[ALERTS].settings(tenant_of(request))
    return web.json_response(settings.model_dump())


async def put_settings(request: web.Request) -> web.Response:
    """Replace the tenant's alert settings."""
    settings = await read_json(request, AlertSettings)
    refusal = webhook_refusal(settings.webhook_url, request.app[HTTP_HOSTS])
    if refusal is not None:
        raise bad_request([refusal])
    await request.app[ALERTS].save_settings(tenant_of(request), settings)
    return web.json_response(settings.model_dump())


async def list_alerts(request: web.Request) -> web.Response:
    """The tenant's active alerts, newest first."""
    query = read_query(request, AlertsQuery)
    rows = await request.app[ALERTS].active_alerts(tenant_of(request), query.limit)
    return web.json_response({"data": [alert_item(r) for r in rows]})


async def acknowledge_alert(request: web.Request) -> web.Response:
    """Take one alert off the banner."""
    alert_id = request.match_info["alert_id"]
    if len(alert_id) > 100 or "\x00" in alert_id:
        raise bad_request(["alert_id: not an alert id"])
    by = actor_of(request).name
    if not await request.app[ALERTS].acknowledge(tenant_of(request), alert_id, by):
        raise json_error(404, "not_found", "No such alert for this tenant.")
    return web.json_response({"alert_id": alert_id, "acknowledged": True})


def add_alert_routes(app: web.Application, store: AlertAdmin, http_hosts: frozenset[str]) -> None:
    """Mount the alerts API; `http_hosts` may receive notifications over plain http."""
    app[ALERTS] = store
    app[HTTP_HOSTS] = http_hosts
    app.router.add_get("/v1/alerts/settings", get_settings)
    app.router.add_put("/v1/alerts/settings", put_settings)
    app.router.add_get("/v1/alerts", list_alerts)
    app.router.add_post("/v1/alerts/{alert_id}/acknowledge", acknowledge_alert)
