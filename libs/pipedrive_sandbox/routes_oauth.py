"""OAuth pages and endpoints: `/oauth/authorize` (approve or deny), `/oauth/token`, `/oauth/revoke`."""

from __future__ import annotations

import base64
import binascii
import html

from aiohttp import web

from pipedrive_sandbox.app_keys import state_of
from pipedrive_sandbox.oauth import OAuthError
from pipedrive_sandbox.responses import json_response

_PAGE = """<!doctype html>
<html><head><title>Pipedrive sandbox: authorize {client}</title></head>
<body><h1>Allow app {client} to access the sandbox company?</h1>
<form method="post" action="/oauth/authorize">
<input type="hidden" name="client_id" value="{client}">
<input type="hidden" name="redirect_uri" value="{redirect}">
<input type="hidden" name="state" value="{state}"><input type="hidden" name="scope" value="{scope}">
<button name="decision" value="approve">Allow and install</button>
<button name="decision" value="deny">Cancel</button>
</form></body></html>"""


async def authorize_page(request: web.Request) -> web.StreamResponse:
    """GET /oauth/authorize: the consent page."""
    query = request.query
    values = {
        k: html.escape(query.get(k, ""), quote=True) for k in ("client_id", "redirect_uri", "state", "scope")
    }
    page = _PAGE.format(
        client=values["client_id"],
        redirect=values["redirect_uri"],
        state=values["state"],
        scope=values["scope"],
    )
    return web.Response(text=page, content_type="text/html")


async def authorize_decision(request: web.Request) -> web.StreamResponse:
    """POST /oauth/authorize: approve or deny, then redirect with `code` (or `error`) and `state`."""
    form = await request.post()
    try:
        location = state_of(request).oauth.decide(
            str(form.get("client_id", "")),
            str(form.get("redirect_uri", "")),
            str(form.get("state", "")),
            form.get("decision") == "approve",
            str(form.get("scope", "")),
        )
    except OAuthError as failure:
        return json_response(failure.as_body(), status=failure.status)
    raise web.HTTPFound(location)


async def token(request: web.Request) -> web.StreamResponse:
    """POST /oauth/token: form-encoded, HTTP Basic client credentials."""
    state = state_of(request)
    form = await request.post()
    try:
        client_id, client_secret = _basic_credentials(request)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            issued = state.oauth.exchange_code(
                client_id, client_secret, str(form.get("code", "")), str(form.get("redirect_uri", ""))
            )
        elif grant_type == "refresh_token":
            issued = state.oauth.refresh(client_id, client_secret, str(form.get("refresh_token", "")))
        else:
            raise OAuthError(
                "unsupported_grant_type", "grant_type must be authorization_code or refresh_token"
            )
    except OAuthError as failure:
        return json_response(failure.as_body(), status=failure.status)
    issued["api_domain"] = state.config.public_url or str(request.url.origin())
    return json_response(issued)


async def revoke(request: web.Request) -> web.StreamResponse:
    """POST /oauth/revoke: revoke an access or refresh token."""
    form = await request.post()
    try:
        client_id, client_secret = _basic_credentials(request)
        state_of(request).oauth.revoke(client_id, client_secret, str(form.get("token", "")))
    except OAuthError as failure:
        return json_response(failure.as_body(), status=failure.status)
    return json_response({"success": True})


def _basic_credentials(request: web.Request) -> tuple[str, str]:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("basic "):
        raise OAuthError("invalid_client", "HTTP Basic client credentials are required", status=401)
    try:
        decoded = base64.b64decode(header[6:].strip()).decode()
    except (binascii.Error, UnicodeDecodeError) as failure:
        raise OAuthError("invalid_client", "Malformed Basic credentials", status=401) from failure
    client_id, _, client_secret = decoded.partition(":")
    return client_id, client_secret


def add_oauth_routes(app: web.Application) -> None:
    """Register the OAuth routes."""
    app.router.add_get("/oauth/authorize", authorize_page)
    app.router.add_post("/oauth/authorize", authorize_decision)
    app.router.add_post("/oauth/token", token)
    app.router.add_post("/oauth/revoke", revoke)
