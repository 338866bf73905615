"""The connector's HTTP application: tenant-authenticated API, the webhook receiver (Basic auth of its
own), the OAuth callback (the browser back from Pipedrive: the state is the proof, a key optional; the
app-uninstall call: the app's Basic auth) and the OpenAPI description (public)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from connector.catalog_api import CatalogApi, add_catalog_routes
from connector.connections_api import ConnectionsApi, add_connection_routes
from connector.oauth_api import OAuthApi, add_oauth_routes
from connector.openapi import serve_openapi
from connector.runs_api import RunsApi, add_run_routes
from connector.settings import OAUTH_CALLBACK_PATH
from connector.settings_api import SettingsApi, add_settings_routes
from connector.webhook_receiver import WebhookReceiver, add_webhook_routes
from service_runtime.http_guards import api_middlewares
from tenant_auth.middleware import tenant_auth_middleware
from tenant_auth.registry import TenantRegistry

PUBLIC_PREFIXES = ("/webhooks/pipedrive/",)
PUBLIC_PATHS = frozenset({"/openapi.json"})
KEY_OPTIONAL_PATHS = frozenset({OAUTH_CALLBACK_PATH})


def connector_auth_middleware(registry: TenantRegistry) -> Middleware:
    """Tenant API keys everywhere but the webhook receiver (Basic auth per tenant), /openapi.json and the
    OAuth callback, where a bearer key, if one is presented, must still be valid (the handler then checks
    it is the one that started the flow)."""
    tenant_auth = tenant_auth_middleware(registry)

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS or request.path.startswith(PUBLIC_PREFIXES):
            return await handler(request)
        if request.path in KEY_OPTIONAL_PATHS and not _bearer(request):
            return await handler(request)
        return await tenant_auth(request, handler)

    return authenticate


def _bearer(request: web.Request) -> bool:
    return request.headers.get("Authorization", "").lower().startswith("bearer ")


@dataclass(frozen=True)
class ConnectorApis:
    """The parts of the connector's API, each with what it uses."""

    connections: ConnectionsApi
    oauth: OAuthApi
    settings: SettingsApi
    catalog: CatalogApi
    runs: RunsApi
    webhooks: WebhookReceiver


def create_app(apis: ConnectorApis, registry: TenantRegistry) -> web.Application:
    """The application with every route of the connector's API."""
    app = web.Application(
        middlewares=api_middlewares(connector_auth_middleware(registry)), client_max_size=1024**2
    )
    add_connection_routes(app, apis.connections)
    add_oauth_routes(app, apis.oauth, OAUTH_CALLBACK_PATH)
    add_settings_routes(app, apis.settings)
    add_catalog_routes(app, apis.catalog)
    add_run_routes(app, apis.runs)
    add_webhook_routes(app, apis.webhooks)
    app.router.add_get("/openapi.json", serve_openapi)
    return app
