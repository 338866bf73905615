"""Connecting by OAuth in a browser, and Pipedrive's app-uninstall call.

    POST   /v1/connection/oauth/start       {return_to?}  -> {authorize_url, expires_in_s}   (API key)
    GET    /v1/connection/oauth/authorize   ?return_to=   -> 302 to Pipedrive's consent page (API key)
    GET    /v1/connection/oauth/callback    ?code&state   <- the browser, back from Pipedrive (no key)
    DELETE /v1/connection/oauth/callback    <- Pipedrive: the app was uninstalled (app's Basic auth)

A flow starts with an API key (the console's, on behalf of its signed-in user, whom it names in
`X-Psync-Actor`): the connector issues a `state` bound to the tenant, the key's session and that actor,
and sends the browser to Pipedrive. The callback is the connector's own redirect URI and needs no key:
the state, unguessable, single use and expiring, is the proof of who started it. A caller that does
present a key must be the state's owner, and that is checked before the state is used up, so a wrong
caller never burns it. At the end the browser goes back to `return_to` (an origin of
CONNECTOR_OAUTH_RETURN_URLS) with `oauth=connected`, or `oauth=denied|failed` and `error`; without one
the callback answers JSON.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
from dataclasses import dataclass

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from yarl import URL

from connector.api_support import json_error
from connector.connections_api import TenantConnections, session_of
from pipedrive_client import (
    OAuthApp,
    OAuthCredentials,
    OAuthStateStore,
    PipedriveClientFactory,
    PipedriveError,
    authorize_url,
)
from pipedrive_client.api_domains import web_app_url
from pipedrive_client.oauth import IssuedState
from schemas.events.audit import Actor
from service_runtime.http_inputs import PositiveId, read_json, validated
from tenant_auth.actors import acting_as
from tenant_auth.middleware import authenticated_tenant, tenant_of

ACTOR_HEADER = "X-Psync-Actor"
PIPEDRIVE_UNINSTALL = Actor(name="Pipedrive (app uninstalled)")


@dataclass(frozen=True)
class OAuthApi:
    """What the OAuth flow uses: the app registered with Pipedrive (None: OAuth is not configured), the
    states it issues, the tenants' credentials and clients, their connection, and where the browser may
    be sent back to (`return_urls`, origins)."""

    oauth_app: OAuthApp | None
    oauth_states: OAuthStateStore
    factory: PipedriveClientFactory
    connections: TenantConnections
    return_urls: tuple[str, ...]


API = web.AppKey("oauth_api", OAuthApi)
_log = structlog.get_logger(__name__)


class OAuthStart(BaseModel):
    """The body of `POST /v1/connection/oauth/start`."""

    model_config = ConfigDict(extra="forbid")

    return_to: str | None = Field(default=None, min_length=1, max_length=2000)


class AppUninstalled(BaseModel):
    """The body of Pipedrive's app-uninstall call."""

    model_config = ConfigDict(extra="ignore")

    client_id: str = Field(min_length=1, max_length=200)
    company_id: PositiveId
    user_id: PositiveId | None = None
    timestamp: str | None = Field(default=None, max_length=100)


class _Query(BaseModel):
    model_config = ConfigDict(extra="ignore")

    return_to: str | None = Field(default=None, min_length=1, max_length=2000)


def _app(api: OAuthApi) -> OAuthApp:
    if api.oauth_app is None:
        raise json_error(409, "oauth_not_configured", "Set PIPEDRIVE_OAUTH_CLIENT_ID and _SECRET first.")
    return api.oauth_app


def _actor(request: web.Request) -> str | None:
    actor = request.headers.get(ACTOR_HEADER, "").strip()
    return actor[:320] or None


def checked_return_to(api: OAuthApi, return_to: str | None) -> str | None:
    """`return_to` when its origin is on the allow-list; a 400 naming the allowed origins otherwise."""
    if return_to is None:
        return None
    try:
        url = URL(return_to)
        origin = str(url.origin()) if url.absolute and url.scheme in ("http", "https") else None
    except ValueError:
        origin = None
    allowed = api.return_urls
    if origin is None or origin not in allowed or url.user or url.password:
        shown = ", ".join(allowed) or "none configured"
        problem = f"return_to: must be an address on CONNECTOR_OAUTH_RETURN_URLS ({shown})"
        raise json_error(400, "bad_request", problem, problems=[problem])
    return return_to


async def _authorize_url(request: web.Request, return_to: str | None) -> str:
    api, tenant = request.app[API], tenant_of(request)
    app = _app(api)
    state = await api.oauth_states.issue(
        tenant, session_of(request), actor=_actor(request), return_to=checked_return_to(api, return_to)
    )
    return authorize_url(app, state)


async def start_oauth(request: web.Request) -> web.Response:
    """The URL of Pipedrive's consent page to send the admin's browser to (the console's way in)."""
    body = await read_json(request, OAuthStart)
    url = await _authorize_url(request, body.return_to)
    expires = request.app[API].oauth_states.ttl_seconds
    return web.json_response({"authorize_url": url, "expires_in_s": expires}, status=201)


async def oauth_authorize(request: web.Request) -> web.Response:
    """Redirect the admin to Pipedrive's consent page with a fresh state bound to their session."""
    query = validated(_Query, dict(request.query))
    url = await _authorize_url(request, query.return_to)
    return web.json_response({"authorize_url": url}, status=302, headers={"Location": url})


async def oauth_callback(request: web.Request) -> web.Response:
    """Complete the flow the state was issued for: trade the code for tokens, keep them (encrypted),
    learn the Pipedrive company, mark the tenant connected; a denial at Pipedrive spends the state."""
    api = request.app[API]
    code, state = request.query.get("code", ""), request.query.get("state", "")
    if not state:
        raise json_error(400, "bad_request", "state is required.", problems=["state: required"])
    presenter = session_of(request) if authenticated_tenant(request) is not None else None
    if not request.query.get("error") and not code:
        raise json_error(400, "bad_request", "code is required.", problems=["code: required"])
    try:
        issued = await api.oauth_states.consume(state, presenter)
    except PipedriveError as failure:
        raise json_error(400, "oauth_failed", str(failure)) from failure
    if request.query.get("error"):
        return _finish(issued, "oauth_denied", "Pipedrive authorization was denied by the admin.")
    try:
        credentials = await _exchange(api, code)
    except PipedriveError as failure:
        return _finish(issued, "oauth_failed", str(failure))
    company_id = await _connect(api, issued, credentials)
    return _finish(issued, None, "", company_id)


async def _exchange(api: OAuthApi, code: str) -> OAuthCredentials:
    _app(api)
    if api.factory.oauth_tokens is None:
        raise json_error(409, "oauth_not_configured", "Set PIPEDRIVE_OAUTH_CLIENT_ID and _SECRET first.")
    return await api.factory.oauth_tokens.exchange_code(code)


async def _connect(api: OAuthApi, issued: IssuedState, credentials: OAuthCredentials) -> int | None:
    """Keep the tokens and mark the tenant connected; the company they belong to is recorded too (the
    uninstall call names it), when Pipedrive says which it is."""
    tenant = issued.tenant_id
    await api.factory.credentials.save(tenant, credentials)
    company_id, company_domain = None, None
    try:
        me = await api.factory.for_tenant(tenant).users.me()
    except PipedriveError as failure:
        _log.warning("oauth_company_unknown", tenant=tenant, reason=str(failure))
    else:
        company_id, company_domain = me.company_id, me.company_domain
        await api.factory.credentials.identify(tenant, me.company_id, me.id)
    with acting_as(Actor(key_id=issued.session_id, name=issued.actor)):
        how = f"OAuth, Pipedrive company {company_id}" if company_id else "OAuth"
        await api.connections.mark_connected(
            tenant, True, web_app_url(credentials.api_domain, company_domain), how
        )
    _log.info("oauth_connected", tenant=tenant, actor=issued.actor, company_id=company_id)
    return company_id


def _finish(
    issued: IssuedState, error: str | None, message: str, company_id: int | None = None
) -> web.Response:
    """Back to `return_to` when the flow has one, else the JSON answer."""
    if issued.return_to is not None:
        outcome = {"oauth": "connected"} if error is None else {"oauth": _short(error), "error": error}
        raise web.HTTPFound(str(URL(issued.return_to).update_query(outcome)))
    if error is not None:
        raise json_error(400, error, message)
    return web.json_response({"connected": True, "kind": "oauth", "company_id": company_id})


def _short(error: str) -> str:
    return "denied" if error == "oauth_denied" else "failed"


async def app_uninstalled(request: web.Request) -> web.Response:
    """Pipedrive's call after an admin uninstalled the app from their company: every tenant connected to
    that company by OAuth is disconnected and its tokens are wiped. Authenticated by the app's own
    client id and secret (HTTP Basic), compared in constant time."""
    api = request.app[API]
    app = _app(api)
    if not _is_the_app(request, app):
        raise json_error(401, "unauthorized", "Bad app credentials.", headers={"WWW-Authenticate": "Basic"})
    body = await read_json(request, AppUninstalled)
    if not hmac.compare_digest(body.client_id.encode(), app.client_id.encode()):
        problem = "client_id: not this app's client id"
        raise json_error(400, "bad_request", problem, problems=[problem])
    tenants = await api.factory.credentials.tenants_of_company(body.company_id)
    for tenant in tenants:
        await api.factory.credentials.delete(tenant)
        with acting_as(PIPEDRIVE_UNINSTALL):
            await api.connections.mark_connected(tenant, False, how="the app was uninstalled in Pipedrive")
        _log.info("pipedrive_app_uninstalled", tenant=tenant, company_id=body.company_id)
    return web.json_response({"disconnected": len(tenants)})


def _is_the_app(request: web.Request, app: OAuthApp) -> bool:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    with contextlib.suppress(binascii.Error, UnicodeDecodeError):
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        user_ok = hmac.compare_digest(user.encode(), app.client_id.encode())
        secret = app.client_secret.get_secret_value().encode()
        return hmac.compare_digest(password.encode(), secret) and user_ok
    return False


def add_oauth_routes(app: web.Application, api: OAuthApi, callback_path: str) -> None:
    """Mount the OAuth flow; the callback (and the uninstall call) at `callback_path`."""
    app[API] = api
    app.router.add_post("/v1/connection/oauth/start", start_oauth)
    app.router.add_get("/v1/connection/oauth/authorize", oauth_authorize)
    app.router.add_get(callback_path, oauth_callback)
    app.router.add_delete(callback_path, app_uninstalled)
