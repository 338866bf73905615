"""The admin API under `/_sandbox/` (a prefix Pipedrive never uses): ledger, faults, changes, edits between
pages, seed, clock."""

from __future__ import annotations

import contextlib
from dataclasses import asdict
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import ValidationError

from pipedrive_sandbox.app_keys import state_of
from pipedrive_sandbox.changes import generate_changes
from pipedrive_sandbox.config import SandboxConfig
from pipedrive_sandbox.errors import InvalidRequest
from pipedrive_sandbox.oauth import OAuthError
from pipedrive_sandbox.page_edits import EditsBetweenPages
from pipedrive_sandbox.query_params import json_body, query_int
from pipedrive_sandbox.responses import json_response
from pipedrive_sandbox.store import Entity

PREFIX = "/_sandbox"
MAX_CHANGES = 100_000
"""The most edits, deletes or merges one call to /_sandbox/changes makes."""
MAX_ADVANCE_S = 10 * 365 * 86_400.0


def number(body: dict[str, Any], name: str, kind: type[float] | type[int], low: float, high: float) -> Any:
    """The number `body[name]` as `kind`, within [low, high]; InvalidRequest naming it otherwise."""
    try:
        value = kind(body[name])
    except (TypeError, ValueError, OverflowError) as failure:
        raise InvalidRequest(f"{name} must be a number") from failure
    if not low <= value <= high:
        raise InvalidRequest(f"{name} must be between {low} and {high}")
    return value


async def show_state(request: web.Request) -> web.StreamResponse:
    """GET /_sandbox/state: company, plan, budget, record counts, users with their API tokens, clock."""
    state = state_of(request)
    config = state.config
    return json_response(
        {
            "company_id": config.company_id,
            "plan": config.plan.value,
            "seats": config.seats,
            "daily_budget": state.limiter.budget,
            "daily_budget_remaining": state.limiter.remaining_budget(),
            "now": state.clock.now(),
            "records": {
                **{e.plural: len(state.tables[e].records) for e in Entity},
                "activities": len(state.activities.records),
            },
            "users": [
                {"id": u.id, "name": u.name, "api_token": u.api_token} for u in state.account.users.values()
            ],
            "oauth_client_id": config.oauth_client_id,
            "custom_fields": {
                e.value: {d.field_name: d.field_code for d in state.account.custom_fields(e).values()}
                for e in Entity
            },
        }
    )


async def show_ledger(request: web.Request) -> web.StreamResponse:
    """GET /_sandbox/ledger?limit=N: totals and the last N entries (all when no limit)."""
    ledger = state_of(request).ledger
    return json_response(
        {"summary": ledger.summary(), "entries": ledger.as_json(query_int(request, "limit"))}
    )


async def reset_ledger(request: web.Request) -> web.StreamResponse:
    """DELETE /_sandbox/ledger."""
    state_of(request).ledger.reset()
    return json_response({"ok": True})


async def set_faults(request: web.Request) -> web.StreamResponse:
    """POST /_sandbox/faults: storm_seconds, storm_requests, error_share, error_status, latency_ms,
    webhooks_unreachable (each optional; given values replace the current ones)."""
    state = state_of(request)
    body = await json_body(request)
    faults = state.faults
    if "storm_seconds" in body:
        faults.storm_until = state.clock.now() + number(body, "storm_seconds", float, 0, MAX_ADVANCE_S)
    if "storm_requests" in body:
        faults.storm_requests_left = number(body, "storm_requests", int, 0, 10**9)
    if "error_share" in body:
        faults.error_share = number(body, "error_share", float, 0, 1)
    if "error_status" in body:
        faults.error_status = number(body, "error_status", int, 400, 599)
    if "latency_ms" in body:
        faults.latency_seconds = number(body, "latency_ms", float, 0, 600_000) / 1000
    if "webhooks_unreachable" in body:
        faults.webhooks_unreachable = bool(body["webhooks_unreachable"])
    return await show_faults(request)


async def show_faults(request: web.Request) -> web.StreamResponse:
    """GET /_sandbox/faults."""
    faults = state_of(request).faults
    return json_response({k: v for k, v in asdict(faults).items() if k != "rng"})


async def clear_faults(request: web.Request) -> web.StreamResponse:
    """DELETE /_sandbox/faults: every fault off."""
    state_of(request).faults.clear()
    return await show_faults(request)


async def revoke_token(request: web.Request) -> web.StreamResponse:
    """POST /_sandbox/tokens/revoke {"token": ...}: an API token, OAuth access token or refresh token."""
    state = state_of(request)
    token = str((await json_body(request)).get("token", ""))
    if not token:
        raise InvalidRequest("token is required")
    if not state.oauth.revoke_token(token):
        state.revoked_api_tokens.add(token)
    return json_response({"ok": True})


async def uninstall_app(request: web.Request) -> web.StreamResponse:
    """POST /_sandbox/oauth/uninstall {"client_id"?, "notify"?}: the company admin uninstalls the app (the
    sandbox's own client unless named): its tokens are revoked and its callback URL receives Pipedrive's
    uninstall call, whose answer (status) is returned; a callback that cannot be reached is status 0.
    `"notify": false` skips the call, as when Pipedrive cannot reach the app (it never calls local URLs)."""
    state = state_of(request)
    body = await json_body(request)
    client_id = str(body.get("client_id") or state.config.oauth_client_id)
    try:
        uninstalled = state.oauth.uninstall(client_id)
    except OAuthError as failure:
        return json_response(failure.as_body(), status=failure.status)
    secret = state.config.oauth_client_secret if client_id == state.config.oauth_client_id else ""
    status = 0
    if body.get("notify", True) is False:
        return json_response({"callback_url": uninstalled.callback_url, "status": status, **uninstalled.body})
    async with aiohttp.ClientSession() as session:
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with session.delete(
                uninstalled.callback_url,
                json=uninstalled.body,
                headers={"Authorization": aiohttp.encode_basic_auth(client_id, secret)},
                timeout=aiohttp.ClientTimeout(total=state.config.webhook_timeout_seconds),
            ) as answer:
                status = answer.status
    return json_response({"callback_url": uninstalled.callback_url, "status": status, **uninstalled.body})


async def make_changes(request: web.Request) -> web.StreamResponse:
    """POST /_sandbox/changes {"entity": "organization", "edits": N, "deletes": N, "merges": N}."""
    state = state_of(request)
    body = await json_body(request)
    try:
        entity = Entity(body.get("entity", "organization"))
    except ValueError as failure:
        raise InvalidRequest("entity must be organization, person or deal") from failure
    counts = [number({k: 0, **body}, k, int, 0, MAX_CHANGES) for k in ("edits", "deletes", "merges")]
    done = generate_changes(state.entities, state.change_rng, entity, *counts)
    return json_response({"changes": done})


async def add_edits_between_pages(request: web.Request) -> web.StreamResponse:
    """POST /_sandbox/between-pages {"path": "/v1/recents", "entity": "organization", "ids": [...],
    "changes": {"name": ...}}: change those records once, as a user of the app, just before the sandbox
    answers the next call of `path` that asks for a later page (`start` above 0)."""
    state = state_of(request)
    body = await json_body(request)
    try:
        entity = Entity(body.get("entity", "organization"))
        ids = tuple(int(i) for i in body.get("ids", ()))
    except (TypeError, ValueError, OverflowError) as failure:
        raise InvalidRequest("entity must be organization, person or deal, ids a list of ids") from failure
    changes = body.get("changes")
    if not isinstance(changes, dict) or not changes or not ids:
        raise InvalidRequest("ids and changes (an object of fields) are required")
    path = str(body.get("path", "/v1/recents"))
    state.between_pages.append(EditsBetweenPages(path, entity, ids, changes))
    return await show_edits_between_pages(request)


async def show_edits_between_pages(request: web.Request) -> web.StreamResponse:
    """GET /_sandbox/between-pages: the edits asked for, whether they were made and on which records."""
    return json_response({"edits": [e.as_json() for e in state_of(request).between_pages]})


async def reseed(request: web.Request) -> web.StreamResponse:
    """POST /_sandbox/seed {seed?, organizations?, persons_per_organization?, deals_per_organization?}:
    replace all data, and reset the ledger and the limits."""
    state = state_of(request)
    body = await json_body(request)
    allowed = {"seed", "organizations", "persons_per_organization", "deals_per_organization"}
    try:
        config = SandboxConfig.model_validate(
            {**state.config.model_dump(), **{k: v for k, v in body.items() if k in allowed}}
        )
    except ValidationError as failure:
        raise InvalidRequest(
            f"not a seeding: {failure.errors()[0]['loc']} {failure.errors()[0]['msg']}"
        ) from failure
    state.reseed(config)
    state.ledger.reset()
    return await show_state(request)


async def advance_clock(request: web.Request) -> web.StreamResponse:
    """POST /_sandbox/clock/advance {"seconds": N}."""
    state = state_of(request)
    seconds = number({"seconds": 0, **(await json_body(request))}, "seconds", float, 0, MAX_ADVANCE_S)
    return json_response({"now": state.clock.advance(seconds)})


async def reset_limits(request: web.Request) -> web.StreamResponse:
    """POST /_sandbox/limits/reset: clear burst windows, blocks and today's spending."""
    state_of(request).limiter.reset()
    return json_response({"ok": True})


async def show_deliveries(request: web.Request) -> web.StreamResponse:
    """GET /_sandbox/webhooks/deliveries: every attempt, events dropped during bans, webhooks removed."""
    webhooks = state_of(request).webhooks
    return json_response(
        {
            "attempts": [asdict(a) for a in webhooks.attempts],
            "dropped": webhooks.dropped,
            "removed": webhooks.removed,
            "pending": webhooks.pending(),
            "banned": {str(w.id): w.banned_until for w in webhooks.webhooks.values() if w.banned_until},
        }
    )


def add_admin_routes(app: web.Application) -> None:
    """Register the admin API."""
    router = app.router
    router.add_get(f"{PREFIX}/state", show_state)
    router.add_get(f"{PREFIX}/ledger", show_ledger)
    router.add_delete(f"{PREFIX}/ledger", reset_ledger)
    router.add_get(f"{PREFIX}/faults", show_faults)
    router.add_post(f"{PREFIX}/faults", set_faults)
    router.add_delete(f"{PREFIX}/faults", clear_faults)
    router.add_post(f"{PREFIX}/tokens/revoke", revoke_token)
    router.add_post(f"{PREFIX}/oauth/uninstall", uninstall_app)
    router.add_post(f"{PREFIX}/changes", make_changes)
    router.add_post(f"{PREFIX}/between-pages", add_edits_between_pages)
    router.add_get(f"{PREFIX}/between-pages", show_edits_between_pages)
    router.add_post(f"{PREFIX}/seed", reseed)
    router.add_post(f"{PREFIX}/clock/advance", advance_clock)
    router.add_post(f"{PREFIX}/limits/reset", reset_limits)
    router.add_get(f"{PREFIX}/webhooks/deliveries", show_deliveries)
