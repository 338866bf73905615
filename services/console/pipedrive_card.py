"""Integrations > Pipedrive: the card (connected or not, as whom, plan and budget, webhooks), connect by
API token or by OAuth (completing in the browser), disconnect with confirmation, webhooks on and off."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import web

from console.deps import SESSION, api_of, deps_of, session_of
from console.guards import OAUTH_CALLBACK, signed_in, to_sign_in
from console.rendering import PageRefused, redirect_with_field_problems, redirect_with_notice, render
from console.service_api import ServiceFailed, TenantApi

CARD = "/integrations/pipedrive"
FLOW_PREFIX = "flow:"


async def _card_context(api: TenantApi) -> dict[str, Any]:
    connection, settings = await asyncio.gather(
        api.get_ok("connector", "/v1/connection"), api.get_ok("connector", "/v1/settings")
    )
    catalog = None
    if connection.get("connected") and not connection.get("needs_reconnect"):
        # Who and which company: the connector's catalog of the account (read once, then kept).
        answer = await api.get("connector", "/v1/catalog")
        catalog = answer.body if answer.ok else None
    return {
        "connection": connection,
        "settings": settings,
        "catalog": catalog,
        "title": "Pipedrive",
        "section": "integrations",
    }


async def show_card(request: web.Request) -> web.Response:
    """The Pipedrive card."""
    return await render(request, "pipedrive_card.html", await _card_context(api_of(request)))


async def connect_with_token(request: web.Request) -> web.Response:
    """Connect with an API token. A refused token is shown next to its field on the card, after a redirect
    (post/redirect/get: reloading the card does not send the token again)."""
    api = api_of(request)
    token = str((await request.post()).get("api_token", "")).strip()
    if not token:
        return await _token_refused(request, "Paste the API token from Pipedrive first.")
    answer = await api.send("connector", "POST", "/v1/connection/api-token", {"api_token": token})
    if answer.status in (400, 502):
        return await _token_refused(request, token_problem(answer.problems or [answer.message]))
    if not answer.ok:
        raise ServiceFailed("connector", answer)
    company = answer.body.get("company_name") or "your company"
    return await redirect_with_notice(request, CARD, f"Connected to Pipedrive ({company}) with an API token.")


_WHERE_TOKENS_ARE = "Settings > Personal preferences > API"


def token_problem(problems: list[str]) -> str:
    """The connector's refusal of an API token in the admin's words: a token it refused as no token can be
    (too short, too long, a space, a line break or a character a header cannot carry; Pipedrive was not
    asked), one Pipedrive did not accept, or Pipedrive failing."""
    line = " ".join(problems)
    if line.startswith("api_token:"):
        if "at least" in line:
            return f"That is too short to be an API token: copy the whole token from {_WHERE_TOKENS_ARE}."
        if "at most" in line:
            return f"That is too long to be an API token: copy only the token from {_WHERE_TOKENS_ARE}."
        return (
            "An API token has no spaces, line breaks or characters outside plain ASCII (such as accented"
            f" letters or curly quotes): copy only the token from {_WHERE_TOKENS_ARE}."
        )
    if "Invalid API key" in line or "401" in line:
        return f"Pipedrive did not accept this API token. Copy it again from {_WHERE_TOKENS_ARE}."
    return f"Pipedrive refused the connection: {line}"


async def _token_refused(request: web.Request, problem: str) -> web.Response:
    return await redirect_with_field_problems(request, CARD, {"api_token": problem})


async def start_oauth(request: web.Request) -> web.Response:
    """Ask the connector for Pipedrive's consent page, bind the flow to this session, and go there.

    The browser comes back either to the console's callback (Pipedrive's redirect URI is the console's:
    the state is checked against this session before the connector trades the code) or, when the
    connector is the redirect URI, to `return_to` with the flow's nonce, checked against this session."""
    deps, session = deps_of(request), session_of(request)
    flow = secrets.token_urlsafe(16)
    return_to = f"{deps.settings.public_url.rstrip('/')}{CARD}/oauth/done?flow={flow}"
    answer = await api_of(request).send(
        "connector", "POST", "/v1/connection/oauth/start", {"return_to": return_to}
    )
    if answer.status == 409:
        raise PageRefused(
            409,
            "OAuth is not set up",
            "This installation has no Pipedrive app configured for OAuth. Connect with an API token instead,"
            " or ask your operator to set PIPEDRIVE_OAUTH_CLIENT_ID and PIPEDRIVE_OAUTH_CLIENT_SECRET.",
        )
    location = (answer.body or {}).get("authorize_url") if answer.ok else None
    state = parse_qs(urlsplit(location or "").query).get("state", [""])[0]
    if not location or not state:
        raise ServiceFailed("connector", answer)
    await deps.oauth_starts.remember(state, session)
    await deps.oauth_starts.remember(FLOW_PREFIX + flow, session)
    raise web.HTTPSeeOther(location)


async def oauth_callback(request: web.Request) -> web.StreamResponse:
    """Pipedrive sends the browser back here (the app's redirect URI). A connect the console started must
    come back in the session that started it; then the connector trades the code (and answers where the
    flow ends). A connect started through the connector's API (an admin's own client, `POST
    /v1/connection/oauth/start`) is the connector's to complete, with its state as the proof, exactly as
    if the connector were the redirect URI."""
    deps = deps_of(request)
    state = request.query.get("state", "")
    if state and not await deps.oauth_starts.started_here(state):
        return await _connector_callback(request)
    session = await signed_in(request)
    if session is None:
        return to_sign_in(request)
    request[SESSION] = session
    if not state or not await deps.oauth_starts.redeem(state, session):
        raise _not_yours()
    answer = await api_of(request).send(
        "connector", "GET", "/v1/connection/oauth/callback?" + request.query_string
    )
    if answer.location:  # the connector sends the browser to return_to, which says how it ended
        outcome = parse_qs(urlsplit(answer.location).query)
        return await _oauth_ended(request, outcome.get("oauth", [""])[0], outcome.get("error", [""])[0])
    if answer.ok:
        return await _oauth_ended(request, "connected", "")
    return await _oauth_ended(request, "failed", answer.message)


async def app_uninstalled(request: web.Request) -> web.StreamResponse:
    """Pipedrive's app-uninstall call, sent to the app's callback URL (this one): the connector checks the
    app's Basic auth, disconnects the company's OAuth tenants and wipes their tokens."""
    return await _connector_callback(request)


async def _connector_callback(request: web.Request) -> web.StreamResponse:
    """Pass the request on to the connector's own callback, as it came, and its answer back."""
    headers = {
        name: request.headers[name] for name in ("Authorization", "Content-Type") if name in request.headers
    }
    answer = await deps_of(request).services.relay(
        "connector",
        request.method,
        "/v1/connection/oauth/callback?" + request.query_string,
        headers=headers,
        data=await request.read() if request.can_read_body else None,
    )
    if answer.location:
        raise web.HTTPFound(answer.location)
    return web.json_response(answer.body, status=answer.status)


async def oauth_done(request: web.Request) -> web.Response:
    """The end of a flow whose callback was the connector's: the flow must be this session's."""
    flow = request.query.get("flow", "")
    if not flow or not await deps_of(request).oauth_starts.redeem(FLOW_PREFIX + flow, session_of(request)):
        raise _not_yours()
    return await _oauth_ended(request, request.query.get("oauth", ""), request.query.get("error", ""))


async def _oauth_ended(request: web.Request, outcome: str, error: str) -> web.Response:
    if outcome == "connected":
        return await redirect_with_notice(request, CARD, "Connected to Pipedrive with OAuth.")
    if outcome == "denied":
        return await redirect_with_notice(
            request, CARD, "Pipedrive was not connected: you cancelled at Pipedrive."
        )
    return await redirect_with_notice(
        request, CARD, f"Pipedrive was not connected: {error or 'the connect failed'}."
    )


def _not_yours() -> PageRefused:
    return PageRefused(
        400,
        "This connect link is not yours",
        "The answer from Pipedrive does not belong to a connect started in this browser session, or it"
        " is older than ten minutes. Start again from the Pipedrive page.",
    )


async def confirm_disconnect(request: web.Request) -> web.Response:
    """Are you sure? What disconnecting does."""
    return await render(
        request, "pipedrive_disconnect.html", {"title": "Disconnect Pipedrive", "section": "integrations"}
    )


async def disconnect(request: web.Request) -> web.Response:
    """Disconnect: credentials forgotten, webhooks removed, syncing stops."""
    answer = await api_of(request).send("connector", "DELETE", "/v1/connection")
    if not answer.ok:
        raise ServiceFailed("connector", answer)
    return await redirect_with_notice(
        request, CARD, "Pipedrive is disconnected. Nothing syncs until you connect again."
    )


async def set_webhooks(request: web.Request) -> web.Response:
    """Turn near-real-time webhooks on or off."""
    enabled = str((await request.post()).get("enabled", "")) == "on"
    answer = await api_of(request).send("connector", "PUT", "/v1/webhooks", {"enabled": enabled})
    if not answer.ok:
        return await redirect_with_notice(request, CARD, f"Webhooks were not changed: {answer.message}")
    state = (
        "on: changes in Pipedrive arrive within seconds"
        if enabled
        else "off: changes arrive with the schedule"
    )
    return await redirect_with_notice(request, CARD, f"Webhooks are {state}.")


async def sync_now(request: web.Request) -> web.Response:
    """Start a sync of everything the settings allow, now."""
    answer = await api_of(request).send("connector", "POST", "/v1/sync")
    if not answer.ok:
        return await redirect_with_notice(request, CARD, f"The sync did not start: {answer.message}")
    return await redirect_with_notice(request, CARD, "A sync started. Follow it in the Activity log.")


def add_pipedrive_card_routes(app: web.Application) -> None:
    """Mount the card and its actions."""
    app.router.add_get(CARD, show_card)
    app.router.add_post(f"{CARD}/api-token", connect_with_token)
    app.router.add_post(f"{CARD}/oauth", start_oauth)
    app.router.add_get(OAUTH_CALLBACK, oauth_callback)
    app.router.add_delete(OAUTH_CALLBACK, app_uninstalled)
    app.router.add_get(f"{CARD}/oauth/done", oauth_done)
    app.router.add_get(f"{CARD}/disconnect", confirm_disconnect)
    app.router.add_post(f"{CARD}/disconnect", disconnect)
    app.router.add_post(f"{CARD}/webhooks", set_webhooks)
    app.router.add_post(f"{CARD}/sync", sync_now)
