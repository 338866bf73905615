"""The OpenAPI 3.1 description of the connector's API, built from the request models, served at
`/openapi.json`. A test checks that it names exactly the routes the app serves."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel

from connector.connections_api import ApiTokenConnection
from connector.import_request import ImportRequest
from connector.oauth_api import AppUninstalled, OAuthStart
from connector.record_rereads import RetryRequest
from connector.runs_api import RUNS_LIST_MAX
from connector.settings_input import SettingsInput, WebhooksInput
from schemas.events.settings import TenantSettings

_ERROR = {"description": "Error: `{error, message}`; bad input adds `problems`, a bad filter its `column`"}


# The answers of a call that needs Pipedrive (api_support.require_connected, pipedrive_failure): 409 not
# connected (or the credentials no longer work), 429 the budget or rate limit says wait, 502 Pipedrive failed.
_PIPEDRIVE = ("409", "429", "502")


def _op(
    summary: str,
    body: type[BaseModel] | None = None,
    ok: str = "200",
    errors: tuple[str, ...] = (),
    **extra: Any,
) -> dict[str, Any]:
    """One operation; `errors`: what it may answer besides 400 and 401."""
    responses = {ok: {"description": "OK"}, **{status: _ERROR for status in ("400", "401", *errors)}}
    operation: dict[str, Any] = {"summary": summary, "responses": responses, **extra}
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body.__name__}"}}},
        }
    return operation


def _run_id() -> list[dict[str, Any]]:
    return [{"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}]


PATHS: dict[str, dict[str, dict[str, Any]]] = {
    "/v1/connection": {
        "get": _op("Connection status (never the token)"),
        "delete": _op("Disconnect: remove webhooks, forget credentials"),
    },
    "/v1/connection/api-token": {
        "post": _op(
            "Connect with an API token (checked with /v1/users/me)", ApiTokenConnection, errors=("502",)
        )
    },
    "/v1/connection/oauth/start": {
        "post": _op(
            "Start OAuth: the consent page's URL, the browser sent back to `return_to` at the end",
            OAuthStart,
            ok="201",
            errors=("409",),
        )
    },
    "/v1/connection/oauth/authorize": {
        "get": _op(
            "Redirect to Pipedrive's consent page",
            ok="302",
            parameters=[{"name": "return_to", "in": "query", "schema": {"type": "string"}}],
        )
    },
    "/v1/connection/oauth/callback": {
        "get": _op(
            "Finish OAuth (the browser back from Pipedrive; no key: the state is the proof, a key if"
            " presented must be the one that started the flow); 302 to `return_to` when the flow has one",
            security=[{}, {"tenantKey": []}],
            parameters=[
                {"name": "code", "in": "query", "schema": {"type": "string"}},
                {"name": "state", "in": "query", "required": True, "schema": {"type": "string"}},
                {"name": "error", "in": "query", "schema": {"type": "string"}},
            ],
        ),
        "delete": _op(
            "Pipedrive's app-uninstall call: disconnect the company's tenants, wipe their tokens",
            AppUninstalled,
            security=[{"appBasic": []}],
        ),
    },
    "/v1/settings": {
        "get": _op("The tenant's effective sync settings (default field mappings spelled out)"),
        "put": _op("Replace the sync settings (next version, published)", SettingsInput, errors=_PIPEDRIVE),
        "patch": _op(
            "Change only what a JSON merge patch (RFC 7396) of the settings names",
            errors=_PIPEDRIVE,
            requestBody={
                "required": True,
                "content": {"application/merge-patch+json": {"schema": {"type": "object"}}},
            },
        ),
    },
    "/v1/catalog": {
        "get": _op(
            "The connected Pipedrive's fields per object (type, options, writable), pipelines and stages,"
            " users, connected user and company; stored, read again when too old",
            errors=_PIPEDRIVE,
        )
    },
    "/v1/catalog/refresh": {"post": _op("Read the catalog from Pipedrive now", errors=_PIPEDRIVE)},
    "/v1/webhooks": {"put": _op("Turn Pipedrive webhooks on or off", WebhooksInput, errors=("409", "502"))},
    "/v1/sync": {"post": _op("Sync now (queues a run)", ok="202", errors=("409",))},
    "/v1/runs": {
        "get": _op(
            "Latest runs, newest first (no paging: the auditlog's GET /v1/runs?service=connector pages)",
            parameters=[
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": RUNS_LIST_MAX, "default": 50},
                }
            ],
        )
    },
    "/v1/runs/{run_id}": {
        "get": _op(
            "One run as the connector read it: progress, tokens, and its counts and status of reading"
            " (`created`: records handed on to the mapper for the first time, `updated`: later versions,"
            " `skipped`: records the import's filter left out, `failed`: records it could not read). What the"
            " records came to in the ABM store (created, updated, unchanged, skipped as duplicates,"
            " failed) and the run's status in the activity log, which also counts its apply run, are the"
            " auditlog's: GET /v1/runs/{run_id} there",
            parameters=_run_id(),
            errors=("404",),
        )
    },
    "/v1/runs/{run_id}/cancel": {
        "post": _op("Cancel a run", ok="202", parameters=_run_id(), errors=("404",))
    },
    "/v1/imports": {"post": _op("Start an import (a run)", ImportRequest, ok="202", errors=_PIPEDRIVE)},
    "/v1/retries": {
        "post": _op(
            "Read an earlier run's failed records again by id, as a run linked to it (the auditlog's retry)",
            RetryRequest,
            ok="202",
            errors=("409",),
        )
    },
    "/v1/imports/preview": {
        "post": _op(
            "Count what an import would read, create, update and skip; emits nothing (503: the mapper,"
            " which it asks, is unavailable)",
            ImportRequest,
            errors=(*_PIPEDRIVE, "503"),
        )
    },
    "/webhooks/pipedrive/{tenant}": {
        "post": _op(
            "Pipedrive webhook deliveries (Basic auth per tenant)",
            security=[{"webhookBasic": []}],
            parameters=[{"name": "tenant", "in": "path", "required": True, "schema": {"type": "string"}}],
        )
    },
    "/openapi.json": {"get": _op("This description", security=[])},
}


def openapi_document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    schemas: dict[str, Any] = {}
    models: tuple[type[BaseModel], ...] = (
        ApiTokenConnection,
        OAuthStart,
        AppUninstalled,
        SettingsInput,
        WebhooksInput,
        ImportRequest,
        RetryRequest,
        TenantSettings,
    )
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return {
        "openapi": "3.1.0",
        "info": {"title": "psync connector", "version": "1.0.0"},
        "security": [{"tenantKey": []}],
        "paths": PATHS,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "tenantKey": {"type": "http", "scheme": "bearer", "description": "A tenant API key"},
                "webhookBasic": {"type": "http", "scheme": "basic"},
                "appBasic": {"type": "http", "scheme": "basic", "description": "The OAuth app's client"},
            },
        },
    }


async def serve_openapi(_request: web.Request) -> web.Response:
    """GET /openapi.json."""
    return web.json_response(openapi_document())
