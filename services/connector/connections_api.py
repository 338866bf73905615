"""Connecting a tenant's Pipedrive by API token (checked with `/v1/users/me` before it is kept; OAuth is in
connector.oauth_api), the connection's status (including whether it needs reconnecting) and disconnect.
Tokens are stored encrypted by the client and never returned, logged or emitted."""

from __future__ import annotations

import contextlib
import re
from dataclasses import asdict, dataclass

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from connector.api_support import json_error, read_body
from connector.catalog import Catalogs
from connector.settings_store import SettingsStore
from connector.webhook_registration import WebhookRegistration
from pipedrive_client import (
    ApiDomainRejected,
    ApiTokenCredentials,
    InvalidApiKey,
    PipedriveClientFactory,
    PipedriveError,
)
from pipedrive_client.api_domains import web_app_url
from schemas.events.audit import AuditAction
from schemas.events.settings import TenantSettings
from tenant_auth.keys import split_api_key
from tenant_auth.middleware import tenant_of

API_TOKEN_PATTERN = "^[!-~]+$"


class ApiTokenConnection(BaseModel):
    """The body of `POST /v1/connection/api-token`."""

    model_config = ConfigDict(extra="forbid")

    # Sent as a header to Pipedrive: visible ASCII only (a control character could not be sent at all).
    api_token: SecretStr = Field(
        min_length=8, max_length=200, json_schema_extra={"pattern": API_TOKEN_PATTERN}
    )
    api_base_url: str | None = Field(default=None, max_length=300)

    @field_validator("api_token")
    @classmethod
    def _printable(cls, value: SecretStr) -> SecretStr:
        if not re.fullmatch(API_TOKEN_PATTERN, value.get_secret_value()):
            raise ValueError("an API token is made of visible ASCII characters only")
        return value


def session_of(request: web.Request) -> str:
    """The admin session an OAuth state is bound to: the id of the API key that made the call."""
    presented = request.headers.get("Authorization", "").partition(" ")[2]
    key_id, _ = split_api_key(presented)
    return key_id


@dataclass(frozen=True)
class TenantConnections:
    """Where a tenant's connection shows: its settings (`connected`, published and audited) and the
    catalog of the account it connected."""

    tenant_settings: SettingsStore
    catalogs: Catalogs

    async def mark_connected(
        self, tenant: str, connected: bool, web_url: str | None = None, how: str | None = None
    ) -> TenantSettings:
        """Publish the tenant's settings with `connected` (and webhooks off when disconnected) and the
        company's Pipedrive web app (`web_url`, where records have their pages); audited as a connect
        or a disconnect (`how`: in words, how it came about)."""
        # The catalog described the account connected before (if any): it is read again when next needed.
        await self.catalogs.forget(tenant)

        def change(current: TenantSettings) -> TenantSettings:
            update: dict[str, object] = {"connected": connected, "pipedrive_web_url": web_url}
            if not connected:
                update["webhooks_enabled"] = False
            return current.model_copy(update=update)

        action = AuditAction.CONNECTED if connected else AuditAction.DISCONNECTED
        return await self.tenant_settings.change(tenant, change, action, how)


@dataclass(frozen=True)
class ConnectionsApi:
    """What the connection API uses: the tenants' credentials and Pipedrive clients, their connection,
    their webhooks, and the API domain of a token given without one."""

    factory: PipedriveClientFactory
    connections: TenantConnections
    webhooks: WebhookRegistration
    default_api_base_url: str


API = web.AppKey("connections_api", ConnectionsApi)


async def connect_api_token(request: web.Request) -> web.Response:
    """Check the token against Pipedrive and keep it; on any failure the previous connection stays."""
    api, tenant = request.app[API], tenant_of(request)
    body = await read_body(request, ApiTokenConnection)
    try:
        domain = api.factory.policy.accept(body.api_base_url or api.default_api_base_url)
    except ApiDomainRejected as failure:
        raise json_error(400, "bad_request", f"api_base_url: {failure}") from failure
    store = api.factory.credentials
    try:
        previous = (await store.load(tenant)).credentials
    except PipedriveError:
        previous = None
    await store.save(tenant, ApiTokenCredentials(body.api_token, domain))
    try:
        me = await api.factory.for_tenant(tenant).users.me()
    except Exception as failure:  # whatever failed, the previous connection stays
        if previous is not None:
            await store.save(tenant, previous)
        else:
            await store.delete(tenant)
        if not isinstance(failure, PipedriveError):
            raise
        status = 400 if isinstance(failure, InvalidApiKey) else 502
        raise json_error(status, "connection_failed", str(failure)) from failure
    await store.identify(tenant, me.company_id, me.id)
    company = f"API token, Pipedrive company {me.company_name} ({me.company_id})"
    await api.connections.mark_connected(tenant, True, web_app_url(domain, me.company_domain), company)
    return web.json_response(
        {"connected": True, "kind": "api_token", "company_id": me.company_id, "company_name": me.company_name}
    )


async def connection_status(request: web.Request) -> web.Response:
    """Whether the tenant is connected, how, to which API domain and company, and whether Pipedrive
    refused the credentials for good (`needs_reconnect`, with the reason and since when), and the
    budget: today's spend against this integration's share (`budget`, with the `plan` it assumes); never
    a token."""
    api, tenant = request.app[API], tenant_of(request)
    try:
        stored = await api.factory.credentials.load(tenant)
    except PipedriveError:
        return web.json_response({"connected": False})
    credentials = stored.credentials
    status: dict[str, object] = {
        "connected": True,
        "kind": credentials.kind,
        "api_domain": credentials.api_domain,
        "company_id": stored.company_id,
        "needs_reconnect": stored.refused_reason is not None,
    }
    usage = await api.factory.budget.usage(tenant)
    status["plan"] = usage.plan.value
    status["budget"] = {**asdict(usage), "plan": usage.plan.value}
    if stored.refused_reason is not None and stored.refused_at is not None:
        status["reconnect_reason"] = stored.refused_reason
        status["refused_at"] = stored.refused_at.isoformat()
    return web.json_response(status)


async def disconnect(request: web.Request) -> web.Response:
    """Remove our webhooks (best effort), forget the credentials, publish `connected: false`."""
    api, tenant = request.app[API], tenant_of(request)
    # A revoked token cannot remove them; Pipedrive deletes failing webhooks after 3 days.
    with contextlib.suppress(PipedriveError):
        await api.webhooks.unregister(tenant)
    existed = await api.factory.credentials.delete(tenant)
    await api.connections.mark_connected(tenant, False, how="disconnected by the admin")
    return web.json_response({"connected": False, "was_connected": existed})


def add_connection_routes(app: web.Application, api: ConnectionsApi) -> None:
    """Mount the connection API."""
    app[API] = api
    app.router.add_post("/v1/connection/api-token", connect_api_token)
    app.router.add_get("/v1/connection", connection_status)
    app.router.add_delete("/v1/connection", disconnect)
