"""Connecting a tenant's Pipedrive: by API token (checked with `/v1/users/me` before it is kept) or by
OAuth (authorize redirect with a `state` bound to the admin's API key, callback checks it); status and
disconnect. Tokens are stored encrypted by the client and never returned, logged or emitted."""

from __future__ import annotations

import contextlib

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connector.api_support import ConnectorDeps, deps_of, json_error, read_body
from connector.webhook_registration import unregister_webhooks
from pipedrive_client import (
    ApiDomainRejected,
    ApiTokenCredentials,
    InvalidApiKey,
    OAuthFailed,
    PipedriveError,
    authorize_url,
)
from schemas.events.settings import TenantSettings
from tenant_auth.keys import split_api_key
from tenant_auth.middleware import tenant_of


class ApiTokenConnection(BaseModel):
    """The body of `POST /v1/connection/api-token`."""

    model_config = ConfigDict(extra="forbid")

    api_token: SecretStr = Field(min_length=8, max_length=200)
    api_base_url: str | None = Field(default=None, max_length=300)


def session_of(request: web.Request) -> str:
    """The admin session an OAuth state is bound to: the id of the API key that made the call."""
    presented = request.headers.get("Authorization", "").partition(" ")[2]
    key_id, _ = split_api_key(presented)
    return key_id


async def _mark_connected(deps: ConnectorDeps, tenant: str, connected: bool) -> TenantSettings:
    # The catalog described the account connected before (if any): it is read again when next needed.
    await deps.catalogs.forget(tenant)

    def change(current: TenantSettings) -> TenantSettings:
        update: dict[str, object] = {"connected": connected}
        if not connected:
            update["webhooks_enabled"] = False
        return current.model_copy(update=update)

    return await deps.tenant_settings.change(tenant, change)


async def connect_api_token(request: web.Request) -> web.Response:
    """Check the token against Pipedrive and keep it; on any failure the previous connection stays."""
    deps, tenant = deps_of(request), tenant_of(request)
    body = await read_body(request, ApiTokenConnection)
    try:
        domain = deps.factory.policy.accept(body.api_base_url or deps.settings.default_api_base_url)
    except ApiDomainRejected as failure:
        raise json_error(400, "bad_request", f"api_base_url: {failure}") from failure
    store = deps.factory.credentials
    try:
        previous = (await store.load(tenant)).credentials
    except PipedriveError:
        previous = None
    await store.save(tenant, ApiTokenCredentials(body.api_token, domain))
    try:
        me = await deps.factory.for_tenant(tenant).users.me()
    except PipedriveError as failure:
        if previous is not None:
            await store.save(tenant, previous)
        else:
            await store.delete(tenant)
        status = 400 if isinstance(failure, InvalidApiKey) else 502
        raise json_error(status, "connection_failed", str(failure)) from failure
    await _mark_connected(deps, tenant, True)
    return web.json_response(
        {"connected": True, "kind": "api_token", "company_id": me.company_id, "company_name": me.company_name}
    )


async def oauth_authorize(request: web.Request) -> web.Response:
    """Redirect the admin to Pipedrive's consent page with a fresh state bound to their session."""
    deps, tenant = deps_of(request), tenant_of(request)
    if deps.oauth_app is None:
        raise json_error(409, "oauth_not_configured", "Set PIPEDRIVE_OAUTH_CLIENT_ID and _SECRET first.")
    state = await deps.oauth_states.issue(tenant, session_of(request))
    url = authorize_url(deps.oauth_app, state)
    return web.json_response({"authorize_url": url}, status=302, headers={"Location": url})


async def oauth_callback(request: web.Request) -> web.Response:
    """Trade the code for tokens when the state was issued to this tenant and session (a denial at
    Pipedrive arrives as `error` with the state, which is then spent)."""
    deps, tenant = deps_of(request), tenant_of(request)
    code, state = request.query.get("code", ""), request.query.get("state", "")
    if request.query.get("error") and state:
        # The admin said no at Pipedrive: the state is spent, nothing else changes.
        with contextlib.suppress(PipedriveError):
            await deps.oauth_states.consume(state, session_of(request))
        raise json_error(400, "oauth_denied", "Pipedrive authorization was denied by the admin.")
    if not code or not state:
        raise json_error(400, "bad_request", "code and state are required query parameters.")
    if deps.oauth_app is None:
        raise json_error(409, "oauth_not_configured", "Set PIPEDRIVE_OAUTH_CLIENT_ID and _SECRET first.")
    try:
        issued_to = await deps.oauth_states.consume(state, session_of(request))
        if issued_to != tenant:
            raise OAuthFailed()
        if deps.factory.oauth_tokens is None:
            raise OAuthFailed()
        credentials = await deps.factory.oauth_tokens.exchange_code(code)
    except PipedriveError as failure:
        raise json_error(400, "oauth_failed", str(failure)) from failure
    await deps.factory.credentials.save(tenant, credentials)
    await _mark_connected(deps, tenant, True)
    return web.json_response({"connected": True, "kind": "oauth"})


async def connection_status(request: web.Request) -> web.Response:
    """Whether the tenant is connected, how, and to which API domain (never the token)."""
    deps, tenant = deps_of(request), tenant_of(request)
    try:
        stored = await deps.factory.credentials.load(tenant)
    except PipedriveError:
        return web.json_response({"connected": False})
    credentials = stored.credentials
    return web.json_response(
        {"connected": True, "kind": credentials.kind, "api_domain": credentials.api_domain}
    )


async def disconnect(request: web.Request) -> web.Response:
    """Remove our webhooks (best effort), forget the credentials, publish `connected: false`."""
    deps, tenant = deps_of(request), tenant_of(request)
    # A revoked token cannot remove them; Pipedrive deletes failing webhooks after 3 days.
    with contextlib.suppress(PipedriveError):
        await unregister_webhooks(deps, tenant)
    existed = await deps.factory.credentials.delete(tenant)
    await _mark_connected(deps, tenant, False)
    return web.json_response({"connected": False, "was_connected": existed})


def add_connection_routes(app: web.Application) -> None:
    """Mount the connection API."""
    app.router.add_post("/v1/connection/api-token", connect_api_token)
    app.router.add_get("/v1/connection/oauth/authorize", oauth_authorize)
    app.router.add_get("/v1/connection/oauth/callback", oauth_callback)
    app.router.add_get("/v1/connection", connection_status)
    app.router.add_delete("/v1/connection", disconnect)
